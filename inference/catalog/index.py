"""What the garment index reads from the catalog: the garments it should hold, and the style
of each garment for an export."""

from __future__ import annotations

import dataclasses

import numpy as np

from inference.catalog.base import CatalogBase


@dataclasses.dataclass(frozen=True)
class GarmentStyle:
    """The style a garment is assigned to."""

    style_id: int
    name: str


class IndexQueries(CatalogBase):
    """The index's reads: which garments it should hold, and their styles."""

    def done_garment_ids(self) -> np.ndarray:
        """Ids of every garment of a done video, sorted (int64): what the index should hold."""
        rows = self._conn.execute(
            "SELECT g.id FROM garments g JOIN videos v ON v.id = g.video_id "
            "WHERE v.status = 'done' ORDER BY g.id"
        ).fetchall()
        return np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))

    def garment_styles(self) -> dict[int, GarmentStyle]:
        """Garment id -> the style it is assigned to, from the trends stage's tables."""
        rows = self._conn.execute(
            "SELECT gs.garment_id, s.id, s.name FROM garment_styles gs "
            "JOIN styles s ON s.id = gs.style_id"
        )
        return {r[0]: GarmentStyle(r[1], r[2]) for r in rows}
