"""The garment check: rules on hand-made signals, and hand-built crops through the real classifier."""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path

import cv2
import numpy as np
import pytest

from configs import ConfigError, from_dict
from inference.catalog import Catalog, FrameRow, GarmentRow
from inference.garment_check import (
    CropEvidence,
    CropSignals,
    GarmentCheckConfig,
    GarmentChecker,
    is_partial,
    judge,
    load_config,
)
from inference.garments import LocaliserChain, LocaliserConfig, garment_boxes
from inference.types import Box, VideoInfo, VideoSubmission

CONFIG = GarmentCheckConfig()


def signals(**changes) -> CropSignals:
    """A sharp, well-dressed crop found by a detector, alone in its frame, with ``changes``."""
    changes.setdefault("outfit_clothing", changes.get("clothing", 0.4))
    base = CropSignals(clothing=0.4, outfit_clothing=0.4, printed=0.01, sharpness=200.0, detected=True, face=False, partial=False)
    return dataclasses.replace(base, **changes)


# ----------------------------------------------------------------------------- rules


def test_a_detected_person_in_clothes_is_a_garment():
    verdict = judge(signals(), CONFIG)
    assert verdict.is_garment and verdict.reason == "garment"
    assert 0.5 < verdict.score <= 1.0


def test_no_person_and_little_clothing_is_no_person():
    verdict = judge(signals(detected=False, clothing=0.02), CONFIG)
    assert (verdict.is_garment, verdict.reason) == (False, "no person")
    assert verdict.score < 0.5


def test_a_face_in_the_crop_counts_as_a_person():
    crop = signals(detected=False, clothing=0.04)
    assert not judge(crop, CONFIG).is_garment
    assert judge(dataclasses.replace(crop, face=True), CONFIG).is_garment


def test_a_detectors_false_alarm_on_a_wall_is_no_garment():
    verdict = judge(signals(clothing=0.01), CONFIG)
    assert (verdict.is_garment, verdict.reason) == (False, "no garment")


def test_printed_matter_names_a_text_card():
    verdict = judge(signals(detected=False, clothing=0.01, printed=0.6), CONFIG)
    assert (verdict.is_garment, verdict.reason) == (False, "text card")


def test_print_on_a_dressed_person_is_not_a_text_card():
    """A printed top reads as print on its own, but the same person's other crops are clearly dressed."""
    verdict = judge(signals(clothing=0.04, outfit_clothing=0.5, printed=0.3), CONFIG)
    assert (verdict.is_garment, verdict.reason) == (True, "garment")
    alone = judge(signals(clothing=0.04, outfit_clothing=0.04, printed=0.3), CONFIG)
    assert (alone.is_garment, alone.reason) == (False, "text card")
    bare = judge(signals(detected=False, clothing=0.005, outfit_clothing=0.5, printed=0.3), CONFIG)
    assert bare.reason == "text card", "a crop with next to no clothing of its own gets no help from its siblings"


def test_extreme_blur_is_rejected_whatever_else():
    verdict = judge(signals(sharpness=1.0, clothing=0.9), CONFIG)
    assert (verdict.is_garment, verdict.reason) == (False, "blur")


def test_a_full_figure_is_kept_when_its_top_or_bottom_is_dressed():
    full = signals(clothing=0.015, outfit_clothing=0.4)
    assert judge(full, CONFIG).is_garment
    assert not judge(dataclasses.replace(full, outfit_clothing=0.015), CONFIG).is_garment
    bare = signals(clothing=0.005, outfit_clothing=0.4)
    assert not judge(bare, CONFIG).is_garment, "a crop showing nothing is not saved by its siblings"


def test_a_partial_figure_is_kept_only_with_plenty_of_clothing():
    assert judge(signals(partial=True, clothing=0.1), CONFIG).reason == "partial figure"
    assert judge(signals(partial=True, clothing=0.6), CONFIG).is_garment


def test_partial_means_a_sliver_at_the_frames_side():
    frame = (360, 640)
    sliver = CropEvidence("hog", "full", Box(0, 100, 40, 600), frame)
    standing = CropEvidence("hog", "full", Box(0, 100, 180, 600), frame)
    middle = CropEvidence("hog", "full", Box(150, 100, 190, 600), frame)
    assert is_partial(sliver, CONFIG)
    assert not is_partial(standing, CONFIG)
    assert not is_partial(middle, CONFIG)
    assert not is_partial(CropEvidence("hog"), CONFIG), "no box, no verdict of partial"


def test_the_check_can_be_switched_off():
    checker = GarmentChecker(GarmentCheckConfig(enabled=False))
    verdicts = checker.check_many([np.zeros((32, 32, 3), np.uint8)], [CropEvidence("fallback_center")])
    assert verdicts[0].is_garment and verdicts[0].reason == "garment"


def test_packaged_config_is_the_dataclass_default_and_bounds_are_named():
    assert load_config() == GarmentCheckConfig()
    with pytest.raises(ConfigError, match=r"garment_check\.min_clothing must be in"):
        from_dict(GarmentCheckConfig, {"min_clothing": 2.0}, "garment_check.")
    with pytest.raises(ConfigError, match="person_methods must be a list of"):
        from_dict(GarmentCheckConfig, {"person_methods": ["radar"]}, "garment_check.")


# ----------------------------------------------------------------------------- hand-built crops, real classifier


