"""How many garments have a style, and when a full re-clustering would find new styles.

After an ingest, new garments have no style until styles are brought up to date (an
incremental assignment puts each one into the nearest style within its radius). Garments
that fit no style stay without one; when many more of them pile up than the last full run
left out, a full re-clustering is likely to find styles among them.
"""

from __future__ import annotations

import dataclasses

from inference.catalog import Catalog
from inference.trends.identity import read_state
from inference.trends.settings import ClusterConfig


@dataclasses.dataclass(frozen=True)
class StyleCoverage:
    """Garments that can have a style, and how many do."""

    garments: int  # garments of done videos that can get a style (localisers not skipped)
    styled: int  # of those, garments in a style
    styles: int  # styles in the catalog
    left_out: int  # garments the last full run left without a style (0: none recorded)

    @property
    def unstyled(self) -> int:
        """Garments without a style."""
        return max(0, self.garments - self.styled)

    @property
    def unfitted(self) -> int:
        """Garments without a style beyond those the last full run left out."""
        return max(0, self.unstyled - self.left_out)

    def recluster_advised(self, config: ClusterConfig) -> bool:
        """Whether enough garments fit no style that a full run would likely find new styles.

        That is when the garments without a style, beyond those the last full run left
        out, are at least ``recluster_share`` of all garments and enough for a style.
        """
        return (self.styles > 0 and self.unfitted >= max(config.min_style_size, 1)
                and self.unfitted >= config.recluster_share * self.garments)


def style_coverage(catalog: Catalog, config: ClusterConfig) -> StyleCoverage:
    """Count the garments with and without a style (skipping the localisers the last full run
    skipped, else those ``config`` skips)."""
    state = read_state(catalog)
    skip = set(state.get("skip_methods", config.skip_methods))
    garments = {g.id for g in catalog.clusterable_garments() if g.method not in skip}
    styled = len(garments & catalog.styled_garment_ids())
    return StyleCoverage(len(garments), styled, catalog.style_count(), int(state.get("unassigned", 0)))


def set_aside(catalog: Catalog) -> dict[int, str]:
    """Garment id -> why the last full run kept it out of styles as no garment: the localiser
    that cut it is one it skips (no detector saw a person) and it joined no style, the garment
    check's reason when that run checked every crop, or the style check's reason (a crop of a
    cluster of non-garments, or a checked crop that is none: inference/trends/style_check.py)."""
    state = read_state(catalog)
    skip = set(state.get("skip_methods", []))
    styled = catalog.styled_garment_ids()
    out = {g.id: f"cut by {g.method}" for g in catalog.clusterable_garments() if g.method in skip and g.id not in styled}
    if state.get("garment_check", False):
        out.update({c.garment_id: c.reason for c in catalog.garment_checks() if not c.is_garment and c.garment_id not in out})
    out.update({int(i): str(reason) for i, reason in state.get("set_aside", {}).items() if int(i) not in styled})
    return out
