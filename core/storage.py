"""The data directory: one folder holds a whole deployment, and atomic file writes into it.

Layout::

    DATA_DIR/
      catalog.sqlite        creators, videos, frames, garments (SQLite, WAL)
      crops/<video_id>/     garment crop thumbnails (JPEG)
      embeddings/           per-encoder garment embeddings (float16 .npy + ids)
      index/                FAISS index versions, CURRENT points at the live one
      models/               encoder versions trained here
      backups/              copies of what `stylescope check --repair` replaced

Writes are atomic (a temporary file renamed into place); temporary files and staging folders
name the process that writes them, so the leftovers of a killed run can be told from work in
progress and removed by the next run (:func:`remove_leftovers`).
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import logging
import os
import shutil
import sqlite3
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from core.errors import DataDirError
from core.process import owner_alive, owner_token, pid_alive

logger = logging.getLogger(__name__)

ENV_VAR = "STYLESCOPE_DATA_DIR"
TMP_SUFFIX = ".tmp"  # atomic writes' temporary files: ".<name>.<pid>.<random>.tmp"
STAGING_PREFIXES = (".building-", ".new-version-")  # folders a version is written in, then renamed
OWNER_FILE = ".owner"  # a staging folder's owner token (core/process.py)
LEFTOVER_AGE_S = 3600.0  # a leftover that names no process is removed once this old


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


def _process_umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


_UMASK = _process_umask()  # read once: os.umask can only be read by setting it


def share_files_with_group() -> None:
    """From now on, files and folders this process creates are readable by the owner's group
    and not by others (umask 027)."""
    global _UMASK
    _UMASK = 0o027
    os.umask(_UMASK)


def new_file_mode() -> int:
    """The permission bits a plain ``open(path, "w")`` would give a new file (0o666 less the
    umask); files created through ``mkstemp`` (0o600) are set to it."""
    return 0o666 & ~_UMASK


def new_dir_mode() -> int:
    """The permission bits ``mkdir`` gives a new folder (0o777 less the umask)."""
    return 0o777 & ~_UMASK


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
    os.chmod(tmp, new_file_mode())  # as if written in place: readable as the umask allows
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


STORAGE_ERRORS: tuple[type[Exception], ...] = (OSError, sqlite3.Error)
"""What a full disk, a read-only file system, or a locked or damaged catalog raises."""

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


# -- leftovers of killed runs --------------------------------------------------------------
def mark_staging(folder: Path) -> None:
    """Write this process's owner token into a new staging folder, so that a later run can
    tell a folder being written from one a killed run left behind."""
    (folder / OWNER_FILE).write_text(owner_token(), encoding="utf-8")


def unmark_staging(folder: Path) -> None:
    """Remove the owner token before the staging folder is renamed into place."""
    with contextlib.suppress(FileNotFoundError):
        (folder / OWNER_FILE).unlink()


def _age_s(path: Path) -> float:
    try:
        return time.time() - path.lstat().st_mtime
    except OSError:
        return 0.0


def _abandoned(path: Path) -> bool:
    """Whether a staging folder or temp file was left by a process that is gone."""
    if path.is_dir():
        try:
            token: str | None = (path / OWNER_FILE).read_text(encoding="utf-8").strip()
        except OSError:
            token = None
        if token:
            return not owner_alive(token, _age_s(path))
        return _age_s(path) > LEFTOVER_AGE_S
    parts = path.name.removesuffix(TMP_SUFFIX).rsplit(".", 2)
    if len(parts) == 3 and parts[1].isdigit():
        return not pid_alive(int(parts[1]))
    return _age_s(path) > LEFTOVER_AGE_S


def _is_leftover_name(path: Path) -> bool:
    name = path.name
    if name.startswith(STAGING_PREFIXES):
        return path.is_dir()
    return name.startswith(".") and name.endswith(TMP_SUFFIX) and path.is_file()


def find_leftovers(data_dir: str | os.PathLike[str], deep: bool = False) -> list[Path]:
    """Staging folders and temp files that killed runs left in a data directory.

    Looks in the data directory, ``index/``, ``models/`` and ``proxies/`` and one level below them;
    ``deep`` looks everywhere (every crop folder too: slower on a large catalog).
    """
    root = Path(data_dir)
    if deep:
        candidates = [
            p for p in root.rglob(".*")
            if not any(part.startswith(STAGING_PREFIXES) for part in p.relative_to(root).parts[:-1])
        ]
    else:
        folders = [root] + [root / sub for sub in ("index", "models", "proxies") if (root / sub).is_dir()]
        folders += [
            child for folder in folders[1:] for child in folder.iterdir()
            if child.is_dir() and not child.name.startswith(STAGING_PREFIXES)
        ]
        candidates = [p for folder in folders for p in folder.iterdir()]
    return sorted(p for p in candidates if _is_leftover_name(p) and _abandoned(p))


def remove_leftovers(data_dir: str | os.PathLike[str], deep: bool = False) -> list[Path]:
    """Remove what :func:`find_leftovers` finds (what every writer does when it starts);
    returns what was removed."""
    removed = []
    for path in find_leftovers(data_dir, deep):
        try:
            if path.is_dir():
                shutil.rmtree(path)
            else:
                path.unlink()
        except OSError:
            continue
        removed.append(path)
    if removed:
        names = ", ".join(str(p.relative_to(data_dir)) for p in removed[:5])
        more = f" and {len(removed) - 5} more" if len(removed) > 5 else ""
        logger.info("removed %d leftovers of killed runs: %s%s", len(removed), names, more)
    return removed
