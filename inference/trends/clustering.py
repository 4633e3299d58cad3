"""Clustering garment embeddings into styles.

A full run clusters every garment (per garment kind, over whole outfits, or all pooled:
``cluster.group_by``), either with spherical k-means whose k is chosen from the data
(:mod:`inference.trends.kmeans`; frames far beyond the typical distance to their centroid
are left out), or with HDBSCAN, which leaves garments far from any dense region
unassigned. Clusters below ``min_style_size`` garments are dissolved.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Sequence

import numpy as np

from inference.trends.kmeans import kmeans_centroids, nearest_centroid, normalise, sample_rows
from inference.trends.settings import ClusterConfig

logger = logging.getLogger(__name__)

NOISE = -1  # label of a garment that belongs to no style


@dataclasses.dataclass
class Cluster:
    """One cluster found by a run, before it gets a style id."""

    kind: str | None  # garment kind, "outfit", or None when kinds are pooled
    centroid: np.ndarray  # unit-length float32 (D,)
    size: int  # garments assigned
    radius: float  # cosine distance inside which new garments are assigned to it


@dataclasses.dataclass
class Clustering:
    """Result of clustering: a label per garment (index into ``clusters`` or NOISE)."""

    labels: np.ndarray  # int64 (N,)
    distances: np.ndarray  # float32 (N,) cosine distance to the assigned centroid (nan for noise)
    clusters: list[Cluster]
    selection: dict[str, dict[int, float]]  # per group: silhouette of each k tried (k-means)


def noise_limits(distances: np.ndarray, labels: np.ndarray, k: int, mads: float, floor: float = 0.01) -> np.ndarray:
    """Per cluster, the distance beyond which a member is a stray.

    One standard for all clusters: the typical cluster's median distance plus ``mads`` times
    the typical cluster's robust deviation (1.4826 MAD, at least ``floor``), each cluster
    weighing the same so that a mass of near-duplicates does not set it; but never below a
    cluster's own median, so that a loose style keeps at least its core.
    """
    members = [distances[labels == c] for c in range(k)]
    medians = np.asarray([float(np.median(m)) if len(m) else np.nan for m in members])
    deviations = np.asarray([1.4826 * float(np.median(np.abs(m - np.median(m)))) if len(m) else np.nan
                             for m in members])
    limit = float(np.nanmedian(medians)) + mads * max(float(np.nanmedian(deviations)), floor) + 1e-6
    return np.where(np.isnan(medians), limit, np.maximum(limit, np.nan_to_num(medians)))


def cluster_radius(distances: np.ndarray, config: ClusterConfig) -> float:
    if len(distances) == 0:
        return 0.0
    return float(np.quantile(distances, config.assign_quantile)) * config.assign_slack + 1e-4


def _density_group(vectors: np.ndarray, config: ClusterConfig) -> tuple[np.ndarray, list[float]]:
    """Centroids of the HDBSCAN clusters found in a sample, and radii from their members."""
    from sklearn.cluster import HDBSCAN

    rng = np.random.default_rng(config.seed)
    sample = vectors[sample_rows(len(vectors), config.selection_sample, rng)]
    if len(sample) < max(2, config.min_cluster_size):
        centroid = normalise(sample.mean(axis=0, keepdims=True))
        return centroid, [cluster_radius(1.0 - sample @ centroid[0], config)]
    labels = HDBSCAN(min_cluster_size=config.min_cluster_size, cluster_selection_method=config.density_selection,
                     copy=True).fit_predict(sample)
    centroids, radii = [], []
    for c in np.unique(labels[labels >= 0]):
        members = sample[labels == c]
        centroid = normalise(members.mean(axis=0, keepdims=True))[0]
        centroids.append(centroid)
        radii.append(cluster_radius(1.0 - members @ centroid, config))
    logger.info("HDBSCAN: %d of %d sampled garments in %d clusters", int((labels >= 0).sum()), len(sample), len(centroids))
    if not centroids:
        return np.zeros((0, vectors.shape[1]), np.float32), []
    return np.stack(centroids), radii


def _assign_group(
    vectors: np.ndarray, centroids: np.ndarray, config: ClusterConfig, radii: list[float] | None = None
) -> tuple[np.ndarray, np.ndarray, list[float], np.ndarray]:
    """Labels, distances, radii and noise limits of a group.

    With ``radii`` (density clusters, from the fitted members), garments outside their
    nearest cluster's radius are noise (the radius is the limit); otherwise (k-means) garments
    beyond :func:`noise_limits` are noise (k-means puts every garment somewhere, and those far
    ones are mostly strays: half-seen people, rare styles that got no cluster), and the
    radii are set from the members' distances.
    """
    if len(centroids) == 0:
        return np.full(len(vectors), NOISE), np.full(len(vectors), np.nan, np.float32), [], np.zeros(0)
    labels, distances = nearest_centroid(vectors, centroids)
    if radii is None:
        limits = np.full(len(centroids), np.inf)
        if config.noise_mads > 0 and len(distances):
            limits = noise_limits(distances, labels, len(centroids), config.noise_mads)
            labels[distances > limits[labels]] = NOISE
        # new garments are held to the same limits as the run's own
        radii = [min(cluster_radius(distances[labels == c], config), float(limits[c])) for c in range(len(centroids))]
    else:
        limits = np.asarray(radii, np.float64)
        labels[distances > limits[labels]] = NOISE
    return labels, distances, radii, limits


def _groups(kinds: Sequence[str], group_by: str) -> dict[str | None, np.ndarray]:
    """Indices of the garments (or, for outfits, the frames) each group clusters."""
    if group_by == "all":
        return {None: np.arange(len(kinds))}
    kind_array = np.asarray(kinds, dtype=object)
    return {str(k): np.flatnonzero(kind_array == k) for k in sorted(set(kinds))}


def outfit_vectors(vectors: np.ndarray, frame_ids: np.ndarray, kinds: Sequence[str] | None = None,
                   use_kinds: Sequence[str] = ()) -> tuple[np.ndarray, np.ndarray]:
    """One unit vector per frame and each garment's frame row.

    A frame's vector is the mean of its garments of ``use_kinds`` (all of them when
    ``use_kinds`` is empty, ``kinds`` is not given, or the frame has none of those kinds).
    """
    frames, inverse = np.unique(frame_ids, return_inverse=True)
    sums = np.zeros((len(frames), vectors.shape[1]), np.float32)
    np.add.at(sums, inverse, vectors)
    if use_kinds and kinds is not None:
        chosen = np.isin(np.asarray(kinds, dtype=object), list(use_kinds))
        picked = np.zeros_like(sums)
        np.add.at(picked, inverse[chosen], vectors[chosen])
        has = np.bincount(inverse[chosen], minlength=len(frames)) > 0
        sums[has] = picked[has]
    return normalise(sums), inverse


def clustered_units(vectors: np.ndarray, frame_ids: np.ndarray, kinds: Sequence[str],
                    config: ClusterConfig) -> tuple[np.ndarray, np.ndarray]:
    """The vectors a run clusters (each frame's outfit vector with ``group_by`` outfit, else
    the garments' own) and each garment row's unit: centroids are means of these."""
    if config.group_by == "outfit":
        return outfit_vectors(vectors, np.asarray(frame_ids), kinds, config.outfit_kinds)
    return vectors, np.arange(len(vectors))


def cluster_garments(
    vectors: np.ndarray,
    kinds: Sequence[str],
    frame_ids: np.ndarray,
    config: ClusterConfig,
) -> Clustering:
    """Cluster garment embeddings into styles as ``config`` says.

    Args:
        vectors: (N, D) garment embeddings (normalised here).
        kinds: garment kind of each row (top / bottom / full).
        frame_ids: frame of each row (used when ``group_by`` is ``outfit``).
        config: clustering settings.

    Returns:
        A :class:`Clustering`: per-garment labels and distances, and the clusters.
    """
    vectors = normalise(vectors)
    if config.group_by == "outfit":
        frame_vectors, frame_of = outfit_vectors(vectors, np.asarray(frame_ids), kinds, config.outfit_kinds)
        inner = dataclasses.replace(config, group_by="all")
        result = cluster_garments(frame_vectors, ["outfit"] * len(frame_vectors), np.arange(len(frame_vectors)), inner)
        labels = result.labels[frame_of]
        garments = np.bincount(labels[labels >= 0], minlength=len(result.clusters))
        for n, cluster in enumerate(result.clusters):
            # a style's size counts garments, as the catalog recounts it after new ones join
            cluster.kind, cluster.size = "outfit", int(garments[n])
        return Clustering(labels, result.distances[frame_of], result.clusters, result.selection)
    fit, labels, distances = fit_units(vectors, kinds, config)
    return _drop_small(Clustering(labels, distances, fit.clusters, fit.selection), config.min_style_size)


@dataclasses.dataclass
class ClusterFit:
    """What a clustering learned from the units it was fitted on: enough to assign any unit.

    A unit is a garment, or a frame's outfit vector (kind "outfit"); the fit may be on all
    units (the local path) or on a sample of them (``stylescope trends --backend ray``).
    """

    clusters: list[Cluster]  # centroid, kind, radius, and units assigned in the fit
    limits: np.ndarray  # float64 (K,): distance beyond which a unit of the cluster is a stray
    group_by: str  # kind: a unit is compared with its own kind's clusters; all: with every cluster
    selection: dict[str, dict[int, float]]  # per group: silhouette of each k tried (k-means)


def fit_units(vectors: np.ndarray, kinds: Sequence[str],
              config: ClusterConfig) -> tuple[ClusterFit, np.ndarray, np.ndarray]:
    """Fit clusters on unit vectors (``config.group_by`` kind or all), and the fitted units'
    labels and distances (noise marked; small clusters not yet dissolved)."""
    vectors = normalise(vectors)
    labels = np.full(len(vectors), NOISE, np.int64)
    distances = np.full(len(vectors), np.nan, np.float32)
    clusters: list[Cluster] = []
    limits: list[np.ndarray] = []
    selection: dict[str, dict[int, float]] = {}
    for kind, rows in _groups(kinds, config.group_by).items():
        if len(rows) == 0:
            continue
        group = vectors[rows]
        fitted_radii: list[float] | None = None
        if config.method == "kmeans":
            centroids, selection[str(kind)] = kmeans_centroids(group, config)
        else:
            centroids, fitted_radii = _density_group(group, config)
        group_labels, group_distances, radii, group_limits = _assign_group(group, centroids, config, fitted_radii)
        if config.method == "kmeans" and config.stray_styles > 0:
            extra = stray_centroids(group, group_labels, group_distances, config)
            if len(extra):
                centroids = np.concatenate([centroids, extra])
                group_labels, group_distances, radii, group_limits = _assign_group(group, centroids, config)
        keep = group_labels >= 0
        labels[rows[keep]] = group_labels[keep] + len(clusters)
        distances[rows[keep]] = group_distances[keep]
        limits.append(np.asarray(group_limits, np.float64))
        for c in range(len(centroids)):
            size = int((group_labels == c).sum())
            clusters.append(Cluster(kind, centroids[c], size, radii[c]))
    fit = ClusterFit(clusters, np.concatenate(limits) if limits else np.zeros(0), config.group_by, selection)
    return fit, labels, distances


def stray_centroids(vectors: np.ndarray, labels: np.ndarray, distances: np.ndarray, config: ClusterConfig) -> np.ndarray:
    """Centroids of the tight groups the strays of a k-means run (``labels`` NOISE) form among
    themselves. A small new look that k-means gave no centroid of its own lands beyond its
    nearest style's limit, and is found here; strays of many looks do not gather so tightly.

    Greedy, densest first: the stray with the most other strays within twice the run's typical
    member distance (times ``stray_styles``) and those neighbours make a group when there are
    ``min_cluster_size`` of them and their median distance to their centre is at most
    ``stray_styles`` times the typical member distance; its strays are then taken out. Up to
    ``selection_sample`` strays are searched.
    """
    strays = np.flatnonzero(labels == NOISE)
    members = distances[labels >= 0]
    if len(strays) < max(2, config.min_cluster_size) or not len(members):
        return np.zeros((0, vectors.shape[1]), np.float32)
    if len(strays) > config.selection_sample:
        strays = np.sort(np.random.default_rng(config.seed).choice(strays, config.selection_sample, replace=False))
    typical = float(np.median(members))
    points = vectors[strays]
    close = 1.0 - points @ points.T <= 2 * typical * config.stray_styles
    free = np.ones(len(strays), bool)  # not yet in a group
    candidate = np.ones(len(strays), bool)  # may still seed a group
    counts = close.sum(axis=1)  # free neighbours of each stray
    centroids = []
    while candidate.any():
        best = int(np.where(candidate, counts, -1).argmax())
        if counts[best] < config.min_cluster_size:
            break
        rows = close[best] & free
        centre = _unit(points[rows].mean(axis=0))
        candidate &= ~rows  # a loose neighbourhood seeds nothing; a tight one is taken out
        if float(np.median(1.0 - points[rows] @ centre)) <= config.stray_styles * typical:
            centroids.append(centre)
            free &= ~rows
            counts -= close[:, rows].sum(axis=1)
    if centroids:
        logger.info("k-means: %d styles found among %d strays", len(centroids), len(strays))
    return np.asarray(centroids, np.float32).reshape(-1, vectors.shape[1])


def _unit(vector: np.ndarray) -> np.ndarray:
    return (vector / max(float(np.linalg.norm(vector)), 1e-12)).astype(np.float32)


def assign_units(fit: ClusterFit, vectors: np.ndarray, kinds: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """Each unit's nearest cluster of its group and the cosine distance to it; NOISE (distance
    nan) beyond that cluster's limit: what the fit did to its own units, for any units."""
    vectors = normalise(vectors)
    labels = np.full(len(vectors), NOISE, np.int64)
    distances = np.full(len(vectors), np.nan, np.float32)
    if not fit.clusters:
        return labels, distances
    centroids = np.stack([c.centroid for c in fit.clusters])
    for kind, rows in _groups(kinds, fit.group_by).items():
        candidates = np.flatnonzero([fit.group_by == "all" or c.kind == kind for c in fit.clusters])
        if len(rows) == 0 or len(candidates) == 0:
            continue
        nearest, distance = nearest_centroid(vectors[rows], centroids[candidates])
        inside = distance <= fit.limits[candidates[nearest]]
        labels[rows[inside]] = candidates[nearest[inside]]
        distances[rows[inside]] = distance[inside]
    return labels, distances


