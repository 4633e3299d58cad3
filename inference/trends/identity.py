"""Style identity: a style keeps its id across runs, and new garments join existing styles.

A full run (:func:`recluster`) clusters every garment, then matches the new clusters to the
previous run's styles by centroid (Hungarian assignment), so a style keeps its id across
runs, names them and saves them. Between full runs, :func:`assign_new_garments` puts new
garments into the nearest existing style when they fall inside its radius.
:func:`update_styles` chooses between the two for the CLI and the app.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from core.errors import BadInputError
from inference.catalog import Catalog, StyleAssignment, StyleRecord
from inference.facet_probe import FacetProbe, probe_for
from inference.images import load_image
from inference.trends.clustering import (
    NOISE,
    Cluster,
    Clustering,
    cluster_garments,
    nearest_styles,
    outfit_vectors,
)
from inference.trends.co_worn import merge_co_worn
from inference.trends.facet_names import facet_evidence, facet_style_names, unique_names
from inference.trends.facet_twins import merge_facet_twins, probe_distances
from inference.trends.kmeans import nearest_centroid, normalise
from inference.trends.lookalikes import split_lookalikes
from inference.trends.naming import TextEncoder, Vocabulary, name_clusters, naming_encoder
from inference.trends.screening import Screening, screen_garments
from inference.trends.settings import ClusterConfig, TrendsConfig
from inference.trends.style_check import Clustered, StyleScreen, only_garments

if TYPE_CHECKING:
    from inference.index import IndexConfig

logger = logging.getLogger(__name__)

STATE_KEY = "trends.state"  # catalog meta key: method, radii and the next free style id


@dataclasses.dataclass(frozen=True)
class Style(StyleRecord):
    """A style as stored in the catalog, with the radius new garments must fall within."""

    radius: float  # cosine distance to the centroid


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
        sims = np.stack([clusters[i].centroid for i in new_rows]) @ _centroids(old).T
        rows, cols = linear_sum_assignment(-sims)
        for r, c in zip(rows, cols, strict=True):
            if sims[r, c] >= min_similarity:
                ids[new_rows[r]] = old[c].id
    for i in range(len(ids)):
        if ids[i] < 0:
            ids[i] = next_id
            next_id += 1
    return ids


def _centroids(styles: Sequence[Style]) -> np.ndarray:
    """The styles' centroids stacked (callers pass styles that have one)."""
    return np.stack([s.centroid for s in styles if s.centroid is not None])


def read_state(catalog: Catalog) -> dict[str, Any]:
    """What the last full run recorded: its settings, style radii and the next free style id."""
    raw = catalog.get_meta(STATE_KEY)
    return json.loads(raw) if raw else {}


def load_styles(catalog: Catalog) -> list[Style]:
    """Every style in the catalog, by id, with the radius its last full run gave it."""
    radii = {int(k): float(v) for k, v in read_state(catalog).get("radii", {}).items()}
    return [Style(r.id, r.name, r.words, r.kind, r.centroid, r.size, radii.get(r.id, 0.0), facets=r.facets)
            for r in catalog.styles()]


