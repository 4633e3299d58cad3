"""Search garments by image, by text, or by both, with metadata filters.

A query becomes one L2-normalised embedding (image: a garment is localised first when the
image shows a person; text; or image + text combined with a weight and renormalised), the
filters become a :class:`~inference.index.Selection` of allowed garment ids computed from
catalog metadata cached in numpy arrays, and the live index answers inside those ids. Hits
are joined with the catalog (crop, creator, video, moment, posted_at, style), near-identical
frames of one video are collapsed, and hits can be grouped by creator. Each hit gets a
strength a person can read (strong / fair / weak, by the cut-offs recorded with the encoder:
:mod:`models.match`) and the words of the text query its style shares; when even the best
hit is weak the result carries a "no close match in the catalog" notice.

The package, one concern per module:

- :mod:`~inference.search.settings` the search settings and the user's filters;
- :mod:`~inference.search.metadata` catalog columns cached as arrays, filters compiled there;
- :mod:`~inference.search.queries` an image, a text or both made into one query embedding;
- :mod:`~inference.search.results` hits, creator groups, what was asked and the result;
- :mod:`~inference.search.ranking` near-duplicate hits of one video collapsed;
- :mod:`~inference.search.strength` hits rated strong / fair / weak, why they matched, the notice;
- :mod:`~inference.search.searcher` the :class:`Searcher` that wires them.
"""

from __future__ import annotations

from inference.search.metadata import CatalogMetadata, GarmentFacts
from inference.search.queries import EmbeddedQuery, LocalisedGarment, embed_query, localise_query
from inference.search.ranking import dedupe_hits, dedupe_order
from inference.search.results import (
    CreatorGroup,
    SearchHit,
    SearchQuery,
    SearchResult,
    group_by_creator,
)
from inference.search.searcher import Searcher
from inference.search.settings import SearchConfig, SearchFilters
from inference.search.strength import no_match_notice, query_words, rate_hits, shared_words

__all__ = [
    "CatalogMetadata",
    "CreatorGroup",
    "EmbeddedQuery",
    "GarmentFacts",
    "LocalisedGarment",
    "SearchConfig",
    "SearchFilters",
    "SearchHit",
    "SearchQuery",
    "SearchResult",
    "Searcher",
    "dedupe_hits",
    "dedupe_order",
    "embed_query",
    "group_by_creator",
    "localise_query",
    "no_match_notice",
    "query_words",
    "rate_hits",
    "shared_words",
]
