"""Telling lookalike styles apart by their garments' measured colour.

Two styles one colour step apart (white vs beige polka-dot trousers, the same outfit
otherwise) sit so close in embedding space that k-means keeps them in one cluster, and a
small rising style disappears into its big neighbour, taking its originator with it. The
pixels tell them apart where the embedding barely does. After clustering, each style's
garments of every slot (top, bottom) are sampled, their main colour measured
(:func:`inference.palette.read_colour`), and the Lab colours tested for two groups: the
best cut along their main axis must leave the groups ``lookalike_separation`` pooled
standard deviations apart and at least ``lookalike_delta_e`` (CIEDE2000) between their
median colours, each worn by ``lookalike_creators`` creators or more (a style that can truly
rise), while the frames' other garment keeps its colour (``lookalike_other_delta_e``, or
``lookalike_other_share`` of the split garment's change when larger: a lookalike changes one
garment, the light changes all of them alike). The slot with the widest
separation splits the style: each side's centroid is the
mean outfit vector of its sampled frames, and every frame of the style goes to the nearer
one. A split is kept only where those two centroids sort the sampled frames as the pixels
did (``lookalike_agreement``), so that assigning new garments by centroid keeps them apart.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable, Mapping, Sequence

import numpy as np

from core.errors import BadInputError
from inference.palette import ColourConfig, ciede2000, is_skin, srgb_to_lab
from inference.trends.clustering import NOISE, Cluster, Clustering, cluster_radius, clustered_units
from inference.trends.kmeans import normalise, sample_rows
from inference.trends.settings import ClusterConfig

logger = logging.getLogger(__name__)

SLOTS = ("top", "bottom")  # garment kinds whose colour can tell two outfits apart


@dataclasses.dataclass(frozen=True)
class ColourSplit:
    """The best two-way split of a style's garments of one slot by measured colour."""

    slot: str
    separation: float  # distance between the groups' means along the main axis, in pooled SDs
    delta_e: float  # CIEDE2000 between the groups' median colours
    rows: np.ndarray  # garment rows measured (indices into the clustered garments)
    side: np.ndarray  # bool per measured row: True for the second group


def two_colour_groups(labs: np.ndarray, min_side: int) -> tuple[np.ndarray, float, float] | None:
    """The best cut of Lab colours into two groups along their main axis.

    Returns (side per colour, separation in pooled SDs, CIEDE2000 between the groups'
    medians), or None when there are too few colours for two groups of ``min_side``.
    """
    labs = np.asarray(labs, np.float64)
    if len(labs) < 2 * min_side:
        return None
    centred = labs - labs.mean(axis=0)
    axis = np.linalg.svd(centred, full_matrices=False)[2][0]
    x = centred @ axis
    order = np.argsort(x, kind="stable")
    xs = x[order]
    m = len(xs)
    at = np.arange(min_side, m - min_side + 1)
    sums, squares = np.cumsum(xs), np.cumsum(xs * xs)
    left, right = sums[at - 1] / at, (sums[-1] - sums[at - 1]) / (m - at)
    sse = squares[-1] - at * left**2 - (m - at) * right**2
    best = int(np.argmin(sse))
    separation = float(abs(right[best] - left[best]) / np.sqrt(max(float(sse[best]), 1e-12) / (m - 2)))
    side = np.zeros(m, bool)
    side[order[at[best]:]] = True
    delta_e = float(ciede2000(np.median(labs[~side], axis=0)[None], np.median(labs[side], axis=0)[None])[0])
    return side, separation, delta_e


def slot_colour(image: np.ndarray, slot: str, size: int = 24) -> np.ndarray | None:
    """A quick reading of a crop's garment colour: the median Lab of the region the slot's
    garment fills (:class:`inference.palette.ColourConfig` rows and columns), skin left out
    where anything else is there. Cheaper than :func:`inference.palette.read_colour` (which
    names colours) by two orders of magnitude; a split it suggests must still hold in the
    embedding (:func:`held_out_agreement`)."""
    import cv2

    if image.ndim != 3 or image.shape[0] < 4 or image.shape[1] < 4:
        return None
    regions = ColourConfig()
    (y0, y1) = {"top": regions.top_rows, "bottom": regions.bottom_rows}.get(slot, regions.full_rows)
    (x0, x1), (h, w) = regions.columns, image.shape[:2]
    region = image[int(y0 * h):max(int(y0 * h) + 1, int(y1 * h)), int(x0 * w):max(int(x0 * w) + 1, int(x1 * w)), :3]
    scale = min(1.0, size / max(region.shape[:2]))
    if scale < 1.0:
        region = cv2.resize(region, (max(1, round(region.shape[1] * scale)), max(1, round(region.shape[0] * scale))),
                            interpolation=cv2.INTER_AREA)
    pixels = srgb_to_lab(region.reshape(-1, 3))
    skin = is_skin(pixels)
    if skin.mean() < 0.9:
        pixels = pixels[~skin]
    return np.median(pixels, axis=0)


