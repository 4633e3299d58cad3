"""Garment check: does a crop show a garment, or a wall, a title card, a blur, a sliver of a person?

The localisers cut top / bottom / full crops wherever they think a person stands; on title
cards, empty rooms and frames where the person has walked out, that is wherever the centred
fallback (or a detector's false alarm) put its box. This module looks at each crop and says
whether it shows a garment, with a reason when it does not and a score either way.

Every signal means the same on any footage (none knows how the sample world draws its rooms
or figures):

- ``clothing``: the ImageNet probability mass of garment classes (T-shirt, jeans, miniskirt,
  cardigan, ...) from the offline encoder's pretrained EfficientNet-Lite0 classifier;
- ``printed``: the mass of printed-matter classes (website, dust jacket, envelope, menu,
  street sign, ...), which names a rejected crop a text card;
- ``sharpness``: variance of the Laplacian of the crop at a fixed size (extreme blur);
- ``person``: a detector (HOG people, the face cascade) found the person box, or OpenCV's
  frontal-face cascade finds a face in the crop itself;
- ``partial``: the person box is a sliver pressed against the frame's left or right edge
  (someone walking in or out of the shot).

The rules, in order: too blurred ("blur"); a sliver at the frame's side with little clothing
("partial figure"); printed matter outweighing the clothing evidence ("text card": the crop's own
clothing mass, or its person's other crops' when it has some of its own, as the clothing rule
weighs it: a printed tee's top crop reads as print, its full crop as clothing); too little clothing
for the person evidence there is ("no garment" where a person was seen, "no person" where
not). A crop with a person needs ``person_min_clothing``, one without ``min_clothing``; a
crop whose own mass is low but whose person's other crops (top, bottom, full of the same
box) reach the threshold is kept unless its own mass is below ``sibling_min_clothing``
(a full figure letterboxed for the classifier shows its garments small; its top and bottom
crops show them large).

The thresholds were fitted on images made outside the sample world (photos of people,
Fashion-MNIST garments, rendered text cards, walls, photos without people, blurred copies:
``bench/bench_garment_check.py synthetic``): ``min_clothing`` is the 98th percentile of the
clothing mass of those non-garments and ``person_min_clothing`` their 95th;
``sibling_min_clothing`` about their median; ``printed_min`` and ``printed_ratio`` catch
nine in ten of the text cards that pass on clothing and one Fashion-MNIST garment in a
hundred; ``min_sharpness`` rejects 97% of the extreme blurs and 2.5% of the (upscaled,
soft) Fashion-MNIST images.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import logging
from collections.abc import Hashable, Sequence
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from configs import from_dict, load, setting
from inference.garments import LOCALISERS
from inference.types import Box

logger = logging.getLogger(__name__)

# ImageNet-1k classes that are garments (index -> name), worn on the body's top, bottom or whole.
CLOTHING_CLASSES: dict[int, str] = {
    399: "abaya", 400: "academic gown", 411: "apron", 445: "bikini", 459: "brassiere",
    465: "bulletproof vest", 474: "cardigan", 501: "cloak", 552: "feather boa", 568: "fur coat",
    578: "gown", 601: "hoop skirt", 608: "jeans", 610: "T-shirt", 614: "kimono", 617: "lab coat",
    638: "tights", 639: "swimsuit", 652: "military uniform", 655: "miniskirt", 689: "overskirt",
    697: "pajamas", 735: "poncho", 775: "sarong", 824: "stole", 834: "suit", 841: "sweatshirt",
    842: "swim trunks", 869: "trench coat", 887: "vestment",
}
# ImageNet-1k classes of printed matter and screens: what text cards and overlays look like to it.
PRINTED_CLASSES: dict[int, str] = {
    446: "ring binder", 530: "digital clock", 549: "envelope", 585: "hair spray", 631: "lotion",
    664: "monitor", 681: "notebook computer", 692: "packet", 711: "perfume", 781: "scoreboard",
    782: "CRT monitor", 838: "sunscreen", 851: "television", 916: "website", 917: "comic book",
    918: "crossword", 919: "street sign", 921: "dust jacket", 922: "menu",
}

REASONS = ("garment", "blur", "partial figure", "text card", "no garment", "no person")


@dataclasses.dataclass
class GarmentCheckConfig:
    """When a crop counts as a garment (the ``garment_check`` section of configs/garment_check.yaml)."""

    enabled: bool = True  # False: every crop counts as a garment (the check is skipped)
    person_methods: list[str] = setting(factory=lambda: ["hog", "face"], each_in=tuple(LOCALISERS))  # localisers whose box is a person seen by a detector
    min_clothing: float = setting(0.05, low=0.0, high=1.0)  # clothing mass a crop needs with no person seen
    person_min_clothing: float = setting(0.03, low=0.0, high=1.0)  # clothing mass a crop needs where a person was seen
    min_sharpness: float = setting(2.5, low=0.0)  # variance of the Laplacian (crop at 128 px) below which it is too blurred
    partial_width: float = setting(0.22, low=0.0, high=1.0)  # a person box narrower than this share of its height...
    edge_margin: float = setting(0.02, low=0.0, high=0.5)  # ...within this share of the frame's side is a partial figure
    partial_min_clothing: float = setting(0.3, low=0.0, high=1.0)  # a partial figure is kept when its clothing mass reaches this
    sibling_min_clothing: float = setting(0.01, low=0.0, high=1.0)  # a crop whose person's other crops are dressed needs only this itself
    printed_min: float = setting(0.1, low=0.0, high=1.0)  # printed-matter mass from which a crop can be a text card...
    printed_ratio: float = setting(2.0, low=0.0)  # ...when it is at least this many times its clothing evidence (own or outfit)
    classifier_size: int = setting(224, low=32)  # side the ImageNet classifier sees (letterboxed)
    batch_size: int = setting(32, low=1)  # crops per classifier batch


def load_config(user_file: str | Path | None = None) -> GarmentCheckConfig:
    """The ``garment_check`` section of the packaged config, with the user's file over it."""
    return from_dict(GarmentCheckConfig, load("garment_check", user_file).get("garment_check"), "garment_check.")


