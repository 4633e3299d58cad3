"""Claims: which process is working on a video, so that two ingests never do the same one.

Claiming is one write transaction (``BEGIN IMMEDIATE`` takes SQLite's write lock first, so
a second process waits, then sees the first one's row): the video's row is created, or a
failed or abandoned one reset, with this process's owner token (:mod:`core.process`). A
video that is done, or that a live process holds, is not claimed: the caller reports it
as already in, or as a duplicate in flight. A claim is released once the video's garments
are searchable; a claim whose process died is abandoned and taken over by the next run.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import sqlite3

from core.process import owner_alive
from inference.catalog.base import now
from inference.catalog.records import VideoRecord
from inference.catalog.videos import VideoQueries
from inference.types import VideoSubmission


@dataclasses.dataclass(frozen=True)
class Claim:
    """The answer to claiming a video."""

    video_id: int
    claimed: bool  # this process owns the video now and must process it
    known: VideoRecord | None = None  # the video as found, when not claimed
    in_flight: bool = False  # not claimed because a live process is working on it


def _age_s(claimed_at: str | None) -> float:
    if not claimed_at:
        return float("inf")
    return (dt.datetime.now(dt.UTC) - dt.datetime.fromisoformat(claimed_at)).total_seconds()


def claim_is_live(video: VideoRecord) -> bool:
    """Whether a live process (this one included) holds the video's claim."""
    return owner_alive(video.claimed_by, _age_s(video.claimed_at))


class ClaimQueries(VideoQueries):
    """Claiming videos for one process, releasing them, and finding abandoned ones."""

    def claim_video(self, submission: VideoSubmission, content_hash: str, owner: str) -> Claim:
        """Claim the video with ``content_hash`` for ``owner`` in one transaction.

        A new video gets a ``processing`` row; a failed one, or one whose owner died, is
        reset to ``processing`` (its frames and garments dropped). A done video, or one a
        live process holds, is left as it is and returned unclaimed.
        """
        with self._transaction() as tx:
            row = tx.execute(
                "SELECT id, status, claimed_by, claimed_at FROM videos WHERE content_hash = ?",
                (content_hash,),
            ).fetchone()
            if row is not None and not self._claimable(row):
                video_id = int(row["id"])
                in_flight = owner_alive(row["claimed_by"], _age_s(row["claimed_at"]))
            else:
                video_id = self._begin_video(tx, submission, content_hash)
                tx.execute(
                    "UPDATE videos SET claimed_by = ?, claimed_at = ? WHERE id = ?",
                    (owner, now(), video_id),
                )
                return Claim(video_id, True)
        return Claim(video_id, False, self.video(video_id), in_flight)

    @staticmethod
    def _claimable(row: sqlite3.Row) -> bool:
        if row["status"] == "failed":
            return True
        if row["status"] == "processing":
            return not owner_alive(row["claimed_by"], _age_s(row["claimed_at"]))
        return False  # done: in, or being indexed by its owner

    def release_video(self, video_id: int, owner: str) -> None:
        """Drop ``owner``'s claim on a video (its garments are searchable now)."""
        with self._transaction() as tx:
            tx.execute(
                "UPDATE videos SET claimed_by = NULL, claimed_at = NULL "
                "WHERE id = ? AND claimed_by = ?",
                (video_id, owner),
            )

    def release_claims(self, owner: str) -> None:
        """Drop every claim ``owner`` still holds (the end of its batch)."""
        with self._transaction() as tx:
            tx.execute(
                "UPDATE videos SET claimed_by = NULL, claimed_at = NULL WHERE claimed_by = ?",
                (owner,),
            )

    def claimed_videos(self) -> list[VideoRecord]:
        """Videos some process has claimed (live or not), by id."""
        return self._videos("WHERE v.claimed_by IS NOT NULL ORDER BY v.id", ())

    def in_flight_video_ids(self) -> set[int]:
        """Ids of the videos a live process is working on (their crops and rows are in use)."""
        return {video.id for video in self.claimed_videos() if claim_is_live(video)}

    def abandoned_videos(self) -> list[VideoRecord]:
        """Videos left ``processing`` by a process that is gone: an interrupted ingest."""
        return [video for video in self.videos(status="processing") if not claim_is_live(video)]
