"""Scoring style names on a creator world: is what a name says true of the style's garments?

Each predicted style's true outfit is the majority true style of its matched garments; each
true slot (a top and a bottom, or a dress) has a true type, colour, pattern and silhouette,
the majority over the style's garments of that kind. A name's facets (stored with the style,
:func:`inference.trends.facet_names.facet_evidence`) are read per slot and scored:

- **accuracy** per facet: the share of true slots whose named value equals the true one (a
  facet left out counts as a miss); **named** and **precision**: how often it was named, and
  right when named;
- **wrong names**: the share of style names carrying a value none of the style's garments has
  (``wrong_lenient`` also accepts a pattern's second colour as the colour).

A two-colour name ("black and white checks", named when the pixels are a toss-up between a
print's colours) is right when its two colours are the slot's true main and accent colours,
in either order (which of a check's two colours the recipe calls "main" the pixels cannot
tell); ``pairs`` counts such names and ``pair_match`` those right.

A palette colour is read as its nearest world colour (CIEDE2000); pattern words through the
adjective both vocabularies use ("polka dot" -> "polka dots").
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

from inference.palette import Palette, ciede2000, load_palette, srgb_to_lab
from world.scorer import ANSWERS_DIR, TRUTH_FILE, AnswerKey
from world.styles import Garment, style_from_json
from world.vocabulary import COLOURS

FACETS = ("type", "colour", "pattern", "silhouette")
NAME_PATTERNS = {"solid": "solid", "striped": "stripes", "stripes": "stripes", "plaid": "plaid", "checked": "checks",
                 "polka dot": "polka dots", "polka dots": "polka dots", "floral": "floral", "camo": "camo",
                 "camouflage": "camo", "denim": "denim"}  # naming word -> the world's pattern


class WorldColours:
    """Reads a palette name as the nearest world colour."""

    def __init__(self, palette: Palette):
        self.palette = palette
        self.names = list(COLOURS)
        self.labs = srgb_to_lab(np.asarray([COLOURS[n] for n in self.names]))

    def __call__(self, name: str) -> str | None:
        if name in COLOURS:
            return name
        try:
            lab = np.asarray(self.palette.colour(name).lab)
        except KeyError:
            return None
        return self.names[int(ciede2000(lab[None], self.labs).argmin())]


def world_outfits(answer: AnswerKey) -> dict[str, dict[str, Garment]]:
    """True style -> its slots: {"dress": garment} or {"top": ..., "bottom": ...}."""
    assert answer.folder is not None, "the answer key was not read from a world folder"
    payload = json.loads((answer.folder / ANSWERS_DIR / TRUTH_FILE).read_text(encoding="utf-8"))
    outfits = {}
    for raw in payload["styles"]:
        if not raw.get("top"):  # a hand-made key without recipes
            continue
        style = style_from_json(raw)
        outfits[str(raw["id"])] = {"dress": style.top} if style.bottom is None else {"top": style.top, "bottom": style.bottom}
    return outfits


def slot_truth(ids: Iterable[int], kinds: Mapping[int, str], truth: Mapping[int, dict[str, Garment]]) -> dict[str, dict[str, Any]]:
    """Per true slot of a style's majority outfit: majority facet values and every value present."""
    ids = [i for i in ids if i in truth]
    outfits = Counter(tuple(sorted(truth[i])) for i in ids)
    if not outfits:
        return {}
    result: dict[str, dict[str, Any]] = {}
    for slot in outfits.most_common(1)[0][0]:
        members = [truth[i][slot] for i in ids if slot in truth[i] and (slot == "dress" or kinds[i] == slot)]
        members = members or [truth[i][slot] for i in ids if slot in truth[i]]
        values = {"type": [g.type for g in members], "colour": [g.colour for g in members],
                  "pattern": [g.pattern for g in members], "silhouette": [g.silhouette for g in members]}
        result[slot] = {
            "majority": {f: Counter(v).most_common(1)[0][0] for f, v in values.items()},
            "present": {f: set(v) for f, v in values.items()},
            "accents": {g.colour2 for g in members},
            "accent": Counter(g.colour2 for g in members).most_common(1)[0][0],
        }
    return result


def named_facets(facets: Mapping[str, Mapping[str, Any]]) -> dict[str, str]:
    """A stored slot's named facets (facet -> value), a two-colour name's second colour as
    ``colour2``."""
    named = {f: str(v["value"]) for f, v in facets.items() if "value" in v}
    second = (facets.get("colour") or {}).get("second")
    return {**named, "colour2": str(second)} if second else named


def world_claims(facets: Mapping[str, str], colours: WorldColours) -> dict[str, str | None]:
    """One slot's named facets (facet -> naming word) in the world's words (None: a word the
    world does not have)."""
    claims: dict[str, str | None] = {}
    for facet, value in facets.items():
        if facet in ("colour", "colour2"):
            claims[facet] = colours(value)
        elif facet == "pattern":
            claims[facet] = NAME_PATTERNS.get(value)
        elif facet == "material":
            claims[facet] = "denim" if value == "denim" else None
        elif facet in FACETS:
            claims[facet] = value
    return claims


