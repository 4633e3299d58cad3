"""Garment localisation: find the person in each sampled frame, cut top / bottom / full crops.

Localisers are pluggable behind :class:`Localiser`. The default chain tries OpenCV's
pretrained HOG people detector, then motion across the video's frames (fit-check videos are
shot from a still phone, so what moves is the person), then OpenCV's pretrained face cascade
with the body extrapolated from the face, and finally a centred crop, which is recorded as
``fallback_center`` so nobody mistakes it for a detection. Before falling back, a sampled frame
with nobody found in it hands over to its near-duplicates (the sampler keeps one frame of a
steady shot and holds a few more back): a detector that misses a person in one frame often
finds them a few frames on.
"""

from __future__ import annotations

import abc
import dataclasses
import logging
from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np

import configs
from configs import setting
from inference.types import Box, GarmentCrop, GarmentKind, SampledFrame

logger = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class PersonDetection:
    """The main person found in one frame."""

    box: Box  # in the frame's pixels
    score: float  # 0..1
    method: str  # which localiser found it


@dataclasses.dataclass
class LocaliserConfig:
    """Which localisers run, in order, and how garments are cut from a person box."""

    chain: list[str] = dataclasses.field(default_factory=lambda: ["hog", "motion", "face"])  # tried in order; the centred fallback always ends it
    hog_height: int = setting(400, low=1)  # frames are scaled to this height before HOG detection
    hog_min_score: float = 0.3  # HOG SVM margin below which a detection is ignored
    hog_pad: float = setting(0.18, low=0)  # frames are padded by this fraction first, so people filling the frame fit the window
    hog_trim: tuple[float, float, float, float] = (0.16, 0.05, 0.86, 0.85)  # the person inside the detector window (x0, y0, x1, y1)
    face_height: int = setting(480, low=1)  # frames are scaled to this height before face detection
    face_neighbours: int = setting(4, low=0)  # Haar cascade minNeighbors: higher is stricter
    motion_min_frames: int = setting(3, low=0)  # motion needs at least this many frames of the same video
    motion_threshold: int = setting(28, low=0, high=255)  # per-pixel difference from the background that counts as motion
    motion_min_area: float = setting(0.02, low=0, high=1)  # smallest moving region, as a fraction of the frame
    top_span: tuple[float, float] = (0.16, 0.56)  # top garment: shoulders to hip, fraction of the person's height
    bottom_span: tuple[float, float] = (0.38, 0.85)  # bottom garment: waist to below the knee
    bottom_inset: float = setting(0.15, low=0, high=0.5, high_open=True)  # bottom garment: fraction of the person's width cut from each side (arms)
    fallback_width: float = setting(0.6, low=0, high=1, low_open=True)  # centred fallback box: fraction of the frame's width
    fallback_height: float = setting(0.9, low=0, high=1, low_open=True)  # centred fallback box: fraction of the frame's height

    def problems(self) -> list[str]:
        unknown = [name for name in self.chain if name not in LOCALISERS]
        if unknown:
            return [f"chain names unknown localisers {unknown}; available: {', '.join(LOCALISERS)}"]
        return []


class Localiser(abc.ABC):
    """Finds the main person in each frame of one video (``None`` where it finds nobody)."""

    name: str

    @abc.abstractmethod
    def locate(self, frames: Sequence[np.ndarray]) -> list[PersonDetection | None]:
        """One detection or ``None`` per frame."""


class HOGLocaliser(Localiser):
    """OpenCV's pretrained HOG + linear SVM pedestrian detector (Dalal & Triggs)."""

    name = "hog"

    def __init__(self, config: LocaliserConfig):
        self.config = config
        self.hog = cv2.HOGDescriptor()
        self.hog.setSVMDetector(cv2.HOGDescriptor_getDefaultPeopleDetector())  # type: ignore[attr-defined]

    def locate(self, frames: Sequence[np.ndarray]) -> list[PersonDetection | None]:
        return [self._detect(frame) for frame in frames]

    def _detect(self, frame: np.ndarray) -> PersonDetection | None:
        h, w = frame.shape[:2]
        pad_y, pad_x = round(self.config.hog_pad * h), round(self.config.hog_pad * w)
        padded = cv2.copyMakeBorder(frame, pad_y, pad_y, pad_x, pad_x, cv2.BORDER_REPLICATE)
        scale = min(1.0, self.config.hog_height / padded.shape[0])
        size = (max(64, round(padded.shape[1] * scale)), max(128, round(padded.shape[0] * scale)))
        grey = cv2.cvtColor(cv2.resize(padded, size, interpolation=cv2.INTER_AREA), cv2.COLOR_RGB2GRAY)
        rects, weights = self.hog.detectMultiScale(grey, winStride=(8, 8), padding=(16, 16), scale=1.06)
        if len(rects) == 0:
            return None
        margins = np.asarray(weights).reshape(-1)
        best = int(np.argmax(margins))
        score = float(margins[best])
        if score < self.config.hog_min_score:
            return None
        x, y, bw, bh = (float(v) / scale for v in rects[best])
        x, y = x - pad_x, y - pad_y
        # The detector's window has a margin around the person: trim it.
        tx0, ty0, tx1, ty1 = self.config.hog_trim
        box = Box(round(x + tx0 * bw), round(y + ty0 * bh), round(x + tx1 * bw), round(y + ty1 * bh))
        return PersonDetection(box.clip(w, h), min(1.0, score / 2.0), self.name)


