"""``stylescope creators``: who started each style, who followed, and the trendsetter leaderboard."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from app import format as fmt
from app.commands import add_common, open_data_dir, print_json, print_table
from app.commands.trends import glossary_epilog, parse_day

if TYPE_CHECKING:
    from inference.trends import Adoption, CreatorsReport, StyleAdopters


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = subparsers.add_parser(
        "creators",
        help="originators of styles, influence between creators, trendsetter leaderboard",
        description="Originator of every style with its evidence (video, moment, crop, date, "
        "runners-up), influence between creators, and the trendsetter leaderboard. Run "
        "`stylescope trends` first. Exit 2 when there is nothing to report.",
        epilog=glossary_epilog(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--tier", help="leaderboard for one follower tier: nano, micro, mid (macro), mega")
    parser.add_argument("--style", type=int, default=None, help="one style: its originator and every adopter in order")
    parser.add_argument("--top", type=int, default=20, help="leaderboard rows (default 20)")
    parser.add_argument("--as-of", type=parse_day, default=None, help="as of this day (default: last day with posts)")
    add_common(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from inference import trends
    from inference.catalog import Catalog

    config, creators_config = trends.load_config(args.config), trends.load_creators_config(args.config)
    with Catalog(open_data_dir(args.data_dir, create=False, write=False)) as catalog:
        report = trends.creators_report(catalog, config, creators_config, args.as_of, args.tier, args.top,
                                        args.style)
    if args.json:
        print_json(report.to_dict())
    elif report.style is not None:
        _print_style(report.style)
    else:
        _print(report)
    return 0


def _evidence(adoption: Adoption) -> list[Any]:
    return [fmt.handle(adoption.creator), adoption.tier, fmt.day(adoption.day), adoption.video_id,
            f"{adoption.t_s:.1f}s", _frames(adoption), f"{adoption.distance:.3f}", adoption.crop_path]


def _frames(adoption: Adoption) -> str:
    """Frames showing the style; those left out of it but near it (see `creators.near_garments`) said so."""
    return f"{adoption.frames} ({adoption.near_frames} near)" if adoption.near_frames else str(adoption.frames)


def _print_style(style: StyleAdopters) -> None:
    print(f"style {style.id}: {style.name}")
    origin = style.origin
    if origin is None:
        print("no sightings")
        return
    print(f"originator: {fmt.handle(origin.originator.creator)} on {fmt.day(origin.originator.day)}"
          + (f" (tied with {', '.join(fmt.handle(c) for c in origin.tied_with)})" if origin.tied_with else "")
          + (f"; {origin.strays_skipped} earlier stray sightings not counted" if origin.strays_skipped else ""))
    rows = [[n + 1, *_evidence(a.adoption), a.days_after] for n, a in enumerate(style.adopters)]
    print_table(["#", "creator", "tier", "date", "video", "moment", "frames", "distance", "crop", "days after"], rows)


def _print(report: CreatorsReport) -> None:
    print(f"trendsetters as of {fmt.day(report.as_of)}" + (f" (tier {report.tier})" if report.tier else "")
          + f": {fmt.risen_summary(report)}")
    print_table(fmt.LEADERBOARD_HEADERS,
                [fmt.leaderboard_row(n, t) for n, t in enumerate(report.leaderboard, start=1)])
    print("\noriginators")
    print_table(
        ["style", "name", "creator", "tier", "date", "video", "moment", "frames", "distance", "crop", "runners-up"],
        [[o.origin.style_id, fmt.name(o.style_name), *_evidence(o.origin.originator), fmt.runners_up(o.origin)]
         for o in report.originators],
    )
    if report.influence:
        print("\ninfluence (B adopts after A more often than chance)")
        print_table(["A", "B", "styles", "expected", "lift", "p"],
                    [[fmt.handle(e.source), fmt.handle(e.target), e.observed, f"{e.expected:.2f}", f"{e.lift:.1f}",
                      f"{e.p_value:.2g}"] for e in report.influence])
