"""Scoring attribute trends (``stylescope trends --by colour|pattern``) on a creator world.

The world's recipes say each true style's colour and pattern per garment (a top and a
bottom, or a dress), so every matched catalog garment has a true value. For each attribute:

- **purity**: the share of a unit's matched garments whose true value is the unit's majority
  value, over all units (garment-weighted): whether "polka dot" holds polka-dot garments;
- **riser garments rising**: over the garments of the styles that truly rose (a top and a
  bottom, or a dress, each counted once), the share whose unit has risen (has a take-off date
  as of the last post), where a true garment belongs to the unit holding most of the catalog
  garments that show it (none: missed): whether the facets of the true risers show up as
  rising units. A facet the riser shares with big steady styles ("black") is not expected to
  rise, so this is no recall to drive to 1;
- **risen units explained**: the share of risen units that hold the garments of a truly rising
  style carrying the unit's majority value (the rest rose from something else);
- **value rising precision / recall**: the same rising detector run on the world's own posts,
  each true value (across top, bottom and dress) followed as a unit, says which values truly
  rose; recall is the share of those with a risen catalog unit of that majority value,
  precision the share of risen catalog units whose majority value truly rose;
- **originator top-1**: over units with a majority value, the share whose originator is the
  first creator to wear that value on that kind of garment in any true style (ties count).

Values are compared through garments, never by name: the catalog's palette and pattern words
need not match the world's vocabulary.
"""

from __future__ import annotations

import dataclasses
import json
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from typing import Any

from inference.catalog import Catalog, StyledGarment
from inference.trends import (
    CreatorsConfig,
    Post,
    Sighting,
    Style,
    TrendData,
    TrendsConfig,
    load_styles,
    load_trend_data,
    rising_styles,
)
from inference.trends.attributes import attribute_data, attribute_units, unit_originators
from world.scorer import ANSWERS_DIR, TRUTH_FILE, AnswerKey

SCORED = ("colour", "pattern")  # the attributes the world's recipes say for every garment


@dataclasses.dataclass
class Recipes:
    """What the world says of every true style's garments, and who wore each style when."""

    garments: dict[str, dict[str, dict[str, Any]]]  # true style -> kind (top, bottom, full) -> recipe garment
    adopters: dict[str, list[tuple[int, str]]]  # true style -> (season day, creator) of every adopter
    dresses: set[str]  # true styles that are a dress

    def slot(self, style: str, kind: str) -> str:
        """What a garment of ``kind`` shows of a true style: the dress (whatever crop shows it), or that kind."""
        return "dress" if style in self.dresses else kind

    def slots(self, style: str) -> list[str]:
        """The garments a true style is made of: a dress, or a top and a bottom."""
        return ["dress"] if style in self.dresses else ["top", "bottom"]

    def value(self, style: str, slot: str, attribute: str) -> str:
        """The true ``attribute`` of one garment of a true style."""
        return str(self.garments[style]["full" if slot == "dress" else slot][attribute])

    def first_wearers(self, attribute: str, kinds: Sequence[str], value: str) -> set[str]:
        """The creators who first wore ``value`` on a garment of one of ``kinds``, in any true style."""
        days = [(day, creator) for style, garments in self.garments.items() for kind in kinds
                if kind in garments and garments[kind][attribute] == value for day, creator in self.adopters[style]]
        first = min((day for day, _ in days), default=None)
        return {creator for day, creator in days if day == first}


def read_recipes(answer: AnswerKey) -> Recipes:
    """The recipes of the world the answer key was read from. A dress is every crop of it (top,
    bottom, full body); a two-piece outfit's full-body crop has no single colour or pattern."""
    assert answer.folder is not None, "the answer key was not read from a world folder"
    payload = json.loads((answer.folder / ANSWERS_DIR / TRUTH_FILE).read_text(encoding="utf-8"))
    garments, adopters, dresses = {}, {}, set()
    for style in payload["styles"]:
        key, top, bottom = str(style["id"]), style.get("top"), style.get("bottom")
        if not top:  # a hand-made key without recipes
            continue
        garments[key] = {"top": top, "bottom": bottom} if bottom else {"top": top, "bottom": top, "full": top}
        adopters[key] = [(int(a["day"]), str(a["creator"])) for a in style.get("adopters", [])]
        if not bottom:
            dresses.add(key)
    return Recipes(garments, adopters, dresses)