class FaceLocaliser(Localiser):
    """OpenCV's pretrained Haar frontal-face cascade, with the body extrapolated from the face.

    Fit checks face the camera, so a face is often found where a full-body detector fails;
    the body box follows adult proportions (about 7.5 head heights tall, 3 head widths wide)
    and is clipped to the frame.
    """

    name = "face"

    def __init__(self, config: LocaliserConfig):
        self.config = config
        path = Path(cv2.data.haarcascades) / "haarcascade_frontalface_default.xml"  # type: ignore[attr-defined]
        self.cascade = cv2.CascadeClassifier(str(path))
        if self.cascade.empty():
            raise RuntimeError(f"OpenCV's face cascade is missing ({path})")

    def locate(self, frames: Sequence[np.ndarray]) -> list[PersonDetection | None]:
        return [self._detect(frame) for frame in frames]

    def _detect(self, frame: np.ndarray) -> PersonDetection | None:
        h, w = frame.shape[:2]
        scale = min(1.0, self.config.face_height / h)
        grey = cv2.cvtColor(cv2.resize(frame, (round(w * scale), round(h * scale)), interpolation=cv2.INTER_AREA), cv2.COLOR_RGB2GRAY)
        min_side = max(12, round(grey.shape[0] * 0.03))
        faces, _, weights = self.cascade.detectMultiScale3(
            grey, scaleFactor=1.1, minNeighbors=self.config.face_neighbours, minSize=(min_side, min_side), outputRejectLevels=True
        )
        if len(faces) == 0:
            return None
        best = int(np.argmax(np.asarray(weights).reshape(-1)))
        x, y, fw, fh = (float(v) / scale for v in faces[best])
        # Face boxes start at the brow: the head's top is ~0.25 face heights above.
        head = 1.25 * fh
        top = y - 0.25 * fh
        cx = x + fw / 2
        box = Box(round(cx - 1.5 * fw), round(top), round(cx + 1.5 * fw), round(top + 7.5 * head))
        score = min(1.0, float(np.asarray(weights).reshape(-1)[best]) / 10.0)
        return PersonDetection(box.clip(w, h), score, self.name)


class MotionLocaliser(Localiser):
    """The moving region against the video's median frame (a still camera's background)."""

    name = "motion"

    def __init__(self, config: LocaliserConfig):
        self.config = config

    def locate(self, frames: Sequence[np.ndarray]) -> list[PersonDetection | None]:
        if len(frames) < self.config.motion_min_frames:
            return [None] * len(frames)
        shapes = {f.shape for f in frames}
        if len(shapes) != 1:
            return [None] * len(frames)
        h, w = frames[0].shape[:2]
        scale = min(1.0, 160 / max(h, w))
        size = (max(8, round(w * scale)), max(8, round(h * scale)))
        small = np.stack([cv2.resize(f, size, interpolation=cv2.INTER_AREA) for f in frames]).astype(np.int16)
        background = np.median(small, axis=0)
        return [self._moving_box(frame, background, scale, w, h) for frame in small]

    def _moving_box(
        self, frame: np.ndarray, background: np.ndarray, scale: float, w: int, h: int
    ) -> PersonDetection | None:
        moving = (np.abs(frame - background).max(axis=2) > self.config.motion_threshold).astype(np.uint8)
        moving = cv2.morphologyEx(moving, cv2.MORPH_OPEN, np.ones((3, 3), np.uint8))
        moving = cv2.morphologyEx(moving, cv2.MORPH_CLOSE, np.ones((7, 7), np.uint8))
        count, _, stats, _ = cv2.connectedComponentsWithStats(moving)
        if count <= 1:
            return None
        largest = 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
        x, y, bw, bh, area = stats[largest]
        if area < self.config.motion_min_area * moving.size:
            return None
        # A person is taller than wide; a frame-wide blob is a light change, not a person.
        if bw > 0.95 * moving.shape[1] and bh > 0.95 * moving.shape[0]:
            return None
        box = Box(round(x / scale), round(y / scale), round((x + bw) / scale), round((y + bh) / scale))
        fill = float(area) / float(bw * bh)
        return PersonDetection(box.clip(w, h), min(1.0, fill), self.name)


