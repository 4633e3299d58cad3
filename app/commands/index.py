"""``stylescope index``: inspect, rebuild, sync, export the garment index; remove garments."""

from __future__ import annotations

import argparse
from typing import Any

from app.commands import ENCODER_HELP, add_common, open_data_dir, print_json, print_table


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = subparsers.add_parser("index", help="inspect and maintain the garment index")
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)

    info = actions.add_parser(
        "info", help="the live version, its encoder, factory and size; checks files"
    )
    add_common(info)
    info.set_defaults(func=run_info)

    rebuild = actions.add_parser(
        "rebuild",
        help="re-embed every garment from its crop and switch to the new version atomically",
    )
    rebuild.add_argument(
        "--encoder",
        default=None,
        help=ENCODER_HELP,
    )
    rebuild.add_argument(
        "--from-store", action="store_true", help="reuse the stored embeddings (no re-embedding)"
    )
    add_common(rebuild)
    rebuild.set_defaults(func=run_rebuild)

    build = actions.add_parser(
        "build", help="a sharded IVF index of the live embeddings, shards built in parallel on Ray"
    )
    build.add_argument("--backend", choices=("ray",), default="ray", help="where the shards are built")
    build.add_argument("--shards", type=int, default=4, help="shards to build in parallel")
    build.add_argument("--nlist", type=int, default=1024, help="IVF lists (0: exact flat shards)")
    build.add_argument("--out", required=True, help="folder for the shard files and meta.json")
    build.add_argument("--ray-address", default=None, help="a running Ray cluster (default: start one here)")
    add_common(build)
    build.set_defaults(func=run_build)

    sync = actions.add_parser(
        "sync", help="add catalog garments missing from the index, drop deleted ones"
    )
    sync.add_argument("--encoder", default=None, help=ENCODER_HELP)
    add_common(sync)
    sync.set_defaults(func=run_sync)

    export = actions.add_parser(
        "export", help="embeddings + metadata as .npy and Parquet (clip-retrieval layout)"
    )
    export.add_argument("out", help="output folder")
    export.add_argument("--partition-size", type=int, default=100_000, help="rows per file")
    add_common(export)
    export.set_defaults(func=run_export)

    video = actions.add_parser(
        "remove-video", help="delete a video's garments from the index and the catalog"
    )
    video.add_argument("video_id", type=int)
    add_common(video)
    video.set_defaults(func=run_remove_video)

    creator = actions.add_parser(
        "remove-creator", help="delete a creator's videos and garments (index and catalog)"
    )
    creator.add_argument("handle")
    add_common(creator)
    creator.set_defaults(func=run_remove_creator)


def _setup(args: argparse.Namespace, write: bool = True) -> tuple[Any, Any]:
    """The data dir (it must exist: every action works on a deployment) and the index settings."""
    from inference.index import IndexConfig

    config = IndexConfig.load(getattr(args, "config", None))
    return open_data_dir(args.data_dir, create=False, write=write), config


def run_info(args: argparse.Namespace) -> int:
    from inference.index import IndexVersion, index_root, list_versions, read_current

    data_dir, config = _setup(args, write=False)
    name = read_current(data_dir)
    if name is None:
        from inference.index import NoIndexError

        raise NoIndexError(f"there is no index in {data_dir} yet: run `stylescope index rebuild`")
    version = IndexVersion.load(index_root(data_dir) / name, config, verify=True)
    meta = version.meta
    info = {
        "version": name,
        "encoder": meta["encoder"],
        "factory": meta["factory"],
        "exact": version.exact,
        "count": len(version),
        "params": meta["params"],
        "created_at": meta["created_at"],
        "updated_at": meta.get("updated_at"),
        "checksum": meta.get("checksum"),
        "checksums_ok": True,
        "versions": list_versions(data_dir),
    }
    if args.json:
        print_json(info)
    else:
        enc = meta["encoder"]
        print_table(
            ["field", "value"],
            [
                ["version", name],
                ["encoder", f"{enc['name']} (version {enc['version']}, dim {enc['dim']})"],
                [
                    "factory",
                    f"{meta['factory']} ({'exact' if version.exact else 'approximate, re-ranked'})",
                ],
                ["garments", len(version)],
                ["created", meta["created_at"]],
                ["files", "checksums ok"],
                ["versions on disk", ", ".join(info["versions"])],
            ],
        )
    return 0


