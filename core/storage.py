"""The data directory: one folder holds a whole deployment, and atomic file writes into it.

Layout::

    DATA_DIR/
      catalog.sqlite        creators, videos, frames, garments (SQLite, WAL)
      crops/<video_id>/     garment crop thumbnails (JPEG)
      embeddings/           per-encoder garment embeddings (float16 .npy + ids)
      index/                FAISS index versions, CURRENT points at the live one
      models/               encoder versions trained here
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import shutil
import sqlite3
import tempfile
from collections.abc import Iterator
from pathlib import Path

ENV_VAR = "STYLESCOPE_DATA_DIR"
TMP_SUFFIX = ".tmp"  # atomic writes' temporary files: ".<name>.<pid>.<random>.tmp"


def default_data_dir() -> Path:
    """``$STYLESCOPE_DATA_DIR`` or the user's data directory."""
    env = os.environ.get(ENV_VAR)
    if env:
        return Path(env).expanduser()
    import platformdirs

    return Path(platformdirs.user_data_dir("stylescope"))


def resolve_data_dir(path: str | os.PathLike[str] | None) -> Path:
    """The data directory to use, created if needed."""
    data_dir = Path(path).expanduser() if path else default_data_dir()
    data_dir.mkdir(parents=True, exist_ok=True)
    return data_dir


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it over ``path`` only on success."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(
        prefix=f".{target.name}.{os.getpid()}.", suffix=TMP_SUFFIX, dir=target.parent
    )
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        os.replace(tmp, target)
    finally:
        if tmp.exists():
            tmp.unlink()


def atomic_write_bytes(path: str | os.PathLike[str], payload: bytes, fsync: bool = True) -> None:
    """Write ``payload`` to ``path`` so readers see the old file or the new one, never half.

    ``fsync=False`` still survives a killed process (the page cache keeps the bytes), just
    not a power cut; use it for files the catalog can regenerate.
    """
    with atomic_path(path) as tmp, open(tmp, "wb") as handle:
        handle.write(payload)
        if fsync:
            handle.flush()
            os.fsync(handle.fileno())


def sha256_file(path: str | os.PathLike[str], chunk: int = 1 << 20) -> str:
    """SHA-256 of a file's bytes, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def atomic_write_text(path: str | os.PathLike[str], text: str) -> None:
    """Text flavour of :func:`atomic_write_bytes` (UTF-8)."""
    atomic_write_bytes(path, text.encode("utf-8"))


_OS_FAULTS = {
    errno.ENOSPC: "disk full",
    errno.EDQUOT: "disk quota exceeded",
    errno.EROFS: "read-only file system",
    errno.EACCES: "permission denied",
    errno.EPERM: "permission denied",
    errno.EIO: "input/output error",
}
_SQLITE_FAULTS = (
    ("disk is full", "disk full (the catalog could not grow)"),
    ("readonly", "the catalog is read-only"),
    ("read-only", "the catalog is read-only"),
    ("locked", "the catalog is locked by another process (waited too long)"),
    ("busy", "the catalog is locked by another process (waited too long)"),
    ("malformed", "the catalog is damaged: run `stylescope check`"),
    ("not a database", "the catalog is damaged: run `stylescope check`"),
    ("unable to open", "the catalog cannot be opened"),
    ("disk i/o", "input/output error writing the catalog"),
)


def storage_fault(exc: BaseException) -> str | None:
    """What went wrong with the data directory's storage, in words, or None when ``exc`` is
    neither an ``OSError`` nor a ``sqlite3.Error`` (a full disk, a read-only, locked or
    damaged catalog...)."""
    if isinstance(exc, sqlite3.Error):
        text = str(exc).lower()
        for needle, message in _SQLITE_FAULTS:
            if needle in text:
                return f"{message} ({exc})"
        return f"catalog error: {exc}"
    if isinstance(exc, OSError):
        what = _OS_FAULTS.get(exc.errno or 0) or exc.strerror or str(exc)
        where = f": {exc.filename}" if exc.filename else ""
        return f"{what}{where}"
    return None


def free_mb(path: str | os.PathLike[str]) -> float:
    """Free space of the file system holding ``path``, in MB (10^6 bytes)."""
    return shutil.disk_usage(path).free / 1e6
