"""``stylescope ingest --backend ray``: the ingest stages as a Ray Data pipeline.

manifest -> ``flat_map`` (hash, skip what is written, the project's own sampler and garment
localiser: one video to its frames and garments) -> CPU ``map_batches`` (the encoder's resize)
-> an actor pool running the encoder (``ActorPoolStrategy``, fractional CPUs so a small node
cannot deadlock) -> Parquet tables (:mod:`inference.scale.tables`), partitioned by month.
A bad video is a ``videos`` row with its reason, as locally. The batch runs in chunks; each
chunk's files are written to ``_staging/`` and then renamed into the tables, ``videos``
last, so a killed run leaves whole files only, and its unfinished videos are redone by the
next (same ids, readers keep one row each).
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import functools
import hashlib
import io
import json
import logging
import os
import shutil
import time
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from core.errors import BadInputError, StylescopeError
from inference.extract import extract_garments
from inference.garments import LocaliserChain
from inference.ingest import IngestConfig, check_file
from inference.manifest import Rejected
from inference.scale.tables import (
    STAGING,
    encoder_table,
    file_hash,
    video_row,
    video_tables,
    written_videos,
)
from inference.types import VideoSubmission

logger = logging.getLogger(__name__)


@dataclasses.dataclass
class ScaleConfig:
    """How the Ray pipeline runs (CLI flags; defaults suit one small machine)."""

    address: str | None = None  # a running cluster ("auto", "ray://host:10001"); None: start one here
    num_cpus: int | None = None  # CPUs of a cluster started here (None: all)
    encoder_actors: int = 1  # size of the encoder actor pool
    actor_cpus: float = 0.5  # CPUs each encoder actor holds (fractional so CPU stages still run)
    actor_gpus: float = 0.0  # GPUs each encoder actor holds
    batch_size: int = 16  # crops per encoder batch
    chunk_videos: int = 200  # videos per committed chunk (a killed run redoes at most one chunk)


@dataclasses.dataclass
class ScaleReport:
    """What a Ray ingest did: one entry per submission, and the time per phase."""

    outcomes: list[dict[str, str]] = dataclasses.field(default_factory=list)  # source, video_id, status, reason
    garments: int = 0  # garments written by this run
    seconds: dict[str, float] = dataclasses.field(default_factory=dict)  # ray_start, pipeline, write

    def count(self, status: str) -> int:
        return sum(o["status"] == status for o in self.outcomes)

    @property
    def exit_code(self) -> int:
        """0 all went in (or were in), 1 some failed, 2 nothing could be done."""
        failed = self.count("failed")
        if not self.outcomes:
            return 2
        return 0 if failed == 0 else 2 if failed == len(self.outcomes) else 1


def start_ray(config: ScaleConfig) -> float:
    """Connect to (or start) a Ray cluster, quietly; returns the seconds it took."""
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    import ray

    clock = time.perf_counter()
    if not ray.is_initialized():
        if config.address:
            ray.init(address=config.address, log_to_driver=False)
        else:
            ray.init(num_cpus=config.num_cpus, include_dashboard=False, log_to_driver=False,
                     _node_ip_address="127.0.0.1")
    import ray.data

    # Ray Data's progress bars take over the terminal's stdout while a dataset runs; the CLI's
    # report (and --json) goes to stdout, so they stay off on every path that starts Ray here.
    ray.data.DataContext.get_current().enable_progress_bars = False
    return time.perf_counter() - clock


_LOCALISERS: dict[str, LocaliserChain] = {}  # per worker process, by settings


def _localiser(config: IngestConfig) -> LocaliserChain:
    key = repr(config.localiser)
    if key not in _LOCALISERS:
        _LOCALISERS[key] = LocaliserChain(config.localiser)
    return _LOCALISERS[key]


@functools.lru_cache(maxsize=2)
def _encoder(spec: str):  # type: ignore[no-untyped-def]
    from models.registry import create_encoder

    return create_encoder(spec)


def _submission(record: dict[str, Any]) -> VideoSubmission:
    return VideoSubmission(Path(record["path"]), record["creator"], int(record["followers"]),
                           dt.date.fromisoformat(record["posted_at"]), record["source"])


def _record(kind: str, video_id: str, month: str, fields: dict[str, object],
            jpeg: bytes = b"", png: bytes = b"") -> dict[str, Any]:
    return {"record": kind, "video_id": video_id, "month": month, "fields": json.dumps(fields),
            "crop_jpeg": jpeg, "crop_png": png}


def video_records(record: dict[str, Any], config: IngestConfig, done: frozenset[str]) -> list[dict[str, Any]]:
    """The flat_map stage: one submission -> its video, frame and garment records.

    A video already written yields one ``skipped`` record; a bad one a ``videos`` record with
    its reason. Garment records carry the crop twice: a lossless PNG for the encoder (the
    pixels the local backend embeds) and the JPEG thumbnail that is stored.
    """
    import cv2

    submission = _submission(record)
    try:
        check_file(submission.path, config)
        video_id = file_hash(submission.path)
    except (BadInputError, OSError) as exc:
        reason = str(exc) if isinstance(exc, BadInputError) else f"cannot read file: {exc.strerror}"
        video_id = "path-" + hashlib.sha256(str(submission.path).encode()).hexdigest()[:59]
        row = video_row(submission, video_id, "failed", reason)
        return [_record("video", video_id, str(row["month"]), row)]
    if video_id in done:
        row = video_row(submission, video_id, "skipped", "already written")
        return [_record("skipped", video_id, str(row["month"]), row)]
    try:
        extracted = extract_garments(submission.path, config, _localiser(config))
    except StylescopeError as exc:
        row = video_row(submission, video_id, "failed", str(exc))
        return [_record("video", video_id, str(row["month"]), row)]
    tables = video_tables(submission, video_id, extracted, config)
    month = str(tables.video["month"])
    records = [_record("video", video_id, month, tables.video)]
    records += [_record("frame", video_id, month, frame) for frame in tables.frames]
    for garment, crop in zip(tables.garments, extracted.crops, strict=True):
        jpeg = garment.pop("crop_jpeg")
        assert isinstance(jpeg, bytes)
        ok, png = cv2.imencode(".png", cv2.cvtColor(crop.image, cv2.COLOR_RGB2BGR))
        if not ok:
            raise StylescopeError("could not encode a crop as PNG")
        records.append(_record("garment", video_id, month, garment, jpeg, png.tobytes()))
    return records


def _decode_png(data: bytes) -> np.ndarray:
    import cv2

    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    if image is None:
        raise StylescopeError("a crop in transit could not be decoded")
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


def resize_batch(batch: dict[str, np.ndarray], encoder_spec: str) -> dict[str, np.ndarray]:
    """The CPU map_batches stage: crops -> the encoder's input size (its ``resize_images``).

    Encoders without a fixed-size uint8 input (the tiny test encoder) keep the PNG for the
    actor to embed from.
    """
    resized = _encoder(encoder_spec).resize_images([_decode_png(png) for png in batch["crop_png"]])
    if isinstance(resized, np.ndarray) and resized.ndim == 4 and resized.dtype == np.uint8:
        batch = {k: v for k, v in batch.items() if k != "crop_png"}
        batch["pixels"] = resized
    return batch


class EncoderActor:
    """The actor-pool stage: holds one encoder, embeds batches of resized crops."""

    def __init__(self, encoder_spec: str):
        self.encoder = _encoder(encoder_spec)

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        if "pixels" in batch:
            vectors = self.encoder.encode_resized(batch.pop("pixels"))
        else:
            vectors = self.encoder.encode_images([_decode_png(png) for png in batch.pop("crop_png")])
        batch["vector"] = np.asarray(vectors, np.float32)
        return batch


def _fields_rows(batch: dict[str, np.ndarray]) -> dict[str, Any]:
    """Records -> table rows: the JSON fields unpacked into columns."""
    import pandas as pd

    rows = pd.DataFrame([json.loads(f) for f in batch["fields"]])
    if "crop_jpeg" in batch and len(batch["crop_jpeg"]) and batch["crop_jpeg"][0]:
        rows["crop_jpeg"] = list(batch["crop_jpeg"])
    return rows


def ray_ingest(
    submissions: Sequence[VideoSubmission],
    out_dir: str | Path,
    config: IngestConfig,
    encoder_spec: str,
    scale: ScaleConfig | None = None,
    rejected: Sequence[Rejected] = (),
) -> ScaleReport:
    """Ingest a batch on Ray into Parquet tables under ``out_dir``; see the module docstring.

    The batch goes through in chunks of ``scale.chunk_videos``; each chunk's tables are
    committed (:func:`_commit`) before the next starts, so a killed run loses at most the
    chunk in flight, and the next run skips every committed video by its content hash.
    """
    scale = scale or ScaleConfig()
    report = ScaleReport()
    report.outcomes += [{"source": r.source, "video_id": "", "status": "failed", "reason": r.reason}
                        for r in rejected]
    report.seconds["ray_start"] = start_ray(scale)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    _clear_staging(out)
    items = [{"path": str(s.path), "creator": s.creator, "followers": s.followers,
              "posted_at": s.posted_at.isoformat(), "source": s.source or str(s.path)} for s in submissions]
    done = frozenset(written_videos(out))
    for start in range(0, len(items), scale.chunk_videos):
        _ingest_chunk(items[start:start + scale.chunk_videos], out, done, config, encoder_spec, scale, report)
    return report


def _ingest_chunk(items: list[dict[str, Any]], out: Path, done: frozenset[str], config: IngestConfig,
                  encoder_spec: str, scale: ScaleConfig, report: ScaleReport) -> None:
    """One chunk through the pipeline, written to a staging folder, then committed."""
    import ray
    import ray.data
    from ray.data.expressions import col

    clock = time.perf_counter()
    records = ray.data.from_items(items, override_num_blocks=len(items)).flat_map(
        video_records, fn_kwargs={"config": config, "done": done}).materialize()  # type: ignore[arg-type]  # the fn_kwargs fill the rest
    garments = records.filter(expr=col("record") == "garment")
    embedded = garments.map_batches(
        resize_batch, fn_kwargs={"encoder_spec": encoder_spec}, batch_size=scale.batch_size,
        batch_format="numpy",
    ).map_batches(
        EncoderActor, fn_constructor_kwargs={"encoder_spec": encoder_spec}, batch_size=scale.batch_size,
        batch_format="numpy", compute=ray.data.ActorPoolStrategy(size=scale.encoder_actors),
        num_cpus=scale.actor_cpus, num_gpus=scale.actor_gpus or None,
    ).materialize()
    _add_seconds(report, "pipeline", clock)
    clock = time.perf_counter()
    staging = out / STAGING / uuid.uuid4().hex
    garment_count = embedded.count()
    if garment_count:
        _write(embedded.map_batches(_fields_rows, batch_format="numpy"), staging / "garments")
        _write(embedded.map_batches(_embedding_rows, batch_format="numpy"), staging / encoder_table(encoder_spec))
    frames = records.filter(expr=col("record") == "frame")
    if frames.count():
        _write(frames.map_batches(_fields_rows, batch_format="numpy"), staging / "frames")
    videos = records.filter(expr=col("record") == "video")
    if videos.count():
        _write(videos.map_batches(_fields_rows, batch_format="numpy"), staging / "videos")
    _commit(staging, out)
    report.garments += garment_count
    _add_seconds(report, "write", clock)
    for record in records.filter(expr=(col("record") == "video") | (col("record") == "skipped")).take_all():
        fields = json.loads(record["fields"])
        report.outcomes.append({"source": fields["source"], "video_id": record["video_id"],
                                "status": "ingested" if fields["status"] == "done" else fields["status"],
                                "reason": fields["reason"]})


def _add_seconds(report: ScaleReport, phase: str, since: float) -> None:
    report.seconds[phase] = report.seconds.get(phase, 0.0) + time.perf_counter() - since


def _commit(staging: Path, out: Path) -> None:
    """Move a chunk's finished Parquet files from ``staging`` into the tables, ``videos`` last.

    Each file moves by one rename, so a reader (or a killed run) sees whole files only; a
    video's ``videos`` row appears after all its other rows, which is what marks it done.
    """
    if not staging.exists():
        return
    files = sorted(staging.rglob("*.parquet"), key=lambda f: f.relative_to(staging).parts[0] == "videos")
    for file in files:
        target = out / file.relative_to(staging)
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(file, target)
    shutil.rmtree(staging)
    with contextlib.suppress(OSError):  # another writer's staging may still be there
        staging.parent.rmdir()


def _clear_staging(out: Path) -> None:
    """Drop what a killed run left half-written (one writer per ``--out`` folder at a time)."""
    staging = out / STAGING
    if staging.exists():
        shutil.rmtree(staging)


def _embedding_rows(batch: dict[str, np.ndarray]) -> dict[str, Any]:
    garment = [json.loads(f) for f in batch["fields"]]
    return {"garment_id": np.array([g["garment_id"] for g in garment], np.int64),
            "video_id": np.array([g["video_id"] for g in garment]),
            "vector": batch["vector"], "month": batch["month"]}


def _write(dataset, folder: Path) -> None:  # type: ignore[no-untyped-def]
    dataset.write_parquet(str(folder), partition_cols=["month"])


def crop_image(jpeg: bytes) -> np.ndarray:
    """A stored crop thumbnail back as RGB uint8."""
    from PIL import Image

    return np.asarray(Image.open(io.BytesIO(jpeg)).convert("RGB"))
