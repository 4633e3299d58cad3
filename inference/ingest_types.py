"""The ingest stage's settings, the sinks it hands garments to, and what a batch reports
(one outcome per submission, in order, and why a batch stopped)."""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import numpy as np

import configs
from configs import setting
from core.errors import BadInputError, StorageError
from inference.garments import LocaliserConfig
from inference.types import VideoSubmission
from inference.video import SamplerConfig

if TYPE_CHECKING:
    from inference.catalog import Catalog
    from inference.index import SyncReport


@dataclasses.dataclass
class IngestConfig:
    """Settings of the ingest stage (the ``ingest`` section of configs/pipeline.yaml)."""

    sampler: SamplerConfig = dataclasses.field(default_factory=SamplerConfig)  # frame sampling
    localiser: LocaliserConfig = dataclasses.field(default_factory=LocaliserConfig)  # garment localisation
    crop_max_side: int = setting(320, low=1)  # crop thumbnails are scaled so their longer side is at most this
    jpeg_quality: int = setting(90, low=0, high=100)  # JPEG quality of crop thumbnails
    max_file_mb: float = setting(4096.0, low=0, low_open=True)  # larger files are refused without decoding
    min_free_mb: float = setting(64.0, low=0)  # a video is not started with less free space in the data directory
    garment_check: bool = False  # judge each committed video's crops with the garment check (else `trends` does, when on)
    proxy_short_side: int = setting(360, low=0, high=2160)  # short side of the browser proxy kept per video (0: none)
    embed_queue_batches: int = setting(2, low=1, high=16)  # crops waiting for the encoder, in batches (index.embed_batch_size)
    encoder_threads: int = setting(0, low=0, high=64)  # torch threads of the encoder during ingest (0: torch's default)

    @classmethod
    def load(cls, user_file: str | Path | None = None) -> IngestConfig:
        """The packaged pipeline config, with a user file merged over it."""
        return configs.from_dict(cls, configs.load("pipeline", user_file).get("ingest", {}))


class GarmentSink(Protocol):
    """Receives the garments of each committed video (e.g. to embed and index them)."""

    def add_garments(self, garment_ids: list[int], crops: list[np.ndarray]) -> None: ...

    def catch_up(self, catalog: Catalog) -> SyncReport | None:
        """Take in the catalog's garments the sink has not got (an interrupted run's)."""
        ...


@runtime_checkable
class BatchingSink(GarmentSink, Protocol):
    """A sink whose embedding is split so a batch can embed crops across videos (the crop queue)."""

    batch_size: int  # crops per forward pass

    def prepare(self, crops: Sequence[np.ndarray]) -> Any:
        """Crops -> the encoder's input batch (CPU, on the ingest thread)."""
        ...

    def forward(self, batch: Any) -> np.ndarray:
        """An input batch -> L2-normalised vectors (on the crop queue's worker thread)."""
        ...

    def add_embedded(self, garment_ids: list[int], vectors: np.ndarray) -> None:
        """Index one video's garments with their vectors."""
        ...


def check_file(path: Path, config: IngestConfig) -> None:
    """Refuse a path that is not a readable, non-empty video file within the size limit."""
    if not path.exists():
        raise BadInputError("file not found")
    if not path.is_file():
        raise BadInputError("not a regular file")
    size = path.stat().st_size
    if size == 0:
        raise BadInputError("empty file (0 bytes)")
    if size > config.max_file_mb * 1e6:
        raise BadInputError(f"file is {size / 1e6:.0f} MB, above the {config.max_file_mb:.0f} MB limit")


@dataclasses.dataclass
class VideoOutcome:
    """What happened to one submission."""

    source: str  # manifest:line or the path given
    path: str
    status: str  # ingested, skipped (already in), duplicate, unindexed, failed, not attempted
    reason: str = ""
    video_id: int | None = None
    frames: int = 0
    garments: int = 0
    fallback_frames: int = 0  # frames whose person came from the centred fallback
    seconds: dict[str, float] = dataclasses.field(default_factory=dict)  # time per stage

    @property
    def failed(self) -> bool:
        return self.status in ("failed", "unindexed", "not attempted")

    @property
    def video(self) -> str:
        """The video's file name ('' when the submission named no file)."""
        return Path(self.path).name if self.path else ""

    @property
    def label(self) -> str:
        """How reports name the submission: the file name, and the manifest line it came from."""
        if not self.video:
            return self.source
        return self.video if self.source in ("", self.path) else f"{self.video} ({self.source})"

    def to_dict(self) -> dict[str, object]:
        """JSON-ready: every field, plus the video's file name."""
        return {"video": self.video, **dataclasses.asdict(self)}


@dataclasses.dataclass
class StartedVideo:
    """A video through :meth:`Ingestor.start_one`: catalogued (or failed, or already in), not indexed yet."""

    outcome: VideoOutcome
    garment_ids: list[int] = dataclasses.field(default_factory=list)  # its committed garments
    crops: list[np.ndarray] = dataclasses.field(default_factory=list)  # their pixels, until embedded
    claimed: int | None = None  # the video id this ingestor claimed for it (released once indexed)


STATUSES = ("ingested", "skipped", "duplicate", "unindexed", "failed", "not attempted")


class BatchStopped(StorageError):
    """The data directory took no more writes; ``outcome`` is the video in hand."""

    def __init__(self, reason: str, outcome: VideoOutcome):
        super().__init__(reason)
        self.outcome = outcome


@dataclasses.dataclass
class IngestReport:
    """Every submission's outcome, in order."""

    outcomes: list[VideoOutcome] = dataclasses.field(default_factory=list)
    stopped: str = ""  # why the batch stopped before its end ('' when it ran through)
    caught_up: str = ""  # what the index took in from an interrupted run, before the batch

    def stop(self, reason: str, rest: Sequence[VideoSubmission]) -> None:
        """End the batch early: ``rest`` is reported as not attempted."""
        self.stopped = reason
        self.outcomes += [
            VideoOutcome(s.source or str(s.path), str(s.path), "not attempted", "the batch stopped before it")
            for s in rest
        ]

    def count(self, status: str) -> int:
        return sum(o.status == status for o in self.outcomes)

    @property
    def exit_code(self) -> int:
        """0 all went in, 1 some failed, 2 nothing could be done."""
        if not self.outcomes:
            return 2
        failed = sum(o.failed for o in self.outcomes)
        if failed == 0:
            return 0
        return 2 if failed == len(self.outcomes) else 1

    def stage_seconds(self) -> dict[str, float]:
        total: dict[str, float] = defaultdict(float)
        for outcome in self.outcomes:
            for stage, seconds in outcome.seconds.items():
                total[stage] += seconds
        return dict(total)
