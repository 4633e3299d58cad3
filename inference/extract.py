"""The per-video stages every ingest backend runs: sample frames, cut garments, make the
crops' thumbnails (the local :mod:`inference.ingest` and the Ray path of
:mod:`inference.scale` both call these)."""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path
from typing import Protocol

import cv2

from core.errors import StylescopeError
from inference.garments import LocaliserChain, LocaliserConfig, cut_garments
from inference.types import GarmentCrop
from inference.video import SamplerConfig, SampleResult, sample_video


class ExtractConfig(Protocol):
    """The settings the stages read (``IngestConfig`` has them)."""

    sampler: SamplerConfig
    localiser: LocaliserConfig


def thumbnail(crop: GarmentCrop, max_side: int, quality: int) -> bytes:
    """The crop as a JPEG, its longer side at most ``max_side``."""
    image = crop.image
    h, w = image.shape[:2]
    if max(h, w) > max_side:
        scale = max_side / max(h, w)
        image = cv2.resize(image, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_AREA)
    ok, encoded = cv2.imencode(".jpg", cv2.cvtColor(image, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise StylescopeError("could not encode a crop as JPEG")
    return encoded.tobytes()


@dataclasses.dataclass
class VideoGarments:
    """One video through the sampler and the garment localiser."""

    sampled: SampleResult  # the video's facts and its sampled frames
    crops: list[GarmentCrop]  # its garments, in frame order
    fallback_frames: int  # frames whose person came from the centred fallback
    seconds: dict[str, float]  # decode and crop time


def extract_garments(path: Path, config: ExtractConfig, localiser: LocaliserChain) -> VideoGarments:
    """Sample a video's frames and cut its garments: the stages every backend runs.

    Raises:
        StylescopeError: the video cannot be decoded or holds nothing to sample.
    """
    clock = time.perf_counter()
    sampled = sample_video(path, config.sampler)
    seconds = {"decode": time.perf_counter() - clock}
    clock = time.perf_counter()
    sampled.frames, detections = localiser.locate_sampled(sampled.frames)
    crops = cut_garments([f.image for f in sampled.frames], detections, config.localiser)
    seconds["crop"] = time.perf_counter() - clock
    fallback = sum(d.method == "fallback_center" for d in detections)
    return VideoGarments(sampled, crops, fallback, seconds)
