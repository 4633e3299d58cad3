"""One outfit's frames split between clusters: put back together by the videos they share.

A fit check or a "what I wore" video shows one outfit from its first sampled frame to its last.
Clustering sees frames, not videos, and the frames of one video differ (a full-length shot and
a close-up, a turn, a step half out of frame), so k-means can put one video's frames into two
clusters. Then each cluster holds part of the same videos: a forecaster reads two styles with
near-identical names, each smaller than the real one, and the creator who wore it first sits in
either piece.

Two clusters that share videos are merged when the shared ones are at least ``co_worn_videos``
and make up at least ``co_worn_share`` of the smaller cluster's videos. One shared video proves
little by itself: a haul or an outfit-transition video shows several outfits, and a stray frame
can land anywhere; but a cluster whose videos are mostly another's is a piece of it. A style
and its lookalike one colour step away are worn in different videos, so they stay apart.

One shared video is enough when the facet probe also reads the two alike (``alike``: closer
than ``co_worn_twin_share`` of the run's median distance between two clusters, a looser cut
than facet twins' ``twin_share``; :mod:`inference.trends.facet_twins`): two weak signals that
agree. Lookalikes the probe reads alike share no video; two outfits of one haul share a video
but the probe reads them apart.

A small cluster whose videos it shares with two clusters, each read alike it but not
alike each other, is torn between them (a stray fragment of two styles' frames): one shared
video merges it with neither.

Merges go by the largest share first, and a merged group's videos are its parts' together; a
group is alike another only when every part of one is alike every part of the other.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Sequence

import numpy as np

from inference.trends.clustering import Clustering, merge_clusters
from inference.trends.settings import ClusterConfig

logger = logging.getLogger(__name__)


def shared_video_share(first: set[int], second: set[int]) -> tuple[int, float]:
    """How many videos two clusters share, and that count as a share of the smaller one's videos."""
    shared = len(first & second)
    smaller = min(len(first), len(second))
    return shared, shared / smaller if smaller else 0.0


def merge_co_worn(
    clustering: Clustering,
    videos: np.ndarray,
    vectors: np.ndarray,
    kinds: Sequence[str],
    frames: np.ndarray,
    config: ClusterConfig,
    alike: np.ndarray | None = None,
) -> Clustering:
    """``clustering`` with clusters that share most of their videos merged into one.

    Args:
        clustering: a run of :func:`inference.trends.clustering.cluster_garments` over ``vectors``.
        videos: (N,) video id of each row.
        vectors: (N, D) unit garment embeddings, row for row with ``clustering.labels``.
        kinds: garment kind per row; frames: frame id per row.
        config: clustering settings (``co_worn_share``, ``co_worn_videos``).
        alike: (K, K) bool, whether the facet probe reads two clusters alike (None: not known);
            then one shared video is enough.
    """
    k = len(clustering.clusters)
    if config.co_worn_share <= 0 or k < 2:
        return clustering
    alike = np.zeros((k, k), bool) if alike is None else np.asarray(alike, bool).copy()
    videos = np.asarray(videos)
    seen = [set(videos[clustering.labels == c].tolist()) for c in range(k)]
    merged_into = np.arange(k)  # cluster -> the cluster it was merged into (itself while not merged)
    alive = set(range(k))
    while True:
        best: tuple[float, int, int, int] | None = None
        for a, b in itertools.combinations(sorted(alive), 2):
            if clustering.clusters[a].kind != clustering.clusters[b].kind:
                continue
            shared, share = shared_video_share(seen[a], seen[b])
            strong = shared >= config.co_worn_videos and share >= config.co_worn_share
            enough = strong or (shared and alike[a, b] and not _torn(a, b, seen, alike, alive))
            if enough and (best is None or share > best[0]):
                best = (share, shared, a, b)
        if best is None:
            break
        share, shared, keep, gone = best
        logger.debug("clusters %d and %d share %d videos (%.0f%% of the smaller): merged", keep, gone, shared, 100 * share)
        merged_into[merged_into == gone] = keep
        seen[keep] |= seen[gone]
        alike[keep, :] = alike[:, keep] = alike[keep, :] & alike[gone, :]  # complete linkage
        alive.discard(gone)
    if len(alive) == k:
        return clustering
    return merge_clusters(clustering, merged_into, vectors, kinds, frames, config, "co-worn clusters")


def _torn(a: int, b: int, seen: list[set[int]], alike: np.ndarray, alive: set[int]) -> bool:
    """Whether the one of ``a``, ``b`` with fewer videos (either, when they have as many) also
    shares a video with a third cluster that reads alike it but not alike the other: then the
    one shared video points both ways."""
    if len(seen[a]) == len(seen[b]):
        pairs = [(a, b), (b, a)]
    else:
        pairs = [(a, b) if len(seen[a]) < len(seen[b]) else (b, a)]
    return any(seen[small] & seen[c] and alike[small, c] and not alike[other, c]
               for small, other in pairs for c in alive if c not in (a, b))
