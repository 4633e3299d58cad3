"""Parquet tables <-> a local deployment, so a cluster run and a laptop interchange.

:func:`import_tables` loads what a scaled-out ingest wrote into a data directory through the
catalog's own ingest queries (claim, finish, release: a video already there is skipped), its
crops beside it and its embeddings into the live index, so search and trends work on it.
Local garment ids are the catalog's own (dense, FAISS-friendly); the tables' ids are the
interchange ids, derived again from the video hash and ordinal on :func:`export_tables`.
No Ray here: pyarrow reads the tables.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path

import numpy as np

from core.errors import BadInputError
from core.process import owner_token
from core.storage import atomic_write_bytes
from inference.catalog import Catalog, FrameRow, GarmentRow
from inference.index import GarmentIndex, IndexConfig
from inference.index.live import ensure_live_version
from inference.scale.tables import complete_rows, encoder_table
from inference.types import Box, VideoInfo, VideoSubmission


@dataclasses.dataclass
class ImportReport:
    """What an import took in."""

    imported: int = 0  # videos catalogued with their garments
    failed: int = 0  # bad videos, recorded with their reason
    skipped: int = 0  # videos the catalog already had
    garments: int = 0  # garments catalogued and indexed


def _rows_by_video(table) -> dict[str, list[dict]]:  # type: ignore[no-untyped-def]
    grouped: dict[str, list[dict]] = {}
    for row in table.to_pylist():
        grouped.setdefault(row["video_id"], []).append(row)
    return grouped


def _submission(video: dict) -> VideoSubmission:
    return VideoSubmission(Path(video["source_path"]), video["creator"], int(video["followers"]),
                           dt.date.fromisoformat(video["posted_at"]), video["source"] or video["source_path"])


def _info(video: dict) -> VideoInfo:
    return VideoInfo(int(video["width"]), int(video["height"]), float(video["fps"]), float(video["duration_s"]),
                     int(video["frame_count"]), int(video["rotation"]), str(video["codec"]))


def import_tables(tables_dir: str | Path, data_dir: str | Path, encoder_info: dict[str, object],
                  encoder_spec: str, config: IndexConfig) -> ImportReport:
    """Load the tables under ``tables_dir`` into ``data_dir`` (catalog, crops, live index).

    Raises:
        BadInputError: there are no tables, or none for ``encoder_spec``'s embeddings.
    """
    tables_dir, data_dir = Path(tables_dir), Path(data_dir)
    videos = complete_rows(tables_dir, "videos", "video_id")
    if videos.num_rows == 0:
        raise BadInputError(f"no videos table under {tables_dir}: is it the --out of `stylescope ingest --backend ray`?")
    embeddings = complete_rows(tables_dir, encoder_table(encoder_spec), "garment_id")
    garments = _rows_by_video(complete_rows(tables_dir, "garments", "garment_id"))
    if garments and embeddings.num_rows == 0:
        raise BadInputError(f"no embeddings of encoder {encoder_spec} under {tables_dir}")
    frames = _rows_by_video(complete_rows(tables_dir, "frames", ("video_id", "frame_index")))
    vector_of = dict(zip(embeddings.column("garment_id").to_pylist() if embeddings.num_rows else [],
                         embeddings.column("vector").to_pylist() if embeddings.num_rows else [], strict=True))
    report, owner = ImportReport(), owner_token()
    index = GarmentIndex(data_dir, config, encoder_info)
    with Catalog(data_dir) as catalog:
        for video in videos.to_pylist():
            submission = _submission(video)
            claim = catalog.claim_video(submission, video["video_id"], owner)
            if not claim.claimed:
                report.skipped += 1
                continue
            if video["status"] != "done":
                catalog.fail_video(claim.video_id, video["reason"])
                catalog.record_event(submission.source, "failed", video["reason"], claim.video_id, str(submission.path))
                report.failed += 1
                continue
            ids = _import_video(catalog, data_dir, claim.video_id, video, frames.get(video["video_id"], []),
                                sorted(garments.get(video["video_id"], []), key=lambda g: g["ordinal"]),
                                index, encoder_info, config, vector_of)
            catalog.record_event(submission.source, "ingested", video["reason"], claim.video_id, str(submission.path))
            catalog.release_video(claim.video_id, owner)
            report.imported += 1
            report.garments += len(ids)
    return report


def _import_video(catalog: Catalog, data_dir: Path, local_id: int, video: dict, frames: list[dict],
                  garments: list[dict], index: GarmentIndex, encoder_info: dict[str, object],
                  config: IndexConfig, vector_of: dict[int, list[float]]) -> list[int]:
    rows = []
    for garment in garments:
        relative = f"crops/{local_id}/{garment['frame_index']:03d}_{garment['kind']}.jpg"
        atomic_write_bytes(data_dir / relative, garment["crop_jpeg"], fsync=False)
        box = Box(garment["x0"], garment["y0"], garment["x1"], garment["y1"])
        rows.append(GarmentRow(garment["frame_index"], garment["kind"], box, garment["method"],
                               garment["score"], relative))
    frame_rows = [
        FrameRow(f["t_s"], f["segment"], f["sharpness"], int(np.int64(f["phash"]).view(np.uint64)),
                 f["width"], f["height"])
        for f in sorted(frames, key=lambda f: f["frame_index"])
    ]
    ids = catalog.finish_video(local_id, _info(video), frame_rows, rows)
    if ids:
        vectors = np.asarray([vector_of[g["garment_id"]] for g in garments], np.float32)
        ensure_live_version(data_dir, encoder_info, config)
        index.add(ids, vectors)
    return ids


def export_tables(data_dir: str | Path, out_dir: str | Path, encoder_spec: str) -> dict[str, int]:
    """Write a deployment's done and failed videos as the Parquet tables a Ray ingest writes
    (the live index's embeddings under ``encoder_spec``); returns the rows per table.

    Raises:
        BadInputError: ``out_dir`` already holds tables (an export never mixes into a run's).
    """
    import pyarrow as pa

    from inference.index.live import load_embeddings
    from inference.scale.tables import garment_id, month_of

    out = Path(out_dir)
    if out.exists() and any(out.rglob("*.parquet")):
        raise BadInputError(f"{out} already holds Parquet tables: export into a new folder")
    ids, vectors, _ = load_embeddings(data_dir)
    vector_of = dict(zip(ids.tolist(), vectors, strict=True))
    rows: dict[str, list[dict]] = {"videos": [], "frames": [], "garments": [], encoder_table(encoder_spec): []}
    with Catalog(data_dir) as catalog:
        for video in catalog.videos():
            if video.status not in ("done", "failed"):
                continue
            facts = catalog.video_facts(video.id)
            posted = video.posted_at or "1970-01-01"
            month, key = month_of(posted), video.content_hash
            info = facts.info
            rows["videos"].append({
                "video_id": key, "source_path": video.source_path, "source": video.source_path,
                "creator": video.creator or "unknown", "followers": facts.followers, "posted_at": posted,
                "month": month, "status": video.status, "reason": video.error or "", "width": info.width,
                "height": info.height, "fps": info.fps, "duration_s": info.duration_s, "frame_count": 0,
                "rotation": info.rotation, "codec": info.codec})
            frame_index = {}
            for index, stored in enumerate(catalog.video_frames(video.id)):
                frame_index[stored.id] = index
                f = stored.frame
                rows["frames"].append({"video_id": key, "frame_index": index, "t_s": f.t_s, "segment": f.segment,
                                       "sharpness": f.sharpness, "phash": np.uint64(f.phash).view(np.int64).item(),
                                       "width": f.width, "height": f.height, "month": month})
            for ordinal, garment in enumerate(sorted(catalog.garments(video_id=video.id), key=lambda g: g.id)):
                shared = garment_id(key, ordinal)
                rows["garments"].append({
                    "garment_id": shared, "video_id": key, "ordinal": ordinal,
                    "frame_index": frame_index[garment.frame_id], "kind": garment.kind, "x0": garment.box.x0,
                    "y0": garment.box.y0, "x1": garment.box.x1, "y1": garment.box.y1, "method": garment.method,
                    "score": garment.score, "crop_jpeg": (Path(data_dir) / garment.crop_path).read_bytes(),
                    "month": month})
                if garment.id in vector_of:
                    rows[encoder_table(encoder_spec)].append({"garment_id": shared, "video_id": key,
                                                              "vector": vector_of[garment.id].tolist(), "month": month})
    for table, table_rows in rows.items():
        if table_rows:
            _write_partitioned(pa.Table.from_pylist(table_rows), out / table)
    return {table: len(table_rows) for table, table_rows in rows.items()}


def _write_partitioned(table, folder: Path) -> None:  # type: ignore[no-untyped-def]
    import uuid

    import pyarrow.dataset as pads

    pads.write_dataset(table, folder, format="parquet", partitioning=["month"], partitioning_flavor="hive",
                       basename_template=f"export-{uuid.uuid4().hex}-{{i}}.parquet",
                       existing_data_behavior="overwrite_or_ignore")
