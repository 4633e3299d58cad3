"""Typed records the catalog reads and writes: no caller sees a SQL row."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from inference.types import Box, VideoInfo, VideoSubmission, follower_tier


@dataclasses.dataclass(frozen=True)
class VideoRecord:
    """A video row."""

    id: int
    creator: str | None
    source_path: str
    content_hash: str
    posted_at: str | None
    status: str
    error: str | None
    duration_s: float | None
    claimed_by: str | None = None  # owner token of the process working on it (catalog/claims.py)
    claimed_at: str | None = None  # when it was claimed (UTC, ISO 8601)


@dataclasses.dataclass(frozen=True)
class GarmentRecord:
    """A garment joined with the frame, video and creator it came from."""

    id: int
    video_id: int
    frame_id: int
    kind: str
    box: Box
    method: str
    score: float
    crop_path: str  # relative to the data directory
    t_s: float  # moment in the video
    creator: str
    followers: int
    posted_at: str  # ISO date
    source_path: str

    @property
    def tier(self) -> str:
        return follower_tier(self.followers)


@dataclasses.dataclass(frozen=True)
class FrameRow:
    """A sampled frame to write with its video."""

    t_s: float
    segment: int
    sharpness: float
    phash: int
    width: int
    height: int


@dataclasses.dataclass(frozen=True)
class GarmentRow:
    """A garment to write with its video; ``frame_index`` points into the frame rows."""

    frame_index: int
    kind: str
    box: Box
    method: str
    score: float
    crop_path: str


@dataclasses.dataclass(frozen=True)
class IngestEvent:
    """One line of the ingest log: a submission's outcome."""

    id: int
    at: str  # when (UTC, ISO 8601)
    source: str  # manifest:line, or the path given
    path: str  # the video file ('' when the submission named none; before schema 3 too)
    outcome: str  # ingested, skipped, duplicate, unindexed, failed
    video_id: int | None
    reason: str


@dataclasses.dataclass(frozen=True)
class WholeVideo:
    """A video written whole in one go (see ``Catalog.write_videos``)."""

    submission: VideoSubmission
    content_hash: str
    info: VideoInfo
    frames: Sequence[FrameRow]
    garments: Sequence[GarmentRow]
