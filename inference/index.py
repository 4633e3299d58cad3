"""The garment index: FAISS index versions whose ids are catalog garment ids.

Layout of one data directory's index::

    DATA_DIR/index/
      CURRENT                 name of the live version (replaced atomically)
      .lock                   writers (ingest sink, sync, remove, rebuild) serialise on it
      <version>/
        meta.json             encoder, factory, parameters, count, files + sha256, created_at
        config.yaml           the IndexConfig that built the version
        index-<gen>.faiss     the FAISS index; ids inside it are garment ids
        ids-<gen>.npy         garment ids of one embedding segment (int64)
        emb-<gen>.npy         their L2-normalised embeddings (float16)

Files are written once and never changed: a write (an add, a removal) writes new files
under the next generation number, then replaces ``meta.json`` atomically, then deletes the
files the new meta no longer names. An add writes only the rows the last generation lacks:
a new segment, merged with the newest segments while they are no larger (adds of similar
size keep about log2(N) segments), and the FAISS file only once the rows added since it was
written pass ``checkpoint_share`` of the index (``index_rows`` in ``meta.json`` says how
many rows it holds; loading adds the rest from the store: cheap for flat and IVF indexes,
slower for HNSW), so adding a video to a large index costs about its own size, not the
index's. ``epoch`` changes when rows are removed, so readers know when catching up by rows
is not possible. A reader reads ``meta.json`` first and the files it
names after, so it sees one generation or the next, never a mix; every file's sha256 is in
``meta.json`` and checked on load, so a damaged file is reported, not searched.

The index kind follows the size: an exact inner-product index (``flat_factory``) while
small, an approximate one (``approx_factory``, IVF-PQ by default) once a (re)build holds
``approx_threshold`` garments or more. Approximate candidates are re-ranked exactly from
the float16 store. Metadata filters arrive as a :class:`Selection` of allowed garment ids
and are applied inside FAISS with an id selector, or by exact search over the selected
embeddings when the selection is small; results are never over-fetched and post-filtered.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import fcntl
import hashlib
import json
import logging
import math
import os
import secrets
import shutil
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from tqdm import tqdm

import configs
from core.errors import BadInputError, StylescopeError
from core.storage import atomic_path, atomic_write_text, sha256_file

if TYPE_CHECKING:
    from inference.catalog import Catalog, GarmentRecord
    from models.base import Encoder

logger = logging.getLogger(__name__)

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


@dataclasses.dataclass
class IndexConfig:
    """Settings of the garment index (the ``index`` section of configs/index.yaml)."""

    flat_factory: str = "IDMap2,Flat"  # FAISS factory while small: exact inner product
    approx_factory: str = "IVF{nlist},SQ8"  # factory past the threshold ({nlist} {pq_m} {dim})
    approx_threshold: int = 50_000  # garments from which a (re)build uses approx_factory
    nlist_per_sqrt: float = 1.0  # IVF lists = this x sqrt(garments), rounded to a power of two
    pq_bytes_per_dim: float = 0.25  # PQ factories: code bytes per dimension (64 at dim 256)
    nprobe: int = 32  # IVF lists visited per query
    ef_search: int = 128  # HNSW search breadth, for HNSW factories
    rerank_factor: int = 2  # approximate search fetches k x this candidates, re-ranked exactly
    train_sample: int = 65_536  # at most this many embeddings train an approximate index
    auto_upgrade: bool = True  # an add crossing the threshold rebuilds approximate, from the store
    max_segments: int = 32  # embedding segments past which they are all merged into one file (a backstop:
    # appends merge a new segment into the one before it while that one is no larger, so adds of
    # similar size keep about log2(N) segments and rewrite a row about log2(N) times, not N / add)
    checkpoint_share: float = 0.2  # the FAISS file is rewritten once the rows added since it was written
    checkpoint_rows: int = 20_000  # exceed both this share of the index and this many; loading adds them
    verify_checksums: bool = True  # check every file's sha256 when a version is loaded
    keep_versions: int = 2  # older versions kept on disk after a switch, besides the live one
    embed_batch_size: int = 64  # crops per encoder batch when (re-)embedding from crop files
    exact_filter_max: int = 20_000  # filters selecting at most this many garments search exactly
    reload_check_s: float = 1.0  # seconds between checks for a newer version written elsewhere
    seed: int = 0  # seed of the training sample

    @classmethod
    def load(cls, user_file: str | Path | None = None) -> IndexConfig:
        """The packaged index config, with a user file merged over it."""
        return configs.from_dict(cls, configs.load("index", user_file).get("index", {}))


# -- small helpers ---------------------------------------------------------------------------


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def index_root(data_dir: str | Path) -> Path:
    """``DATA_DIR/index``."""
    return Path(data_dir) / INDEX_DIR


def _write_file(path: Path, writer: Callable[[Path], None]) -> dict[str, Any]:
    """Write ``path`` atomically with ``writer(tmp)``; returns its size and sha256."""
    with atomic_path(path) as tmp:
        writer(tmp)
        with open(tmp, "rb+") as handle:
            os.fsync(handle.fileno())
        record = {"sha256": sha256_file(tmp), "bytes": tmp.stat().st_size}
    return record


def _save_npy(array: np.ndarray) -> Callable[[Path], None]:
    def write(tmp: Path) -> None:
        with open(tmp, "wb") as handle:
            np.save(handle, array, allow_pickle=False)

    return write


@contextlib.contextmanager
def writer_lock(data_dir: str | Path) -> Iterator[None]:
    """Hold the index's cross-process writer lock (``DATA_DIR/index/.lock``)."""
    root = index_root(data_dir)
    root.mkdir(parents=True, exist_ok=True)
    with open(root / LOCK_FILE, "a+") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


