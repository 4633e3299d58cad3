"""The embedding store: garment ids and their float16 embeddings, in memory and from disk."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from core.errors import BadInputError
from inference.index.files import IndexCorruptError


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
        # The table has one slot past the largest id, -1, where FAISS's padding id -1 lands.
        top = int(self._sorted[-1]) if self._count else -1
        self._row_of: np.ndarray | None = None
        if 0 <= top < 4 * self._count + (1 << 20) and self._sorted[0] >= 0:
            row_of = np.full(top + 2, -1, np.int64)
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
        if self._row_of is not None and (not len(ids) or ids.min() >= -1):
            return self.found_rows(ids)
        return self._searched_rows(ids)

    def found_rows(self, ids: np.ndarray) -> np.ndarray:
        """:meth:`rows` of int64 ids as a search returns them (garment ids, -1 for none): one
        table lookup, for the few dozen candidates every query re-ranks."""
        row_of = self._row_of
        if row_of is None:
            return self._searched_rows(ids)
        try:
            return row_of[ids]  # -1 lands on the table's last slot, which is -1
        except IndexError:  # an id past the table: not stored
            inside = ids < len(row_of)
            return np.where(inside, row_of[np.where(inside, ids, -1)], -1)

    def _searched_rows(self, ids: np.ndarray) -> np.ndarray:
        if not self._count:
            return np.full(len(ids), -1, np.int64)
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


def load_store(path: Path, meta: dict[str, Any]) -> EmbeddingStore:
    """The embedding store of a version directory, from the segments ``meta`` names."""
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


def top_k(scores: np.ndarray, k: int) -> np.ndarray:
    """Indices of the k largest scores, best first."""
    if len(scores) > k:
        part = np.argpartition(-scores, k - 1)[:k]
    else:
        part = np.arange(len(scores))
    return part[np.argsort(-scores[part], kind="stable")]


def rerank(
    store: EmbeddingStore, queries: np.ndarray, candidates: np.ndarray, k: int
) -> tuple[np.ndarray, np.ndarray]:
    """The top ``k`` of each query's candidate ids (a search's: garment ids, -1 for none),
    scored exactly with the stored embeddings."""
    if len(queries) == 1:  # a single query: as few numpy calls as it takes
        return _rerank_one(store, queries[0], candidates[0], k)
    out_scores = np.full((len(queries), k), -np.inf, np.float32)
    out_ids = np.full((len(queries), k), -1, np.int64)
    for q, row_ids in enumerate(candidates):
        scores, ids = _rerank_one(store, queries[q], row_ids, k)
        out_scores[q, : scores.shape[1]], out_ids[q, : ids.shape[1]] = scores[0], ids[0]
    return out_scores, out_ids


def _rerank_one(
    store: EmbeddingStore, query: np.ndarray, candidates: np.ndarray, k: int
) -> tuple[np.ndarray, np.ndarray]:
    """Top ``k`` of one query's candidates, (1, k) each, padded with -inf / -1."""
    rows = store.found_rows(candidates)
    if len(rows) and candidates[-1] < 0:  # FAISS pads its results with -1 at the end
        held = rows >= 0
        candidates, rows = candidates[held], rows[held]
    exact = store.vectors[rows] @ query  # float16 rows, scored in float32
    top = np.argsort(-exact, kind="stable")[:k]  # a few dozen candidates: one sort
    if len(top) == k:
        return exact[top][None], candidates[top][None]
    return pad_top(exact[top], candidates[top], k)


def pad_top(scores: np.ndarray, ids: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """One query's (scores, ids) as (1, k) arrays, padded with -inf / -1."""
    out_scores = np.full((1, k), -np.inf, np.float32)
    out_ids = np.full((1, k), -1, np.int64)
    out_scores[0, : len(scores)], out_ids[0, : len(ids)] = scores, ids
    return out_scores, out_ids


def search_subset(
    store: EmbeddingStore, queries: np.ndarray, k: int, allowed: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Exact top ``k`` among the ``allowed`` garment ids (a small filter), by brute force."""
    rows = store.rows(allowed)
    rows = np.sort(rows[rows >= 0])
    vectors = store.vectors[rows].astype(np.float32)
    out_scores = np.full((len(queries), k), -np.inf, np.float32)
    out_ids = np.full((len(queries), k), -1, np.int64)
    if not len(rows):
        return out_scores, out_ids
    all_scores = queries @ vectors.T
    for q in range(len(queries)):
        top = top_k(all_scores[q], k)
        out_scores[q, : len(top)] = all_scores[q, top]
        out_ids[q, : len(top)] = store.ids[rows[top]]
    return out_scores, out_ids
