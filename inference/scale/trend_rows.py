"""One video's rows of the Parquet tables, clustered and counted as the local trends path does.

``stylescope trends --backend ray`` brings each video's rows together (its ``videos`` row,
``frames``, ``garments`` and embeddings: one table of :data:`UNION` rows, grouped by
``video_id``) and calls the functions here on them, on the workers. They reuse the local
path's own pieces: the garments a full run clusters (done videos, localisers not skipped),
outfit vectors per frame, :func:`~inference.trends.clustering.assign_units` for the nearest
style within its limit, and :func:`~inference.trends.series.unit_sightings` for what a video
shows. No Ray here: pyarrow tables in, pyarrow tables out.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from inference.catalog import StyledGarment
from inference.scale.tables import ORDINAL_BITS, garment_id
from inference.trends.clustering import NOISE, ClusterFit, assign_units, outfit_vectors
from inference.trends.kmeans import normalise
from inference.trends.series import Post, parse_day, unit_sightings
from inference.trends.settings import ClusterConfig

PARTS = ("video", "frame", "garment", "vector")  # where a union row comes from


def union_schema():  # type: ignore[no-untyped-def]
    """The columns every union row has (null where its table has no such column)."""
    import pyarrow as pa

    return pa.schema([
        ("part", pa.string()), ("video_id", pa.string()), ("garment_id", pa.int64()), ("frame_index", pa.int64()),
        ("kind", pa.string()), ("method", pa.string()), ("vector", pa.list_(pa.float32())), ("t_s", pa.float64()),
        ("status", pa.string()), ("creator", pa.string()), ("followers", pa.int64()), ("posted_at", pa.string()),
    ])


def output_schema():  # type: ignore[no-untyped-def]
    """What :func:`assign_video` returns: a ``garment`` row per clustered garment, a ``sighting``
    row per style the video shows (its evidence garment in ``garment_id``)."""
    import pyarrow as pa

    return pa.schema([
        ("row", pa.string()), ("cluster", pa.int64()), ("garment_id", pa.int64()), ("video_id", pa.string()),
        ("distance", pa.float64()), ("unit_first", pa.bool_()), ("video_key", pa.int64()), ("creator", pa.string()),
        ("followers", pa.int64()), ("day", pa.string()), ("garments", pa.int64()), ("frames", pa.int64()),
        ("video_frames", pa.int64()), ("t_s", pa.float64()),
    ])


def to_union(table: Any, part: str) -> Any:
    """A table's rows as union rows of ``part`` (its other columns dropped, missing ones null)."""
    import pyarrow as pa

    schema = union_schema()
    columns = []
    for field in schema:
        if field.name == "part":
            columns.append(pa.array([part] * table.num_rows, pa.string()))
        elif field.name in table.column_names:
            columns.append(table.column(field.name).cast(field.type))
        else:
            columns.append(pa.nulls(table.num_rows, field.type))
    return pa.Table.from_arrays(columns, schema=schema)


def video_key(video_id: str) -> int:
    """A video's integer id in sightings and posts: the prefix of the hash its garment ids carry."""
    return garment_id(video_id, 0) >> ORDINAL_BITS


@dataclasses.dataclass
class VideoGarments:
    """One video's clusterable garments, by garment id, with the unit each belongs to."""

    video_id: str
    post: Post | None  # None: not a done, dated post (its garments are still clustered when done)
    done: bool  # a written video with status done
    garment_ids: np.ndarray  # int64 (G,)
    frames: np.ndarray  # int64 (G,) frame index
    kinds: list[str]
    vectors: np.ndarray  # (G, D)
    unit_of: np.ndarray  # int64 (G,): row of the garment's unit in ``unit_vectors``
    unit_vectors: np.ndarray  # (U, D) garments, or one outfit vector per frame
    unit_kinds: list[str]
    person_frames: int  # distinct frames with a garment of a localiser not skipped
    t_s: dict[int, float]  # frame index -> moment


