"""Ingest: the one place that wires the stages for a batch of videos.

hash -> claim -> sample frames (video.py) -> find people, cut garments (garments.py) -> write
crops and catalog rows (catalog/) -> hand the new garments to a sink (embedding + index).

A batch (:func:`ingest`) embeds crops across videos: each committed video's crops go on a
crop queue (:mod:`inference.crop_queue`) whose worker thread runs the encoder on full
batches while the next videos decode, and each video is indexed whole once all its crops
are embedded, in submission order. :meth:`Ingestor.ingest_one` (the app, one upload at a
time) embeds a video on its own.

One bad video never stops the batch: it is recorded as failed with its reason. Storage that
gives out (a full disk, a read-only or locked catalog) does stop it, cleanly: the video in
hand is rolled back (or, when its rows are committed, left for the next run to index), the
rest are reported as not attempted, and nothing already stored is touched.

A video is claimed before any work (one transaction, :mod:`inference.catalog.claims`), so
two ingests of the same bytes at once process it once. Its frames and garments are
committed in one transaction, then indexed, then the claim is released; a process killed
in between leaves a ``processing`` row (redone by the next run that meets the video, or by
``resume=True``) or garments catalogued but not indexed, which the next run indexes before
anything else (:meth:`Ingestor.catch_up`). A video counts as ingested only once its
garments are searchable.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import shutil
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from tqdm import tqdm

from core.errors import BadInputError, StylescopeError
from core.faults import fault_point
from core.process import owner_token
from core.storage import (
    STORAGE_ERRORS,
    atomic_write_bytes,
    free_mb,
    remove_leftovers,
    sha256_file,
    storage_fault,
)
from inference.catalog import Catalog, Claim, FrameRow, GarmentRow
from inference.crop_queue import CropQueue, Embedded
from inference.extract import extract_garments, thumbnail
from inference.garment_check import GarmentChecker, load_config
from inference.garments import LocaliserChain
from inference.ingest_types import (
    STATUSES,
    BatchingSink,
    BatchStopped,
    GarmentSink,
    IngestConfig,
    IngestReport,
    StartedVideo,
    VideoOutcome,
    check_file,
)
from inference.manifest import Rejected
from inference.proxies import ProxyJob, proxy_path, start_proxy
from inference.types import VideoSubmission

if TYPE_CHECKING:
    pass

__all__ = ["STATUSES", "BatchStopped", "IngestConfig", "IngestReport", "Ingestor", "VideoOutcome", "check_file", "ingest"]

logger = logging.getLogger(__name__)

_ANY_FAULT: tuple[type[Exception], ...] = (StylescopeError, *STORAGE_ERRORS)  # what best-effort steps survive


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
        self.owner = owner_token()  # this process's name on the videos it claims
        self._claimed: int | None = None  # the video this ingestor is working on
        self._checker: GarmentChecker | None = None  # the garment check, loaded on first use

    def catch_up(self) -> str:
        """Index the garments an interrupted run catalogued but never indexed (and drop
        index entries the catalog lost); returns a line saying what changed, or ''."""
        with contextlib.suppress(*STORAGE_ERRORS):  # best effort: the batch says so if storage is gone
            self.catalog.release_dead_claims()  # done videos whose ingest was killed before letting go
        if self.sink is None:
            return ""
        try:
            report = self.sink.catch_up(self.catalog)
        except _ANY_FAULT as exc:
            line = f"the index could not catch up with the catalog: {storage_fault(exc) or exc}"
            logger.warning(line)
            return line
        if report is None or not (report.added or report.removed or report.failed):
            return ""
        parts = [f"{report.added} garments catalogued by an interrupted run are searchable now"]
        if report.removed:
            parts.append(f"{report.removed} entries of garments no longer in the catalog removed")
        if report.failed:
            parts.append(
                f"{len(report.failed)} garments have no readable crop (see `stylescope check`)"
            )
        line = "index caught up with the catalog: " + "; ".join(parts)
        logger.info(line)
        return line

    def ingest_one(self, submission: VideoSubmission) -> VideoOutcome:
        """Ingest one video, embedding its crops on their own; never raises for a bad video
        (the outcome says what went wrong).

        Raises:
            BatchStopped: the data directory takes no more writes (a full disk, a read-only,
                locked or damaged catalog); its outcome is this video's, rolled back unless
                its rows were already committed.
        """
        return self.ingest_rest(self.start_one(submission))

    def ingest_rest(self, started: StartedVideo) -> VideoOutcome:
        """Embed a started video's crops on their own and index them (:meth:`finish_one`)."""
        sink = self.sink
        return self.finish_one(started, lambda: sink.add_garments(started.garment_ids, started.crops) if sink else None)

    def start_one(self, submission: VideoSubmission) -> StartedVideo:
        """Hash, claim, sample, crop and catalogue one video: all but indexing its garments
        (:meth:`finish_one`). Raises :class:`BatchStopped` as :meth:`ingest_one` does."""
        started = StartedVideo(VideoOutcome(submission.source or str(submission.path), str(submission.path), "failed"))
        with self._stop_on_storage_fault(started.outcome):
            self._check_space(started.outcome)
            self._start(submission, started)
        return started

    def finish_one(self, started: StartedVideo, add: Callable[[], None]) -> VideoOutcome:
        """Index a started video's garments with ``add`` (a committed video only), record its
        event and let go of its claim. Raises :class:`BatchStopped` as :meth:`ingest_one` does."""
        outcome = started.outcome
        self._claimed = outcome.video_id if started.claimed else None
        with self._stop_on_storage_fault(outcome):
            if outcome.status == "unindexed":
                self._to_sink(started, add)
            self.catalog.record_event(outcome.source, outcome.status, outcome.reason, outcome.video_id, outcome.path)
            if started.claimed and outcome.status == "ingested":
                fault_point("ingest.indexed")
                self.catalog.release_video(started.claimed, self.owner)
        self._claimed = None
        return outcome

    @contextlib.contextmanager
    def _stop_on_storage_fault(self, outcome: VideoOutcome) -> Iterator[None]:
        try:
            yield
        except STORAGE_ERRORS as exc:
            reason = storage_fault(exc) or str(exc)
            logger.debug("storage fault on %s", outcome.source, exc_info=True)
            self._give_up(outcome, reason)
            raise BatchStopped(reason, outcome) from None

    def _check_space(self, outcome: VideoOutcome) -> None:
        need, free = self.config.min_free_mb, free_mb(self.data_dir)
        if free < need:
            outcome.status = "not attempted"
            outcome.reason = (
                f"only {free:.3g} MB free in {self.data_dir}; ingest needs at least {need:.3g} MB "
                "(setting ingest.min_free_mb)"
            )
            raise BatchStopped(outcome.reason, outcome)

    def _start(self, submission: VideoSubmission, started: StartedVideo) -> None:
        outcome = started.outcome
        clock = time.perf_counter()
        try:
            check_file(submission.path, self.config)
            content_hash = sha256_file(submission.path)  # same bytes under another name: same video
        except (BadInputError, OSError) as exc:
            outcome.reason = str(exc) if isinstance(exc, BadInputError) else f"cannot read file: {exc.strerror}"
            return
        outcome.seconds["hash"] = time.perf_counter() - clock
        claim = self.catalog.claim_video(submission, content_hash, self.owner)
        outcome.video_id = claim.video_id
        if not claim.claimed:
            _already_in(submission, claim, outcome)
            known = claim.known  # in already: same bytes, so a missing proxy can be made from this file
            if known and known.status == "done" and not proxy_path(self.data_dir, known.id).is_file():
                job = start_proxy(submission.path, proxy_path(self.data_dir, known.id), self.config.proxy_short_side)
                self._end_proxy(job, known.duration_s or 0, outcome, keep=True)
            return
        self._claimed = started.claimed = claim.video_id
        fault_point("ingest.claimed")
        try:
            self._process(submission, claim.video_id, started)
        except StylescopeError as exc:
            outcome.status, outcome.reason = "failed", str(exc)
            self.catalog.fail_video(claim.video_id, outcome.reason)
            shutil.rmtree(self._crop_dir(claim.video_id), ignore_errors=True)
        self._claimed = None

    def _crop_dir(self, video_id: int) -> Path:
        return self.data_dir / "crops" / str(video_id)

    def _give_up(self, outcome: VideoOutcome, reason: str) -> None:
        """The video in hand when storage gave out: keep what is committed, drop the rest."""
        video_id, self._claimed = self._claimed, None
        if outcome.status == "unindexed":  # its rows are committed; the index missed them
            outcome.reason = f"catalogued, not searchable yet ({reason}); the next run indexes it"
            return
        if video_id is None:  # nothing of it was written (or it was already in)
            if outcome.status not in ("skipped", "duplicate", "not attempted"):
                outcome.status, outcome.reason = "failed", reason
            return
        if outcome.status == "ingested":
            return
        outcome.status, outcome.reason = "failed", reason
        shutil.rmtree(self._crop_dir(video_id), ignore_errors=True)
        with contextlib.suppress(*_ANY_FAULT):
            self.catalog.fail_video(video_id, reason)

    def _process(self, submission: VideoSubmission, video_id: int, started: StartedVideo) -> None:
        """Catalogue the video while its browser proxy encodes beside (kept only if it goes in)."""
        job = start_proxy(submission.path, proxy_path(self.data_dir, video_id), self.config.proxy_short_side)
        duration_s = 0.0
        try:
            duration_s = self._catalogue(submission, video_id, started)
        finally:
            self._end_proxy(job, duration_s, started.outcome, keep=started.outcome.status == "unindexed")

    def _catalogue(self, submission: VideoSubmission, video_id: int, started: StartedVideo) -> float:
        """Sample, crop and store one claimed video (indexed by :meth:`finish_one`); returns its duration in seconds."""
        outcome = started.outcome
        extracted = extract_garments(submission.path, self.config, self.localiser)
        sampled, crops = extracted.sampled, extracted.crops
        outcome.seconds.update(extracted.seconds)
        outcome.fallback_frames = extracted.fallback_frames

        clock = time.perf_counter()
        crop_dir = self._crop_dir(video_id)
        shutil.rmtree(crop_dir, ignore_errors=True)  # a redo after an interrupted run
        rows = []
        for crop in crops:
            relative = f"crops/{video_id}/{crop.frame_index:03d}_{crop.kind}.jpg"
            atomic_write_bytes(
                self.data_dir / relative,
                thumbnail(crop, self.config.crop_max_side, self.config.jpeg_quality),
                fsync=False,
            )
            rows.append(GarmentRow(crop.frame_index, crop.kind, crop.box, crop.method, crop.score, relative))
        fault_point("ingest.crops_written")
        frames = [
            FrameRow(f.t_s, f.segment, f.sharpness, f.phash, f.image.shape[1], f.image.shape[0])
            for f in sampled.frames
        ]
        started.garment_ids = self.catalog.finish_video(video_id, sampled.info, frames, rows)
        started.crops = [c.image for c in crops]
        fault_point("ingest.committed")
        outcome.seconds["write"] = time.perf_counter() - clock
        outcome.frames, outcome.garments = len(frames), len(started.garment_ids)
        outcome.status = "unindexed"  # until the sink has them
        return sampled.info.duration_s

    def _end_proxy(self, job: ProxyJob | None, duration_s: float, outcome: VideoOutcome, keep: bool) -> None:
        """Keep the proxy of a video that is in (best effort: else the app links the original if it may)."""
        clock = time.perf_counter()
        problem = job.finish(duration_s, keep) if job else ""
        if job and keep:
            outcome.seconds["proxy"] = time.perf_counter() - clock  # the wait, after what overlapped it
        if problem and keep:
            logger.warning("video %s: no browser proxy (%s)", outcome.video_id, problem)
            outcome.reason = "; ".join(filter(None, [outcome.reason, f"no browser proxy ({problem})"]))

    def _to_sink(self, started: StartedVideo, add: Callable[[], None]) -> None:
        """Index a committed video's garments (``add``), then run the garment check on them."""
        outcome, garment_ids = started.outcome, started.garment_ids
        clock = time.perf_counter()
        try:
            if self.sink is not None and garment_ids:
                add()
            outcome.status = "ingested"
        except StylescopeError as exc:
            outcome.reason = (
                f"catalogued but not indexed ({exc}); the next `stylescope ingest` "
                "or `stylescope index sync` indexes it"
            )
            logger.warning("video %s: %s", outcome.video_id, outcome.reason)
        started.crops = []  # embedded: the pixels are not kept
        if self.sink is not None and garment_ids:
            outcome.seconds["embed"] = outcome.seconds.get("embed", 0.0) + time.perf_counter() - clock
        self._check_garments(garment_ids, outcome)
        if outcome.status == "ingested" and outcome.fallback_frames:
            outcome.reason = f"no person found in {outcome.fallback_frames} of {outcome.frames} frames: centred crop used"

    def _check_garments(self, garment_ids: list[int], outcome: VideoOutcome) -> None:
        """The garment check's verdicts on the video's crops (best effort: `trends` checks what is missed)."""
        if not self.config.garment_check or not garment_ids:
            return
        from inference.trends.screening import check_garments

        clock = time.perf_counter()
        self._checker = self._checker or GarmentChecker(load_config())
        try:
            check_garments(self.catalog, garment_ids, self._checker)
        except _ANY_FAULT as exc:
            logger.warning("video %s: garment check left to `stylescope trends` (%s)", outcome.video_id, exc)
        outcome.seconds["garment_check"] = time.perf_counter() - clock

    def resume_submissions(self) -> list[VideoSubmission]:
        """Videos an interrupted run left ``processing`` (its process is gone), to be redone."""
        followers = dict(self.catalog.creators())
        return [
            VideoSubmission(
                Path(video.source_path),
                video.creator or "unknown",
                followers.get(video.creator or "", 0),
                dt.date.fromisoformat(video.posted_at) if video.posted_at else dt.date.today(),
                f"resume:{video.id}",
            )
            for video in self.catalog.abandoned_videos()
        ]

    def release(self) -> None:
        """Drop the claims this ingestor still holds (best effort: storage may be gone)."""
        with contextlib.suppress(*_ANY_FAULT):
            self.catalog.release_claims(self.owner)