def garment_kinds(catalog: Catalog, ids: np.ndarray,
                  skip_methods: Sequence[str] = (),
                  excluded: frozenset[int] = frozenset()) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Kinds and frame ids of the garments ``ids`` that exist in done videos, were not
    located by one of ``skip_methods`` and are not ``excluded`` (the garment check's
    non-garments), and a mask of those."""
    skip = set(skip_methods)
    known = {g.id: g for g in catalog.clusterable_garments() if g.method not in skip and g.id not in excluded}
    mask = np.asarray([int(i) in known for i in ids], bool)
    kinds = [known[int(i)].kind for i in ids[mask]]
    frames = np.asarray([known[int(i)].frame_id for i in ids[mask]], np.int64)
    return kinds, frames, mask


def _split_lookalikes(catalog: Catalog, clustering: Clustering, ids: np.ndarray, vectors: np.ndarray,
                      kinds: list[str], frames: np.ndarray, config: ClusterConfig) -> Clustering:
    """:func:`inference.trends.lookalikes.split_lookalikes` with the garments' crops and creators
    from the catalog (crops are read only for the garments sampled)."""
    id_list = ids.tolist()
    handles = catalog.garment_creators(id_list)
    creators = [handles.get(int(i), "") for i in id_list]
    paths = catalog.garment_crops(id_list)
    crops = {row: paths[int(i)] for row, i in enumerate(id_list) if int(i) in paths}
    return split_lookalikes(clustering, vectors, kinds, frames, creators, crops,
                            lambda path: load_image(catalog.data_dir / path), config)


def merge_settings(config: ClusterConfig) -> dict[str, float]:
    """The settings of the steps that merge clusters (facet twins, co-worn clusters): a run
    under other ones (or before they existed) is redone in full, not extended."""
    return {"twin_share": config.twin_share, "co_worn_share": config.co_worn_share,
            "co_worn_videos": config.co_worn_videos, "co_worn_twin_share": config.co_worn_twin_share}


def _merge_co_worn(catalog: Catalog, clustering: Clustering, ids: np.ndarray, vectors: np.ndarray, kinds: list[str],
                   frames: np.ndarray, probe: FacetProbe | None, config: ClusterConfig) -> Clustering:
    """:func:`inference.trends.co_worn.merge_co_worn` with the garments' videos from the catalog
    and, when there is a facet probe, which clusters it reads alike."""
    by_id = catalog.garment_videos(ids.tolist())  # every clustered garment is a catalog garment
    videos = np.asarray([by_id[int(i)] for i in ids], np.int64)
    alike = None
    if probe is not None and config.co_worn_twin_share > 0 and len(clustering.clusters) > 1:
        apart, median = probe_distances(clustering, vectors, kinds, probe, config)
        alike = apart < config.co_worn_twin_share * median if not np.isnan(median) else None
    return merge_co_worn(clustering, videos, vectors, kinds, frames, config, alike)


def _skipped(catalog: Catalog, ids: np.ndarray, vectors: np.ndarray, config: ClusterConfig,
             excluded: frozenset[int]) -> Clustered:
    """The garments of ``ids`` located by ``skip_methods`` (not ``excluded``), for the style check to admit."""
    skip = set(config.skip_methods)
    known = {g.id: g for g in catalog.clusterable_garments() if g.method in skip and g.id not in excluded}
    rows = np.flatnonzero([int(i) in known for i in ids])
    garments = [known[int(i)] for i in ids[rows]]
    return Clustered(ids[rows], normalise(vectors[rows]) if len(rows) else vectors[:0], [g.kind for g in garments],
                     np.asarray([g.frame_id for g in garments], np.int64),
                     Clustering(np.zeros(0, np.int64), np.zeros(0, np.float32), [], {}))


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


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
    style_check: StyleScreen | None = None  # what the style check set aside and admitted (None: off)


def recluster(
    catalog: Catalog,
    ids: np.ndarray,
    vectors: np.ndarray,
    config: TrendsConfig,
    encoder: TextEncoder | None = None,
    vocabulary: Vocabulary | None = None,
    encoder_version: str | None = None,
    excluded: frozenset[int] = frozenset(),
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
        excluded: garment ids the garment check found not to be garments (never clustered).

    Raises:
        BadInputError: there are no garments to cluster.
    """
    ids = np.asarray(ids, np.int64)
    kinds, frames, mask = garment_kinds(catalog, ids, config.cluster.skip_methods, excluded)
    if not mask.any():
        if len(ids) and excluded and garment_kinds(catalog, ids, config.cluster.skip_methods)[2].any():
            raise BadInputError("no garments to cluster: the garment check found none of the crops to be garments")
        if len(ids) and garment_kinds(catalog, ids)[2].any():
            raise BadInputError(
                f"no garments to cluster: every garment was located by {', '.join(config.cluster.skip_methods)} "
                "(no person detected); set cluster.skip_methods: [] in a config file to cluster them anyway"
            )
        raise BadInputError("no garments to cluster: the catalog (or its index) is empty; ingest videos first")
    all_ids, all_vectors = ids, np.asarray(vectors)
    ids, vectors = ids[mask], normalise(all_vectors[mask])
    clustering = cluster_garments(vectors, kinds, frames, config.cluster)
    wants_probe = config.cluster.twin_share > 0 or (config.cluster.co_worn_share > 0 and config.cluster.co_worn_twin_share > 0)
    probe = probe_for(encoder_version, config.naming.facet_probe) if wants_probe else None
    if probe is not None:
        clustering = merge_facet_twins(clustering, vectors, kinds, frames, probe, config.cluster)
    if config.cluster.lookalikes:
        clustering = _split_lookalikes(catalog, clustering, ids, vectors, kinds, frames, config.cluster)
    screen = None
    if config.cluster.style_check:
        clustered = Clustered(ids, vectors, kinds, frames, clustering)
        rows, screen = only_garments(catalog, clustered, _skipped(catalog, all_ids, all_vectors, config.cluster,
                                                                  excluded), config.cluster)
        ids, vectors, kinds, frames, clustering = rows.ids, rows.vectors, rows.kinds, rows.frames, rows.clustering
    if config.cluster.co_worn_share > 0:  # after the style check: a title card shares its video with the outfit
        clustering = _merge_co_worn(catalog, clustering, ids, vectors, kinds, frames, probe, config.cluster)
    previous = load_styles(catalog)
    state = read_state(catalog)
    next_id = max([int(state.get("next_style_id", 1))] + [s.id + 1 for s in previous])
    style_ids = match_styles(previous, clustering.clusters, config.cluster.match_similarity, next_id)
    names = name_clusters(clustering, vectors, config.naming, encoder, vocabulary, style_ids)
    facet_names = facet_style_names(catalog, clustering, ids, vectors, kinds, frames, encoder, config.naming)
    if facet_names is None:
        styles = [
            Style(sid, name, words, c.kind, c.centroid, c.size, c.radius)
            for sid, c, (name, words) in zip(style_ids, clustering.clusters, names, strict=True)
        ]
    else:
        texts = unique_names(facet_names)
        styles = [
            Style(sid, text, words, c.kind, c.centroid, c.size, c.radius, facets=facet_evidence(facet))
            for sid, c, (_, words), text, facet in zip(style_ids, clustering.clusters, names, texts, facet_names,
                                                        strict=True)
        ]
    labels = clustering.labels
    garment_style = np.where(labels >= 0, np.asarray([*style_ids, NOISE], np.int64)[labels], NOISE)
    new_state = {
        "method": config.cluster.method,
        "group_by": config.cluster.group_by,
        "skip_methods": list(config.cluster.skip_methods),
        "garment_check": config.cluster.garment_check,
        "style_check": config.cluster.style_check,
        # garment id -> why the style check kept it out of styles (coverage.set_aside reads it)
        "set_aside": {str(i): reason for i, reason in sorted(screen.set_aside.items())} if screen else {},
        "outfit_kinds": list(config.cluster.outfit_kinds),
        "noise_mads": config.cluster.noise_mads,
        "merges": merge_settings(config.cluster),  # facet twins and co-worn clusters
        "radii": {str(s.id): s.radius for s in styles},
        "next_style_id": max([next_id, *[s + 1 for s in style_ids]]),
        "clustered_at": _now(),
        "garments": len(ids),
        "unassigned": int((labels < 0).sum()),  # garments this run left without a style
        "encoder_version": encoder_version,  # of the embeddings clustered (None: not known)
    }
    near_labels, near_distances = nearest_styles(clustering, vectors, kinds, frames, config.cluster)
    near = [StyleAssignment(int(ids[row]), style_ids[near_labels[row]], float(near_distances[row]))
            for row in np.flatnonzero(near_labels >= 0)]
    catalog.replace_styles(styles, ids, garment_style, clustering.distances, STATE_KEY, json.dumps(new_state), near)
    previous_ids = {s.id for s in previous}
    kept = len(previous_ids & set(style_ids))
    result = ReclusterResult(
        styles, int((labels >= 0).sum()), int((labels < 0).sum()), kept, len(styles) - kept,
        sorted(previous_ids - set(style_ids)), clustering.selection, screen,
    )
    logger.info("clustered %d garments into %d styles (%d kept their id, %d new, %d retired)",
                len(ids), len(styles), result.kept_ids, result.new_ids, len(result.retired_ids))
    return result


