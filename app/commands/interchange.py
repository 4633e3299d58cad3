"""``stylescope import`` / ``export``: Parquet tables of a cluster run <-> a local deployment."""

from __future__ import annotations

import argparse

from app.commands import ENCODER_HELP, add_common, open_data_dir, print_json


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = subparsers.add_parser(
        "import",
        help="load Parquet tables (stylescope ingest --backend ray) into a data directory",
        description="Catalog the videos, frames and garments of Parquet tables written by "
        "`stylescope ingest --backend ray`, write their crops and index their embeddings, so "
        "search and trends work on them. Videos already in the catalog are skipped.",
    )
    parser.add_argument("tables", help="the --out folder of the Ray ingest")
    parser.add_argument("--encoder", default=None, help=ENCODER_HELP + " (whose embeddings to load)")
    add_common(parser)
    parser.set_defaults(func=run)
    exporter = subparsers.add_parser(
        "export",
        help="write a data directory as Parquet tables (what --backend ray writes)",
        description="Write the catalog's videos, frames and garments (with their crops) and the live "
        "index's embeddings as Parquet tables partitioned by posting month, with ids any writer shares.",
    )
    exporter.add_argument("--parquet", required=True, help="a new folder for the tables")
    exporter.add_argument("--encoder", default=None, help="the encoder that built the live index (names its table)")
    add_common(exporter)
    exporter.set_defaults(func=run_export)


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from core.errors import BadInputError
    from inference.encoders import encoder_spec, resolve_encoder
    from inference.index import IndexConfig
    from inference.scale.interchange import import_tables

    if not Path(args.tables).is_dir():
        raise BadInputError(f"{args.tables}: not a folder of Parquet tables")
    data_dir = open_data_dir(args.data_dir)
    spec = encoder_spec(args.encoder, None)
    info = resolve_encoder(spec, None).describe()
    report = import_tables(args.tables, data_dir, info, spec, IndexConfig.load(args.config))
    if args.json:
        print_json({"data_dir": str(data_dir), **vars(report)})
    else:
        print(f"{report.imported} videos imported ({report.garments} garments), {report.failed} failed "
              f"recorded, {report.skipped} already in: {data_dir}")
    return 0


def run_export(args: argparse.Namespace) -> int:
    from inference.encoders import encoder_spec
    from inference.scale.interchange import export_tables

    data_dir = open_data_dir(args.data_dir, create=False, write=False)
    counts = export_tables(data_dir, args.parquet, encoder_spec(args.encoder, data_dir))
    if args.json:
        print_json({"out": args.parquet, "rows": counts})
    else:
        print(", ".join(f"{n} {table}" for table, n in counts.items()) + f" rows written to {args.parquet}")
    return 0
