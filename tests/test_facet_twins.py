"""Pieces of one style that k-means cut by video, put back together by what the facet probe reads
(inference/trends/facet_twins.py), on hand-built clusterings."""

from __future__ import annotations

import numpy as np
import pytest

from inference.facet_probe import FacetProbe, LinearHead
from inference.trends.clustering import Cluster, Clustering, outfit_vectors
from inference.trends.facet_twins import facet_profile, merge_facet_twins, profile_distance
from inference.trends.kmeans import normalise
from inference.trends.settings import ClusterConfig
from tests.trends_helpers import outfit_clustering

DIM = 16
TYPES = ("t-shirt", "hoodie")  # read along dimension 0; dimensions 2.. hold the video (room, light, person)


def _probe() -> FacetProbe:
    weight = np.zeros((2, DIM), np.float32)
    weight[0, 0], weight[1, 0] = 12.0, -12.0
    bottom = np.zeros((2, DIM), np.float32)
    bottom[0, 1], bottom[1, 1] = 12.0, -12.0
    return FacetProbe("v", {("top", "type"): LinearHead(weight, np.zeros(2, np.float32), TYPES),
                            ("bottom", "type"): LinearHead(bottom, np.zeros(2, np.float32), ("jeans", "skirt"))})


def _pieces(pieces: list[tuple[float, float]], per_piece: int = 12, seed: int = 0):
    """One cluster per (top type sign, bottom type sign) piece, each piece's frames sharing a
    video direction of their own; returns vectors, kinds, frames and the k-means-like clustering."""
    rng = np.random.default_rng(seed)
    vectors, kinds, frames, labels = [], [], [], []
    for piece, (top_sign, bottom_sign) in enumerate(pieces):
        video = normalise(rng.normal(size=(1, DIM - 2)))[0] * 0.8
        for f in range(per_piece):
            frame = piece * 100 + f
            for kind, sign, axis in (("top", top_sign, 0), ("bottom", bottom_sign, 1)):
                v = np.zeros(DIM)
                v[axis] = 0.5 * sign
                v[2:] = video + rng.normal(0, 0.05, DIM - 2)
                vectors.append(v)
                kinds.append(kind)
                frames.append(frame)
                labels.append(piece)
    vectors_array = normalise(np.asarray(vectors, np.float32))
    frames_array = np.asarray(frames, np.int64)
    clustering = outfit_clustering(vectors_array, kinds, frames_array, np.asarray(labels, np.int64), 0.5)
    return vectors_array, kinds, frames_array, clustering


def test_pieces_of_one_style_cut_by_video_are_merged_and_another_style_is_not() -> None:
    # three pieces of t-shirt + jeans (three videos), one hoodie + jeans
    vectors, kinds, frames, clustering = _pieces([(1, 1), (1, 1), (1, 1), (-1, 1)])
    merged = merge_facet_twins(clustering, vectors, kinds, frames, _probe(), ClusterConfig())
    assert len(merged.clusters) == 2
    pieces = merged.labels.reshape(4, -1)
    assert len(set(pieces[:3].ravel().tolist())) == 1  # the three t-shirt pieces are one style
    assert set(pieces[3].tolist()).isdisjoint(pieces[:3].ravel().tolist())
    assert merged.clusters[0].size == 3 * 24 and merged.clusters[1].size == 24
    # every member's distance is to its new centroid, and the centroid is a unit vector
    assert np.isclose(np.linalg.norm(merged.clusters[0].centroid), 1.0)
    assert np.all(np.isfinite(merged.distances)) and merged.distances.max() < 1.0


def test_two_styles_that_differ_in_one_garment_only_stay_apart() -> None:
    # the same t-shirt over jeans and over a skirt: the tops agree, the bottoms do not
    vectors, kinds, frames, clustering = _pieces([(1, 1), (1, -1)])
    merged = merge_facet_twins(clustering, vectors, kinds, frames, _probe(), ClusterConfig())
    assert len(merged.clusters) == 2
    assert np.array_equal(merged.labels, clustering.labels)


def test_twins_are_left_apart_when_the_setting_is_off() -> None:
    vectors, kinds, frames, clustering = _pieces([(1, 1), (1, 1)])
    merged = merge_facet_twins(clustering, vectors, kinds, frames, _probe(), ClusterConfig(twin_share=0))
    assert len(merged.clusters) == 2


def test_noise_stays_noise_and_a_kind_with_too_few_garments_is_not_compared() -> None:
    vectors, kinds, frames, clustering = _pieces([(1, 1), (1, 1), (-1, -1)])
    labels = clustering.labels.copy()
    labels[:4] = -1  # two frames left out as strays
    clustering = Clustering(labels, clustering.distances, clustering.clusters, {})
    merged = merge_facet_twins(clustering, vectors, kinds, frames, _probe(), ClusterConfig())
    assert np.all(merged.labels[:4] == -1) and np.all(np.isnan(merged.distances[:4]))
    assert len(merged.clusters) == 2
    # a profile from two garments says nothing: no shared reading, never twins
    few = facet_profile({"top": vectors[:2]}, _probe(), min_garments=3)
    assert few == {} and profile_distance(few, facet_profile({"top": vectors[:6:2]}, _probe(), 3)) == float("inf")


