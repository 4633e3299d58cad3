"""Style names from facets with evidence, per garment slot.

A style is named slot by slot (a top and a bottom, or a dress), never from the outfit's
centroid, so a top's words and a bottom's words do not mix. Each slot gets facets:

- **colour**, measured from the garments' pixels (:mod:`inference.palette`) and named from
  the fashion palette by the colour most garments agree on (:mod:`inference.facet_colour`);
  a print whose two colours fill about as much is left out, or, with ``two_colours``, named
  by both ("black and white"), unless its second colour is a blend (camo, plaid). A
  style is a dress only when its
  top and bottom crops are one colour too (:func:`~inference.facet_colour.two_garments`);
- **type**, **pattern** and **silhouette**, zero-shot with the encoder's text tower: every
  allowed "{pattern} {silhouette} {type}" phrase of the slot is embedded
  (:func:`embed_facet_prompts`), each garment votes for its nearest phrase, and the style's
  value is the best phrase of the mean score;
- **material** and **aesthetic**, the same way, but only when nearly every garment agrees.

A facet's evidence is the share of the slot's garments agreeing with the named value (and,
for encoder facets, the score margin over the runner-up). A facet whose evidence is below
its threshold is left out, never guessed; a slot without a type is called by its slot
("top", "bottom", "dress"). Everything here is pure: callers pass embeddings and images.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from configs import ConfigError, packaged, read_yaml, setting
from core.errors import BadInputError
from inference.facet_colour import (
    Facet,
    colour_facet,
    garment_readings,
    halves,
    outfit_readings,
    probe_colours,
    second_opinion,
    toss_up,
    two_garments,
)
from inference.facet_probe import FacetProbe
from inference.palette import ColourConfig, ColourReading, Palette

SLOTS = ("top", "bottom", "dress")  # name order; a dress replaces top + bottom
ENCODER_FACETS = ("type", "pattern", "silhouette")
EXTRA_FACETS = ("material", "aesthetic")


# ----------------------------------------------------------------------------- vocabulary


@dataclasses.dataclass(frozen=True)
class SlotVocabulary:
    """The garment types of one slot and the silhouettes each comes in."""

    silhouettes: dict[str, tuple[str, ...]]  # type -> the cuts it comes in

    @property
    def types(self) -> list[str]:
        return list(self.silhouettes)


@dataclasses.dataclass(frozen=True)
class FacetVocabulary:
    """Facet words per slot, patterns, and the optional material / aesthetic words."""

    slots: dict[str, SlotVocabulary]  # 'top', 'bottom', 'dress'
    patterns: dict[str, str]  # pattern -> adjective in phrases and names ("" : plain)
    materials: tuple[str, ...] = ()
    aesthetics: tuple[str, ...] = ()
    material_prompt: str = "a {word} garment"
    aesthetic_prompt: str = "a {word} outfit"
    neutral_prompt: str = "a piece of clothing"  # names no facet: a material or aesthetic word must beat it

    def phrases(self, slot: str) -> list[tuple[str, str, str]]:
        """Every allowed (type, pattern, silhouette) of ``slot``."""
        vocab = self.slots[slot]
        return [(t, p, s) for t in vocab.types for p, s in itertools.product(self.patterns, vocab.silhouettes[t])]

    def phrase_text(self, combo: tuple[str, str, str]) -> str:
        garment_type, pattern, silhouette = combo
        return " ".join(w for w in (self.patterns[pattern], silhouette, garment_type) if w)


def load_facet_vocabulary(path: str | Path | None = None) -> FacetVocabulary:
    """Read a facet vocabulary YAML (see ``configs/facets.yaml``).

    Raises:
        BadInputError: the file is missing, not YAML, or not shaped like the packaged one.
    """
    path = Path(path) if path else packaged("facets")
    try:
        raw = read_yaml(path)
        slots = {slot: _slot_vocabulary(raw["slots"][slot]) for slot in SLOTS}
        patterns = {str(k): str(v or "") for k, v in dict(raw["patterns"]).items()}
        vocabulary = FacetVocabulary(
            slots, patterns,
            tuple(map(str, raw.get("materials", []))), tuple(map(str, raw.get("aesthetics", []))),
            str(raw.get("material_prompt", "a {word} garment")), str(raw.get("aesthetic_prompt", "a {word} outfit")),
            str(raw.get("neutral_prompt", "a piece of clothing")),
        )
    except ConfigError as exc:
        raise BadInputError(f"facet vocabulary: {exc}") from None
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise BadInputError(f"facet vocabulary {path} needs slots top/bottom/dress with types, and patterns: {exc!r}") from None
    if not patterns or any("{word}" not in p for p in (vocabulary.material_prompt, vocabulary.aesthetic_prompt)):
        raise BadInputError(f"facet vocabulary {path}: patterns must not be empty and prompts must contain {{word}}")
    return vocabulary


def _slot_vocabulary(raw: dict[str, Any]) -> SlotVocabulary:
    default = tuple(map(str, raw.get("silhouettes", [])))
    silhouettes = {str(t): tuple(map(str, cuts or default)) for t, cuts in dict(raw["types"]).items()}
    if not silhouettes or not all(silhouettes.values()):
        raise ValueError("every slot needs types, and every type at least one silhouette")
    return SlotVocabulary(silhouettes)


@dataclasses.dataclass(frozen=True)
class FacetPrompts:
    """A facet vocabulary embedded by one encoder's text tower (embed once, name many styles)."""

    vocabulary: FacetVocabulary
    phrases: dict[str, list[tuple[str, str, str]]]  # slot -> (type, pattern, silhouette) per row
    vectors: dict[str, np.ndarray]  # slot -> (P, D) unit text vectors of the phrases
    extras: dict[str, tuple[list[str], np.ndarray]]  # 'material' / 'aesthetic' -> words, (W, D)
    neutral: np.ndarray | None = None  # (D,) a phrase naming no facet; an extra word must beat it


