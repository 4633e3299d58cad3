"""``stylescope eval world``: score a catalog against a creator world's answer key."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from app.commands import add_common, open_data_dir, print_json, print_table


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("eval", help="score what stylescope found against known truth")
    targets = parser.add_subparsers(dest="eval_target", metavar="TARGET")
    world = targets.add_parser(
        "world",
        help="score a catalog of an ingested creator world against its answer key",
        description="Garment box IoU; style clustering (NMI, ARI, purity) when the catalog has "
        "styles; search recall@10 for image queries cut from the world's held-out videos when "
        "the data dir has an index. For a catalog made by ingesting a world from "
        "`stylescope world generate`.",
    )
    add_common(world, config=False)
    world.add_argument("--answers", required=True, help="the world folder (holding answers/)")
    world.add_argument(
        "--no-search",
        action="store_true",
        help="skip search recall@10 (scored when the data dir has an index and the world has query videos)",
    )
    world.add_argument("--queries-per-video", type=int, default=2, help="image queries cut from each held-out video")
    world.add_argument(
        "--no-trends",
        action="store_true",
        help="skip originators, rising styles and trendsetters (scored when the catalog has styles)",
    )
    world.set_defaults(func=run_world)
    parser.set_defaults(func=_usage(parser))


def _usage(parser: argparse.ArgumentParser) -> Any:
    def run(args: argparse.Namespace) -> int:
        parser.print_help()
        return 2

    return run


def run_world(args: argparse.Namespace) -> int:
    from core.errors import BadInputError
    from inference.catalog import CATALOG_FILE, Catalog
    from inference.trends.coverage import set_aside as screened
    from world import scorer

    answer = scorer.load_answer_key(args.answers)
    data_dir = open_data_dir(args.data_dir, create=False, write=False)
    if not (data_dir / CATALOG_FILE).exists():
        raise BadInputError(f"no catalog in {data_dir}; ingest the world's manifest.csv first")
    with Catalog(data_dir) as catalog:
        records = catalog.garments()
        if not records:
            raise BadInputError(f"the catalog in {data_dir} has no garments to score")
        own, match = scorer.own_garments(answer, records)
        found = scorer.found_garments(own)
        if match.other_videos or match.mismatched:
            print(f"scoring the {match.own_videos} videos of the world; left out: {match.other_videos} videos the "
                  f"answer key does not name, {len(match.mismatched)} whose creator or date differ from it",
                  file=sys.stderr)
        predicted = catalog.garment_style_ids()
        set_aside = screened(catalog) if predicted else None
        medoids = {style: nearest[0].garment_id for style in set(predicted.values())
                   if (nearest := catalog.nearest_garments(style, 1))}
        stages = _trend_stages(catalog) if predicted and not args.no_trends else None
        named = _named_styles(catalog, answer, found) if predicted else None
        attributes = _attribute_stage(catalog, answer, named[1]) if stages and named else None
        naming = _naming_stage(answer, own, predicted, *named) if named else None
    rankings, flagged, leaderboard = stages or (None, None, None)
    search, queries = None, []
    if not args.no_search and any(v.held_out for v in answer.videos):
        search = _searcher(data_dir)
        if search is not None:
            queries = scorer.search_queries(answer, per_video=args.queries_per_video)
    report = scorer.evaluate(
        answer,
        found,
        predicted=predicted or None,
        rankings=rankings,
        flagged=flagged,
        search=search,
        queries=queries,
        leaderboard=leaderboard,
        set_aside=set_aside,
        medoids=medoids,
    )
    if args.json:
        print_json({**report.to_dict(), **({"attributes": attributes} if attributes else {}),
                    **({"naming": naming} if naming else {})})
    else:
        print_table(["metric", "value"], _rows(report) + _naming_rows(naming) + _attribute_rows(attributes))
    return 0


def _named_styles(catalog: Any, answer: Any, found: Any) -> tuple[dict[int, Any], dict[int, str]] | None:
    """Each style's stored facet names and each matched garment's true style, read once for the
    naming and attribute scores; None when no style is named by facets (nothing to score)."""
    from inference import trends
    from world import scorer

    names = {style.id: style.facets for style in trends.load_styles(catalog)}
    if not any(names.values()):
        return None
    return names, scorer.true_styles_of(found, answer.matcher())


def _attribute_stage(catalog: Any, answer: Any, truth: dict[int, str]) -> dict[str, Any] | None:
    """Colour and pattern trends scored against the world's recipes (world/attribute_scorer.py),
    or None when the answer key has no recipes."""
    from inference import trends
    from world.attribute_scorer import score_attributes

    scores = score_attributes(catalog, answer, truth, trends.load_config(), trends.load_creators_config())
    return scores if scores and any(s["units"] for s in scores.values()) else None


def _naming_stage(answer: Any, own: Any, predicted: dict[int, int], names: dict[int, Any],
                  truth: dict[int, str]) -> dict[str, Any] | None:
    """Naming accuracy of the stored facet names (world/naming_scorer.py), or None when the
    answer key has no recipes."""
    from collections import defaultdict

    from world.naming_scorer import score_names

    members: dict[int, list[int]] = defaultdict(list)
    for garment, style in predicted.items():
        members[style].append(garment)
    return score_names(answer, truth, members, {r.id: r.kind for r in own}, names)


def _naming_rows(naming: dict[str, Any] | None) -> list[list[Any]]:
    if naming is None:
        return [["style names", "not scored (no styles named by facets, or no recipes in the answer key)"]]
    rows = [[f"style names: {facet} accuracy (named / precision)",
             f"{_fmt(naming[facet]['accuracy'])} ({_fmt(naming[facet]['named'])} / {_fmt(naming[facet]['precision'])})"]
            for facet in ("type", "colour", "pattern", "silhouette")]
    rows.append(["style names with a facet none of their garments has", _fmt(naming["wrong"])])
    return rows


def _attribute_rows(attributes: dict[str, Any] | None) -> list[list[Any]]:
    if attributes is None:
        return [["attribute trends", "not scored (no styles named by facets, or no recipes in the answer key)"]]
    rows: list[list[Any]] = []
    for attribute, s in attributes.items():
        rows += [
            [f"{attribute} trends: units / purity", f"{s['units']} / {_fmt(s['purity'])}"],
            [f"{attribute} trends: true risers' garments in a risen unit",
             f"{_fmt(s['riser_garments_rising'])} (n={s['riser_garments']})"],
            [f"{attribute} trends: risen units explained by a true riser",
             f"{_fmt(s['risen_units_explained'])} (n={s['risen_units']})"],
            [f"{attribute} trends: values that truly rose, found rising (recall)",
             f"{_fmt(s['value_rising_recall'])} (n={len(s['values_truly_risen'])})"],
            [f"{attribute} trends: risen units whose value truly rose (precision)",
             _fmt(s['value_rising_precision'])],
            [f"{attribute} trends: originator top-1", f"{_fmt(s['originator_top1'])} (n={s['originator_units']})"],
        ]
    return rows


def _trend_stages(catalog: Any) -> tuple[dict[int, list[str]], dict[int, Any], list[str]] | None:
    """Originator rankings, first-flagged days and the trendsetter leaderboard from the
    trends stage (inference/trends/), or None when it cannot run."""
    import logging

    from core.errors import StylescopeError

    try:
        from inference import trends

        config = trends.load_config()
        creators_config = trends.load_creators_config()
        data = trends.load_trend_data(catalog, min_frames=config.series.min_frames_per_video)
        styles = trends.rising_styles(data, config.rising)
        adoptions = trends.adoptions_by_style(data, creators_config)
        origins = trends.originators(data, creators_config, adoptions)
        board = trends.trendsetters(adoptions, styles, creators_config)
    except (StylescopeError, ImportError) as exc:
        logging.getLogger(__name__).info("trends not scored: %s", exc)
        return None
    rankings = {sid: [o.originator.creator] + [a.creator for a in o.runners_up] for sid, o in origins.items()}
    flagged = {t.style_id: t.takeoff for t in styles if t.takeoff is not None}
    return rankings, flagged, [t.creator for t in board]


def _searcher(data_dir: Any) -> Any:
    """``image -> garment ids`` over the data dir's live index, or None when there is none."""
    import logging

    from core.errors import StylescopeError

    try:
        from inference.search import Searcher

        searcher = Searcher(data_dir)
        size = len(searcher.index.version())
    except (StylescopeError, OSError, KeyError, ValueError) as exc:
        logging.getLogger(__name__).info("search not scored: %s", exc)
        return None
    if size == 0:
        return None

    def search(image: Any) -> list[int]:
        hits = searcher.search(image=image, k=min(10, size)).hits
        return [hit.garment_id for hit in hits]

    return search


