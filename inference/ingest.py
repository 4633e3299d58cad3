"""Ingest: the one place that wires the stages for a batch of videos.

hash -> sample frames (video.py) -> find people, cut garments (garments.py) -> write crops
and catalog rows (catalog.py) -> hand the new garments to a sink (embedding + index).

One bad video never stops the batch: it is recorded as failed with its reason. Each video
is committed in one transaction, so a killed process leaves at most a ``processing`` row,
which the next run (or ``resume=True``) redoes from scratch.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import shutil
import time
from collections import defaultdict
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Protocol

import cv2
import numpy as np
from tqdm import tqdm

import configs
from configs import setting
from core.errors import BadInputError, StylescopeError
from core.storage import atomic_write_bytes, sha256_file
from inference.catalog import Catalog, FrameRow, GarmentRow
from inference.garments import LocaliserChain, LocaliserConfig, cut_garments
from inference.manifest import Rejected
from inference.types import GarmentCrop, VideoSubmission
from inference.video import SamplerConfig, sample_video

logger = logging.getLogger(__name__)


@dataclasses.dataclass
class IngestConfig:
    """Settings of the ingest stage (the ``ingest`` section of configs/pipeline.yaml)."""

    sampler: SamplerConfig = dataclasses.field(default_factory=SamplerConfig)  # frame sampling
    localiser: LocaliserConfig = dataclasses.field(default_factory=LocaliserConfig)  # garment localisation
    crop_max_side: int = setting(320, low=1)  # crop thumbnails are scaled so their longer side is at most this
    jpeg_quality: int = setting(90, low=0, high=100)  # JPEG quality of crop thumbnails
    max_file_mb: float = setting(4096.0, low=0, low_open=True)  # larger files are refused without decoding

    @classmethod
    def load(cls, user_file: str | Path | None = None) -> IngestConfig:
        """The packaged pipeline config, with a user file merged over it."""
        return configs.from_dict(cls, configs.load("pipeline", user_file).get("ingest", {}))


class GarmentSink(Protocol):
    """Receives the garments of each committed video (e.g. to embed and index them)."""

    def add_garments(self, garment_ids: list[int], crops: list[np.ndarray]) -> None: ...


@dataclasses.dataclass
class VideoOutcome:
    """What happened to one submission."""

    source: str  # manifest:line or the path given
    path: str
    status: str  # ingested, skipped (already in), duplicate, unindexed, failed
    reason: str = ""
    video_id: int | None = None
    frames: int = 0
    garments: int = 0
    fallback_frames: int = 0  # frames whose person came from the centred fallback
    seconds: dict[str, float] = dataclasses.field(default_factory=dict)  # time per stage

    @property
    def failed(self) -> bool:
        return self.status in ("failed", "unindexed")

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
class IngestReport:
    """Every submission's outcome, in order."""

    outcomes: list[VideoOutcome] = dataclasses.field(default_factory=list)

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


def _check_file(path: Path, config: IngestConfig) -> None:
    if not path.exists():
        raise BadInputError("file not found")
    if not path.is_file():
        raise BadInputError("not a regular file")
    size = path.stat().st_size
    if size == 0:
        raise BadInputError("empty file (0 bytes)")
    if size > config.max_file_mb * 1e6:
        raise BadInputError(f"file is {size / 1e6:.0f} MB, above the {config.max_file_mb:.0f} MB limit")


