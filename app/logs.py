"""One logging set-up, called at the CLI entry point; log lines don't break tqdm bars."""

from __future__ import annotations

import logging
import sys

from tqdm import tqdm


class TqdmHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes records through ``tqdm.write`` so progress bars stay intact."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            tqdm.write(self.format(record), file=sys.stderr)
        except Exception:  # pragma: no cover - logging must never raise
            self.handleError(record)


def setup_logging(verbosity: int = 0, quiet: bool = False) -> None:
    """Configure the root logger once: WARNING when quiet, INFO by default, DEBUG with -v."""
    level = logging.WARNING if quiet else (logging.DEBUG if verbosity > 0 else logging.INFO)
    handler = TqdmHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s", "%H:%M:%S"))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    for noisy in ("httpx", "urllib3", "matplotlib", "PIL", "h5py", "filelock", "faiss.loader"):
        logging.getLogger(noisy).setLevel(logging.WARNING)