def embed_facet_prompts(vocabulary: FacetVocabulary, encoder: Any) -> FacetPrompts:
    """Embed every slot phrase and extra word with ``encoder.encode_text``."""
    phrases = {slot: vocabulary.phrases(slot) for slot in SLOTS}
    vectors = {slot: _unit(encoder.encode_text([vocabulary.phrase_text(c) for c in combos]))
               for slot, combos in phrases.items()}
    extras: dict[str, tuple[list[str], np.ndarray]] = {}
    for facet, words, prompt in (("material", vocabulary.materials, vocabulary.material_prompt),
                                 ("aesthetic", vocabulary.aesthetics, vocabulary.aesthetic_prompt)):
        if words:
            extras[facet] = (list(words), _unit(encoder.encode_text([prompt.format(word=w) for w in words])))
    neutral = _unit(encoder.encode_text([vocabulary.neutral_prompt]))[0]
    return FacetPrompts(vocabulary, phrases, vectors, extras, neutral)


def _unit(vectors: Any) -> np.ndarray:
    array = np.asarray(vectors, np.float32)
    return array / np.maximum(np.linalg.norm(array, axis=-1, keepdims=True), 1e-12)


# ----------------------------------------------------------------------------- names


NAME_ORDER = ("colour", "pattern", "material", "silhouette", "type")


@dataclasses.dataclass(frozen=True)
class SlotName:
    """What one garment slot of a style is called: facet -> (value, evidence)."""

    slot: str  # 'top', 'bottom' or 'dress'
    facets: dict[str, Facet]
    garments: int  # garments the evidence comes from
    colour_scores: Mapping[str, float] = dataclasses.field(default_factory=dict)  # colour left out: the probe's
    # reading, colour -> mean probability (a hint to tell two like-named styles apart, not a name)

    @property
    def lead(self) -> tuple[str, float] | None:
        """The colour the probe reads most likely where the name left colour out, and its probability."""
        return max(self.colour_scores.items(), key=lambda item: item[1]) if self.colour_scores else None

    @property
    def text(self) -> str:
        words = [self._word(f) for f in NAME_ORDER if f in self.facets]
        words = [w for w in words if w]
        if "type" not in self.facets:
            words.append(self.slot)
        # a word the next one repeats says nothing ("denim" before "denim jacket")
        words = [w for i, w in enumerate(words) if not any(set(w.split()) <= set(v.split()) for v in words[i + 1:])]
        return " ".join(words)

    def _word(self, facet: str) -> str:
        value = self.facets[facet].words
        if facet == "pattern":
            return {"solid": ""}.get(value, value)
        return value

    def to_dict(self) -> dict[str, Any]:
        facets = {name: facet.to_dict() for name, facet in self.facets.items()}
        if self.lead is not None:  # left out of the name: no "value", only the probe's hint
            facets["colour"] = {"absent": True, "probe_leading": self.lead[0], "probability": round(self.lead[1], 3)}
        return {"text": self.text, "garments": self.garments, "facets": facets}


