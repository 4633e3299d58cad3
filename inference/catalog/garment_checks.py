"""The garment check's verdicts: which stored crops show a garment, and why not when not.

Each verdict keeps the signals it was judged from (``measured_by`` names the classifier that
measured them, ``judged_by`` the thresholds that judged them), so a crop is measured once and
re-judged without its pixels when the thresholds change.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from inference.catalog.base import CatalogBase


@dataclasses.dataclass(frozen=True, slots=True)
class GarmentCheckRecord:
    """One garment's stored verdict and the signals behind it."""

    garment_id: int
    is_garment: bool
    reason: str  # "garment", or why not (see inference.garment_check.REASONS)
    score: float  # 0..1 garment-likeness; 0.5 is the clothing threshold that applied
    clothing: float  # ImageNet garment-class mass of the crop
    outfit_clothing: float  # the highest clothing mass among the crops of the same person box
    printed: float  # ImageNet printed-matter mass
    sharpness: float  # variance of the Laplacian of the crop at 128 px
    detected: bool  # a detector found the person
    face: bool  # a frontal face in the crop
    partial: bool  # the person box is a sliver at the frame's side
    measured_by: str  # the classifier that measured the signals
    judged_by: str  # the thresholds that judged them


_COLUMNS = ("garment_id, is_garment, reason, score, clothing, outfit_clothing, printed, sharpness, "
            "detected, face, partial, measured_by, judged_by")


class GarmentCheckQueries(CatalogBase):
    """Writes and reads of the garment check's verdicts."""

    def save_garment_checks(self, records: Sequence[GarmentCheckRecord]) -> None:
        """Store verdicts (replacing earlier ones of the same garments)."""
        with self._transaction() as tx:
            tx.executemany(
                f"INSERT OR REPLACE INTO garment_checks({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [(r.garment_id, int(r.is_garment), r.reason, float(r.score), float(r.clothing),
                  float(r.outfit_clothing), float(r.printed), float(r.sharpness), int(r.detected), int(r.face),
                  int(r.partial), r.measured_by, r.judged_by) for r in records],
            )

    def garment_checks(self) -> list[GarmentCheckRecord]:
        """Every stored verdict of a garment of a done video, by garment id."""
        rows = self._conn.execute(
            f"SELECT {', '.join('c.' + c for c in _COLUMNS.split(', '))} FROM garment_checks c "
            "JOIN garments g ON g.id = c.garment_id JOIN videos v ON v.id = g.video_id "
            "WHERE v.status = 'done' ORDER BY c.garment_id"
        ).fetchall()
        return [
            GarmentCheckRecord(int(g), bool(ok), str(reason), float(score), float(clothing), float(outfit),
                               float(printed), float(sharp), bool(det), bool(face), bool(part), str(mby), str(jby))
            for g, ok, reason, score, clothing, outfit, printed, sharp, det, face, part, mby, jby in rows
        ]

    def garment_check_counts(self) -> dict[str, int]:
        """Garments of done videos the garment check has judged, and those it set aside as non-garments."""
        checked, rejected = self._conn.execute(
            "SELECT COUNT(*), COALESCE(SUM(1 - c.is_garment), 0) FROM garment_checks c "
            "JOIN garments g ON g.id = c.garment_id JOIN videos v ON v.id = g.video_id WHERE v.status = 'done'"
        ).fetchone()
        return {"garments_checked": int(checked), "non_garments": int(rejected)}

    def unchecked_garment_ids(self, measured_by: str) -> list[int]:
        """Ids (ascending) of the garments of done videos with no signals measured by ``measured_by``."""
        rows = self._conn.execute(
            "SELECT g.id FROM garments g JOIN videos v ON v.id = g.video_id "
            "LEFT JOIN garment_checks c ON c.garment_id = g.id AND c.measured_by = ? "
            "WHERE v.status = 'done' AND c.garment_id IS NULL ORDER BY g.id",
            (measured_by,),
        ).fetchall()
        return [int(g) for (g,) in rows]
