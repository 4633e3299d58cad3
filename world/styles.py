"""Outfit recipes: the styles of the creator world, with near-lookalikes.

A style is one outfit: a top and a bottom (or a dress, which is both), each with a garment
type, a main and a second colour, a pattern and a silhouette. Its description is a caption
in the words a forecaster would use ("red plaid mini skirt, cream oversized hoodie").
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from world.vocabulary import (
    COLOURS,
    GARMENT_TYPES,
    NEAR_COLOURS,
    PATTERNS,
    SILHOUETTES_BY_TYPE,
    GarmentSpec,
)

# Denim comes in these colours of the shared vocabulary.
DENIM_COLOURS = ("blue", "light blue", "navy", "black")
DENIM_TYPES = ("jeans",)
TOPS = tuple(t for t, kind in GARMENT_TYPES.items() if kind == "top")
BOTTOMS = tuple(t for t, kind in GARMENT_TYPES.items() if kind == "bottom")
DRESS = "dress"
FABRIC_PATTERNS = tuple(p for p in PATTERNS if p != "denim")


@dataclasses.dataclass(frozen=True)
class Garment:
    """One garment of an outfit recipe."""

    type: str  # t-shirt, hoodie, jeans, skirt, dress ...
    colour: str  # main colour name (a key of world.vocabulary.COLOURS)
    rgb: tuple[int, int, int]  # RGB of the main colour
    pattern: str  # a key of world.vocabulary.PATTERNS (solid, stripes, plaid, denim ...)
    colour2: str  # second colour of the pattern
    rgb2: tuple[int, int, int]  # RGB of the second colour
    silhouette: str  # one of world.vocabulary.SILHOUETTES_BY_TYPE[type]

    def spec(self) -> GarmentSpec:
        """The garment in the shared vocabulary (world/vocabulary.py)."""
        return GarmentSpec(self.type, self.colour, self.pattern, self.silhouette, self.colour2)

    def describe(self) -> str:
        """Caption, e.g. ``"a red plaid mini skirt"`` (the words encoders are trained on)."""
        return self.spec().caption()


@dataclasses.dataclass(frozen=True)
class Style:
    """An outfit recipe; ``bottom`` is None for a dress."""

    id: int  # style id in the answer key
    top: Garment  # the top, or the dress
    bottom: Garment | None  # the bottom; None when the top is a dress
    trending: bool  # True: has an originator and a curve; False: background, flat share
    lookalike_of: int | None  # id of the style it is a near-copy of

    def describe(self) -> str:
        if self.bottom is None:
            return self.top.describe()
        return f"{self.bottom.describe()}, {self.top.describe()}"

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "description": self.describe(),
            "trending": self.trending,
            "lookalike_of": self.lookalike_of,
            "top": dataclasses.asdict(self.top),
            "bottom": dataclasses.asdict(self.bottom) if self.bottom else None,
        }


def _pick(rng: np.random.Generator, options: tuple[str, ...] | list[str]) -> str:
    return str(options[int(rng.integers(len(options)))])


def _colour_pair(rng: np.random.Generator) -> tuple[str, str]:
    names = list(COLOURS)
    first = _pick(rng, names)
    second = _pick(rng, [n for n in names if n != first])
    return first, second


def random_garment(rng: np.random.Generator, slot: str) -> Garment:
    """A random garment for ``slot`` ('top', 'bottom' or 'dress')."""
    colour, colour2 = _colour_pair(rng)
    kind = DRESS if slot == "dress" else _pick(rng, TOPS if slot == "top" else BOTTOMS)
    silhouette = _pick(rng, SILHOUETTES_BY_TYPE[kind])
    pattern = _pick(rng, FABRIC_PATTERNS)
    if kind in DENIM_TYPES:
        colour, pattern = _pick(rng, DENIM_COLOURS), "denim"
    return Garment(kind, colour, COLOURS[colour], pattern, colour2, COLOURS[colour2], silhouette)


def lookalike(rng: np.random.Generator, garment: Garment) -> Garment:
    """Same type, pattern and silhouette in a colour a careless eye confuses (NEAR_COLOURS).

    The main colour moves to its near neighbour when it has one, otherwise the second
    colour does; so a lookalike is drawn differently, but only just.
    """
    if garment.colour in NEAR_COLOURS and (garment.pattern == "denim" or rng.random() < 0.75):
        colour = NEAR_COLOURS[garment.colour]
        return dataclasses.replace(garment, colour=colour, rgb=COLOURS[colour])
    colour2 = NEAR_COLOURS.get(garment.colour2, garment.colour2)
    if colour2 == garment.colour:  # keep the pattern visible
        colour2 = garment.colour2
    return dataclasses.replace(garment, colour2=colour2, rgb2=COLOURS[colour2])


def _signature(style: Style) -> tuple[Any, ...]:
    parts = [style.top] + ([style.bottom] if style.bottom else [])
    return tuple((g.type, g.colour, g.pattern, g.colour2, g.silhouette) for g in parts)


def style_signature(style: Style) -> tuple[Any, ...]:
    """What makes two styles look the same: garment types, colours, patterns, silhouettes."""
    return _signature(style)


def make_styles(
    rng: np.random.Generator, trending: int, background: int, lookalike_rate: float
) -> list[Style]:
    """``trending`` + ``background`` distinct outfit recipes; ids 0.. trending first.

    With probability ``lookalike_rate`` a style copies an earlier one's outfit with one
    garment in a near colour (navy for blue, burgundy for red ...), so near-lookalikes
    exist among both trending and background styles. No two styles look the same.
    """
    styles: list[Style] = []
    seen: set[tuple[Any, ...]] = set()
    total = trending + background
    while len(styles) < total:
        sid = len(styles)
        is_trending = sid < trending
        if styles and rng.random() < lookalike_rate:
            base = styles[int(rng.integers(len(styles)))]
            changed = base.bottom is not None and rng.random() < 0.5
            top = base.top if changed else lookalike(rng, base.top)
            bottom = lookalike(rng, base.bottom) if changed and base.bottom else base.bottom
            candidate = Style(sid, top, bottom, is_trending, base.id)
            if _signature(candidate) not in seen:
                seen.add(_signature(candidate))
                styles.append(candidate)
            continue
        if rng.random() < 0.15:
            style = Style(sid, random_garment(rng, "dress"), None, is_trending, None)
        else:
            style = Style(sid, random_garment(rng, "top"), random_garment(rng, "bottom"), is_trending, None)
        if _signature(style) in seen:
            continue
        seen.add(_signature(style))
        styles.append(style)
    return styles


def style_from_json(payload: dict[str, Any]) -> Style:
    """Inverse of :meth:`Style.to_json`."""

    def garment(values: dict[str, Any] | None) -> Garment | None:
        if values is None:
            return None
        values = dict(values)
        values["rgb"] = tuple(values["rgb"])
        values["rgb2"] = tuple(values["rgb2"])
        return Garment(**values)

    top = garment(payload["top"])
    assert top is not None
    return Style(payload["id"], top, garment(payload["bottom"]), payload["trending"], payload["lookalike_of"])
