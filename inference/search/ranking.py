"""Ranking hits: near-identical frames of one video count as one garment."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from inference.search.metadata import KIND_CODE
from inference.search.results import SearchHit


def dedupe_order(
    video: np.ndarray,
    kind: np.ndarray,
    vectors: np.ndarray,
    threshold: float,
    limit: int | None = None,
) -> np.ndarray:
    """Positions of the hits to keep, best first: a hit nearly identical (cosine >=
    ``threshold``) to a kept better hit of the same video and kind is dropped.

    Args:
        video: video id per hit (-1: unknown, never a duplicate).
        kind: garment kind code per hit.
        vectors: the hits' embeddings, float32 (n, dim).
        threshold: cosine from which two hits are one garment.
        limit: stop once this many are kept.
    """
    same = (
        (video[:, None] == video[None, :])
        & (kind[:, None] == kind[None, :])
        & (video[:, None] >= 0)
    )
    twin = np.triu(
        same & ((vectors @ vectors.T) >= threshold), 1
    )  # twin[i, j]: j duplicates earlier i
    kept: list[int] = []
    dropped = np.zeros(len(video), bool)
    for j in range(len(video)):
        if twin[:j, j].any() and not dropped[:j][twin[:j, j]].all():
            dropped[j] = True
            continue
        kept.append(j)
        if limit is not None and len(kept) >= limit:
            break
    return np.asarray(kept, np.int64)


def dedupe_hits(
    hits: Sequence[SearchHit], vectors: np.ndarray, threshold: float
) -> list[SearchHit]:
    """Drop hits nearly identical (cosine >= threshold) to a better hit of the same video and kind."""
    video = np.array([h.video_id for h in hits], np.int64)
    kind = np.array([KIND_CODE.get(h.kind, -1) for h in hits], np.int64)
    return [hits[i] for i in dedupe_order(video, kind, np.asarray(vectors, np.float32), threshold)]