def colour_split(
    rows: np.ndarray, slot: str, images: Mapping[int, np.ndarray], config: ClusterConfig
) -> ColourSplit | None:
    """The split of one style's garments ``rows`` of ``slot`` by colour, or None when it has none
    that clears the separation and colour-difference thresholds. ``images`` maps a row to its crop."""
    measured, labs = [], []
    for row in rows.tolist():
        image = images.get(row)
        lab = None if image is None else slot_colour(image, slot)
        if lab is not None:
            measured.append(row)
            labs.append(lab)
    min_side = max(4, config.min_style_size)
    found = two_colour_groups(np.asarray(labs), min_side) if labs else None
    if found is None:
        return None
    side, separation, delta_e = found
    if separation < config.lookalike_separation or delta_e < config.lookalike_delta_e:
        return None
    return ColourSplit(slot, separation, delta_e, np.asarray(measured), side)


def split_lookalikes(
    clustering: Clustering,
    vectors: np.ndarray,
    kinds: Sequence[str],
    frames: np.ndarray,
    creators: Sequence[str],
    crops: Mapping[int, str],
    read: Callable[[str], np.ndarray],
    config: ClusterConfig,
) -> Clustering:
    """``clustering`` with every style whose garments fall in two colour groups split in two.

    Args:
        clustering: a run of :func:`inference.trends.clustering.cluster_garments` over ``vectors``.
        vectors: (N, D) unit garment embeddings, row for row with ``clustering.labels``.
        kinds: garment kind per row; frames: frame id per row; creators: creator handle per row.
            Only styles of top + bottom frames can split (``group_by`` outfit, the default): the
            other-garment test needs both garments of a frame.
        crops: row -> crop path of the garments that may be measured.
        read: callable(path) -> RGB image (raises BadInputError / OSError when unreadable).
        config: clustering settings (the ``lookalike_*`` fields).
    """
    kind_array = np.asarray(kinds, dtype=object)
    unit, unit_of = clustered_units(vectors, frames, kinds, config)
    labels = clustering.labels.copy()
    distances = clustering.distances.copy()
    clusters = list(clustering.clusters)
    rng = np.random.default_rng(config.seed)
    started = time.perf_counter()
    for c in range(len(clustering.clusters)):
        split = _best_split(c, labels, kind_array, np.asarray(frames), crops, read, config, rng)
        if split is None:
            continue
        units = np.unique(unit_of[labels == c])
        side_units = [np.unique(unit_of[split.rows[~split.side]]), np.unique(unit_of[split.rows[split.side]])]
        side_units = [side_units[0][~np.isin(side_units[0], side_units[1])], side_units[1]]
        agreement = held_out_agreement(unit, side_units)
        if agreement < config.lookalike_agreement:
            logger.info("style %d: colour split of %s (%.1f SDs, dE %.1f) not kept: centroids agree %.2f",
                        c, split.slot, split.separation, split.delta_e, agreement)
            continue
        centroids = normalise(np.stack([unit[u].mean(axis=0) for u in side_units]))
        similarity = unit[units] @ centroids.T
        nearer = np.argmax(similarity, axis=1)
        members = np.flatnonzero(labels == c)
        side_of = np.zeros(len(unit), np.int64)
        side_of[units] = nearer
        member_side = side_of[unit_of[members]]
        worn = [len({creators[r] for r in members[member_side == h]}) for h in (0, 1)]
        if min(worn) < config.lookalike_creators:
            logger.info("style %d: colour split of %s not kept: creators %s", c, split.slot, worn)
            continue
        unit_distance = np.zeros(len(unit), np.float32)
        unit_distance[units] = 1.0 - similarity[np.arange(len(units)), nearer]
        labels[members] = np.where(member_side == 1, len(clusters), c)
        distances[members] = unit_distance[unit_of[members]]
        parent = clusters[c]
        clusters[c] = _child(parent, centroids[0], distances[labels == c], config)
        clusters.append(_child(parent, centroids[1], distances[labels == len(clusters)], config))
        logger.info("style %d: split by %s colour (%.1f SDs, dE %.1f, creators %s, agreement %.2f): %d + %d garments",
                    c, split.slot, split.separation, split.delta_e, worn, agreement,
                    clusters[c].size, clusters[-1].size)
    logger.info("lookalikes: %d styles checked, %d split, in %.1f s", len(clustering.clusters),
                len(clusters) - len(clustering.clusters), time.perf_counter() - started)
    distances = np.where(labels >= 0, distances, np.nan).astype(np.float32)
    labels = np.where(labels >= 0, labels, NOISE)
    return Clustering(labels, distances, clusters, clustering.selection)