MEASURE_FIELDS = ("classifier_size", "person_methods", "partial_width", "edge_margin")  # settings the signals depend on


def measured_by(config: GarmentCheckConfig) -> str:
    """Names the classifier and settings that measure a crop's signals: stored signals made
    otherwise are measured again."""
    return "efficientnet-lite0-imagenet:" + _settings_hash(config, MEASURE_FIELDS)


def judged_by(config: GarmentCheckConfig) -> str:
    """Names the thresholds that judge the signals: stored verdicts judged otherwise are judged again."""
    fields = tuple(f.name for f in dataclasses.fields(config) if f.name not in ("enabled", "batch_size"))
    return "rules-2:" + _settings_hash(config, fields)  # rules-2: the text-card rule weighs the outfit's clothing


def _settings_hash(config: GarmentCheckConfig, fields: Sequence[str]) -> str:
    text = json.dumps({name: getattr(config, name) for name in fields}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:12]


@dataclasses.dataclass(frozen=True)
class CropEvidence:
    """What the pipeline knows about a crop besides its pixels (all optional but ``method``)."""

    method: str  # localiser that found the person box ("hog", "face", "motion", "fallback_center", ...)
    kind: str = "full"  # top, bottom or full
    person: Box | None = None  # the person box the crop was cut from, in frame pixels
    frame_size: tuple[int, int] | None = None  # (width, height) of the frame
    frame_sharpness: float | None = None  # the sampler's variance of the Laplacian of the whole frame (recorded, not used)
    person_key: Hashable | None = None  # crops cut from one person box share it (e.g. frame id and localiser)


@dataclasses.dataclass(frozen=True)
class CropSignals:
    """The measurements a verdict is made from."""

    clothing: float  # ImageNet garment-class probability mass, 0..1
    outfit_clothing: float  # the highest clothing mass among the crops of the same person box (its own if alone)
    printed: float  # ImageNet printed-matter probability mass, 0..1
    sharpness: float  # variance of the Laplacian of the crop at 128 px
    detected: bool  # a detector (not motion or the fallback) found the person
    face: bool  # a frontal face in the crop (only looked for where no detector found the person)
    partial: bool  # the person box is a narrow sliver at the frame's side


