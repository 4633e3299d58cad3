"""What a search returns: hits, hits grouped by creator, what was asked, and the result
around them. ``to_dict`` is for JSON output only; everything else reads attributes."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

from inference.search.queries import EmbeddedQuery, LocalisedGarment
from inference.search.settings import SearchFilters
from models.match import Cutoffs


@dataclasses.dataclass(slots=True, unsafe_hash=True)
class SearchHit:
    """One garment found, with where it came from. Treat it as read-only: it is not frozen
    only because a frozen dataclass is four times slower to build, and search builds one per
    hit per query (hashable as a frozen one would be)."""

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
    strength: str | None = None  # strong, fair or weak by the encoder's cut-offs (None: it has none)
    shared_words: tuple[str, ...] = ()  # words of the text query the style's name shares (why it matched)
    set_aside: str | None = None  # why it is kept out of styles as no garment (searched only when asked)


@dataclasses.dataclass
class CreatorGroup:
    """Hits of one creator ("who wears this?")."""

    creator: str
    followers: int
    tier: str
    best_score: float
    hits: list[SearchHit]


@dataclasses.dataclass(frozen=True)
class SearchQuery:
    """What a search was asked."""

    k: int  # results wanted
    filters: SearchFilters
    embedded: EmbeddedQuery | None = None  # what the query embedding was made from (None: given ready)

    @property
    def mode(self) -> str | None:
        """image, text or image+text; None for a search with a ready embedding."""
        return self.embedded.mode if self.embedded is not None else None

    @property
    def text(self) -> str | None:
        return self.embedded.text if self.embedded is not None else None

    @property
    def garment(self) -> LocalisedGarment | None:
        """The garment cut out of the query image (None: no image, or the whole image)."""
        return self.embedded.garment if self.embedded is not None else None

    def to_dict(self) -> dict[str, Any]:
        """Plain data for JSON output: k and filters, then the garment (image queries), the
        text (text queries) and the mode of an embedded query."""
        plain: dict[str, Any] = {"k": self.k, "filters": dataclasses.asdict(self.filters)}
        if self.embedded is not None:
            if self.embedded.has_image:
                plain["garment"] = self.garment.to_dict() if self.garment is not None else None
            if self.embedded.text is not None:
                plain["text"] = self.embedded.text
            plain["mode"] = self.embedded.mode
        return plain


@dataclasses.dataclass
class SearchResult:
    """What a search returns."""

    hits: list[SearchHit]
    query: SearchQuery
    index_version: str
    matched: int | None = None  # garments passing the filters (None without filters)
    groups: list[CreatorGroup] | None = None  # with by_creator
    cutoffs: Cutoffs | None = None  # the strong / fair cut-offs of this query's mode (None: none recorded)
    notice: str | None = None  # "no close match in the catalog" when even the best hit is weak

    @property
    def no_close_match(self) -> bool:
        """Even the best hit is weak (False when the encoder has no cut-offs recorded)."""
        return self.notice is not None

    def to_dict(self) -> dict[str, Any]:
        """Plain data for JSON output (``--json``)."""
        return {
            "hits": [dataclasses.asdict(hit) for hit in self.hits],
            "query": self.query.to_dict(),
            "index_version": self.index_version,
            "matched": self.matched,
            "groups": None if self.groups is None else [dataclasses.asdict(g) for g in self.groups],
            "notice": self.notice,
            "cutoffs": None if self.cutoffs is None else dataclasses.asdict(self.cutoffs),
        }


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