def _child(parent: Cluster, centroid: np.ndarray, distances: np.ndarray, config: ClusterConfig) -> Cluster:
    """One side of a split style: its centroid, size and a radius no wider than the parent's."""
    radius = min(cluster_radius(distances, config), parent.radius) if len(distances) else parent.radius
    return Cluster(parent.kind, centroid.astype(np.float32), len(distances), radius)


def held_out_agreement(unit: np.ndarray, sides: Sequence[np.ndarray]) -> float:
    """How well two groups' mean vectors sort vectors they were not fitted on (two folds).

    Centroids fitted on every other member of each group sort the remaining members; the
    score is the share sorted into their own group, averaged over both folds. Two groups a
    measuring artefact made (shadows, a close-up's skin) score near chance; two styles score
    near 1. Groups too small for two folds score 0.
    """
    scores = []
    for fit, test in ((0, 1), (1, 0)):
        fitted = [u[fit::2] for u in sides]
        tested = [u[test::2] for u in sides]
        if min(len(u) for u in fitted + tested) == 0:
            return 0.0
        centroids = normalise(np.stack([unit[u].mean(axis=0) for u in fitted]))
        truth = np.repeat([0, 1], [len(u) for u in tested])
        scores.append(float((np.argmax(unit[np.concatenate(tested)] @ centroids.T, axis=1) == truth).mean()))
    return float(np.mean(scores))


def _best_split(
    cluster: int, labels: np.ndarray, kinds: np.ndarray, frames: np.ndarray, crops: Mapping[int, str],
    read: Callable[[str], np.ndarray], config: ClusterConfig, rng: np.random.Generator,
) -> ColourSplit | None:
    """The widest colour split of the style's slots whose other slot keeps its colour."""
    members = labels == cluster
    best: ColourSplit | None = None
    for slot in SLOTS:
        rows = np.flatnonzero(members & (kinds == slot))
        if len(rows) < 2 * max(4, config.min_style_size):
            continue
        rows = rows[np.sort(sample_rows(len(rows), config.lookalike_sample, rng))]
        split = colour_split(rows, slot, _read_crops(rows, crops, read), config)
        if split is None or (best is not None and split.separation <= best.separation):
            continue
        other = np.flatnonzero(members & (kinds != slot) & np.isin(kinds, SLOTS))
        allowed = max(config.lookalike_other_delta_e, config.lookalike_other_share * split.delta_e)
        if _other_slot_shift(split, other, frames, crops, read) <= allowed:
            best = split
    return best


def _read_crops(rows: np.ndarray, crops: Mapping[int, str], read: Callable[[str], np.ndarray]) -> dict[int, np.ndarray]:
    images = {}
    for row in rows.tolist():
        path = crops.get(row)
        if path is None:
            continue
        try:
            images[row] = read(path)
        except (BadInputError, OSError):
            continue
    return images


def _other_slot_shift(split: ColourSplit, other: np.ndarray, frames: np.ndarray, crops: Mapping[int, str],
                      read: Callable[[str], np.ndarray], per_side: int = 20) -> float:
    """CIEDE2000 between the two sides' median colours of the other garment in the same frames.

    A lookalike changes one garment; light, shade or a camera changes them all, so a split
    whose other garment changes colour as well is a split by the scene, not by the style.
    Infinite when the other garment cannot be measured on both sides (a dress is one garment:
    its lookalikes are not split, since the scene cannot be told from the style there).
    """
    other_of = {int(frames[row]): int(row) for row in other[::-1]}
    medians = []
    for side in (~split.side, split.side):
        labs = []
        for row in split.rows[side][:per_side].tolist():
            partner = other_of.get(int(frames[row]))
            image = None if partner is None else _read_crops(np.asarray([partner]), crops, read).get(partner)
            lab = None if image is None else slot_colour(image, "bottom" if split.slot == "top" else "top")
            if lab is not None:
                labs.append(lab)
        if len(labs) < 3:
            return float("inf")
        medians.append(np.median(np.asarray(labs), axis=0))
    return float(ciede2000(medians[0][None], medians[1][None])[0])
