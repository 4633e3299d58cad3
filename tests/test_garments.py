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
from inference.types import Box, SampledFrame
from world.clips import drawn_person, walking_clip


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


def _room_and_person() -> tuple[np.ndarray, np.ndarray]:
    """A drawn room, and the same room with a drawn person the chain's detectors find."""
    from world.render import draw_room

    chain = LocaliserChain(LocaliserConfig())
    for seed in range(100, 120):
        person = drawn_person(seed, share=0.6)[0]
        room = draw_room(person.shape[1], person.shape[0], np.random.default_rng(seed))
        if chain.find([person])[0] is not None and chain.find([room])[0] is None:
            return room, person
    raise AssertionError("no drawn person was found by the detectors")


def _sampled(t_s: float, image: np.ndarray, alternates=()) -> SampledFrame:
    return SampledFrame(t_s, image, 100.0, 0, 0, tuple(alternates))


def test_a_frame_without_a_person_hands_over_to_a_near_duplicate_with_one():
    room, person = _room_and_person()
    chain = LocaliserChain(LocaliserConfig())
    calls = []

    def near(t_s, image):
        def make():
            calls.append(t_s)
            return _sampled(t_s, image)
        return make

    empty_then_person = _sampled(0.0, room, [near(0.5, room), near(1.0, person)])
    already_found = _sampled(2.0, person, [near(2.5, room)])
    nobody_anywhere = _sampled(3.0, room, [near(3.5, room)])
    first_wins = _sampled(4.0, room, [near(4.5, person), near(5.0, person)])
    frames, detections = chain.locate_sampled([empty_then_person, already_found, nobody_anywhere, first_wins])
    assert [f.t_s for f in frames] == [1.0, 2.0, 3.0, 4.5]  # an alternate with a person took the frame's place
    assert frames[0].image is person
    assert detections[0].method != "fallback_center" and detections[1].method != "fallback_center"
    assert detections[2].method == "fallback_center" and frames[2].image is room
    # a frame with a person never converts its alternates, and the first one found stops the search
    assert sorted(calls) == [0.5, 1.0, 3.5, 4.5]
    assert all(f.alternates == () for f in frames)  # decoded frames are let go
    # without alternates the first frame falls back, as before
    frames, detections = chain.locate_sampled([_sampled(0.0, room)])
    assert frames[0].t_s == 0.0 and detections[0].method == "fallback_center"


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
