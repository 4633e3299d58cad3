"""Only garments make styles: a cluster of non-garments is no style, its crops are set aside
with their reason, crops of a skipped localiser join a style only when the garment check
agrees, and real garments stay in their styles.

The rules are tested on hand-made verdicts first, then end to end through a full run with
the real classifier on hand-built crops: real photos (scikit-image's coffee, cat and rocket;
matplotlib's Grace Hopper) and frames drawn here (a wall, a title card).
"""

from __future__ import annotations

import numpy as np
import pytest

from inference.catalog import Catalog
from inference.trends import ClusterConfig, TrendsConfig, recluster
from inference.trends.clustering import NOISE, Cluster, Clustering
from inference.trends.coverage import set_aside
from inference.trends.style_check import IN_JUNK_STYLE, Verdict, admit_skipped, screen_clusters
from tests.trends_helpers import WorldBuilder

CONFIG = ClusterConfig(style_check_nearest=2, style_check_sample=4, min_style_size=2)


def _unit(*values: float) -> np.ndarray:
    vector = np.asarray(values, np.float32)
    return vector / np.linalg.norm(vector)


def _clustering(labels: list[int], distances: list[float], clusters: int) -> Clustering:
    centroids = [_unit(*np.eye(3)[c]) for c in range(clusters)]
    sizes = np.bincount([lab for lab in labels if lab >= 0], minlength=clusters)
    return Clustering(np.asarray(labels, np.int64), np.asarray(distances, np.float32),
                      [Cluster("top", centroids[c], int(sizes[c]), 0.2) for c in range(clusters)], {})


def _verdicts(failing: dict[int, str]):
    """Verdicts that fail the garment ids in ``failing`` (with their reason) and pass the rest."""
    asked: list[int] = []

    def verdicts(ids):
        asked.extend(ids)
        return {i: Verdict(i not in failing, failing.get(i, "garment")) for i in ids}

    verdicts.asked = asked  # type: ignore[attr-defined]
    return verdicts


def test_a_wall_only_cluster_is_not_a_style_and_its_crops_keep_their_reason():
    # garments 1-6: a style of tops; 11-16: walls a detector took for a person (one slipped through the check)
    ids = np.asarray([1, 2, 3, 4, 5, 6, 11, 12, 13, 14, 15, 16])
    frames = np.arange(12)
    clustering = _clustering([0] * 6 + [1] * 6, [0.05, 0.06, 0.07, 0.08, 0.09, 0.1] * 2, 2)
    walls = {11: "no person", 12: "no person", 13: "text card", 14: "no person", 15: "no person"}
    screened, screen = screen_clusters(clustering, ids, frames, _verdicts(walls), CONFIG)
    assert len(screened.clusters) == 1 and screen.dissolved == 1
    assert (screened.labels[:6] == 0).all() and (screened.labels[6:] == NOISE).all()
    assert np.isnan(screened.distances[6:]).all() and screened.clusters[0].size == 6
    assert screen.set_aside == {**walls, 16: IN_JUNK_STYLE}
    assert screen.summary().startswith("style check: 1 clusters of non-garments made no style; 6 crops set aside")


def test_a_cluster_of_unvouched_crops_is_no_style_but_one_unvouched_crop_keeps_its_style():
    """Rooms the motion localiser cut each pass the check by a hair (no person seen, little
    clothing): together they count as the failures do; a real style keeps its few such crops."""
    ids = np.asarray([1, 2, 3, 4, 5, 6, 11, 12, 13, 14, 15, 16])
    clustering = _clustering([0] * 6 + [1] * 6, [0.05, 0.06, 0.07, 0.08, 0.09, 0.1] * 2, 2)
    unvouched, failed = {11, 12, 13, 2}, {14}

    def verdicts(asked):
        return {i: Verdict(i not in failed, "no person" if i in failed else "garment", i in unvouched) for i in asked}

    screened, screen = screen_clusters(clustering, ids, np.arange(12), verdicts, CONFIG)
    assert screen.dissolved == 1 and (screened.labels[:6] == 0).all() and (screened.labels[6:] == NOISE).all()
    assert screen.set_aside == {14: "no person", **{i: IN_JUNK_STYLE for i in (11, 12, 13, 15, 16)}}