def _thumbnail(crop: GarmentCrop, max_side: int, quality: int) -> bytes:
    image = crop.image
    h, w = image.shape[:2]
    if max(h, w) > max_side:
        scale = max_side / max(h, w)
        image = cv2.resize(image, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_AREA)
    ok, encoded = cv2.imencode(".jpg", cv2.cvtColor(image, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise StylescopeError("could not encode a crop as JPEG")
    return encoded.tobytes()


class Ingestor:
    """Runs submissions through the stages into one data directory."""

    def __init__(
        self,
        data_dir: str | Path,
        config: IngestConfig | None = None,
        sink: GarmentSink | None = None,
        catalog: Catalog | None = None,
    ):
        self.data_dir = Path(data_dir)
        self.config = config or IngestConfig()
        self.sink = sink
        self.catalog = catalog or Catalog(self.data_dir)
        self.localiser = LocaliserChain(self.config.localiser)

    def ingest_one(self, submission: VideoSubmission) -> VideoOutcome:
        """Ingest one video; never raises for a bad video (the outcome says what went wrong)."""
        outcome = VideoOutcome(submission.source or str(submission.path), str(submission.path), "failed")
        started = time.perf_counter()
        try:
            _check_file(submission.path, self.config)
            content_hash = sha256_file(submission.path)  # same bytes under another name: same video
        except (BadInputError, OSError) as exc:
            outcome.reason = str(exc) if isinstance(exc, BadInputError) else f"cannot read file: {exc.strerror}"
            self.catalog.record_event(outcome.source, "failed", outcome.reason, path=outcome.path)
            return outcome
        outcome.seconds["hash"] = time.perf_counter() - started
        known = self.catalog.video_by_hash(content_hash)
        if known is not None and known.status == "done":
            same_path = Path(known.source_path) == submission.path
            outcome.status = "skipped" if same_path else "duplicate"
            outcome.reason = f"already in the catalog as video {known.id}" + ("" if same_path else f" ({known.source_path})")
            outcome.video_id = known.id
            self.catalog.record_event(outcome.source, outcome.status, outcome.reason, known.id, outcome.path)
            return outcome
        video_id = self.catalog.begin_video(submission, content_hash)
        outcome.video_id = video_id
        try:
            self._process(submission, video_id, outcome)
        except StylescopeError as exc:
            outcome.status, outcome.reason = "failed", str(exc)
            self.catalog.fail_video(video_id, outcome.reason)
            shutil.rmtree(self.data_dir / "crops" / str(video_id), ignore_errors=True)
        self.catalog.record_event(outcome.source, outcome.status, outcome.reason, video_id, outcome.path)
        return outcome

    def _process(self, submission: VideoSubmission, video_id: int, outcome: VideoOutcome) -> None:
        clock = time.perf_counter()
        sampled = sample_video(submission.path, self.config.sampler)
        outcome.seconds["decode"] = time.perf_counter() - clock

        clock = time.perf_counter()
        sampled.frames, detections = self.localiser.locate_sampled(sampled.frames)
        images = [f.image for f in sampled.frames]
        crops = cut_garments(images, detections, self.config.localiser)
        outcome.seconds["crop"] = time.perf_counter() - clock
        outcome.fallback_frames = sum(d.method == "fallback_center" for d in detections)

        clock = time.perf_counter()
        crop_dir = self.data_dir / "crops" / str(video_id)
        shutil.rmtree(crop_dir, ignore_errors=True)  # a redo after an interrupted run
        rows = []
        for crop in crops:
            relative = f"crops/{video_id}/{crop.frame_index:03d}_{crop.kind}.jpg"
            atomic_write_bytes(
                self.data_dir / relative,
                _thumbnail(crop, self.config.crop_max_side, self.config.jpeg_quality),
                fsync=False,
            )
            rows.append(GarmentRow(crop.frame_index, crop.kind, crop.box, crop.method, crop.score, relative))
        frames = [
            FrameRow(f.t_s, f.segment, f.sharpness, f.phash, f.image.shape[1], f.image.shape[0])
            for f in sampled.frames
        ]
        garment_ids = self.catalog.finish_video(video_id, sampled.info, frames, rows)
        outcome.seconds["write"] = time.perf_counter() - clock
        outcome.status, outcome.frames, outcome.garments = "ingested", len(frames), len(garment_ids)
        if outcome.fallback_frames:
            outcome.reason = f"no person found in {outcome.fallback_frames} of {len(frames)} frames: centred crop used"
        self._to_sink(garment_ids, crops, outcome)

    def _to_sink(self, garment_ids: list[int], crops: Sequence[GarmentCrop], outcome: VideoOutcome) -> None:
        if self.sink is None or not garment_ids:
            return
        clock = time.perf_counter()
        try:
            self.sink.add_garments(garment_ids, [c.image for c in crops])
        except StylescopeError as exc:
            outcome.status = "unindexed"
            outcome.reason = f"catalogued but not indexed ({exc}); run `stylescope index sync`"
            logger.warning("video %s: %s", outcome.video_id, outcome.reason)
        outcome.seconds["embed"] = time.perf_counter() - clock

    def resume_submissions(self) -> list[VideoSubmission]:
        """Videos left ``processing`` by an interrupted run, to be redone."""
        followers = dict(self.catalog.creators())
        return [
            VideoSubmission(
                Path(video.source_path),
                video.creator or "unknown",
                followers.get(video.creator or "", 0),
                dt.date.fromisoformat(video.posted_at) if video.posted_at else dt.date.today(),
                f"resume:{video.id}",
            )
            for video in self.catalog.videos(status="processing")
        ]


def ingest(
    submissions: Iterable[VideoSubmission],
    data_dir: str | Path,
    config: IngestConfig | None = None,
    sink: GarmentSink | None = None,
    progress: bool = True,
    rejected: Sequence[Rejected] = (),
    resume: bool = False,
) -> IngestReport:
    """Ingest a batch of videos into ``data_dir``; see the module docstring.

    Args:
        submissions: videos with their creator metadata.
        data_dir: the deployment's data directory.
        config: stage settings (default: the packaged pipeline config).
        sink: receives each committed video's garment ids and crops (embedding, index).
        progress: show a tqdm bar over videos.
        rejected: submissions already refused upstream (bad manifest rows): recorded and
            reported as failed alongside the rest.
        resume: also redo videos an interrupted run left half-done.
    """
    ingestor = Ingestor(data_dir, config or IngestConfig.load(), sink)
    report = IngestReport()
    try:
        for item in rejected:
            ingestor.catalog.record_event(item.source, "failed", item.reason, path=item.path)
            report.outcomes.append(VideoOutcome(item.source, item.path, "failed", item.reason))
        batch = list(submissions)
        if resume:
            queued = {s.path for s in batch}
            batch += [s for s in ingestor.resume_submissions() if s.path not in queued]
        for submission in tqdm(batch, desc="ingest", unit="video", disable=not progress):
            outcome = ingestor.ingest_one(submission)
            report.outcomes.append(outcome)
            logger.debug(
                "%s: %s %s %s %s", outcome.label, outcome.status, outcome.reason,
                f"{outcome.frames} frames, {outcome.garments} garments" if outcome.garments else "",
                " ".join(f"{k}={v:.2f}s" for k, v in outcome.seconds.items()),
            )
    finally:
        ingestor.catalog.close()
    return report
