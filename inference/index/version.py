"""Index versions: one version loaded in memory (search, add, remove, persist), and
building, activating and pruning versions on disk."""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import secrets
import shutil
import time
from pathlib import Path
from typing import Any

import numpy as np

import configs
from core.faults import fault_point
from core.storage import atomic_write_text, mark_staging, unmark_staging
from inference.index.config import IndexConfig
from inference.index.faiss_index import (
    Selection,
    build_faiss,
    choose_factory,
    is_exact,
    pad_results,
    search_params,
)
from inference.index.files import (
    CURRENT_FILE,
    FORMAT,
    META_FILE,
    EncoderMismatchError,
    IndexCorruptError,
    NoIndexError,
    ReadWriteLock,
    delete_unnamed,
    index_root,
    meta_checksum,
    now,
    read_current,
    read_meta,
    save_npy,
    verify_files,
    write_file,
)
from inference.index.store import EmbeddingStore, check_vectors, load_store, rerank, search_subset

logger = logging.getLogger(__name__)


def _new_version_name() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S") + "-" + secrets.token_hex(3)


def check_encoder(meta: dict[str, Any], encoder_info: dict[str, Any]) -> None:
    """Raise :class:`EncoderMismatchError` unless ``encoder_info`` built this index version."""
    built = meta["encoder"]
    same = all(
        str(built.get(key)) == str(encoder_info.get(key)) for key in ("name", "version", "dim")
    )
    if not same:
        raise EncoderMismatchError(
            f"index version {meta['version']} was built by encoder {built.get('name')} "
            f"(version {built.get('version')}, dim {built.get('dim')}), but this query uses "
            f"{encoder_info.get('name')} (version {encoder_info.get('version')}, dim "
            f"{encoder_info.get('dim')}); search with the index's encoder, or re-embed with "
            f"`stylescope index rebuild --encoder {encoder_info.get('name')}`"
        )