def test_unvouched_means_no_person_seen_and_little_clothing():
    from inference.catalog import GarmentCheckRecord
    from inference.garment_check import GarmentCheckConfig
    from inference.trends.style_check import _unvouched

    def check(clothing, outfit=0.0, detected=False, face=False):
        return GarmentCheckRecord(1, True, "garment", 0.6, clothing, outfit, 0.0, 100.0, detected, face, False, "m", "j")

    garment, config = GarmentCheckConfig(), ClusterConfig()
    assert _unvouched(check(0.06), garment, config)  # a wall that passed by a hair
    assert not _unvouched(check(0.06, detected=True), garment, config)  # a detector saw a person
    assert not _unvouched(check(0.06, face=True), garment, config)
    assert not _unvouched(check(0.04, outfit=0.6), garment, config)  # its person's other crops are dressed
    assert not _unvouched(check(0.3), garment, config)


def test_a_style_keeps_its_garments_and_loses_only_a_medoid_that_is_none():
    ids = np.arange(1, 9)
    clustering = _clustering([0] * 8, [0.01, 0.02, 0.03, 0.04, 0.05, 0.06, 0.07, 0.08], 1)
    screened, screen = screen_clusters(clustering, ids, np.arange(8), _verdicts({1: "text card"}), CONFIG)
    assert screen.dissolved == 0 and screen.set_aside == {1: "text card"}
    assert screened.labels.tolist() == [NOISE] + [0] * 7 and screened.clusters[0].size == 7
    # the new medoid (nearest garment left) is one the check passed
    nearest = int(ids[np.nanargmin(np.where(screened.labels >= 0, screened.distances, np.nan))])
    assert nearest == 2


def test_only_the_medoid_frames_and_a_sample_are_checked():
    ids = np.arange(100)
    clustering = _clustering([0] * 100, list(np.linspace(0.01, 0.2, 100)), 1)
    verdicts = _verdicts({})
    screen_clusters(clustering, ids, np.arange(100), verdicts, CONFIG)
    assert len(verdicts.asked) == 6 and {0, 1} <= set(verdicts.asked)


def test_a_title_card_near_a_style_is_set_aside_and_a_real_garment_joins_it():
    style = _clustering([0, 0, 0], [0.0, 0.0, 0.0], 1)
    vectors = np.stack([_unit(1, 0.1, 0), _unit(1, 0, 0.1), _unit(0, 1, 0)])  # near, near, far
    ids, frames = np.asarray([21, 22, 23]), np.asarray([5, 6, 7])
    labels, distances, rejected = admit_skipped(style, vectors, ["top"] * 3, frames, ids,
                                                _verdicts({22: "text card", 23: "no person"}),
                                                ClusterConfig(group_by="kind"))
    assert labels.tolist() == [0, NOISE, NOISE] and distances[0] < 0.2 and np.isnan(distances[1:]).all()
    assert rejected == {22: "text card"}, "a crop outside every style is not judged (it stays cut by its localiser)"


def test_crops_without_a_verdict_stay_out_without_a_reason():
    style = _clustering([0], [0.0], 1)
    labels, _, rejected = admit_skipped(style, _unit(1, 0, 0)[None], ["top"], np.asarray([1]), np.asarray([9]),
                                        lambda ids: {}, ClusterConfig(group_by="kind"))
    assert labels.tolist() == [NOISE] and rejected == {}


# ----------------------------------------------------------------------------- end to end, real classifier


def _photo(name: str) -> np.ndarray:
    """A scikit-image sample photo that shows no garment, cut to a portrait crop."""
    import skimage.data

    image = np.asarray(getattr(skimage.data, name)())
    width = image.shape[0] * 3 // 5
    left = (image.shape[1] - width) // 2
    return np.ascontiguousarray(image[:, left : left + width, :3])


