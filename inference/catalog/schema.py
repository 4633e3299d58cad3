"""The catalog's schema: migrations applied in order, and how a connection is set up."""

from __future__ import annotations

import sqlite3
import time

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
    # v2: styles found by clustering (inference/trends/) and each garment's style.
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
    # v3: who is working on a video (inference/catalog/claims.py): a second ingest of the
    # same bytes sees the claim and leaves the video to its owner.
    """
    ALTER TABLE videos ADD COLUMN claimed_by TEXT;
    ALTER TABLE videos ADD COLUMN claimed_at TEXT;
    """,
    # v4: the ingest log names each submission's video file, not only its manifest line.
    """
    ALTER TABLE ingest_events ADD COLUMN path TEXT NOT NULL DEFAULT ''
    """,
    # v5: the garment check's verdict on each garment (inference/catalog/garment_checks.py),
    # with the signals it was judged from, so a crop is measured once and re-judged cheaply
    # when the thresholds change: crops that are not garments (walls, title cards, blurs)
    # are kept out of styles.
    """
    CREATE TABLE garment_checks (
        garment_id INTEGER PRIMARY KEY REFERENCES garments(id) ON DELETE CASCADE,
        is_garment INTEGER NOT NULL,
        reason TEXT NOT NULL,
        score REAL NOT NULL,
        clothing REAL NOT NULL,
        outfit_clothing REAL NOT NULL,
        printed REAL NOT NULL,
        sharpness REAL NOT NULL,
        detected INTEGER NOT NULL,
        face INTEGER NOT NULL,
        partial INTEGER NOT NULL,
        measured_by TEXT NOT NULL,
        judged_by TEXT NOT NULL
    );
    """,
    # v6: garments a full clustering left without a style (noise), with the style they lie
    # nearest and how far: originators (inference/trends/creators.py) look there for a
    # style's first wearers, whose garments are often left out of it.
    """
    CREATE TABLE garment_near_styles (
        garment_id INTEGER PRIMARY KEY REFERENCES garments(id) ON DELETE CASCADE,
        style_id INTEGER NOT NULL REFERENCES styles(id) ON DELETE CASCADE,
        distance REAL NOT NULL
    );
    CREATE INDEX garment_near_styles_style ON garment_near_styles(style_id);
    """,
]
SCHEMA_VERSION = len(MIGRATIONS)


BUSY_TIMEOUT_S = 60.0  # how long a connection waits for another writer's lock


def set_wal(conn: sqlite3.Connection) -> None:
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
