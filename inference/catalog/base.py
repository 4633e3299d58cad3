"""The catalog's connections: one per thread, WAL, explicit transactions, migrations."""

from __future__ import annotations

import datetime as dt
import itertools
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path
from typing import Self

from core.errors import CatalogError
from inference.catalog.schema import BUSY_TIMEOUT_S, MIGRATIONS, SCHEMA_VERSION, set_wal

CATALOG_FILE = "catalog.sqlite"
_COMMITS = itertools.count(1)  # next() is atomic under the GIL
_last_commit = 0


def local_commits() -> int:
    """A number that changes whenever this process commits a write to any catalog: caches of
    the catalog check it first and ask SQLite (about other processes' writes) less often."""
    return _last_commit


def _newer_schema(path: Path, version: int) -> CatalogError:
    return CatalogError(f"catalog {path} has schema version {version}, newer than this "
                        f"stylescope understands ({SCHEMA_VERSION}); upgrade stylescope")


def check_schema(data_dir: str | Path) -> None:
    """Refuse a data directory whose catalog a newer stylescope wrote, before anything opens it
    for writing or a command loads a model (read-only: no migration, no WAL files).

    Raises:
        CatalogError: the catalog is newer than this stylescope, or is not a catalog.
    """
    path = Path(data_dir) / CATALOG_FILE
    if not path.is_file():
        return
    try:
        with closing(sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)) as conn:
            version = int(conn.execute("PRAGMA user_version").fetchone()[0])
    except sqlite3.DatabaseError as exc:
        raise CatalogError(f"{path} is not a stylescope catalog: {exc}") from None
    if version > SCHEMA_VERSION:
        raise _newer_schema(path, version)


def now() -> str:
    """The current UTC time as the catalog stores it (ISO 8601, seconds)."""
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


class CatalogBase:
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
            set_wal(conn)
            conn.execute("PRAGMA foreign_keys=ON")
            conn.execute("PRAGMA synchronous=NORMAL")
        except sqlite3.DatabaseError as exc:
            raise CatalogError(f"cannot open catalog {self.path}: {exc}") from None
        conn.row_factory = sqlite3.Row
        with self._lock:
            self._connections.append(conn)
        return conn

    @property
    def _conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._local.conn = self._connect()
        return conn

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        """One write transaction (BEGIN IMMEDIATE ... COMMIT, ROLLBACK on error)."""
        conn = self._conn
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")
        global _last_commit
        _last_commit = next(_COMMITS)

    def close(self) -> None:
        with self._lock:
            for conn in self._connections:
                conn.close()
            self._connections.clear()
        self._local = threading.local()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _migrate(self) -> None:
        conn = self._conn
        conn.isolation_level = None  # explicit transactions only
        try:
            version = conn.execute("PRAGMA user_version").fetchone()[0]
        except sqlite3.DatabaseError as exc:
            raise CatalogError(f"{self.path} is not a stylescope catalog: {exc}") from None
        if version == SCHEMA_VERSION:
            return
        # Under the write lock, re-read the version: another process may have just migrated.
        with self._transaction() as tx:
            version = tx.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise _newer_schema(self.path, version)
            for target in range(version, SCHEMA_VERSION):
                for statement in MIGRATIONS[target].split(";"):
                    if statement.strip():
                        tx.execute(statement)
            tx.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    @property
    def schema_version(self) -> int:
        return int(self._conn.execute("PRAGMA user_version").fetchone()[0])

    # -- meta ----------------------------------------------------------------------------
    def get_meta(self, key: str, default: str | None = None) -> str | None:
        row = self._conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else default

    def set_meta(self, key: str, value: str) -> None:
        with self._transaction() as tx:
            tx.execute("INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)", (key, value))
