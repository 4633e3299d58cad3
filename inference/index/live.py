"""The live index of a data directory: the version ``CURRENT`` names, kept up to date with
the disk, and the plain reads of it (its embeddings, its encoder)."""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from inference.index.config import IndexConfig
from inference.index.faiss_index import Selection
from inference.index.files import (
    META_FILE,
    GarmentIndexError,
    NoIndexError,
    index_root,
    read_current,
    read_meta,
    verify_files,
    writer_lock,
)
from inference.index.store import load_store
from inference.index.version import IndexVersion, activate_version, check_encoder, write_version

logger = logging.getLogger(__name__)


class GarmentIndex:
    """The live index version of a data directory, kept up to date with the disk.

    Every ``reload_check_s`` it looks whether the live version was switched (a rebuild) or
    appended to (another process's ingest) and catches up; searches in flight keep the
    version they started with.
    """

    def __init__(
        self,
        data_dir: str | Path,
        config: IndexConfig | None = None,
        encoder_info: dict[str, Any] | None = None,
    ):
        self.data_dir = Path(data_dir)
        self.config = config or IndexConfig.load()
        self.encoder_info = encoder_info
        self._version: IndexVersion | None = None
        self._signature: tuple[Any, ...] | None = None
        self._checked_at = -math.inf
        self._lock = threading.Lock()

    def _disk_signature(self) -> tuple[Any, ...] | None:
        name = read_current(self.data_dir)
        if name is None:
            return None
        try:
            stat = (index_root(self.data_dir) / name / META_FILE).stat()
        except FileNotFoundError:
            return (name, None)
        return (name, stat.st_ino, stat.st_mtime_ns, stat.st_size)

    def version(self) -> IndexVersion:
        """The live version, reloaded or caught up if it changed on disk."""
        now = time.monotonic()
        if self._version is not None and now - self._checked_at < self.config.reload_check_s:
            return self._version
        with self._lock:
            self._checked_at = time.monotonic()
            signature = self._disk_signature()
            if self._version is not None and signature == self._signature:
                return self._version
            self._refresh(signature)
            assert self._version is not None
            return self._version

    def _refresh(self, signature: tuple[Any, ...] | None) -> None:
        if signature is None:
            raise NoIndexError(
                f"there is no index in {self.data_dir} yet: ingest videos (`stylescope ingest`) "
                "or build one from the catalog with `stylescope index rebuild`"
            )
        name = signature[0]
        current = self._version
        if current is not None and current.name == name and current.reload_if_changed():
            self._signature = signature
            return
        version = IndexVersion.load(index_root(self.data_dir) / name, self.config)
        if self.encoder_info is not None:
            check_encoder(version.meta, self.encoder_info)
        self._version, self._signature = version, signature

    def search(
        self, queries: np.ndarray, k: int, selection: Selection | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """See :meth:`IndexVersion.search`."""
        return self.version().search(queries, k, selection)

    def add(self, ids: Sequence[int] | np.ndarray, vectors: np.ndarray) -> int:
        """Add garments to the live version and persist them; returns how many were new."""
        with writer_lock(self.data_dir), self._lock:
            self._checked_at = -math.inf
            self._refresh(self._disk_signature())
            version = self._version
            assert version is not None
            added = version.add(np.asarray(ids, np.int64), vectors)
            if len(added):
                version.persist()
                self._signature = self._disk_signature()
                if (
                    self.config.auto_upgrade
                    and version.exact
                    and len(version) >= self.config.approx_threshold
                ):
                    self._upgrade(version)
            return len(added)

    def _upgrade(self, version: IndexVersion) -> None:
        logger.info("index holds %d garments: rebuilding it as an approximate index", len(version))
        upgraded = write_version(
            self.data_dir,
            version.store.ids.copy(),
            version.store.vectors,
            version.encoder_info,
            self.config,
        )
        activate_version(self.data_dir, upgraded.name, self.config.keep_versions)
        self._version, self._signature = upgraded, self._disk_signature()

    def remove(self, ids: Sequence[int] | np.ndarray) -> int:
        """Remove garments from the live version and persist; returns how many were indexed."""
        with writer_lock(self.data_dir), self._lock:
            self._checked_at = -math.inf
            self._refresh(self._disk_signature())
            version = self._version
            assert version is not None
            removed = version.remove(np.asarray(ids, np.int64))
            if removed:
                version.persist(rewrite_store=True)
                self._signature = self._disk_signature()
            return removed


def load_live(data_dir: str | Path, config: IndexConfig) -> IndexVersion:
    name = read_current(data_dir)
    if name is None:
        raise NoIndexError(f"there is no index in {data_dir} yet: run `stylescope index rebuild`")
    return IndexVersion.load(index_root(data_dir) / name, config)


def ensure_live_version(data_dir: str | Path, encoder_info: dict[str, Any], config: IndexConfig) -> None:
    """Create and activate an empty (exact) version for ``encoder_info`` when the data
    directory has no live one yet: the first ingest starts the index."""
    with writer_lock(data_dir):
        if read_current(data_dir) is None:
            empty = write_version(
                data_dir,
                np.zeros(0, np.int64),
                np.zeros((0, int(encoder_info["dim"])), np.float32),
                encoder_info,
                config,
                progress=False,
            )
            activate_version(data_dir, empty.name, announce=False)


def load_embeddings(
    data_dir: str | Path, config: IndexConfig | None = None
) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    """The live version's garment ids (int64 (N,)), embeddings (float32 (N, D)) and encoder info.

    Segment files are checked against their sha256 unless ``config`` (default: the packaged
    settings) turns ``verify_checksums`` off.
    """
    name = read_current(data_dir)
    if name is None:
        raise NoIndexError(f"there is no index in {data_dir} yet: run `stylescope index rebuild`")
    path = index_root(data_dir) / name
    meta = read_meta(path)
    names = [n for s in meta["segments"] for n in (s["ids"], s["vectors"])]
    if (config or IndexConfig.load()).verify_checksums:
        verify_files(path, meta, names)
    store = load_store(path, meta)
    return store.ids.copy(), store.vectors.astype(np.float32), dict(meta["encoder"])


def stored_embeddings(
    data_dir: str | Path, ids: np.ndarray, encoder_info: dict[str, Any], config: IndexConfig
) -> tuple[np.ndarray, np.ndarray]:
    """The live version's stored embeddings of ``ids`` (those it holds), when ``encoder_info``
    built it: what a rebuild keeps for garments whose crop is gone. Empty when there is no
    live version, another encoder built it, or its embedding files are damaged."""
    empty = np.zeros(0, np.int64), np.zeros((0, int(encoder_info["dim"])), np.float32)
    name = read_current(data_dir)
    if name is None or not len(ids):
        return empty
    path = index_root(data_dir) / name
    try:
        meta = read_meta(path)
        check_encoder(meta, encoder_info)
        if config.verify_checksums:
            verify_files(path, meta, [n for s in meta["segments"] for n in (s["ids"], s["vectors"])])
        store = load_store(path, meta)
    except (GarmentIndexError, OSError) as exc:
        logger.info("no stored embeddings to reuse from index version %s: %s", name, exc)
        return empty
    ids = np.asarray(ids, np.int64)
    rows = store.rows(ids)
    held = rows >= 0
    return ids[held], store.vectors[rows[held]].astype(np.float32)


def live_encoder_info(data_dir: str | Path) -> dict[str, Any] | None:
    """The encoder (name, version, dim) that built the live index version, or None without one.

    Raises:
        IndexCorruptError: the live version's meta.json is missing or damaged.
    """
    name = read_current(data_dir)
    return None if name is None else dict(read_meta(index_root(data_dir) / name)["encoder"])
