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
