"""``stylescope check``: the data directory's integrity (catalog, crops, index, leftovers), and
``--repair`` for what can be repaired."""

from __future__ import annotations

import argparse
import dataclasses

from app.commands import ENCODER_HELP, add_common, print_json, print_table


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = subparsers.add_parser(
        "check",
        help="check the catalog, crops and index; --repair fixes what it can",
        description="Check the catalog (SQLite integrity), videos left half-done, the index "
        "against the catalog, crop files and leftovers of killed runs. With --repair, fix what can "
        "be fixed, keeping a copy of what is replaced in DATA_DIR/backups/. Exit 0 when all is "
        "well (or repaired), 1 when problems remain.",
    )
    parser.add_argument("--repair", action="store_true", help="fix what can be fixed")
    parser.add_argument("--encoder", default=None, help=ENCODER_HELP + "; used to re-embed missing garments")
    add_common(parser)
    parser.set_defaults(func=run)


def _repair(finding) -> str:  # type: ignore[no-untyped-def]
    if finding.repaired:
        return finding.repaired
    return f"not repaired: {finding.hint}" if finding.hint else "not repaired"


def run(args: argparse.Namespace) -> int:
    from core.storage import resolve_data_dir
    from inference.check import check
    from inference.index import IndexConfig

    data_dir = resolve_data_dir(args.data_dir)

    def embedder():  # type: ignore[no-untyped-def]
        from inference.embed import CropEmbedder
        from inference.encoders import resolve_encoder

        return CropEmbedder(resolve_encoder(args.encoder, data_dir))

    from inference.ingest import IngestConfig

    proxy_side = IngestConfig.load(args.config).proxy_short_side
    report = check(data_dir, args.repair, embedder, IndexConfig.load(args.config), proxy_side)
    if args.json:
        print_json({
            "data_dir": report.data_dir,
            "counts": report.counts,
            "findings": [dataclasses.asdict(f) | {"open": f.open} for f in report.findings],
            "clean": report.clean,
        })
        return report.exit_code
    if report.counts:
        print("  ".join(f"{k.replace('_', ' ')}: {v}" for k, v in report.counts.items()))
    if report.findings:
        print_table(["area", "problem", "repair"], [[f.area, f.problem, _repair(f)] for f in report.findings])
    print(f"{data_dir}: " + ("all well" if not report.findings else "repaired" if report.clean
                             else f"{sum(f.open for f in report.findings)} problems remain"))
    return report.exit_code