@dataclasses.dataclass(frozen=True)
class StyleName:
    """A style's name, per slot, e.g. ``"pink striped tank top + light blue skinny jeans"``."""

    slots: tuple[SlotName, ...]
    aesthetic: Facet | None = None  # a look's aesthetic word, when nearly every garment agrees

    @property
    def text(self) -> str:
        if not any(slot.slot == "dress" or slot.text != slot.slot for slot in self.slots):  # "top + bottom" says nothing
            text = "unnamed style (no facet agreed)" if self.slots else "unnamed style"
            return f"{self.aesthetic.value} {text}" if self.aesthetic else text
        text = " + ".join(slot.text for slot in self.slots)
        return f"{self.aesthetic.value} {text}" if self.aesthetic else text

    def slot(self, name: str) -> SlotName | None:
        return next((s for s in self.slots if s.slot == name), None)

    def to_dict(self) -> dict[str, Any]:
        return {"text": self.text, "slots": {s.slot: s.to_dict() for s in self.slots},
                "aesthetic": self.aesthetic.to_dict() if self.aesthetic else None}


# ----------------------------------------------------------------------------- inputs, config


@dataclasses.dataclass
class SlotGarments:
    """The garments of one catalog kind ('top', 'bottom' or 'full') in one style."""

    embeddings: np.ndarray  # (N, D) garment embeddings, from the encoder whose text tower made the prompts
    images: Sequence[np.ndarray] = ()  # RGB crops, for measuring colour (may be empty when ``colours`` is given)
    colours: Sequence[ColourReading | None] | None = None  # measured colour per garment (None: measure from ``images``)
    reference: np.ndarray | None = None  # mean embedding of every catalog garment of this kind (centres scores)
    frames: Sequence[int] = ()  # frame id per garment: a bottom's colour is measured knowing its frame's top


    def __len__(self) -> int:
        return len(self.embeddings)


@dataclasses.dataclass
class FacetConfig:
    """Evidence a facet needs before it goes into a name."""

    min_evidence: float = setting(0.6, low=0, high=1)  # share of garments agreeing for type / pattern / silhouette
    min_margin: float = setting(0.04, low=0)  # mean-score margin of the value over the best other value
    colour_evidence: float = setting(0.5, low=0, high=1)  # share of garments whose colour agrees with the named one
    colour_match: float = setting(10.0, low=0)  # CIEDE2000 within which two garments' colours agree
    colour_tie: float = setting(0.8, low=0, high=1)  # a far colour backed by this share of the named one's garments: a toss-up, no colour
    family_evidence: float = setting(0.6, low=0, high=1)  # share agreeing on the colour family, when no shade has enough
    extra_evidence: float = setting(0.8, low=0, high=1)  # share agreeing for a material or aesthetic word
    extra_margin: float = setting(0.02, low=0)  # score margin a material or aesthetic word needs
    dress_evidence: float = setting(0.5, low=0, high=1)  # share of garments that must look like a dress (see is_dress)
    dress_lower: str = "skirt"  # the bottom type a dress's lower half reads as
    dress_match: float = setting(15.0, low=0)  # CIEDE2000 within which a frame's top and bottom crops are one garment's colour
    probe_evidence: float = setting(0.6, low=0, high=1)  # share of garments agreeing for a facet probe's type / pattern / silhouette
    # (0.6: at 0.5, on 4 demo worlds, 38% of names carried a facet none of their garments has, 32% at 0.6)
    probe_margin: float = setting(0.1, low=0, high=1)  # mean-probability margin a facet probe's value needs
    probe_precision: float = setting(0.4, low=0, high=1)  # held-out precision a probe's type or pattern needs to be named at all
    probe_colour: str = setting("fill", choices=["off", "veto", "fill"])  # the probe's colour: off, vetoes a far pixel colour, or also fills one in
    probe_veto: float = setting(0.0, low=0)  # CIEDE2000 beyond which a sure probe's colour (of another family) vetoes the pixels'
    # (0: any other family's; 15 let light grey stand against a probe's "white", but named more wrong colours on 4 worlds)
    silhouette_precision: float = setting(0.8, low=0, high=1)  # the same for a silhouette (the cut is the facet most often misread)
    probe_sure: float = setting(0.8, low=0, high=1)  # share of garments a trusted probe pattern needs to overrule the pixels' plain or patterned
    plain_level: float = setting(0.93, low=0, high=1)  # median main-colour share above which garments look plain
    patterned_level: float = setting(0.9, low=0, high=1)  # median main-colour share below which they look patterned
    plain_patterns: list[str] = dataclasses.field(default_factory=lambda: ["solid", "denim"])  # patterns that look plain
    two_colours: bool = False  # a toss-up between a print's two colours names both (off: left out)
    # prints whose second colour in the pixels is the first blended with the accent or shaded (a camo's dark
    # patches, a plaid's crossing bands), not a colour of its own: a toss-up there leaves the colour out
    blended_patterns: list[str] = dataclasses.field(default_factory=lambda: ["camo", "plaid"])
    colour: ColourConfig = dataclasses.field(default_factory=ColourConfig)  # how colour is measured