class _ReadWriteLock:
    """Many concurrent searches, or one writer changing the in-memory index."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._readers = 0
        self._writing = False

    @contextlib.contextmanager
    def read(self) -> Iterator[None]:
        with self._cond:
            while self._writing:
                self._cond.wait()
            self._readers += 1
        try:
            yield
        finally:
            with self._cond:
                self._readers -= 1
                self._cond.notify_all()

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


def check_vectors(
    ids: Sequence[int] | np.ndarray, vectors: np.ndarray, dim: int
) -> tuple[np.ndarray, np.ndarray]:
    """Validate garment ids and their embeddings; returns int64 ids and float32 vectors."""
    ids_arr = np.asarray(ids, dtype=np.int64).reshape(-1)
    vectors = np.asarray(vectors, dtype=np.float32)
    if vectors.ndim != 2 or vectors.shape[1] != dim:
        raise BadInputError(f"embeddings must have shape (N, {dim}), got {vectors.shape}")
    if len(ids_arr) != len(vectors):
        raise BadInputError(f"{len(ids_arr)} garment ids for {len(vectors)} embeddings")
    if len(np.unique(ids_arr)) != len(ids_arr):
        raise BadInputError("garment ids must be unique")
    if len(ids_arr) and ids_arr.min() < 0:
        raise BadInputError("garment ids must be >= 0")
    if not np.isfinite(vectors).all():
        raise BadInputError("embeddings contain NaN or infinite values")
    return ids_arr, np.ascontiguousarray(vectors)


# -- what a search may return -----------------------------------------------------------------


class Selection:
    """Garment ids a search may return, with the FAISS id selector built from them.

    Built once per filter (the search layer caches them) and shared by concurrent searches.
    """

    def __init__(self, ids: np.ndarray):
        self.ids = np.unique(np.asarray(ids, dtype=np.int64))  # sorted, unique
        self._selector: Any = None
        self._bitmap: np.ndarray | None = None
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self.ids)

    def selector(self) -> Any:
        """An ``IDSelectorBitmap`` over the ids (``IDSelectorBatch`` when ids are very sparse)."""
        import faiss

        with self._lock:
            if self._selector is None:
                top = int(self.ids[-1]) if len(self.ids) else 0
                if top > 64 * len(self.ids) + (1 << 24):
                    self._selector = faiss.IDSelectorBatch(self.ids)
                else:
                    mask = np.zeros(top + 1, dtype=bool)
                    mask[self.ids] = True
                    self._bitmap = np.packbits(mask, bitorder="little")
                    self._selector = faiss.IDSelectorBitmap(
                        len(self._bitmap), faiss.swig_ptr(self._bitmap)
                    )
            return self._selector


# -- the embedding store -------------------------------------------------------------------


class EmbeddingStore:
    """Garment ids and their float16 embeddings in memory, with id -> row lookups."""

    def __init__(self, dim: int, ids: np.ndarray | None = None, vectors: np.ndarray | None = None):
        self.dim = dim
        self._ids = np.zeros(0, np.int64) if ids is None else np.asarray(ids, np.int64)
        self._vectors = (
            np.zeros((0, dim), np.float16) if vectors is None else np.asarray(vectors, np.float16)
        )
        self._count = len(self._ids)
        self._reindex()

    def _reindex(self) -> None:
        ids = self._ids[: self._count]
        self._order = np.argsort(ids, kind="stable")
        self._sorted = ids[self._order]
        # Garment ids are dense (AUTOINCREMENT): a direct id -> row table is one memory
        # access per lookup, where a binary search over 1M ids is twenty.
        top = int(self._sorted[-1]) if self._count else -1
        self._row_of: np.ndarray | None = None
        if 0 <= top < 4 * self._count + (1 << 20) and self._sorted[0] >= 0:
            row_of = np.full(top + 1, -1, np.int64)
            row_of[ids] = np.arange(self._count)
            self._row_of = row_of

    def __len__(self) -> int:
        return self._count

    @property
    def ids(self) -> np.ndarray:
        """Garment ids in row order (a view: do not modify)."""
        return self._ids[: self._count]

    @property
    def sorted_ids(self) -> np.ndarray:
        """Garment ids, sorted."""
        return self._sorted

    @property
    def vectors(self) -> np.ndarray:
        """float16 embeddings in row order (a view: do not modify)."""
        return self._vectors[: self._count]

    def rows(self, ids: np.ndarray) -> np.ndarray:
        """Row of each garment id, -1 where the id is not stored."""
        ids = np.asarray(ids, np.int64)
        if not self._count:
            return np.full(len(ids), -1, np.int64)
        row_of = self._row_of
        if row_of is not None:
            inside = (ids >= 0) & (ids < len(row_of))
            return np.where(inside, row_of[np.where(inside, ids, 0)], -1)
        pos = np.minimum(np.searchsorted(self._sorted, ids), self._count - 1)
        return np.where(self._sorted[pos] == ids, self._order[pos], -1)

    def contains(self, ids: np.ndarray) -> np.ndarray:
        """Boolean mask: which ids are stored."""
        return self.rows(ids) >= 0

    def append(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        """Add rows (ids must be new)."""
        need = self._count + len(ids)
        if need > len(self._ids):
            capacity = max(need, int(len(self._ids) * 1.25) + 1024)
            grown_ids = np.zeros(capacity, np.int64)
            grown_vectors = np.zeros((capacity, self.dim), np.float16)
            grown_ids[: self._count] = self._ids[: self._count]
            grown_vectors[: self._count] = self._vectors[: self._count]
            self._ids, self._vectors = grown_ids, grown_vectors
        self._ids[self._count : need] = ids
        self._vectors[self._count : need] = vectors
        self._count = need
        self._reindex()

    def remove(self, ids: np.ndarray) -> int:
        """Drop rows by garment id; returns how many were stored."""
        rows = self.rows(ids)
        rows = rows[rows >= 0]
        if not len(rows):
            return 0
        keep = np.ones(self._count, bool)
        keep[rows] = False
        self._ids = self._ids[: self._count][keep].copy()
        self._vectors = self._vectors[: self._count][keep].copy()
        self._count = len(self._ids)
        self._reindex()
        return len(rows)


# -- choosing and building FAISS indexes --------------------------------------------------------


def _divisor_at_most(dim: int, target: int) -> int:
    for m in range(max(1, min(dim, target)), 0, -1):
        if dim % m == 0:
            return m
    return 1


def choose_factory(count: int, dim: int, config: IndexConfig) -> str:
    """The FAISS factory string for an index of ``count`` garments at ``dim``."""
    if count < config.approx_threshold:
        return config.flat_factory
    raw = config.nlist_per_sqrt * math.sqrt(count)
    nlist = 2 ** round(math.log2(max(raw, 1.0)))
    nlist = int(max(16, min(nlist, count // 39 or 16)))
    pq_m = _divisor_at_most(dim, round(dim * config.pq_bytes_per_dim))
    return config.approx_factory.format(nlist=nlist, pq_m=pq_m, dim=dim)


def _inner(index: Any) -> Any:
    """The index inside an IDMap wrapper (or the index itself), downcast."""
    import faiss

    index = faiss.downcast_index(index)
    if isinstance(index, faiss.IndexIDMap | faiss.IndexIDMap2):
        return faiss.downcast_index(index.index)
    return index


def _holds_ids(index: Any) -> bool:
    import faiss

    index = faiss.downcast_index(index)
    return isinstance(index, faiss.IndexIDMap | faiss.IndexIDMap2 | faiss.IndexIVF)


def is_exact(index: Any) -> bool:
    """True when ``index`` scores with full-precision vectors (no re-ranking needed)."""
    import faiss

    return isinstance(_inner(index), faiss.IndexFlat)


def make_index(factory: str, dim: int) -> Any:
    """An empty inner-product FAISS index from a factory string that keeps garment ids."""
    import faiss

    try:
        index = faiss.index_factory(dim, factory, faiss.METRIC_INNER_PRODUCT)
    except RuntimeError as exc:
        raise configs.ConfigError(f"FAISS cannot build factory {factory!r}: {exc}") from None
    if not _holds_ids(index):
        raise configs.ConfigError(
            f"factory {factory!r} cannot hold garment ids: start it with 'IDMap2,' (e.g. "
            f"'IDMap2,{factory}') or use an IVF index"
        )
    return index


def build_faiss(
    ids: np.ndarray, vectors: np.ndarray, factory: str, config: IndexConfig, progress: bool = True
) -> Any:
    """Train (when needed) and fill a FAISS index with ``vectors`` under garment ``ids``."""
    dim = vectors.shape[1]
    index = make_index(factory, dim)
    inner = _inner(index)
    if hasattr(inner, "do_polysemous_training"):
        inner.do_polysemous_training = False  # slow to train, and unused (no Hamming filtering)
    if not index.is_trained:
        rng = np.random.default_rng(config.seed)
        take = min(len(vectors), config.train_sample)
        sample = np.sort(rng.choice(len(vectors), take, replace=False))
        started = time.perf_counter()
        index.train(np.ascontiguousarray(vectors[sample], dtype=np.float32))
        logger.info(
            "trained %s on %d embeddings in %.1fs", factory, take, time.perf_counter() - started
        )
    batch = 65_536
    for start in tqdm(
        range(0, len(ids), batch),
        desc="index",
        unit="batch",
        disable=not progress or len(ids) <= batch,
    ):
        chunk = np.ascontiguousarray(vectors[start : start + batch], dtype=np.float32)
        index.add_with_ids(chunk, np.ascontiguousarray(ids[start : start + batch]))
    return index


# -- one index version -------------------------------------------------------------------------


def _new_version_name() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S") + "-" + secrets.token_hex(3)


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
        self._rw = _ReadWriteLock()
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
                    _verify_files(path, meta)
                store = _load_store(path, meta)
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
                return self._search_subset(queries, k, selection.ids)
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
                cached = self._plain_params = (key, self._make_params(None, 1.0))
            return cached[1]
        widen = max(1, len(self.store)) / max(1, len(selection))
        return self._make_params(selection.selector(), widen)

    def _make_params(self, selector: Any, widen: float) -> Any:
        import faiss as faiss_module

        faiss: Any = faiss_module
        inner = _inner(self.index)
        kwargs: dict[str, Any] = {} if selector is None else {"sel": selector}
        if isinstance(inner, faiss.IndexIVF):
            nprobe = min(inner.nlist, math.ceil(self.config.nprobe * widen))
            return faiss.SearchParametersIVF(nprobe=nprobe, **kwargs)
        if isinstance(inner, faiss.IndexHNSW):
            ef = min(max(len(self.store), 1), math.ceil(self.config.ef_search * widen))
            return faiss.SearchParametersHNSW(efSearch=ef, **kwargs)
        return faiss.SearchParameters(**kwargs) if kwargs else None

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
            return _pad(scores, ids, k)
        return self._rerank(queries, ids, k)

    def _rerank(
        self, queries: np.ndarray, candidates: np.ndarray, k: int
    ) -> tuple[np.ndarray, np.ndarray]:
        out_scores = np.full((len(queries), k), -np.inf, np.float32)
        out_ids = np.full((len(queries), k), -1, np.int64)
        for q, row_ids in enumerate(candidates):
            row_ids = row_ids[row_ids >= 0]
            rows = self.store.rows(row_ids)
            row_ids, rows = row_ids[rows >= 0], rows[rows >= 0]
            exact = np.take(self.store.vectors, rows, axis=0).astype(np.float32) @ queries[q]
            top = _top_k(exact, k)
            out_scores[q, : len(top)] = exact[top]
            out_ids[q, : len(top)] = row_ids[top]
        return out_scores, out_ids

    def _search_subset(
        self, queries: np.ndarray, k: int, allowed: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        rows = self.store.rows(allowed)
        rows = np.sort(rows[rows >= 0])
        vectors = self.store.vectors[rows].astype(np.float32)
        out_scores = np.full((len(queries), k), -np.inf, np.float32)
        out_ids = np.full((len(queries), k), -1, np.int64)
        if not len(rows):
            return out_scores, out_ids
        all_scores = queries @ vectors.T
        for q in range(len(queries)):
            top = _top_k(all_scores[q], k)
            out_scores[q, : len(top)] = all_scores[q, top]
            out_ids[q, : len(top)] = self.store.ids[rows[top]]
        return out_scores, out_ids

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
                    a[0] for a in self._search_subset(queries[q : q + 1], k, selection.ids)
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
                        _verify_files(self.path, meta, [segment["ids"], segment["vectors"]])
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
                files[segment["ids"]] = _write_file(
                    self.path / segment["ids"], _save_npy(np.asarray(self.store.ids[rows], np.int64))
                )
                files[segment["vectors"]] = _write_file(
                    self.path / segment["vectors"], _save_npy(np.asarray(self.store.vectors[rows], np.float16))
                )
            named = {name for seg in segments for name in (seg["ids"], seg["vectors"])}
            due = count - covered > max(self.config.checkpoint_rows, self.config.checkpoint_share * count)
            if rewrite_store or due or "index_file" not in meta or covered > count:
                index_file = f"index-{generation:06d}.faiss"
                files[index_file] = _write_file(
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
            updated_at=_now(),
            checksum=_meta_checksum(files),
        )
        atomic_write_text(self.path / META_FILE, json.dumps(meta, indent=2))
        self.meta = meta
        _delete_unnamed(self.path, meta)


def _meta_checksum(files: dict[str, Any]) -> str:
    digest = hashlib.sha256()
    for name in sorted(files):
        digest.update(f"{name}:{files[name]['sha256']}\n".encode())
    return digest.hexdigest()


def _verify_files(path: Path, meta: dict[str, Any], names: Sequence[str] | None = None) -> None:
    for name in names if names is not None else sorted(meta["files"]):
        expected = meta["files"][name]["sha256"]
        if sha256_file(path / name) != expected:
            raise IndexCorruptError(
                f"index version {path.name}: {name} is damaged (checksum mismatch); the catalog "
                "is untouched: run `stylescope index rebuild` to rebuild the index"
            )


def _load_store(path: Path, meta: dict[str, Any]) -> EmbeddingStore:
    dim = int(meta["encoder"]["dim"])
    parts_ids, parts_vectors = [], []
    for segment in meta["segments"]:
        try:
            parts_ids.append(
                np.load(path / segment["ids"], allow_pickle=False).astype(np.int64, copy=False)
            )
            parts_vectors.append(np.load(path / segment["vectors"], allow_pickle=False))
        except ValueError as exc:
            raise IndexCorruptError(
                f"index version {path.name}: {segment['vectors']} is damaged ({exc})"
            ) from None
    if not parts_ids:
        return EmbeddingStore(dim)
    ids = np.concatenate(parts_ids) if len(parts_ids) > 1 else parts_ids[0]
    vectors = np.concatenate(parts_vectors) if len(parts_vectors) > 1 else parts_vectors[0]
    return EmbeddingStore(dim, ids, vectors.astype(np.float16, copy=False))


def _delete_unnamed(path: Path, meta: dict[str, Any]) -> None:
    named = set(meta["files"]) | {META_FILE, "config.yaml"}
    for file in path.iterdir():
        if file.name not in named and not file.name.startswith("."):
            with contextlib.suppress(OSError):
                file.unlink()


def _pad(scores: np.ndarray, ids: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    if ids.shape[1] >= k:
        return scores[:, :k], ids[:, :k]
    pad = k - ids.shape[1]
    return (
        np.pad(scores, ((0, 0), (0, pad)), constant_values=-np.inf),
        np.pad(ids, ((0, 0), (0, pad)), constant_values=-1),
    )


def _top_k(scores: np.ndarray, k: int) -> np.ndarray:
    """Indices of the k largest scores, best first."""
    if len(scores) > k:
        part = np.argpartition(-scores, k - 1)[:k]
    else:
        part = np.arange(len(scores))
    return part[np.argsort(-scores[part], kind="stable")]


# -- building, activating, pruning versions -------------------------------------------------------


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
            "created_at": _now(),
            "build_s": round(time.perf_counter() - started, 3),
        }
        configs.dump(config, staging / "config.yaml")
        version = IndexVersion(
            staging, meta, index, EmbeddingStore(dim, ids, vectors.astype(np.float16)), config
        )
        version.persist(rewrite_store=True)
        os.replace(staging, root / name)
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
    version.path = root / name
    logger.info(
        "built index version %s: %d garments, %s, %.1fs",
        name,
        len(ids),
        factory,
        time.perf_counter() - started,
    )
    return version


def activate_version(data_dir: str | Path, name: str, keep: int | None = None) -> None:
    """Make version ``name`` live (atomic switch) and prune older versions."""
    root = index_root(data_dir)
    if not (root / name / META_FILE).is_file():
        raise NoIndexError(f"no index version named {name!r} in {root}")
    atomic_write_text(root / CURRENT_FILE, name + "\n")
    logger.info("index version %s is live", name)
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


# -- the live index of a data directory ----------------------------------------------------------


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


# -- embedding garments from their crops ---------------------------------------------------------


def embed_images(encoder: Encoder, images: Sequence[np.ndarray], batch_size: int) -> np.ndarray:
    """Embed RGB crops in batches (the encoder stage's ``embed_crops`` when present)."""
    try:
        from inference.embed import embed_crops
    except ModuleNotFoundError as exc:
        if exc.name != "inference.embed":
            raise
    else:
        return np.asarray(embed_crops(encoder, list(images), batch_size), dtype=np.float32)
    parts = [
        encoder.encode_images(list(images[i : i + batch_size]))
        for i in range(0, len(images), batch_size)
    ]
    return np.concatenate(parts) if parts else np.zeros((0, encoder.dim), np.float32)


def read_image(source: Any) -> np.ndarray:
    """An image file, bytes or array as RGB uint8 (``inference.images.load_image``)."""
    from inference.images import load_image

    return load_image(source)


def embed_garments(
    data_dir: str | Path,
    encoder: Encoder,
    garments: Sequence[GarmentRecord],
    batch_size: int,
    progress: bool = True,
) -> tuple[np.ndarray, np.ndarray, list[int]]:
    """Embed garments from their stored crop files.

    Returns (ids, vectors, failed ids): crops that are missing or unreadable are skipped.
    """
    ids: list[int] = []
    vectors: list[np.ndarray] = []
    failed: list[int] = []
    bar = tqdm(total=len(garments), desc="embed", unit="crop", disable=not progress)
    for start in range(0, len(garments), batch_size):
        batch = garments[start : start + batch_size]
        crops, batch_ids = [], []
        for garment in batch:
            try:
                crops.append(read_image(Path(data_dir) / garment.crop_path))
                batch_ids.append(garment.id)
            except (StylescopeError, OSError) as exc:
                logger.warning(
                    "garment %d: cannot read crop %s: %s", garment.id, garment.crop_path, exc
                )
                failed.append(garment.id)
        if crops:
            vectors.append(embed_images(encoder, crops, batch_size))
            ids.extend(batch_ids)
        bar.update(len(batch))
    bar.close()
    matrix = np.concatenate(vectors) if vectors else np.zeros((0, encoder.dim), np.float32)
    return np.asarray(ids, np.int64), matrix, failed


def catalog_garment_ids(catalog: Catalog) -> np.ndarray:
    """Ids of every garment of a done video, sorted."""
    rows = catalog.conn.execute(
        "SELECT g.id FROM garments g JOIN videos v ON v.id = g.video_id WHERE v.status = 'done' ORDER BY g.id"
    ).fetchall()
    return np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))


