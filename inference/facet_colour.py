"""A style slot's colour from its garments' measured colours, and whether an outfit is one garment.

Each garment's crop gives a :class:`~inference.palette.ColourReading`: its main colour and,
for a print of two colours that fill about as much of it (checks), the other one. A slot's
colour is the Lab colour most garments agree on (:func:`colour_consensus`), named by the
shade most of the agreeing garments take, so shades that a light or a print pulls apart ("olive" in one frame,
"khaki green" in the next) still agree, and the name is the shade they agree on, not the
family's own colour. A slot whose garments are a toss-up between two colours (a check, wide
stripes) is left out, or (``two_colours``) named by both, main first ("black and white"), when
each is backed by enough of them; two shades of one family are that family. A dress is one fabric from the shoulders down: when the top and bottom crops of the
same frames are clearly different colours (:func:`one_garment_share`), the outfit is a top and
a bottom whatever else says dress.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

import numpy as np

from inference.facet_probe import FacetProbe
from inference.palette import ColourConfig, ColourReading, Palette, ciede2000, read_colour


class Crops(Protocol):
    """A slot's garments as colour is read from them (:class:`inference.facets.SlotGarments`)."""

    @property
    def images(self) -> Sequence[np.ndarray]: ...  # RGB crops
    @property
    def colours(self) -> Sequence[ColourReading | None] | None: ...  # readings already made (None: read the crops)
    @property
    def frames(self) -> Sequence[int]: ...  # frame id per garment


@dataclasses.dataclass(frozen=True)
class Facet:
    """A named facet and the evidence for it."""

    value: str
    evidence: float  # share of the slot's garments agreeing with ``value``
    margin: float = 0.0  # score margin over the runner-up (encoder facets; 0 for colour)
    second: str | None = None  # colour only: a print's other colour when the two fill about as much (a toss-up)

    @property
    def words(self) -> str:
        """How the facet reads in a name: "black", or "black and white" for a two-colour print."""
        return f"{self.value} and {self.second}" if self.second else self.value

    def to_dict(self) -> dict[str, Any]:
        extra = {"second": self.second} if self.second else {}
        return {"value": self.value, **extra, "evidence": round(self.evidence, 3), "margin": round(self.margin, 4)}


@dataclasses.dataclass(frozen=True)
class Consensus:
    """The colour a slot's garments agree on."""

    lab: np.ndarray | None  # median Lab of the agreeing garments; None when none was measured
    agreeing: np.ndarray  # (A, 3) the agreeing garments' colours, one per garment
    evidence: float  # share of all the slot's garments that agree
    rival: float  # how many garments back the best colour farther than the match, per agreeing garment (a toss-up: near 1)
    rival_agreeing: np.ndarray = dataclasses.field(default_factory=lambda: np.zeros((0, 3)))  # that far colour's backers' colours
    leads: tuple[int, int] = (0, 0)  # garments whose main colour (not a print's second) backs the best colour, the far one


def colour_consensus(readings: Sequence[ColourReading | None], match: float) -> Consensus:
    """The Lab colour most garments' readings lie within ``match`` (CIEDE2000) of.

    A garment backs a colour with its main colour or, when its print's second colour fills
    about as much (``ColourReading.second``), with either. Evidence counts every garment,
    a crop whose colour could not be measured against the name.
    """
    candidates: list[np.ndarray] = []
    owners: list[int] = []
    mains: list[bool] = []
    for n, reading in enumerate(readings):
        if reading is None:
            continue
        for lab, is_main in ((reading.lab, True), (reading.second, False)):
            if lab is not None:
                candidates.append(np.asarray(lab, np.float64))
                owners.append(n)
                mains.append(is_main)
    if not candidates:
        return Consensus(None, np.zeros((0, 3)), 0.0, 0.0)
    labs, owner, main = np.stack(candidates), np.asarray(owners), np.asarray(mains)
    close = ciede2000(labs[:, None, :], labs[None, :, :]) <= match
    backers = [set(owner[row].tolist()) for row in close]
    support = np.asarray([len(b) for b in backers])
    best = int(np.argmax(support))
    agreeing = [int(np.flatnonzero(close[best] & (owner == n))[0]) for n in sorted(backers[best])]
    lab = np.median(labs[agreeing], axis=0)
    far = ciede2000(labs, lab[None, :]) > 2 * match
    if not far.any():
        return Consensus(lab, labs[agreeing], float(support[best] / len(readings)), 0.0)
    runner = int(np.flatnonzero(far)[np.argmax(support[far])])
    rival_rows = [int(np.flatnonzero(close[runner] & (owner == n))[0]) for n in sorted(backers[runner])]
    return Consensus(lab, labs[agreeing], float(support[best] / len(readings)), float(support[runner] / support[best]),
                     labs[rival_rows], (int(main[agreeing].sum()), int(main[rival_rows].sum())))