class CentredFallback(Localiser):
    """A centred box: used when nothing else found a person, and recorded as such."""

    name = "fallback_center"

    def __init__(self, config: LocaliserConfig):
        self.config = config

    def locate(self, frames: Sequence[np.ndarray]) -> list[PersonDetection | None]:
        detections: list[PersonDetection | None] = []
        for frame in frames:
            h, w = frame.shape[:2]
            bw, bh = w * self.config.fallback_width, h * self.config.fallback_height
            box = Box(round((w - bw) / 2), round((h - bh) / 2), round((w + bw) / 2), round((h + bh) / 2))
            detections.append(PersonDetection(box, 0.0, self.name))
        return detections


LOCALISERS: dict[str, type[Localiser]] = {
    HOGLocaliser.name: HOGLocaliser,
    FaceLocaliser.name: FaceLocaliser,
    MotionLocaliser.name: MotionLocaliser,
    CentredFallback.name: CentredFallback,
}


class LocaliserChain(Localiser):
    """Runs localisers in order; each frame takes the first detection found for it."""

    name = "chain"

    def __init__(self, config: LocaliserConfig | None = None):
        self.config = config or LocaliserConfig()
        configs.check(self.config, "localiser.")  # the chain may have been set in code
        names = [n for n in self.config.chain if n != CentredFallback.name]
        self.detectors = [LOCALISERS[n](self.config) for n in names]  # type: ignore[call-arg]
        self.fallback = CentredFallback(self.config)

    def find(self, frames: Sequence[np.ndarray]) -> list[PersonDetection | None]:
        """Detections by the chain's detectors; ``None`` where none of them found a person."""
        found: list[PersonDetection | None] = [None] * len(frames)
        for localiser in self.detectors:
            missing = [i for i, d in enumerate(found) if d is None]
            if not missing:
                break
            for i, detection in zip(missing, localiser.locate([frames[i] for i in missing]), strict=True):
                found[i] = detection
        return found

    def locate(self, frames: Sequence[np.ndarray]) -> list[PersonDetection | None]:
        return self._fill(frames, self.find(frames))

    def locate_sampled(self, frames: Sequence[SampledFrame]) -> tuple[list[SampledFrame], list[PersonDetection]]:
        """A detection for every sampled frame, trying a frame's near-duplicates where nobody is found in it.

        A frame with nobody found converts its alternates one at a time, each looked at on its
        own (so the motion localiser, which needs several frames of one shot, is not fed
        frames of different shots), and the first with a person takes its place. Returns
        the frames, without their alternates (which hold decoded frames), and one detection
        each: the centred fallback where nothing found one.
        """
        frames = list(frames)
        found = self.find([f.image for f in frames])
        for i, frame in enumerate(frames):
            if found[i] is not None:
                continue
            for make in frame.alternates:
                alternate = make()
                detection = self.find([alternate.image])[0]
                if detection is not None:
                    frames[i], found[i] = alternate, detection
                    break
        frames = [dataclasses.replace(f, alternates=()) if f.alternates else f for f in frames]
        detections = self._fill([f.image for f in frames], found)
        return frames, [d for d in detections if d is not None]

    def _fill(self, frames: Sequence[np.ndarray], found: list[PersonDetection | None]) -> list[PersonDetection | None]:
        missing = [i for i, d in enumerate(found) if d is None]
        filled = list(found)
        for i, detection in zip(missing, self.fallback.locate([frames[i] for i in missing]), strict=True):
            filled[i] = detection
        return filled


def garment_boxes(person: Box, config: LocaliserConfig) -> dict[GarmentKind, Box]:
    """Top, bottom and full-outfit boxes from a person box, by body proportions."""
    h, inset = person.height, round(config.bottom_inset * person.width)

    def band(span: tuple[float, float], inset: int = 0) -> Box:
        y0, y1 = person.y0 + round(span[0] * h), person.y0 + round(span[1] * h)
        return Box(person.x0 + inset, y0, person.x1 - inset, y1)

    return {"top": band(config.top_span), "bottom": band(config.bottom_span, inset), "full": person}


def cut_garments(
    frames: Sequence[np.ndarray], detections: Sequence[PersonDetection | None], config: LocaliserConfig
) -> list[GarmentCrop]:
    """Crops for every frame with a detection, in frame order then top, bottom, full."""
    crops: list[GarmentCrop] = []
    for index, (frame, detection) in enumerate(zip(frames, detections, strict=True)):
        if detection is None:
            continue
        h, w = frame.shape[:2]
        for kind, box in garment_boxes(detection.box, config).items():
            box = box.clip(w, h)
            if box.width < 8 or box.height < 8:
                continue
            image = np.ascontiguousarray(frame[box.y0 : box.y1, box.x0 : box.x1])
            crops.append(GarmentCrop(index, kind, box, detection.method, detection.score, image))
    return crops


def localise_image(image: np.ndarray, config: LocaliserConfig | None = None) -> list[GarmentCrop]:
    """Garment crops of the person in a single image (a search query); empty if none is found."""
    config = config or LocaliserConfig()
    detection = HOGLocaliser(config).locate([image])[0]
    return cut_garments([image], [detection], config) if detection else []
