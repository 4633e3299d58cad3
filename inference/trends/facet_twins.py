"""One style cut by video into several clusters: put back together by what its garments are.

Each video brings its own person, room and light, and the frames of one video sit closer to
each other in embedding space than to another video's frames of the same outfit. So k-means
can return one style worn in twenty videos as three or four clusters, one per handful of
videos: a forecaster reads "plaid crop top + black striped trousers" and "... (2)", each
half the size, and the creator who wore it first sits in whichever piece their video fell
into, not necessarily the one the report names.

The facet probe (:mod:`inference.facet_probe`) reads a garment's type, pattern, silhouette and
colour from its embedding along directions trained to hold across videos, so it sees past the
person and the room. A cluster's reading is its garments' mean class probabilities per (kind,
facet); two clusters are as far apart as their most different reading (total variation: half
the L1 distance, 0 identical, 1 disjoint; 1 also when one holds a garment kind the other
lacks). Two clusters are facet twins when that distance is below ``twin_share`` of the median
distance between two clusters of the same run: far more alike than the probe reads two styles
of this catalog. The scale is the catalog's own because a probe reads some footage sharply
and some hardly at all: on the worlds it was trained for, two different styles read 0.95-0.98
apart (median); on real garment photos (Fashion-MNIST classes) 0.50, and coats and shirts
only 0.20, which a fixed cut-off would merge. Twins are merged closest first, by complete
linkage: two groups are twins only when every cluster of one is a twin of every cluster of
the other, so a chain of small steps cannot join two styles that differ. (With two clusters
the scale is their own distance, so nothing merges: k-means keeps at least ``k_min``.)

Measured on ten demo-preset worlds (docs/BENCHMARKS.md, "Facet twins"), where the cut-off
comes to about 0.34: pieces of one true style differ by 0.11-0.86 (median 0.46), two
different styles by 0.19 or more; the 6 of 983 such pairs below 0.4 are all a style and its
lookalike one colour step away (white vs beige camo skirts, black vs grey checked sweaters).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np

from inference.facet_probe import DRESS, FACETS, KINDS, FacetProbe
from inference.trends.clustering import Clustering, merge_clusters
from inference.trends.settings import ClusterConfig

logger = logging.getLogger(__name__)

Profile = dict[tuple[str, str], tuple[np.ndarray, int]]  # (kind, facet) -> (mean probabilities, garments)


def facet_profile(embeddings: dict[str, np.ndarray], probe: FacetProbe, min_garments: int) -> Profile:
    """A cluster's mean class probabilities per (kind, facet) the probe reads, from the
    embeddings of each garment kind it holds (kinds with fewer than ``min_garments`` left out).

    Top and bottom crops that read as halves of a dress keep only their type reading: the
    probe learnt a top's or a bottom's colour, pattern and cut from tops and bottoms, never
    from a dress's halves, so there those heads read noise (two pieces of one olive polka-dot
    dress read 0.44 apart on the bottom's "silhouette"); the dress's own facets are read from
    its full crops."""
    profile: Profile = {}
    for kind, rows in embeddings.items():
        if len(rows) < min_garments:
            continue
        for facet in FACETS:
            head = probe.head(kind, facet)
            if head is not None and head.weight.shape[1] == rows.shape[1]:
                profile[(kind, facet)] = (head.probabilities(rows).mean(axis=0), len(rows))
        if kind != "full" and _reads_as_dress(probe, kind, profile):
            for facet in FACETS:
                if facet != "type":
                    profile.pop((kind, facet), None)
    return profile


def _reads_as_dress(probe: FacetProbe, kind: str, profile: Profile) -> bool:
    """Whether a cluster's crops of ``kind`` read, on the mean, as a dress's half."""
    head, reading = probe.head(kind, "type"), profile.get((kind, "type"))
    return head is not None and reading is not None and head.classes[int(reading[0].argmax())] == DRESS


def profile_distance(a: Profile, b: Profile) -> float:
    """The largest total-variation distance over the (kind, facet) readings of two profiles:
    1 when one holds a garment kind the other lacks (a tee over jeans is not a tee whose
    bottom is never in frame), infinite when either has no reading or they share none (nothing
    says they agree)."""
    if not a or not b:
        return float("inf")
    if {kind for kind, _ in a} != {kind for kind, _ in b}:
        return 1.0
    shared = a.keys() & b.keys()
    if not shared:
        return float("inf")
    return max(0.5 * float(np.abs(a[key][0] - b[key][0]).sum()) for key in shared)


def probe_distances(clustering: Clustering, vectors: np.ndarray, kinds: Sequence[str], probe: FacetProbe,
                    config: ClusterConfig) -> tuple[np.ndarray, float]:
    """(K, K) :func:`profile_distance` between the clusters (infinite across kinds and on the
    diagonal), and the run's median finite distance (nan when there is none): the scale that
    ``twin_share`` and ``co_worn_twin_share`` are shares of."""
    kind_array = np.asarray(kinds, dtype=object)
    profiles = {c: facet_profile({kind: vectors[(clustering.labels == c) & (kind_array == kind)] for kind in KINDS},
                                 probe, config.twin_min_garments) for c in range(len(clustering.clusters))}
    apart = _pair_distances(profiles, [c.kind for c in clustering.clusters])
    finite = apart[np.triu(np.isfinite(apart), 1)]
    return apart, float(np.median(finite)) if len(finite) else float("nan")


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
    apart, median = probe_distances(clustering, vectors, kinds, probe, config)
    if np.isnan(median):
        return clustering
    limit = config.twin_share * median
    merged_into = np.arange(k)  # cluster -> the cluster it was merged into (itself while not merged)
    while True:
        first, second = (int(i) for i in np.unravel_index(int(np.argmin(apart)), apart.shape))
        if apart[first, second] >= limit:
            break
        keep, gone = min(first, second), max(first, second)
        logger.debug("clusters %d and %d are facet twins (%.2f apart, under %.2f): merged",
                     keep, gone, apart[keep, gone], limit)
        merged_into[merged_into == gone] = keep
        # complete linkage: a group is as far from another as its two farthest clusters, so a
        # chain of small steps (or a mean drifting towards a neighbour) cannot join two styles
        apart[keep, :] = apart[:, keep] = np.maximum(apart[keep, :], apart[gone, :])
        apart[keep, keep] = np.inf
        apart[gone, :] = apart[:, gone] = np.inf
    if len(set(merged_into.tolist())) == k:
        return clustering
    return merge_clusters(clustering, merged_into, vectors, kinds, frames, config, "facet twins")


def _pair_distances(profiles: dict[int, Profile], cluster_kinds: Sequence[str | None]) -> np.ndarray:
    """(K, K) :func:`profile_distance` between clusters of one group (infinite across groups and
    on the diagonal)."""
    k = len(cluster_kinds)
    apart = np.full((k, k), np.inf)
    for a in range(k):
        for b in range(a + 1, k):
            if cluster_kinds[a] == cluster_kinds[b]:
                apart[a, b] = apart[b, a] = profile_distance(profiles[a], profiles[b])
    return apart
