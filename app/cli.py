"""The ``stylescope`` command line: thin commands that orchestrate the stage modules.

Exit codes: 0 done, 1 done with some items failed (reported), 2 nothing could be done or
bad usage.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence

from app.logs import report_only_stdout, setup_logging
from configs import ConfigError
from core.errors import StylescopeError
from core.process import passive_openmp_waits
from core.storage import STORAGE_ERRORS, storage_fault

logger = logging.getLogger("stylescope")

# Command modules, in the order their commands appear in --help.
COMMAND_MODULES = (
    "app.commands.ingest",
    "app.commands.search",
    "app.commands.trends",
    "app.commands.creators",
    "app.commands.index",
    "app.commands.interchange",
    "app.commands.check",
    "app.commands.train",
    "app.commands.world",
    "app.commands.evaluate",
    "app.commands.serve",
    "app.commands.demo",
)

EXIT_OK, EXIT_PARTIAL, EXIT_FAILED = 0, 1, 2


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="stylescope",
        description="Find fashion trends in outfit videos and the creators who start them.",
    )
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more logging")
    parser.add_argument("-q", "--quiet", action="store_true", help="warnings and errors only")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; returns the exit code (tests call this directly)."""
    passive_openmp_waits()  # before any command imports torch or FAISS
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse already printed the usage error
        return EXIT_OK if exc.code in (0, None) else EXIT_FAILED
    if not getattr(args, "func", None):
        parser.print_help()
        return EXIT_FAILED
    setup_logging(args.verbose, quiet=args.quiet or getattr(args, "json", False))
    try:
        with report_only_stdout():
            return int(args.func(args))
    except (StylescopeError, ConfigError) as exc:
        print(f"stylescope {args.command}: error: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except STORAGE_ERRORS as exc:  # the disk or the catalog gave out: say so, no traceback
        logger.debug("storage fault", exc_info=True)
        print(f"stylescope {args.command}: error: {storage_fault(exc)}", file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:
        print(f"stylescope {args.command}: interrupted", file=sys.stderr)
        return 130


def entry_point() -> None:
    sys.exit(main())


if __name__ == "__main__":
    entry_point()