def video_garments(rows: Any, config: ClusterConfig) -> VideoGarments:
    """The clusterable garments of one video's union rows (one row per key kept, as the readers do)."""
    parts = rows.column("part").to_numpy(zero_copy_only=False)
    video = {r["video_id"]: r for r in rows.filter(parts == "video").to_pylist()}  # one row per video
    record = next(iter(video.values()), None)
    video_id = str(rows.column("video_id")[0])
    done = record is not None and record["status"] == "done"
    day = parse_day(record["posted_at"]) if record else None
    post = Post(video_key(video_id), record["creator"], int(record["followers"]), day) if done and record and day else None
    t_s = {int(r["frame_index"]): float(r["t_s"]) for r in rows.filter(parts == "frame").to_pylist()}
    meta = {int(r["garment_id"]): r for r in rows.filter(parts == "garment").to_pylist()}
    vector_rows = rows.filter(parts == "vector")
    vector_ids = vector_rows.column("garment_id").to_numpy(zero_copy_only=False)
    matrix = (vector_rows.column("vector").combine_chunks().flatten().to_numpy(zero_copy_only=False)
              .reshape(len(vector_ids), -1) if len(vector_ids) else np.zeros((0, 0), np.float32))
    vector_of = {int(g): row for row, g in enumerate(vector_ids)}  # a repeated garment keeps its last row
    skip = set(config.skip_methods)
    person_frames = len({int(g["frame_index"]) for g in meta.values() if g["method"] not in skip})
    ids = sorted(i for i, g in meta.items() if done and i in vector_of and g["method"] not in skip)
    vectors = normalise(matrix[[vector_of[i] for i in ids]]) if ids else np.zeros((0, 0), np.float32)
    frames = np.asarray([int(meta[i]["frame_index"]) for i in ids], np.int64)
    kinds = [str(meta[i]["kind"]) for i in ids]
    if config.group_by == "outfit" and ids:
        unit_vectors, unit_of = outfit_vectors(vectors, frames, kinds, config.outfit_kinds)
        unit_kinds = ["outfit"] * len(unit_vectors)
    else:
        unit_vectors, unit_of, unit_kinds = vectors, np.arange(len(ids)), kinds
    return VideoGarments(video_id, post, done, np.asarray(ids, np.int64), frames, kinds, vectors,
                         np.asarray(unit_of, np.int64), unit_vectors, unit_kinds, person_frames, t_s)


def sample_units(rows: Any, config: ClusterConfig) -> Any:
    """One video's units (garments, or outfit frames) for fitting: video, unit, kind, vector."""
    import pyarrow as pa

    video = video_garments(rows, config)
    return pa.table({
        "video_id": pa.array([video.video_id] * len(video.unit_kinds), pa.string()),
        "unit": pa.array(np.arange(len(video.unit_kinds)), pa.int64()),
        "kind": pa.array(video.unit_kinds, pa.string()),
        "vector": pa.array(list(video.unit_vectors.astype(np.float32)), pa.list_(pa.float32())),
    })


def assign_video(rows: Any, fit: ClusterFit, config: ClusterConfig, min_frames: int) -> Any:
    """One video's garments in the fit's clusters and the sightings they make (see
    :func:`output_schema`); clusters are the fit's indices, before small ones are dissolved."""
    import pyarrow as pa

    video = video_garments(rows, config)
    unit_labels, unit_distances = assign_units(fit, video.unit_vectors, video.unit_kinds)
    labels, distances = unit_labels[video.unit_of], unit_distances[video.unit_of]
    first = np.zeros(len(labels), bool)
    first[np.unique(video.unit_of, return_index=True)[1]] = True
    records: list[dict[str, Any]] = [
        {"row": "garment", "cluster": int(label), "garment_id": int(gid), "video_id": video.video_id,
         "distance": float(distance), "unit_first": bool(is_first)}
        for gid, label, distance, is_first in zip(video.garment_ids, labels, distances, first, strict=True)
    ]
    if video.post is not None:
        key = video.post.video_id
        groups: dict[tuple[int, int], list[StyledGarment]] = {}
        for row in np.argsort(distances, kind="stable"):  # nearest first, as the catalog orders them
            if labels[row] == NOISE:
                continue
            frame = int(video.frames[row])
            groups.setdefault((int(labels[row]), key), []).append(StyledGarment(
                int(labels[row]), key, frame, float(distances[row]), int(video.garment_ids[row]),
                video.t_s.get(frame, 0.0), "", video.kinds[row]))
        for s in unit_sightings(groups, {key: video.post}, {key: video.person_frames}, min_frames):
            records.append({"row": "sighting", "cluster": s.style_id, "garment_id": s.garment_id,
                            "video_id": video.video_id, "distance": s.distance, "video_key": s.video_id,
                            "creator": s.creator, "followers": s.followers, "day": s.day.isoformat(),
                            "garments": s.garments, "frames": s.frames, "video_frames": s.video_frames, "t_s": s.t_s})
    return pa.Table.from_pylist(records, schema=output_schema())
