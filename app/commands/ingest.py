"""``stylescope ingest``: videos + creator metadata -> frames, garment crops, catalog, index."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from app.commands import ENCODER_HELP, add_common, open_data_dir, print_json, print_table

logger = logging.getLogger(__name__)


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = subparsers.add_parser(
        "ingest",
        help="ingest outfit videos (files, folders or a manifest)",
        description="Sample frames, cut garment crops and catalog them (and index them, unless "
        "--no-index). Exit 0 when all went in, 1 when some failed, 2 when nothing could be done.",
    )
    parser.add_argument("paths", nargs="*", help="video files or folders (need --creator/--followers/--posted-at)")
    parser.add_argument("--manifest", action="append", default=[], help="CSV or JSONL with path,creator,followers,posted_at")
    parser.add_argument("--creator", help="creator handle for the PATHS")
    parser.add_argument("--followers", help="follower count for the PATHS (e.g. 24000 or 24k)")
    parser.add_argument("--posted-at", help="post date for the PATHS (ISO, e.g. 2026-05-01)")
    parser.add_argument("--resume", action="store_true", help="also redo videos an interrupted run left half-done")
    parser.add_argument("--no-index", action="store_true", help="catalog only: don't embed or index garments")
    parser.add_argument("--encoder", default=None, help=ENCODER_HELP)
    parser.add_argument("--backend", choices=("local", "ray"), default="local",
                        help="local (default): into --data-dir; ray: a Ray Data pipeline writing Parquet "
                        "tables to --out (needs the scale extra; see docs/CLUSTER.md)")
    parser.add_argument("--ray-address", default=None, help="with --backend ray: a running cluster (default: start one here)")
    parser.add_argument("--out", default=None, help="with --backend ray: the folder (or mounted bucket) the tables go to")
    parser.add_argument("--encoder-actors", type=int, default=1, help="with --backend ray: encoder actors in the pool")
    parser.add_argument("--chunk-videos", type=int, default=200,
                        help="with --backend ray: videos per committed chunk (a killed run redoes at most one)")
    add_common(parser)
    parser.set_defaults(func=run)


def _submissions(args: argparse.Namespace):  # type: ignore[no-untyped-def]
    from core.errors import BadInputError
    from inference.manifest import Submissions, from_arguments, read_manifest

    batch = Submissions()
    for manifest in args.manifest:
        batch.extend(read_manifest(manifest))
    if args.paths:
        if not (args.creator and args.followers is not None and args.posted_at):
            raise BadInputError("videos given as paths need --creator, --followers and --posted-at (or use --manifest)")
        batch.extend(from_arguments(args.paths, args.creator, args.followers, args.posted_at))
    if not (args.paths or args.manifest or args.resume):
        raise BadInputError("nothing to ingest: give video paths, --manifest FILE or --resume")
    return batch


def _sink(args: argparse.Namespace, data_dir):  # type: ignore[no-untyped-def]
    if args.no_index:
        return None
    from inference.embed import IndexSink
    from inference.index import IndexConfig

    return IndexSink(data_dir, args.encoder, IndexConfig.load(args.config))


def run(args: argparse.Namespace) -> int:
    from inference.ingest import STATUSES, IngestConfig, ingest

    batch = _submissions(args)
    for warning in batch.warnings:
        logger.warning(warning)
    if args.backend == "ray":
        return _run_ray(args, batch)
    data_dir = open_data_dir(args.data_dir)
    config = IngestConfig.load(args.config)
    report = ingest(
        batch.videos,
        data_dir,
        config,
        sink=_sink(args, data_dir),
        progress=not (args.json or args.quiet),
        rejected=batch.rejected,
        resume=args.resume,
    )
    steps = _next_steps(data_dir, args.config, indexed=not args.no_index)
    if args.json:
        print_json({
            "data_dir": str(data_dir),
            "outcomes": [o.to_dict() for o in report.outcomes],
            "stage_seconds": report.stage_seconds(),
            "caught_up": report.caught_up,
            "stopped": report.stopped,
            "exit_code": report.exit_code,
            "next_steps": steps,
        })
        return report.exit_code
    if report.caught_up:
        print(report.caught_up)
    rows = [[o.video or "-", o.source if o.source != o.path else "-", o.status, o.frames, o.garments, o.reason]
            for o in report.outcomes]
    print_table(["video", "from", "status", "frames", "garments", "note"], rows)
    print("\n" + ", ".join(f"{report.count(s)} {s}" for s in STATUSES if report.count(s)))
    if report.stopped:
        print(
            f"the batch stopped: {report.stopped}\nnothing already stored was lost; make room "
            "(or free the catalog) and run the same command again: videos already in are skipped"
        )
    seconds = report.stage_seconds()
    if seconds:
        print("time per stage: " + ", ".join(f"{k} {v:.1f}s" for k, v in seconds.items()))
    print(f"catalog: {data_dir}")
    for line in steps:
        print(line)
    return report.exit_code


def _next_steps(data_dir: Path, config_file: str | None, indexed: bool) -> list[str]:
    """What to do after this ingest: bring the styles up to date (or re-cluster)."""
    from app import format as fmt
    from inference import trends
    from inference.catalog import Catalog
    from inference.trends.coverage import style_coverage

    cluster = trends.load_config(config_file).cluster
    steps = dict(fmt.CLI_STEPS)
    if not indexed:  # styles are made from the index's embeddings
        steps = {key: f"run `stylescope index sync`, then {step.removeprefix('run ')}" for key, step in steps.items()}
    with Catalog(data_dir) as catalog:
        return fmt.ingest_next_steps(style_coverage(catalog, cluster), cluster, steps)


def _run_ray(args: argparse.Namespace, batch) -> int:  # type: ignore[no-untyped-def]
    """``--backend ray``: the same stages on a Ray cluster, into Parquet tables."""
    from core.errors import BadInputError
    from inference.encoders import encoder_spec
    from inference.ingest import IngestConfig

    if not args.out:
        raise BadInputError("--backend ray writes Parquet tables: give --out FOLDER")
    if args.encoder_actors < 1 or args.chunk_videos < 1:
        raise BadInputError("--encoder-actors and --chunk-videos must be at least 1")
    try:
        from inference.scale.ray_ingest import ScaleConfig, ray_ingest
    except ImportError as exc:
        raise BadInputError(f"--backend ray needs the scale extra: pip install 'stylescope[scale]' ({exc})") from None
    scale = ScaleConfig(address=args.ray_address, encoder_actors=args.encoder_actors, chunk_videos=args.chunk_videos)
    report = ray_ingest(batch.videos, args.out, IngestConfig.load(args.config),
                        encoder_spec(args.encoder, None), scale, rejected=batch.rejected)
    if args.json:
        print_json({"out": str(args.out), "outcomes": report.outcomes, "garments": report.garments,
                    "seconds": report.seconds, "exit_code": report.exit_code})
        return report.exit_code
    rows = [[Path(o["source"]).name, o["status"], o["video_id"][:12], o["reason"]] for o in report.outcomes]
    print_table(["video", "status", "id", "note"], rows)
    print(f"\n{report.garments} garments written to {args.out}; "
          + ", ".join(f"{k} {v:.1f}s" for k, v in report.seconds.items()))
    return report.exit_code