@pytest.fixture(scope="module")
def checker():
    return GarmentChecker(CONFIG)


def _wall(width: int = 160, height: int = 300) -> np.ndarray:
    wall = np.empty((height, width, 3), np.uint8)
    wall[:] = (214, 200, 176)
    wall[int(0.8 * height) :] = (150, 110, 80)  # floor
    cv2.rectangle(wall, (20, 40), (70, 100), (60, 90, 140), -1)  # a framed print
    cv2.rectangle(wall, (95, 60), (150, int(0.8 * height)), (180, 170, 150), 3)  # a door
    return wall


def _title_card(width: int = 220, height: int = 390) -> np.ndarray:
    from PIL import Image, ImageDraw, ImageFont

    card = Image.new("RGB", (width, height), (40, 110, 190))
    draw = ImageDraw.Draw(card)
    font = ImageFont.load_default(30)
    for k, line in enumerate(("GRWM", "day 16", "@someone")):
        draw.text((20, 120 + 45 * k), line, fill=(255, 255, 255), font=font)
    return np.asarray(card)


@pytest.mark.parametrize("method", ["fallback_center", "motion", "hog"])
def test_a_wall_only_crop_is_not_a_garment(checker, method):
    verdict = checker.check(_wall(), CropEvidence(method, "full"))
    assert not verdict.is_garment, verdict
    assert verdict.reason in {"no person", "no garment", "text card"}


@pytest.mark.parametrize("method", ["fallback_center", "hog"])
def test_a_title_card_is_not_a_garment(checker, method):
    verdict = checker.check(_title_card(), CropEvidence(method, "full"))
    assert not verdict.is_garment, verdict


def test_a_real_photo_of_a_person_keeps_their_top(checker):
    import matplotlib

    photo = Path(matplotlib.get_data_path()) / "sample_data" / "grace_hopper.jpg"
    image = cv2.cvtColor(cv2.imread(str(photo)), cv2.COLOR_BGR2RGB)
    detection = LocaliserChain(LocaliserConfig(chain=["hog", "face"])).find([image])[0]
    assert detection is not None, "the localiser finds Grace Hopper"
    h, w = image.shape[:2]
    top = garment_boxes(detection.box, LocaliserConfig())["top"].clip(w, h)
    crop = np.ascontiguousarray(image[top.y0 : top.y1, top.x0 : top.x1])
    verdict = checker.check(crop, CropEvidence(detection.method, "top", detection.box.clip(w, h), (w, h)))
    assert verdict.is_garment, verdict


def test_fashion_mnist_garments_are_kept(checker):
    from world.fashion_mnist import FASHION_MNIST_DIR, read_idx

    if not FASHION_MNIST_DIR.is_dir():
        pytest.skip("Fashion-MNIST (Debian package dataset-fashion-mnist) is not installed")
    images = read_idx(FASHION_MNIST_DIR / "t10k-images-idx3-ubyte.gz")
    labels = read_idx(FASHION_MNIST_DIR / "t10k-labels-idx1-ubyte.gz")
    # tops, pullovers, dresses, coats, shirts (ImageNet's only trousers class is jeans: Fashion-MNIST's
    # trousers mostly score below the threshold, a known gap reported by bench_garment_check.py)
    chosen = [i for i in range(len(labels)) if labels[i] in (0, 2, 3, 4, 6)][:20]
    crops = [np.repeat(255 - cv2.resize(images[i], (112, 112), interpolation=cv2.INTER_CUBIC)[..., None], 3, axis=2) for i in chosen]
    verdicts = checker.check_many(crops, [CropEvidence("hog", "full")] * len(crops))
    kept = sum(v.is_garment for v in verdicts)
    assert kept >= 0.85 * len(crops), [round(v.signals.clothing, 3) for v in verdicts]


# ----------------------------------------------------------------------------- catalog evidence


def test_catalog_gives_each_garment_its_person_box_and_frame(data_dir):
    catalog = Catalog(data_dir)
    submission = VideoSubmission(Path("v.mp4"), "ann", 1_000, dt.date(2026, 5, 1), "v.mp4")
    video_id = catalog.begin_video(submission, content_hash="v")
    frames = [FrameRow(0.5, 0, 123.0, 0xABC, 360, 640), FrameRow(1.0, 0, 50.0, 0xABD, 360, 640)]
    person = Box(100, 50, 260, 600)
    rows = [
        GarmentRow(0, "top", Box(100, 140, 260, 360), "hog", 0.9, "crops/1/000_top.jpg"),
        GarmentRow(0, "full", person, "hog", 0.9, "crops/1/000_full.jpg"),
        GarmentRow(1, "bottom", Box(60, 300, 300, 560), "fallback_center", 0.0, "crops/1/001_bottom.jpg"),
    ]
    ids = catalog.finish_video(video_id, VideoInfo(360, 640, 15.0, 2.0, 30, 0, "h264"), frames, rows)
    evidence = {e.garment_id: e for e in catalog.garment_evidence()}
    top, full, bottom = (evidence[i] for i in ids)
    assert top.person == person and full.person == person
    assert (top.frame_width, top.frame_height, top.frame_sharpness) == (360, 640, 123.0)
    assert bottom.person == bottom.box, "no full garment in that frame: the garment's own box"
    assert [e.garment_id for e in catalog.garment_evidence([ids[2], ids[0]])] == [ids[2], ids[0]]
    catalog.close()

