"""``stylescope search``: garments by image, text or both, with filters."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from app.commands import ENCODER_HELP, add_common, open_data_dir, print_json, print_table

if TYPE_CHECKING:
    from inference.search import SearchResult


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = subparsers.add_parser(
        "search",
        help="find garments by image, text or both",
        description="Search the garment index by an image (a garment is cut out first when it "
        "shows a person), a text, or both ('this, but in denim'). Filters apply inside the search. "
        "Each result's match is strong (almost always what was asked for), fair (related) or weak "
        "(not it; the closest the catalog has), by cut-offs recorded with the encoder; when even "
        "the best result is weak, the search says there is no close match in the catalog. "
        "'shared words' are the words of --text that the result's style name has.",
    )
    parser.add_argument("--image", help="query image file")
    parser.add_argument("--text", help="query text, e.g. 'red plaid mini skirt'")
    parser.add_argument(
        "--k", type=int, default=None, help="number of results (default from config: 10)"
    )
    parser.add_argument(
        "--from", dest="date_from", help="posted on or after this date (YYYY-MM-DD)"
    )
    parser.add_argument("--to", dest="date_to", help="posted on or before this date (YYYY-MM-DD)")
    parser.add_argument(
        "--creator", action="append", default=[], help="creator handle (repeatable)"
    )
    parser.add_argument(
        "--tier",
        action="append",
        default=[],
        help="follower tier: nano, micro, mid/macro, mega (repeatable)",
    )
    parser.add_argument(
        "--kind", action="append", default=[], help="garment kind: top, bottom, full (repeatable)"
    )
    parser.add_argument("--style", action="append", default=[], help="style id (repeatable)")
    parser.add_argument(
        "--by-creator", action="store_true", help="group results by creator ('who wears this?')"
    )
    parser.add_argument(
        "--no-dedupe", action="store_true", help="keep near-identical frames of one video"
    )
    parser.add_argument(
        "--include-set-aside", action="store_true",
        help="also search crops set aside as no garment (walls, title cards, blurs), each with the reason",
    )
    parser.add_argument(
        "--encoder", default=None, help=ENCODER_HELP
    )
    parser.add_argument(
        "--threads", type=int, default=None,
        help="CPU threads for this query's encoder and FAISS search (default from config: 1; "
        "0: the libraries' default, one per core)",
    )
    parser.add_argument(
        "--shards", default=None,
        help="serve the sharded index in this folder (`stylescope index build --backend ray --out`) "
        "instead of the live index; metadata still comes from the catalog",
    )
    add_common(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    # Everything the user typed is checked before the index, the catalog or a model loads.
    from core.errors import BadInputError
    from inference.images import load_image
    from inference.search import SearchFilters

    if args.image is None and args.text is None:
        raise BadInputError("give --image FILE, --text TEXT, or both")
    if args.k is not None and args.k < 1:
        raise BadInputError(f"k must be at least 1, got {args.k}")
    if args.threads is not None and args.threads < 0:
        raise BadInputError(f"--threads must be >= 0, got {args.threads}")
    if args.text is not None and not args.text.strip():
        raise BadInputError("the text query is empty")
    filters = SearchFilters.build(
        args.date_from, args.date_to, args.creator, args.tier, args.kind, args.style,
        date_labels={"from": "--from date", "to": "--to date"}, set_aside=args.include_set_aside,
    )
    image = load_image(args.image) if args.image is not None else None
    data_dir = open_data_dir(args.data_dir, create=False, write=False)

    from inference.index import IndexConfig
    from inference.search import SearchConfig, Searcher
    from models.base import torch_threads

    config = SearchConfig.load(args.config)
    if args.threads is not None:
        config.query_threads = args.threads
    # The encoder loads after the index is found (no index: an error without loading it).
    searcher = Searcher(data_dir, args.encoder, config, IndexConfig.load(args.config), args.shards)
    try:
        with torch_threads(config.query_threads):
            result = searcher.search(
                image, args.text, args.k, filters, args.by_creator, not args.no_dedupe
            )
    finally:
        searcher.close()
    if args.json:
        print_json(result.to_dict())
        return 0
    if result.notice:
        print(result.notice)
    if result.groups is not None:
        _print_groups(result)
    else:
        _print_hits(result)
    return 0


def _print_hits(result: SearchResult) -> None:
    if not result.hits:
        print(
            "no garments match"
            + (f" ({result.matched} pass the filters)" if result.matched is not None else "")
        )
        return
    rows = [
        [
            n,
            f"{h.score:.3f}",
            h.strength or "-",
            "@" + h.creator,
            h.tier,
            h.followers,
            h.video_id,
            f"{h.t_s:.1f}s",
            h.posted_at,
            h.kind,
            h.style or (f"set aside: {h.set_aside}" if h.set_aside else "-"),
            ", ".join(h.shared_words) or "-",
            h.crop_path,
        ]
        for n, h in enumerate(result.hits, 1)
    ]
    print_table(
        [
            "#",
            "score",
            "match",
            "creator",
            "tier",
            "followers",
            "video",
            "at",
            "posted",
            "kind",
            "style",
            "shared words",
            "crop",
        ],
        rows,
    )


def _print_groups(result: SearchResult) -> None:
    if not result.groups:
        print("no garments match")
        return
    rows = [
        [
            n,
            "@" + g.creator,
            g.tier,
            g.followers,
            f"{g.best_score:.3f}",
            g.hits[0].strength or "-",
            len(g.hits),
            ", ".join(sorted({str(h.video_id) for h in g.hits})),
            g.hits[0].crop_path,
        ]
        for n, g in enumerate(result.groups, 1)
    ]
    print_table(
        ["#", "creator", "tier", "followers", "best", "match", "garments", "videos", "best crop"], rows
    )
