"""One logging set-up, called at the CLI entry point; log lines don't break tqdm bars.

At the default level the output is stylescope's own: INFO from its packages, and only
warnings and errors from libraries (FAISS's loader lines, open_clip's config messages,
HTTP clients ...). Python warnings raised inside libraries (deprecations, pickle-protocol
notes) are routed through logging and shown only with ``-v``; ``-q`` keeps warnings and
errors only.
"""

from __future__ import annotations

import logging
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, TextIO

from tqdm import tqdm

OWN_PACKAGES = frozenset({"stylescope", "app", "core", "configs", "models", "inference", "world", "training"})


class TqdmHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes records through ``tqdm.write`` so progress bars stay intact."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            tqdm.write(self.format(record), file=sys.stderr)
        except Exception:  # pragma: no cover - logging must never raise
            self.handleError(record)


class OwnInfoOnly(logging.Filter):
    """Passes INFO and below only from stylescope's own loggers; warnings from anyone."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno >= logging.WARNING or record.name.partition(".")[0] in OWN_PACKAGES


def setup_logging(verbosity: int = 0, quiet: bool = False) -> None:
    """Configure the root logger once: WARNING when quiet, INFO by default, DEBUG with -v
    (the only level at which libraries' INFO lines and Python warnings show)."""
    level = logging.WARNING if quiet else (logging.DEBUG if verbosity > 0 else logging.INFO)
    handler = TqdmHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s", "%H:%M:%S"))
    if verbosity <= 0:
        handler.addFilter(OwnInfoOnly())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    logging.captureWarnings(True)
    logging.getLogger("py.warnings").setLevel(logging.WARNING if verbosity > 0 else logging.ERROR)
    for noisy in ("httpx", "urllib3", "matplotlib", "PIL", "h5py", "filelock", "faiss.loader"):
        logging.getLogger(noisy).setLevel(logging.DEBUG if verbosity > 1 else logging.WARNING)


class ReportStdout:
    """Standard output that carries only what one thread writes (the command's, which prints
    the report and ``--json``). Lines that library threads print there go to stderr instead,
    such as the raylet notices that Ray's driver prints from a background thread whatever
    ``log_to_driver`` says, which would otherwise land in the middle of a JSON payload."""

    def __init__(self, report: TextIO, other: TextIO, thread: int) -> None:
        self._report, self._other, self._thread = report, other, thread

    def write(self, text: str) -> int:
        return (self._report if threading.get_ident() == self._thread else self._other).write(text)

    def writelines(self, lines: Any) -> None:
        for line in lines:
            self.write(line)

    def flush(self) -> None:
        self._report.flush()
        self._other.flush()

    def __getattr__(self, name: str) -> Any:  # encoding, isatty, fileno ... of the real stdout
        return getattr(self._report, name)


@contextmanager
def report_only_stdout() -> Iterator[None]:
    """While a command runs, stdout is the calling thread's alone (see ``ReportStdout``); the
    stream in place before is put back after, also when the command raises."""
    report = sys.stdout
    sys.stdout = ReportStdout(report, sys.stderr, threading.get_ident())  # type: ignore[assignment]
    try:
        yield
    finally:
        sys.stdout = report
