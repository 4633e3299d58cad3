"""What an export to Parquet tables reads beyond the plain video reads: a video's decoder
facts and its frames (:mod:`inference.scale.interchange`)."""

from __future__ import annotations

import dataclasses

from inference.catalog.base import CatalogBase
from inference.catalog.records import FrameRow
from inference.types import VideoInfo


@dataclasses.dataclass(frozen=True)
class VideoFacts:
    """A video's decoder facts and its creator's follower count."""

    info: VideoInfo  # frame_count is 0: the catalog does not keep it
    followers: int


@dataclasses.dataclass(frozen=True)
class StoredFrame:
    """A frame as the catalog holds it: its id and what was written."""

    id: int
    frame: FrameRow


class InterchangeQueries(CatalogBase):
    """Reads for exporting a deployment."""

    def video_facts(self, video_id: int) -> VideoFacts:
        row = self._conn.execute(
            "SELECT v.width, v.height, v.fps, v.duration_s, v.rotation, v.codec, COALESCE(c.followers, 0) "
            "FROM videos v LEFT JOIN creators c ON c.id = v.creator_id WHERE v.id = ?", (video_id,),
        ).fetchone()
        width, height, fps, duration, rotation, codec, followers = row
        info = VideoInfo(width or 0, height or 0, fps or 0.0, duration or 0.0, 0, rotation or 0, codec or "")
        return VideoFacts(info, int(followers))

    def video_frames(self, video_id: int) -> list[StoredFrame]:
        """The video's frames in the order they were written (their index in the video)."""
        rows = self._conn.execute(
            "SELECT id, t_s, segment, sharpness, phash, width, height FROM frames WHERE video_id = ? ORDER BY id",
            (video_id,),
        ).fetchall()
        return [StoredFrame(i, FrameRow(t, segment, sharpness, int(phash, 16), w, h))
                for i, t, segment, sharpness, phash, w, h in rows]
