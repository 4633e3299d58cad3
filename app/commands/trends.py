"""``stylescope trends``: styles, which are rising or fading, and their forecast share."""

from __future__ import annotations

import argparse
import datetime as dt
import logging
from typing import TYPE_CHECKING

from app.commands import add_common, open_data_dir, print_json, print_table

if TYPE_CHECKING:
    from inference.trends import StyleReport, StylesUpdate, TrendsReport

logger = logging.getLogger(__name__)


def parse_day(text: str) -> dt.date:
    """An ISO date argument (``--as-of``)."""
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an ISO date (YYYY-MM-DD): {text!r}") from None


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = subparsers.add_parser(
        "trends",
        help="cluster garments into styles; show rising / fading styles and forecasts",
        description="Bring styles up to date (a full clustering with --recluster or when there are "
        "none, otherwise assign new garments), then report every style: name, size, rising score, "
        "take-off day and next weeks' share. Exit 2 when there is nothing to report.",
    )
    parser.add_argument("--recluster", action="store_true", help="run a full clustering (style ids are kept by centroid matching)")
    parser.add_argument("--kind", choices=("top", "bottom", "full", "outfit"), help="only styles of this garment kind")
    parser.add_argument("--group-by", choices=("kind", "outfit", "all"), help="with --recluster: cluster per kind, per outfit, or pooled")
    parser.add_argument("--method", choices=("kmeans", "density"), help="with --recluster: clustering method")
    parser.add_argument("--weeks", type=int, default=None, help="show the last N weeks of each series")
    parser.add_argument("--as-of", type=parse_day, default=None, help="judge trends as of this day (default: last day with posts)")
    parser.add_argument("--top", type=int, default=20, help="styles in the table (default 20; JSON has all)")
    parser.add_argument("--plot-dir", default=None, help="write PNG curves of the top rising styles here")
    add_common(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from inference import trends
    from inference.catalog import Catalog
    from inference.index import IndexConfig

    config = trends.load_config(args.config)
    if args.group_by:
        config.cluster.group_by = args.group_by
    if args.method:
        config.cluster.method = args.method
    with Catalog(open_data_dir(args.data_dir, create=False)) as catalog:
        update = trends.update_styles(catalog, config, full=args.recluster, index_config=IndexConfig.load(args.config))
        report = trends.trends_report(catalog, config, trends.load_forecast_config(args.config), args.as_of,
                                      args.weeks, args.kind)
    plots = [str(p) for p in trends.plot_rising(report, args.plot_dir)] if args.plot_dir else []
    if args.json:
        payload = {**report.to_dict(), "update": update.to_dict()}
        if args.plot_dir:
            payload["plots"] = plots
        print_json(payload)
    else:
        _print(report, update, plots, args.top)
    return 0


def _forecast_text(style: StyleReport) -> str:
    fc = style.forecast
    if not fc:
        return "-"
    return f"{fc.share[0]:.1%} [{fc.low[0]:.1%}-{fc.high[0]:.1%}]"


def _print(report: TrendsReport, update: StylesUpdate, plots: list[str], top: int) -> None:
    if update.recluster is not None:
        run = update.recluster
        print(f"clustered: {len(run.styles)} styles, {run.assigned} garments assigned, "
              f"{run.unassigned} left out; ids kept {run.kept_ids}, new {run.new_ids}")
    elif update.assign is not None:
        print(f"assigned {update.assign.assigned} of {update.assign.considered} garments without a style "
              "(new or left out) to existing styles")
    skipped = report.skipped
    if skipped.future_videos or skipped.undated_videos:
        print(f"left out: {skipped.future_videos} videos posted in the future, {skipped.undated_videos} undated")
    print(f"{report.posts} posts {report.first_day} .. {report.as_of}\n")
    rows = [
        [s.id, s.name[:40], s.kind or "-", s.garments, s.creators, s.state, f"{s.score:.1f}",
         f"{s.growth:.1f}x", s.takeoff or "-", f"{s.series.share[-1]:.1%}" if s.series.share else "-",
         _forecast_text(s)]
        for s in report.styles[:top]
    ]
    print_table(["id", "style", "kind", "garments", "creators", "state", "score", "growth", "take-off",
                 "share now", "next week"], rows)
    bt = report.backtest
    print(f"\nforecast: {bt.chosen} (backtest on {bt.series} styles: " + ", ".join(
        f"{m} MAE {e.mae:.4f}" + (f" MAPE {e.mape:.0f}%" if e.mape is not None else "")
        for m, e in bt.errors.items()) + ")")
    for path in plots:
        print(f"plot: {path}")
