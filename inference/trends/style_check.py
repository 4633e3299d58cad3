"""Only garments make styles: a cluster of walls is no style, and a crop no detector vouched
for joins a style only where the garment check and the style agree.

Two rules a full run applies after clustering, from the garment check's verdicts
(:mod:`inference.garment_check`: measured once per crop and stored in the catalog):

- **A cluster of non-garments is no style.** The crops of the frames nearest each cluster's
  centroid (its medoids: what the reports show as its typical garment) and of a few frames
  drawn at random from the rest are checked. A cluster where at least ``style_check_share``
  of them are not garments is dissolved: its crops get no style and are set aside, each with
  its own verdict's reason, or "in a style of non-garments" when the crop itself passed. In a
  cluster that stays, a checked crop that is not a garment is set aside alone, so a style's
  medoid is a garment. A crop that passes with little clothing evidence
  (``style_check_unvouched``) while no detector or face saw a person in it is *unvouched*: it
  keeps its style, but counts with the failures towards dissolving its cluster (a cluster of
  empty rooms the motion localiser cut, each borderline on its own, is still a cluster of rooms).
- **Crops of a skipped localiser join only a style that exists.** ``skip_methods`` crops (the
  centred fallback, which fires on title cards and empty rooms as well as on people the
  detectors missed) never make a style; one whose frame (or, per kind, whose own vector)
  falls within ``admit_slack`` times a style's radius joins it when the check finds a garment in it, and is set
  aside with the check's reason when not. The rest are judged too: those the check rejects are
  set aside with its reason (so search hides them unless asked), the others keep "cut by <localiser>".

Both rules only look at what any footage has (the ImageNet classifier's clothing and
printed-matter masses, sharpness, which localiser found the person): nothing about how the
sample world draws its rooms or title cards.
"""

from __future__ import annotations

import collections
import dataclasses
import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Any, NamedTuple

import numpy as np

from inference.catalog import Catalog, GarmentCheckRecord
from inference.garment_check import (
    GarmentCheckConfig,
    GarmentChecker,
    clothing_evidence,
    load_config,
)
from inference.trends.clustering import NOISE, Clustering, kept_clusters, outfit_vectors
from inference.trends.kmeans import nearest_centroid, normalise
from inference.trends.screening import garment_verdicts
from inference.trends.settings import ClusterConfig

logger = logging.getLogger(__name__)

IN_JUNK_STYLE = "in a style of non-garments"  # why a crop that passed the check went with its cluster


class Verdict(NamedTuple):
    """The garment check's verdict on one crop, as the style rules read it."""

    ok: bool  # the crop shows a garment
    reason: str  # why (the check's reason)
    unvouched: bool = False  # it passed, but no person was seen and it holds little clothing (module docstring)


# garment ids -> verdict, for those ids the check could judge
Verdicts = Callable[[Sequence[int]], Mapping[int, Verdict]]


@dataclasses.dataclass
class StyleScreen:
    """What the rules did in one full run."""

    set_aside: dict[int, str]  # garment id -> why it was kept out of styles
    dissolved: int  # clusters found to be no style
    admitted: int  # crops of skipped localisers that joined a style
    checked: int  # crops whose verdict was read (measured now or before)

    def reasons(self) -> dict[str, int]:
        """Crops set aside, per reason."""
        return dict(sorted(collections.Counter(self.set_aside.values()).items()))

    def to_dict(self) -> dict[str, Any]:
        return {"dissolved_styles": self.dissolved, "admitted": self.admitted, "checked": self.checked,
                "set_aside": len(self.set_aside), "reasons": self.reasons()}

    def summary(self) -> str:
        """One line for the text report."""
        why = ", ".join(f"{n} {reason}" for reason, n in self.reasons().items())
        return (f"style check: {self.dissolved} clusters of non-garments made no style; {len(self.set_aside)} crops "
                f"set aside" + (f" ({why})" if why else "") + f"; {self.admitted} crops no detector found joined a style")


def checked_rows(clustering: Clustering, frames: np.ndarray, config: ClusterConfig) -> dict[int, np.ndarray]:
    """Per cluster, the rows whose crops are checked: those of its ``style_check_nearest``
    frames nearest the centroid and of ``style_check_sample`` more drawn at random."""
    rng = np.random.default_rng(config.seed)
    chosen: dict[int, np.ndarray] = {}
    for c in range(len(clustering.clusters)):
        rows = np.flatnonzero(clustering.labels == c)
        if len(rows) == 0:
            continue
        order = np.argsort(clustering.distances[rows], kind="stable")
        cluster_frames = list(dict.fromkeys(frames[rows[order]].tolist()))  # nearest first
        nearest = cluster_frames[: config.style_check_nearest]
        rest = cluster_frames[config.style_check_nearest :]
        drawn = rng.choice(len(rest), size=min(config.style_check_sample, len(rest)), replace=False) if rest else ()
        picked = set(nearest) | {rest[int(i)] for i in drawn}
        chosen[c] = rows[np.isin(frames[rows], list(picked))]
    return chosen