def _garments_in_chunks(
    catalog: Catalog, ids: np.ndarray, chunk: int = 20_000
) -> Iterator[list[GarmentRecord]]:
    for start in range(0, len(ids), chunk):
        yield catalog.garments(ids=[int(i) for i in ids[start : start + chunk]])


@contextlib.contextmanager
def _catalog_for(data_dir: str | Path, catalog: Catalog | None) -> Iterator[Catalog]:
    from inference.catalog import Catalog

    if catalog is not None:
        yield catalog
        return
    owned = Catalog(data_dir)
    try:
        yield owned
    finally:
        owned.close()


# -- the public operations -------------------------------------------------------------------------


@dataclasses.dataclass
class SyncReport:
    """What :func:`sync` changed."""

    version: str  # the live version after the sync
    added: int  # catalog garments that were missing from the index, now embedded and added
    removed: int  # index entries whose garment is no longer in the catalog
    failed: list[int]  # garments whose crop could not be read


def rebuild_index(
    data_dir: str | Path,
    encoder: Encoder,
    catalog: Catalog | None = None,
    activate: bool = True,
    config: IndexConfig | None = None,
    progress: bool = True,
) -> str:
    """Re-embed every catalog garment from its crop and build a new index version.

    The new version is switched in atomically (``activate``); searches keep working on the
    old one until then, and any failure leaves the old version live. Garments ingested
    while it was built are caught up before the switch.

    Returns:
        The new version's name.
    """
    config = config or IndexConfig.load()
    with _catalog_for(data_dir, catalog) as cat:
        ids = catalog_garment_ids(cat)
        logger.info("re-embedding %d garments with %s", len(ids), encoder.name)
        parts = [
            embed_garments(data_dir, encoder, chunk, config.embed_batch_size, progress)
            for chunk in _garments_in_chunks(cat, ids)
        ]
        new_ids = np.concatenate([p[0] for p in parts]) if parts else np.zeros(0, np.int64)
        vectors = (
            np.concatenate([p[1] for p in parts])
            if parts
            else np.zeros((0, encoder.dim), np.float32)
        )
        failed = [i for p in parts for i in p[2]]
        if failed:
            logger.warning(
                "%d garments had no readable crop and are left out of the index", len(failed)
            )
        version = write_version(data_dir, new_ids, vectors, encoder.describe(), config, progress)
        if activate:
            with writer_lock(data_dir):
                _catch_up(data_dir, version, encoder, cat, config, progress=False)
                activate_version(data_dir, version.name, config.keep_versions)
    return version.name