def colour_facet(readings: Sequence[ColourReading | None], palette: Palette, config: Any) -> Facet | None:
    """The palette colour a slot's garments agree on, or None without enough agreement.

    ``config`` is a :class:`inference.facets.FacetConfig`: the garments must agree within
    ``colour_match`` for ``colour_evidence`` of them. A second, far colour backed nearly as well
    (``colour_tie``) makes a toss-up: both are named (``Facet.second``) when ``two_colours``
    is set and each has ``colour_evidence`` of the garments, else the colour is left out; two shades of one
    family (a camo's light and dark) are named by the family ("orange" for rust and terracotta). When no shade has enough, the family most
    garments fall in is named by the shade nearest those garments' median colour, when
    ``family_evidence`` of them agree ("olive" and "khaki green" garments stay "olive").
    """
    consensus = colour_consensus(readings, config.colour_match)
    if consensus.lab is None:
        return None
    if consensus.rival >= config.colour_tie:
        if consensus.evidence * min(consensus.rival, 1.0) < config.colour_evidence:
            return None
        pair = [_shade(palette, agreeing) for agreeing in (consensus.agreeing, consensus.rival_agreeing)]
        main, other = pair if consensus.leads[0] >= consensus.leads[1] else pair[::-1]
        if palette.family(main) == palette.family(other):  # one colour printed in a light and a dark shade (camo)
            return Facet(palette.family(main), consensus.evidence)
        return Facet(main, consensus.evidence, second=other) if config.two_colours else None
    if consensus.evidence >= config.colour_evidence:
        return Facet(_shade(palette, consensus.agreeing), consensus.evidence)
    measured = [r.lab for r in readings if r is not None]
    names, _ = palette.nearest(np.stack(measured))
    family, count = Counter(palette.family(n) for n in names).most_common(1)[0]
    if count / len(readings) < config.family_evidence:
        return None
    members = np.stack([lab for lab, n in zip(measured, names, strict=True) if palette.family(n) == family])
    return _family_shade(palette, family, members, count / len(readings))


def probe_colours(kind: str, embeddings: np.ndarray, probe: FacetProbe | None, palette: Palette) -> dict[str, float]:
    """The facet probe's colour reading of one catalog kind's garments: palette colour -> mean
    probability ({} without a probe or garments). Not a name when the colour was left out, but
    a hint to tell apart two styles whose names are otherwise the same
    (:func:`inference.trends.facet_names.unique_names`)."""
    head = probe.head(kind, "colour") if probe is not None else None
    if head is None or not len(embeddings):
        return {}
    mean = head.probabilities(embeddings).mean(axis=0)
    return {c: round(float(p), 4) for c, p in zip(head.classes, mean, strict=True) if c in palette.names}


def _family_shade(palette: Palette, family: str, members: np.ndarray, evidence: float) -> Facet:
    """The shade of ``family`` nearest the median of its garments' colours ``members``."""
    shades = [c for c in palette.colours if c.family == family]
    table = np.asarray([c.lab for c in shades], np.float64)
    nearest = int(ciede2000(np.median(members, axis=0)[None, :], table).argmin())
    return Facet(shades[nearest].name, evidence)


def _shade(palette: Palette, agreeing: np.ndarray) -> str:
    """The palette shade most of the agreeing garments' colours take."""
    return str(Counter(palette.nearest(agreeing)[0]).most_common(1)[0][0])


def second_opinion(colour: Facet | None, kind: str, embeddings: np.ndarray, probe: FacetProbe, palette: Palette,
                   config: Any, other: str | None = None) -> Facet | None:
    """The pixel colour checked against the probe's reading of the embeddings of one catalog
    kind: when the probe is sure (evidence, held-out precision) of a colour of another family
    and far from the pixels' (``config.probe_veto``), the pixels were misled (a print's
    accent, the light) and the colour is left out; with ``probe_colour`` "fill", a colour the
    pixels could not settle takes the probe's when it is a palette colour. A probe colour
    within ``colour_match`` of ``other`` (a top's: its bottom's colour) is that garment showing
    in the crop (a short top's crop reaches the jeans): it neither vetoes nor fills."""
    head = probe.head(kind, "colour")
    if head is None or not len(embeddings):
        return colour
    probabilities = head.probabilities(embeddings)
    best = int(probabilities.mean(axis=0).argmax())
    evidence = float(np.mean(probabilities.argmax(axis=1) == best))
    if evidence < config.min_evidence or not head.trusted(config.probe_precision)[best]:
        return colour
    value = head.classes[best]
    if value not in palette.names or (other is not None and _gap(palette, other, value) <= config.colour_match):
        return colour
    if colour is None:
        return Facet(value, evidence) if config.probe_colour == "fill" else None
    if palette.family(colour.value) == palette.family(value):  # a family is a palette colour too
        return colour
    return colour if _gap(palette, colour.value, value) <= config.probe_veto else None


def _gap(palette: Palette, first: str, second: str) -> float:
    """CIEDE2000 between two palette colours, by name."""
    return float(ciede2000(np.asarray(palette.colour(first).lab), np.asarray(palette.colour(second).lab)))


def toss_up(readings: Sequence[ColourReading | None], config: Any) -> bool:
    """Whether the garments back two far-apart colours about equally (a two-colour check):
    then neither is the garment's colour, and no second opinion should pick one."""
    return colour_consensus(readings, config.colour_match).rival >= config.colour_tie