def screen_clusters(clustering: Clustering, ids: np.ndarray, frames: np.ndarray, verdicts: Verdicts,
                    config: ClusterConfig) -> tuple[Clustering, StyleScreen]:
    """Dissolve the clusters of non-garments and set aside the checked crops that are not garments.

    Args:
        clustering: a full run's clustering of the garments ``ids`` (rows in that order).
        ids: garment id of each row.
        frames: frame id of each row.
        verdicts: the garment check's verdicts of garment ids.
        config: ``style_check_nearest``, ``style_check_sample``, ``style_check_share``,
            ``min_style_size`` and ``seed``.

    Returns:
        The clustering without those clusters and crops (clusters renumbered, sizes
        recounted), and what was set aside.
    """
    chosen = checked_rows(clustering, frames, config)
    every = np.concatenate(list(chosen.values())) if chosen else np.zeros(0, np.int64)
    verdict = verdicts([int(i) for i in ids[every]])
    labels = clustering.labels.copy()
    set_aside: dict[int, str] = {}
    dissolved = 0
    for c, rows in chosen.items():
        judged = [(row, verdict[int(ids[row])]) for row in rows if int(ids[row]) in verdict]
        failed = [(row, v.reason) for row, v in judged if not v.ok]
        unvouched = sum(v.ok and v.unvouched for _, v in judged)
        if judged and len(failed) + unvouched >= config.style_check_share * len(judged):
            dissolved += 1
            members = np.flatnonzero(labels == c)
            reasons = dict(failed)
            set_aside.update({int(ids[row]): reasons.get(row, IN_JUNK_STYLE) for row in members})
            labels[members] = NOISE
        else:
            set_aside.update({int(ids[row]): reason for row, reason in failed})
            labels[[row for row, _ in failed]] = NOISE
    if dissolved:
        logger.info("style check: %d of %d clusters are no style (non-garments)", dissolved, len(clustering.clusters))
    screened = _recount(Clustering(labels, clustering.distances, clustering.clusters, clustering.selection),
                        config.min_style_size)
    return screened, StyleScreen(set_aside, dissolved, 0, len(verdict))


def admit_skipped(clustering: Clustering, vectors: np.ndarray, kinds: Sequence[str], frames: np.ndarray,
                  ids: np.ndarray, verdicts: Verdicts, config: ClusterConfig) -> tuple[np.ndarray, np.ndarray, dict[int, str]]:
    """Style rows and distances for garments of skipped localisers, and those set aside.

    A garment is a candidate when its unit (its frame's outfit vector with ``group_by:
    outfit``, else its own vector) falls within ``admit_slack`` times the radius of its
    nearest cluster of the same group (the fallback's box sits off the person, so its crops
    hold more room and lie farther from the style's centroid than a detector's); a candidate joins that cluster when the garment check finds a garment in it,
    and is set aside with the check's reason when not. Others stay without a style.

    Returns:
        The cluster index of each garment (NOISE: none), its distance (nan: none), and
        garment id -> reason for the candidates the check rejected.
    """
    labels = np.full(len(ids), NOISE, np.int64)
    distances = np.full(len(ids), np.nan, np.float32)
    if not clustering.clusters or len(ids) == 0:
        return labels, distances, {}
    vectors = normalise(np.asarray(vectors, np.float32))
    unit_kinds = list(kinds)
    if config.group_by == "outfit":
        frame_vectors, frame_of = outfit_vectors(vectors, frames, kinds, config.outfit_kinds)
        vectors, unit_kinds = frame_vectors[frame_of], ["outfit"] * len(ids)
    centroids = np.stack([c.centroid for c in clustering.clusters])
    radii = np.asarray([c.radius for c in clustering.clusters])
    kind_array = np.asarray(unit_kinds, dtype=object)
    for kind in sorted(set(unit_kinds)):
        candidates = np.flatnonzero([config.group_by != "kind" or c.kind == kind for c in clustering.clusters])
        rows = np.flatnonzero(kind_array == kind)
        if len(candidates) == 0:
            continue
        nearest, distance = nearest_centroid(vectors[rows], centroids[candidates])
        inside = distance <= config.admit_slack * radii[candidates[nearest]]
        labels[rows[inside]] = candidates[nearest[inside]]
        distances[rows[inside]] = distance[inside]
    inside_rows = np.flatnonzero(labels >= 0)
    verdict = verdicts([int(i) for i in ids[inside_rows]])
    set_aside = {}
    for row in inside_rows:
        ok, reason, _ = verdict.get(int(ids[row]), Verdict(False, ""))
        if not ok:  # no verdict (no crop to judge): it stays out, cut by its localiser
            if reason:
                set_aside[int(ids[row])] = reason
            labels[row], distances[row] = NOISE, np.nan
    logger.info("style check: %d of %d crops of skipped localisers fall in a style; %d of them show a garment",
                len(inside_rows), len(ids), int((labels >= 0).sum()))
    return labels, distances, set_aside


