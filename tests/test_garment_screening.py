"""The garment check wired into styles: verdicts stored once per crop, non-garments set aside
before clustering, summaries in ``trends`` and ``check``, and the catalog's v4 -> v5 migration."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from core.errors import BadInputError
from inference.catalog import Catalog
from inference.garment_check import GarmentCheckConfig, GarmentChecker, judged_by
from inference.garments import LocaliserChain, LocaliserConfig, garment_boxes
from inference.trends import ClusterConfig, TrendsConfig, assign_new_garments, recluster
from inference.trends.screening import screen_garments
from tests.trends_helpers import WorldBuilder

pytestmark = pytest.mark.slow  # runs the ImageNet classifier on real crops


def _config(**cluster) -> TrendsConfig:
    settings = {"method": "kmeans", "group_by": "kind", "k_min": 2, "k_max": 12, "kmeans_restarts": 2,
                "noise_mads": 0.0, "garment_check": True, **cluster}
    return TrendsConfig(cluster=ClusterConfig(**settings))


def _hopper_top() -> np.ndarray:
    """The top of Grace Hopper's uniform, cut where the localiser puts it (a real garment photo)."""
    import matplotlib

    photo = Path(matplotlib.get_data_path()) / "sample_data" / "grace_hopper.jpg"
    image = cv2.cvtColor(cv2.imread(str(photo)), cv2.COLOR_BGR2RGB)
    detection = LocaliserChain(LocaliserConfig(chain=["hog", "face"])).find([image])[0]
    assert detection is not None
    h, w = image.shape[:2]
    top = garment_boxes(detection.box, LocaliserConfig())["top"].clip(w, h)
    return np.ascontiguousarray(image[top.y0 : top.y1, top.x0 : top.x1])


def _photo(name: str) -> np.ndarray:
    """A real photo without a garment (scikit-learn's sample images: a temple, a flower), as a portrait crop."""
    from sklearn.datasets import load_sample_image

    image = load_sample_image(name)
    return np.ascontiguousarray(image[:, 160:400])


def _write_crops(catalog: Catalog, world: WorldBuilder, pixels: dict[object, np.ndarray], ids=None) -> None:
    for garment_id in ids or world.truth:
        key = world.truth[garment_id]
        (path,) = catalog._conn.execute("SELECT crop_path FROM garments WHERE id = ?", (garment_id,)).fetchone()
        target = catalog.data_dir / path
        target.parent.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(target), cv2.cvtColor(pixels[key], cv2.COLOR_RGB2BGR))


@pytest.fixture(scope="module")
def checker():
    return GarmentChecker(GarmentCheckConfig())


def _world(catalog: Catalog) -> WorldBuilder:
    """Two garment styles and, in the same videos' frames, a detector's false alarms on photos
    of a temple and a flower that sit close together in embedding space (they would make a style)."""
    world = WorldBuilder(catalog)
    for i in range(8):
        world.post(f"c{i}", i, "a", method="hog")
        world.post(f"d{i}", i, "b", method="hog")
        world.post(f"e{i}", i, "china.jpg" if i % 2 else "flower.jpg", method="hog")
    for key in ("china.jpg", "flower.jpg"):  # non-garments look alike to the embedding
        world.centres[key] = world.centre("room")
    return world


def test_a_photo_without_a_garment_is_set_aside_and_joins_no_style(data_dir, checker):
    with Catalog(data_dir) as catalog:
        world = _world(catalog)
        top = _hopper_top()
        _write_crops(catalog, world, {"a": top, "b": top[:, ::-1].copy(), "china.jpg": _photo("china.jpg"),
                                      "flower.jpg": _photo("flower.jpg")})
        screening = screen_garments(catalog, checker)
        photos = {g for g, key in world.truth.items() if key in ("china.jpg", "flower.jpg")}
        garments = set(world.truth) - photos
        assert screening.excluded == photos, screening.reasons
        assert screening.checked == len(world.truth) and screening.by_kind == {"top": len(photos)}
        assert set(screening.reasons) <= {"no garment", "no person", "text card"}

        ids, vectors = world.arrays()
        result = recluster(catalog, ids, vectors, _config(), excluded=screening.excluded)
        styled = {g for (g,) in catalog._conn.execute("SELECT garment_id FROM garment_styles")}
        assert not styled & photos
        assert styled == garments and len(result.styles) == 2
        # an incremental assignment skips them too, even next to a style's centroid
        world.post("late", 9, "a", method="hog")
        late = world.ids[-2:]
        _write_crops(catalog, world, {"a": _photo("china.jpg")}, late)  # a wall posted as a top
        screening = screen_garments(catalog, checker)
        assert screening.checked == len(late) and set(late) <= screening.excluded
        ids, vectors = world.arrays()
        assert assign_new_garments(catalog, ids, vectors, screening.excluded).assigned == 0
        assert catalog.garment_check_counts() == {"garments_checked": len(world.truth),
                                                  "non_garments": len(photos) + len(late)}


def test_a_crop_is_measured_once_and_rejudged_without_pixels(data_dir, checker):
    with Catalog(data_dir) as catalog:
        world = _world(catalog)
        top = _hopper_top()
        _write_crops(catalog, world, {"a": top, "b": top, "china.jpg": _photo("china.jpg"),
                                      "flower.jpg": _photo("flower.jpg")})
        first = screen_garments(catalog, checker)
        for path in (data_dir / "crops").rglob("*.jpg"):
            path.unlink()  # a second run must not need the crops
        again = screen_garments(catalog, checker)
        assert (again.checked, again.rejudged, again.excluded) == (0, 0, first.excluded)
        stricter = GarmentCheckConfig(person_min_clothing=0.99, sibling_min_clothing=0.99)
        rejudged = screen_garments(catalog, GarmentChecker(stricter, checker.classifier))
        assert rejudged.checked == 0 and rejudged.rejudged == len(world.truth)
        assert rejudged.excluded == frozenset(world.truth), "every crop fails a threshold of 0.99"
        assert {c.judged_by for c in catalog.garment_checks()} == {judged_by(stricter)}


def test_nothing_left_after_the_check_is_a_clear_error(data_dir, checker):
    with Catalog(data_dir) as catalog:
        world = WorldBuilder(catalog)
        for i in range(3):
            world.post(f"e{i}", i, "room", method="hog")
        _write_crops(catalog, world, {"room": _photo("china.jpg")})
        screening = screen_garments(catalog, checker)
        ids, vectors = world.arrays()
        with pytest.raises(BadInputError, match="garment check"):
            recluster(catalog, ids, vectors, _config(), excluded=screening.excluded)


def test_the_ingest_checks_each_video_as_it_commits_it(tmp_path, data_dir, checker):
    import datetime as dt

    from inference.ingest import IngestConfig, ingest
    from inference.types import VideoSubmission
    from world.clips import walking_clip, write_video

    path = write_video(tmp_path / "walk.mp4", walking_clip(n=15))
    report = ingest([VideoSubmission(path, "ann", 20_000, dt.date(2026, 5, 1), path.name)], data_dir,
                    IngestConfig(garment_check=True), progress=False)
    assert report.outcomes[0].status == "ingested" and "garment_check" in report.stage_seconds()
    with Catalog(data_dir) as catalog:
        garments = {g.id for g in catalog.garments()}
        assert garments and {c.garment_id for c in catalog.garment_checks()} == garments
        assert screen_garments(catalog, checker).checked == 0, "trends has nothing left to measure"