def nearest_styles(clustering: Clustering, vectors: np.ndarray, kinds: Sequence[str], frame_ids: np.ndarray,
                   config: ClusterConfig) -> tuple[np.ndarray, np.ndarray]:
    """For each garment ``clustering`` left without a style, the cluster it lies nearest (among
    those of its kind when styles are per kind; by its frame's outfit vector when styles are
    outfits) and the cosine distance to it, when within that cluster's near limit
    (:func:`noise_limits` of the members' distances at ``near_mads``); NOISE (distance nan)
    for the others and for the garments in a style.

    A style's first wearers are often among them: the first video of a new look is shot
    before anyone has settled on it, and lands just beyond the style's noise limit.
    """
    labels = np.full(len(vectors), NOISE, np.int64)
    distances = np.full(len(vectors), np.nan, np.float32)
    left_out = np.flatnonzero(clustering.labels < 0)
    members = clustering.labels >= 0
    if not clustering.clusters or len(left_out) == 0 or not members.any() or config.near_mads <= 0:
        return labels, distances
    limits = noise_limits(clustering.distances[members], clustering.labels[members], len(clustering.clusters),
                          config.near_mads)
    units = normalise(vectors)
    if config.group_by == "outfit":
        frame_vectors, frame_of = outfit_vectors(units, np.asarray(frame_ids), kinds, config.outfit_kinds)
        units = frame_vectors[frame_of]
    centroids = np.stack([c.centroid for c in clustering.clusters])
    cluster_kinds = [c.kind for c in clustering.clusters]
    by_kind = config.group_by == "kind"
    kind_of = np.asarray(kinds, dtype=object)[left_out]
    groups = {str(k): left_out[kind_of == k] for k in set(kind_of)} if by_kind else {None: left_out}
    for kind, rows in groups.items():
        candidates = np.flatnonzero([not by_kind or k == kind for k in cluster_kinds])
        if len(candidates) == 0:
            continue
        nearest, distance = nearest_centroid(units[rows], centroids[candidates])
        near = distance <= limits[candidates[nearest]]
        labels[rows[near]], distances[rows[near]] = candidates[nearest[near]], distance[near]
    return labels, distances


