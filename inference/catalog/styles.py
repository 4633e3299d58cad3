"""Styles and each garment's style: what the trends stage reads and writes."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from typing import Any

import numpy as np

from inference.catalog.base import CatalogBase, now


@dataclasses.dataclass(frozen=True, slots=True)
class StyleWord:
    """A vocabulary word that describes a style, with its score."""

    word: str
    score: float  # similarity to the style's centroid (centred on the mean garment)
    category: str  # vocabulary category: colours, garments, aesthetics ...


@dataclasses.dataclass(frozen=True)
class StyleRecord:
    """A style row."""

    id: int
    name: str
    words: list[StyleWord]  # best first
    kind: str | None  # garment kind, "outfit", or None when kinds were pooled
    centroid: np.ndarray | None  # unit-length float32 (D,)
    size: int  # garments in the style
    # facet naming's evidence (inference.facets.StyleName.to_dict); None: named from words only
    facets: dict[str, Any] | None = dataclasses.field(default=None, kw_only=True)


@dataclasses.dataclass(frozen=True, slots=True)
class ClusterableGarment:
    """A garment of a done video, with what clustering needs to know about it."""

    id: int
    kind: str
    frame_id: int
    method: str  # the localiser that found its person


@dataclasses.dataclass(frozen=True, slots=True)
class StyleAssignment:
    """One garment put in one style."""

    garment_id: int
    style_id: int
    distance: float  # cosine distance to the style's centroid


@dataclasses.dataclass(frozen=True, slots=True)
class PostRecord:
    """A done video as a post: who posted it, and when."""

    video_id: int
    creator: str
    followers: int
    posted_at: str | None  # ISO date, as ingested


@dataclasses.dataclass(frozen=True, slots=True)
class StyledGarment:
    """A garment of a done video that has a style, with its frame and crop."""

    style_id: int
    video_id: int
    frame_id: int
    distance: float  # to the style's centroid
    garment_id: int
    t_s: float  # moment in the video
    crop_path: str  # relative to the data directory
    kind: str = ""  # garment kind: top, bottom or full


@dataclasses.dataclass(frozen=True, slots=True)
class StyleGarment:
    """A garment of one style and its distance to the centroid."""

    garment_id: int
    crop_path: str
    distance: float


def _words(raw: str) -> tuple[list[StyleWord], dict[str, Any] | None]:
    """The words column: a list of words, or ``{"words": [...], "facets": {...}}`` for facet names."""
    stored = json.loads(raw)
    if isinstance(stored, dict):
        return [StyleWord(**word) for word in stored.get("words", [])], stored.get("facets")
    return [StyleWord(**word) for word in stored], None


def _words_json(style: StyleRecord) -> str:
    words = [dataclasses.asdict(w) for w in style.words]
    return json.dumps(words if style.facets is None else {"words": words, "facets": style.facets})


def _centroid(raw: bytes | None) -> np.ndarray | None:
    return np.frombuffer(raw, np.float32).copy() if raw is not None else None


class StyleQueries(CatalogBase):
    """Styles, garment assignments, and the posts and sightings the trends are counted from."""

    # -- reads ---------------------------------------------------------------------------
    def styles(self) -> list[StyleRecord]:
        """Every style, by id."""
        rows = self._conn.execute("SELECT id, name, words, kind, centroid, size FROM styles ORDER BY id")
        styles = []
        for row in rows:
            words, facets = _words(row["words"])
            styles.append(StyleRecord(row["id"], row["name"], words, row["kind"], _centroid(row["centroid"]),
                                      row["size"], facets=facets))
        return styles

    def has_garments(self) -> bool:
        """Whether any garment has been ingested."""
        return self._conn.execute("SELECT 1 FROM garments LIMIT 1").fetchone() is not None

    def clusterable_garments(self) -> list[ClusterableGarment]:
        """Every garment of a done video."""
        rows = self._conn.execute(
            "SELECT g.id, g.kind, g.frame_id, g.method FROM garments g JOIN videos v ON v.id = g.video_id "
            "WHERE v.status = 'done'"
        )
        return [ClusterableGarment(row["id"], row["kind"], row["frame_id"], row["method"]) for row in rows]

    def styled_garment_ids(self) -> set[int]:
        """Garments that have a style."""
        return {row["garment_id"] for row in self._conn.execute("SELECT garment_id FROM garment_styles")}

    def garment_style_ids(self) -> dict[int, int]:
        """garment id -> style id, for every garment that has a style."""
        rows = self._conn.execute("SELECT garment_id, style_id FROM garment_styles")
        return {row["garment_id"]: row["style_id"] for row in rows}

    def posts(self) -> list[PostRecord]:
        """Every done video with its creator and posting date."""
        rows = self._conn.execute(
            "SELECT v.id, c.handle, c.followers, v.posted_at FROM videos v "
            "JOIN creators c ON c.id = v.creator_id WHERE v.status = 'done'"
        )
        return [PostRecord(row["id"], row["handle"], row["followers"], row["posted_at"]) for row in rows]

    def styled_garments(self) -> list[StyledGarment]:
        """Every styled garment of a done video, by style, video, then distance."""
        return self._garments_in("garment_styles")

    def near_garments(self) -> list[StyledGarment]:
        """Every garment of a done video the last full clustering left without a style, as a
        garment of the style it lies nearest (``distance`` to that style's centroid), by
        style, video, then distance."""
        return self._garments_in("garment_near_styles")

    def _garments_in(self, table: str) -> list[StyledGarment]:
        rows = self._conn.execute(
            "SELECT gs.style_id, g.video_id, g.frame_id, gs.distance, g.id, f.t_s, g.crop_path, g.kind "
            f"FROM {table} gs "
            "JOIN garments g ON g.id = gs.garment_id "
            "JOIN frames f ON f.id = g.frame_id "
            "JOIN videos v ON v.id = g.video_id "
            "WHERE v.status = 'done' "
            "ORDER BY gs.style_id, g.video_id, gs.distance"
        )
        return [
            StyledGarment(row["style_id"], row["video_id"], row["frame_id"], row["distance"], row["id"],
                          row["t_s"], row["crop_path"], row["kind"])
            for row in rows
        ]

    def person_frames(self, skip_methods: Sequence[str] = ()) -> dict[int, int]:
        """video id -> distinct frames with a garment, leaving out garments located by ``skip_methods``."""
        skipped = list(skip_methods)
        where = f" WHERE method NOT IN ({','.join('?' * len(skipped))})" if skipped else ""
        rows = self._conn.execute(
            f"SELECT video_id, COUNT(DISTINCT frame_id) AS frames FROM garments{where} GROUP BY video_id", skipped
        )
        return {row["video_id"]: row["frames"] for row in rows}

    def nearest_garments(self, style_id: int, count: int) -> list[StyleGarment]:
        """The ``count`` garments of a style nearest its centroid."""
        rows = self._conn.execute(
            "SELECT gs.garment_id, g.crop_path, gs.distance FROM garment_styles gs "
            "JOIN garments g ON g.id = gs.garment_id WHERE gs.style_id = ? ORDER BY gs.distance LIMIT ?",
            (style_id, count),
        )
        return [StyleGarment(row["garment_id"], row["crop_path"], row["distance"]) for row in rows]

    def garment_crops(self, garment_ids: Sequence[int]) -> dict[int, str]:
        """Garment id -> its crop's path (relative to the data directory), for the given garments."""
        paths: dict[int, str] = {}
        ids = [int(i) for i in garment_ids]
        for start in range(0, len(ids), 500):
            chunk = ids[start:start + 500]
            rows = self._conn.execute(
                f"SELECT id, crop_path FROM garments WHERE id IN ({','.join('?' * len(chunk))})", chunk)
            paths.update({row["id"]: row["crop_path"] for row in rows})
        return paths

    def garment_creators(self, garment_ids: Sequence[int]) -> dict[int, str]:
        """Garment id -> the handle of the creator whose video shows it, for the given garments."""
        return self._per_garment("SELECT g.id, c.handle FROM garments g JOIN videos v ON v.id = g.video_id "
                                 "JOIN creators c ON c.id = v.creator_id WHERE g.id IN ({})", garment_ids)

    def garment_videos(self, garment_ids: Sequence[int]) -> dict[int, int]:
        """Garment id -> the id of the video that shows it, for the given garments."""
        return self._per_garment("SELECT g.id, g.video_id FROM garments g WHERE g.id IN ({})", garment_ids)

    def _per_garment(self, query: str, garment_ids: Sequence[int]) -> dict[int, Any]:
        """Garment id -> the second column of ``query`` (its ``{}`` takes the ids), 500 ids a query."""
        found: dict[int, Any] = {}
        ids = [int(i) for i in garment_ids]
        for start in range(0, len(ids), 500):
            chunk = ids[start:start + 500]
            found.update({row[0]: row[1] for row in self._conn.execute(query.format(",".join("?" * len(chunk))), chunk)})
        return found

    # -- writes --------------------------------------------------------------------------
    def replace_styles(
        self,
        styles: Sequence[StyleRecord],
        garment_ids: np.ndarray,
        style_ids: np.ndarray,
        distances: np.ndarray,
        meta_key: str,
        meta_value: str,
        near: Sequence[StyleAssignment] = (),
    ) -> None:
        """Replace every style and garment assignment, and set one meta entry, in one transaction.

        Styles whose id is already stored keep their ``created_at``; garments whose style id
        is negative get no style. ``near`` are garments left without a style and the style
        each lies nearest (read back by :meth:`near_garments`).
        """
        stamp = now()
        keep = style_ids >= 0
        pairs = list(zip(garment_ids[keep].tolist(), style_ids[keep].tolist(), distances[keep].tolist(), strict=True))
        with self._transaction() as tx:
            old_ids = {row["id"] for row in tx.execute("SELECT id FROM styles")}
            tx.execute("DELETE FROM garment_styles")
            tx.execute("DELETE FROM garment_near_styles")
            for style_id in old_ids - {s.id for s in styles}:
                tx.execute("DELETE FROM styles WHERE id = ?", (style_id,))
            for s in styles:
                centroid = s.centroid.astype(np.float32).tobytes() if s.centroid is not None else None
                words = _words_json(s)
                values = (s.name, words, s.kind, centroid, s.size, stamp)
                if s.id in old_ids:
                    tx.execute(
                        "UPDATE styles SET name=?, words=?, kind=?, centroid=?, size=?, updated_at=? WHERE id=?",
                        (*values, s.id),
                    )
                else:
                    tx.execute(
                        "INSERT INTO styles(name, words, kind, centroid, size, updated_at, id, created_at) "
                        "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                        (*values, s.id, stamp),
                    )
            tx.executemany("INSERT INTO garment_styles(garment_id, style_id, distance) VALUES (?, ?, ?)", pairs)
            tx.executemany("INSERT INTO garment_near_styles(garment_id, style_id, distance) VALUES (?, ?, ?)",
                           [(a.garment_id, a.style_id, a.distance) for a in near])
            tx.execute("INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)", (meta_key, meta_value))

    def add_to_styles(self, assignments: Sequence[StyleAssignment]) -> None:
        """Put garments in styles (replacing any style they had, and dropping them from the
        garments left near one) and recount every style's size."""
        with self._transaction() as tx:
            tx.executemany(
                "INSERT OR REPLACE INTO garment_styles(garment_id, style_id, distance) VALUES (?, ?, ?)",
                [(a.garment_id, a.style_id, a.distance) for a in assignments],
            )
            tx.executemany("DELETE FROM garment_near_styles WHERE garment_id = ?",
                           [(a.garment_id,) for a in assignments])
            tx.execute(
                "UPDATE styles SET size = (SELECT COUNT(*) FROM garment_styles gs WHERE gs.style_id = styles.id), "
                "updated_at = ?",
                (now(),),
            )
