"""``stylescope world``: generate a creator world (sample videos with an answer key), describe one."""

from __future__ import annotations

import argparse
import dataclasses
import json
from pathlib import Path
from typing import Any

from app.commands import add_common, print_json, print_table


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = subparsers.add_parser(
        "world",
        help="generate seeded sample videos with an answer key (the creator world)",
        description="A seeded season of creators, trending styles and outfit videos, with the "
        "truth about who started what: demo data and the benchmark's answer key.",
    )
    actions = parser.add_subparsers(dest="world_action", metavar="ACTION")
    generate = actions.add_parser(
        "generate",
        help="write a world's videos, manifest.csv and answer key into a folder",
        description="Write videos/ (H.264 mp4), manifest.csv (for `stylescope ingest --manifest`), "
        "queries.csv (held-out videos) and answers/ into --out. Same seed and preset: same world.",
    )
    generate.add_argument("--preset", default="demo", help="tiny, demo or bench (default demo)")
    generate.add_argument("--seed", type=int, default=0, help="the world's seed (default 0)")
    generate.add_argument("--out", required=True, help="output folder (missing or empty unless --overwrite)")
    generate.add_argument("--overwrite", action="store_true", help="replace a world already in --out")
    generate.add_argument("--workers", type=int, default=None, help="rendering processes (0 = one per core)")
    generate.add_argument(
        "--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
        help="override one setting, e.g. --set videos=40 --set render.fps=10 (repeatable)",
    )
    add_common(generate)
    generate.set_defaults(func=run_generate)
    describe = actions.add_parser("describe", help="summarise a generated world's answer key")
    describe.add_argument("folder", help="a folder written by `stylescope world generate`")
    add_common(describe, config=False)
    describe.set_defaults(func=run_describe)
    presets = actions.add_parser("presets", help="list the shipped presets and their sizes")
    add_common(presets, config=False)
    presets.set_defaults(func=run_presets)
    parser.set_defaults(func=lambda args: _usage(parser))


def _usage(parser: argparse.ArgumentParser) -> int:
    parser.print_help()
    return 2


def run_generate(args: argparse.Namespace) -> int:
    from world.config import parse_overrides, world_config
    from world.generate import generate_world

    overrides = parse_overrides(args.overrides)
    if args.workers is not None:
        overrides["workers"] = args.workers
    config = world_config(args.preset, args.seed, args.config, overrides)
    summary = generate_world(config, args.out, overwrite=args.overwrite, progress=not (args.json or getattr(args, "quiet", False)))
    if args.json:
        print_json(dataclasses.asdict(summary))
        return 0
    print(f"creator world '{summary.preset}' (seed {summary.seed}) written to {summary.out_dir}")
    print_table(
        ["videos", "queries", "frames", "MB", "styles", "rising", "seconds"],
        [[summary.videos, summary.query_videos, summary.frames, summary.megabytes, summary.styles, summary.rising_styles, summary.seconds]],
    )
    print(f"ingest it with: stylescope ingest --manifest {Path(summary.out_dir) / 'manifest.csv'}")
    return 0


def _read_truth(folder: str) -> dict[str, Any]:
    from world.config import WorldError

    path = Path(folder).expanduser() / "answers" / "world.json"
    if (Path(folder).expanduser() / "INCOMPLETE").exists():
        raise WorldError(f"the world in {folder} is incomplete (see its INCOMPLETE file); regenerate it")
    try:
        return dict(json.loads(path.read_text(encoding="utf-8")))
    except FileNotFoundError:
        raise WorldError(f"no answer key at {path}; pass a folder written by `stylescope world generate`") from None
    except (OSError, ValueError) as exc:
        raise WorldError(f"cannot read {path}: {exc}") from None


def run_describe(args: argparse.Namespace) -> int:
    truth = _read_truth(args.folder)
    trending = [s for s in truth["styles"] if s["trending"]]
    if args.json:
        print_json({"season": truth["season"], "creators": len(truth["creators"]), "videos": len(truth["videos"]), "styles": truth["styles"]})
        return 0
    season = truth["season"]
    print(f"season from {season['start']} over {season['days']} days; {len(truth['creators'])} creators, {len(truth['videos'])} videos")
    rows = [
        [s["id"], s["description"][:48], s["shape"], s["originator"], s["start_date"], len(s["adopters"]), sum(s["daily_videos"]), "yes" if s["rose"] else "no"]
        for s in trending
    ]
    print_table(["style", "outfit", "curve", "originator", "started", "creators", "videos", "rose"], rows)
    return 0


def run_presets(args: argparse.Namespace) -> int:
    from world.config import preset_names, world_config

    presets = {name: world_config(name) for name in preset_names()}
    if args.json:
        print_json({name: dataclasses.asdict(config) for name, config in presets.items()})
        return 0
    print_table(
        ["preset", "creators", "styles", "videos", "days", "size", "seconds/video"],
        [
            [name, c.creators, c.trending_styles + c.background_styles, c.videos + c.query_videos, c.days, f"{c.render.width}x{c.render.height}@{c.render.fps}", f"{c.render.min_seconds:g}-{c.render.max_seconds:g}"]
            for name, c in presets.items()
        ],
    )
    return 0
