"""``stylescope demo``: the sample creator world, ingested, with trends, served in the app.

Generates the creator world's ``demo`` preset into ``DATA_DIR/world`` (once), ingests its
manifest with the offline default encoder (videos already in are skipped by content
hash, so a rerun is quick), brings the styles up to date, prints a short report (counts,
the top rising styles and who started them) and serves the app unless ``--no-serve``.
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from app import format as fmt
from app.commands import add_common, open_data_dir, print_json, print_table
from app.commands.serve import add_serve_options, serve

if TYPE_CHECKING:
    from inference.catalog import Catalog
    from inference.trends import CreatorsReport, TrendsReport

logger = logging.getLogger(__name__)


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = subparsers.add_parser(
        "demo",
        help="generate the demo creator world, ingest it, report trends, serve the app",
        description="The main job end to end: the creator world's demo preset is generated into "
        "DATA_DIR/world if needed, ingested with the offline default encoder, clustered into styles; "
        "a report of the top rising styles and their originators is printed; then the app is served.",
    )
    parser.add_argument("--no-serve", action="store_true", help="stop after the report")
    parser.add_argument("--preset", default="demo", help="creator-world preset (default demo)")
    parser.add_argument("--seed", type=int, default=0, help="creator-world seed (default 0)")
    add_serve_options(parser)
    add_common(parser)
    parser.set_defaults(func=run)


def ensure_world(world_dir: Path, preset: str, seed: int, progress: bool) -> dict[str, Any]:
    """Generate the world into ``world_dir`` unless a complete one is there already."""
    from world.config import world_config
    from world.generate import INCOMPLETE, generate_world

    if (world_dir / "manifest.csv").is_file() and not (world_dir / INCOMPLETE).exists():
        logger.info("creator world already in %s", world_dir)
        return {"generated": False, "out_dir": str(world_dir)}
    summary = generate_world(world_config(preset, seed), world_dir, overwrite=True, progress=progress)
    return {"generated": True, **dataclasses.asdict(summary)}


def build(data_dir: Path, args: argparse.Namespace) -> dict[str, Any]:
    """World -> ingest -> styles -> trend and creator reports; returns the demo report."""
    from inference import trends
    from inference.catalog import Catalog
    from inference.embed import IndexSink
    from inference.encoders import resolve_encoder
    from inference.index import IndexConfig
    from inference.ingest import IngestConfig, ingest
    from inference.manifest import read_manifest

    progress = not (args.json or getattr(args, "quiet", False))
    seconds: dict[str, float] = {}
    clock = time.perf_counter()
    world = ensure_world(data_dir / "world", args.preset, args.seed, progress)
    seconds["world"] = time.perf_counter() - clock

    clock = time.perf_counter()
    manifest = read_manifest(data_dir / "world" / "manifest.csv")
    encoder = resolve_encoder(args.encoder, data_dir)
    index_config = IndexConfig.load(args.config)
    reembedded = _reembed_if_encoder_changed(data_dir, encoder, index_config, progress)
    sink = IndexSink(data_dir, encoder, index_config)
    ingested = ingest(manifest.videos, data_dir, IngestConfig.load(args.config), sink, progress, manifest.rejected)
    seconds["ingest"] = time.perf_counter() - clock

    clock = time.perf_counter()
    with Catalog(data_dir) as catalog:
        update = trends.update_styles(  # a new space needs new styles
            catalog, trends.load_config(args.config), full=reembedded is not None, index_config=index_config
        )
        summary = trends_summary(catalog, args.config)
        counts = catalog.counts()
    seconds["styles"] = time.perf_counter() - clock
    return {
        "data_dir": str(data_dir), "world": world, "encoder": sink.encoder.describe(), "reembedded": reembedded,
        "ingest": {s: ingested.count(s) for s in ("ingested", "skipped", "duplicate", "unindexed", "failed")},
        "failures": [{"video": o.video, "source": o.source, "reason": o.reason}
                     for o in ingested.outcomes if o.failed],
        "counts": counts, "styles": update.to_dict(), "seconds": {k: round(v, 1) for k, v in seconds.items()},
        **summary,
    }


def trends_summary(catalog: Catalog, config_file: str | None) -> dict[str, Any]:
    """The demo report's trend part: state counts, the top styles with who started them, trendsetters."""
    from inference import trends

    config = trends.load_config(config_file)
    trend = trends.trends_report(catalog, config, trends.load_forecast_config(config_file))
    people = trends.creators_report(catalog, config, trends.load_creators_config(config_file), top=10)
    return {"states": trend.state_counts(), "risen": trend.risen(), "top_styles": top_styles(trend, people),
            "top_attributes": top_attributes(catalog, config, config_file),
            "trendsetters": [dataclasses.asdict(t) for t in people.leaderboard[:5]]}


def top_attributes(catalog: Catalog, config: Any, config_file: str | None, count: int = 3) -> list[dict[str, Any]]:
    """The first colours and patterns of ``stylescope trends --by colour|pattern`` that are
    rising or emerging or have risen, each with who wore it first (none when the styles carry
    no facet names)."""
    from core.errors import BadInputError
    from inference import trends
    from inference.facets import load_facet_vocabulary
    from inference.trends.attributes import attribute_report

    plain = {p for p, adjective in load_facet_vocabulary().patterns.items() if not adjective}  # "solid" is no print
    top = []
    for by in ("colour", "pattern"):
        try:
            report = attribute_report(catalog, config, trends.load_forecast_config(config_file),
                                      trends.load_creators_config(config_file), by)
        except BadInputError:
            continue
        moving = [u for u in report.units() if (u.state in ("rising", "emerging") or u.has_risen)
                  and not (by == "pattern" and u.name in plain)]
        for unit in moving[:count]:
            first = unit.originator.originator if unit.originator else None
            top.append({"by": by, "value": unit.name, "worn_as": unit.kind, "state": unit.state,
                        "growth": unit.growth, "takeoff": unit.takeoff.isoformat() if unit.takeoff else None,
                        "creators": unit.creators, "originator": first.creator if first else None,
                        "since": first.day.isoformat() if first else None})
    return top