@dataclasses.dataclass
class AssignResult:
    """What an incremental assignment did."""

    considered: int  # garments that had no style yet
    assigned: int  # of those, garments now in a style


def assign_new_garments(catalog: Catalog, ids: np.ndarray, vectors: np.ndarray,
                        excluded: frozenset[int] = frozenset()) -> AssignResult:
    """Give garments that have no style yet the nearest style of their kind, within its radius.

    Garments outside every radius stay unassigned until the next full run. Style sizes are
    updated. Without any style yet, nothing is assigned (run a full clustering first).
    Garments in ``excluded`` (the garment check's non-garments) are never assigned.
    """
    styles = [s for s in load_styles(catalog) if s.centroid is not None]
    have = catalog.styled_garment_ids()
    state = read_state(catalog)
    ids = np.asarray(ids, np.int64)
    fresh = np.asarray([int(i) not in have for i in ids], bool)
    ids, vectors = ids[fresh], np.asarray(vectors)[fresh]
    kinds, frames, mask = garment_kinds(catalog, ids, state.get("skip_methods", ()), excluded)
    ids, vectors = ids[mask], normalise(vectors[mask])
    if not styles or len(ids) == 0:
        return AssignResult(len(ids), 0)
    group_by = state.get("group_by", "kind")
    if group_by == "outfit":
        frame_vectors, frame_of = outfit_vectors(vectors, frames, kinds, state.get("outfit_kinds", ()))
        vectors, kinds = frame_vectors[frame_of], ["outfit"] * len(ids)
    assignments = _assign_to_styles(styles, ids, vectors, kinds, group_by)
    catalog.add_to_styles(assignments)
    return AssignResult(len(ids), len(assignments))