def slot_claims(slot: str, facets: Mapping[str, str], colours: WorldColours) -> dict[str, str | None]:
    """:func:`world_claims` of one named slot; a dress slot's name says its type ("beige dress")
    without a type facet, so it claims the type 'dress' (wrong when the garments are a top and
    a bottom)."""
    claims = world_claims(facets, colours)
    if slot == "dress":
        claims.setdefault("type", "dress")
    return claims


def score_claims(claims: Mapping[str, Mapping[str, str | None]], truth: Mapping[str, dict[str, Any]]) -> dict[str, Any]:
    """Per facet: matches / named over the true slots; whether any claim is wrong (strict, lenient)."""
    out: dict[str, Any] = {f: {"match": 0, "named": 0} for f in FACETS}
    out["pairs"] = out["pair_match"] = 0
    wrong = lenient = False
    for slot, facts in truth.items():
        said = claims.get(slot, {})
        for facet in FACETS:
            if facet in said:
                out[facet]["named"] += 1
                out[facet]["match"] += _matches(facet, said, facts)
        if "colour2" in said:
            out["pairs"] += 1
            out["pair_match"] += _matches("colour", said, facts)
    for slot, said in claims.items():
        known: dict[str, Any] | None = truth.get(slot)
        pair = "colour2" in said
        for facet, value in said.items():
            if facet == "material":
                has = value == "denim" and known is not None and "denim" in known["present"]["pattern"]
                wrong, lenient = wrong or not has, lenient or not has
                continue
            if pair and facet in ("colour", "colour2"):  # a print's two colours: each is its main or its accent
                has = known is not None and value in known["present"]["colour"] | known["accents"]
                wrong, lenient = wrong or not has, lenient or not has
                continue
            has = known is not None and value in known["present"][facet]
            wrong |= not has
            lenient |= not (has or (facet == "colour" and known is not None and value in known["accents"]))
    out["slots"] = len(truth)
    out["wrong"], out["wrong_lenient"] = wrong, lenient
    return out


def _matches(facet: str, said: Mapping[str, str | None], facts: Mapping[str, Any]) -> bool:
    """Whether a slot's named ``facet`` is its true majority value; a two-colour name, whether
    its colours are the true main and accent colours."""
    if facet == "colour" and "colour2" in said:
        return {said["colour"], said["colour2"]} == {facts["majority"]["colour"], facts["accent"]}
    return said[facet] == facts["majority"][facet]


def summarise(scores: list[dict[str, Any]]) -> dict[str, Any]:
    """Accuracy, named share and precision per facet over every style's slots; wrong-name shares."""
    slots = sum(s["slots"] for s in scores) or 1
    summary: dict[str, Any] = {}
    for facet in FACETS:
        match = sum(s[facet]["match"] for s in scores)
        named = sum(s[facet]["named"] for s in scores)
        summary[facet] = {"accuracy": round(match / slots, 3), "named": round(named / slots, 3),
                          "precision": round(match / named, 3) if named else None}
    summary["wrong"] = round(float(np.mean([s["wrong"] for s in scores])), 3) if scores else None
    summary["wrong_lenient"] = round(float(np.mean([s["wrong_lenient"] for s in scores])), 3) if scores else None
    summary["styles"], summary["slots"] = len(scores), sum(s["slots"] for s in scores)
    summary["colour"]["pairs"] = sum(s.get("pairs", 0) for s in scores)
    summary["colour"]["pairs_right"] = sum(s.get("pair_match", 0) for s in scores)
    return summary


def score_names(
    answer: AnswerKey,
    true_style: Mapping[int, str],
    members: Mapping[int, list[int]],
    kinds: Mapping[int, str],
    names: Mapping[int, dict[str, Any] | None],
    palette: Palette | None = None,
) -> dict[str, Any] | None:
    """Naming accuracy of the stored facet names.

    Args:
        answer: the world's answer key (read from its folder: the recipes are needed).
        true_style: catalog garment id -> the true style it shows (matched garments only).
        members: catalog style id -> its garment ids.
        kinds: catalog garment id -> 'top', 'bottom' or 'full'.
        names: catalog style id -> its stored facet evidence (None: not named by facets).

    Returns:
        The summary (see :func:`summarise`), or None when no style has facet names or the
        answer key has no recipes.
    """
    outfits = world_outfits(answer)
    if not outfits:
        return None
    colours = WorldColours(palette or load_palette())
    truth = {g: outfits[s] for g, s in true_style.items() if s in outfits}
    scores = []
    for style, garments in members.items():
        evidence = names.get(style)
        facts = slot_truth(garments, kinds, truth)
        if not evidence or not facts:
            continue
        claims = {slot: slot_claims(slot, named_facets(entry["facets"]), colours)
                  for slot, entry in evidence.get("slots", {}).items()}
        scores.append(score_claims(claims, facts))
    return summarise(scores) if scores else None