class IndexVersion:
    """One index version loaded in memory: FAISS index, embedding store and meta.

    Searches may run concurrently from many threads; ``add`` and ``remove`` take a write
    lock, so a search sees the index before or after a change, never during.
    """

    def __init__(
        self,
        path: Path,
        meta: dict[str, Any],
        index: Any,
        store: EmbeddingStore,
        config: IndexConfig,
    ):
        self.path = path
        self.meta = meta
        self.index = index
        self.store = store
        self.config = config
        self._rw = ReadWriteLock()
        self.exact = is_exact(index)
        self._plain_params: tuple[Any, Any] | None = None

    # -- properties ---------------------------------------------------------------------------
    @property
    def name(self) -> str:
        return str(self.meta["version"])

    @property
    def dim(self) -> int:
        return int(self.meta["encoder"]["dim"])

    @property
    def encoder_info(self) -> dict[str, Any]:
        return dict(self.meta["encoder"])

    def __len__(self) -> int:
        return len(self.store)

    # -- loading --------------------------------------------------------------------------------
    @classmethod
    def load(
        cls, path: Path, config: IndexConfig | None = None, verify: bool | None = None
    ) -> IndexVersion:
        """Load a version directory, checking every file against its recorded sha256."""
        import faiss

        config = config or IndexConfig.load()
        verify = config.verify_checksums if verify is None else verify
        for attempt in range(3):  # a writer may replace files between reading meta and them
            meta = read_meta(path)
            try:
                if verify:
                    verify_files(path, meta)
                store = load_store(path, meta)
                index_bytes = np.fromfile(path / meta["index_file"], dtype=np.uint8)
                break
            except FileNotFoundError:
                if attempt == 2 or read_meta(path).get("generation") == meta.get("generation"):
                    raise IndexCorruptError(
                        f"index version {path.name} is missing files; the catalog is untouched: "
                        "run `stylescope index rebuild`"
                    ) from None
        try:
            index = faiss.deserialize_index(index_bytes)
        except RuntimeError as exc:
            raise IndexCorruptError(
                f"index version {path.name}: {meta['index_file']} cannot be read ({exc}); the "
                "catalog is untouched: run `stylescope index rebuild`"
            ) from None
        if len(store) != int(meta.get("count", len(store))):
            raise IndexCorruptError(
                f"index version {path.name}: meta.json counts {meta.get('count')} garments but its "
                f"segments hold {len(store)}; the catalog is untouched: run `stylescope index rebuild`"
            )
        covered = int(meta.get("index_rows", len(store)))
        if index.ntotal == covered < len(store) and index.d == store.dim:  # rows added since the FAISS file
            index.add_with_ids(np.ascontiguousarray(store.vectors[covered:], np.float32), store.ids[covered:])
        if index.ntotal != len(store) or index.d != int(meta["encoder"]["dim"]):
            raise IndexCorruptError(
                f"index version {path.name}: the FAISS file holds {index.ntotal} garments but "
                f"the embedding store {len(store)}; run `stylescope index rebuild`"
            )
        return cls(path, meta, index, store, config)

    # -- search ---------------------------------------------------------------------------------
    def search(
        self, queries: np.ndarray, k: int, selection: Selection | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top-``k`` garments for each query row.

        Args:
            queries: float32 (nq, dim), L2-normalised.
            k: results per query.
            selection: garment ids allowed in the results (filters); None allows all.

        Returns:
            (scores, ids), both (nq, k); ids are -1 (scores -inf) past the last result.
        """
        queries = np.ascontiguousarray(queries, dtype=np.float32).reshape(-1, self.dim)
        with self._rw.read():
            if selection is not None and len(selection) <= self.config.exact_filter_max:
                return search_subset(self.store, queries, k, selection.ids)
            scores, ids = self._search_faiss(queries, k, selection)
            if selection is not None:
                scores, ids = self._complete_filtered(queries, k, selection, scores, ids)
            return scores, ids

    def _params(self, selection: Selection | None) -> Any:
        """Search parameters; with a filter, the search breadth grows as the filter narrows,
        so about as many allowed candidates are scored as without one."""
        if selection is None:
            key = (self.config.nprobe, self.config.ef_search, len(self.store))
            cached = self._plain_params
            if cached is None or cached[0] != key:  # read-only during searches: shareable
                params = search_params(self.index, self.config, len(self.store), None, 1.0)
                cached = self._plain_params = (key, params)
            return cached[1]
        widen = max(1, len(self.store)) / max(1, len(selection))
        return search_params(self.index, self.config, len(self.store), selection.selector(), widen)

    def raw_search(
        self, queries: np.ndarray, k: int, selection: Selection | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """The plain FAISS call ``search`` makes (no re-ranking), for benchmarks."""
        return self.index.search(queries, k, params=self._params(selection))  # type: ignore[no-any-return]

    def _search_faiss(
        self, queries: np.ndarray, k: int, selection: Selection | None
    ) -> tuple[np.ndarray, np.ndarray]:
        fetch = k if self.exact else k * max(1, self.config.rerank_factor)
        scores, ids = self.raw_search(queries, min(fetch, max(len(self.store), 1)), selection)
        if self.exact:
            return pad_results(scores, ids, k)
        return rerank(self.store, queries, ids, k)

    def _complete_filtered(
        self, queries: np.ndarray, k: int, selection: Selection, scores: np.ndarray, ids: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Approximate filtered search found fewer than k: search that query exactly instead."""
        if self.exact:
            return scores, ids
        short = np.flatnonzero((ids >= 0).sum(axis=1) < k)
        if not len(short):
            return scores, ids
        available = int(self.store.contains(selection.ids).sum())
        for q in short:
            if (ids[q] >= 0).sum() < min(k, available):
                scores[q], ids[q] = (
                    a[0] for a in search_subset(self.store, queries[q : q + 1], k, selection.ids)
                )
        return scores, ids

    # -- changes --------------------------------------------------------------------------------
    def add(self, ids: np.ndarray, vectors: np.ndarray) -> np.ndarray:
        """Add garments in memory (ids already stored are skipped); returns the ids added."""
        ids, vectors = check_vectors(ids, vectors, self.dim)
        fresh = ~self.store.contains(ids)
        ids, vectors = ids[fresh], vectors[fresh]
        if len(ids):
            stored = vectors.astype(np.float16)
            with self._rw.write():
                # the float16 values, as a later load adds them from the store
                self.index.add_with_ids(stored.astype(np.float32), ids)
                self.store.append(ids, stored)
        return ids

    def remove(self, ids: np.ndarray) -> int:
        """Remove garments in memory; returns how many were indexed."""
        import faiss

        ids = np.asarray(ids, np.int64)
        ids = ids[self.store.contains(ids)]
        if not len(ids):
            return 0
        with self._rw.write():
            self.store.remove(ids)
            try:
                removed = self.index.remove_ids(faiss.IDSelectorBatch(ids))
            except RuntimeError:  # e.g. HNSW cannot remove: rebuild from the store
                removed = len(ids)
                self.index = build_faiss(
                    self.store.ids.copy(),
                    self.store.vectors,
                    self.meta["factory"],
                    self.config,
                    progress=False,
                )
                self._plain_params = None
            if removed != len(ids):
                raise IndexCorruptError(
                    f"index version {self.name}: FAISS removed {removed} of {len(ids)} garments; "
                    "run `stylescope index rebuild`"
                )
        return len(ids)

    def reload_if_changed(self) -> bool:
        """Catch up with rows another writer appended to this version on disk.

        Returns False when the change is not a pure append (the caller reloads fully).
        """
        meta = read_meta(self.path)
        if meta.get("generation") == self.meta.get("generation"):
            return True
        have = len(self.store)
        if meta.get("epoch", 0) != self.meta.get("epoch", 0) or meta["count"] < have:
            return False
        start = 0
        try:
            for segment in meta["segments"]:
                end = start + int(segment["count"])
                if end > have:  # holds rows this process has not seen (rows keep their order)
                    if self.config.verify_checksums:
                        verify_files(self.path, meta, [segment["ids"], segment["vectors"]])
                    skip = max(0, have - start)
                    ids = np.load(self.path / segment["ids"])[skip:]
                    vectors = np.load(self.path / segment["vectors"])[skip:].astype(np.float32)
                    self.add(ids, vectors)
                start = end
        except FileNotFoundError:  # the writer moved on meanwhile
            return False
        if len(self.store) != meta["count"]:
            return False
        self.meta = meta
        return True

    # -- persistence ----------------------------------------------------------------------------
    def persist(self, rewrite_store: bool = False) -> None:
        """Write the next generation: the store rows the last one does not hold as a segment
        (merged with the newest segments while they are no larger; all rows when
        ``rewrite_store``, which a removal asks for), the FAISS file when it is due, and
        meta.json; then delete files the new meta no longer names.

        Rows keep their order across generations except when ``rewrite_store`` is asked for:
        that bumps ``epoch``, which tells readers that catching up by rows is not possible.
        What is written is worked out from the last generation on disk, not from what the
        caller just added, so rows a failed write left in memory go out with the next one.
        """
        import faiss

        generation = int(self.meta.get("generation", 0)) + 1
        meta = json.loads(json.dumps(self.meta))
        files: dict[str, Any] = dict(meta.get("files", {}))
        segments = list(meta.get("segments", []))
        stored = sum(int(s["count"]) for s in segments)
        # rows the FAISS file holds (meta.json before index_rows: all rows of its last write)
        covered = int(meta.get("index_rows", meta.get("count", stored)))
        with self._rw.read():
            count = len(self.store)
            rewrite_store = rewrite_store or count < stored  # rows went away: no appending
            if rewrite_store:
                meta["epoch"] = int(meta.get("epoch", 0)) + 1
                segments, covered = ([{"count": count}] if count else []), 0
            elif count > stored:
                segments.append({"count": count - stored})
                while len(segments) >= 2 and segments[-2]["count"] <= segments[-1]["count"]:
                    merged = segments.pop()
                    segments[-1] = {"count": segments[-1]["count"] + merged["count"]}
                if len(segments) > self.config.max_segments:  # backstop: one segment, same rows
                    segments = [{"count": count}]
            if segments and "ids" not in segments[-1]:  # the one segment this write makes
                segment = segments[-1]
                segment.update(ids=f"ids-{generation:06d}.npy", vectors=f"emb-{generation:06d}.npy")
                rows = slice(count - segment["count"], count)
                files[segment["ids"]] = write_file(
                    self.path / segment["ids"], save_npy(np.asarray(self.store.ids[rows], np.int64))
                )
                files[segment["vectors"]] = write_file(
                    self.path / segment["vectors"], save_npy(np.asarray(self.store.vectors[rows], np.float16))
                )
            named = {name for seg in segments for name in (seg["ids"], seg["vectors"])}
            due = count - covered > max(self.config.checkpoint_rows, self.config.checkpoint_share * count)
            if rewrite_store or due or "index_file" not in meta or covered > count:
                index_file = f"index-{generation:06d}.faiss"
                files[index_file] = write_file(
                    self.path / index_file, lambda tmp: faiss.write_index(self.index, str(tmp))
                )
                meta["index_file"], covered = index_file, count
            named.add(meta["index_file"])
            files = {name: entry for name, entry in files.items() if name in named}
        meta.update(
            generation=generation,
            segments=segments,
            files=files,
            count=count,
            index_rows=covered,
            updated_at=now(),
            checksum=meta_checksum(files),
        )
        atomic_write_text(self.path / META_FILE, json.dumps(meta, indent=2))
        self.meta = meta
        delete_unnamed(self.path, meta)


def write_version(
    data_dir: str | Path,
    ids: np.ndarray,
    vectors: np.ndarray,
    encoder_info: dict[str, Any],
    config: IndexConfig | None = None,
    progress: bool = True,
) -> IndexVersion:
    """Build a new index version on disk from embeddings (it is not made live).

    The version is written under a hidden folder and renamed into place when complete.
    """
    config = config or IndexConfig.load()
    dim = int(encoder_info["dim"])
    ids, vectors = check_vectors(ids, vectors, dim)
    order = np.argsort(ids, kind="stable")
    ids, vectors = ids[order], vectors[order]
    factory = choose_factory(len(ids), dim, config)
    started = time.perf_counter()
    index = build_faiss(ids, vectors, factory, config, progress)
    name = _new_version_name()
    root = index_root(data_dir)
    staging = root / f".building-{name}"
    staging.mkdir(parents=True)
    try:
        mark_staging(staging)
        meta = {
            "format": FORMAT,
            "version": name,
            "encoder": {k: encoder_info[k] for k in ("name", "version", "dim")},
            "factory": factory,
            "params": {
                "nprobe": config.nprobe,
                "ef_search": config.ef_search,
                "rerank_factor": config.rerank_factor,
            },
            "count": 0,
            "generation": 0,
            "segments": [],
            "files": {},
            "created_at": now(),
            "build_s": round(time.perf_counter() - started, 3),
        }
        configs.dump(config, staging / "config.yaml")
        version = IndexVersion(
            staging, meta, index, EmbeddingStore(dim, ids, vectors.astype(np.float16)), config
        )
        version.persist(rewrite_store=True)
        fault_point("index.staging")
        unmark_staging(staging)
        os.replace(staging, root / name)
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
    version.path = root / name
    logger.log(
        logging.INFO if len(ids) else logging.DEBUG,  # the first ingest's empty start is no news
        "built index version %s: %d garments, %s, %.1fs",
        name,
        len(ids),
        factory,
        time.perf_counter() - started,
    )
    return version


def activate_version(data_dir: str | Path, name: str, keep: int | None = None, announce: bool = True) -> None:
    """Make version ``name`` live (atomic switch) and prune older versions; logged at INFO
    unless not ``announce``."""
    root = index_root(data_dir)
    if not (root / name / META_FILE).is_file():
        raise NoIndexError(f"no index version named {name!r} in {root}")
    atomic_write_text(root / CURRENT_FILE, name + "\n")
    logger.log(logging.INFO if announce else logging.DEBUG, "index version %s is live", name)
    if keep is not None:
        prune_versions(data_dir, keep)


def list_versions(data_dir: str | Path) -> list[str]:
    """Names of the index versions on disk, oldest first."""
    root = index_root(data_dir)
    if not root.is_dir():
        return []
    return sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))


def prune_versions(data_dir: str | Path, keep: int) -> list[str]:
    """Delete all but the live version and the ``keep`` newest others; returns the deleted."""
    current = read_current(data_dir)
    others = [v for v in list_versions(data_dir) if v != current]
    doomed = others[: max(0, len(others) - keep)]
    for name in doomed:
        shutil.rmtree(index_root(data_dir) / name, ignore_errors=True)
    return doomed
