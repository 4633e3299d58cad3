"""The Parquet tables a scaled-out ingest writes, and the ids many writers can share.

One folder per table under the output directory, each partitioned by posting month
(``month=YYYY-MM``): ``videos``, ``frames``, ``garments`` (with the crop as JPEG bytes) and
``embeddings/<encoder>``. Ids need no coordinator: a video's id is the SHA-256 of its bytes,
a garment's id is derived from the video's id and the garment's ordinal in the video, so any
worker, in any run, gives the same garment the same id.

The tables are append-only and gain whole files only (written under ``_staging/``, then
renamed in). A killed run can leave files of videos whose ``videos`` row was never renamed
in (it goes last); the next run redoes those videos with the same ids, and readers
(:func:`complete_rows`) keep one row per id of written videos only, so nothing is lost or
counted twice.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import re
from pathlib import Path

import numpy as np

from inference.extract import VideoGarments, thumbnail
from inference.ingest import IngestConfig
from inference.types import VideoSubmission

TABLES = ("videos", "frames", "garments")  # and embeddings/<encoder>: garment_id, video_id, vector, month
STAGING = "_staging"  # a run's files before they are renamed into the tables (never read)
ORDINAL_BITS = 11  # garments per video: at most 2**11 (the sampler keeps far fewer)
VIDEO_BITS = 63 - ORDINAL_BITS  # of the content hash kept in a garment id (int64, >= 0)


def garment_id(video_id: str, ordinal: int) -> int:
    """The garment's id: the video hash's first bits, then the ordinal (a FAISS-ready int64)."""
    if not 0 <= ordinal < 1 << ORDINAL_BITS:
        raise ValueError(f"garment ordinal {ordinal} out of range")
    prefix = int(video_id[:16], 16) >> (64 - VIDEO_BITS)
    return (prefix << ORDINAL_BITS) | ordinal


def month_of(posted_at: dt.date | str) -> str:
    """The partition a video's rows go to: its posting month, ``YYYY-MM``."""
    return str(posted_at)[:7]


def encoder_table(encoder_name: str) -> str:
    """The embeddings table of one encoder, named safely for a folder."""
    return "embeddings/" + re.sub(r"[^A-Za-z0-9_.-]+", "_", encoder_name)


def file_hash(path: Path) -> str:
    """The content hash that is a video's id (same bytes, same id, whatever the name)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


@dataclasses.dataclass
class VideoTables:
    """One video's rows: its ``videos`` row, ``frames`` rows and ``garments`` rows."""

    video: dict[str, object]
    frames: list[dict[str, object]]
    garments: list[dict[str, object]]


def video_row(submission: VideoSubmission, video_id: str, status: str, reason: str = "") -> dict[str, object]:
    """A ``videos`` row without the decoder's facts (a failed video, before they are known)."""
    return {
        "video_id": video_id, "source_path": str(submission.path), "source": submission.source,
        "creator": submission.creator, "followers": int(submission.followers),
        "posted_at": submission.posted_at.isoformat(), "month": month_of(submission.posted_at),
        "status": status, "reason": reason, "width": 0, "height": 0, "fps": 0.0,
        "duration_s": 0.0, "frame_count": 0, "rotation": 0, "codec": "",
    }


def video_tables(submission: VideoSubmission, video_id: str, extracted: VideoGarments,
                 config: IngestConfig) -> VideoTables:
    """The rows of a video that went through the sampler and localiser."""
    info = extracted.sampled.info
    reason = ""
    if extracted.fallback_frames:
        reason = (f"no person found in {extracted.fallback_frames} of {len(extracted.sampled.frames)} "
                  "frames: centred crop used")
    video = video_row(submission, video_id, "done", reason) | {
        "width": info.width, "height": info.height, "fps": float(info.fps),
        "duration_s": float(info.duration_s), "frame_count": info.frame_count,
        "rotation": info.rotation, "codec": info.codec,
    }
    month = month_of(submission.posted_at)
    frames = [
        {"video_id": video_id, "frame_index": i, "t_s": float(f.t_s), "segment": f.segment,
         "sharpness": float(f.sharpness), "phash": np.uint64(f.phash).view(np.int64).item(),
         "width": f.image.shape[1], "height": f.image.shape[0], "month": month}
        for i, f in enumerate(extracted.sampled.frames)
    ]
    garments: list[dict[str, object]] = [
        {"garment_id": garment_id(video_id, ordinal), "video_id": video_id, "ordinal": ordinal,
         "frame_index": crop.frame_index, "kind": crop.kind, "x0": crop.box.x0, "y0": crop.box.y0,
         "x1": crop.box.x1, "y1": crop.box.y1, "method": crop.method, "score": float(crop.score),
         "crop_jpeg": thumbnail(crop, config.crop_max_side, config.jpeg_quality), "month": month}
        for ordinal, crop in enumerate(extracted.crops)
    ]
    return VideoTables(video, frames, garments)


def read_table(out_dir: str | Path, table: str, key: str | tuple[str, ...] | None = None):  # type: ignore[no-untyped-def]
    """A table as a pyarrow Table (empty when never written), one row per ``key`` (a column or
    columns) if given.

    Rows of a killed run's videos (no ``videos`` row with status done or failed) are dropped
    by :func:`complete_rows`; here a repeated key keeps its last row.
    """
    import pyarrow as pa
    import pyarrow.dataset as pads

    folder = Path(out_dir) / table
    if not folder.exists() or not any(folder.rglob("*.parquet")):
        return pa.table({})
    data = pads.dataset(folder, format="parquet", partitioning="hive").to_table()
    if key is None or data.num_rows == 0:
        return data
    columns = [data.column(k).to_pylist() for k in ((key,) if isinstance(key, str) else key)]
    last = {k: i for i, k in enumerate(zip(*columns, strict=True))}
    return data.take(sorted(last.values()))


def written_videos(out_dir: str | Path) -> set[str]:
    """Ids of the videos whose rows are all written (done or failed with a reason)."""
    videos = read_table(out_dir, "videos")
    return set(videos.column("video_id").to_pylist()) if videos.num_rows else set()


def complete_rows(out_dir: str | Path, table: str, key: str | tuple[str, ...]):  # type: ignore[no-untyped-def]
    """A table's rows, one per ``key``, of written videos only (a killed run's leftovers dropped)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    data = read_table(out_dir, table, key)
    if data.num_rows == 0:
        return data
    done = pa.array(sorted(written_videos(out_dir)), pa.string())
    return data.filter(pc.is_in(data.column("video_id"), value_set=done))