# ----------------------------------------------------------------------------- naming


def name_style_facets(
    garments: Mapping[str, SlotGarments],
    prompts: FacetPrompts,
    palette: Palette,
    config: FacetConfig | None = None,
    probe: FacetProbe | None = None,
) -> StyleName:
    """Name a style from its garments, slot by slot.

    Args:
        garments: catalog kind ('top', 'bottom', 'full') -> that kind's garments in the style.
        prompts: the facet vocabulary embedded by the encoder that embedded the garments.
        palette: named colours.
        config: evidence thresholds; default :class:`FacetConfig`.
        probe: facet probes of the encoder that embedded the garments; when given, type,
            pattern and silhouette (and whether the style is a dress) come from it instead
            of the text tower's phrases.

    Returns: a dress slot if the full crops look like one, else top and/or bottom slots.
    """
    config = config or FacetConfig()
    present = {kind: g for kind, g in garments.items() if len(g)}
    dress = (probe.dress_share({k: g.embeddings for k, g in present.items()}) >= config.dress_evidence
             if probe and "full" in present else is_dress(present, prompts, config))
    if dress and not two_garments(present, config):
        slots = [name_slot("dress", present["full"], prompts, palette, config, probe=probe)]
    elif "top" in present or "bottom" in present:
        readings = outfit_readings(present, config)
        below = colour_facet(readings["bottom"], palette, config) if "bottom" in readings else None
        slots = [name_slot(kind, present[kind], prompts, palette, config, readings[kind], probe,
                           below if kind == "top" else None) for kind in ("top", "bottom") if kind in present]
    else:  # full-outfit crops of a top and a bottom: each named by colour, from its half of the crops
        uppers, lowers = halves(present["full"].images, config.colour)
        slots = [SlotName(kind, {"colour": colour} if colour else {}, len(present["full"]))
                 for kind, colour in (("top", colour_facet(uppers, palette, config)),
                                      ("bottom", colour_facet(lowers, palette, config)))]
    outfit = present.get("full") or next(iter(present.values()), None)
    aesthetic = _extra("aesthetic", outfit, prompts, config) if outfit is not None else None
    return StyleName(tuple(slots), aesthetic)


def is_dress(garments: Mapping[str, SlotGarments], prompts: FacetPrompts, config: FacetConfig) -> bool:
    """Whether a style is one full-length garment rather than a top and a bottom.

    Both must hold for ``config.dress_evidence`` of the garments: the full crops are
    nearer a dress phrase than any top or bottom phrase, and the bottom crops read as the
    garment a dress's lower half looks like (``config.dress_lower``, a skirt).
    """
    full, bottom = garments.get("full"), garments.get("bottom")
    if full is None or not len(full):
        return False
    x = _unit(full.embeddings)
    best = {slot: (x @ prompts.vectors[slot].T).max(axis=1) for slot in SLOTS}
    if ((best["dress"] > best["top"]) & (best["dress"] > best["bottom"])).mean() < config.dress_evidence:
        return False
    if bottom is not None and len(bottom):
        votes = [prompts.phrases["bottom"][i][0] for i in (_unit(bottom.embeddings) @ prompts.vectors["bottom"].T).argmax(axis=1)]
        if np.mean([v == config.dress_lower for v in votes]) < config.dress_evidence:
            return False
    return True