def rebuild_from_store(
    data_dir: str | Path, config: IndexConfig | None = None, progress: bool = True
) -> str:
    """Rebuild the FAISS index of the live version from its stored embeddings (no re-embedding).

    Picks the factory for the current size; the result is a new version, switched in atomically.
    """
    config = config or IndexConfig.load()
    with writer_lock(data_dir):
        live = _load_live(data_dir, config)
        version = write_version(
            data_dir, live.store.ids.copy(), live.store.vectors, live.encoder_info, config, progress
        )
        activate_version(data_dir, version.name, config.keep_versions)
    return version.name


def _load_live(data_dir: str | Path, config: IndexConfig) -> IndexVersion:
    name = read_current(data_dir)
    if name is None:
        raise NoIndexError(f"there is no index in {data_dir} yet: run `stylescope index rebuild`")
    return IndexVersion.load(index_root(data_dir) / name, config)


def _catch_up(
    data_dir: str | Path,
    version: IndexVersion,
    encoder: Encoder,
    catalog: Catalog,
    config: IndexConfig,
    progress: bool,
) -> SyncReport:
    """Make ``version`` hold exactly the catalog's garments (embedding the missing ones)."""
    catalog_ids = catalog_garment_ids(catalog)
    stale = np.setdiff1d(version.store.ids, catalog_ids)
    missing = np.setdiff1d(catalog_ids, version.store.ids)
    failed: list[int] = []
    added = 0
    if len(missing):
        records = [g for chunk in _garments_in_chunks(catalog, missing) for g in chunk]
        ids, vectors, failed = embed_garments(
            data_dir, encoder, records, config.embed_batch_size, progress
        )
        added = len(version.add(ids, vectors))
    removed = version.remove(stale) if len(stale) else 0
    if added or removed:
        version.persist(rewrite_store=bool(removed))
    return SyncReport(version.name, added, removed, failed)


