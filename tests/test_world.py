"""Tests for the creator world: garment crops, world plans, rendered videos, the CLI."""

from __future__ import annotations

import numpy as np
import pytest

from world.clips import drawn_person
from world.render import random_garment, render_garment_crops
from world.vocabulary import VOCABULARY, GarmentSpec


def test_vocabulary_lists_every_attribute():
    for key in ("garment_types", "colours", "patterns", "silhouettes", "kinds"):
        assert VOCABULARY[key], key
    assert "plaid" in VOCABULARY["patterns"] and "skirt" in VOCABULARY["garment_types"]


def test_caption_reads_like_a_description():
    assert GarmentSpec("skirt", "red", "plaid", "mini").caption() == "a red plaid mini skirt"
    assert GarmentSpec("crop top", "navy", "stripes", "fitted").caption() == "a navy striped fitted crop top"
    assert GarmentSpec("jeans", "blue", "denim", "wide-leg").caption() == "blue denim wide-leg jeans"
    assert GarmentSpec("t-shirt", "orange", "solid", "oversized").caption() == "an orange oversized t-shirt"


def test_garment_spec_rejects_impossible_silhouette():
    with pytest.raises(ValueError, match="cannot be"):
        GarmentSpec("jeans", "blue", "denim", "mini")


def test_garment_crops_have_images_captions_and_attributes():
    samples = render_garment_crops(12, seed=3, size=96)
    assert len(samples) == 12
    for sample in samples:
        assert sample.image.shape == (96, 96, 3) and sample.image.dtype == np.uint8
        assert sample.image.std() > 5  # not a blank square
        attrs = sample.attributes
        assert attrs["colour"] in sample.caption and attrs["type"] in sample.caption
        assert attrs["kind"] in ("top", "bottom", "full")
        assert attrs["silhouette"] in VOCABULARY["silhouettes"]


def test_garment_crops_are_deterministic_and_seed_dependent():
    a = render_garment_crops(4, seed=7, size=64)
    b = render_garment_crops(4, seed=7, size=64)
    c = render_garment_crops(4, seed=8, size=64)
    assert all(np.array_equal(x.image, y.image) and x.caption == y.caption for x, y in zip(a, b, strict=True))
    assert any(not np.array_equal(x.image, y.image) for x, y in zip(a, c, strict=True))


def test_garment_crops_with_workers_match_single_process():
    single = render_garment_crops(70, seed=1, size=48)
    pooled = render_garment_crops(70, seed=1, size=48, workers=2)
    assert all(np.array_equal(x.image, y.image) for x, y in zip(single, pooled, strict=True))


def test_held_out_combinations_never_appear_and_only_restricts():
    held_out = {("red", "plaid"), ("navy", "stripes")}
    pairs = {(s.attributes["colour"], s.attributes["pattern"]) for s in render_garment_crops(60, seed=2, size=32, exclude=held_out)}
    assert not pairs & held_out
    only = render_garment_crops(10, seed=2, size=32, only=held_out)
    assert {(s.attributes["colour"], s.attributes["pattern"]) for s in only} <= held_out


def test_crop_kinds_filter_and_bad_arguments():
    assert {s.attributes["kind"] for s in render_garment_crops(8, size=32, kinds=["bottom"])} == {"bottom"}
    with pytest.raises(ValueError):
        render_garment_crops(-1)
    with pytest.raises(ValueError):
        render_garment_crops(2, kinds=["hat"])
    with pytest.raises(ValueError, match="leave no"):
        render_garment_crops(2, only={("red", "plaid")}, exclude={("red", "plaid")})
    with pytest.raises(ValueError, match="unknown"):
        render_garment_crops(2, exclude={("red", "tartan")})


def test_random_garment_respects_kind():
    rng = np.random.default_rng(0)
    assert all(random_garment(rng, "full").kind == "full" for _ in range(5))


def test_drawn_person_boxes_nest_and_have_human_proportions():
    for seed in range(6):
        frame, boxes, _, _ = drawn_person(seed)
        person = boxes["person"]
        assert 0.55 * frame.shape[0] < person.height < 0.7 * frame.shape[0]
        assert 0.2 < person.width / person.height < 0.6
        for kind in ("top", "bottom", "full"):
            box = boxes[kind]
            assert box.iou(person) > 0 and box.area <= person.area
            assert person.x0 <= box.x0 and box.x1 <= person.x1 and person.y0 <= box.y0 and box.y1 <= person.y1
        assert boxes["top"].y0 < boxes["bottom"].y0  # the top starts above the bottom
        # garments are really drawn where their boxes say: the pixels there are not the room's
        top = boxes["top"]
        assert frame[top.y0 : top.y1, top.x0 : top.x1].std() > 3


def test_person_leaving_the_frame_loses_boxes_that_are_mostly_outside():
    from world.figure import draw_person

    frame, _, look, pose = drawn_person(1)
    pose.cx = -0.3 * look.unit  # centre line left of the frame: mostly outside
    boxes = draw_person(frame.copy(), pose, look)
    assert "person" not in boxes or boxes["person"].x0 == 0
    assert all(box.x0 >= 0 for box in boxes.values())
    pose.cx = 10 * frame.shape[1]
    assert draw_person(frame.copy(), pose, look) == {}
    pose.unit = look.unit + 5
    with pytest.raises(ValueError, match="unit"):
        draw_person(frame, pose, look)


def test_hog_people_detector_finds_most_drawn_people():
    """The ingest localiser is OpenCV's HOG detector: drawn people must look human to it."""
    import cv2

    from inference.types import Box

    hog = cv2.HOGDescriptor()
    hog.setSVMDetector(cv2.HOGDescriptor_getDefaultPeopleDetector())
    found = 0
    for seed in range(20):
        frame, boxes, _, _ = drawn_person(100 + seed, share=0.6)
        grey = cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)
        rects, weights = hog.detectMultiScale(grey, winStride=(8, 8), padding=(16, 16), scale=1.06)
        if len(rects) and float(np.max(weights)) >= 0.3:
            x, y, w, h = rects[int(np.argmax(weights))]
            found += Box(int(x), int(y), int(x + w), int(y + h)).iou(boxes["person"]) > 0.3
    # 10 of 20 found here (bench/bench_world.py measures more); the misses are hands-on-hips
    # poses, bold prints, and furniture right behind the legs
    assert found >= 9, f"HOG found only {found} of 20 drawn people"
