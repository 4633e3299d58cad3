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
import hashlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

from core.errors import DataDirError

ENV_VAR = "STYLESCOPE_DATA_DIR"


def default_data_dir() -> Path:
    """``$STYLESCOPE_DATA_DIR`` or the user's data directory."""
    env = os.environ.get(ENV_VAR)
    if env:
        return Path(env).expanduser()
    import platformdirs

    return Path(platformdirs.user_data_dir("stylescope"))


def resolve_data_dir(path: str | os.PathLike[str] | None, *, create: bool = True, write: bool = True) -> Path:
    """The data directory to use, checked.

    Args:
        path: the folder (``--data-dir``); None: :func:`default_data_dir`.
        create: make the folder when it is missing. Commands that work on an existing
            deployment (search, trends, creators, index) pass False: a typo is then an error,
            not an empty new deployment and an empty result.
        write: the command writes to the folder, so it must be writable.

    Raises:
        DataDirError: the path is a file, is missing (``create=False``) or cannot be created,
            or cannot be read (or written, with ``write``).
    """
    data_dir = Path(path).expanduser() if path else default_data_dir()
    where = f"data dir {data_dir}" + ("" if path else f" (from ${ENV_VAR} or the default)")
    if data_dir.exists() and not data_dir.is_dir():
        raise DataDirError(f"{where} is a file, not a folder: pass --data-dir a folder")
    if not data_dir.exists():
        if not create:
            raise DataDirError(f"{where} does not exist: check --data-dir, or create a deployment "
                               "with `stylescope ingest` or `stylescope demo`")
        try:
            data_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise DataDirError(f"cannot create {where}: {exc.strerror or exc}") from None
    if not os.access(data_dir, os.R_OK | os.X_OK):
        raise DataDirError(f"{where} is not readable (permission denied)")
    if write and not os.access(data_dir, os.W_OK):
        raise DataDirError(f"{where} is not writable (permission denied): this command writes to it")
    return data_dir


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it over ``path`` only on success."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
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
