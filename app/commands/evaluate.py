"""``stylescope eval world``: score a catalog against a creator world's answer key."""

from __future__ import annotations

import argparse
from typing import Any

from app.commands import add_common, print_json, print_table


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
    world.set_defaults(func=run_world)
    parser.set_defaults(func=_usage(parser))


def _usage(parser: argparse.ArgumentParser) -> Any:
    def run(args: argparse.Namespace) -> int:
        parser.print_help()
        return 2

    return run


def run_world(args: argparse.Namespace) -> int:
    from inference.catalog import CATALOG_FILE, Catalog
    from inference.errors import BadInputError
    from inference.storage import resolve_data_dir
    from training import world_eval

    answer = world_eval.load_answer_key(args.answers)
    data_dir = resolve_data_dir(args.data_dir)
    if not (data_dir / CATALOG_FILE).exists():
        raise BadInputError(f"no catalog in {data_dir}; ingest the world's manifest.csv first")
    with Catalog(data_dir) as catalog:
        found = world_eval.found_garments(catalog.garments())
        if not found:
            raise BadInputError(f"the catalog in {data_dir} has no garments to score")
        predicted = world_eval.catalog_styles(catalog)
    search, queries = None, []
    if not args.no_search and any(v.held_out for v in answer.videos):
        search = _searcher(data_dir)
        if search is not None:
            queries = world_eval.search_queries(answer, per_video=args.queries_per_video)
    report = world_eval.evaluate(answer, found, predicted=predicted or None, search=search, queries=queries)
    if args.json:
        print_json(report.to_dict())
    else:
        print_table(["metric", "value"], _rows(report))
    return 0


def _searcher(data_dir: Any) -> Any:
    """``image -> garment ids`` over the data dir's live index, or None when there is none."""
    import logging

    from inference.errors import StylescopeError

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
