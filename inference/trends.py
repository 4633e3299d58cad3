"""Styles: cluster garment embeddings, name them, keep their ids, and follow them over time.

A *style* is a cluster of garment embeddings. A full run (:func:`recluster`) clusters every
garment (per garment kind, over whole outfits, or all pooled: ``cluster.group_by``), either
with spherical k-means whose k is chosen from the data by silhouette (then clusters whose
members fall in two groups along their main axis are split, so a small lookalike style is
not hidden inside the style it copies, and neighbours whose union is one group are merged,
and frames far beyond the typical distance to their centroid are left out), or with
HDBSCAN, which leaves garments far from any dense region unassigned. Crops where no
detector saw a person (``cluster.skip_methods``) get no style. New clusters are matched to the
previous run's styles by centroid (Hungarian assignment), so a style keeps its id across
runs. Between full runs, :func:`assign_new_garments` puts new garments into the nearest
existing style when they fall inside its radius.

Each style is named from a fashion vocabulary: words are embedded with the text tower of
the encoder that embedded the garments and ranked by similarity to the style's centroid.

Over time, a style is counted in *sightings* (one per video that shows it), which give the
per-day / per-week series (garments, videos, distinct creators, optionally weighted by
followers, and the share of all posts), and the rising / fading score: a burst test of the
recent window against the style's own history, with a minimum support in distinct creators.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import logging
import math
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from configs import ConfigError, from_dict, load, packaged, read_yaml
from core.errors import BadInputError
from inference.catalog import Catalog

if TYPE_CHECKING:
    from inference.index import IndexConfig

logger = logging.getLogger(__name__)

STATE_KEY = "trends.state"  # catalog meta key: method, radii and the next free style id
NOISE = -1  # label of a garment that belongs to no style
METHODS = ("kmeans", "density")
GROUPINGS = ("kind", "outfit", "all")
WEIGHTS = ("none", "followers", "log_followers")
PERIODS = ("day", "week")


# --------------------------------------------------------------------------------------
# configs
# --------------------------------------------------------------------------------------
@dataclasses.dataclass
class ClusterConfig:
    """How garments are clustered into styles."""

    method: str = "kmeans"  # kmeans (spherical, k by silhouette) or density (HDBSCAN, noise unassigned)
    group_by: str = "outfit"  # outfit: one vector per frame; kind: styles per garment kind; all: pooled
    # garments averaged into a frame's outfit vector ([]: all; a frame with none of them keeps all of
    # its garments); the full-body crop also holds the room and the creator, which pulls frames
    # together by who posted them rather than by what they wear
    outfit_kinds: list[str] = dataclasses.field(default_factory=lambda: ["top", "bottom"])
    k_min: int = 8  # fewest styles k-means may choose per group (below it, silhouette rewards coarse
    # splits such as full-body shots vs close-ups rather than styles)
    k_max: int = 80  # most styles k-means may choose per group
    k_tolerance: float = 0.1  # take the largest k whose silhouette is within this of the best
    # (a split style costs less than a rising style merged into a background one)
    selection_sample: int = 4000  # vectors sampled to choose k (silhouette) and to fit HDBSCAN
    kmeans_iterations: int = 25  # Lloyd iterations of each k-means
    kmeans_restarts: int = 3  # k-means restarts; the best objective is kept
    split_separation: float = 4.0  # split a k-means cluster whose members fall in two groups this many
    # pooled SDs apart along its main axis (held-out half; one Gaussian style gives ~2.7); 0: never
    merge_separation: float = 3.3  # merge neighbouring k-means clusters whose union scores below this
    # (pieces of one style); below the split threshold, so noise alone does not merge lookalikes; 0: never
    min_cluster_size: int = 8  # HDBSCAN's smallest cluster
    density_selection: str = "leaf"  # HDBSCAN cluster selection: leaf (fine styles) or eom (coarse groups)
    min_style_size: int = 3  # clusters with fewer garments are dissolved (their garments get no style)
    # k-means: garments farther from their centroid than the typical style's median distance plus
    # this many typical robust deviations (but never within a cluster's own median) get no style:
    # mostly strays k-means had to put somewhere; 0: assign all
    noise_mads: float = 3.0
    # garments whose person box came from these localisers get no style (they stay searchable): the
    # centred fallback fires where no detector saw a person, on title cards and empty rooms, and
    # those crops gather into junk styles and pollute real ones
    skip_methods: list[str] = dataclasses.field(default_factory=lambda: ["fallback_center"])
    assign_quantile: float = 0.99  # quantile of member distances that sets a style's radius
    assign_slack: float = 1.25  # radius multiplier when assigning garments outside the fit sample
    match_similarity: float = 0.8  # centroid cosine similarity needed to carry a style id over
    seed: int = 0  # random seed of sampling and k-means
    threads: int = 1  # OpenMP threads faiss k-means may use (0: faiss default); 1 is fastest on a busy box


@dataclasses.dataclass
class NamingConfig:
    """How styles get their names."""

    vocabulary: str | None = None  # YAML vocabulary file; None: packaged fashion_vocabulary.yaml
    top_words: int = 6  # words with scores kept per style
    center: bool = True  # subtract each word's similarity to the mean garment (drops generic words)


@dataclasses.dataclass
class SeriesConfig:
    """How style time series are counted."""

    period: str = "week"  # day or week (weeks start on Monday)
    weight: str = "none"  # none, followers or log_followers: how much one post counts
    min_frames_per_video: int = 1  # frames a video must show a style in to count as a sighting


@dataclasses.dataclass
class RisingConfig:
    """Burst detection: the recent window against the style's own history."""

    recent_days: int = 14  # length of the recent window (down to half of it in the data's first weeks)
    history_days: int = 56  # length of the history window before it
    min_history_days: int = 14  # days of data needed before the recent window to judge at all
    min_creators: int = 3  # distinct creators in the recent window (one creator is not a trend)
    min_new_creators: int = 3  # of those, creators wearing the style for the first time (a trend spreads
    # to new people; fans wearing a staple more often for a while do not make it one)
    min_new_share: float = 0.5  # share of the recent window's creators who wear it for the first time
    min_videos: int = 4  # style videos in the recent window
    min_growth: float = 2.0  # recent share over historical share, at least
    z_threshold: float = 3.0  # Poisson z-score of recent videos against the historical share
    prior_videos: float = 1.0  # pseudo-count added to history (a style never seen is not infinitely rare)


@dataclasses.dataclass
class TrendsConfig:
    """Styles, naming, series and rising score (section of configs/trends.yaml)."""

    cluster: ClusterConfig = dataclasses.field(default_factory=ClusterConfig)  # clustering
    naming: NamingConfig = dataclasses.field(default_factory=NamingConfig)  # naming
    series: SeriesConfig = dataclasses.field(default_factory=SeriesConfig)  # time series
    rising: RisingConfig = dataclasses.field(default_factory=RisingConfig)  # rising / fading


def load_config(user_file: str | Path | None = None) -> TrendsConfig:
    """The packaged trends config with the user's file merged over it."""
    raw = load("trends", user_file)
    sections: dict[str, Any] = {k: raw[k] for k in ("cluster", "naming", "series", "rising") if k in raw}
    config = from_dict(TrendsConfig, sections)
    validate_config(config)
    return config