def name_slot(
    slot: str, garments: SlotGarments, prompts: FacetPrompts, palette: Palette, config: FacetConfig,
    colours: Sequence[ColourReading | None] | None = None, probe: FacetProbe | None = None, other: Facet | None = None,
) -> SlotName:
    """The facets of one slot ('top', 'bottom' or 'dress') whose evidence clears the thresholds.

    ``colours`` (one reading per garment) defaults to ``garments.colours`` or measuring
    ``garments.images``. The pixels also say whether the garment is plain or patterned,
    which narrows the patterns the encoder may choose from (:func:`pattern_choices`). ``other``:
    a top's bottom's colour (:func:`~inference.facet_colour.second_opinion`)."""
    facets: dict[str, Facet] = {}
    readings = garment_readings(slot, garments, config.colour) if colours is None else list(colours)
    colour = colour_facet(readings, palette, config)
    if probe is not None and config.probe_colour != "off" and not toss_up(readings, config):
        colour = second_opinion(colour, "full" if slot == "dress" else slot, garments.embeddings, probe, palette, config,
                                other.value if other else None)
    if colour is not None:
        facets["colour"] = colour
    patterns = pattern_choices(readings, prompts.vocabulary, config)
    if probe is not None:
        facets.update(probe_facets(slot, garments, probe, prompts.vocabulary, config, patterns))
    else:
        facets.update(encoder_facets(slot, garments, prompts, config, patterns))
    if colour is not None and colour.second and _blended(slot, garments, facets, probe, config):
        del facets["colour"]  # which of the two is the garment's colour is a toss-up: left out, never guessed
    material = _extra("material", garments, prompts, config)
    if material is not None and material.value != facets.get("pattern", Facet("", 0)).value:
        facets["material"] = material
    hint = {} if "colour" in facets else probe_colours("full" if slot == "dress" else slot, garments.embeddings,
                                                         probe, palette)
    return SlotName(slot, facets, len(garments), hint)


def _blended(slot: str, garments: SlotGarments, facets: Mapping[str, Facet], probe: FacetProbe | None,
             config: FacetConfig) -> bool:
    """Whether a slot's print is one whose second colour is a blend (``config.blended_patterns``):
    by its named pattern, or, when none was named, by the probe's likeliest one."""
    if "pattern" in facets:
        return facets["pattern"].value in config.blended_patterns
    head = probe.head("full" if slot == "dress" else slot, "pattern") if probe is not None else None
    if head is None or not len(garments):
        return False
    return head.classes[int(head.probabilities(garments.embeddings).mean(axis=0).argmax())] in config.blended_patterns


def pattern_choices(
    readings: Sequence[ColourReading | None], vocabulary: FacetVocabulary, config: FacetConfig
) -> set[str] | None:
    """Patterns the pixels allow: plain-looking ones when the garments are nearly one colour,
    patterned ones when they clearly are not, and any (None) in between or without readings."""
    shares = [r.main_share for r in readings if r is not None]
    if not shares:
        return None
    median = float(np.median(shares))
    if median >= config.plain_level:
        return {p for p in vocabulary.patterns if p in config.plain_patterns}
    if median < config.patterned_level:
        return {p for p in vocabulary.patterns if p != "solid"}
    return None


def encoder_facets(
    slot: str, garments: SlotGarments, prompts: FacetPrompts, config: FacetConfig, patterns: set[str] | None = None
) -> dict[str, Facet]:
    """Type, pattern and silhouette of a slot from the text tower, with evidence.

    Scores are cosine similarities to every phrase, less the mean catalog garment's
    (``garments.reference``) so that phrases near every garment do not win everywhere. The
    style's value of a facet is the best phrase's value in the garments' mean score; its
    evidence is the share of garments whose own best phrase has that value; its margin is
    how far the best phrase with that value beats the best phrase with another value.
    ``patterns`` (when given and not empty) keeps only phrases with those patterns.
    """
    combos, vectors = prompts.phrases[slot], prompts.vectors[slot]
    keep = [i for i, c in enumerate(combos) if not patterns or c[1] in patterns]
    combos, vectors = [combos[i] for i in keep], vectors[keep]
    scores = _unit(garments.embeddings) @ vectors.T
    if garments.reference is not None:
        scores = scores - _unit(garments.reference) @ vectors.T
    mean = scores.mean(axis=0)
    best = combos[int(np.argmax(mean))]
    votes = [combos[i] for i in scores.argmax(axis=1)]
    facets = {}
    for position, facet in enumerate(ENCODER_FACETS):
        value = best[position]
        rows = np.asarray([c[position] == value for c in combos])
        margin = float(mean[rows].max() - mean[~rows].max()) if (~rows).any() else float("inf")
        evidence = sum(v[position] == value for v in votes) / len(votes)
        if evidence >= config.min_evidence and margin >= config.min_margin:
            facets[facet] = Facet(value, evidence, margin if np.isfinite(margin) else 0.0)
    return facets


