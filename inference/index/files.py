"""The index's files on disk: layout, atomic writes, checksums, and the locks around them."""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import os
import threading
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from filelock import FileLock

from core.errors import StylescopeError
from core.storage import atomic_path, sha256_file

INDEX_DIR = "index"
CURRENT_FILE = "CURRENT"
META_FILE = "meta.json"
LOCK_FILE = ".lock"
FORMAT = 1  # layout version of meta.json


class GarmentIndexError(StylescopeError):
    """Base of the index's user-facing errors."""


class NoIndexError(GarmentIndexError):
    """The data directory has no live index version."""


class IndexCorruptError(GarmentIndexError):
    """A file of the live index version is missing or damaged."""


class EncoderMismatchError(GarmentIndexError):
    """The index was built by another encoder (or encoder version) than the one querying it."""


def now() -> str:
    """The current UTC time as meta.json records it (ISO 8601, seconds)."""
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def index_root(data_dir: str | Path) -> Path:
    """``DATA_DIR/index``."""
    return Path(data_dir) / INDEX_DIR


def write_file(path: Path, writer: Callable[[Path], None]) -> dict[str, Any]:
    """Write ``path`` atomically with ``writer(tmp)``; returns its size and sha256."""
    with atomic_path(path) as tmp:
        writer(tmp)
        with open(tmp, "rb+") as handle:
            os.fsync(handle.fileno())
        record = {"sha256": sha256_file(tmp), "bytes": tmp.stat().st_size}
    return record


def save_npy(array: np.ndarray) -> Callable[[Path], None]:
    """A :func:`write_file` writer that saves ``array`` as .npy (no pickles)."""

    def write(tmp: Path) -> None:
        with open(tmp, "wb") as handle:
            np.save(handle, array, allow_pickle=False)

    return write


@contextlib.contextmanager
def writer_lock(data_dir: str | Path) -> Iterator[None]:
    """Hold the index's writer lock (``DATA_DIR/index/.lock``), waiting while another writer,
    in this process or another, holds it. Not re-entrant: a writer takes it once."""
    root = index_root(data_dir)
    root.mkdir(parents=True, exist_ok=True)
    with FileLock(root / LOCK_FILE):
        yield


class ReadWriteLock:
    """Many concurrent searches, or one writer changing the in-memory index."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._readers = 0
        self._writing = False
        self._reading = _Reading(self)  # a class, not a generator: every search takes it

    def read(self) -> contextlib.AbstractContextManager[None]:
        return self._reading

    @contextlib.contextmanager
    def write(self) -> Iterator[None]:
        with self._cond:
            while self._writing or self._readers:
                self._cond.wait()
            self._writing = True
        try:
            yield
        finally:
            with self._cond:
                self._writing = False
                self._cond.notify_all()


class _Reading:
    """Holding a :class:`ReadWriteLock` for reading."""

    __slots__ = ("_lock",)

    def __init__(self, lock: ReadWriteLock):
        self._lock = lock

    def __enter__(self) -> None:
        lock = self._lock
        with lock._cond:
            while lock._writing:
                lock._cond.wait()
            lock._readers += 1

    def __exit__(self, *exc: object) -> None:
        lock = self._lock
        with lock._cond:
            lock._readers -= 1
            if not lock._readers:  # only a writer waits for readers
                lock._cond.notify_all()


def read_current(data_dir: str | Path) -> str | None:
    """Name of the live version, or None when there is none."""
    path = index_root(data_dir) / CURRENT_FILE
    try:
        name = path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        return None
    return name or None


def read_meta(version_dir: Path) -> dict[str, Any]:
    """A version's meta.json, with a clear error when missing or unreadable."""
    path = version_dir / META_FILE
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise IndexCorruptError(
            f"index version {version_dir.name} has no {META_FILE}; the catalog is untouched: "
            "run `stylescope index rebuild` to rebuild the index"
        ) from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise IndexCorruptError(
            f"index version {version_dir.name}: {META_FILE} is damaged ({exc}); the catalog is "
            "untouched: run `stylescope index rebuild` to rebuild the index"
        ) from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise IndexCorruptError(
            f"index version {version_dir.name}: unknown {META_FILE} format; "
            "run `stylescope index rebuild`"
        )
    return meta


def meta_checksum(files: dict[str, Any]) -> str:
    """One sha256 over the names and sha256s of a version's files."""
    digest = hashlib.sha256()
    for name in sorted(files):
        digest.update(f"{name}:{files[name]['sha256']}\n".encode())
    return digest.hexdigest()


def verify_files(path: Path, meta: dict[str, Any], names: Sequence[str] | None = None) -> None:
    """Raise :class:`IndexCorruptError` unless the named files (default all) match their sha256."""
    for name in names if names is not None else sorted(meta["files"]):
        expected = meta["files"][name]["sha256"]
        if sha256_file(path / name) != expected:
            raise IndexCorruptError(
                f"index version {path.name}: {name} is damaged (checksum mismatch); the catalog "
                "is untouched: run `stylescope index rebuild` to rebuild the index"
            )


def delete_unnamed(path: Path, meta: dict[str, Any]) -> None:
    """Delete the files of a version directory that ``meta`` no longer names."""
    named = set(meta["files"]) | {META_FILE, "config.yaml"}
    for file in path.iterdir():
        if file.name not in named and not file.name.startswith("."):
            with contextlib.suppress(OSError):
                file.unlink()