def test_a_chain_of_small_steps_does_not_join_two_styles_that_differ() -> None:
    # A reads mostly t-shirt, C mostly hoodie, B in between: A-B and B-C are twins, A-C are not;
    # two styles over skirts set the catalog's scale
    vectors, kinds, frames, clustering = _pieces([(0.1, 1), (0.0, 1), (-0.1, 1), (1, -1), (-1, -1)])
    kind_array = np.asarray(kinds, dtype=object)
    profiles = [facet_profile({kind: vectors[(clustering.labels == c) & (kind_array == kind)] for kind in ("top", "bottom")},
                              _probe(), 3) for c in range(5)]
    apart = [profile_distance(profiles[a], profiles[b]) for a in range(5) for b in range(a + 1, 5)]
    config = ClusterConfig()
    limit = config.twin_share * float(np.median(apart))
    assert profile_distance(profiles[0], profiles[1]) < limit
    assert profile_distance(profiles[1], profiles[2]) < limit
    assert profile_distance(profiles[0], profiles[2]) > limit
    merged = merge_facet_twins(clustering, vectors, kinds, frames, _probe(), config)
    assert len(merged.clusters) == 4
    pieces = merged.labels.reshape(5, -1)
    assert pieces[0, 0] != pieces[2, 0]


def test_a_probe_that_reads_the_footage_hardly_at_all_merges_nothing() -> None:
    """Real garment photos (Fashion-MNIST, one cluster per class): the probe, trained on drawn
    worlds, reads them all much alike, coats and shirts within 0.4; measured against the run's
    own scale no two classes are twins (skipped where the dataset is not installed)."""
    from inference.facet_probe import probe_for
    from models import create_encoder
    from world.fashion_mnist import FASHION_MNIST_DIR, read_idx

    path = FASHION_MNIST_DIR / "t10k-images-idx3-ubyte.gz"
    if not path.exists():
        pytest.skip("Fashion-MNIST is not installed")
    import cv2

    encoder = create_encoder("stylescope-default")
    probe = probe_for(encoder.version)
    assert probe is not None
    images, labels = read_idx(path), read_idx(FASHION_MNIST_DIR / "t10k-labels-idx1-ubyte.gz")
    classes = (0, 2, 3, 4, 6, 8)  # t-shirt, pullover, dress, coat, shirt, bag: all read as tops here
    rows = [int(i) for c in classes for i in np.flatnonzero(labels == c)[:24]]
    crops = [cv2.resize(cv2.cvtColor(255 - images[i], cv2.COLOR_GRAY2RGB), (112, 112)) for i in rows]
    vectors = normalise(encoder.encode_images(crops).astype(np.float32))
    cluster_of = np.repeat(np.arange(len(classes)), 24)
    kinds, frames = ["top"] * len(rows), np.arange(len(rows))
    clusters = [Cluster("top", normalise(vectors[cluster_of == c].mean(axis=0, keepdims=True))[0], 24, 0.5)
                for c in range(len(classes))]
    clustering = Clustering(cluster_of.astype(np.int64), np.zeros(len(rows), np.float32), clusters, {})
    profiles = [facet_profile({"top": vectors[cluster_of == c]}, probe, 3) for c in range(len(classes))]
    closest = min(profile_distance(profiles[a], profiles[b]) for a in range(len(classes)) for b in range(a))
    assert closest < 0.4  # what a fixed cut-off would have merged
    config = ClusterConfig(group_by="kind")
    merged = merge_facet_twins(clustering, vectors, kinds, frames, probe, config)
    assert len(merged.clusters) == len(classes)


def test_a_style_worn_in_two_sets_of_videos_becomes_one_style_in_a_full_run(tmp_path) -> None:
    # through recluster: two clusters the probe reads as the same t-shirt are one style; three
    # other tops stay apart; with the step off, five styles
    from inference import trends
    from inference.catalog import Catalog
    from inference.trends.settings import NamingConfig, TrendsConfig
    from tests.trends_helpers import WorldBuilder

    dim = 16
    axes = np.eye(dim)
    weight = np.zeros((4, dim), np.float32)
    weight[0] = 12 * (axes[0] + axes[1])  # t-shirt: both pieces read as one
    weight[1], weight[2], weight[3] = 12 * axes[2], 12 * axes[3], 12 * axes[4]
    probe_file = FacetProbe("enc-v", {("top", "type"): LinearHead(weight, np.zeros(4, np.float32),
                                                                 ("t-shirt", "hoodie", "sweater", "blazer"))}
                            ).save(tmp_path / "probe.npz")
    for share, styles in ((0.35, 4), (0.0, 5)):
        with Catalog(tmp_path / f"data{share}") as catalog:
            world = WorldBuilder(catalog, dim=dim)
            for key, axis in (("tee-a", 0), ("tee-b", 1), ("hoodie", 2), ("sweater", 3), ("blazer", 4)):
                world.centres[key] = axes[axis]
            for i in range(10):
                for key in ("tee-a", "tee-b", "hoodie", "sweater", "blazer"):
                    world.post(f"{key}{i}", i, {"top": key}, frames=2)
            ids, vectors = world.arrays()
            config = TrendsConfig(cluster=ClusterConfig(group_by="kind", k_min=2, k_max=12, noise_mads=0.0,
                                                        twin_share=share),
                                  naming=NamingConfig(facet_probe=str(probe_file)))
            result = trends.recluster(catalog, ids, vectors, config, encoder_version="enc-v")
            assert len(result.styles) == styles
            style_of = catalog.garment_style_ids()
            tees = {style_of[g] for g, key in world.truth.items() if key in ("tee-a", "tee-b")}
            assert len(tees) == (1 if share else 2)


