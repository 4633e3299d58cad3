"""The catalog: SQLite (WAL) holding creators, videos, frames and garments.

One catalog per data directory. Every video is written in two steps: a ``processing`` row
first (so its id is known while crops are written), then its frames and garments together
with ``status = 'done'`` in one transaction. A process killed in between leaves a
``processing`` row, which the next ingest resets and redoes: nothing is half-written.

Garment ids are AUTOINCREMENT so a deleted garment's id is never reused: they double as
FAISS ids.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from core.errors import CatalogError
from inference.types import Box, VideoInfo, VideoSubmission, follower_tier

CATALOG_FILE = "catalog.sqlite"

# Each entry migrates the schema from version i to i + 1. Append only.
MIGRATIONS: list[str] = [
    """
    CREATE TABLE creators (
        id INTEGER PRIMARY KEY,
        handle TEXT NOT NULL UNIQUE,
        followers INTEGER NOT NULL CHECK (followers >= 0),
        updated_at TEXT NOT NULL
    );
    CREATE TABLE videos (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        creator_id INTEGER REFERENCES creators(id) ON DELETE CASCADE,
        source_path TEXT NOT NULL,
        content_hash TEXT NOT NULL UNIQUE,
        posted_at TEXT,
        duration_s REAL,
        fps REAL,
        width INTEGER,
        height INTEGER,
        rotation INTEGER,
        codec TEXT,
        status TEXT NOT NULL CHECK (status IN ('processing', 'done', 'failed')),
        error TEXT,
        created_at TEXT NOT NULL,
        finished_at TEXT
    );
    CREATE INDEX videos_creator ON videos(creator_id);
    CREATE INDEX videos_posted ON videos(posted_at);
    CREATE TABLE frames (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        video_id INTEGER NOT NULL REFERENCES videos(id) ON DELETE CASCADE,
        t_s REAL NOT NULL,
        segment INTEGER NOT NULL,
        sharpness REAL NOT NULL,
        phash TEXT NOT NULL,
        width INTEGER NOT NULL,
        height INTEGER NOT NULL
    );
    CREATE INDEX frames_video ON frames(video_id);
    CREATE TABLE garments (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        frame_id INTEGER NOT NULL REFERENCES frames(id) ON DELETE CASCADE,
        video_id INTEGER NOT NULL REFERENCES videos(id) ON DELETE CASCADE,
        kind TEXT NOT NULL CHECK (kind IN ('top', 'bottom', 'full')),
        x0 INTEGER NOT NULL, y0 INTEGER NOT NULL, x1 INTEGER NOT NULL, y1 INTEGER NOT NULL,
        method TEXT NOT NULL,
        score REAL NOT NULL,
        crop_path TEXT NOT NULL
    );
    CREATE INDEX garments_video ON garments(video_id);
    CREATE TABLE ingest_events (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        at TEXT NOT NULL,
        source TEXT NOT NULL,
        outcome TEXT NOT NULL,
        video_id INTEGER,
        reason TEXT
    );
    CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    """,
    # v2: styles found by clustering (inference/trends.py) and each garment's style.
    """
    CREATE TABLE styles (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL,
        words TEXT NOT NULL DEFAULT '[]',
        kind TEXT,
        centroid BLOB,
        size INTEGER NOT NULL DEFAULT 0,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
    );
    CREATE TABLE garment_styles (
        garment_id INTEGER PRIMARY KEY REFERENCES garments(id) ON DELETE CASCADE,
        style_id INTEGER NOT NULL REFERENCES styles(id) ON DELETE CASCADE,
        distance REAL NOT NULL
    );
    CREATE INDEX garment_styles_style ON garment_styles(style_id);
    """,
]
SCHEMA_VERSION = len(MIGRATIONS)


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


@dataclasses.dataclass(frozen=True)
class VideoRecord:
    """A video row."""

    id: int
    creator: str | None
    source_path: str
    content_hash: str
    posted_at: str | None
    status: str
    error: str | None
    duration_s: float | None


@dataclasses.dataclass(frozen=True)
class GarmentRecord:
    """A garment joined with the frame, video and creator it came from."""

    id: int
    video_id: int
    frame_id: int
    kind: str
    box: Box
    method: str
    score: float
    crop_path: str  # relative to the data directory
    t_s: float  # moment in the video
    creator: str
    followers: int
    posted_at: str  # ISO date
    source_path: str

    @property
    def tier(self) -> str:
        return follower_tier(self.followers)


@dataclasses.dataclass(frozen=True)
class FrameRow:
    """A sampled frame to write with its video."""

    t_s: float
    segment: int
    sharpness: float
    phash: int
    width: int
    height: int


@dataclasses.dataclass(frozen=True)
class GarmentRow:
    """A garment to write with its video; ``frame_index`` points into the frame rows."""

    frame_index: int
    kind: str
    box: Box
    method: str
    score: float
    crop_path: str


_GARMENT_SELECT = """
    SELECT g.id, g.video_id, g.frame_id, g.kind, g.x0, g.y0, g.x1, g.y1, g.method, g.score,
           g.crop_path, f.t_s, c.handle, c.followers, v.posted_at, v.source_path
    FROM garments g
    JOIN frames f ON f.id = g.frame_id
    JOIN videos v ON v.id = g.video_id
    JOIN creators c ON c.id = v.creator_id
