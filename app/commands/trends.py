"""``stylescope trends``: styles, which are rising or fading, and their forecast share."""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import textwrap
from typing import TYPE_CHECKING

from app import format as fmt
from app.commands import add_common, open_data_dir, print_json, print_table

if TYPE_CHECKING:
    from inference.trends import StylesUpdate, TrendsConfig, TrendsReport

logger = logging.getLogger(__name__)


def parse_day(text: str) -> dt.date:
    """An ISO date argument (``--as-of``)."""
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an ISO date (YYYY-MM-DD): {text!r}") from None


def glossary_epilog() -> str:
    """The glossary of the report's words, for ``--help``."""
    from inference.trends.glossary import GLOSSARY

    lines = ["reading the report:"]
    for term, text in GLOSSARY.items():
        lines += textwrap.wrap(f"{term}: {text}", width=92, initial_indent="  ", subsequent_indent="      ")
    return "\n".join(lines)


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = subparsers.add_parser(
        "trends",
        help="cluster garments into styles; show rising / fading styles and forecasts",
        description="Bring styles up to date (a full clustering with --recluster or when there are "
        "none, otherwise assign new garments), then report every style: name, size, state, rising "
        "score, take-off day and next week's share with its interval and backtest error. Exit 2 when "
        "there is nothing to report.",
        epilog=glossary_epilog(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--recluster", action="store_true", help="run a full clustering (style ids are kept by centroid matching)")
    parser.add_argument("--by", default="style", metavar="{style,colour,pattern,garment,silhouette}",
                        help="follow trends by style (default), or by the colours, patterns, garment types or "
                        "silhouettes the style names carry: each value (\"polka dot\", \"cargo pants\") is a trend "
                        "of its own, with its series, state, forecast and originator")
    parser.add_argument("--kind", choices=("top", "bottom", "full", "outfit"),
                        help="only styles of this garment kind (with --by: only garments of this kind)")
    parser.add_argument("--group-by", choices=("kind", "outfit", "all"), help="with --recluster: cluster per kind, per outfit, or pooled")
    parser.add_argument("--method", choices=("kmeans", "density"), help="with --recluster: clustering method")
    parser.add_argument("--garment-check", choices=("on", "off"), default=None,
                        help="set aside crops that show no garment (walls, title cards, blurs) before clustering; "
                        "default from the config (cluster.garment_check)")
    parser.add_argument("--weeks", type=int, default=None, help="show the last N weeks of each series")
    parser.add_argument("--as-of", type=parse_day, default=None, help="judge trends as of this day (default: last day with posts)")
    parser.add_argument("--top", type=int, default=20, help="styles in the table (default 20; JSON has all)")
    parser.add_argument("--plot-dir", default=None, help="write PNG curves of the top rising styles here")
    parser.add_argument("--backend", choices=("local", "ray"), default="local",
                        help="local (default): the deployment in --data-dir; ray: the Parquet tables in --tables, "
                        "clustered on a sample and assigned on a Ray cluster (needs the scale extra)")
    parser.add_argument("--tables", default=None, help="with --backend ray: the tables of a Ray ingest or an export")
    parser.add_argument("--out", default=None, help="with --backend ray: write styles, assignments and series "
                        "as Parquet here")
    parser.add_argument("--ray-address", default=None, help="with --backend ray: a running cluster (default: start one here)")
    parser.add_argument("--sample", type=int, default=100_000,
                        help="with --backend ray: garments (whole videos) the styles are fitted on (default 100000)")
    parser.add_argument("--encoder", default=None, help="with --backend ray: whose embeddings table to cluster "
                        "(default: the default encoder)")
    add_common(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from inference import trends
    from inference.catalog import Catalog
    from inference.index import IndexConfig
    from inference.trends.attributes import check_attribute
    from inference.trends.coverage import style_coverage

    if args.by != "style":
        check_attribute(args.by)  # before any clustering
    config = trends.load_config(args.config)
    if args.group_by:
        config.cluster.group_by = args.group_by
    if args.method:
        config.cluster.method = args.method
    if args.garment_check:
        config.cluster.garment_check = args.garment_check == "on"
    if args.backend == "ray":
        return _run_ray(args, config)
    with Catalog(open_data_dir(args.data_dir, create=False)) as catalog:
        update = trends.update_styles(catalog, config, full=args.recluster, index_config=IndexConfig.load(args.config))
        forecast_config = trends.load_forecast_config(args.config)
        if args.by == "style":
            report = trends.trends_report(catalog, config, forecast_config, args.as_of, args.weeks, args.kind)
        else:
            report = trends.attribute_report(catalog, config, forecast_config, trends.load_creators_config(args.config),
                                             args.by, args.as_of, args.weeks, args.kind)
        steps = fmt.update_next_steps(style_coverage(catalog, config.cluster), config.cluster, fmt.CLI_STEPS)
    unit = "style" if args.by == "style" else fmt.UNIT_WORDS[args.by]
    plots = [str(p) for p in trends.plot_rising(report, args.plot_dir, unit=unit)] if args.plot_dir else []
    if args.json:
        payload = {**report.to_dict(), "update": update.to_dict(), "next_steps": steps}
        if args.plot_dir:
            payload["plots"] = plots
        print_json(payload)
    else:
        _print(report, update, plots, args.top, unit)
        for line in steps:
            print(line)
    return 0


def _run_ray(args: argparse.Namespace, config: TrendsConfig) -> int:
    """``--backend ray``: styles and trends from Parquet tables on a Ray cluster, the same report."""
    from core.errors import BadInputError
    from inference import trends
    from inference.encoders import encoder_spec
    from inference.trends.naming import naming_encoder
    from inference.trends.reports import checked, creators_of, styles_report

    if not args.tables:
        raise BadInputError("--backend ray reads Parquet tables: give --tables FOLDER (the --out of "
                            "`stylescope ingest --backend ray`, or of `stylescope export --parquet`)")
    if args.by != "style" or args.recluster or args.plot_dir:
        raise BadInputError("--by, --recluster and --plot-dir work on a deployment: import the tables "
                            "(`stylescope import`) and run trends locally")
    if args.sample < 1:
        raise BadInputError(f"--sample must be at least 1, got {args.sample}")
    try:
        from inference.scale.ray_ingest import ScaleConfig, start_ray
        from inference.scale.ray_trends import ray_trends, write_outputs
    except ImportError as exc:
        raise BadInputError(f"--backend ray needs the scale extra: pip install 'stylescope[scale]' ({exc})") from None
    encoder = encoder_spec(args.encoder, None)
    start_ray(ScaleConfig(address=args.ray_address))
    run = ray_trends(args.tables, encoder, config, args.as_of, args.sample, naming=naming_encoder({"name": encoder}))
    data = checked(run.data)
    report = styles_report(data, config, trends.load_forecast_config(args.config), args.as_of, args.weeks, args.kind,
                           lambda style_id: run.medoids.get(style_id, []))
    creators = creators_of(data, config, trends.load_creators_config(args.config), args.as_of, top=args.top)
    written = write_outputs(run, config, args.out) if args.out else {}
    result = trends.ReclusterResult(run.styles, run.assigned, run.unassigned, 0, len(run.styles), [], run.fit.selection)
    update = trends.StylesUpdate("recluster", result, None, {"name": encoder})
    if args.json:
        print_json({**report.to_dict(), "update": update.to_dict(), "originators": creators.to_dict()["originators"],
                    "seconds": run.seconds, "written": written})
        return 0
    _print(report, update, [], args.top, "style")
    for origin in creators.originators[: args.top]:
        first = origin.origin.originator
        print(f"style {origin.origin.style_id} started by {first.creator} on {fmt.day(first.day)} "
              f"({origin.origin.adopters} adopters)")
    if written:
        print(f"wrote {', '.join(f'{n} {t}' for t, n in written.items())} under {args.out}")
    return 0


def _print(report: TrendsReport, update: StylesUpdate, plots: list[str], top: int, unit: str) -> None:
    from inference.trends import AttributeTrendsReport

    if update.recluster is not None:
        run = update.recluster
        print(f"clustered: {len(run.styles)} styles, {run.assigned} garments assigned, "
              f"{run.unassigned} left out; ids kept {run.kept_ids}, new {run.new_ids}")
        if run.style_check is not None:
            print(run.style_check.summary())
    elif update.assign is not None:
        print(f"assigned {update.assign.assigned} of {update.assign.considered} garments without a style "
              "(new or left out) to existing styles")
    if update.screening is not None:
        print(update.screening.summary() + " (they join no style; `stylescope check` counts them)")
    skipped = report.skipped
    if skipped.future_videos or skipped.undated_videos:
        print(f"left out: {skipped.future_videos} videos posted in the future, {skipped.undated_videos} undated")
    print(f"{fmt.count(report.posts)} posts {fmt.day(report.first_day)} .. {fmt.day(report.as_of)}")
    if isinstance(report, AttributeTrendsReport):
        print(fmt.trends_summary(report, unit) + "\n")
        print_table(fmt.unit_headers(report.by), [fmt.unit_row(u) for u in report.units()[:top]])
    else:
        print(fmt.trends_summary(report) + "\n")
        print_table(fmt.STYLE_HEADERS, [fmt.style_row(s, name_width=fmt.NAME_WIDTH) for s in report.styles[:top]])
    bt = report.backtest
    print(f"\nforecast: {fmt.backtest(bt, unit)}")
    if bt.series:
        print("backtest: " + ", ".join(f"{m} MAE {fmt.points(e.mae)}" + (f" MAPE {e.mape:.0f}%" if e.mape is not None
                                                                         else "") for m, e in bt.errors.items()))
    for path in plots:
        print(f"plot: {path}")
    print("\n`stylescope trends --help` says what each state and column means.")
