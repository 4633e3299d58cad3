"""One style cut by video into several clusters: put back together by what its garments are.

Each video brings its own person, room and light, and the frames of one video sit closer to
each other in embedding space than to another video's frames of the same outfit. So k-means
can return one style worn in twenty videos as three or four clusters, one per handful of
videos: a forecaster reads "plaid crop top + black striped trousers" and "... (2)", each
half the size, and the creator who wore it first sits in whichever piece their video fell
into, not necessarily the one the report names.

The facet probe (:mod:`inference.facet_probe`) reads a garment's type, pattern and colour
from its embedding along directions trained to hold across videos, so it sees past the
person and the room. A cluster's reading is its garments' mean class probabilities per
(kind, facet); two clusters are as far apart as their most different reading (total
variation: half the L1 distance, 0 identical, 1 disjoint). Two clusters are facet twins when
that distance is below ``twin_share`` of the median distance between two clusters of the same
run: far more alike than the probe reads two styles of this catalog. The scale is the
catalog's own because a probe reads some footage sharply and some hardly at all. On the
worlds it was trained for, two different styles read 0.95-0.98 apart (median). On real
garment photos (Fashion-MNIST classes) they read 0.50 apart, and coats and shirts only 0.20.
A fixed cut-off would merge those. Twins are merged closest first, by complete linkage: two
groups are twins only when every cluster of one is a twin of every cluster of the other, so a
chain of small steps cannot join two styles that differ.

Measured on ten demo-preset worlds (docs/BENCHMARKS.md, "Facet twins"): pieces of one true
style differ by 0.11-0.86 (median 0.46), two different styles by 0.19 or more; the 6 of 983
such pairs below 0.4 are all a style and its lookalike one colour step away (white vs beige
camo skirts, black vs grey checked sweaters).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np

from inference.facet_probe import FACETS, KINDS, FacetProbe
from inference.trends.clustering import NOISE, Cluster, Clustering, cluster_radius, outfit_vectors
from inference.trends.kmeans import normalise
from inference.trends.settings import ClusterConfig

logger = logging.getLogger(__name__)

Profile = dict[tuple[str, str], tuple[np.ndarray, int]]  # (kind, facet) -> (mean probabilities, garments)


def facet_profile(embeddings: dict[str, np.ndarray], probe: FacetProbe, min_garments: int) -> Profile:
    """A cluster's mean class probabilities per (kind, facet) the probe reads, from the
    embeddings of each garment kind it holds (kinds with fewer than ``min_garments`` left out)."""
    profile: Profile = {}
    for kind, rows in embeddings.items():
        if len(rows) < min_garments:
            continue
        for facet in FACETS:
            head = probe.head(kind, facet)
            if head is not None and head.weight.shape[1] == rows.shape[1]:
                profile[(kind, facet)] = (head.probabilities(rows).mean(axis=0), len(rows))
    return profile


def profile_distance(a: Profile, b: Profile) -> float:
    """The largest total-variation distance over the (kind, facet) readings both profiles have
    (infinite when they share none: nothing says they are the same)."""
    shared = a.keys() & b.keys()
    if not shared:
        return float("inf")
    return max(0.5 * float(np.abs(a[key][0] - b[key][0]).sum()) for key in shared)


def merge_facet_twins(
    clustering: Clustering,
    vectors: np.ndarray,
    kinds: Sequence[str],
    frames: np.ndarray,
    probe: FacetProbe,
    config: ClusterConfig,
) -> Clustering:
    """``clustering`` with every group of facet twins merged into one cluster.

    Args:
        clustering: a run of :func:`inference.trends.clustering.cluster_garments` over ``vectors``.
        vectors: (N, D) unit garment embeddings, row for row with ``clustering.labels``.
        kinds: garment kind per row; frames: frame id per row.
        probe: the facet probe of the encoder that made ``vectors``.
        config: clustering settings (``twin_share``, ``twin_min_garments``).
    """
    k = len(clustering.clusters)
    if config.twin_share <= 0 or k < 2:
        return clustering
    kind_array = np.asarray(kinds, dtype=object)
    labels = clustering.labels
    profiles: dict[int, Profile] = {}
    for c in range(k):
        members = labels == c
        by_kind = {kind: vectors[members & (kind_array == kind)] for kind in KINDS}
        profiles[c] = facet_profile(by_kind, probe, config.twin_min_garments)
    same_kind = np.asarray([[a.kind == b.kind for b in clustering.clusters] for a in clustering.clusters])
    apart = np.full((k, k), np.inf)
    for a in range(k):
        for b in range(a + 1, k):
            if same_kind[a, b]:
                apart[a, b] = apart[b, a] = profile_distance(profiles[a], profiles[b])
    finite = apart[np.triu(np.isfinite(apart), 1)]
    if not len(finite):
        return clustering
    limit = config.twin_share * float(np.median(finite))
    alive = k
    group = np.arange(k)  # cluster -> the cluster it was merged into (itself while not merged)
    while True:
        first, second = (int(i) for i in np.unravel_index(int(np.argmin(apart)), apart.shape))
        if apart[first, second] >= limit:
            break
        a, b = min(first, second), max(first, second)
        logger.info("styles %d and %d are facet twins (%.2f apart, under %.2f): merged", a, b, apart[a, b], limit)
        group[group == b] = a
        # complete linkage: a group is as far from another as its two farthest clusters, so a
        # chain of small steps (or a mean drifting towards a neighbour) cannot join two styles
        apart[a, :] = apart[:, a] = np.maximum(apart[a, :], apart[b, :])
        apart[a, a] = np.inf
        apart[b, :] = apart[:, b] = np.inf
        alive -= 1
    if alive == k:
        return clustering
    return _relabel(clustering, group, vectors, kinds, frames, config)


def _relabel(clustering: Clustering, group: np.ndarray, vectors: np.ndarray, kinds: Sequence[str],
             frames: np.ndarray, config: ClusterConfig) -> Clustering:
    """The clustering with each cluster replaced by its group: new centroids (the mean of the
    members' clustered vectors), distances and radii; clusters numbered in order of their first
    member cluster, so an unmerged run keeps its order."""
    if config.group_by == "outfit":
        unit, unit_of = outfit_vectors(vectors, np.asarray(frames), kinds, config.outfit_kinds)
    else:
        unit, unit_of = vectors, np.arange(len(vectors))
    kept = sorted(set(group.tolist()))
    new_index = np.full(len(group), NOISE, np.int64)
    for position, g in enumerate(kept):
        new_index[group == g] = position
    old = clustering.labels
    labels = np.where(old >= 0, new_index[np.maximum(old, 0)], NOISE)
    distances = np.full(len(labels), np.nan, np.float32)
    clusters = []
    for position, g in enumerate(kept):
        members = np.flatnonzero(labels == position)
        units = np.unique(unit_of[members])
        centroid = normalise(unit[units].mean(axis=0, keepdims=True))[0]
        distances[members] = 1.0 - unit[unit_of[members]] @ centroid
        clusters.append(Cluster(clustering.clusters[g].kind, centroid.astype(np.float32), len(members),
                                cluster_radius(distances[members], config)))
    logger.info("facet twins: %d clusters -> %d styles", len(group), len(clusters))
    return Clustering(labels, distances, clusters, clustering.selection)
