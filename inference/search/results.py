"""What a search returns: hits, hits grouped by creator, and the result around them."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any


@dataclasses.dataclass(frozen=True, slots=True)
class SearchHit:
    """One garment found, with where it came from."""

    garment_id: int
    score: float  # cosine similarity to the query
    kind: str  # top, bottom or full
    crop_path: str  # the garment crop, absolute path
    creator: str  # creator handle
    followers: int  # creator's follower count
    tier: str  # follower tier
    video_id: int
    source_path: str  # the video file it came from
    t_s: float  # moment in the video, seconds
    posted_at: str  # ISO date the video was posted
    style_id: int | None  # style it belongs to, when styles have been computed
    style: str | None  # that style's name


@dataclasses.dataclass
class CreatorGroup:
    """Hits of one creator ("who wears this?")."""

    creator: str
    followers: int
    tier: str
    best_score: float
    hits: list[SearchHit]


@dataclasses.dataclass
class SearchResult:
    """What a search returns."""

    hits: list[SearchHit]
    query: dict[str, Any]  # mode (image/text/image+text), localised garment, k, filters
    index_version: str
    matched: int | None = None  # garments passing the filters (None without filters)
    groups: list[CreatorGroup] | None = None  # with by_creator

    def to_dict(self) -> dict[str, Any]:
        """Plain data for JSON output."""
        return dataclasses.asdict(self)


def group_by_creator(hits: Sequence[SearchHit]) -> list[CreatorGroup]:
    """Hits grouped by creator, groups ordered by their best score."""
    groups: dict[str, CreatorGroup] = {}
    for hit in hits:
        group = groups.get(hit.creator)
        if group is None:
            groups[hit.creator] = CreatorGroup(
                hit.creator, hit.followers, hit.tier, hit.score, [hit]
            )
        else:
            group.hits.append(hit)
            group.best_score = max(group.best_score, hit.score)
    return sorted(groups.values(), key=lambda g: -g.best_score)

