"""Salvaging a catalog whose table pages are damaged: every row SQLite can still read is
copied into a fresh file with the same schema; the rows it cannot read are counted.

SQLite's REINDEX repairs damaged *index* b-trees; a damaged *table* page loses the rows
stored on it. Rows are read by rowid ranges, and a range that fails is split in halves down
to single rows, so one bad page costs only the rows on it. Rows whose parent row was lost
(a garment whose frame or video is gone) are dropped too, so the copy satisfies its foreign
keys; the caller decides what to do about the videos that lost rows
(:func:`inference.check` marks them for ``stylescope ingest --resume``).
"""

from __future__ import annotations

import contextlib
import dataclasses
import sqlite3
from pathlib import Path

_CHUNK = 512  # rows read at once while the pages are healthy


@dataclasses.dataclass
class SalvageReport:
    """What a salvage copied and what it could not read."""

    copied: dict[str, int] = dataclasses.field(default_factory=dict)  # table -> rows copied
    lost: dict[str, int] = dataclasses.field(default_factory=dict)  # table -> rowids that could not be read
    orphans: dict[str, int] = dataclasses.field(default_factory=dict)  # table -> rows dropped: parent lost

    @property
    def rows_lost(self) -> int:
        return sum(self.lost.values()) + sum(self.orphans.values())


def _tables(source: sqlite3.Connection) -> list[tuple[str, str]]:
    """(name, CREATE statement) of every table, parents before children (creation order)."""
    rows = source.execute(
        "SELECT name, sql FROM sqlite_master WHERE type = 'table' AND sql IS NOT NULL "
        "AND name NOT LIKE 'sqlite_%' ORDER BY rowid"
    ).fetchall()
    return [(name, sql) for name, sql in rows]


def _readable(source: sqlite3.Connection, table: str, columns: str, lo: int, hi: int) -> tuple[list[tuple], int]:
    """Rows with rowid in [lo, hi) that can be read, and how many rowids in it could not be;
    a failing range is split until the failures are single rows."""
    try:
        rows = source.execute(
            f'SELECT rowid, {columns} FROM "{table}" WHERE rowid >= ? AND rowid < ? ORDER BY rowid', (lo, hi)
        ).fetchall()
        return rows, 0
    except sqlite3.DatabaseError:
        if hi - lo == 1:
            return [], 1
    middle = (lo + hi) // 2
    left, lost_left = _readable(source, table, columns, lo, middle)
    right, lost_right = _readable(source, table, columns, middle, hi)
    return left + right, lost_left + lost_right


def _rowid_bounds(source: sqlite3.Connection, table: str, neighbours: int) -> tuple[int, int]:
    """The table's smallest and largest rowid; where the damage hides them, 1 and a bound no
    rowid of the table can pass (rowids come from one counter per table, and no table here
    holds more rows than ``neighbours``, the largest rowid of any readable table, times 4)."""
    try:
        low, high = source.execute(f'SELECT min(rowid), max(rowid) FROM "{table}"').fetchone()
        return (low or 1), (high or 0)
    except sqlite3.DatabaseError:
        return 1, max(neighbours, 1) * 4


def salvage(source_file: Path, target_file: Path) -> SalvageReport:
    """Copy every readable row of ``source_file`` into a new ``target_file`` with the same
    schema, then drop rows whose parent rows were lost; returns what was copied and lost."""
    report = SalvageReport()
    source = sqlite3.connect(f"file:{source_file}?mode=ro", uri=True)
    target = sqlite3.connect(target_file)
    try:
        tables = _tables(source)
        version = source.execute("PRAGMA user_version").fetchone()[0]
        target.execute("PRAGMA foreign_keys = OFF")
        for _, sql in tables:
            target.execute(sql)
        largest = 0
        for table, _ in tables:
            names = [row[1] for row in source.execute(f'PRAGMA table_info("{table}")')]
            columns = ", ".join(f'"{n}"' for n in names)
            low, high = _rowid_bounds(source, table, largest)
            copied = lost = 0
            for lo in range(low, high + 1, _CHUNK):
                rows, missing = _readable(source, table, columns, lo, min(lo + _CHUNK, high + 1))
                lost += missing
                placeholders = ", ".join("?" * (len(names) + 1))
                target.executemany(f'INSERT INTO "{table}"(rowid, {columns}) VALUES ({placeholders})', rows)
                copied += len(rows)
                if rows:
                    largest = max(largest, rows[-1][0])
            report.copied[table] = copied
            if lost:
                report.lost[table] = lost
        for (_, sql) in source.execute(
            "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL"
        ).fetchall():
            target.execute(sql)
        target.execute(f"PRAGMA user_version = {int(version)}")
        target.commit()
        _drop_orphans(target, report)
    finally:
        source.close()
        target.close()
    return report


def _drop_orphans(target: sqlite3.Connection, report: SalvageReport) -> None:
    """Delete rows whose parent row is gone, children after parents, until none is left."""
    while True:
        violations = target.execute("PRAGMA foreign_key_check").fetchall()
        if not violations:
            break
        for table, rowid, _parent, _fk in violations:
            with contextlib.suppress(sqlite3.DatabaseError):
                target.execute(f'DELETE FROM "{table}" WHERE rowid = ?', (rowid,))
            report.orphans[table] = report.orphans.get(table, 0) + 1
            report.copied[table] = report.copied.get(table, 0) - 1
        target.commit()
