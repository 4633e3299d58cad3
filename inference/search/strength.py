"""How close each hit is (strong / fair / weak), why it matched, and the "no close match"
notice when even the best hit is weak.

The cut-offs are the encoder's own (:mod:`models.match`), one pair per query mode; a hit's
reason is the words of the text query that its style's name shares, a naming phrase ("tank top",
"t-shirt", "light blue") counting as one word, so "shirt" is no reason to show a t-shirt.
"""

from __future__ import annotations

import dataclasses
import functools
import re
from collections.abc import Sequence

from inference.search.results import SearchHit
from models.match import Cutoffs

# Words that say nothing about a garment; never given as a reason for a match.
FILLER_WORDS = frozenset({
    "an", "the", "and", "or", "but", "with", "in", "on", "of", "for", "to", "this", "that", "like",
    "look", "looks", "looking", "please", "am", "im", "want", "some", "any", "my", "me", "one",
})
_WORD = re.compile(r"[a-z]+")


@functools.cache
def _phrases() -> re.Pattern[str]:
    """The naming vocabulary's phrases of more than one word (garment types, cuts, patterns,
    palette colours), longest first, or any single word."""
    from inference.facets import load_facet_vocabulary
    from inference.palette import load_palette

    vocabulary = load_facet_vocabulary()
    terms = {*vocabulary.patterns, *vocabulary.patterns.values(), *load_palette().names}
    for slot in vocabulary.slots.values():
        terms |= {*slot.types, *(cut for cuts in slot.silhouettes.values() for cut in cuts)}
    phrases = sorted((t for t in terms if not _WORD.fullmatch(t)), key=len, reverse=True)
    return re.compile("|".join([*(rf"\b{re.escape(p)}\b" for p in phrases), _WORD.pattern]))


def _words(text: str) -> list[str]:
    return _phrases().findall(text.lower())


def query_words(text: str | None) -> list[str]:
    """The words of a text query that can describe a garment, in order, once each."""
    if not text:
        return []
    words = [w for w in _words(text) if len(w) > 1 and w not in FILLER_WORDS]  # "a", "i": too short
    return list(dict.fromkeys(words))


def shared_words(words: Sequence[str], style: str | None) -> tuple[str, ...]:
    """The query ``words`` that the style's name also has (the reason a hit matched)."""
    if not style or not words:
        return ()
    named = _style_words(style)
    return tuple(w for w in words if w in named)


@functools.lru_cache(maxsize=4096)
def _style_words(style: str) -> frozenset[str]:
    """A style name's words, read once per name: a search's hits share a few styles."""
    return frozenset(_words(style))


def rate_hits(hits: Sequence[SearchHit], cutoffs: Cutoffs | None, text: str | None) -> list[SearchHit]:
    """The hits with their strength (None without cut-offs) and the words they share with ``text``."""
    words = query_words(text)
    return [
        dataclasses.replace(
            hit,
            strength=cutoffs.strength(hit.score) if cutoffs is not None else None,
            shared_words=shared_words(words, hit.style),
        )
        for hit in hits
    ]


def no_match_notice(hits: Sequence[SearchHit], cutoffs: Cutoffs | None, mode: str | None) -> str | None:
    """The notice shown when even the best hit is weak; None when it is not (or cannot be told)."""
    if cutoffs is None or not hits:
        return None
    best = max(hit.score for hit in hits)
    if cutoffs.strength(best) != "weak":
        return None
    return (
        f"No close match in the catalog: even the best result is a weak match (score {best:.2f}; "
        f"{mode} matches are fair from {cutoffs.fair:.2f} and strong from {cutoffs.strong:.2f})."
    )
