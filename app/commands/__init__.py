"""CLI subcommands. Each module has ``register(subparsers)`` adding its commands.

Command modules must import cheaply (no torch, faiss or gradio at import time): the
heavy work lives in the stage modules and is imported inside ``run``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

ENCODER_HELP = (
    "encoder spec (default: the current model version's, else the live index's, else stylescope-default)"
)


def add_common(parser: argparse.ArgumentParser, *, config: bool = True, as_json: bool = True) -> None:
    """Options every command shares: --data-dir, and --config / --json where they apply."""
    parser.add_argument(
        "--data-dir",
        default=None,
        help="deployment directory (catalog, crops, index, models); "
        "default $STYLESCOPE_DATA_DIR or the user data directory",
    )
    # Also accepted after the command; SUPPRESS keeps the main parser's value when absent.
    parser.add_argument("-v", "--verbose", action="count", default=argparse.SUPPRESS, help="more logging")
    parser.add_argument("-q", "--quiet", action="store_true", default=argparse.SUPPRESS, help="warnings and errors only")
    if config:
        parser.add_argument("--config", default=None, help="YAML file overriding the packaged defaults")
    if as_json:
        parser.add_argument("--json", action="store_true", help="print machine-readable JSON")


def open_data_dir(path: str | None, *, create: bool = True, write: bool = True) -> Path:
    """The command's data directory, checked before any model loads: a folder, present (or
    created, with ``create``), readable (and writable, with ``write``), and not written by a
    newer stylescope. See :func:`core.storage.resolve_data_dir`."""
    from core.storage import resolve_data_dir
    from inference.catalog import check_schema

    data_dir = resolve_data_dir(path, create=create, write=write)
    check_schema(data_dir)
    return data_dir


def print_json(payload: Any) -> None:
    """Write one JSON document to stdout."""
    json.dump(payload, sys.stdout, indent=2, default=str)
    sys.stdout.write("\n")


def print_table(headers: list[str], rows: list[list[Any]]) -> None:
    """A plain aligned text table on stdout; a cell with line breaks (a wrapped style name) takes
    as many lines, the row's other cells blank below their first line."""
    cells = [[str(h) for h in headers]] + [[str(c) for c in row] for row in rows]
    widths = [max(len(line) for row in cells for line in row[i].split("\n")) for i in range(len(headers))]
    for n, row in enumerate(cells):
        parts = [cell.split("\n") for cell in row]
        for k in range(max(len(p) for p in parts)):
            line = (p[k] if k < len(p) else "" for p in parts)
            print("  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip())
        if n == 0:
            print("  ".join("-" * width for width in widths))