def sync(
    data_dir: str | Path,
    encoder: Encoder,
    catalog: Catalog | None = None,
    config: IndexConfig | None = None,
    progress: bool = True,
) -> SyncReport:
    """Bring the live index in line with the catalog after a crash or a manual change.

    Catalog garments missing from the index are embedded from their crop files and added;
    index entries whose garment left the catalog are removed. Without a live index, one is
    built from the whole catalog.
    """
    config = config or IndexConfig.load()
    with _catalog_for(data_dir, catalog) as cat:
        if read_current(data_dir) is None:
            name = rebuild_index(data_dir, encoder, cat, True, config, progress)
            return SyncReport(name, len(_load_live(data_dir, config)), 0, [])
        with writer_lock(data_dir):
            live = _load_live(data_dir, config)
            check_encoder(live.meta, encoder.describe())
            report = _catch_up(data_dir, live, encoder, cat, config, progress)
    logger.info(
        "sync: %d added, %d removed, %d unreadable crops",
        report.added,
        report.removed,
        len(report.failed),
    )
    return report


def load_embeddings(data_dir: str | Path) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    """The live version's garment ids (int64 (N,)), embeddings (float32 (N, D)) and encoder info."""
    name = read_current(data_dir)
    if name is None:
        raise NoIndexError(f"there is no index in {data_dir} yet: run `stylescope index rebuild`")
    path = index_root(data_dir) / name
    meta = read_meta(path)
    names = [n for s in meta["segments"] for n in (s["ids"], s["vectors"])]
    if IndexConfig.load().verify_checksums:
        _verify_files(path, meta, names)
    store = _load_store(path, meta)
    return store.ids.copy(), store.vectors.astype(np.float32), dict(meta["encoder"])


