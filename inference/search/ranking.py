"""Ranking hits: near-identical frames of one video count as one garment."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from inference.search.metadata import KIND_CODE
from inference.search.results import SearchHit


def dedupe_order(
    video: Sequence[int] | np.ndarray,
    kind: Sequence[int] | np.ndarray,
    embeddings: Callable[[np.ndarray], np.ndarray],
    threshold: float,
    limit: int | None = None,
) -> np.ndarray:
    """Positions of the hits to keep, best first: a hit nearly identical (cosine >=
    ``threshold``) to a kept better hit of the same video and kind is dropped.

    Args:
        video: video id per hit (-1: unknown, never a duplicate).
        kind: garment kind code per hit.
        embeddings: the embeddings (float32 (m, dim)) of the hits at the positions given;
            asked only for hits that share a video and kind with another.
        threshold: cosine from which two hits are one garment.
        limit: keep at most this many.
    """
    count = len(video) if limit is None else min(len(video), limit)
    video_list = video.tolist() if isinstance(video, np.ndarray) else list(video)
    kind_list = kind.tolist() if isinstance(kind, np.ndarray) else list(kind)
    garments = [(v, k) for v, k in zip(video_list, kind_list, strict=True) if v >= 0]
    if len(set(garments)) == len(garments):  # no two hits of one known video and kind: no twins (the usual case)
        return np.arange(count, dtype=np.int64)
    video, kind = np.asarray(video_list, np.int64), np.asarray(kind_list, np.int64)
    # pairs (earlier, later) of one known video and kind: the only ones that can be twins
    later, earlier = np.nonzero(np.tril((video[:, None] == video) & (kind[:, None] == kind) & (video >= 0), -1))
    involved = np.union1d(earlier, later)
    vectors = embeddings(involved)
    cosine = np.einsum(
        "ij,ij->i", vectors[np.searchsorted(involved, earlier)], vectors[np.searchsorted(involved, later)]
    )
    dropped = np.zeros(len(video), bool)
    twins = cosine >= threshold  # pairs come ordered by the later hit, so each earlier one is settled
    for first, second in zip(earlier[twins].tolist(), later[twins].tolist(), strict=True):
        if not dropped[first]:
            dropped[second] = True
    return np.flatnonzero(~dropped)[:count]


def may_have_twins(keys: Sequence[int]) -> bool:
    """Do two hits share a key (>= 0; one per video and kind, negative when unknown)? Only
    those can be twins; usually none do."""
    known = [key for key in keys if key >= 0]
    return len(set(known)) != len(known)


def dedupe_hits(
    hits: Sequence[SearchHit], vectors: np.ndarray, threshold: float
) -> list[SearchHit]:
    """Drop hits nearly identical (cosine >= threshold) to a better hit of the same video and kind."""
    video = np.array([h.video_id for h in hits], np.int64)
    kind = np.array([KIND_CODE.get(h.kind, -1) for h in hits], np.int64)
    vectors = np.asarray(vectors, np.float32)
    return [hits[i] for i in dedupe_order(video, kind, lambda positions: vectors[positions], threshold)]