def kept_clusters(sizes: np.ndarray, min_size: int) -> np.ndarray:
    """Map from a cluster's index (and NOISE, the last entry) to its index once clusters below
    ``min_size`` units are dissolved (NOISE for those)."""
    keep = np.flatnonzero(np.asarray(sizes) >= max(1, min_size))
    remap = np.full(len(sizes) + 1, NOISE, np.int64)
    remap[keep] = np.arange(len(keep))
    return remap


def _drop_small(clustering: Clustering, min_size: int) -> Clustering:
    """Dissolve clusters below ``min_size`` garments and renumber the rest."""
    remap = kept_clusters(np.asarray([c.size for c in clustering.clusters], np.int64), min_size)
    labels = np.where(clustering.labels >= 0, remap[clustering.labels], NOISE)
    distances = np.where(labels >= 0, clustering.distances, np.nan).astype(np.float32)
    return Clustering(labels, distances, [c for i, c in enumerate(clustering.clusters) if remap[i] >= 0],
                      clustering.selection)


def merge_clusters(clustering: Clustering, merged_into: np.ndarray, vectors: np.ndarray, kinds: Sequence[str],
                   frames: np.ndarray, config: ClusterConfig, why: str) -> Clustering:
    """The clustering with each group of clusters that ``merged_into`` maps to one (cluster ->
    the cluster it joined, itself if none) made one cluster, numbered in order of its first
    cluster; ``why`` names the reason in the log. A cluster that merged with none is kept as it
    was (centroid, radius, distances). A merged one gets the mean of its members' clustered
    vectors (outfit vectors, by frame) as its centroid, their distances to it, and a radius from
    those distances, but no wider than what holds each part's own radius around the new
    centroid: merging does not let incremental assignment take in garments a part would have
    called strays."""
    unit, unit_of = clustered_units(vectors, frames, kinds, config)
    kept = sorted(set(merged_into.tolist()))
    position_of = np.full(len(merged_into), NOISE, np.int64)
    for position, first in enumerate(kept):
        position_of[merged_into == first] = position
    old = clustering.labels
    labels = np.where(old >= 0, position_of[np.maximum(old, 0)], NOISE)
    distances = np.where(labels >= 0, clustering.distances, np.nan).astype(np.float32)
    clusters = []
    for position, first in enumerate(kept):
        parts = np.flatnonzero(merged_into == first)
        if len(parts) == 1:
            clusters.append(clustering.clusters[first])
            continue
        members = np.flatnonzero(labels == position)
        units = np.unique(unit_of[members])
        centroid = normalise(unit[units].mean(axis=0, keepdims=True))[0].astype(np.float32)
        unit_distance = 1.0 - unit[units] @ centroid
        distances[members] = 1.0 - unit[unit_of[members]] @ centroid
        reach = max(clustering.clusters[p].radius + 1.0 - float(clustering.clusters[p].centroid @ centroid)
                    for p in parts)
        clusters.append(Cluster(clustering.clusters[first].kind, centroid, len(members),
                                min(cluster_radius(unit_distance, config), reach)))
    logger.info("%s: %d clusters -> %d styles", why, len(merged_into), len(clusters))
    return Clustering(labels, distances, clusters, clustering.selection)