def _trend_rows(report: Any) -> list[list[Any]]:
    origin, rising, setters = report.originators, report.rising, report.trendsetters
    if origin is None and rising is None and setters is None:
        return [["trends and originators", "not scored (no styles, or the trends stage did not run)"]]
    rows: list[list[Any]] = []
    if origin is not None:
        rows += [
            ["originator top-1 (styles that rose)", f"{_fmt(origin.top1)} (n={origin.styles})"],
            ["originator top-3", _fmt(origin.top3)],
        ]
    if rising is not None:
        rows += [
            ["rising styles: flagged / truly rose", f"{rising.flagged} / {rising.truly_rising}"],
            ["rising precision", _fmt(rising.precision)],
            ["rising recall", _fmt(rising.recall)],
            ["rising: flagged within 7 days", _fmt(rising.within_7_days)],
            ["rising: mean days late", _fmt(rising.mean_days_late)],
        ]
    if setters is not None:
        rows.append(["true trendsetters in top 10%", _fmt(setters.recall_in_top)])
    return rows


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def _rows(report: Any) -> list[list[Any]]:
    boxes = report.boxes
    rows: list[list[Any]] = [
        ["garments scored", boxes.garments],
        ["garments matched to a true garment", boxes.matched],
        ["box IoU, mean", _fmt(boxes.mean_iou)],
        ["box IoU, median", _fmt(boxes.median_iou)],
        ["boxes with IoU >= 0.5", _fmt(boxes.share_iou_50)],
    ]
    rows += [[f"box IoU, {kind}", _fmt(iou)] for kind, iou in boxes.by_kind.items()]
    clusters = report.clusters
    if clusters is None:
        rows.append(["style clustering", "not scored (no styles in the catalog yet)"])
    else:
        rows += [
            ["styles: true / predicted", f"{clusters.true_styles} / {clusters.predicted_styles}"],
            ["clustering NMI", _fmt(clusters.nmi)],
            ["clustering ARI", _fmt(clusters.ari)],
            ["clustering purity", _fmt(clusters.purity)],
            ["clustering coverage", _fmt(clusters.coverage)],
        ]
    junk = report.junk
    if junk is not None:
        rows += [
            ["crops showing no garment (walls, title cards, empty rooms)", f"{junk.non_garments} of {junk.crops}"],
            ["  of them in a style", _fmt(junk.non_garments_styled)],
            ["  share of styled crops", _fmt(junk.styled_non_garments)],
            ["real garments kept out of styles as no garment", _fmt(junk.garments_set_aside)],
            ["styles whose medoid shows no garment", "-" if junk.medoids_no_garment is None else junk.medoids_no_garment],
        ]
    rows += _trend_rows(report)
    search = report.search
    if search is None:
        rows.append(["search", "not scored (no index, or no query videos)"])
    else:
        rows += [
            ["search queries (skipped)", f"{search.queries} ({search.skipped})"],
            [f"search recall@{search.k}", _fmt(search.recall_at_k)],
            [f"search hit@{search.k}", _fmt(search.hit_at_k)],
        ]
    return rows
