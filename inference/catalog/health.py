"""What ``stylescope check`` asks the catalog: SQLite's own integrity checks, the crop files
the garments name, and the repairs (a copy first, then REINDEX)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from inference.catalog.claims import ClaimQueries, claim_is_live


class HealthQueries(ClaimQueries):
    """Integrity checks and repairs of the catalog."""

    def integrity_check(self) -> list[str]:
        """SQLite's ``PRAGMA integrity_check`` and foreign-key check: [] when all is well."""
        conn = self._conn
        try:
            problems = [message for (message,) in conn.execute("PRAGMA integrity_check") if message != "ok"]
            problems += [
                f"foreign key violation in {violation['table']} (row {violation['rowid']})"
                for violation in conn.execute("PRAGMA foreign_key_check")
            ]
        except sqlite3.DatabaseError as exc:  # too damaged for the check to finish
            return [str(exc)]
        return problems

    def reindex(self) -> None:
        """Rebuild every SQL index from its table (repairs a damaged index b-tree)."""
        with self._transaction() as tx:
            tx.execute("REINDEX")

    def copy_to(self, target: Path) -> None:
        """A consistent copy of the catalog (SQLite's online backup), pages as they are."""
        target.parent.mkdir(parents=True, exist_ok=True)
        copy = sqlite3.connect(target)
        try:
            self._conn.backup(copy)
        finally:
            copy.close()

    def crop_paths(self) -> dict[str, int]:
        """Crop path (relative to the data directory) -> garment id, for every garment."""
        return {path: garment_id for garment_id, path in self._conn.execute("SELECT id, crop_path FROM garments")}

    def release_dead_claims(self) -> int:
        """Clear the claims of done videos whose process is gone (killed after the commit);
        returns how many."""
        dead = [v.id for v in self.claimed_videos() if v.status == "done" and not claim_is_live(v)]
        with self._transaction() as tx:
            tx.executemany(
                "UPDATE videos SET claimed_by = NULL, claimed_at = NULL WHERE id = ?", [(i,) for i in dead]
            )
        return len(dead)

    def reset_videos(self, video_ids: list[int]) -> None:
        """Forget the frames and garments of ``video_ids`` and leave them half-done, for
        ``stylescope ingest --resume`` to redo from their source files."""
        rows = [(i,) for i in video_ids]
        with self._transaction() as tx:
            tx.executemany("DELETE FROM garments WHERE video_id = ?", rows)
            tx.executemany("DELETE FROM frames WHERE video_id = ?", rows)
            tx.executemany(
                "UPDATE videos SET status = 'processing', claimed_by = NULL, claimed_at = NULL WHERE id = ?", rows
            )