def live_encoder_info(data_dir: str | Path) -> dict[str, Any] | None:
    """The encoder (name, version, dim) that built the live index version, or None without one.

    Raises:
        IndexCorruptError: the live version's meta.json is missing or damaged.
    """
    name = read_current(data_dir)
    return None if name is None else dict(read_meta(index_root(data_dir) / name)["encoder"])


def resolve_encoder(data_dir: str | Path, encoder: Encoder | str | None) -> Encoder:
    """``encoder`` itself, the encoder a spec names, or (None) the live index's encoder,
    falling back to the offline default when there is no index yet."""
    from models.registry import DEFAULT_ENCODER, create_encoder

    if encoder is not None and not isinstance(encoder, str):
        return encoder
    if encoder is None:
        with contextlib.suppress(GarmentIndexError):
            built = live_encoder_info(data_dir)
            encoder = str(built["name"]) if built else None
    return create_encoder(encoder or DEFAULT_ENCODER)


class IndexSink:
    """The ingest stage's sink: embeds each committed video's crops and indexes them.

    Creates the first index version (exact, for this encoder) when there is none.
    """

    def __init__(
        self,
        data_dir: str | Path,
        encoder: Encoder | str | None = None,
        config: IndexConfig | None = None,
    ):
        self.data_dir = Path(data_dir)
        self.encoder = resolve_encoder(data_dir, encoder)
        self.config = config or IndexConfig.load()
        self._index = GarmentIndex(self.data_dir, self.config, self.encoder.describe())

    def add_garments(self, garment_ids: list[int], crops: list[np.ndarray]) -> None:
        """Embed ``crops`` and add them under ``garment_ids`` to the live index."""
        if len(garment_ids) != len(crops):
            raise BadInputError(f"{len(garment_ids)} garment ids for {len(crops)} crops")
        if not garment_ids:
            return
        vectors = embed_images(self.encoder, crops, self.config.embed_batch_size)
        with writer_lock(self.data_dir):
            if read_current(self.data_dir) is None:
                empty = write_version(
                    self.data_dir,
                    np.zeros(0, np.int64),
                    np.zeros((0, self.encoder.dim), np.float32),
                    self.encoder.describe(),
                    self.config,
                    progress=False,
                )
                activate_version(self.data_dir, empty.name)
        self._index.add(garment_ids, vectors)