def _unvouched(check: GarmentCheckRecord, garment_config: GarmentCheckConfig, config: ClusterConfig) -> bool:
    """A passing crop no detector or face vouched for, with little clothing evidence (its own,
    or its person's other crops' as the garment check weighs them)."""
    evidence = clothing_evidence(check.clothing, check.outfit_clothing, garment_config)
    return not (check.detected or check.face) and evidence < config.style_check_unvouched


def _recount(clustering: Clustering, min_size: int) -> Clustering:
    """Recount cluster sizes from the labels, dissolve clusters below ``min_size``, renumber."""
    sizes = np.bincount(clustering.labels[clustering.labels >= 0], minlength=len(clustering.clusters))
    remap = kept_clusters(sizes, min_size)
    labels = np.where(clustering.labels >= 0, remap[clustering.labels], NOISE)
    distances = np.where(labels >= 0, clustering.distances, np.nan).astype(np.float32)
    clusters = [dataclasses.replace(c, size=int(sizes[i])) for i, c in enumerate(clustering.clusters) if remap[i] >= 0]
    return Clustering(labels, distances, clusters, clustering.selection)


@dataclasses.dataclass
class Clustered:
    """The garments a full run clustered (rows), and their clustering."""

    ids: np.ndarray  # int64 (N,) garment ids
    vectors: np.ndarray  # float32 (N, D) unit embeddings
    kinds: list[str]  # garment kind of each row
    frames: np.ndarray  # int64 (N,) frame id of each row
    clustering: Clustering


def only_garments(catalog: Catalog, clustered: Clustered, skipped: Clustered, config: ClusterConfig,
                  checker: GarmentChecker | None = None) -> tuple[Clustered, StyleScreen]:
    """Both rules on a full run, with verdicts from the catalog (crops measured when first needed).

    Args:
        catalog: the deployment (its crops and stored verdicts).
        clustered: the garments clustered and their clustering.
        skipped: garments of ``skip_methods`` (their ``clustering`` is not read).
        config: the cluster settings.
        checker: the garment check (default: the packaged settings; its classifier loads
            only when a crop has to be measured).

    Returns:
        The clustering without non-garment clusters and crops, with the admitted garments
        of ``skipped`` added as rows, and what was set aside.
    """
    checker = checker or GarmentChecker(load_config())

    def verdicts(garment_ids: Sequence[int]) -> dict[int, Verdict]:
        return {i: Verdict(c.is_garment, c.reason, c.is_garment and _unvouched(c, checker.config, config))
                for i, c in garment_verdicts(catalog, garment_ids, checker).items()}

    clustering, screen = screen_clusters(clustered.clustering, clustered.ids, clustered.frames, verdicts, config)
    labels, distances, rejected = admit_skipped(clustering, skipped.vectors, skipped.kinds, skipped.frames,
                                                skipped.ids, verdicts, config)
    join = labels >= 0
    sizes = np.bincount(labels[join], minlength=len(clustering.clusters))
    clusters = [dataclasses.replace(c, size=c.size + int(n)) for c, n in zip(clustering.clusters, sizes, strict=True)]
    grown = Clustering(np.concatenate([clustering.labels, labels[join]]),
                       np.concatenate([clustering.distances, distances[join]]).astype(np.float32),
                       clusters, clustering.selection)
    rows = Clustered(np.concatenate([clustered.ids, skipped.ids[join]]),
                     np.concatenate([clustered.vectors, skipped.vectors[join]]),
                     [*clustered.kinds, *(k for k, j in zip(skipped.kinds, join, strict=True) if j)],
                     np.concatenate([clustered.frames, skipped.frames[join]]), grown)
    screen.set_aside.update(rejected)
    # The rest of them stay out of styles either way; judging them too lets search hide the
    # walls and title cards among them (searched on request, with the reason).
    outside = [int(i) for i, label in zip(skipped.ids, labels, strict=True) if label < 0 and int(i) not in rejected]
    shown = verdicts(outside)
    screen.set_aside.update({i: v.reason for i, v in shown.items() if not v.ok and v.reason})
    screen.admitted = int(join.sum())
    screen.checked += screen.admitted + len(rejected) + len(shown)
    logger.info("style check: %s", screen.to_dict())
    return rows, screen