def validate_config(config: TrendsConfig) -> None:
    """Reject settings that cannot work, with a message naming the setting."""
    c = config.cluster
    checks = [
        (c.method in METHODS, f"cluster.method must be one of {', '.join(METHODS)}"),
        (c.group_by in GROUPINGS, f"cluster.group_by must be one of {', '.join(GROUPINGS)}"),
        (1 <= c.k_min <= c.k_max, "cluster.k_min must be >= 1 and <= cluster.k_max"),
        (config.series.period in PERIODS, f"series.period must be one of {', '.join(PERIODS)}"),
        (config.series.weight in WEIGHTS, f"series.weight must be one of {', '.join(WEIGHTS)}"),
        (config.rising.recent_days >= 1, "rising.recent_days must be >= 1"),
        (0.0 < c.assign_quantile <= 1.0, "cluster.assign_quantile must be in (0, 1]"),
        (c.noise_mads >= 0, "cluster.noise_mads must be >= 0 (0 assigns every garment)"),
        (0.0 <= config.rising.min_new_share <= 1.0, "rising.min_new_share must be in [0, 1]"),
        (isinstance(c.skip_methods, list) and all(isinstance(m, str) for m in c.skip_methods),
         "cluster.skip_methods must be a list of localiser names, e.g. [fallback_center] or []"),
        (isinstance(c.outfit_kinds, list) and set(c.outfit_kinds) <= {"top", "bottom", "full"},
         "cluster.outfit_kinds must be a list of garment kinds (top, bottom, full), e.g. [top, bottom] or []"),
    ]
    for ok, message in checks:
        if not ok:
            raise ConfigError(message)


# --------------------------------------------------------------------------------------
# clustering
# --------------------------------------------------------------------------------------
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