# -- export -------------------------------------------------------------------------------------


def export_embeddings(
    data_dir: str | Path,
    out_dir: str | Path,
    catalog: Catalog | None = None,
    partition_size: int = 100_000,
) -> dict[str, Any]:
    """Write the live embeddings and their garments' metadata in clip-retrieval's layout.

    ``out_dir/img_emb/img_emb_{i}.npy`` (float16, row-aligned with)
    ``out_dir/metadata/metadata_{i}.parquet`` (``image_path`` plus garment, creator, video,
    style columns), and ``out_dir/parquet/part_{i}.parquet`` holding both (an
    ``embedding`` column) for readers that take embeddings from Parquet.

    Returns:
        A summary: rows, partitions, encoder, version.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    if partition_size <= 0:
        raise BadInputError("partition size must be positive")
    ids, vectors, encoder_info = load_embeddings(data_dir)
    out = Path(out_dir)
    for folder in ("img_emb", "metadata", "parquet"):
        (out / folder).mkdir(parents=True, exist_ok=True)
    with _catalog_for(data_dir, catalog) as cat:
        styles = _style_names(cat)
        known = np.isin(ids, catalog_garment_ids(cat))
        ids, vectors = ids[known], vectors[known]
        partitions = 0
        for part, start in enumerate(range(0, len(ids), partition_size)):
            chunk_ids = ids[start : start + partition_size]
            garments = {g.id: g for g in cat.garments(ids=[int(i) for i in chunk_ids])}
            table = _metadata_table(Path(data_dir), chunk_ids, garments, styles)
            chunk_vectors = vectors[start : start + partition_size].astype(np.float16)
            np.save(out / "img_emb" / f"img_emb_{part}.npy", chunk_vectors)
            pq.write_table(table, out / "metadata" / f"metadata_{part}.parquet")
            embedding = pa.FixedSizeListArray.from_arrays(
                pa.array(chunk_vectors.astype(np.float32).reshape(-1)), encoder_info["dim"]
            )
            pq.write_table(
                table.append_column("embedding", embedding),
                out / "parquet" / f"part_{part}.parquet",
            )
            partitions += 1
    summary = {
        "rows": len(ids),
        "partitions": partitions,
        "encoder": encoder_info,
        "version": read_current(data_dir),
        "dir": str(out),
    }
    (out / "stylescope_export.json").write_text(json.dumps(summary, indent=2), encoding="utf-8")
    return summary


def _style_names(catalog: Catalog) -> dict[int, tuple[int, str]]:
    """garment id -> (style id, style name), from the trends stage's tables."""
    rows = catalog.conn.execute(
        "SELECT gs.garment_id, s.id, s.name FROM garment_styles gs JOIN styles s ON s.id = gs.style_id"
    )
    return {r[0]: (r[1], r[2]) for r in rows}


def _metadata_table(
    data_dir: Path,
    ids: np.ndarray,
    garments: dict[int, GarmentRecord],
    styles: dict[int, tuple[int, str]],
) -> Any:
    import pyarrow as pa

    records = [garments[int(i)] for i in ids]
    style = [styles.get(g.id) for g in records]
    return pa.table(
        {
            "image_path": [str(data_dir / g.crop_path) for g in records],
            "caption": [f"{g.kind} worn by @{g.creator}" for g in records],
            "garment_id": pa.array([g.id for g in records], pa.int64()),
            "kind": [g.kind for g in records],
            "creator": [g.creator for g in records],
            "followers": pa.array([g.followers for g in records], pa.int64()),
            "tier": [g.tier for g in records],
            "video_id": pa.array([g.video_id for g in records], pa.int64()),
            "t_s": pa.array([g.t_s for g in records], pa.float64()),
            "posted_at": [g.posted_at for g in records],
            "source_path": [g.source_path for g in records],
            "style_id": pa.array([s[0] if s else None for s in style], pa.int64()),
            "style": [s[1] if s else None for s in style],
        }
    )