def _already_in(submission: VideoSubmission, claim: Claim, outcome: VideoOutcome) -> None:
    """The outcome of a video that was not claimed: it is in, or another run is on it."""
    known = claim.known
    assert known is not None
    if claim.in_flight and known.status != "done":
        outcome.status = "duplicate"
        outcome.reason = f"another ingest is processing the same video right now (video {known.id}, {known.source_path})"
        return
    same_path = Path(known.source_path) == submission.path
    outcome.status = "skipped" if same_path else "duplicate"
    outcome.reason = f"already in the catalog as video {known.id}" + ("" if same_path else f" ({known.source_path})")


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
        _run_batch(ingestor, list(submissions), rejected, resume, progress, report)
    finally:
        ingestor.release()
        ingestor.catalog.close()
    return report


def _run_batch(
    ingestor: Ingestor,
    batch: list[VideoSubmission],
    rejected: Sequence[Rejected],
    resume: bool,
    progress: bool,
    report: IngestReport,
) -> None:
    try:
        remove_leftovers(ingestor.data_dir)
        for item in rejected:
            ingestor.catalog.record_event(item.source, "failed", item.reason, path=item.path)
            report.outcomes.append(VideoOutcome(item.source, item.path, "failed", item.reason))
        if resume:
            queued = {s.path for s in batch}
            batch += [s for s in ingestor.resume_submissions() if s.path not in queued]
        report.caught_up = ingestor.catch_up()
    except STORAGE_ERRORS as exc:
        report.stop(storage_fault(exc) or str(exc), batch)
        return
    _run_videos(ingestor, batch, progress, report)