def _assign_to_styles(
    styles: Sequence[Style], ids: np.ndarray, vectors: np.ndarray, kinds: Sequence[str], group_by: str
) -> list[StyleAssignment]:
    assignments: list[StyleAssignment] = []
    kind_array = np.asarray(kinds, dtype=object)
    for kind in sorted(set(kinds)):
        candidates = [s for s in styles if group_by == "all" or s.kind == kind]
        rows = np.flatnonzero(kind_array == kind)
        if not candidates or len(rows) == 0:
            continue
        labels, distances = nearest_centroid(vectors[rows], _centroids(candidates))
        radii = np.asarray([s.radius for s in candidates])
        for row, label, distance in zip(rows, labels, distances, strict=True):
            if distance <= radii[label]:
                assignments.append(StyleAssignment(int(ids[row]), candidates[label].id, float(distance)))
    return assignments


@dataclasses.dataclass
class StylesUpdate:
    """What :func:`update_styles` did: a full run, an incremental assignment, or nothing new."""

    mode: str  # recluster or incremental
    recluster: ReclusterResult | None
    assign: AssignResult | None
    encoder: dict[str, Any]  # the encoder that made the embeddings
    screening: Screening | None = None  # what the garment check set aside (None: check off)

    def to_dict(self) -> dict[str, Any]:
        """Plain data for ``--json``: the mode and encoder, then what the run or the assignment did."""
        out: dict[str, Any] = {"mode": self.mode, "encoder": self.encoder}
        if self.recluster:
            r = self.recluster
            out.update(styles=len(r.styles), assigned=r.assigned, unassigned=r.unassigned, kept_ids=r.kept_ids,
                       new_ids=r.new_ids, retired_ids=r.retired_ids,
                       k_selection={g: {str(k): round(v, 4) for k, v in s.items()} for g, s in r.selection.items()})
        if self.recluster and self.recluster.style_check:
            out["style_check"] = self.recluster.style_check.to_dict()
        if self.assign:
            out.update(considered=self.assign.considered, assigned=self.assign.assigned)
        if self.screening:
            out["garment_check"] = self.screening.to_dict()
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

    if not catalog.has_garments():
        raise BadInputError("the catalog has no garments: ingest videos first (`stylescope ingest`)")
    ids, vectors, encoder_info = load_embeddings(catalog.data_dir, index_config)
    if len(ids) == 0:
        raise BadInputError("the index holds no garment embeddings: ingest or re-index first")
    state = read_state(catalog)
    # Centroids from another encoder's space mean nothing here: a new (or unrecorded) encoder
    # means a full run, so catalogs clustered before the version was kept recluster once.
    new_encoder = state.get("encoder_version") != encoder_info.get("version")
    # so do other settings that decide which garments are clustered, and how
    c = config.cluster
    settings_changed = (
        state.get("group_by") not in (None, c.group_by)
        or state.get("skip_methods") != list(c.skip_methods)
        or state.get("garment_check", False) != c.garment_check
        or state.get("style_check", False) != c.style_check
        or (c.group_by == "outfit" and state.get("outfit_kinds", []) != list(c.outfit_kinds))
        or (c.method == "kmeans" and state.get("noise_mads", 0.0) != c.noise_mads)
        or state.get("merges") != merge_settings(c)
    )
    # the garment check: crops that are not garments (walls, title cards, blurs) get no style;
    # verdicts re-judged under changed thresholds change which garments are clustered
    screening = screen_garments(catalog) if c.garment_check else None
    excluded = screening.excluded if screening else frozenset()
    settings_changed = settings_changed or bool(screening and screening.rejudged)
    if full or new_encoder or settings_changed or not load_styles(catalog):
        encoder = naming_encoder(encoder_info)
        result = recluster(catalog, ids, vectors, config, encoder, encoder_version=encoder_info.get("version"),
                           excluded=excluded)
        return StylesUpdate("recluster", result, None, encoder_info, screening)
    return StylesUpdate("incremental", None, assign_new_garments(catalog, ids, vectors, excluded), encoder_info,
                        screening)
