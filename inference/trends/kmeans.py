"""Spherical k-means for styles: k chosen by silhouette, then mixed clusters split and pieces merged.

:func:`choose_k` scores a grid of k by cosine silhouette on a sample and takes the largest k
near the best; :func:`spherical_kmeans` runs faiss from k-means++ seeds; and
:func:`refine_clusters` splits a cluster whose members fall in two groups along its main
axis (so a small lookalike style is not hidden inside the style it copies) and merges
neighbours whose union is one group.
"""

from __future__ import annotations

import dataclasses
import logging

import numpy as np

from inference.trends.settings import ClusterConfig

logger = logging.getLogger(__name__)


def normalise(vectors: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length, float32, C-contiguous."""
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return np.ascontiguousarray(vectors / np.maximum(norms, 1e-12))


def nearest_centroid(vectors: np.ndarray, centroids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Index of the most similar centroid and the cosine distance to it, in blocks."""
    labels = np.empty(len(vectors), np.int64)
    distances = np.empty(len(vectors), np.float32)
    for start in range(0, len(vectors), 65536):
        sims = vectors[start : start + 65536] @ centroids.T
        best = np.argmax(sims, axis=1)
        labels[start : start + 65536] = best
        distances[start : start + 65536] = 1.0 - sims[np.arange(len(best)), best]
    return labels, np.maximum(distances, 0.0)


def sample_rows(n: int, size: int, rng: np.random.Generator) -> np.ndarray:
    """Sorted indices of ``size`` of ``n`` rows drawn without replacement (all of them when fewer)."""
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
    sample = vectors[sample_rows(len(vectors), config.selection_sample, rng)]
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
            labels, _ = nearest_centroid(sample, spherical_kmeans(sample, k, quick))
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


def kmeans_centroids(vectors: np.ndarray, config: ClusterConfig) -> tuple[np.ndarray, dict[int, float]]:
    """Centroids of one group (k by :func:`choose_k`, then refined), and the silhouette of each k tried."""
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
    labels, _ = nearest_centroid(vectors, centroids)
    groups = [np.flatnonzero(labels == c) for c in range(len(centroids))]
    split = _split_mixed(vectors, groups, config, rng) if config.split_separation > 0 else groups
    merged = _merge_pieces(vectors, split, config, rng) if config.merge_separation > 0 else split
    if len(split) == len(groups) and len(merged) == len(split):
        return centroids
    logger.info("k-means: %d clusters, %d after splitting mixed ones, %d after merging pieces of one style",
                len(groups), len(split), len(merged))
    centroids = np.stack([_mean_direction(vectors[rows]) for rows in merged if len(rows)])
    for _ in range(3):  # Lloyd steps over every garment
        labels, _ = nearest_centroid(vectors, centroids)
        sums = np.zeros_like(centroids)
        np.add.at(sums, labels, vectors)
        counts = np.bincount(labels, minlength=len(centroids))
        centroids = normalise(sums[counts > 0])
    return centroids


def _mean_direction(members: np.ndarray) -> np.ndarray:
    return normalise(members.mean(axis=0, keepdims=True))[0]


def _two_groups(vectors: np.ndarray, rows: np.ndarray, config: ClusterConfig, rng: np.random.Generator) -> float:
    sample = rows[sample_rows(len(rows), min(config.selection_sample, 1000), rng)]
    return bimodality(vectors[sample], rng, max(4, config.min_style_size))


def _split_mixed(vectors: np.ndarray, groups: list[np.ndarray], config: ClusterConfig,
                 rng: np.random.Generator) -> list[np.ndarray]:
    quick = dataclasses.replace(config, kmeans_restarts=1)
    min_side = max(4, config.min_style_size)
    queue, done = list(groups), list[np.ndarray]()
    while queue:
        rows = queue.pop()
        if len(done) + len(queue) + 2 <= config.k_max and _two_groups(vectors, rows, config, rng) >= config.split_separation:
            sample = rows[sample_rows(len(rows), min(config.selection_sample, 1000), rng)]
            halves, _ = nearest_centroid(vectors[rows], spherical_kmeans(vectors[sample], 2, quick))
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
