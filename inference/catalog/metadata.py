"""Catalog facts read for search and the app: whole columns for search's in-memory cache, and
the few counts and lookups the app and the scorers ask for.

Search keeps the catalog's columns in numpy arrays and refreshes them when the catalog
changes. SQLite's ``PRAGMA data_version`` only counts commits made by *other* connections,
and its values mean nothing across connections, so that cache reads through one read-only
connection of its own: a :class:`MetadataReader` (from :meth:`MetadataQueries.metadata_reader`).
Its reads return columns (one list per field), not a record per row: a catalog may hold
millions of garments.
"""

from __future__ import annotations

import dataclasses
import json
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from inference.catalog.base import CatalogBase


@dataclasses.dataclass(frozen=True)
class CreatorColumns:
    """Every creator, one list per field."""

    ids: list[int]
    handles: list[str]
    followers: list[int]


@dataclasses.dataclass(frozen=True)
class VideoColumns:
    """Every video, one list per field."""

    ids: list[int]
    creator_ids: list[int | None]
    posted_at: list[str | None]  # ISO date
    statuses: list[str]  # processing, done or failed
    source_paths: list[str]


@dataclasses.dataclass(frozen=True)
class GarmentColumns:
    """Garments in id order with the moment of their frame, one list per field."""

    ids: list[int]
    video_ids: list[int]
    kinds: list[str]
    t_s: list[float]  # moment in the video
    crop_paths: list[str]  # relative to the data directory


@dataclasses.dataclass(frozen=True)
class GarmentStyleColumns:
    """Each garment that has a style, and that style's id."""

    garment_ids: list[int]
    style_ids: list[int]


@dataclasses.dataclass(frozen=True)
class StylesVersion:
    """Changes whenever styles or the garments' styles change (compare with ``==``)."""

    styles: int  # rows in styles
    updated_at: str | None  # the latest style update
    assignments: int  # rows in garment_styles


def _columns(rows: list[Any], width: int) -> list[list[Any]]:
    """Rows turned into ``width`` columns, the i-th holding each row's i-th field (a plain
    transpose: ``zip(*rows)`` is several times slower on a million rows)."""
    return [[row[i] for row in rows] for i in range(width)]


