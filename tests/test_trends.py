"""Styles: clustering, naming, identity across runs, incremental assignment, series, rising score."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import re
import time

import numpy as np
import pytest
from sklearn.metrics import normalized_mutual_info_score

from app.cli import main
from configs import ConfigError
from core.errors import BadInputError
from inference import trends
from inference.catalog import Catalog
from inference.trends import (
    ClusterConfig,
    NamingConfig,
    RisingConfig,
    SeriesConfig,
    TrendsConfig,
    assign_new_garments,
    cluster_garments,
    clustering,
    identity,
    kmeans,
    load_styles,
    load_trend_data,
    load_vocabulary,
    recluster,
    rising,
    rising_styles,
    style_series,
)
from tests.trends_helpers import DAY0, WordEncoder, WorldBuilder, make_data


def _config(**cluster) -> TrendsConfig:
    settings = {"method": "kmeans", "group_by": "kind", "k_min": 2, "k_max": 12, "kmeans_restarts": 2,
                "noise_mads": 0.0, **cluster}
    return TrendsConfig(cluster=ClusterConfig(**settings))


def _blobs(k: int, per: int, dim: int = 24, noise: float = 0.05, seed: int = 0):
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(k, dim))
    labels = np.repeat(np.arange(k), per)
    return (centres[labels] / np.linalg.norm(centres[labels], axis=1, keepdims=True)
            + noise * rng.normal(size=(k * per, dim))).astype(np.float32), labels


def _two_styles(catalog: Catalog, days: int = 8) -> WorldBuilder:
    """Styles "a" and "b", each posted once a day by a new creator."""
    world = WorldBuilder(catalog)
    for day in range(days):
        for key in ("a", "b"):
            world.post(f"{key}{day}", day, key)
    return world


def _majority_map(builder: WorldBuilder, catalog: Catalog) -> dict[object, int]:
    """True style key -> the style id most of its garments got."""
    votes: dict[object, dict[int, int]] = {}
    for garment_id, style_id in catalog._conn.execute("SELECT garment_id, style_id FROM garment_styles"):
        key = builder.truth[garment_id]
        votes.setdefault(key, {}).setdefault(style_id, 0)
        votes[key][style_id] += 1
    return {key: max(v, key=v.get) for key, v in votes.items()}


# -- clustering ---------------------------------------------------------------------------
def test_kmeans_chooses_k_from_the_data_per_kind():
    tops, top_labels = _blobs(4, 30, seed=1)
    bottoms, bottom_labels = _blobs(3, 30, seed=2)
    vectors = np.concatenate([tops, bottoms])
    kinds = ["top"] * len(tops) + ["bottom"] * len(bottoms)
    result = cluster_garments(vectors, kinds, np.arange(len(vectors)), _config().cluster)
    assert sorted(c.kind for c in result.clusters) == ["bottom"] * 3 + ["top"] * 4
    truth = np.concatenate([top_labels, bottom_labels + 10])
    assert normalized_mutual_info_score(truth, result.labels) == pytest.approx(1.0)
    assert set(result.selection) == {"top", "bottom"} and 4 in result.selection["top"]


@pytest.mark.parametrize("per", [5, 8, 10])
def test_small_catalogs_near_the_k_cap_keep_their_styles(per):
    vectors, labels = _blobs(3, per, seed=3)
    config = ClusterConfig(group_by="kind", kmeans_restarts=2, noise_mads=0.0)
    result = cluster_garments(vectors, ["top"] * len(vectors), np.arange(len(vectors)), config)
    kept = result.labels >= 0
    assert kept.mean() > 0.85 and normalized_mutual_info_score(labels[kept], result.labels[kept]) > 0.85


def test_a_small_catalog_is_not_cut_into_more_styles_than_it_can_fill():
    # 15 garments of 3 styles with the packaged k_min of 8: at most 15 // min_style_size clusters
    vectors, labels = _blobs(3, 5, seed=3)
    config = ClusterConfig(group_by="kind", kmeans_restarts=2)
    assert config.k_min == 8 and config.min_style_size == 3
    result = cluster_garments(vectors, ["top"] * len(vectors), np.arange(len(vectors)), config)
    assert max(result.selection["top"]) <= 5 and 3 <= len(result.clusters) <= 5
    assert (result.labels >= 0).all(), "no garment lost to a dissolved sliver"
    assert normalized_mutual_info_score(labels, result.labels) > 0.85


def _lookalikes(per: int, small: int, dim: int = 64, seed: int = 4):
    """A large style, a small lookalike of it (centres at cosine 0.99) and three far styles."""
    rng = np.random.default_rng(seed)
    far = rng.normal(size=(4, dim))
    base = far[0] / np.linalg.norm(far[0])
    twist = rng.normal(size=dim)
    twist -= (twist @ base) * base
    lookalike = 0.99 * base + np.sqrt(1 - 0.99**2) * twist / np.linalg.norm(twist)
    centres = np.vstack([base, lookalike, far[1:] / np.linalg.norm(far[1:], axis=1, keepdims=True)])
    sizes = [per, small, per, per, per]
    labels = np.repeat(np.arange(5), sizes)
    vectors = centres[labels] + 0.15 / np.sqrt(dim) * rng.normal(size=(len(labels), dim))
    return kmeans.normalise(vectors), labels


def test_bimodality_tells_two_groups_from_one_cloud():
    rng = np.random.default_rng(0)
    one = rng.normal(size=(400, 64)).astype(np.float32)
    two = one.copy()
    two[:100, 0] += 12.0  # a quarter of the cloud sits 12 SDs away along one axis
    assert kmeans.bimodality(one, np.random.default_rng(1)) < 3.5
    assert kmeans.bimodality(two, np.random.default_rng(1)) > 8.0
    assert kmeans.bimodality(one[:10], np.random.default_rng(1)) == 0.0, "too few members to judge"


def test_a_small_lookalike_style_is_split_from_the_style_it_copies():
    vectors, labels = _lookalikes(per=120, small=24)
    config = _config(k_min=2, k_max=8).cluster  # silhouette alone picks k=4: the lookalike hides
    merged = cluster_garments(vectors, ["top"] * len(vectors), np.arange(len(vectors)),
                              dataclasses.replace(config, split_separation=0.0))
    assert len(merged.clusters) == 4
    result = cluster_garments(vectors, ["top"] * len(vectors), np.arange(len(vectors)), config)
    assert len(result.clusters) == 5
    assert normalized_mutual_info_score(labels, result.labels) == pytest.approx(1.0)
    pure, _ = _blobs(4, 60, dim=64, seed=5)  # well separated styles are left alone
    assert len(cluster_garments(pure, ["top"] * 240, np.arange(240), config).clusters) == 4


def test_pieces_of_one_style_are_merged_back():
    vectors, labels = _blobs(3, 150, dim=64, noise=0.1, seed=6)
    config = _config(k_min=6, k_max=6).cluster  # k-means must cut the three styles into six pieces
    cut = cluster_garments(vectors, ["top"] * 450, np.arange(450), dataclasses.replace(config, merge_separation=0.0))
    assert len(cut.clusters) == 6
    result = cluster_garments(vectors, ["top"] * 450, np.arange(450), config)
    assert len(result.clusters) == 3
    assert normalized_mutual_info_score(labels, result.labels) == pytest.approx(1.0)


def test_a_cluster_too_small_to_test_is_not_swallowed():
    vectors, _ = _blobs(2, 100, dim=64, noise=0.1, seed=7)  # style 0: rows 0-99, style 1: rows 100-199
    config, rng = _config().cluster, np.random.default_rng(0)
    pieces = [np.arange(0, 50), np.arange(50, 100), np.arange(100, 103)]  # two halves of a style, 3 of another
    merged = kmeans._merge_pieces(vectors, pieces, config, rng)
    assert sorted(len(g) for g in merged) == [3, 100]


def test_kmeans_leaves_far_strays_unassigned():
    vectors, _ = _blobs(3, 60, dim=32, noise=0.05, seed=8)
    strays = kmeans.normalise(np.random.default_rng(9).normal(size=(5, 32)).astype(np.float32))
    data = np.concatenate([vectors, strays])
    config = _config(k_min=3, k_max=3, noise_mads=3.0).cluster
    result = cluster_garments(data, ["top"] * len(data), np.arange(len(data)), config)
    assert (result.labels[len(vectors):] == trends.NOISE).all(), "random vectors belong to no style"
    assert (result.labels[: len(vectors)] >= 0).mean() > 0.97
    every = cluster_garments(data, ["top"] * len(data), np.arange(len(data)), dataclasses.replace(config, noise_mads=0.0))
    assert (every.labels >= 0).all()
    # new garments are held to the run's limit, not the looser radius (q99 x slack) of its members
    centroids = np.stack([c.centroid for c in result.clusters])
    labels, distances = kmeans.nearest_centroid(kmeans.normalise(data), centroids)
    limit = clustering.noise_limits(distances, labels, len(centroids), 3.0)[0]
    uncapped = clustering.cluster_radius(distances[(labels == 0) & (distances <= limit)], config)
    assert result.clusters[0].radius == pytest.approx(limit) and limit < uncapped
    target = (limit + uncapped) / 2  # a garment this far from style 0's centroid: outside the limit only
    twist = np.random.default_rng(1).normal(size=32)
    twist -= (twist @ centroids[0]) * centroids[0]
    probe = (1 - target) * centroids[0] + np.sqrt(1 - (1 - target) ** 2) * twist / np.linalg.norm(twist)
    styles = [trends.Style(i, f"s{i}", [], "top", c.centroid, c.size, c.radius) for i, c in enumerate(result.clusters)]
    assert identity._assign_to_styles(styles, np.array([1]), probe[None].astype(np.float32), ["top"], "kind") == []


def test_a_small_new_look_among_the_strays_becomes_a_style_of_its_own():
    # three styles fill k; a fourth, small look (12 garments, as tight as the others) has no
    # centroid left and lands beyond its nearest style's limit, among random strays
    vectors, _ = _blobs(4, 60, dim=32, noise=0.05, seed=8)
    small = vectors[180:192]
    strays = kmeans.normalise(np.random.default_rng(9).normal(size=(30, 32)).astype(np.float32))
    data = np.concatenate([vectors[:180], small, strays])
    config = _config(k_min=3, k_max=3, noise_mads=3.0, split_separation=0.0, merge_separation=0.0).cluster
    found = cluster_garments(data, ["top"] * len(data), np.arange(len(data)), config)
    assert len(found.clusters) == 4
    look = found.labels[180:192]
    assert (look >= 0).all() and len(set(look.tolist())) == 1 and look[0] not in set(found.labels[:180].tolist())
    assert (found.labels[192:] == trends.NOISE).all(), "random strays gather into no style"
    assert (found.labels[:180] >= 0).mean() > 0.97
    off = cluster_garments(data, ["top"] * len(data), np.arange(len(data)), dataclasses.replace(config, stray_styles=0.0))
    assert len(off.clusters) == 3 and (off.labels[180:192] == trends.NOISE).all()
    loose = cluster_garments(data, ["top"] * len(data), np.arange(len(data)), dataclasses.replace(config, stray_styles=0.1))
    assert len(loose.clusters) == 3, "a group looser than the run's styles stays strays"


def test_garments_left_out_are_kept_near_their_nearest_style_of_their_kind():
    vectors, _ = _blobs(2, 60, dim=32, noise=0.05, seed=8)
    data = np.concatenate([vectors, vectors])  # the same styles as tops and as bottoms
    kinds = ["top"] * 120 + ["bottom"] * 120
    rng = np.random.default_rng(3)
    near = kmeans.normalise(vectors[0] + 0.06 * rng.normal(size=(2, 32)))  # just beyond the noise limit
    strays = kmeans.normalise(rng.normal(size=(2, 32)))  # near nothing
    data = np.concatenate([data, near, near, strays]).astype(np.float32)
    kinds += ["top", "top", "bottom", "bottom", "top", "bottom"]
    config = _config(k_min=2, k_max=2, noise_mads=3.0, split_separation=0.0, merge_separation=0.0).cluster
    result = cluster_garments(data, kinds, np.arange(len(data)), config)
    assert (result.labels[240:] == trends.NOISE).all()
    labels, distances = clustering.nearest_styles(result, data, kinds, np.arange(len(data)), config)
    assert (labels[:240] == trends.NOISE).all() and np.isnan(distances[:240]).all(), "members are not 'near'"
    top_style, bottom_style = result.labels[0], result.labels[120]
    assert list(labels[240:244]) == [top_style, top_style, bottom_style, bottom_style]
    assert (distances[240:244] > 0).all() and (labels[244:] == trends.NOISE).all()
    off = clustering.nearest_styles(result, data, kinds, np.arange(len(data)), dataclasses.replace(config, near_mads=0))
    assert (off[0] == trends.NOISE).all()


def test_a_loose_style_keeps_its_core_and_duplicates_do_not_make_everything_noise():
    tight, _ = _blobs(1, 300, dim=32, noise=0.02, seed=10)
    loose, _ = _blobs(1, 100, dim=32, noise=0.12, seed=11)
    data = kmeans.normalise(np.concatenate([tight, loose]))
    config = _config(k_min=2, k_max=2, noise_mads=3.0, split_separation=0.0, merge_separation=0.0).cluster
    result = cluster_garments(data, ["top"] * len(data), np.arange(len(data)), config)
    assert len(result.clusters) == 2 and (result.labels[300:] >= 0).mean() >= 0.5, "the loose style survives"
    # most garments exact duplicates (MAD 0): the real styles next to them are not all noise
    same = np.repeat(kmeans.normalise(np.ones((1, 32), np.float32)), 60, axis=0)
    real, _ = _blobs(2, 20, dim=32, noise=0.05, seed=12)
    data = np.concatenate([same, kmeans.normalise(real)])
    config = _config(k_min=3, k_max=3, noise_mads=3.0, split_separation=0.0, merge_separation=0.0).cluster
    result = cluster_garments(data, ["top"] * len(data), np.arange(len(data)), config)
    assert len(result.clusters) == 3 and (result.labels[60:] >= 0).mean() > 0.9


def test_density_leaves_outliers_unassigned():
    vectors, labels = _blobs(3, 40, seed=3)
    strays = np.random.default_rng(9).normal(size=(4, vectors.shape[1])).astype(np.float32)
    result = cluster_garments(np.concatenate([vectors, strays]), ["top"] * 124, np.arange(124),
                              _config(method="density", min_cluster_size=10).cluster)
    assert len(result.clusters) == 3
    assert (result.labels[-4:] == trends.NOISE).all()
    assert normalized_mutual_info_score(labels, result.labels[:-4]) == pytest.approx(1.0)
    assert np.isnan(result.distances[-4:]).all()


def test_outfit_grouping_gives_each_frame_one_style(data_dir):
    with Catalog(data_dir) as catalog:
        world = WorldBuilder(catalog)
        for i in range(12):
            world.post(f"c{i}", i, {"top": "t1", "bottom": "b1"}, frames=2)
            world.post(f"d{i}", i, {"top": "t2", "bottom": "b2"}, frames=2)
        ids, vectors = world.arrays()
        result = recluster(catalog, ids, vectors, _config(group_by="outfit"))
        assert {s.kind for s in result.styles} == {"outfit"} and len(result.styles) == 2
        by_frame = catalog._conn.execute(
            "SELECT g.frame_id, COUNT(DISTINCT gs.style_id) FROM garment_styles gs "
            "JOIN garments g ON g.id = gs.garment_id GROUP BY g.frame_id").fetchall()
        assert all(n == 1 for _, n in by_frame)


def test_a_styles_size_counts_garments_the_same_after_a_full_run_and_an_assignment(data_dir):
    # outfit clusters are made of frames; the size a full run stores used to count frames
    # while the catalog recounts garments after an assignment: the demo's report showed a
    # third of what `stylescope trends` showed for the same style
    with Catalog(data_dir) as catalog:
        world = WorldBuilder(catalog)
        for i in range(12):
            world.post(f"c{i}", i, {"top": "t1", "bottom": "b1", "full": "f1"}, frames=2)
            world.post(f"d{i}", i, {"top": "t2", "bottom": "b2", "full": "f2"}, frames=2)
        ids, vectors = world.arrays()
        recluster(catalog, ids, vectors, _config(group_by="outfit"))
        counted = dict(catalog._conn.execute("SELECT style_id, COUNT(*) FROM garment_styles GROUP BY style_id"))
        after_full = {s.id: s.size for s in trends.load_styles(catalog)}
        assert after_full == counted and sum(after_full.values()) == 12 * 2 * 2 * 3
        trends.assign_new_garments(catalog, ids, vectors)  # nothing new: sizes are recounted
        assert {s.id: s.size for s in trends.load_styles(catalog)} == after_full


def test_all_garments_identical_make_one_style(data_dir):
    with Catalog(data_dir) as catalog:
        world = WorldBuilder(catalog, noise=0.0)
        for i in range(6):
            world.post(f"c{i}", i, "same")
        ids, vectors = world.arrays()
        result = recluster(catalog, ids, vectors, _config())
        assert len(result.styles) == 1 and result.assigned == len(ids)


def test_no_garments_is_a_clear_error(data_dir):
    with Catalog(data_dir) as catalog, pytest.raises(BadInputError, match="no garments"):
        recluster(catalog, np.zeros(0, np.int64), np.zeros((0, 8), np.float32), _config())
    with Catalog(data_dir) as catalog, pytest.raises(BadInputError, match="no garments"):
        trends.update_styles(catalog, _config())


def test_crops_where_no_person_was_detected_get_no_style(data_dir):
    with Catalog(data_dir) as catalog:
        world = WorldBuilder(catalog)
        for i in range(10):
            world.post(f"c{i}", i, "a")
            world.post(f"d{i}", i, "b")
        # title cards and empty rooms: the centred fallback, all alike, would make a style of their own
        for i in range(10):
            world.post(f"c{i}", i, "title card", method="fallback_center")
        ids, vectors = world.arrays()
        result = recluster(catalog, ids, vectors, _config())
        assert len(result.styles) == 2 and result.assigned == 20 * 2
        styled = {r[0] for r in catalog._conn.execute("SELECT garment_id FROM garment_styles")}
        assert not any(world.truth[i] == "title card" for i in styled)
        # incremental assignment skips them too, even next to a style's centroid
        world.post("late", 11, "a", method="fallback_center")
        ids, vectors = world.arrays()
        assert assign_new_garments(catalog, ids, vectors).assigned == 0
        # a setting to keep them, and a clear error when nothing else is left
        result = recluster(catalog, ids, vectors, _config(skip_methods=[]))
        assert result.assigned == len(ids)
    with Catalog(data_dir / "only") as catalog:
        world = WorldBuilder(catalog)
        for i in range(4):
            world.post(f"c{i}", i, "a", method="fallback_center")
        ids, vectors = world.arrays()
        with pytest.raises(BadInputError, match="skip_methods"):
            recluster(catalog, ids, vectors, _config())


def test_outfits_are_told_by_their_top_and_bottom_not_by_the_room(data_dir):
    # the full-body crop carries the creator's room; top and bottom carry the style
    with Catalog(data_dir) as catalog:
        world = WorldBuilder(catalog, noise=0.02)
        for i in range(24):
            style, room = ("a", "b")[i % 2], f"room{i % 3}"
            world.post(f"c{i % 3}", i, {"top": f"top-{style}", "bottom": f"bottom-{style}", "full": room}, frames=2)
        ids, vectors = world.arrays()
        tops = [int(g) for g in ids if str(world.truth[int(g)]).startswith("top-")]

        def styles_of_tops() -> list[int]:
            got = dict(catalog._conn.execute("SELECT garment_id, style_id FROM garment_styles").fetchall())
            return [got[g] for g in tops]

        result = recluster(catalog, ids, vectors, _config(group_by="outfit", outfit_kinds=["top", "bottom"]))
        assert len(result.styles) == 2
        truth = [world.truth[g] for g in tops]
        assert normalized_mutual_info_score(truth, styles_of_tops()) == pytest.approx(1.0)
        everything = recluster(catalog, ids, vectors, _config(group_by="outfit", outfit_kinds=[]))
        assert len(everything.styles) > 2, "with the room in the vector, frames also split by room"
        # incremental assignment builds outfit vectors the same way as the run that made the styles
        recluster(catalog, ids, vectors, _config(group_by="outfit", outfit_kinds=["top", "bottom"]))
        expected = _majority_map(world, catalog)["top-a"]
        world.post("new", 30, {"top": "top-a", "bottom": "bottom-a", "full": "room-unseen"}, frames=1)
        ids, vectors = world.arrays()
        assert assign_new_garments(catalog, ids, vectors).assigned == 3
        got = catalog._conn.execute("SELECT style_id FROM garment_styles WHERE garment_id = ?", (int(ids[-1]),))
        assert got.fetchone()[0] == expected


def test_a_frame_with_only_a_full_crop_keeps_it():
    vectors = kmeans.normalise(np.eye(4, dtype=np.float32)[[0, 1, 2, 3]])
    out, frame_of = clustering.outfit_vectors(vectors, np.array([1, 1, 1, 2]), ["top", "bottom", "full", "full"],
                                          ["top", "bottom"])
    assert np.allclose(out[0], kmeans.normalise(vectors[:2].sum(0, keepdims=True))[0])
    assert np.allclose(out[1], vectors[3]) and frame_of.tolist() == [0, 0, 0, 1]


def test_a_catalog_clustered_before_these_settings_existed_reclusters_once(data_dir, monkeypatch):
    with Catalog(data_dir) as catalog:
        world = _two_styles(catalog)
        ids, vectors = world.arrays()
        info = {"name": "tiny:16", "dim": 16, "version": "v1"}
        monkeypatch.setattr("inference.index.load_embeddings", lambda *_: (ids, vectors, info))
        config = _config(group_by="outfit", noise_mads=3.0)
        assert trends.update_styles(catalog, config).mode == "recluster"
        assert trends.update_styles(catalog, config).mode == "incremental"
        state = json.loads(catalog.get_meta(trends.STATE_KEY))
        for key in ("skip_methods", "outfit_kinds", "noise_mads", "merges"):
            old = {k: v for k, v in state.items() if k != key}
            catalog.set_meta(trends.STATE_KEY, json.dumps(old))
            assert trends.update_styles(catalog, config).mode == "recluster", key
            assert trends.update_styles(catalog, config).mode == "incremental", key
        # a changed merge setting (co-worn clusters) is a full run too
        changed = dataclasses.replace(config, cluster=dataclasses.replace(config.cluster, co_worn_share=0.8))
        assert trends.update_styles(catalog, changed).mode == "recluster"
        assert trends.update_styles(catalog, changed).mode == "incremental"


# -- identity across runs and incremental assignment ----------------------------------------
def test_style_ids_survive_reclustering(data_dir):
    with Catalog(data_dir) as catalog:
        world = WorldBuilder(catalog)
        for day in range(10):
            for key in ("a", "b", "c"):
                world.post(f"{key}{day}", day, key)
        ids, vectors = world.arrays()
        recluster(catalog, ids, vectors, _config())
        first = _majority_map(world, catalog)
        assert len(set(first.values())) == 3
        # more data, a new style, and a full run with another seed: same ids for the same styles
        for day in range(10, 20):
            for key in ("a", "b", "c", "d"):
                world.post(f"{key}{day}", day, key)
        ids, vectors = world.arrays()
        result = recluster(catalog, ids, vectors, _config(seed=7))
        second = _majority_map(world, catalog)
        assert all(second[key] == first[key] for key in "abc")
        assert second["d"] not in first.values() and result.kept_ids == 3 and result.new_ids == 1
        # a run without style "a" retires its id, and the id is never handed out again
        keep = np.asarray([world.truth[i] != "a" for i in ids])
        result = recluster(catalog, ids[keep], vectors[keep], _config())
        assert result.retired_ids == [first["a"]]
        world.post("z1", 25, "e")
        ids2, vectors2 = world.arrays()
        keep2 = np.asarray([world.truth[i] != "a" for i in ids2])
        recluster(catalog, ids2[keep2], vectors2[keep2], _config())
        assert first["a"] not in {s.id for s in load_styles(catalog)}


def test_incremental_assignment_uses_existing_styles(data_dir):
    with Catalog(data_dir) as catalog:
        world = _two_styles(catalog)
        ids, vectors = world.arrays()
        recluster(catalog, ids, vectors, _config())
        expected = _majority_map(world, catalog)
        before = len(ids)
        world.post("new1", 9, "a")
        world.post("new2", 9, "b")
        world.post("odd", 9, "never-seen")
        ids, vectors = world.arrays()
        result = assign_new_garments(catalog, ids, vectors)
        assert result.considered == len(ids) - before and result.assigned == 4
        got = dict(catalog._conn.execute("SELECT garment_id, style_id FROM garment_styles").fetchall())
        for garment_id in ids[before:]:
            key = world.truth[int(garment_id)]
            assert got.get(int(garment_id)) == expected.get(key)  # "never-seen" stays unassigned
        sizes = {s.id: s.size for s in load_styles(catalog)}
        assert sizes[expected["a"]] == 8 * 2 + 2


@pytest.mark.slow
def test_guidance_after_an_ingest_and_when_a_full_run_would_find_new_styles(data_dir):
    from app import format as fmt
    from inference.trends.coverage import style_coverage

    config = _config(group_by="outfit")
    with Catalog(data_dir) as catalog:
        world = WorldBuilder(catalog)
        for i in range(10):
            world.post(f"c{i}", i, {"top": "t1", "bottom": "b1"})
            world.post(f"d{i}", i, {"top": "t2", "bottom": "b2"})
        assert fmt.ingest_next_steps(style_coverage(catalog, config.cluster), config.cluster, fmt.CLI_STEPS) == [
            "Next: run `stylescope trends` to cluster the 80 garments into styles; trends and creators are "
            "reported on styles."]
        recluster(catalog, *world.arrays(), config)
        coverage = style_coverage(catalog, config.cluster)
        assert coverage.styles >= 2 and coverage.unfitted == 0
        assert fmt.ingest_next_steps(coverage, config.cluster, fmt.CLI_STEPS) == []
        for i in range(2):  # a few more of the same: they fit the styles there are
            world.post(f"n{i}", 20 + i, {"top": "t1", "bottom": "b1"})
        coverage = style_coverage(catalog, config.cluster)
        (step,) = fmt.ingest_next_steps(coverage, config.cluster, fmt.APP_STEPS)
        assert step.startswith(f"Next: {coverage.unstyled} garments have no style yet: press “Update styles” in "
                               "the Trends tab")
        trends.assign_new_garments(catalog, *world.arrays())
        assert style_coverage(catalog, config.cluster).unfitted == 0
        assert fmt.update_next_steps(style_coverage(catalog, config.cluster), config.cluster, fmt.CLI_STEPS) == []
        for i in range(6):  # a new look no style fits
            world.post(f"x{i}", 30 + i, {"top": "t9", "bottom": "b9"})
        trends.assign_new_garments(catalog, *world.arrays())
        coverage = style_coverage(catalog, config.cluster)
        assert coverage.unfitted == 24 and coverage.recluster_advised(config.cluster)
        (advice,) = fmt.update_next_steps(coverage, config.cluster, fmt.CLI_STEPS)
        assert advice.startswith("24 garments (") and "`stylescope trends --recluster` to look for new styles" in advice
        recluster(catalog, *world.arrays(), config)
        assert fmt.update_next_steps(style_coverage(catalog, config.cluster), config.cluster, fmt.CLI_STEPS) == []


def test_incremental_assignment_of_1k_is_fast(data_dir):
    with Catalog(data_dir) as catalog:
        world = WorldBuilder(catalog, dim=64)
        for day in range(40):
            for key in range(10):
                world.post(f"c{key}_{day % 7}", day, key, frames=2)
        ids, vectors = world.arrays()
        recluster(catalog, ids, vectors, _config())
        before = len(ids)
        for n in range(500):
            world.post(f"n{n}", 45, n % 10, frames=2)
        ids, vectors = world.arrays()
        start = time.perf_counter()
        result = assign_new_garments(catalog, ids, vectors)
        elapsed = time.perf_counter() - start
        assert result.considered == len(ids) - before == 1000 and result.assigned == 1000
        assert elapsed < 2.0  # target 1 s per 1k on 2 cores; slack for a shared machine


# -- naming -------------------------------------------------------------------------------
def _vocab_file(tmp_path, text: str):
    path = tmp_path / "vocab.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_styles_are_named_from_the_vocabulary(data_dir, tmp_path):
    vocab = _vocab_file(tmp_path, "prompt: '{word}'\nname_from: [colours, garments]\n"
                        "words:\n  colours: [red, blue]\n  garments: [skirt, hoodie]\n  aesthetics: [y2k]\n")
    with Catalog(data_dir) as catalog:
        world = WorldBuilder(catalog)
        for day in range(8):
            world.post(f"a{day}", day, "red-skirt")
            world.post(f"b{day}", day, "blue-hoodie")
        a, b = world.centre("red-skirt"), world.centre("blue-hoodie")
        encoder = WordEncoder({"red": a, "skirt": a + 0.1 * b, "blue": b, "hoodie": b + 0.1 * a}, world.dim)
        config = _config()
        config.naming = NamingConfig(vocabulary=str(vocab), top_words=3, facets=False)  # vocabulary names, not facet names
        ids, vectors = world.arrays()
        recluster(catalog, ids, vectors, config, encoder=encoder)
        names = {s.name for s in load_styles(catalog)}
        assert names == {"red skirt", "blue hoodie"}
        style = next(s for s in load_styles(catalog) if s.name == "red skirt")
        assert style.words[0].word in {"red", "skirt"} and style.words[0].category in {"colours", "garments"}
        stored = catalog._conn.execute("SELECT words FROM styles WHERE id = ?", (style.id,)).fetchone()[0]
        assert json.loads(stored)[0]["score"] >= json.loads(stored)[1]["score"]


def test_a_name_does_not_repeat_a_word_the_garment_already_says():
    vocabulary = trends.Vocabulary(prompt="{word}", name_from=("colours", "silhouettes", "garments"),
                                   words={"colours": ["red"], "silhouettes": ["mini", "wide"],
                                          "garments": ["mini skirt", "jeans"]})
    vectors = np.eye(5, dtype=np.float32)  # red, mini, wide, mini skirt, jeans
    centroids = kmeans.normalise(np.asarray([[1, 1, 0, 1, 0], [1, 0, 1, 0, 1]], np.float32))
    names = [name for name, _ in trends.name_styles(centroids, vocabulary, vectors, NamingConfig(center=False))]
    assert names == ["red mini skirt", "red wide jeans"]


def test_packaged_vocabulary_loads():
    vocabulary = load_vocabulary()
    assert {"garments", "colours", "aesthetics"} <= set(vocabulary.words)
    assert "gorpcore" in vocabulary.words["aesthetics"] and "{word}" in vocabulary.prompt


@pytest.mark.parametrize(
    "text, message",
    [
        ("", "no 'words'"),
        ("words: [red, blue]\n", "no 'words'"),
        ("words:\n  colours: red\n", "must be a list"),
        ("words:\n  colours: []\n", "holds no words"),
        ("words:\n  colours: [red]\nprompt: 'a photo'\n", "prompt"),
        ("words: {colours: [red]\n", "not valid YAML"),
        ("words:\n  colours: [red]\nname_from: [shoes]\n", "name_from"),
    ],
)
def test_bad_vocabulary_files_are_clear_errors(tmp_path, text, message):
    with pytest.raises(BadInputError, match=message):
        load_vocabulary(_vocab_file(tmp_path, text))
    with pytest.raises(BadInputError, match="not found"):
        load_vocabulary(tmp_path / "missing.yaml")


# -- series -------------------------------------------------------------------------------
def test_weekly_series_counts_videos_creators_and_share():
    data = make_data([
        (1, "ann", 0), (1, "ann", 1), (1, "bob", 2), (None, "cat", 3),  # week 0: 3 of 4 posts
        (2, "cat", 7, 2, 0.1, 1_000_000), (1, "dan", 8, 2, 0.1, 10),  # week 1
        (None, "eve", 21),  # week 3; week 2 is an empty window
    ])
    series = style_series(data, SeriesConfig(period="week"))
    assert series.periods == [DAY0 + dt.timedelta(weeks=w) for w in range(4)]
    one = series.styles[1]
    assert one.videos.tolist() == [3, 1, 0, 0] and one.creators.tolist() == [2, 1, 0, 0]
    assert one.garments.tolist() == [6, 2, 0, 0]
    assert one.share.tolist() == pytest.approx([0.75, 0.5, 0.0, 0.0])
    weighted = style_series(data, SeriesConfig(period="week", weight="followers"))
    assert weighted.styles[2].share[1] == pytest.approx(1_000_000 / 1_000_010)
    daily = style_series(data, SeriesConfig(period="day"), start=DAY0 + dt.timedelta(days=14),
                         end=DAY0 + dt.timedelta(days=20))
    assert daily.posts.sum() == 0 and daily.styles == {}


# -- rising and fading --------------------------------------------------------------------
def _season() -> list[tuple]:
    rng = np.random.default_rng(0)
    events: list[tuple] = []
    for day in range(70):
        events += [(1, f"c{rng.integers(20)}", day) for _ in range(3)]  # steady background
        if day <= 30:
            events += [(4, f"c{rng.integers(20)}", day) for _ in range(2)]  # fades out after day 30
    events += [(2, f"t{i}", 40 + i) for i in range(10)]  # ten creators, one a day from day 40
    events += [(3, "solo", 50 + i) for i in range(10)]  # one creator, ten posts
    return events


def test_rising_needs_a_burst_and_several_creators():
    verdicts = {t.style_id: t for t in rising_styles(make_data(_season()), RisingConfig())}
    rising = verdicts[2]
    assert rising.onset == DAY0 + dt.timedelta(days=40)
    assert DAY0 + dt.timedelta(days=40) <= rising.takeoff <= DAY0 + dt.timedelta(days=44)
    assert verdicts[3].takeoff is None, "one creator posting ten times is not a trend"
    assert verdicts[1].takeoff is None and verdicts[1].state == "steady"
    assert verdicts[4].state == "fading" and verdicts[4].fading_since is not None
    # judged as of day 45 the trend is rising right now, and only data up to then is used
    at_45 = {t.style_id: t for t in rising_styles(make_data(_season()), RisingConfig(), DAY0 + dt.timedelta(days=45))}
    assert at_45[2].state == "rising" and at_45[2].score >= 3.0 and at_45[2].recent_creators == 6
    assert 3 not in at_45


def test_fans_wearing_a_staple_more_often_is_not_a_trend():
    rng = np.random.default_rng(1)
    events: list[tuple] = [(None, f"p{d % 9}", d) for d in range(70) for _ in range(4)]
    fans = [f"fan{i}" for i in range(6)]
    events += [(1, fans[d % 6], d) for d in range(0, 50, 5)]  # a staple of six fans, every five days
    events += [(1, fans[int(rng.integers(6))], d) for d in range(50, 64) for _ in range(2)]  # then twice a day
    events += [(2, f"new{i}", 50 + i) for i in range(8)]  # the same days: eight creators wear a new style
    verdicts = {t.style_id: t for t in rising_styles(make_data(events), RisingConfig())}
    assert verdicts[2].takeoff is not None
    assert verdicts[1].takeoff is None and verdicts[1].recent_new_creators == 0
    at_57 = {t.style_id: t for t in rising_styles(make_data(events), RisingConfig(), DAY0 + dt.timedelta(days=57))}
    assert at_57[2].state == "rising" and at_57[2].recent_new_creators == at_57[2].recent_creators == 8
    # the burst itself is real: without the new-wearer rule the staple is flagged
    loose = RisingConfig(detector="window", min_new_creators=0, min_new_share=0.0)
    assert {t.style_id: t for t in rising_styles(make_data(events), loose)}[1].takeoff is not None


def test_new_wearers_must_be_most_of_the_burst():
    events: list[tuple] = [(None, f"p{d % 9}", d) for d in range(70) for _ in range(4)]
    fans = [f"fan{i}" for i in range(10)]
    events += [(1, fan, 3 * i) for i, fan in enumerate(fans)]  # ten fans wear it in the first month
    events += [(1, fans[(d // 5) % 10], d) for d in range(30, 50, 5)]  # and now and then after
    events += [(1, fans[d % 10], d) for d in range(50, 62) for _ in range(2)]  # then twice a day...
    events += [(1, f"new{i}", 52 + i) for i in range(3)]  # ...with three first-time wearers among them
    config = RisingConfig()
    assert config.min_new_creators == 3 and config.min_new_share == 0.5
    (verdict,) = [t for t in rising_styles(make_data(events), config) if t.style_id == 1]
    assert verdict.takeoff is None, "3 new wearers among 13 creators: the fans' burst"
    (loose,) = [t for t in rising_styles(make_data(events), RisingConfig(detector="window", min_new_share=0.0)) if t.style_id == 1]
    assert loose.takeoff is not None


def test_a_burst_in_the_first_weeks_is_judged_once_enough_history_exists():
    events = [(1, f"bg{d % 5}", d) for d in range(60)] + [(None, f"p{d % 7}", d) for d in range(60) for _ in range(3)]
    events += [(2, f"t{i}", 17 + i) for i in range(6)]  # a new style bursts on days 17-22
    config = RisingConfig()  # recent 14 days, at least 14 days of history before them
    assert list(rising.recent_lengths(30, config)[[0, 20, 21, 27, 29]]) == [7, 7, 8, 14, 14]
    (verdict,) = [t for t in rising_styles(make_data(events), config) if t.style_id == 2]
    assert verdict.takeoff is not None
    # with a fixed 14-day window nothing could be judged before day 27
    assert DAY0 + dt.timedelta(days=20) <= verdict.takeoff < DAY0 + dt.timedelta(days=27)
    assert verdict.onset is not None and verdict.onset >= DAY0 + dt.timedelta(days=17)


def test_a_style_that_took_off_and_holds_steady_is_peaked_not_steady():
    rng = np.random.default_rng(2)
    events: list[tuple] = [(None, f"p{d % 9}", d) for d in range(100) for _ in range(4)]
    events += [(1, f"c{rng.integers(20)}", d) for d in range(100)]  # a staple, one video a day
    events += [(2, f"t{i}", 40 + i) for i in range(10)]  # takes off from day 40...
    events += [(2, f"t{rng.integers(10)}", d) for d in range(50, 100)]  # ...then one video a day
    ranked = rising_styles(make_data(events), RisingConfig())
    verdicts = {t.style_id: t for t in ranked}
    held = verdicts[2]
    assert held.takeoff is not None and held.has_risen
    assert held.state == "peaked", "a style with a take-off date is never plain steady"
    assert verdicts[1].state == "steady" and not verdicts[1].has_risen
    assert [t.style_id for t in ranked] == [2, 1]  # peaked before steady


def test_every_state_is_one_of_the_glossarys_and_emerging_is_short_of_rising():
    from inference.trends.glossary import GLOSSARY, STATES
    from inference.trends.states import trend_state

    config = RisingConfig()
    assert set(STATES) <= set(GLOSSARY)

    def state(**flags):
        base = dict(rising=False, fading=False, judged=True, has_risen=False, score=0.0, growth=1.0)
        return trend_state(**{**base, **flags}, config=config)

    assert state(rising=True, has_risen=True, score=5.0, growth=3.0) == "rising"
    assert state(has_risen=True) == "peaked"
    assert state(has_risen=True, fading=True) == "fading"
    assert state(score=config.emerging_z, growth=config.min_growth) == "emerging"
    assert state(score=config.emerging_z, growth=config.min_growth - 0.1) == "steady"
    assert state(judged=False, score=9.0, growth=9.0) == "new"
    # two creators in a burst: not enough to rise, but it is emerging
    events: list[tuple] = [(None, f"p{d % 9}", d) for d in range(60) for _ in range(4)]
    events += [(1, f"c{d % 5}", d) for d in range(0, 60, 6)]
    events += [(1, f"e{d % 2}", d) for d in range(50, 60, 2)]
    (verdict,) = rising_styles(make_data(events), config)
    assert verdict.takeoff is None and verdict.state == "emerging", verdict


def test_one_day_of_data_is_new_not_rising():
    data = make_data([(1, f"c{i}", 0) for i in range(10)])
    (verdict,) = rising_styles(data, RisingConfig())
    assert verdict.state == "new" and verdict.takeoff is None


def test_a_videos_frames_count_those_left_out_as_noise(data_dir):
    with Catalog(data_dir) as catalog:
        world = WorldBuilder(catalog)
        video = world.post("ann", 1, {"top": "a", "bottom": "b"}, frames=4)
        world.post("bob", 1, {"top": "a", "bottom": "b"}, frames=4)
        world.post("ann", 2, {"top": "a", "bottom": "b"}, frames=2, method="fallback_center")
        ids, vectors = world.arrays()
        recluster(catalog, ids, vectors, _config(k_min=1, k_max=1, group_by="outfit"))
        frames = [r[0] for r in catalog._conn.execute("SELECT id FROM frames WHERE video_id = ? ORDER BY id", (video,))]
        with catalog._transaction() as tx:  # three of the four frames turned out to be noise
            tx.execute(f"DELETE FROM garment_styles WHERE garment_id IN (SELECT id FROM garments "
                       f"WHERE frame_id IN ({','.join('?' * 3)}))", frames[1:])
        (sighting,) = [s for s in load_trend_data(catalog).sightings if s.video_id == video]
        assert sighting.frames == 1 and sighting.video_frames == 4


def test_future_and_backdated_posts(data_dir):
    with Catalog(data_dir) as catalog:
        world = WorldBuilder(catalog)
        for day in range(5):
            world.post(f"a{day}", day, "a")
        world.post("late", dt.date.today() + dt.timedelta(days=30), "a")
        world.post("early", -3, "a")  # ingested last, posted first
        ids, vectors = world.arrays()
        recluster(catalog, ids, vectors, _config())
        data = load_trend_data(catalog)
        assert data.future_videos == 1 and len(data.posts) == 6
        assert data.first_day == DAY0 - dt.timedelta(days=3)
        assert all(s.creator != "late" for s in data.sightings)


# -- the command --------------------------------------------------------------------------
def _season_catalog(data_dir, monkeypatch) -> WorldBuilder:
    catalog = Catalog(data_dir)
    world = WorldBuilder(catalog)
    rng = np.random.default_rng(1)
    for day in range(63):
        for _ in range(3):
            world.post(f"c{rng.integers(15)}", day, "steady", followers=int(rng.integers(1_000, 2_000_000)))
    for i in range(10):
        world.post(f"t{i}", 40 + i, "trend", frames=3, followers=30_000)
    ids, vectors = world.arrays()
    monkeypatch.setattr("inference.index.load_embeddings", lambda *_: (ids, vectors, {"name": "tiny:16", "dim": 16}))
    catalog.close()
    return world


@pytest.mark.slow
def test_trends_command_json_tables_and_plots(data_dir, tmp_path, monkeypatch, capsys):
    _season_catalog(data_dir, monkeypatch)
    plots = tmp_path / "plots"
    settings = tmp_path / "trends.yaml"
    settings.write_text("cluster:\n  k_min: 2\n")  # two true styles; the packaged default asks for >= 8
    code = main(["trends", "--data-dir", str(data_dir), "--json", "--plot-dir", str(plots), "--weeks", "4",
                 "--config", str(settings)])
    report = json.loads(capsys.readouterr().out)
    assert code == 0 and report["update"]["mode"] == "recluster"
    assert len(report["periods"]) == 4 and all(len(s["series"]["share"]) == 4 for s in report["styles"])
    trend = next(s for s in report["styles"] if s["takeoff"])
    assert trend["creators"] == 10 and trend["medoids"] and trend["forecast"]["share"]
    assert (plots / "rising.png").stat().st_size > 1000 and (plots / f"style_{trend['id']}.png").exists()
    assert set(report["backtest"]["errors"]) == {"last_value", "linear_trend", "damped_trend"}
    # second run: incremental, readable table
    assert main(["trends", "--data-dir", str(data_dir), "--config", str(settings)]) == 0
    out = capsys.readouterr().out
    assert re.search(r"assigned 0 of \d+ garments without a style", out) and "take-off" in out and "forecast:" in out


def test_trends_command_on_an_empty_catalog_exits_2(data_dir, capsys):
    assert main(["trends", "--data-dir", str(data_dir)]) == 2
    assert "no garments" in capsys.readouterr().err


def test_world_scores_through_the_world_scorer(data_dir):
    from pathlib import Path

    from inference.trends import CreatorsConfig
    from world import scorer
    from world.trend_scorer import score_world

    with Catalog(data_dir) as catalog:
        world = WorldBuilder(catalog)
        rng = np.random.default_rng(3)
        for day in range(63):
            for _ in range(3):
                world.post(f"c{rng.integers(15)}", day, "steady")
        for i in range(10):
            world.post(f"t{i}", 40 + i, "trend", frames=3)
        ids, vectors = world.arrays()
        config = _config()
        recluster(catalog, ids, vectors, config)
        truth = [scorer.TrueGarment(Path(g.source_path).name, 0, g.t_s, g.kind, str(world.truth[g.id]), g.box)
                 for g in catalog.garments()]
        answer = scorer.AnswerKey(
            videos=[], garments=truth,
            styles=[scorer.TrueStyle("steady"),
                    scorer.TrueStyle("trend", originator="t0", rose=True, takeoff=DAY0 + dt.timedelta(days=43))],
            creators=[scorer.TrueCreator("t0", 20_000, "micro", True)],
        )
        scores = score_world(catalog, answer, config, CreatorsConfig())
    assert scores["clusters"]["nmi"] == pytest.approx(1.0)
    assert scores["originators"]["top1"] == 1.0 and scores["originators"]["top3"] == 1.0
    assert scores["rising"]["precision"] == 1.0 and scores["rising"]["recall"] == 1.0
    assert abs(scores["rising"]["days_late"]["trend"]) <= 2
    assert scores["trendsetters"]["in_top_10pct"] == 1.0


@pytest.mark.parametrize("text, message", [
    ("cluster:\n  skip_methods: fallback_center\n", r"cluster\.skip_methods"),
    ("cluster:\n  method: spectral\n", r"cluster\.method"),
    ("cluster:\n  k_min: 9\n  k_max: 3\n", r"cluster\.k_min"),
    ("cluster:\n  noise_mads: -1\n", r"cluster\.noise_mads"),
    ("cluster:\n  outfit_kinds: [shoes]\n", r"cluster\.outfit_kinds"),
    ("rising:\n  min_new_share: 1.5\n", r"rising\.min_new_share"),
    ("creators:\n  min_frames: 0\n", r"creators\.min_frames"),
    ("creators:\n  distance_mads: 0\n", r"creators\.distance_mads"),
    ("creators:\n  min_frame_share: -0.5\n", r"creators\.min_frame_share"),
])
def test_bad_trends_settings_name_the_setting(tmp_path, text, message):
    bad = tmp_path / "bad.yaml"
    bad.write_text(text)
    load_section = trends.load_creators_config if text.startswith("creators") else trends.load_config
    with pytest.raises(ConfigError, match=message):
        load_section(bad)


def test_rising_is_decided_by_new_wearers_by_default():
    events: list[tuple] = [(None, f"p{d % 9}", d) for d in range(70) for _ in range(4)]
    events += [(1, f"old{d % 2}", d) for d in range(0, 40, 10)]  # two creators now and then...
    events += [(1, f"new{i}", 44 + 2 * i) for i in range(12)]  # ...then a new creator every other day
    events += [(2, f"old{d % 2}", d) for d in range(0, 40, 10)]  # the same videos from two fans only
    events += [(2, f"old{i % 2}", 44 + 2 * i) for i in range(12)]
    config = RisingConfig()
    assert config.detector == "spread"
    verdicts = {t.style_id: t for t in rising_styles(make_data(events), config)}
    spreading, fans = verdicts[1], verdicts[2]
    assert spreading.state == "rising" and spreading.takeoff == DAY0 + dt.timedelta(days=54)
    assert spreading.new_wearers == 9 and spreading.new_wearers >= 2 * spreading.expected_new_wearers
    assert fans.takeoff is None and fans.new_wearers == 0
    assert fans.score == spreading.score  # same videos, same window z-score: only the wearers differ
