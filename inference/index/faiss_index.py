"""Everything that talks to FAISS: factories by size, building, id selectors, search helpers."""

from __future__ import annotations

import contextlib
import logging
import math
import threading
import time
from collections.abc import Iterator
from typing import Any

import numpy as np
from tqdm import tqdm

import configs
from core.process import threads_set
from inference.index.config import IndexConfig

logger = logging.getLogger(__name__)


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


def inner_index(index: Any) -> Any:
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

    return isinstance(inner_index(index), faiss.IndexFlat)


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
    inner = inner_index(index)
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


def search_params(index: Any, config: IndexConfig, count: int, selector: Any, widen: float) -> Any:
    """FAISS search parameters for ``index`` holding ``count`` garments: the configured breadth
    (``nprobe`` or ``ef_search``) times ``widen``, and the id ``selector`` (None: no filter)."""
    import faiss as faiss_module

    faiss: Any = faiss_module
    inner = inner_index(index)
    kwargs: dict[str, Any] = {} if selector is None else {"sel": selector}
    if isinstance(inner, faiss.IndexIVF):
        nprobe = min(inner.nlist, math.ceil(config.nprobe * widen))
        return faiss.SearchParametersIVF(nprobe=nprobe, **kwargs)
    if isinstance(inner, faiss.IndexHNSW):
        ef = min(max(count, 1), math.ceil(config.ef_search * widen))
        return faiss.SearchParametersHNSW(efSearch=ef, **kwargs)
    return faiss.SearchParameters(**kwargs) if kwargs else None


def pad_results(scores: np.ndarray, ids: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    if ids.shape[1] >= k:
        return scores[:, :k], ids[:, :k]
    pad = k - ids.shape[1]
    return (
        np.pad(scores, ((0, 0), (0, pad)), constant_values=-np.inf),
        np.pad(ids, ((0, 0), (0, pad)), constant_values=-1),
    )


@contextlib.contextmanager
def faiss_threads(count: int) -> Iterator[None]:
    """FAISS's OpenMP threads for the searches this thread makes inside the block (0: as is).

    OpenMP keeps the thread count per calling thread, so searches running on other threads
    (the app's, a batch job's) keep theirs. One thread answers a single query on an exact
    index fastest on a busy machine: with one thread per core, a search waits for every
    core to be free (8 ms instead of 0.2-0.5 ms on 1,281 garments, 2 busy cores).
    """
    import faiss

    with threads_set(count, faiss.omp_get_max_threads, faiss.omp_set_num_threads):
        yield