class MetadataReader:
    """A read-only connection of its own to a catalog, for a cache of its columns.

    Not thread-safe: the caller serialises its calls (search holds a lock around them).
    """

    def __init__(self, path: str | Path):
        self._conn = sqlite3.connect(
            f"file:{path}?mode=ro", uri=True, check_same_thread=False, isolation_level=None
        )

    def close(self) -> None:
        self._conn.close()

    def data_version(self) -> int:
        """Changes when another connection has committed since the last call."""
        (version,) = self._conn.execute("PRAGMA data_version").fetchone()
        return int(version)

    @contextmanager
    def snapshot(self) -> Iterator[None]:
        """Reads inside see one consistent state of the catalog."""
        self._conn.execute("BEGIN")
        try:
            yield
        finally:
            self._conn.execute("COMMIT")

    def creators(self) -> CreatorColumns:
        rows = self._conn.execute("SELECT id, handle, followers FROM creators").fetchall()
        ids, handles, followers = _columns(rows, 3)
        return CreatorColumns(ids, handles, followers)

    def videos(self) -> VideoColumns:
        rows = self._conn.execute(
            "SELECT id, creator_id, posted_at, status, source_path FROM videos"
        ).fetchall()
        ids, creator_ids, posted_at, statuses, source_paths = _columns(rows, 5)
        return VideoColumns(ids, creator_ids, posted_at, statuses, source_paths)

    def garment_count(self) -> int:
        (count,) = self._conn.execute("SELECT COUNT(*) FROM garments").fetchone()
        return int(count)

    def garments_after(self, last_id: int) -> GarmentColumns:
        """Garments with an id above ``last_id``, in id order."""
        rows = self._conn.execute(
            "SELECT g.id, g.video_id, g.kind, f.t_s, g.crop_path FROM garments g "
            "JOIN frames f ON f.id = g.frame_id WHERE g.id > ? ORDER BY g.id",
            (last_id,),
        ).fetchall()
        ids, video_ids, kinds, t_s, crop_paths = _columns(rows, 5)
        return GarmentColumns(ids, video_ids, kinds, t_s, crop_paths)

    def styles_version(self) -> StylesVersion:
        styles, updated_at = self._conn.execute(
            "SELECT COUNT(*), MAX(updated_at) FROM styles"
        ).fetchone()
        (assignments,) = self._conn.execute("SELECT COUNT(*) FROM garment_styles").fetchone()
        return StylesVersion(styles, updated_at, assignments)

    def style_name_by_id(self) -> dict[int, str]:
        return dict(self._conn.execute("SELECT id, name FROM styles").fetchall())

    def garment_styles(self) -> GarmentStyleColumns:
        rows = self._conn.execute("SELECT garment_id, style_id FROM garment_styles").fetchall()
        garment_ids, style_ids = _columns(rows, 2)
        return GarmentStyleColumns(garment_ids, style_ids)

    def set_aside(self, state_key: str) -> dict[int, str]:
        """Garment id -> why it is kept out of styles as no garment, for garments in no style:
        the garment check's verdict (a wall, a title card, a blur ...), or the reason the last
        full clustering run recorded under the meta key ``state_key`` (its ``set_aside``).
        Search's view of ``inference.trends.coverage.set_aside``, without the crops that are
        only "cut by" a skipped localiser (those stay searchable)."""
        styled = {g for (g,) in self._conn.execute("SELECT garment_id FROM garment_styles")}
        rejected = self._conn.execute("SELECT garment_id, reason FROM garment_checks WHERE is_garment = 0").fetchall()
        row = self._conn.execute("SELECT value FROM meta WHERE key = ?", (state_key,)).fetchone()
        recorded = (json.loads(row[0]) if row else {}).get("set_aside", {})
        reasons = {int(g): str(why) for g, why in (*rejected, *recorded.items())}
        return {g: why for g, why in reasons.items() if g not in styled}

@dataclasses.dataclass(frozen=True)
class StyleName:
    """A style's id and name."""

    id: int
    name: str


class MetadataQueries(CatalogBase):
    """Counts and lookups for the app and the scorers, and readers for search's cache."""

    def metadata_reader(self) -> MetadataReader:
        """A read-only connection of its own, for a cache of the catalog's columns."""
        return MetadataReader(self.path)

    def style_count(self) -> int:
        (count,) = self._conn.execute("SELECT COUNT(*) FROM styles").fetchone()
        return int(count)

    def has_styles(self) -> bool:
        return self._conn.execute("SELECT 1 FROM styles LIMIT 1").fetchone() is not None

    def style_names(self) -> list[StyleName]:
        """Every style's id and name, by id."""
        rows = self._conn.execute("SELECT id, name FROM styles ORDER BY id")
        return [StyleName(style_id, name) for style_id, name in rows]

    def garment_style_ids(self) -> dict[int, int]:
        """Garment id -> style id, for every garment that has a style."""
        rows = self._conn.execute("SELECT garment_id, style_id FROM garment_styles")
        return {int(garment_id): int(style_id) for garment_id, style_id in rows}

    def done_video_count(self, creator: str) -> int:
        """Videos of the creator with this handle that were ingested completely."""
        (count,) = self._conn.execute(
            "SELECT COUNT(*) FROM videos v JOIN creators c ON c.id = v.creator_id "
            "WHERE c.handle = ? AND v.status = 'done'",
            (creator,),
        ).fetchone()
        return int(count)

    def frames_by_method(self) -> dict[str, int]:
        """Localiser method -> frames with at least one garment found by it."""
        rows = self._conn.execute(
            "SELECT method, COUNT(DISTINCT frame_id) FROM garments GROUP BY method"
        )
        return {method: int(frames) for method, frames in rows}