@pytest.mark.slow
def test_a_full_run_keeps_walls_and_title_cards_out_and_real_garments_in(data_dir):
    from tests.test_garment_check import _title_card, _wall
    from tests.test_garment_screening import _hopper_top, _write_crops

    with Catalog(data_dir) as catalog:
        world = WorldBuilder(catalog)
        # things that are no garment look alike to the embedding (they would make a style); so do a
        # title card and a real top cut by the centred fallback and the style they sit next to
        for key in ("coffee", "chelsea", "rocket", "wall"):
            world.centres[key] = world.centre("room")
        world.centres["card"] = world.centres["missed"] = world.centre("hopper")
        for i in range(6):
            world.post(f"c{i}", i, "hopper", method="hog")
            world.post(f"d{i}", i, "flipped", method="hog")
            # a detector's false alarms on things that are no garment
            world.post(f"e{i}", i, ("coffee", "chelsea", "rocket", "wall")[i % 4], method="hog")
        # the centred fallback, where no detector saw a person
        world.post("f0", 7, "card", method="fallback_center", noise=0.01)
        world.post("f1", 7, "missed", method="fallback_center", noise=0.01)
        world.post("f2", 8, "far wall", method="fallback_center", noise=0.01)  # near no style at all
        top = _hopper_top()
        _write_crops(catalog, world, {"hopper": top, "flipped": top[:, ::-1].copy(), "missed": top,
                                      "coffee": _photo("coffee"), "chelsea": _photo("chelsea"),
                                      "rocket": _photo("rocket"), "wall": _wall(), "card": _title_card(),
                                      "far wall": _wall()})
        ids, vectors = world.arrays()
        config = TrendsConfig(cluster=ClusterConfig(method="kmeans", group_by="kind", k_min=2, k_max=8,
                                                    kmeans_restarts=2, noise_mads=0.0, min_style_size=3))
        result = recluster(catalog, ids, vectors, config)

        by_key: dict[str, set[int]] = {}
        for garment_id, key in world.truth.items():
            by_key.setdefault(str(key), set()).add(garment_id)
        styled = catalog.garment_style_ids()
        junk = by_key["coffee"] | by_key["chelsea"] | by_key["rocket"] | by_key["wall"]
        assert not junk & set(styled), "a cluster of non-garments is no style"
        assert result.style_check is not None and result.style_check.dissolved >= 1
        assert by_key["hopper"] | by_key["flipped"] <= set(styled), "real garments keep their style"
        assert by_key["missed"] <= set(styled), "a real top the detectors missed joins the style it fits"
        assert {styled[g] for g in by_key["missed"]} == {styled[g] for g in by_key["hopper"]}
        aside = set_aside(catalog)
        assert {aside[g] for g in by_key["card"]} == {"text card"}, "a title card is set aside with its reason"
        assert set(aside) >= junk and not set(aside) & set(styled)
        # a fallback crop far from every style is judged too: search hides it with the check's reason
        assert all(not aside[g].startswith("cut by") for g in by_key["far wall"]), aside


def test_a_crop_that_cannot_be_read_gets_no_verdict_and_keeps_its_style(data_dir):
    from inference.garment_check import GarmentChecker
    from inference.trends.screening import garment_verdicts

    with Catalog(data_dir) as catalog:
        world = WorldBuilder(catalog)
        for i in range(4):
            world.post(f"c{i}", i, "a", method="hog")
        for garment in catalog.garments():
            (data_dir / garment.crop_path).parent.mkdir(parents=True, exist_ok=True)
            (data_dir / garment.crop_path).write_bytes(b"not a jpeg")
        assert garment_verdicts(catalog, world.ids, GarmentChecker()) == {}
        ids, vectors = world.arrays()
        config = TrendsConfig(cluster=ClusterConfig(group_by="kind", k_min=1, k_max=2, noise_mads=0.0))
        result = recluster(catalog, ids, vectors, config)
        assert len(result.styles) == 1 and result.assigned == len(ids), "no pixels is no evidence against a style"
