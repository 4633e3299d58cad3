"""The fashion vocabulary of the creator world: garment types, colours, patterns, silhouettes.

A garment is described by its type, main colour, pattern and silhouette; an outfit (a
style's recipe) is a top and a bottom, or one full-length garment (a dress). Captions are
built from the same words, so text queries and retraining captions name what is drawn.
"""

from __future__ import annotations

import dataclasses
from typing import Literal

GarmentKind = Literal["top", "bottom", "full"]

# Garment type -> the kind of garment it is.
GARMENT_TYPES: dict[str, GarmentKind] = {
    "t-shirt": "top",
    "crop top": "top",
    "tank top": "top",
    "shirt": "top",
    "sweater": "top",
    "hoodie": "top",
    "blazer": "top",
    "jeans": "bottom",
    "cargo pants": "bottom",
    "trousers": "bottom",
    "skirt": "bottom",
    "shorts": "bottom",
    "dress": "full",
}
# Types named in the plural ("blue jeans", not "a blue jeans").
PLURAL_TYPES = frozenset({"jeans", "cargo pants", "trousers", "shorts"})

# Colour name -> RGB as drawn (before lighting).
COLOURS: dict[str, tuple[int, int, int]] = {
    "black": (28, 28, 32),
    "white": (236, 236, 230),
    "grey": (128, 128, 132),
    "navy": (28, 38, 92),
    "blue": (40, 92, 190),
    "light blue": (140, 182, 226),
    "red": (192, 32, 38),
    "burgundy": (112, 22, 44),
    "pink": (236, 150, 182),
    "orange": (236, 122, 32),
    "yellow": (240, 208, 52),
    "green": (38, 132, 62),
    "olive": (102, 110, 48),
    "beige": (212, 190, 150),
    "brown": (112, 70, 40),
    "purple": (112, 50, 142),
    "lavender": (182, 160, 222),
}
# Colours a careless eye confuses; lookalike styles swap a colour for its neighbour.
NEAR_COLOURS: dict[str, str] = {
    "navy": "blue",
    "blue": "navy",
    "light blue": "blue",
    "red": "burgundy",
    "burgundy": "red",
    "pink": "lavender",
    "lavender": "pink",
    "green": "olive",
    "olive": "green",
    "beige": "white",
    "white": "beige",
    "black": "grey",
    "grey": "black",
    "orange": "yellow",
    "yellow": "orange",
    "brown": "beige",
    "purple": "lavender",
}
# Pattern name -> the adjective used in captions ("" for solid).
PATTERNS: dict[str, str] = {
    "solid": "",
    "stripes": "striped",
    "plaid": "plaid",
    "polka dots": "polka-dot",
    "floral": "floral",
    "camo": "camo",
    "denim": "denim",
    "checks": "checked",
}
# Silhouettes each garment type can have.
SILHOUETTES_BY_TYPE: dict[str, tuple[str, ...]] = {
    "t-shirt": ("fitted", "oversized"),
    "crop top": ("fitted", "oversized"),
    "tank top": ("fitted", "oversized"),
    "shirt": ("fitted", "oversized"),
    "sweater": ("fitted", "oversized"),
    "hoodie": ("fitted", "oversized"),
    "blazer": ("fitted", "oversized"),
    "jeans": ("skinny", "straight", "wide-leg"),
    "cargo pants": ("straight", "wide-leg", "baggy"),
    "trousers": ("skinny", "straight", "wide-leg"),
    "skirt": ("mini", "midi", "maxi"),
    "shorts": ("fitted", "baggy"),
    "dress": ("mini", "midi", "maxi"),
}
SILHOUETTES: tuple[str, ...] = tuple(
    dict.fromkeys(s for options in SILHOUETTES_BY_TYPE.values() for s in options)
)

VOCABULARY: dict[str, list[str]] = {
    "garment_types": list(GARMENT_TYPES),
    "top_types": [t for t, k in GARMENT_TYPES.items() if k == "top"],
    "bottom_types": [t for t, k in GARMENT_TYPES.items() if k == "bottom"],
    "full_types": [t for t, k in GARMENT_TYPES.items() if k == "full"],
    "colours": list(COLOURS),
    "patterns": list(PATTERNS),
    "silhouettes": list(SILHOUETTES),
    "kinds": ["top", "bottom", "full"],
}


@dataclasses.dataclass(frozen=True)
class GarmentSpec:
    """One garment as a style recipe names it."""

    type: str  # garment type, a key of GARMENT_TYPES
    colour: str  # main colour name, a key of COLOURS
    pattern: str  # pattern name, a key of PATTERNS
    silhouette: str  # one of SILHOUETTES_BY_TYPE[type]
    accent: str = "white"  # second colour of the pattern (stripes, dots, checks ...)

    def __post_init__(self) -> None:
        if self.type not in GARMENT_TYPES:
            raise ValueError(f"unknown garment type {self.type!r}")
        for colour in (self.colour, self.accent):
            if colour not in COLOURS:
                raise ValueError(f"unknown colour {colour!r}")
        if self.pattern not in PATTERNS:
            raise ValueError(f"unknown pattern {self.pattern!r}")
        if self.silhouette not in SILHOUETTES_BY_TYPE[self.type]:
            raise ValueError(f"a {self.type} cannot be {self.silhouette!r}")

    @property
    def kind(self) -> GarmentKind:
        return GARMENT_TYPES[self.type]

    def caption(self) -> str:
        """Attribute caption, e.g. ``"a red plaid mini skirt"`` or ``"navy wide-leg jeans"``."""
        words = [self.colour, PATTERNS[self.pattern], self.silhouette, self.type]
        phrase = " ".join(w for w in words if w)
        if self.type in PLURAL_TYPES:
            return phrase
        article = "an" if phrase[0] in "aeiou" else "a"
        return f"{article} {phrase}"

    def attributes(self) -> dict[str, str]:
        """The attribute words as a dict (type, colour, pattern, silhouette, kind)."""
        return {
            "type": self.type,
            "colour": self.colour,
            "pattern": self.pattern,
            "silhouette": self.silhouette,
            "kind": self.kind,
        }

    def to_dict(self) -> dict[str, str]:
        return dataclasses.asdict(self)
