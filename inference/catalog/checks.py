"""What the garment check needs to know about stored garments beyond their crops."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

from inference.catalog.base import CatalogBase
from inference.types import Box


@dataclasses.dataclass(frozen=True)
class GarmentEvidenceRecord:
    """A stored garment with the frame it was cut from and its person box."""

    garment_id: int
    frame_id: int
    kind: str
    method: str  # localiser that found the person
    box: Box  # the garment's box in frame pixels
    person: Box  # the person box: the frame's ``full`` garment of the same method
    frame_width: int
    frame_height: int
    frame_sharpness: float  # the sampler's variance of the Laplacian of the whole frame
    crop_path: str  # relative to the data directory


_EVIDENCE_SELECT = """
    SELECT g.id, g.frame_id, g.kind, g.method, g.x0, g.y0, g.x1, g.y1,
           COALESCE(p.x0, g.x0), COALESCE(p.y0, g.y0), COALESCE(p.x1, g.x1), COALESCE(p.y1, g.y1),
           f.width, f.height, f.sharpness, g.crop_path
    FROM garments g
    JOIN frames f ON f.id = g.frame_id
    JOIN videos v ON v.id = g.video_id
    LEFT JOIN garments p ON p.video_id = g.video_id AND p.frame_id = g.frame_id AND p.kind = 'full' AND p.method = g.method
    WHERE v.status = 'done'
"""


class GarmentEvidenceQueries(CatalogBase):
    """Reads of the evidence a garment check weighs (localiser, person box, frame)."""

    def garment_evidence(self, ids: Sequence[int] | None = None) -> list[GarmentEvidenceRecord]:
        """Evidence of the garments of done videos: those with ``ids`` (in that order), or all by id."""
        if ids is None:
            rows = self._conn.execute(f"{_EVIDENCE_SELECT} ORDER BY g.id").fetchall()
            return [_evidence(row) for row in rows]
        found: dict[int, GarmentEvidenceRecord] = {}
        wanted = [int(i) for i in ids]
        for start in range(0, len(wanted), 900):
            chunk = wanted[start : start + 900]
            marks = ",".join("?" * len(chunk))
            for row in self._conn.execute(f"{_EVIDENCE_SELECT} AND g.id IN ({marks})", chunk):
                found[int(row[0])] = _evidence(row)
        return [found[i] for i in wanted if i in found]


def _evidence(row: Any) -> GarmentEvidenceRecord:
    (garment_id, frame_id, kind, method, x0, y0, x1, y1, px0, py0, px1, py1, width, height, sharpness, crop_path) = row
    return GarmentEvidenceRecord(
        garment_id=int(garment_id),
        frame_id=int(frame_id),
        kind=str(kind),
        method=str(method),
        box=Box(int(x0), int(y0), int(x1), int(y1)),
        person=Box(int(px0), int(py0), int(px1), int(py1)),
        frame_width=int(width),
        frame_height=int(height),
        frame_sharpness=float(sharpness),
        crop_path=str(crop_path),
    )