def probe_facets(
    slot: str, garments: SlotGarments, probe: FacetProbe, vocabulary: FacetVocabulary, config: FacetConfig,
    patterns: set[str] | None = None,
) -> dict[str, Facet]:
    """Type, pattern and silhouette of a slot from the facet probe, with evidence.

    The style's value of a facet is the class with the highest mean probability over its
    garments (patterns limited to ``patterns`` when the pixels decide plain or patterned);
    its evidence is the share of garments whose own most likely class it is, its margin the
    mean probability over the runner-up's, all among the allowed classes' probabilities renormalised
    (a bottom type head's "dress half" class is no bottom type). A value the probe was often wrong about on worlds
    it was not fitted on (``config.probe_precision``) is left out, as is a silhouette the named type does not
    come in ("mini jeans"), and a pattern where the pixels and the probe disagree on plain vs patterned."""
    kind = "full" if slot == "dress" else slot
    facets: dict[str, Facet] = {}
    for facet in ENCODER_FACETS:
        head = probe.head(kind, facet)
        if head is None:
            continue
        probabilities = head.probabilities(garments.embeddings)
        gate = patterns if facet == "pattern" and not _overrules(head, probabilities, config) else None
        allowed = np.asarray([not gate or c in gate for c in head.classes])
        if facet == "type":
            allowed &= np.asarray([c in vocabulary.slots[slot].silhouettes for c in head.classes])
        if not allowed.any():
            continue
        if gate and head.classes[int(probabilities.mean(axis=0).argmax())] not in gate:
            continue
        probabilities = probabilities[:, allowed]
        probabilities = probabilities / np.maximum(probabilities.sum(axis=1, keepdims=True), 1e-12)
        classes = [c for c, keep in zip(head.classes, allowed, strict=True) if keep]
        mean = probabilities.mean(axis=0)
        order = np.argsort(mean)[::-1]
        margin = float(mean[order[0]] - mean[order[1]]) if len(order) > 1 else float(mean[order[0]])
        evidence = float(np.mean(probabilities.argmax(axis=1) == order[0]))
        floor = config.silhouette_precision if facet == "silhouette" else config.probe_precision
        trusted = bool(head.trusted(floor)[np.flatnonzero(allowed)[order[0]]])
        if trusted and evidence >= config.probe_evidence and margin >= config.probe_margin:
            facets[facet] = Facet(classes[int(order[0])], evidence, margin)
    named_type = facets.get("type")
    if (named_type is not None and "silhouette" in facets
            and facets["silhouette"].value not in vocabulary.slots[slot].silhouettes[named_type.value]):
        del facets["silhouette"]
    return facets


def _overrules(head: Any, probabilities: np.ndarray, config: FacetConfig) -> bool:
    """Whether the probe is sure enough of a value (``config.probe_sure`` of the garments, a
    trusted value) to overrule the pixels: a low-contrast print (navy and purple camo) looks
    plain to the colour measure, not to the probe."""
    best = int(probabilities.mean(axis=0).argmax())
    sure = float(np.mean(probabilities.argmax(axis=1) == best)) >= config.probe_sure
    return sure and bool(head.trusted(config.probe_precision)[best])


def _extra(facet: str, garments: SlotGarments, prompts: FacetPrompts, config: FacetConfig) -> Facet | None:
    if facet not in prompts.extras:
        return None
    words, vectors = prompts.extras[facet]
    x = _unit(garments.embeddings)
    scores = x @ vectors.T
    # a garment votes for a word only when the word fits it better than a phrase naming nothing
    lift = scores - (x @ prompts.neutral)[:, None] if prompts.neutral is not None else scores
    best = int(np.argmax(lift.mean(axis=0)))
    margin = float(lift[:, best].mean())
    evidence = float(((lift.argmax(axis=1) == best) & (lift[:, best] >= config.extra_margin)).mean())
    if evidence >= config.extra_evidence and margin >= config.extra_margin:
        return Facet(words[best], evidence, margin)
    return None