def test_an_unmerged_cluster_is_kept_as_it_was_and_a_merged_one_measured_afresh() -> None:
    vectors, kinds, frames, clustering = _pieces([(1, 1), (1, 1), (-1, 1), (-1, -1)])
    merged = merge_facet_twins(clustering, vectors, kinds, frames, _probe(), ClusterConfig())
    assert len(merged.clusters) == 3
    # the two styles that merged with nothing: the very same centroid, radius and distances
    for old, new in ((2, 1), (3, 2)):
        assert merged.clusters[new] is clustering.clusters[old]
        rows = clustering.labels == old
        assert np.array_equal(merged.labels[rows], np.full(rows.sum(), new))
        assert np.array_equal(merged.distances[rows], clustering.distances[rows])
    # the merged one: the mean outfit vector of its frames, each garment's distance to it, and a
    # radius no wider than each part's own radius around it
    unit, unit_of = outfit_vectors(vectors, frames, kinds, ["top", "bottom"])
    rows = np.flatnonzero(merged.labels == 0)
    centroid = normalise(unit[np.unique(unit_of[rows])].mean(axis=0, keepdims=True))[0]
    assert np.allclose(merged.clusters[0].centroid, centroid, atol=1e-6)
    assert np.allclose(merged.distances[rows], 1.0 - unit[unit_of[rows]] @ centroid, atol=1e-6)
    reach = max(clustering.clusters[p].radius + 1.0 - float(clustering.clusters[p].centroid @ centroid) for p in (0, 1))
    assert merged.clusters[0].radius <= reach + 1e-6


def test_a_top_seen_alone_is_not_the_twin_of_the_same_top_over_jeans() -> None:
    # the same t-shirt, once with its jeans in frame and once with no bottom at all
    vectors, kinds, frames, clustering = _pieces([(1, 1), (1, 1), (-1, -1)])
    alone = (clustering.labels == 1) & (np.asarray(kinds) == "bottom")
    keep = ~alone
    trimmed = Clustering(clustering.labels[keep], clustering.distances[keep], clustering.clusters, {})
    kept_kinds = [k for k, ok in zip(kinds, keep, strict=True) if ok]
    merged = merge_facet_twins(trimmed, vectors[keep], kept_kinds, frames[keep], _probe(), ClusterConfig())
    assert len(merged.clusters) == 3


def test_a_dress_halfs_colour_pattern_and_cut_are_not_read_by_the_bottom_heads() -> None:
    """The probe's bottom heads learnt a skirt's cut from skirts, never from the lower half of a
    dress: for bottom crops that read as a dress only their type is compared, so two pieces of
    one dress whose lower halves the silhouette head reads oppositely are still twins."""
    type_weight = np.zeros((2, DIM), np.float32)
    type_weight[0, 0], type_weight[1, 0] = -12.0, 12.0  # dimension 0 > 0: a dress's half
    cut_weight = np.zeros((2, DIM), np.float32)
    cut_weight[0, 1], cut_weight[1, 1] = 12.0, -12.0  # dimension 1: mini or maxi
    probe = FacetProbe("v", {("bottom", "type"): LinearHead(type_weight, np.zeros(2, np.float32), ("skirt", "dress")),
                             ("bottom", "silhouette"): LinearHead(cut_weight, np.zeros(2, np.float32), ("mini", "maxi"))})

    def crops(half: float, cut: float) -> np.ndarray:
        rows = np.zeros((6, DIM), np.float32)
        rows[:, 0], rows[:, 1] = half, cut
        return rows

    first, second = (facet_profile({"bottom": crops(0.5, cut)}, probe, 3) for cut in (0.5, -0.5))
    assert set(first) == set(second) == {("bottom", "type")}
    assert profile_distance(first, second) < 0.01
    skirts = [facet_profile({"bottom": crops(-0.5, cut)}, probe, 3) for cut in (0.5, -0.5)]
    assert set(skirts[0]) == {("bottom", "type"), ("bottom", "silhouette")}  # a real skirt keeps its cut
    assert profile_distance(*skirts) > 0.9