def _reembed_if_encoder_changed(data_dir: Path, encoder: Any, config: Any, progress: bool) -> str | None:
    """Re-embed the catalog when the live index was built by another version of ``encoder``.

    An upgrade that brings new default heads leaves an index the new encoder cannot query;
    the demo rebuilds it from the stored crops (atomically) instead of failing at search time.
    Returns the new index version, or None when nothing had to change.
    """
    from inference.catalog import Catalog
    from inference.embed import CropEmbedder
    from inference.index import live_encoder_info, rebuild_index

    built = live_encoder_info(data_dir)
    wanted = encoder.describe()
    if built is None or built.get("name") != wanted["name"] or built.get("version") == wanted["version"]:
        return None
    logger.info("the index was built by %s; re-embedding the catalog with %s", built.get("version"),
                wanted["version"])
    with Catalog(data_dir) as catalog:
        return rebuild_index(data_dir, CropEmbedder(encoder), catalog, config=config, progress=progress)


def top_styles(trend: TrendsReport, people: CreatorsReport, count: int = 5) -> list[dict[str, Any]]:
    """The trends report's first styles (rising, then emerging, peaked ...), each with who started it.

    The values are the trends report's own (``stylescope trends --json`` shows the same ones).
    """
    origins = {o.origin.style_id: o.origin for o in people.originators}
    top = []
    for style in trend.styles[:count]:
        origin = origins.get(style.id)
        first = origin.originator if origin else None
        top.append({"id": style.id, "name": style.name, "state": style.state, "has_risen": style.has_risen,
                    "growth": style.growth, "takeoff": style.takeoff.isoformat() if style.takeoff else None,
                    "garments": style.garments, "creators": style.creators,
                    "originator": first.creator if first else None,
                    "since": first.day.isoformat() if first else None})
    return top


def _print(report: dict[str, Any]) -> None:
    counts, ingested, seconds = report["counts"], report["ingest"], report["seconds"]
    print(f"stylescope demo: {report['data_dir']}")
    print(f"  world: {'generated' if report['world']['generated'] else 'already there'} ({seconds['world']} s)")
    if report["reembedded"]:
        print(f"  index: re-embedded for {report['encoder']['version']} (new version {report['reembedded']})")
    print(f"  ingest: {ingested['ingested']} added, {ingested['skipped'] + ingested['duplicate']} already in, "
          f"{ingested['failed'] + ingested['unindexed']} failed ({seconds['ingest']} s, encoder "
          f"{report['encoder']['name']})")
    styles = report["styles"]
    found = (f"{styles['styles']} styles" if styles["mode"] == "recluster"
             else f"{styles.get('assigned', 0)} new garments put in existing styles")
    print(f"  catalog: {counts['creators']} creators, {counts['videos_done']} videos, {counts['garments']} garments; "
          f"{found} ({styles['mode']}, {seconds['styles']} s)")
    for failure in report["failures"][:5]:
        print(f"  failed: {failure['source']}: {failure['reason']}")
    print(f"\ntop styles ({sum(report['states'].values())} styles: {fmt.state_counts(report['states'])}; "
          f"{report['risen']} have risen)")
    print_table(["id", "style", "state", "growth", "take-off", "garments", "creators", "started by", "on"],
                [[s["id"], fmt.name(s["name"]), s["state"], fmt.growth(s["growth"]), fmt.day(s["takeoff"]),
                  fmt.count(s["garments"]), fmt.count(s["creators"]), fmt.handle(s["originator"]), fmt.day(s["since"])]
                 for s in report["top_styles"]])
    if report["top_attributes"]:
        print("\ncolours and patterns on the move (`stylescope trends --by colour|pattern`)")
        print_table(["by", "value", "worn as", "state", "growth", "take-off", "creators", "started by", "on"],
                    [[a["by"], a["value"], a["worn_as"], a["state"], fmt.growth(a["growth"]), fmt.day(a["takeoff"]),
                      fmt.count(a["creators"]), fmt.handle(a["originator"]), fmt.day(a["since"])]
                     for a in report["top_attributes"]])
    if report["trendsetters"]:
        print("\ntrendsetters")
        print_table(["creator", "tier", "score", "styles", "originated", "days before take-off"],
                    [[fmt.handle(t["creator"]), t["tier"], fmt.trendsetter_score(t["score"]), t["styles"],
                      t["originated"], fmt.days(t["days_before_takeoff"])] for t in report["trendsetters"]])
    print("\n`stylescope trends --help` says what each state and column means.")


def run(args: argparse.Namespace) -> int:

    data_dir = open_data_dir(args.data_dir)
    report = build(data_dir, args)
    if args.json:
        print_json(report)
    else:
        _print(report)
    if report["counts"]["garments"] == 0:
        return 2
    if not args.no_serve:
        args.data_dir = str(data_dir)
        serve(args)
    return 1 if report["failures"] else 0