def slot_readings(
    images: Sequence[np.ndarray], kind: str, config: ColourConfig, frames: Sequence[int] = (),
    above: Mapping[int, np.ndarray] | None = None, below: Mapping[int, np.ndarray] | None = None,
) -> list[ColourReading | None]:
    """The measured colour of each crop of one catalog kind ('top', 'bottom', 'full');
    a bottom's knowing the colour of its frame's top (``above``, frame -> Lab), a top's the
    colour of its frame's bottom (``below``)."""
    if not frames:  # no frames: no neighbour to know
        return [read_colour(image, kind, config) for image in images]
    above, below = above or {}, below or {}
    return [read_colour(image, kind, config, above.get(frame), below.get(frame))
            for image, frame in zip(images, frames, strict=True)]


def garment_readings(slot: str, garments: Crops, config: ColourConfig, above: Mapping[int, np.ndarray] | None = None,
                     below: Mapping[int, np.ndarray] | None = None) -> list[ColourReading | None]:
    """The measured colour of each garment of a slot ('top', 'bottom' or 'dress'): the colours
    it was given, or :func:`slot_readings` of its crops."""
    if garments.colours is not None:
        return list(garments.colours)
    return slot_readings(garments.images, "full" if slot == "dress" else slot, config, garments.frames, above, below)


def outfit_readings(present: Mapping[str, Crops], config: Any) -> dict[str, list[ColourReading | None]]:
    """Measured colour per top and bottom garment; a bottom's knowing its frame's top."""
    readings = {"top": garment_readings("top", present["top"], config.colour)} if "top" in present else {}
    if "bottom" in present:
        top, bottom = present.get("top"), present["bottom"]
        readings["bottom"] = garment_readings("bottom", bottom, config.colour,
                                              by_frame(top.frames, readings["top"]) if top else None)
        if top is not None:  # again, knowing the bottom below (a short top's crop reaches it)
            readings["top"] = garment_readings("top", top, config.colour, below=by_frame(bottom.frames, readings["bottom"]))
    return readings


def two_garments(present: Mapping[str, Crops], config: Any) -> bool:
    """Whether the pixels say a top and a bottom, not a dress (one fabric): in most frames the
    top and bottom crops (or the full crop's halves) are clearly different colours
    (:func:`one_garment_share`). The bottom is read by itself (knowing the top, a mini dress's
    hips would pass for a top through a waist, and its legs be read), the top knowing it (a
    crop top's box reaches the jeans)."""
    top, bottom = present.get("top"), present.get("bottom")
    share = None
    if top is not None and bottom is not None and len(top.frames) and len(bottom.frames):
        alone = garment_readings("bottom", bottom, config.colour)
        over = garment_readings("top", top, config.colour, below=by_frame(bottom.frames, alone))
        share = one_garment_share(dict(zip(top.frames, over, strict=False)),
                                  dict(zip(bottom.frames, alone, strict=False)), config.dress_match)
    elif "full" in present and len(present["full"].images):
        uppers, lowers = halves(present["full"].images, config.colour)
        share = one_garment_share(dict(enumerate(uppers)), dict(enumerate(lowers)), config.dress_match)
    return share is not None and share < config.dress_evidence


def by_frame(frames: Sequence[int], readings: Sequence[ColourReading | None]) -> dict[int, np.ndarray]:
    """Frame -> the measured main colour of the garment read in it."""
    return {frame: r.lab for frame, r in zip(frames, readings, strict=False) if r is not None}


def one_garment_share(
    tops: Mapping[int, ColourReading | None], bottoms: Mapping[int, ColourReading | None], match: float
) -> float | None:
    """Share of frames whose top and bottom crops are one colour (within ``match``,
    CIEDE2000, either of a print's two colours), as a dress's are; None without a frame
    that has both. ``tops`` and ``bottoms`` map frame -> reading."""
    pairs = [(tops[f], bottoms[f]) for f in tops.keys() & bottoms.keys()
             if tops[f] is not None and bottoms[f] is not None]
    if not pairs:
        return None
    same = [_same_colour(top, bottom, match) for top, bottom in pairs]  # type: ignore[arg-type]
    return float(np.mean(same))


def halves(images: Sequence[np.ndarray], config: ColourConfig) -> tuple[list[ColourReading | None], list[ColourReading | None]]:
    """Colour readings of the upper and lower halves of full-outfit crops (top, bottom)."""
    uppers = [read_colour(image[: image.shape[0] // 2], "top", config) for image in images]
    lowers = [read_colour(image[image.shape[0] // 2 :], "bottom", config) for image in images]
    return uppers, lowers


def _same_colour(first: ColourReading, second: ColourReading, match: float) -> bool:
    labs1 = [lab for lab in (first.lab, first.second) if lab is not None]
    labs2 = [lab for lab in (second.lab, second.second) if lab is not None]
    return bool(min(float(ciede2000(a, b)) for a in labs1 for b in labs2) <= match)
