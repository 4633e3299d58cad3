"""Typed records passed between pipeline stages."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import Literal

import numpy as np

GarmentKind = Literal["top", "bottom", "full"]
GARMENT_KINDS: tuple[GarmentKind, ...] = ("top", "bottom", "full")

# Follower tiers as brands use them; micro creators are the ones they look for.
TIERS: dict[str, tuple[int, int | None]] = {
    "nano": (0, 10_000),
    "micro": (10_000, 50_000),
    "mid": (50_000, 1_000_000),
    "mega": (1_000_000, None),
}
# "macro" is what the issues call everything between micro and mega.
TIER_ALIASES = {"macro": "mid"}


def follower_tier(followers: int) -> str:
    """Tier name for a follower count: nano, micro (10k-50k), mid (50k-1M) or mega (>1M)."""
    for name, (low, high) in TIERS.items():
        if followers >= low and (high is None or followers < high):
            return name
    raise ValueError(f"follower count must be >= 0, got {followers}")


def tier_bounds(tier: str) -> tuple[int, int | None]:
    """Follower range [low, high) of a tier name (accepts 'macro' for 'mid')."""
    name = TIER_ALIASES.get(tier.lower(), tier.lower())
    if name not in TIERS:
        raise ValueError(f"unknown follower tier {tier!r}; choose from {', '.join(TIERS)}, macro")
    return TIERS[name]


@dataclasses.dataclass(frozen=True)
class VideoSubmission:
    """One video to ingest, with the creator metadata that came with it."""

    path: Path
    creator: str  # creator handle, without '@'
    followers: int  # follower count at posting time
    posted_at: dt.date  # the day the video was posted
    source: str = ""  # where the submission came from (manifest:line, CLI)


@dataclasses.dataclass(frozen=True)
class Box:
    """Pixel box in the upright frame, half-open: x0 <= x < x1, y0 <= y < y1."""

    x0: int
    y0: int
    x1: int
    y1: int

    @property
    def width(self) -> int:
        return self.x1 - self.x0

    @property
    def height(self) -> int:
        return self.y1 - self.y0

    @property
    def area(self) -> int:
        return max(0, self.width) * max(0, self.height)

    def clip(self, width: int, height: int) -> Box:
        """This box clipped to a ``width`` x ``height`` image."""
        return Box(
            max(0, min(self.x0, width)),
            max(0, min(self.y0, height)),
            max(0, min(self.x1, width)),
            max(0, min(self.y1, height)),
        )

    def iou(self, other: Box) -> float:
        """Intersection over union with ``other``."""
        inter = Box(
            max(self.x0, other.x0),
            max(self.y0, other.y0),
            min(self.x1, other.x1),
            min(self.y1, other.y1),
        )
        if inter.width <= 0 or inter.height <= 0:
            return 0.0
        union = self.area + other.area - inter.area
        return inter.area / union if union else 0.0

    def as_tuple(self) -> tuple[int, int, int, int]:
        return (self.x0, self.y0, self.x1, self.y1)


@dataclasses.dataclass(frozen=True)
class VideoInfo:
    """What probing a video container told us, before decoding frames."""

    width: int  # upright width (after rotation)
    height: int  # upright height (after rotation)
    fps: float  # average frame rate
    duration_s: float  # duration in seconds
    frame_count: int  # frames in the stream (estimated when the container doesn't say)
    rotation: int  # clockwise degrees applied to decoded frames to make them upright
    codec: str  # codec name, e.g. h264


@dataclasses.dataclass
class SampledFrame:
    """A frame kept by the sampler, upright RGB."""

    t_s: float  # presentation time in seconds
    image: np.ndarray  # HxWx3 uint8 RGB, upright, at most the sampler's max_side
    sharpness: float  # variance of the Laplacian at the sampler's analysis size
    phash: int  # 64-bit perceptual (difference) hash
    segment: int  # index of the visually distinct segment it belongs to
    # near-duplicates of this frame from its segment, converted only when called: a detector
    # that finds nobody in this frame tries them (a steady shot keeps one frame, and one
    # frame is a single throw of a detector's dice)
    alternates: tuple[Callable[[], SampledFrame], ...] = ()


@dataclasses.dataclass
class GarmentCrop:
    """One garment cut from a sampled frame."""

    frame_index: int  # index into the video's list of sampled frames
    kind: GarmentKind  # top, bottom or full outfit
    box: Box  # where in the (upright) frame
    method: str  # localiser that found the person: hog, motion, fallback_center ...
    score: float  # localiser confidence, 0..1
    image: np.ndarray  # the crop, HxWx3 uint8 RGB


@dataclasses.dataclass
class EmbeddedGarments:
    """Catalog garments embedded from their stored crops."""

    ids: np.ndarray  # int64 (N,): garments whose crop could be read
    vectors: np.ndarray  # float32 (N, dim), rows L2-normalised, in the order of ids
    failed: list[int]  # garments whose crop is missing or unreadable
