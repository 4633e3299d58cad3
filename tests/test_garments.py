"""Garment localisation: motion across frames, the centred fallback, garment bands."""

from __future__ import annotations

import numpy as np

from inference.garments import (
    CentredFallback,
    HOGLocaliser,
    LocaliserChain,
    LocaliserConfig,
    MotionLocaliser,
    cut_garments,
    garment_boxes,
    localise_image,
)
from inference.types import Box
from tests.videos import walking_clip


def test_motion_finds_the_walking_figure():
    # The figure walks from 30% to 70% of the width: in the middle frames it overlaps its own
    # median "background", the known limit of this localiser; most frames must still be found.
    frames = walking_clip(n=9, w=216, h=384)
    detections = MotionLocaliser(LocaliserConfig()).locate(frames)
    unit = 384 * 0.78 / 8
    good = 0
    for i, detection in enumerate(detections):
        cx = int(216 * (0.3 + 0.4 * i / 8))
        truth = Box(round(cx - 1.4 * unit), int(384 * 0.12), round(cx + 1.4 * unit), round(384 * 0.12 + 7.6 * unit))
        if detection is not None:
            assert detection.method == "motion"
            good += detection.box.iou(truth) > 0.4
    assert good >= 6


def test_motion_needs_movement_and_frames():
    still = [walking_clip(n=1)[0]] * 5
    assert MotionLocaliser(LocaliserConfig()).locate(still) == [None] * 5
    assert MotionLocaliser(LocaliserConfig()).locate(walking_clip(n=2)) == [None, None]


def test_chain_falls_back_to_centre_and_says_so():
    blank = [np.full((200, 100, 3), 128, np.uint8)] * 2
    detections = LocaliserChain(LocaliserConfig()).locate(blank)
    assert [d.method for d in detections] == ["fallback_center"] * 2
    assert detections[0].score == 0.0


def test_face_localiser_finds_nobody_in_a_blank_frame():
    from inference.garments import FaceLocaliser

    assert FaceLocaliser(LocaliserConfig()).locate([np.full((400, 200, 3), 90, np.uint8)]) == [None]


def test_hog_finds_nobody_in_a_blank_frame():
    assert HOGLocaliser(LocaliserConfig()).locate([np.zeros((400, 200, 3), np.uint8)]) == [None]
    assert localise_image(np.zeros((400, 200, 3), np.uint8)) == []


def test_garment_bands_follow_body_proportions():
    config = LocaliserConfig()
    boxes = garment_boxes(Box(10, 100, 60, 300), config)
    assert boxes["full"] == Box(10, 100, 60, 300)
    assert boxes["top"].y0 < boxes["bottom"].y0 < boxes["top"].y1 < boxes["bottom"].y1
    assert boxes["top"].x0 == 10 and boxes["top"].x1 == 60
    assert 10 < boxes["bottom"].x0 < boxes["bottom"].x1 < 60


def test_cut_garments_clips_to_the_frame():
    frame = np.zeros((100, 80, 3), np.uint8)
    detection = CentredFallback(LocaliserConfig()).locate([frame])[0]
    crops = cut_garments([frame], [detection], LocaliserConfig())
    assert [c.kind for c in crops] == ["top", "bottom", "full"]
    for crop in crops:
        assert crop.image.shape[:2] == (crop.box.height, crop.box.width)
        assert 0 <= crop.box.x0 < crop.box.x1 <= 80 and 0 <= crop.box.y0 < crop.box.y1 <= 100