@dataclasses.dataclass(frozen=True)
class GarmentVerdict:
    """Whether a crop shows a garment, why not if not, and how sure."""

    is_garment: bool
    reason: str  # "garment", or why not: one of REASONS
    score: float  # 0..1, garment-likeness; 0.5 is the clothing threshold that applied
    signals: CropSignals

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


# ----------------------------------------------------------------------------- signals


def crop_sharpness(image: np.ndarray, side: int = 128) -> float:
    """Variance of the Laplacian of the crop scaled so its longer side is ``side`` pixels."""
    grey = _grey(image, side)
    return float(cv2.Laplacian(grey, cv2.CV_32F).var())


@functools.lru_cache(maxsize=1)
def _face_cascade() -> cv2.CascadeClassifier:
    path = Path(cv2.data.haarcascades) / "haarcascade_frontalface_default.xml"  # type: ignore[attr-defined]
    cascade = cv2.CascadeClassifier(str(path))
    if cascade.empty():
        raise RuntimeError(f"OpenCV's face cascade is missing ({path})")
    return cascade


def has_face(image: np.ndarray, side: int = 256) -> bool:
    """Whether OpenCV's frontal-face cascade finds a face in the crop (scaled to ``side`` px)."""
    grey = _grey(image, side, upscale=True)
    min_side = max(16, round(min(grey.shape) * 0.08))
    faces = _face_cascade().detectMultiScale(grey, scaleFactor=1.1, minNeighbors=5, minSize=(min_side, min_side))
    return len(faces) > 0


def is_partial(evidence: CropEvidence, config: GarmentCheckConfig) -> bool:
    """A person box that is a narrow sliver against the frame's left or right side."""
    if evidence.person is None or evidence.frame_size is None:
        return False
    box, (width, _) = evidence.person, evidence.frame_size
    margin = config.edge_margin * width
    at_side = box.x0 <= margin or box.x1 >= width - margin
    return at_side and box.width < config.partial_width * max(1, box.height)