def true_value_data(answer: AnswerKey, recipes: Recipes, attribute: str) -> tuple[TrendData, list[str]]:
    """The world's own posts with each true value of ``attribute`` as a unit (a sighting per
    video that wears it), and the values by unit id."""
    values = sorted({str(g[attribute]) for garments in recipes.garments.values() for g in garments.values()})
    index = {value: i for i, value in enumerate(values)}
    followers = {c.handle: c.followers for c in answer.creators}
    posts, sightings = [], []
    for video_id, video in enumerate(v for v in answer.videos if not v.held_out):
        post = Post(video_id, video.creator, followers.get(video.creator, 0), video.posted_at)
        posts.append(post)
        worn = {str(g[attribute]) for style in video.styles for g in recipes.garments.get(style, {}).values()}
        sightings += [Sighting(index[value], video_id, post.creator, post.followers, post.day, 1, 1, 1, 0.0, -1, 0.0, "")
                      for value in sorted(worn)]
    sightings.sort(key=lambda s: (s.day, s.video_id, s.style_id))
    posts.sort(key=lambda p: (p.day, p.video_id))
    return TrendData(sightings, posts, {}), values


def score_attributes(catalog: Catalog, answer: AnswerKey, truth: Mapping[int, str], config: TrendsConfig,
                     creators_config: CreatorsConfig) -> dict[str, dict[str, Any]]:
    """Purity, rising recall, risen units explained and originator top-1 per scored attribute.

    ``truth``: catalog garment id -> true style id (:func:`world.scorer.true_styles_of`).
    Empty when the answer key holds no recipes.
    """
    recipes = read_recipes(answer)
    if not recipes.garments:
        return {}
    rose = {s.id for s in answer.rising_styles()}
    data = load_trend_data(catalog, min_frames=config.series.min_frames_per_video)
    styles, garments = load_styles(catalog), catalog.styled_garments()
    return {attribute: _score_one(catalog, answer, data, styles, garments, truth, recipes, rose, attribute, config,
                                  creators_config)
            for attribute in SCORED}


def _score_one(catalog: Catalog, answer: AnswerKey, data: TrendData, styles: Sequence[Style],
               garments: Sequence[StyledGarment], truth: Mapping[int, str], recipes: Recipes, rose: set[str],
               attribute: str, config: TrendsConfig, creators_config: CreatorsConfig) -> dict[str, Any]:
    units = attribute_units(styles, attribute)
    unit_of = {member: unit.id for unit in units for member in unit.members}
    values: dict[int, Counter[str]] = defaultdict(Counter)  # unit -> true values of its garments
    holders: dict[tuple[str, str], Counter[int]] = defaultdict(Counter)  # (true style, slot) -> units
    for garment in garments:
        unit, style = unit_of.get((garment.style_id, garment.kind)), truth.get(garment.garment_id)
        recipe = recipes.garments.get(style, {}).get(garment.kind) if style else None
        if unit is None or style is None or recipe is None:
            continue
        values[unit][recipe[attribute]] += 1
        holders[(style, recipes.slot(style, garment.kind))][unit] += 1
    majority = {unit: counts.most_common(1)[0][0] for unit, counts in values.items()}
    found = attribute_data(catalog, data, units, config.series.min_frames_per_video)
    risen = {t.style_id for t in rising_styles(found.data, config.rising) if t.takeoff is not None}
    true_data, true_values = true_value_data(answer, recipes, attribute)
    truly_risen = {true_values[t.style_id] for t in rising_styles(true_data, config.rising) if t.takeoff is not None}
    risen_values = {majority[unit] for unit in risen if unit in majority}
    origins = unit_originators(found, creators_config)
    kinds = {unit.id: unit.kinds for unit in units}
    # every garment of a truly rising style; one in no unit (its facet left out, or no style) is missed
    riser_garments = [(style, slot) for style in sorted(rose & set(recipes.garments)) for slot in recipes.slots(style)]
    riser_units = {(style, slot): counts.most_common(1)[0][0] for (style, slot), counts in holders.items()
                   if style in rose}
    explained = {unit for (style, slot), unit in riser_units.items()
                 if unit in risen and majority.get(unit) == recipes.value(style, slot, attribute)}
    hits = [origins[unit].originator.creator in recipes.first_wearers(attribute, kinds[unit], value)
            for unit, value in majority.items() if unit in origins]
    matched = sum(sum(c.values()) for c in values.values())
    return {
        "units": len(units),
        "purity": round(sum(c.most_common(1)[0][1] for c in values.values()) / matched, 4) if matched else None,
        "riser_garments": len(riser_garments),
        "riser_garments_rising": round(sum(riser_units.get(g) in risen for g in riser_garments) / len(riser_garments), 4)
        if riser_garments else None,
        "risen_units": len(risen),
        "risen_units_explained": round(len(explained) / len(risen), 4) if risen else None,
        "values_truly_risen": sorted(truly_risen),
        "value_rising_recall": round(len(truly_risen & risen_values) / len(truly_risen), 4) if truly_risen else None,
        "value_rising_precision": round(sum(majority.get(u) in truly_risen for u in risen) / len(risen), 4)
        if risen else None,
        "originator_top1": round(sum(hits) / len(hits), 4) if hits else None,
        "originator_units": len(hits),
    }