def _embedder(data_dir: Any, spec: str | None) -> Any:
    """What rebuild and sync re-embed with: the encoder ``spec`` names (resolved)."""
    from inference.embed import CropEmbedder
    from inference.encoders import resolve_encoder

    return CropEmbedder(resolve_encoder(spec, data_dir))


def run_rebuild(args: argparse.Namespace) -> int:
    from inference.index import rebuild_from_store, rebuild_index

    data_dir, config = _setup(args)
    progress = not (args.json or args.quiet)
    if args.from_store:
        name = rebuild_from_store(data_dir, config, progress)
    else:
        name = rebuild_index(
            data_dir, _embedder(data_dir, args.encoder), None, True, config, progress
        )
    if args.json:
        print_json({"version": name})
    else:
        print(f"index version {name} is live")
    return 0


def run_sync(args: argparse.Namespace) -> int:
    from inference.index import sync

    data_dir, config = _setup(args)
    report = sync(
        data_dir, _embedder(data_dir, args.encoder), None, config, not (args.json or args.quiet)
    )
    if args.json:
        print_json(vars(report))
    else:
        print(
            f"index {report.version}: {report.added} added, {report.removed} removed, {len(report.failed)} unreadable crops"
        )
    return 1 if report.failed else 0


def run_export(args: argparse.Namespace) -> int:
    from inference.index import export_embeddings

    data_dir, config = _setup(args, write=False)
    summary = export_embeddings(data_dir, args.out, None, args.partition_size, config)
    if args.json:
        print_json(summary)
    else:
        print(
            f"exported {summary['rows']} garments in {summary['partitions']} partitions to {summary['dir']}"
        )
    return 0


def _remove(args: argparse.Namespace, delete: Any, what: str) -> int:
    from core.errors import BadInputError
    from inference.catalog import Catalog
    from inference.index import GarmentIndex, read_current

    data_dir, config = _setup(args)
    with Catalog(data_dir) as catalog:
        ids = delete(catalog)
    if ids is None:
        raise BadInputError(f"no {what} in the catalog")
    removed = GarmentIndex(data_dir, config).remove(ids) if read_current(data_dir) else 0
    if args.json:
        print_json({"removed_garments": len(ids), "removed_from_index": removed})
    else:
        print(f"removed {what}: {len(ids)} garments from the catalog, {removed} from the index")
    return 0


def run_remove_video(args: argparse.Namespace) -> int:
    def delete(catalog: Any) -> list[int] | None:
        return catalog.delete_video(args.video_id) if catalog.video(args.video_id) else None

    return _remove(args, delete, f"video {args.video_id}")


def run_remove_creator(args: argparse.Namespace) -> int:
    handle = args.handle.lstrip("@")

    def delete(catalog: Any) -> list[int] | None:
        known = {h for h, _ in catalog.creators()}
        return catalog.delete_creator(handle) if handle in known else None

    return _remove(args, delete, f"creator @{handle}")


def run_build(args: argparse.Namespace) -> int:
    from core.errors import BadInputError
    from inference.index.live import load_embeddings

    if args.shards < 1 or args.nlist < 0:
        raise BadInputError("--shards must be at least 1 and --nlist at least 0")
    try:
        from inference.scale.ray_ingest import ScaleConfig, start_ray
        from inference.scale.shards import ShardSpec, build_shards
    except ImportError as exc:
        raise BadInputError(f"--backend ray needs the scale extra: pip install 'stylescope[scale]' ({exc})") from None
    data_dir = open_data_dir(args.data_dir, create=False, write=False)
    ids, vectors, _ = load_embeddings(data_dir)
    nlist = min(args.nlist, len(ids) // 39)  # FAISS wants ~39 training points per list
    start_ray(ScaleConfig(address=args.ray_address))
    index, times = build_shards(ids, vectors, ShardSpec(shards=args.shards, nlist=nlist))
    index.save(args.out)
    summary = {"out": args.out, "garments": len(index), "shards": args.shards, "nlist": nlist,
               "train_s": times.train_s, "shard_s": times.shard_s, "total_s": times.total_s}
    if args.json:
        print_json(summary)
    else:
        print(f"{len(index)} garments in {args.shards} shards (nlist {nlist}) written to {args.out} "
              f"in {times.total_s:.1f}s (training {times.train_s:.1f}s)")
    return 0