def _grey(image: np.ndarray, side: int, upscale: bool = False) -> np.ndarray:
    image = np.ascontiguousarray(image[..., :3]) if image.ndim == 3 else image
    grey = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY) if image.ndim == 3 else image
    scale = side / max(grey.shape[:2])
    if scale < 1 or upscale:
        size = (max(1, round(grey.shape[1] * scale)), max(1, round(grey.shape[0] * scale)))
        grey = cv2.resize(grey, size, interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
    return grey


class ImageNetMasses:
    """Garment-class and printed-matter probability masses from the offline encoder's pretrained EfficientNet-Lite0."""

    def __init__(self, size: int = 224, batch_size: int = 32):
        from models.offline import EfficientNetLite0Tower

        self.tower = EfficientNetLite0Tower()
        self.size = size
        self.batch_size = batch_size
        self.groups = [np.array(sorted(CLOTHING_CLASSES)), np.array(sorted(PRINTED_CLASSES))]

    def masses(self, images: Sequence[np.ndarray]) -> np.ndarray:
        """(N, 2) float32: each image's clothing mass and printed-matter mass."""
        import torch

        from models.offline import letterbox

        masses = []
        with torch.inference_mode():
            for start in range(0, len(images), self.batch_size):
                chunk = [letterbox(_rgb(im), self.size) for im in images[start : start + self.batch_size]]
                batch = torch.from_numpy(np.stack(chunk)).permute(0, 3, 1, 2).float()
                probabilities = torch.softmax(self.tower.classify((batch - 127.0) / 128.0), dim=1).numpy()
                masses.append(np.stack([probabilities[:, g].sum(axis=1) for g in self.groups], axis=1))
        return np.concatenate(masses).astype(np.float32) if masses else np.zeros((0, 2), np.float32)


def _rgb(image: np.ndarray) -> np.ndarray:
    if image.ndim == 2:
        return np.repeat(image[..., None], 3, axis=2)
    return np.ascontiguousarray(image[..., :3])


# ----------------------------------------------------------------------------- verdicts


class GarmentChecker:
    """Gives each crop a :class:`GarmentVerdict`; the classifier loads on first use.

    Example::

        checker = GarmentChecker(load_config())
        verdict = checker.check(crop_rgb, CropEvidence("hog", "top", person_box, (360, 640)))
        verdict.is_garment, verdict.reason, verdict.score
    """

    def __init__(self, config: GarmentCheckConfig | None = None, classifier: ImageNetMasses | None = None):
        self.config = config or GarmentCheckConfig()
        self._classifier = classifier

    @property
    def classifier(self) -> ImageNetMasses:
        if self._classifier is None:
            self._classifier = ImageNetMasses(self.config.classifier_size, self.config.batch_size)
        return self._classifier

    def check(self, image: np.ndarray, evidence: CropEvidence) -> GarmentVerdict:
        """The verdict for one crop (RGB uint8)."""
        return self.check_many([image], [evidence])[0]

    def check_many(self, images: Sequence[np.ndarray], evidence: Sequence[CropEvidence]) -> list[GarmentVerdict]:
        """Verdicts for crops (RGB uint8), classified in batches."""
        if len(images) != len(evidence):
            raise ValueError(f"{len(images)} crops but {len(evidence)} evidence records")
        if not self.config.enabled:
            return [_unchecked(e, self.config) for e in evidence]
        return [judge(s, self.config) for s in self.measure(images, evidence)]

    def measure(self, images: Sequence[np.ndarray], evidence: Sequence[CropEvidence]) -> list[CropSignals]:
        """The signals of each crop (the costly part; :func:`judge` applies a config to them)."""
        masses = self.classifier.masses(images)
        outfit: dict[Hashable, float] = {}
        for e, (clothing, _) in zip(evidence, masses, strict=True):
            if e.person_key is not None:
                outfit[e.person_key] = max(outfit.get(e.person_key, 0.0), float(clothing))
        return [
            self._signals(im, e, float(clothing), float(printed), outfit.get(e.person_key, float(clothing)))
            for im, e, (clothing, printed) in zip(images, evidence, masses, strict=True)
        ]

    def _signals(self, image: np.ndarray, evidence: CropEvidence, clothing: float, printed: float, outfit: float) -> CropSignals:
        detected = evidence.method in self.config.person_methods
        return CropSignals(
            clothing=clothing,
            outfit_clothing=outfit,
            printed=printed,
            sharpness=crop_sharpness(image),
            detected=detected,
            face=False if detected else has_face(image),
            partial=is_partial(evidence, self.config),
        )


def clothing_evidence(clothing: float, outfit_clothing: float, config: GarmentCheckConfig) -> float:
    """The clothing mass a crop is judged on: its person's best crop's, unless its own is
    below ``sibling_min_clothing``."""
    return max(clothing, outfit_clothing) if clothing >= config.sibling_min_clothing else clothing


def judge(signals: CropSignals, config: GarmentCheckConfig) -> GarmentVerdict:
    """Apply the rules to a crop's measured signals."""
    s = signals
    person = s.detected or s.face
    needed = config.person_min_clothing if person else config.min_clothing
    evidence = clothing_evidence(s.clothing, s.outfit_clothing, config)
    score = evidence / (evidence + needed) if evidence + needed > 0 else 1.0
    if s.sharpness < config.min_sharpness:
        return GarmentVerdict(False, "blur", score, s)
    if s.partial and s.clothing < config.partial_min_clothing:
        return GarmentVerdict(False, "partial figure", score, s)
    if s.printed >= config.printed_min and s.printed >= config.printed_ratio * evidence:
        return GarmentVerdict(False, "text card", score, s)
    dressed = s.outfit_clothing >= needed and s.clothing >= config.sibling_min_clothing
    if s.clothing < needed and not dressed:
        return GarmentVerdict(False, "no garment" if person else "no person", score, s)
    return GarmentVerdict(True, "garment", score, s)


def _unchecked(evidence: CropEvidence, config: GarmentCheckConfig) -> GarmentVerdict:
    nan = float("nan")
    detected = evidence.method in config.person_methods
    return GarmentVerdict(True, "garment", 1.0, CropSignals(nan, nan, nan, nan, detected, False, False))