"""


def _garment(row: sqlite3.Row) -> GarmentRecord:
    return GarmentRecord(
        id=row[0],
        video_id=row[1],
        frame_id=row[2],
        kind=row[3],
        box=Box(row[4], row[5], row[6], row[7]),
        method=row[8],
        score=row[9],
        crop_path=row[10],
        t_s=row[11],
        creator=row[12],
        followers=row[13],
        posted_at=row[14],
        source_path=row[15],
    )


BUSY_TIMEOUT_S = 60.0  # how long a connection waits for another writer's lock


def _set_wal(conn: sqlite3.Connection) -> None:
    """Switch to WAL, waiting for other first openers: SQLite answers "database is locked"
    at once here (its busy timeout does not cover the journal-mode change of a new file)."""
    deadline = time.monotonic() + BUSY_TIMEOUT_S
    pause = 0.01
    while True:
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
        time.sleep(pause)
        pause = min(pause * 2, 0.5)


class Catalog:
    """SQLite catalog of one data directory; safe to share between threads.

    Each thread gets its own connection; writes serialise on SQLite's lock (WAL lets
    readers go on during a write).
    """

    def __init__(self, data_dir: str | Path):
        self.data_dir = Path(data_dir)
        self.path = self.data_dir / CATALOG_FILE
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self._migrate()

    # -- connections ---------------------------------------------------------------------
    def _connect(self) -> sqlite3.Connection:
        try:
            conn = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_S, check_same_thread=False)
            _set_wal(conn)
            conn.execute("PRAGMA foreign_keys=ON")
            conn.execute("PRAGMA synchronous=NORMAL")
        except sqlite3.DatabaseError as exc:
            raise CatalogError(f"cannot open catalog {self.path}: {exc}") from None
        conn.row_factory = sqlite3.Row
        with self._lock:
            self._connections.append(conn)
        return conn

    @property
    def conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._local.conn = self._connect()
        return conn

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One write transaction (BEGIN IMMEDIATE ... COMMIT, ROLLBACK on error)."""
        conn = self.conn
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    def close(self) -> None:
        with self._lock:
            for conn in self._connections:
                conn.close()
            self._connections.clear()
        self._local = threading.local()

    def __enter__(self) -> Catalog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _migrate(self) -> None:
        conn = self.conn
        conn.isolation_level = None  # explicit transactions only
        try:
            version = conn.execute("PRAGMA user_version").fetchone()[0]
        except sqlite3.DatabaseError as exc:
            raise CatalogError(f"{self.path} is not a stylescope catalog: {exc}") from None
        if version == SCHEMA_VERSION:
            return
        # Under the write lock, re-read the version: another process may have just migrated.
        with self.transaction() as tx:
            version = tx.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise CatalogError(
                    f"catalog {self.path} has schema version {version}, newer than this "
                    f"stylescope understands ({SCHEMA_VERSION}); upgrade stylescope"
                )
            for target in range(version, SCHEMA_VERSION):
                for statement in MIGRATIONS[target].split(";"):
                    if statement.strip():
                        tx.execute(statement)
            tx.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    @property
    def schema_version(self) -> int:
        return int(self.conn.execute("PRAGMA user_version").fetchone()[0])

    # -- meta ----------------------------------------------------------------------------
    def get_meta(self, key: str, default: str | None = None) -> str | None:
        row = self.conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else default

    def set_meta(self, key: str, value: str) -> None:
        with self.transaction() as tx:
            tx.execute("INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)", (key, value))

    # -- writes --------------------------------------------------------------------------
    def upsert_creator(self, tx: sqlite3.Connection, handle: str, followers: int) -> int:
        """Insert a creator or update their follower count; returns the creator id."""
        tx.execute(
            "INSERT INTO creators(handle, followers, updated_at) VALUES (?, ?, ?) "
            "ON CONFLICT(handle) DO UPDATE SET followers = excluded.followers, "
            "updated_at = excluded.updated_at",
            (handle, followers, _now()),
        )
        return int(tx.execute("SELECT id FROM creators WHERE handle = ?", (handle,)).fetchone()[0])

    def begin_video(self, submission: VideoSubmission, content_hash: str) -> int:
        """Create (or reset) the ``processing`` row of a video; returns its id."""
        with self.transaction() as tx:
            creator_id = self.upsert_creator(tx, submission.creator, submission.followers)
            row = tx.execute(
                "SELECT id FROM videos WHERE content_hash = ?", (content_hash,)
            ).fetchone()
            values = (
                creator_id,
                str(submission.path),
                submission.posted_at.isoformat(),
                _now(),
            )
            if row is None:
                cursor = tx.execute(
                    "INSERT INTO videos(creator_id, source_path, posted_at, created_at, "
                    "content_hash, status) VALUES (?, ?, ?, ?, ?, 'processing')",
                    (*values, content_hash),
                )
                return int(cursor.lastrowid or 0)
            video_id = int(row[0])
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
        with self.transaction() as tx:
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
                    _now(),
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

    def fail_video(self, video_id: int, reason: str) -> None:
        """Mark a video failed with its reason; its partial frames/garments are dropped."""
        with self.transaction() as tx:
            tx.execute("DELETE FROM garments WHERE video_id = ?", (video_id,))
            tx.execute("DELETE FROM frames WHERE video_id = ?", (video_id,))
            tx.execute(
                "UPDATE videos SET status = 'failed', error = ?, finished_at = ? WHERE id = ?",
                (reason, _now(), video_id),
            )

    def record_event(
        self, source: str, outcome: str, reason: str = "", video_id: int | None = None
    ) -> None:
        """Append to the ingest log (every submission's outcome, good or bad)."""
        with self.transaction() as tx:
            tx.execute(
                "INSERT INTO ingest_events(at, source, outcome, video_id, reason) "
                "VALUES (?, ?, ?, ?, ?)",
                (_now(), source, outcome, video_id, reason),
            )

    def delete_video(self, video_id: int) -> list[int]:
        """Remove a video with its frames and garments; returns the removed garment ids."""
        with self.transaction() as tx:
            ids = [r[0] for r in tx.execute("SELECT id FROM garments WHERE video_id = ?", (video_id,))]
            tx.execute("DELETE FROM videos WHERE id = ?", (video_id,))
        return ids

    def delete_creator(self, handle: str) -> list[int]:
        """Remove a creator with all their videos; returns the removed garment ids."""
        with self.transaction() as tx:
            ids = [
                r[0]
                for r in tx.execute(
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
        rows = self.conn.execute(
            "SELECT v.id, c.handle, v.source_path, v.content_hash, v.posted_at, v.status, "
            f"v.error, v.duration_s FROM videos v LEFT JOIN creators c ON c.id = v.creator_id {where}",
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
                for row in self.conn.execute(f"{_GARMENT_SELECT} WHERE g.id IN ({marks})", chunk):
                    found[row[0]] = _garment(row)
            return [found[i] for i in map(int, ids) if i in found]
        where = "WHERE v.status = 'done'"
        params: tuple[Any, ...] = ()
        if video_id is not None:
            where += " AND g.video_id = ?"
            params = (video_id,)
        rows = self.conn.execute(f"{_GARMENT_SELECT} {where} ORDER BY g.id", params)
        return [_garment(row) for row in rows]

    def creators(self) -> list[tuple[str, int]]:
        """(handle, followers) of every creator."""
        return [(r[0], r[1]) for r in self.conn.execute("SELECT handle, followers FROM creators")]

    def counts(self) -> dict[str, int]:
        """Row counts: creators, videos by status, frames, garments."""
        conn = self.conn
        counts = {
            "creators": conn.execute("SELECT COUNT(*) FROM creators").fetchone()[0],
            "frames": conn.execute("SELECT COUNT(*) FROM frames").fetchone()[0],
            "garments": conn.execute("SELECT COUNT(*) FROM garments").fetchone()[0],
        }
        for status in ("done", "failed", "processing"):
            counts[f"videos_{status}"] = conn.execute(
                "SELECT COUNT(*) FROM videos WHERE status = ?", (status,)
            ).fetchone()[0]
        return counts

    def integrity_problems(self) -> list[str]:
        """Consistency checks used after crashes: orphans, half-written videos."""
        conn = self.conn
        problems = [r[0] for r in conn.execute("PRAGMA integrity_check") if r[0] != "ok"]
        problems += [f"foreign key violation in {r[0]}" for r in conn.execute("PRAGMA foreign_key_check")]
        orphans = conn.execute(
            "SELECT COUNT(*) FROM garments g JOIN videos v ON v.id = g.video_id "
            "WHERE v.status != 'done'"
        ).fetchone()[0]
        if orphans:
            problems.append(f"{orphans} garments belong to videos that are not done")
        return problems