def _run_videos(ingestor: Ingestor, batch: list[VideoSubmission], progress: bool, report: IngestReport) -> None:
    """Start each video in turn; index each once its crops are embedded (across videos on the
    crop queue when the sink can batch, else one video at a time)."""
    sink, config = ingestor.sink, ingestor.config
    queue: CropQueue[StartedVideo] | None = None
    if isinstance(sink, BatchingSink):
        waiting_crops = sink.batch_size * config.embed_queue_batches
        queue = CropQueue(sink.prepare, sink.forward, sink.batch_size, waiting_crops, config.encoder_threads)
    waiting: deque[StartedVideo] = deque()  # on the queue, in order, not indexed yet
    begun = 0  # videos started (the one a stop came from included)
    try:
        for submission in tqdm(batch, desc="ingest", unit="video", disable=not progress):
            begun += 1
            try:
                started = ingestor.start_one(submission)
            except BatchStopped as stop:
                report.outcomes.append(stop.outcome)
                with contextlib.suppress(BatchStopped):  # index what is catalogued, if storage lets
                    for embedded in queue.drain() if queue else ():
                        _finish_embedded(ingestor, waiting.popleft(), embedded)
                raise
            report.outcomes.append(started.outcome)
            if queue is None:
                _log_outcome(ingestor.ingest_rest(started))
                continue
            waiting.append(started)
            queue.put(started, started.crops)
            started.crops = []
            for embedded in queue.ready():
                _finish_embedded(ingestor, waiting.popleft(), embedded)
        for embedded in queue.drain() if queue else ():
            _finish_embedded(ingestor, waiting.popleft(), embedded)
    except BatchStopped as stop:
        for started in waiting:  # committed, not indexed: the next run's catch-up indexes them
            if started.outcome.status == "unindexed":
                started.outcome.reason = f"catalogued, not searchable yet ({stop}); the next run indexes it"
        report.stop(str(stop), batch[begun:])
        logger.warning("batch stopped: %s", stop)
    finally:
        if queue is not None:
            queue.close()
            stats = queue.stats
            logger.debug("crop queue: %d crops in %d batches, forward %.2fs, idle %.2fs",
                         stats.crops, len(stats.batch_sizes), stats.forward_s, stats.idle_s)


def _finish_embedded(ingestor: Ingestor, started: StartedVideo, embedded: Embedded[StartedVideo]) -> None:
    """Index a video whose crops came back from the crop queue."""
    assert embedded.key is started, "the crop queue hands videos back in the order they were put"
    sink = ingestor.sink
    assert isinstance(sink, BatchingSink)

    def add() -> None:
        if embedded.error is not None:
            raise embedded.error
        sink.add_embedded(started.garment_ids, embedded.vectors)

    started.outcome.seconds["embed"] = embedded.seconds
    _log_outcome(ingestor.finish_one(started, add))


def _log_outcome(outcome: VideoOutcome) -> None:
    logger.debug(
        "%s: %s %s %s %s", outcome.label, outcome.status, outcome.reason,
        f"{outcome.frames} frames, {outcome.garments} garments" if outcome.garments else "",
        " ".join(f"{k}={v:.2f}s" for k, v in outcome.seconds.items()),
    )
