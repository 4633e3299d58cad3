"""Creators, videos, frames and garments: the ingest's writes and the reads that follow them."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence
from typing import Any

from inference.catalog.base import CatalogBase, now
from inference.catalog.records import (
    FrameRow,
    GarmentRecord,
    GarmentRow,
    IngestEvent,
    VideoRecord,
    WholeVideo,
)
from inference.types import Box, VideoInfo, VideoSubmission

_GARMENT_SELECT = """
    SELECT g.id, g.video_id, g.frame_id, g.kind, g.x0, g.y0, g.x1, g.y1, g.method, g.score,
           g.crop_path, f.t_s, c.handle, c.followers, v.posted_at, v.source_path
    FROM garments g
    JOIN frames f ON f.id = g.frame_id
    JOIN videos v ON v.id = g.video_id
    JOIN creators c ON c.id = v.creator_id
"""


def _garment(row: sqlite3.Row) -> GarmentRecord:
    (garment_id, video_id, frame_id, kind, x0, y0, x1, y1, method, score, crop_path,
     t_s, creator, followers, posted_at, source_path) = row
    return GarmentRecord(
        id=garment_id,
        video_id=video_id,
        frame_id=frame_id,
        kind=kind,
        box=Box(x0, y0, x1, y1),
        method=method,
        score=score,
        crop_path=crop_path,
        t_s=t_s,
        creator=creator,
        followers=followers,
        posted_at=posted_at,
        source_path=source_path,
    )


class VideoQueries(CatalogBase):
    """What the ingest writes, and the plain reads of videos and garments."""

    # -- writes --------------------------------------------------------------------------
    def upsert_creator(self, tx: sqlite3.Connection, handle: str, followers: int) -> int:
        """Insert a creator or update their follower count; returns the creator id."""
        tx.execute(
            "INSERT INTO creators(handle, followers, updated_at) VALUES (?, ?, ?) "
            "ON CONFLICT(handle) DO UPDATE SET followers = excluded.followers, "
            "updated_at = excluded.updated_at",
            (handle, followers, now()),
        )
        (creator_id,) = tx.execute("SELECT id FROM creators WHERE handle = ?", (handle,)).fetchone()
        return int(creator_id)

    def add_creators(self, creators: Iterable[tuple[str, int]]) -> list[int]:
        """Insert creators (handle, followers) or update their follower counts, in one
        transaction; returns their ids in the order given."""
        with self._transaction() as tx:
            return [self.upsert_creator(tx, handle, followers) for handle, followers in creators]

    def begin_video(self, submission: VideoSubmission, content_hash: str) -> int:
        """Create (or reset) the ``processing`` row of a video; returns its id."""
        with self._transaction() as tx:
            return self._begin_video(tx, submission, content_hash)

    def _begin_video(self, tx: sqlite3.Connection, submission: VideoSubmission, content_hash: str) -> int:
        creator_id = self.upsert_creator(tx, submission.creator, submission.followers)
        existing = tx.execute(
            "SELECT id FROM videos WHERE content_hash = ?", (content_hash,)
        ).fetchone()
        values = (
            creator_id,
            str(submission.path),
            submission.posted_at.isoformat(),
            now(),
        )
        if existing is None:
            cursor = tx.execute(
                "INSERT INTO videos(creator_id, source_path, posted_at, created_at, "
                "content_hash, status) VALUES (?, ?, ?, ?, ?, 'processing')",
                (*values, content_hash),
            )
            return int(cursor.lastrowid or 0)
        video_id = int(existing["id"])
        tx.execute("DELETE FROM garments WHERE video_id = ?", (video_id,))
        tx.execute("DELETE FROM frames WHERE video_id = ?", (video_id,))
        tx.execute(
            "UPDATE videos SET creator_id = ?, source_path = ?, posted_at = ?, "
            "created_at = ?, status = 'processing', error = NULL, finished_at = NULL "
            "WHERE id = ?",
            (*values, video_id),
        )
        return video_id

    def finish_video(
        self,
        video_id: int,
        info: VideoInfo,
        frames: Sequence[FrameRow],
        garments: Sequence[GarmentRow],
    ) -> list[int]:
        """Write a video's frames and garments and mark it done, atomically.

        Returns the new garment ids in the order given.
        """
        with self._transaction() as tx:
            return self._finish_video(tx, video_id, info, frames, garments)

    def _finish_video(
        self,
        tx: sqlite3.Connection,
        video_id: int,
        info: VideoInfo,
        frames: Sequence[FrameRow],
        garments: Sequence[GarmentRow],
    ) -> list[int]:
        frame_ids = [
            int(
                tx.execute(
                    "INSERT INTO frames(video_id, t_s, segment, sharpness, phash, width, "
                    "height) VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (
                        video_id,
                        frame.t_s,
                        frame.segment,
                        frame.sharpness,
                        f"{frame.phash:016x}",
                        frame.width,
                        frame.height,
                    ),
                ).lastrowid
                or 0
            )
            for frame in frames
        ]
        garment_ids = [
            int(
                tx.execute(
                    "INSERT INTO garments(frame_id, video_id, kind, x0, y0, x1, y1, method, "
                    "score, crop_path) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        frame_ids[garment.frame_index],
                        video_id,
                        garment.kind,
                        *garment.box.as_tuple(),
                        garment.method,
                        garment.score,
                        garment.crop_path,
                    ),
                ).lastrowid
                or 0
            )
            for garment in garments
        ]
        tx.execute(
            "UPDATE videos SET status = 'done', error = NULL, finished_at = ?, duration_s = ?, "
            "fps = ?, width = ?, height = ?, rotation = ?, codec = ? WHERE id = ?",
            (
                now(),
                info.duration_s,
                info.fps,
                info.width,
                info.height,
                info.rotation,
                info.codec,
                video_id,
            ),
        )
        return garment_ids

    def write_videos(self, videos: Iterable[WholeVideo]) -> list[list[int]]:
        """Write whole videos (each with its frames and garments, done) in one transaction,
        for catalogs built in bulk (benchmarks); the ingest writes one video at a time.

        Returns each video's new garment ids.
        """
        with self._transaction() as tx:
            return [
                self._finish_video(
                    tx, self._begin_video(tx, video.submission, video.content_hash),
                    video.info, video.frames, video.garments,
                )
                for video in videos
            ]

    def fail_video(self, video_id: int, reason: str) -> None:
        """Mark a video failed with its reason; its partial frames/garments are dropped."""
        with self._transaction() as tx:
            tx.execute("DELETE FROM garments WHERE video_id = ?", (video_id,))
            tx.execute("DELETE FROM frames WHERE video_id = ?", (video_id,))
            tx.execute(
                "UPDATE videos SET status = 'failed', error = ?, finished_at = ?, "
                "claimed_by = NULL, claimed_at = NULL WHERE id = ?",
                (reason, now(), video_id),
            )

    def record_event(
        self, source: str, outcome: str, reason: str = "", video_id: int | None = None, path: str = ""
    ) -> None:
        """Append to the ingest log (every submission's outcome, good or bad, and its video file)."""
        with self._transaction() as tx:
            tx.execute(
                "INSERT INTO ingest_events(at, source, outcome, video_id, reason, path) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (now(), source, outcome, video_id, reason, path),
            )

    def ingest_events(self, last: int | None = None) -> list[IngestEvent]:
        """The ingest log, oldest first (only the ``last`` entries when given)."""
        rows = self._conn.execute(
            "SELECT id, at, source, path, outcome, video_id, reason FROM ingest_events "
            "ORDER BY id DESC LIMIT ?", (-1 if last is None else last,),
        ).fetchall()
        return [IngestEvent(id_, at, source, path, outcome, video_id, reason or "")
                for id_, at, source, path, outcome, video_id, reason in reversed(rows)]

    def delete_video(self, video_id: int) -> list[int]:
        """Remove a video with its frames and garments; returns the removed garment ids."""
        with self._transaction() as tx:
            ids = [
                garment_id
                for (garment_id,) in tx.execute("SELECT id FROM garments WHERE video_id = ?", (video_id,))
            ]
            tx.execute("DELETE FROM videos WHERE id = ?", (video_id,))
        return ids

    def delete_creator(self, handle: str) -> list[int]:
        """Remove a creator with all their videos; returns the removed garment ids."""
        with self._transaction() as tx:
            ids = [
                garment_id
                for (garment_id,) in tx.execute(
                    "SELECT g.id FROM garments g JOIN videos v ON v.id = g.video_id "
                    "JOIN creators c ON c.id = v.creator_id WHERE c.handle = ?",
                    (handle,),
                )
            ]
            tx.execute("DELETE FROM creators WHERE handle = ?", (handle,))
        return ids

    # -- reads ---------------------------------------------------------------------------
    def video_by_hash(self, content_hash: str) -> VideoRecord | None:
        rows = self._videos("WHERE v.content_hash = ?", (content_hash,))
        return rows[0] if rows else None

    def video(self, video_id: int) -> VideoRecord | None:
        rows = self._videos("WHERE v.id = ?", (video_id,))
        return rows[0] if rows else None

    def videos(self, status: str | None = None) -> list[VideoRecord]:
        if status is None:
            return self._videos("ORDER BY v.id", ())
        return self._videos("WHERE v.status = ? ORDER BY v.id", (status,))

    def _videos(self, where: str, params: tuple[Any, ...]) -> list[VideoRecord]:
        rows = self._conn.execute(
            "SELECT v.id, c.handle, v.source_path, v.content_hash, v.posted_at, v.status, "
            "v.error, v.duration_s, v.claimed_by, v.claimed_at "
            f"FROM videos v LEFT JOIN creators c ON c.id = v.creator_id {where}",
            params,
        ).fetchall()
        return [VideoRecord(*row) for row in rows]

    def garments(
        self, ids: Sequence[int] | None = None, video_id: int | None = None
    ) -> list[GarmentRecord]:
        """Garments of done videos, by id (in the order given), by video, or all."""
        if ids is not None:
            found: dict[int, GarmentRecord] = {}
            for chunk_start in range(0, len(ids), 900):
                chunk = [int(i) for i in ids[chunk_start : chunk_start + 900]]
                marks = ",".join("?" * len(chunk))
                for row in self._conn.execute(f"{_GARMENT_SELECT} WHERE g.id IN ({marks})", chunk):
                    garment = _garment(row)
                    found[garment.id] = garment
            return [found[i] for i in map(int, ids) if i in found]
        where = "WHERE v.status = 'done'"
        params: tuple[Any, ...] = ()
        if video_id is not None:
            where += " AND g.video_id = ?"
            params = (video_id,)
        rows = self._conn.execute(f"{_GARMENT_SELECT} {where} ORDER BY g.id", params)
        return [_garment(row) for row in rows]

    def creators(self) -> list[tuple[str, int]]:
        """(handle, followers) of every creator."""
        rows = self._conn.execute("SELECT handle, followers FROM creators")
        return [(handle, followers) for handle, followers in rows]

    def counts(self) -> dict[str, int]:
        """Row counts: creators, videos by status, frames, garments."""
        conn = self._conn
        counts = {
            table: conn.execute(f"SELECT COUNT(*) AS n FROM {table}").fetchone()["n"]
            for table in ("creators", "frames", "garments")
        }
        for status in ("done", "failed", "processing"):
            counts[f"videos_{status}"] = conn.execute(
                "SELECT COUNT(*) AS n FROM videos WHERE status = ?", (status,)
            ).fetchone()["n"]
        return counts

    def integrity_problems(self) -> list[str]:
        """Consistency checks used after crashes: orphans, half-written videos."""
        conn = self._conn
        problems = [message for (message,) in conn.execute("PRAGMA integrity_check") if message != "ok"]
        problems += [
            f"foreign key violation in {violation['table']}"
            for violation in conn.execute("PRAGMA foreign_key_check")
        ]
        (orphans,) = conn.execute(
            "SELECT COUNT(*) FROM garments g JOIN videos v ON v.id = g.video_id "
            "WHERE v.status != 'done'"
        ).fetchone()
        if orphans:
            problems.append(f"{orphans} garments belong to videos that are not done")
        return problems