def normalise(vectors: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length, float32, C-contiguous."""
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return np.ascontiguousarray(vectors / np.maximum(norms, 1e-12))


def _nearest(vectors: np.ndarray, centroids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Index of the most similar centroid and the cosine distance to it, in blocks."""
    labels = np.empty(len(vectors), np.int64)
    distances = np.empty(len(vectors), np.float32)
    for start in range(0, len(vectors), 65536):
        sims = vectors[start : start + 65536] @ centroids.T
        best = np.argmax(sims, axis=1)
        labels[start : start + 65536] = best
        distances[start : start + 65536] = 1.0 - sims[np.arange(len(best)), best]
    return labels, np.maximum(distances, 0.0)


def _sample(n: int, size: int, rng: np.random.Generator) -> np.ndarray:
    return np.arange(n) if n <= size else np.sort(rng.choice(n, size, replace=False))


def kmeans_plus_plus(vectors: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    """k-means++ seeds (cosine distance): each next seed drawn in proportion to its squared
    distance from the nearest seed so far. Random seeding (faiss' default) often lands two
    seeds in one style and none in another, and the run never recovers."""
    seeds = [int(rng.integers(len(vectors)))]
    nearest = np.maximum(1.0 - vectors @ vectors[seeds[0]], 0.0)
    for _ in range(1, k):
        weights = nearest**2
        total = float(weights.sum())
        pick = int(rng.choice(len(vectors), p=weights / total)) if total > 0 else int(rng.integers(len(vectors)))
        seeds.append(pick)
        nearest = np.minimum(nearest, np.maximum(1.0 - vectors @ vectors[pick], 0.0))
    return np.ascontiguousarray(vectors[seeds])


def spherical_kmeans(vectors: np.ndarray, k: int, config: ClusterConfig) -> np.ndarray:
    """Unit-length centroids of spherical k-means (faiss, k-means++ seeds, best of restarts)."""
    import faiss

    k = max(1, min(k, len(vectors)))
    if k == 1:
        return normalise(vectors.mean(axis=0, keepdims=True))
    rng = np.random.default_rng(config.seed + k)
    previous = faiss.omp_get_max_threads()
    if config.threads > 0:
        faiss.omp_set_num_threads(config.threads)
    best: tuple[float, np.ndarray] | None = None
    try:
        for restart in range(max(1, config.kmeans_restarts)):
            kmeans = faiss.Kmeans(
                vectors.shape[1], k, niter=config.kmeans_iterations, spherical=True,
                seed=config.seed + restart, min_points_per_centroid=1, max_points_per_centroid=512,
                verbose=False,
            )
            kmeans.train(vectors, init_centroids=kmeans_plus_plus(vectors, k, rng))
            history = np.asarray(kmeans.obj if kmeans.obj is not None else [0.0])
            objective = float(history[-1])  # total similarity to the centroids: higher is better
            if best is None or objective > best[0]:
                best = (objective, np.asarray(kmeans.centroids))
    finally:
        faiss.omp_set_num_threads(previous)
    assert best is not None
    return normalise(best[1])


def _k_grid(k_min: int, k_max: int) -> list[int]:
    """Roughly geometric candidate ks (ratio ~1.3) from k_min to k_max."""
    grid, k = [], float(k_min)
    while k < k_max:
        grid.append(round(k))
        k = max(k * 1.3, k + 1)
    grid.append(k_max)
    return sorted(set(grid))


def cosine_silhouette(vectors: np.ndarray, labels: np.ndarray) -> float:
    """Mean silhouette with cosine distance, exact, in O(n k d) through per-cluster sums.

    For unit vectors the mean distance from x to the members of cluster c is
    ``1 - x . sum_c / n_c`` (excluding x itself from its own cluster), so no pairwise
    distance matrix is needed. Singletons score 0, as in scikit-learn.
    """
    clusters, labels = np.unique(labels, return_inverse=True)
    if len(clusters) < 2:
        return -1.0
    sums = np.zeros((len(clusters), vectors.shape[1]), np.float64)
    np.add.at(sums, labels, vectors)
    sizes = np.bincount(labels, minlength=len(clusters)).astype(np.float64)
    dots = vectors.astype(np.float64) @ sums.T  # (n, k)
    rows = np.arange(len(vectors))
    own_size = sizes[labels]
    self_dot = np.einsum("ij,ij->i", vectors, vectors)
    a = 1.0 - (dots[rows, labels] - self_dot) / np.maximum(own_size - 1, 1)
    mean_to = 1.0 - dots / sizes[None, :]
    mean_to[rows, labels] = np.inf
    b = mean_to.min(axis=1)
    scores = np.where(own_size > 1, (b - a) / np.maximum(np.maximum(a, b), 1e-12), 0.0)
    return float(scores.mean())


def choose_k(vectors: np.ndarray, config: ClusterConfig) -> tuple[int, dict[int, float]]:
    """Number of styles for ``vectors`` by cosine silhouette on a sample.

    A coarse geometric grid of k is scored first, then every k between the neighbours of
    the largest grid k whose silhouette is within ``k_tolerance`` of the best; the
    answer is the largest k within that tolerance. Returns the best k and the silhouette of each k tried. Data with no spread
    (all garments identical) gets k = 1.
    """
    rng = np.random.default_rng(config.seed)
    sample = vectors[_sample(len(vectors), config.selection_sample, rng)]
    spread = 1.0 - float(np.min(sample @ sample[: min(len(sample), 256)].T)) if len(sample) else 0.0
    if len(sample) < 3 or spread < 1e-4 or len(vectors) < 2 * max(1, config.min_style_size):
        return 1, {}  # one style: no spread, or too few garments for two styles to each be kept
    # no more styles than could each reach min_style_size (a small catalog would otherwise be
    # cut into clusters that are all dissolved, leaving no style at all), and for a catalog
    # that small the silhouette also gets to choose below k_min
    k_cap = max(2, len(vectors) // max(1, config.min_style_size))
    k_min = min(config.k_min, max(2, k_cap // 2))
    k_max = max(k_min, min(config.k_max, len(sample) - 1, k_cap))
    scores: dict[int, float] = {}

    quick = dataclasses.replace(config, kmeans_restarts=1)  # one run per k while choosing

    def score(k: int) -> float:
        if k not in scores:
            labels, _ = _nearest(sample, spherical_kmeans(sample, k, quick))
            scores[k] = cosine_silhouette(sample, labels) if len(np.unique(labels)) < len(sample) else -1.0
        return scores[k]

    grid = _k_grid(max(2, k_min), max(2, k_max))
    top = max(scores[k] for k in grid if score(k) > -2)
    # the finest grid k whose silhouette is near the best, refined between its neighbours
    floor = top - config.k_tolerance
    at = max(i for i, k in enumerate(grid) if scores[k] >= floor)
    low, high = grid[max(0, at - 1)], grid[min(len(grid) - 1, at + 1)]
    for k in range(low, high + 1, max(1, (high - low) // 8)):
        score(k)
    top = max(scores.values())
    best = max(k for k, v in scores.items() if v >= top - config.k_tolerance)
    if config.k_min == 1 and top < 0.05:
        return 1, scores
    return best, scores


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


def _radius(distances: np.ndarray, config: ClusterConfig) -> float:
    if len(distances) == 0:
        return 0.0
    return float(np.quantile(distances, config.assign_quantile)) * config.assign_slack + 1e-4


def _kmeans_group(vectors: np.ndarray, config: ClusterConfig) -> tuple[np.ndarray, dict[int, float]]:
    k, scores = choose_k(vectors, config)
    logger.info("k-means: %d vectors -> k=%d (silhouette %.3f)", len(vectors), k, scores.get(k, 0.0))
    centroids = spherical_kmeans(vectors, k, config)
    if config.split_separation > 0 or config.merge_separation > 0:
        centroids = refine_clusters(vectors, centroids, config)
    return centroids, scores


def bimodality(members: np.ndarray, rng: np.random.Generator, min_side: int = 4, repeats: int = 5) -> float:
    """How clearly ``members`` fall into two groups: separation of the best two-group split
    of their projections on the main axis, in pooled standard deviations.

    The axis (first principal component) is fitted on a random half and the split is scored
    on the other half, so noise in many dimensions does not look like structure: one
    Gaussian cloud gives about 2.7 (the two halves of a normal distribution), two groups
    ``delta`` apart along the axis give about ``delta / sd``. The median over ``repeats``
    random halvings is returned; fewer than ``4 * min_side`` members score 0.
    """
    n = len(members)
    if n < 4 * min_side:
        return 0.0
    scores = []
    for _ in range(repeats):
        order = rng.permutation(n)
        fit, test = members[order[: n // 2]], members[order[n // 2 :]]
        mean = fit.mean(axis=0)
        axis = _main_axis(fit - mean, rng)
        projected = np.asarray((test - mean) @ axis, np.float64)
        scores.append(_split_separation(np.sort(projected), min_side))
    return float(np.median(scores))


def _main_axis(centred: np.ndarray, rng: np.random.Generator, steps: int = 30) -> np.ndarray:
    """First principal axis of centred rows by power iteration (an SVD costs far more here)."""
    axis = np.asarray(rng.normal(size=centred.shape[1]), centred.dtype)
    for _ in range(steps):
        axis = centred.T @ (centred @ axis)
        axis /= max(float(np.linalg.norm(axis)), 1e-12)
    return axis


def _split_separation(x: np.ndarray, min_side: int) -> float:
    """Separation (pooled SDs) of the two-means split of sorted 1-D values ``x``."""
    m = len(x)
    at = np.arange(min_side, m - min_side + 1)  # left group = x[:at]
    if len(at) == 0:
        return 0.0
    sums, squares = np.cumsum(x), np.cumsum(x * x)
    left_mean = sums[at - 1] / at
    right_mean = (sums[-1] - sums[at - 1]) / (m - at)
    sse = squares[-1] - at * left_mean**2 - (m - at) * right_mean**2
    best = int(np.argmin(sse))
    return float(abs(right_mean[best] - left_mean[best]) / np.sqrt(max(float(sse[best]), 1e-12) / (m - 2)))


def refine_clusters(vectors: np.ndarray, centroids: np.ndarray, config: ClusterConfig) -> np.ndarray:
    """Split k-means clusters that hold two styles and merge neighbours that are one style.

    Silhouette-chosen k-means at a fixed k would rather cut a large style in two than
    separate a small lookalike style from the one it copies (the cut lowers the total
    distance more), so a rising style can hide inside a flat lookalike while a big style is
    cut in pieces. A cluster whose members fall in two groups (:func:`bimodality` at
    ``split_separation`` or more) is cut by 2-means, and its children are tested in turn
    (up to ``k_max`` clusters); then the nearest pair of clusters whose union scores below
    ``merge_separation`` (one group) is merged, again and again. A few Lloyd steps settle the centroids.
    """
    rng = np.random.default_rng(config.seed)
    labels, _ = _nearest(vectors, centroids)
    groups = [np.flatnonzero(labels == c) for c in range(len(centroids))]
    split = _split_mixed(vectors, groups, config, rng) if config.split_separation > 0 else groups
    merged = _merge_pieces(vectors, split, config, rng) if config.merge_separation > 0 else split
    if len(split) == len(groups) and len(merged) == len(split):
        return centroids
    logger.info("k-means: %d clusters, %d after splitting mixed ones, %d after merging pieces of one style",
                len(groups), len(split), len(merged))
    centroids = np.stack([_mean_direction(vectors[rows]) for rows in merged if len(rows)])
    for _ in range(3):  # Lloyd steps over every garment
        labels, _ = _nearest(vectors, centroids)
        sums = np.zeros_like(centroids)
        np.add.at(sums, labels, vectors)
        counts = np.bincount(labels, minlength=len(centroids))
        centroids = normalise(sums[counts > 0])
    return centroids


def _mean_direction(members: np.ndarray) -> np.ndarray:
    return normalise(members.mean(axis=0, keepdims=True))[0]


def _two_groups(vectors: np.ndarray, rows: np.ndarray, config: ClusterConfig, rng: np.random.Generator) -> float:
    sample = rows[_sample(len(rows), min(config.selection_sample, 1000), rng)]
    return bimodality(vectors[sample], rng, max(4, config.min_style_size))


def _split_mixed(vectors: np.ndarray, groups: list[np.ndarray], config: ClusterConfig,
                 rng: np.random.Generator) -> list[np.ndarray]:
    quick = dataclasses.replace(config, kmeans_restarts=1)
    min_side = max(4, config.min_style_size)
    queue, done = list(groups), list[np.ndarray]()
    while queue:
        rows = queue.pop()
        if len(done) + len(queue) + 2 <= config.k_max and _two_groups(vectors, rows, config, rng) >= config.split_separation:
            sample = rows[_sample(len(rows), min(config.selection_sample, 1000), rng)]
            halves, _ = _nearest(vectors[rows], spherical_kmeans(vectors[sample], 2, quick))
            children = [rows[halves == h] for h in (0, 1)]
            if min(len(c) for c in children) >= min_side:
                queue += children
                continue
        done.append(rows)
    return done[::-1]


def _merge_pieces(vectors: np.ndarray, groups: list[np.ndarray], config: ClusterConfig,
                  rng: np.random.Generator) -> list[np.ndarray]:
    """Merge, nearest pair first, neighbouring clusters whose union is one group.

    Only pairs whose smaller cluster is large enough for :func:`bimodality` to see it (four
    times the smallest side) are tested: a handful of garments of another style would
    pass unseen and be swallowed.
    """
    groups = list(groups)
    testable = 4 * max(4, config.min_style_size)
    one_group: dict[tuple[int, int], bool] = {}  # (id, id) -> union tested as one group
    ids = list(range(len(groups)))
    next_id = len(groups)
    while len(groups) > 1:
        centroids = np.stack([_mean_direction(vectors[rows]) for rows in groups])
        sims = centroids @ centroids.T
        np.fill_diagonal(sims, -np.inf)
        candidates = sorted({(min(i, j), max(i, j)) for i, j in enumerate(np.argmax(sims, axis=1))},
                            key=lambda pair: -sims[pair])
        for i, j in candidates:
            if min(len(groups[i]), len(groups[j])) < testable:
                continue
            key = (ids[i], ids[j])
            if key not in one_group:
                union = np.concatenate([groups[i], groups[j]])
                one_group[key] = _two_groups(vectors, union, config, rng) < config.merge_separation
            if one_group[key]:
                groups[i] = np.concatenate([groups[i], groups[j]])
                ids[i] = next_id
                next_id += 1
                del groups[j], ids[j]
                break
        else:
            break
    return groups


def _density_group(vectors: np.ndarray, config: ClusterConfig) -> tuple[np.ndarray, list[float]]:
    """Centroids of the HDBSCAN clusters found in a sample, and radii from their members."""
    from sklearn.cluster import HDBSCAN

    rng = np.random.default_rng(config.seed)
    sample = vectors[_sample(len(vectors), config.selection_sample, rng)]
    if len(sample) < max(2, config.min_cluster_size):
        centroid = normalise(sample.mean(axis=0, keepdims=True))
        return centroid, [_radius(1.0 - sample @ centroid[0], config)]
    labels = HDBSCAN(min_cluster_size=config.min_cluster_size, cluster_selection_method=config.density_selection,
                     copy=True).fit_predict(sample)
    centroids, radii = [], []
    for c in np.unique(labels[labels >= 0]):
        members = sample[labels == c]
        centroid = normalise(members.mean(axis=0, keepdims=True))[0]
        centroids.append(centroid)
        radii.append(_radius(1.0 - members @ centroid, config))
    logger.info("HDBSCAN: %d of %d sampled garments in %d clusters", int((labels >= 0).sum()), len(sample), len(centroids))
    if not centroids:
        return np.zeros((0, vectors.shape[1]), np.float32), []
    return np.stack(centroids), radii


def _assign_group(
    vectors: np.ndarray, centroids: np.ndarray, config: ClusterConfig, radii: list[float] | None = None
) -> tuple[np.ndarray, np.ndarray, list[float]]:
    """Labels, distances and radii of a group.

    With ``radii`` (density clusters, from the fitted members), garments outside their
    nearest cluster's radius are noise; otherwise (k-means) garments beyond
    :func:`noise_limits` are noise (k-means puts every garment somewhere, and those far
    ones are mostly strays: half-seen people, rare styles that got no cluster), and the
    radii are set from the members' distances.
    """
    if len(centroids) == 0:
        return np.full(len(vectors), NOISE), np.full(len(vectors), np.nan, np.float32), []
    labels, distances = _nearest(vectors, centroids)
    if radii is None:
        limits = np.full(len(centroids), np.inf)
        if config.noise_mads > 0 and len(distances):
            limits = noise_limits(distances, labels, len(centroids), config.noise_mads)
            labels[distances > limits[labels]] = NOISE
        # new garments are held to the same limits as the run's own
        radii = [min(_radius(distances[labels == c], config), float(limits[c])) for c in range(len(centroids))]
    else:
        labels[distances > np.asarray(radii)[labels]] = NOISE
    return labels, distances, radii


def _groups(kinds: Sequence[str], frame_ids: np.ndarray, group_by: str) -> dict[str | None, np.ndarray]:
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
        for cluster in result.clusters:
            cluster.kind = "outfit"
        return Clustering(result.labels[frame_of], result.distances[frame_of], result.clusters, result.selection)
    labels = np.full(len(vectors), NOISE, np.int64)
    distances = np.full(len(vectors), np.nan, np.float32)
    clusters: list[Cluster] = []
    selection: dict[str, dict[int, float]] = {}
    for kind, rows in _groups(kinds, np.asarray(frame_ids), config.group_by).items():
        if len(rows) == 0:
            continue
        group = vectors[rows]
        fitted_radii: list[float] | None = None
        if config.method == "kmeans":
            centroids, selection[str(kind)] = _kmeans_group(group, config)
        else:
            centroids, fitted_radii = _density_group(group, config)
        group_labels, group_distances, radii = _assign_group(group, centroids, config, fitted_radii)
        keep = group_labels >= 0
        labels[rows[keep]] = group_labels[keep] + len(clusters)
        distances[rows[keep]] = group_distances[keep]
        for c in range(len(centroids)):
            size = int((group_labels == c).sum())
            clusters.append(Cluster(kind, centroids[c], size, radii[c]))
    return _drop_small(Clustering(labels, distances, clusters, selection), config.min_style_size)


def _drop_small(clustering: Clustering, min_size: int) -> Clustering:
    """Dissolve clusters below ``min_size`` garments and renumber the rest."""
    keep = [i for i, c in enumerate(clustering.clusters) if c.size >= max(1, min_size)]
    remap = np.full(len(clustering.clusters) + 1, NOISE, np.int64)
    remap[keep] = np.arange(len(keep))
    labels = np.where(clustering.labels >= 0, remap[clustering.labels], NOISE)
    distances = np.where(labels >= 0, clustering.distances, np.nan).astype(np.float32)
    return Clustering(labels, distances, [clustering.clusters[i] for i in keep], clustering.selection)


# --------------------------------------------------------------------------------------
# identity across runs
# --------------------------------------------------------------------------------------
@dataclasses.dataclass
class Style:
    """A style as stored in the catalog."""

    id: int
    name: str
    words: list[dict[str, Any]]  # [{"word", "score", "category"}], best first
    kind: str | None
    centroid: np.ndarray
    size: int
    radius: float


def match_styles(
    previous: Sequence[Style], clusters: Sequence[Cluster], min_similarity: float, next_id: int
) -> list[int]:
    """Style id for each new cluster: the previous style it matches, or a fresh id.

    Clusters and previous styles of the same kind are paired by maximum total centroid
    similarity (Hungarian algorithm); a pair counts only at ``min_similarity`` or more.
    Fresh ids start at ``next_id`` and are never reused.
    """
    from scipy.optimize import linear_sum_assignment

    ids = [-1] * len(clusters)
    for kind in {c.kind for c in clusters}:
        new_rows = [i for i, c in enumerate(clusters) if c.kind == kind]
        old = [s for s in previous if s.kind == kind and s.centroid is not None]
        if not old:
            continue
        sims = np.stack([clusters[i].centroid for i in new_rows]) @ np.stack([s.centroid for s in old]).T
        rows, cols = linear_sum_assignment(-sims)
        for r, c in zip(rows, cols, strict=True):
            if sims[r, c] >= min_similarity:
                ids[new_rows[r]] = old[c].id
    for i in range(len(ids)):
        if ids[i] < 0:
            ids[i] = next_id
            next_id += 1
    return ids


# --------------------------------------------------------------------------------------
# naming
# --------------------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class Vocabulary:
    """Fashion words by category, how to phrase them, and which categories make a name."""

    words: dict[str, list[str]]  # category -> words
    prompt: str = "a photo of {word} clothing"  # phrasing for the text encoder
    name_from: tuple[str, ...] = ()  # categories whose best word goes into the name, in order

    def entries(self) -> list[tuple[str, str]]:
        """(category, word) pairs, in file order."""
        return [(category, word) for category, words in self.words.items() for word in words]


def load_vocabulary(path: str | Path | None = None) -> Vocabulary:
    """Read a vocabulary YAML (``words: {category: [word, ...]}``, optional ``prompt``, ``name_from``).

    Raises:
        BadInputError: the file is missing, empty, not YAML, or not shaped as above.
    """
    path = Path(path) if path else packaged("fashion_vocabulary")
    try:
        raw = read_yaml(path)
    except ConfigError as exc:
        raise BadInputError(f"style vocabulary: {exc}") from None
    words = raw.get("words")
    if not isinstance(words, dict) or not words:
        raise BadInputError(f"style vocabulary {path} has no 'words' mapping of category -> list of words")
    clean: dict[str, list[str]] = {}
    for category, entries in words.items():
        if not isinstance(entries, list) or not all(isinstance(w, str) and w.strip() for w in entries):
            raise BadInputError(f"style vocabulary {path}: category {category!r} must be a list of non-empty words")
        if entries:
            clean[str(category)] = [w.strip() for w in entries]
    if not clean:
        raise BadInputError(f"style vocabulary {path} holds no words")
    prompt = raw.get("prompt", "a photo of {word} clothing")
    if not isinstance(prompt, str) or "{word}" not in prompt:
        raise BadInputError(f"style vocabulary {path}: 'prompt' must be a string containing {{word}}")
    name_from = raw.get("name_from", list(clean))
    if not isinstance(name_from, list) or not set(name_from) <= set(clean):
        raise BadInputError(f"style vocabulary {path}: 'name_from' must list categories of 'words'")
    return Vocabulary(clean, prompt, tuple(name_from))


def embed_vocabulary(vocabulary: Vocabulary, encoder: Any) -> np.ndarray:
    """Text embeddings (W, D) of every vocabulary word, phrased with the vocabulary's prompt."""
    texts = [vocabulary.prompt.format(word=word) for _, word in vocabulary.entries()]
    return normalise(np.asarray(encoder.encode_text(texts), np.float32))


def name_styles(
    centroids: np.ndarray,
    vocabulary: Vocabulary,
    word_vectors: np.ndarray,
    config: NamingConfig,
    reference: np.ndarray | None = None,
) -> list[tuple[str, list[dict[str, Any]]]]:
    """A name and the top words (with scores) for each centroid.

    A word's score is its cosine similarity to the centroid, minus (when ``config.center``)
    its similarity to ``reference`` (the mean garment), so that words close to every garment
    do not name every style. The name joins the best word of each ``name_from`` category
    that scores above zero (the garment word is always kept), leaving out a word a later part
    repeats ("mini" before "mini skirt"); duplicate names get a suffix.
    """
    entries = vocabulary.entries()
    scores = centroids @ word_vectors.T
    if config.center and reference is not None and len(centroids) > 1:
        scores = scores - (normalise(reference.reshape(1, -1)) @ word_vectors.T)
    categories = np.asarray([c for c, _ in entries], dtype=object)
    named: list[tuple[str, list[dict[str, Any]]]] = []
    seen: dict[str, int] = defaultdict(int)
    for row in scores:
        order = np.argsort(-row)[: config.top_words]
        words = [{"word": entries[i][1], "score": round(float(row[i]), 4), "category": entries[i][0]} for i in order]
        parts = []
        for n, category in enumerate(vocabulary.name_from):
            members = np.flatnonzero(categories == category)
            best = members[np.argmax(row[members])]
            if row[best] > 0 or n == len(vocabulary.name_from) - 1:
                parts.append(entries[best][1])
        # a word that a later part repeats says nothing ("mini mini skirt", "denim denim jacket")
        parts = [p for i, p in enumerate(parts) if not any(set(p.split()) <= set(q.split()) for q in parts[i + 1 :])]
        name = " ".join(parts) or words[0]["word"]
        seen[name] += 1
        named.append((name if seen[name] == 1 else f"{name} ({seen[name]})", words))
    return named


# --------------------------------------------------------------------------------------
# catalog persistence
# --------------------------------------------------------------------------------------
def _state(catalog: Catalog) -> dict[str, Any]:
    raw = catalog.get_meta(STATE_KEY)
    return json.loads(raw) if raw else {}


def load_styles(catalog: Catalog) -> list[Style]:
    """Every style in the catalog, by id."""
    radii = {int(k): float(v) for k, v in _state(catalog).get("radii", {}).items()}
    styles = []
    for row in catalog.conn.execute("SELECT id, name, words, kind, centroid, size FROM styles ORDER BY id"):
        centroid = np.frombuffer(row[4], np.float32).copy() if row[4] is not None else None
        styles.append(Style(row[0], row[1], json.loads(row[2]), row[3], centroid, row[5], radii.get(row[0], 0.0)))  # type: ignore[arg-type]
    return styles


def garment_kinds(catalog: Catalog, ids: np.ndarray,
                  skip_methods: Sequence[str] = ()) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Kinds and frame ids of the garments ``ids`` that exist in done videos and were not
    located by one of ``skip_methods``, and a mask of those."""
    skip = set(skip_methods)
    known: dict[int, tuple[str, int]] = {
        row[0]: (row[1], row[2])
        for row in catalog.conn.execute(
            "SELECT g.id, g.kind, g.frame_id, g.method FROM garments g JOIN videos v ON v.id = g.video_id "
            "WHERE v.status = 'done'"
        )
        if row[3] not in skip
    }
    mask = np.asarray([int(i) in known for i in ids], bool)
    kinds = [known[int(i)][0] for i in ids[mask]]
    frames = np.asarray([known[int(i)][1] for i in ids[mask]], np.int64)
    return kinds, frames, mask


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def save_styles(
    catalog: Catalog,
    styles: Sequence[Style],
    garment_ids: np.ndarray,
    style_ids: np.ndarray,
    distances: np.ndarray,
    state: dict[str, Any],
) -> None:
    """Replace the catalog's styles and garment assignments in one transaction."""
    now = _now()
    keep = style_ids >= 0
    pairs = list(zip(garment_ids[keep].tolist(), style_ids[keep].tolist(), distances[keep].tolist(), strict=True))
    with catalog.transaction() as tx:
        old_ids = {r[0] for r in tx.execute("SELECT id FROM styles")}
        tx.execute("DELETE FROM garment_styles")
        for style_id in old_ids - {s.id for s in styles}:
            tx.execute("DELETE FROM styles WHERE id = ?", (style_id,))
        for s in styles:
            values = (s.name, json.dumps(s.words), s.kind, s.centroid.astype(np.float32).tobytes(), s.size, now)
            if s.id in old_ids:
                tx.execute(
                    "UPDATE styles SET name=?, words=?, kind=?, centroid=?, size=?, updated_at=? WHERE id=?",
                    (*values, s.id),
                )
            else:
                tx.execute(
                    "INSERT INTO styles(name, words, kind, centroid, size, updated_at, id, created_at) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    (*values, s.id, now),
                )
        tx.executemany("INSERT INTO garment_styles(garment_id, style_id, distance) VALUES (?, ?, ?)", pairs)
        tx.execute("INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)", (STATE_KEY, json.dumps(state)))


@dataclasses.dataclass
class ReclusterResult:
    """What a full clustering run did."""

    styles: list[Style]
    assigned: int  # garments given a style
    unassigned: int  # garments left without one (noise / dissolved clusters)
    kept_ids: int  # styles that kept the id of a previous run's style
    new_ids: int  # styles with a fresh id
    retired_ids: list[int]  # previous styles no cluster matched
    selection: dict[str, dict[int, float]]


def recluster(
    catalog: Catalog,
    ids: np.ndarray,
    vectors: np.ndarray,
    config: TrendsConfig,
    encoder: Any | None = None,
    vocabulary: Vocabulary | None = None,
    encoder_version: str | None = None,
) -> ReclusterResult:
    """Full run: cluster every garment, keep style ids by centroid matching, name, save.

    Args:
        catalog: the deployment's catalog (styles and garment_styles are rewritten).
        ids: garment ids of ``vectors`` (garments not in the catalog are ignored).
        vectors: (N, D) garment embeddings.
        config: trends settings.
        encoder: the encoder that made ``vectors`` (its text tower names the styles);
            None names styles "style <id>".
        vocabulary: words to name styles with; default from ``config.naming``.
        encoder_version: version of the encoder that made ``vectors``, kept so that
            :func:`update_styles` clusters afresh when the index moves to another encoder.

    Raises:
        BadInputError: there are no garments to cluster.
    """
    ids = np.asarray(ids, np.int64)
    kinds, frames, mask = garment_kinds(catalog, ids, config.cluster.skip_methods)
    if not mask.any():
        if len(ids) and garment_kinds(catalog, ids)[2].any():
            raise BadInputError(
                f"no garments to cluster: every garment was located by {', '.join(config.cluster.skip_methods)} "
                "(no person detected); set cluster.skip_methods: [] in a --config file to cluster them anyway"
            )
        raise BadInputError("no garments to cluster: the catalog (or its index) is empty; ingest videos first")
    ids, vectors = ids[mask], normalise(np.asarray(vectors)[mask])
    clustering = cluster_garments(vectors, kinds, frames, config.cluster)
    previous = load_styles(catalog)
    state = _state(catalog)
    next_id = max([int(state.get("next_style_id", 1))] + [s.id + 1 for s in previous])
    style_ids = match_styles(previous, clustering.clusters, config.cluster.match_similarity, next_id)
    names = _names(clustering, vectors, config.naming, encoder, vocabulary, style_ids)
    styles = [
        Style(sid, name, words, c.kind, c.centroid, c.size, c.radius)
        for sid, c, (name, words) in zip(style_ids, clustering.clusters, names, strict=True)
    ]
    labels = clustering.labels
    garment_style = np.where(labels >= 0, np.asarray([*style_ids, NOISE], np.int64)[labels], NOISE)
    new_state = {
        "method": config.cluster.method,
        "group_by": config.cluster.group_by,
        "skip_methods": list(config.cluster.skip_methods),
        "outfit_kinds": list(config.cluster.outfit_kinds),
        "noise_mads": config.cluster.noise_mads,
        "radii": {str(s.id): s.radius for s in styles},
        "next_style_id": max([next_id, *[s + 1 for s in style_ids]]),
        "clustered_at": _now(),
        "garments": len(ids),
        "encoder_version": encoder_version,  # of the embeddings clustered (None: not known)
    }
    save_styles(catalog, styles, ids, garment_style, clustering.distances, new_state)
    previous_ids = {s.id for s in previous}
    kept = len(previous_ids & set(style_ids))
    result = ReclusterResult(
        styles, int((labels >= 0).sum()), int((labels < 0).sum()), kept, len(styles) - kept,
        sorted(previous_ids - set(style_ids)), clustering.selection,
    )
    logger.info("clustered %d garments into %d styles (%d kept their id, %d new, %d retired)",
                len(ids), len(styles), result.kept_ids, result.new_ids, len(result.retired_ids))
    return result


def _names(
    clustering: Clustering,
    vectors: np.ndarray,
    config: NamingConfig,
    encoder: Any | None,
    vocabulary: Vocabulary | None,
    style_ids: list[int],
) -> list[tuple[str, list[dict[str, Any]]]]:
    if encoder is None or not clustering.clusters:
        return [(f"style {sid}", []) for sid in style_ids]
    vocabulary = vocabulary or load_vocabulary(config.vocabulary)
    word_vectors = embed_vocabulary(vocabulary, encoder)
    if word_vectors.shape[1] != vectors.shape[1]:
        raise BadInputError(
            f"the naming encoder's text vectors have {word_vectors.shape[1]} dimensions but the "
            f"garment embeddings have {vectors.shape[1]}: name styles with the encoder of the index"
        )
    centroids = np.stack([c.centroid for c in clustering.clusters])
    return name_styles(centroids, vocabulary, word_vectors, config, reference=vectors.mean(axis=0))


@dataclasses.dataclass
class AssignResult:
    """What an incremental assignment did."""

    considered: int  # garments that had no style yet
    assigned: int  # of those, garments now in a style


def assign_new_garments(catalog: Catalog, ids: np.ndarray, vectors: np.ndarray) -> AssignResult:
    """Give garments that have no style yet the nearest style of their kind, within its radius.

    Garments outside every radius stay unassigned until the next full run. Style sizes are
    updated. Without any style yet, nothing is assigned (run a full clustering first).
    """
    styles = [s for s in load_styles(catalog) if s.centroid is not None]
    have = {r[0] for r in catalog.conn.execute("SELECT garment_id FROM garment_styles")}
    state = _state(catalog)
    ids = np.asarray(ids, np.int64)
    fresh = np.asarray([int(i) not in have for i in ids], bool)
    ids, vectors = ids[fresh], np.asarray(vectors)[fresh]
    kinds, frames, mask = garment_kinds(catalog, ids, state.get("skip_methods", ()))
    ids, vectors = ids[mask], normalise(vectors[mask])
    if not styles or len(ids) == 0:
        return AssignResult(len(ids), 0)
    group_by = state.get("group_by", "kind")
    if group_by == "outfit":
        frame_vectors, frame_of = outfit_vectors(vectors, frames, kinds, state.get("outfit_kinds", ()))
        vectors, kinds = frame_vectors[frame_of], ["outfit"] * len(ids)
    pairs = _assign_to_styles(styles, ids, vectors, kinds, group_by)
    with catalog.transaction() as tx:
        tx.executemany("INSERT OR REPLACE INTO garment_styles(garment_id, style_id, distance) VALUES (?, ?, ?)", pairs)
        tx.execute(
            "UPDATE styles SET size = (SELECT COUNT(*) FROM garment_styles gs WHERE gs.style_id = styles.id), "
            "updated_at = ?",
            (_now(),),
        )
    return AssignResult(len(ids), len(pairs))


def _assign_to_styles(
    styles: Sequence[Style], ids: np.ndarray, vectors: np.ndarray, kinds: Sequence[str], group_by: str
) -> list[tuple[int, int, float]]:
    pairs: list[tuple[int, int, float]] = []
    kind_array = np.asarray(kinds, dtype=object)
    for kind in sorted(set(kinds)):
        candidates = [s for s in styles if group_by == "all" or s.kind == kind]
        rows = np.flatnonzero(kind_array == kind)
        if not candidates or len(rows) == 0:
            continue
        labels, distances = _nearest(vectors[rows], np.stack([s.centroid for s in candidates]))
        radii = np.asarray([s.radius for s in candidates])
        for row, label, distance in zip(rows, labels, distances, strict=True):
            if distance <= radii[label]:
                pairs.append((int(ids[row]), candidates[label].id, float(distance)))
    return pairs


# --------------------------------------------------------------------------------------
# sightings and time series
# --------------------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class Sighting:
    """One style seen in one video: what the series, the rising score and originators count."""

    style_id: int
    video_id: int
    creator: str
    followers: int
    day: dt.date  # the video's posted_at
    garments: int  # garments of the style in the video
    frames: int  # distinct frames showing the style
    video_frames: int  # distinct frames of the video where a person was found (styled or noise)
    distance: float  # median distance of those garments to the style's centroid
    garment_id: int  # the garment nearest the centroid (the evidence)
    t_s: float  # its moment in the video
    crop_path: str  # its crop, relative to the data directory


@dataclasses.dataclass(frozen=True)
class Post:
    """One video: the denominator of every share."""

    video_id: int
    creator: str
    followers: int
    day: dt.date


@dataclasses.dataclass
class TrendData:
    """Everything the reports are computed from, loaded once from the catalog."""

    sightings: list[Sighting]
    posts: list[Post]
    styles: dict[int, Style]
    future_videos: int = 0  # videos skipped because posted_at is after ``as_of``
    undated_videos: int = 0  # videos skipped because they have no posted_at

    @property
    def first_day(self) -> dt.date | None:
        return min((p.day for p in self.posts), default=None)

    @property
    def last_day(self) -> dt.date | None:
        return max((p.day for p in self.posts), default=None)


_SIGHTING_SELECT = """
    SELECT gs.style_id, g.video_id, g.frame_id, gs.distance, g.id, f.t_s, g.crop_path
    FROM garment_styles gs
    JOIN garments g ON g.id = gs.garment_id
    JOIN frames f ON f.id = g.frame_id
    JOIN videos v ON v.id = g.video_id
    WHERE v.status = 'done'
    ORDER BY gs.style_id, g.video_id, gs.distance
"""


def _parse_day(value: str | None) -> dt.date | None:
    if not value:
        return None
    try:
        return dt.date.fromisoformat(value[:10])
    except ValueError:
        return None


def load_trend_data(catalog: Catalog, as_of: dt.date | None = None, min_frames: int = 1) -> TrendData:
    """Posts and style sightings from the catalog, as of a day.

    Videos posted after ``as_of`` (default today) are left out and counted: a post from
    the future is a data error, not an early trend.
    """
    as_of = as_of or dt.date.today()
    posts: dict[int, Post] = {}
    future = undated = 0
    for row in catalog.conn.execute(
        "SELECT v.id, c.handle, c.followers, v.posted_at FROM videos v "
        "JOIN creators c ON c.id = v.creator_id WHERE v.status = 'done'"
    ):
        day = _parse_day(row[3])
        if day is None:
            undated += 1
        elif day > as_of:
            future += 1
        else:
            posts[row[0]] = Post(row[0], row[1], row[2], day)
    if future:
        logger.warning("%d videos are posted after %s (in the future): left out of trends", future, as_of)
    if undated:
        logger.warning("%d videos have no usable posted_at date: left out of trends", undated)
    sightings = _sightings(catalog, posts, min_frames)
    styles = {s.id: s for s in load_styles(catalog)}
    return TrendData(sightings, sorted(posts.values(), key=lambda p: (p.day, p.video_id)), styles, future, undated)


def _sightings(catalog: Catalog, posts: dict[int, Post], min_frames: int) -> list[Sighting]:
    groups: dict[tuple[int, int], list[tuple[Any, ...]]] = defaultdict(list)
    for row in catalog.conn.execute(_SIGHTING_SELECT):
        if row[1] in posts:
            groups[(row[0], row[1])].append(row)
    # a video's frames are those where a person was found, styled or left out as noise
    skipped = list(_state(catalog).get("skip_methods", []))
    where = f" WHERE method NOT IN ({','.join('?' * len(skipped))})" if skipped else ""
    video_frames = dict(catalog.conn.execute(
        f"SELECT video_id, COUNT(DISTINCT frame_id) FROM garments{where} GROUP BY video_id", skipped
    ).fetchall())
    sightings = []
    for (style_id, video_id), rows in groups.items():
        frames = len({r[2] for r in rows})
        if frames < min_frames:
            continue
        post, best = posts[video_id], rows[0]  # rows are sorted by distance
        sightings.append(
            Sighting(style_id, video_id, post.creator, post.followers, post.day, len(rows), frames,
                     max(frames, video_frames.get(video_id, 0)), float(np.median([r[3] for r in rows])), best[4],
                     float(best[5]), best[6])
        )
    sightings.sort(key=lambda s: (s.day, s.video_id, s.style_id))
    return sightings


def post_weight(followers: int, weight: str) -> float:
    """How much one post counts: 1, its follower count, or log10(1 + followers)."""
    if weight == "followers":
        return float(followers)
    if weight == "log_followers":
        return math.log10(1.0 + followers)
    return 1.0


def period_start(day: dt.date, period: str) -> dt.date:
    """First day of the period (day, or Monday-started week) holding ``day``."""
    return day - dt.timedelta(days=day.weekday()) if period == "week" else day


@dataclasses.dataclass
class StyleSeries:
    """Counts per period for one style."""

    garments: np.ndarray  # garments of the style
    videos: np.ndarray  # videos showing it
    creators: np.ndarray  # distinct creators showing it
    weighted: np.ndarray  # videos weighted by the series weight
    share: np.ndarray  # weighted videos / weighted posts of the period (0 where no posts)


@dataclasses.dataclass
class SeriesSet:
    """Per-style series over common periods."""

    period: str
    periods: list[dt.date]  # first day of each period
    posts: np.ndarray  # all posts per period (weighted)
    styles: dict[int, StyleSeries]


def style_series(data: TrendData, config: SeriesConfig, start: dt.date | None = None,
                 end: dt.date | None = None) -> SeriesSet:
    """Per-period counts for every style over ``[start, end]`` (default: all data)."""
    start = start or data.first_day
    end = end or data.last_day
    if start is None or end is None:
        return SeriesSet(config.period, [], np.zeros(0), {})
    first, last = period_start(start, config.period), period_start(end, config.period)
    step = 7 if config.period == "week" else 1
    periods = [first + dt.timedelta(days=d) for d in range(0, (last - first).days + 1, step)]
    slot = {p: i for i, p in enumerate(periods)}
    posts = np.zeros(len(periods))
    for post in data.posts:
        if start <= post.day <= end:
            posts[slot[period_start(post.day, config.period)]] += post_weight(post.followers, config.weight)
    series: dict[int, StyleSeries] = {}
    creators: dict[tuple[int, int], set[str]] = defaultdict(set)
    for s in data.sightings:
        if not start <= s.day <= end:
            continue
        if s.style_id not in series:
            series[s.style_id] = StyleSeries(*(np.zeros(len(periods)) for _ in range(5)))
        i = slot[period_start(s.day, config.period)]
        entry = series[s.style_id]
        entry.garments[i] += s.garments
        entry.videos[i] += 1
        entry.weighted[i] += post_weight(s.followers, config.weight)
        creators[(s.style_id, i)].add(s.creator)
    for (style_id, i), names in creators.items():
        series[style_id].creators[i] = len(names)
    for entry in series.values():
        entry.share = np.divide(entry.weighted, posts, out=np.zeros_like(posts), where=posts > 0)
    return SeriesSet(config.period, periods, posts, series)


# --------------------------------------------------------------------------------------
# rising and fading
# --------------------------------------------------------------------------------------
@dataclasses.dataclass
class StyleTrend:
    """Rising / fading verdict for one style as of a day, and when it took off."""

    style_id: int
    state: str  # rising, fading, steady, or new (too little history to judge)
    score: float  # Poisson z-score of recent videos against the historical share
    growth: float  # recent share / historical share
    recent_videos: int
    recent_creators: int
    recent_new_creators: int  # of those, first-time wearers of the style
    recent_share: float
    history_share: float
    takeoff: dt.date | None  # first day the style was flagged rising (detection day)
    onset: dt.date | None  # first sighting of the burst that was flagged (its start)
    fading_since: dt.date | None  # first day of the current fading run


@dataclasses.dataclass
class _Daily:
    days: list[dt.date]
    posts: np.ndarray  # (T,) posts per day
    videos: dict[int, np.ndarray]  # style -> (T,) videos per day
    creator_days: dict[int, list[tuple[str, int]]]  # style -> (creator, day index)


def _daily(data: TrendData, end: dt.date) -> _Daily:
    first = data.first_day or end
    days = [first + dt.timedelta(days=d) for d in range((end - first).days + 1)]
    posts = np.zeros(len(days))
    for post in data.posts:
        if post.day <= end:
            posts[(post.day - first).days] += 1
    videos: dict[int, np.ndarray] = {}
    creator_days: dict[int, list[tuple[str, int]]] = defaultdict(list)
    for s in data.sightings:
        if s.day > end:
            continue
        at = (s.day - first).days
        videos.setdefault(s.style_id, np.zeros(len(days)))[at] += 1
        creator_days[s.style_id].append((s.creator, at))
    return _Daily(days, posts, videos, creator_days)


def _window_sum(values: np.ndarray, length: int | np.ndarray, lag: int | np.ndarray = 0) -> np.ndarray:
    """Sum over days (t - lag - length, t - lag] for every t (zero-padded at the start);
    ``length`` and ``lag`` may vary by day."""
    cumulative = np.concatenate([[0.0], np.cumsum(values)])
    t = np.arange(len(values)) + 1
    hi = np.clip(t - lag, 0, len(values))
    lo = np.clip(t - lag - length, 0, len(values))
    return cumulative[hi] - cumulative[lo]


def _window_creators(creator_days: list[tuple[str, int]], n_days: int, length: int | np.ndarray,
                     lag: int | np.ndarray = 0) -> np.ndarray:
    """Distinct creators with a sighting in (t - lag - length, t - lag] for every day t."""
    creators = sorted({c for c, _ in creator_days})
    index = {c: i for i, c in enumerate(creators)}
    seen = np.zeros((len(creators), n_days))
    for creator, day in creator_days:
        seen[index[creator], day] = 1.0
    cumulative = np.concatenate([np.zeros((len(creators), 1)), np.cumsum(seen, axis=1)], axis=1)
    t = np.arange(n_days) + 1
    hi, lo = np.clip(t - lag, 0, n_days), np.clip(t - lag - length, 0, n_days)
    present = cumulative[:, hi] - cumulative[:, lo] > 0
    return present.sum(axis=0)


def _first_days(creator_days: list[tuple[str, int]]) -> dict[str, int]:
    """Each creator's first day (index) showing the style."""
    first: dict[str, int] = {}
    for creator, day in creator_days:
        first[creator] = min(day, first.get(creator, day))
    return first


def recent_lengths(n_days: int, config: RisingConfig) -> np.ndarray:
    """Length of the recent window on each day since the data began.

    ``recent_days`` once the data is long enough; before that, the window shrinks (to half
    of ``recent_days`` at least) so that a style bursting in the first weeks of the data is
    judged as soon as ``min_history_days`` of history lie before its window, instead of
    only after ``recent_days + min_history_days`` days.
    """
    shortest = max(1, min(config.recent_days, (config.recent_days + 1) // 2))
    return np.clip(np.arange(n_days) + 1 - config.min_history_days, shortest, config.recent_days)


@dataclasses.dataclass
class _Scores:
    z: np.ndarray
    growth: np.ndarray
    recent: np.ndarray
    creators: np.ndarray
    new_creators: np.ndarray
    recent_share: np.ndarray
    history_share: np.ndarray
    rising: np.ndarray
    fading: np.ndarray
    judged: np.ndarray


def _burst_scores(videos: np.ndarray, posts: np.ndarray, creators: np.ndarray, history_creators: np.ndarray,
                  first_wearings: np.ndarray, config: RisingConfig) -> _Scores:
    """Burst statistics of one style for every day (only data up to that day is used).

    ``first_wearings`` counts, per day, the creators who wore the style that day for the
    first time in the data.
    """
    w, h = recent_lengths(len(posts), config), config.history_days
    new_creators = _window_sum(first_wearings, w)
    recent, recent_posts = _window_sum(videos, w), _window_sum(posts, w)
    past, past_posts = _window_sum(videos, h, lag=w), _window_sum(posts, h, lag=w)
    history_days = np.clip(np.arange(len(posts)) + 1 - w, 0, h)
    p0 = (past + config.prior_videos) / np.maximum(past_posts + 1.0, 1.0)
    expected = recent_posts * p0
    z = (recent - expected) / np.sqrt(np.maximum(expected, 1e-9))
    recent_share = np.divide(recent, recent_posts, out=np.zeros_like(recent), where=recent_posts > 0)
    history_share = np.divide(past, past_posts, out=np.zeros_like(past), where=past_posts > 0)
    growth = np.divide(recent_share, p0, out=np.zeros_like(recent), where=p0 > 0)
    judged = history_days >= config.min_history_days
    rising = (judged & (z >= config.z_threshold) & (growth >= config.min_growth)
              & (creators >= config.min_creators) & (recent >= config.min_videos)
              & (new_creators >= config.min_new_creators)
              & (new_creators >= config.min_new_share * creators))
    fading = (judged & (z <= -config.z_threshold) & (growth <= 1.0 / config.min_growth)
              & (past >= config.min_videos) & (history_creators >= config.min_creators))
    return _Scores(z, growth, recent, creators, new_creators, recent_share, history_share, rising, fading, judged)


def rising_styles(data: TrendData, config: RisingConfig, as_of: dt.date | None = None) -> list[StyleTrend]:
    """Rising / fading verdict of every style as of a day, best rising score first.

    Every day up to ``as_of`` is judged with the data known on that day, so ``takeoff``
    is the day a live system would have flagged the style; ``onset`` is the first sighting
    in the recent window of that day (when the burst started).
    """
    end = as_of or data.last_day
    if end is None:
        return []
    daily = _daily(data, end)
    trends = []
    for style_id, videos in sorted(daily.videos.items()):
        creator_days = daily.creator_days[style_id]
        lengths = recent_lengths(len(daily.days), config)
        creators = _window_creators(creator_days, len(daily.days), lengths)
        history_creators = _window_creators(creator_days, len(daily.days), config.history_days, lag=lengths)
        first_wearings = np.zeros(len(daily.days))
        for day in _first_days(creator_days).values():
            first_wearings[day] += 1
        scores = _burst_scores(videos, daily.posts, creators, history_creators, first_wearings, config)
        trends.append(_trend(style_id, scores, videos, daily.days, config))
    trends.sort(key=lambda t: ({"rising": 0, "new": 1, "steady": 2, "fading": 3}[t.state], -t.score))
    return trends


def _trend(style_id: int, s: _Scores, videos: np.ndarray, days: list[dt.date], config: RisingConfig) -> StyleTrend:
    last = len(days) - 1
    flagged = np.flatnonzero(s.rising)
    takeoff = onset = None
    if len(flagged):
        at = int(flagged[0])
        takeoff = days[at]
        first = max(0, at - int(recent_lengths(len(days), config)[at]) + 1)
        onset = days[first + int(np.flatnonzero(videos[first : at + 1])[0])]
    fading_since = None
    if s.fading[last]:
        run = last
        while run > 0 and s.fading[run - 1]:
            run -= 1
        fading_since = days[run]
    state = ("rising" if s.rising[last] else "fading" if s.fading[last]
             else "steady" if s.judged[last] else "new")
    return StyleTrend(
        style_id, state, round(float(s.z[last]), 3), round(float(s.growth[last]), 3), int(s.recent[last]),
        int(s.creators[last]), int(s.new_creators[last]), float(s.recent_share[last]), float(s.history_share[last]), takeoff, onset, fading_since,
    )


# --------------------------------------------------------------------------------------
# one entry point for the CLI and the app
# --------------------------------------------------------------------------------------
@dataclasses.dataclass
class StylesUpdate:
    """What :func:`update_styles` did: a full run, an incremental assignment, or nothing new."""

    mode: str  # recluster or incremental
    recluster: ReclusterResult | None
    assign: AssignResult | None
    encoder: dict[str, Any]  # the encoder that made the embeddings

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"mode": self.mode, "encoder": self.encoder}
        if self.recluster:
            r = self.recluster
            out.update(styles=len(r.styles), assigned=r.assigned, unassigned=r.unassigned, kept_ids=r.kept_ids,
                       new_ids=r.new_ids, retired_ids=r.retired_ids,
                       k_selection={g: {str(k): round(v, 4) for k, v in s.items()} for g, s in r.selection.items()})
        if self.assign:
            out.update(considered=self.assign.considered, assigned=self.assign.assigned)
        return out


def update_styles(
    catalog: Catalog, config: TrendsConfig, full: bool = False, index_config: IndexConfig | None = None
) -> StylesUpdate:
    """Bring styles up to date with the live index: a full run when asked or when there are
    no styles yet, otherwise assign the garments added since the last run.

    Raises:
        BadInputError: the catalog has no garments.
        StylescopeError: there is no index to read embeddings from.

    ``index_config`` holds the index settings the embeddings are read with (the user's
    ``--config``; default the packaged ones).
    """
    from inference.index import load_embeddings

    if not catalog.conn.execute("SELECT 1 FROM garments LIMIT 1").fetchone():
        raise BadInputError("the catalog has no garments: ingest videos first (`stylescope ingest`)")
    ids, vectors, encoder_info = load_embeddings(catalog.data_dir, index_config)
    if len(ids) == 0:
        raise BadInputError("the index holds no garment embeddings: ingest or re-index first")
    state = _state(catalog)
    # Centroids from another encoder's space mean nothing here: a new (or unrecorded) encoder
    # means a full run, so catalogs clustered before the version was kept recluster once.
    new_encoder = state.get("encoder_version") != encoder_info.get("version")
    # so do other settings that decide which garments are clustered, and how
    c = config.cluster
    settings_changed = (
        state.get("group_by") not in (None, c.group_by)
        or state.get("skip_methods") != list(c.skip_methods)
        or (c.group_by == "outfit" and state.get("outfit_kinds", []) != list(c.outfit_kinds))
        or (c.method == "kmeans" and state.get("noise_mads", 0.0) != c.noise_mads)
    )
    if full or new_encoder or settings_changed or not load_styles(catalog):
        encoder = _naming_encoder(encoder_info)
        result = recluster(catalog, ids, vectors, config, encoder, encoder_version=encoder_info.get("version"))
        return StylesUpdate("recluster", result, None, encoder_info)
    return StylesUpdate("incremental", None, assign_new_garments(catalog, ids, vectors), encoder_info)


def _naming_encoder(encoder_info: dict[str, Any]) -> Any | None:
    """The encoder that made the index (its text tower names styles), or None if unavailable."""
    from models import EncoderError, create_encoder

    try:
        return create_encoder(str(encoder_info.get("name") or "") or None)
    except EncoderError as exc:
        logger.warning("cannot load encoder %s to name styles (%s); styles are numbered instead",
                       encoder_info.get("name"), exc)
        return None
