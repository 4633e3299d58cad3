"""Attribute trends: colours, patterns, garment types and silhouettes followed like styles.

Forecasters track a colour ("butter yellow") or a print ("polka dot") across every outfit
that carries it. An attribute unit is built from the facet evidence stored with the style
names (:func:`inference.trends.facet_names.facet_evidence`): the unit ``pattern = polka
dot`` holds the garments of every style slot named polka dot: a top slot's tops, a bottom
slot's bottoms, a dress slot's full-length garments. A facet left out of a name (marked
``{"absent": true}``, too little agreement) makes no unit.

``--by garment`` follows the slot's garment type ("cargo pants"); ``--by silhouette`` the
silhouette with its type ("baggy jeans"), only where both are named. A unit is then a set of
garments like a style, with the same sightings (:func:`~inference.trends.series.unit_sightings`),
series, rising verdict, forecast and originator; its id stands where a style id would.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Mapping
from typing import Any

from core.errors import BadInputError
from inference.catalog import Catalog, StyledGarment, StyleGarment
from inference.trends.creators import Origin, adoptions_by_style, originators
from inference.trends.identity import Style
from inference.trends.reports import (
    StyleReport,
    TrendsReport,
    judge,
    load_report_data,
    plain_fields,
)
from inference.trends.series import Post, TrendData, unit_sightings, video_frames
from inference.trends.settings import CreatorsConfig, ForecastConfig, TrendsConfig

ATTRIBUTES = ("colour", "pattern", "garment", "silhouette")  # what ``trends --by`` follows besides styles
SLOT_KINDS = {"top": "top", "bottom": "bottom", "dress": "full"}  # name slot -> garment kind
MEDOIDS = 4  # typical garments shown per unit


@dataclasses.dataclass(frozen=True)
class AttributeUnit:
    """One attribute value followed as a trend, and the style slots whose garments make it."""

    id: int
    attribute: str  # colour, pattern, garment or silhouette
    value: str  # e.g. "butter yellow", "polka dot", "cargo pants", "baggy jeans"
    members: tuple[tuple[int, str], ...]  # (style id, garment kind) pairs, sorted

    @property
    def styles(self) -> list[int]:
        """The styles one of whose slots names the value."""
        return sorted({style for style, _ in self.members})

    @property
    def kinds(self) -> list[str]:
        """The garment kinds the value is worn as (top, bottom, full)."""
        return sorted({kind for _, kind in self.members})


def _named(facets: Mapping[str, Any], facet: str) -> str | None:
    """The value a slot is named by for ``facet``; None when absent or left out, and for a
    print's two colours named together (which one is the garment's colour is a toss-up)."""
    named = facets.get(facet) or {}
    return None if named.get("absent") or named.get("second") else named.get("value") or None


def slot_value(slot: Mapping[str, Any], attribute: str) -> str | None:
    """The value of ``attribute`` a name slot (``StyleName.to_dict()["slots"][slot]``) carries, if any."""
    facets = slot.get("facets") or {}
    if attribute == "garment":
        return _named(facets, "type")
    if attribute == "silhouette":
        silhouette, garment = _named(facets, "silhouette"), _named(facets, "type")
        return f"{silhouette} {garment}" if silhouette and garment else None
    return _named(facets, attribute)


def check_attribute(attribute: str) -> None:
    """A clear error for an attribute ``trends --by`` cannot follow."""
    if attribute not in ATTRIBUTES:
        raise BadInputError(f"cannot follow trends by {attribute!r}: choose style, {', '.join(ATTRIBUTES)}")


def attribute_units(styles: Iterable[Style], attribute: str, kind: str | None = None) -> list[AttributeUnit]:
    """The units of ``attribute`` named by the styles' facet evidence, by value; ids from 1.

    ``kind`` keeps only slots of that garment kind (top, bottom or full).
    """
    check_attribute(attribute)
    members: dict[str, set[tuple[int, str]]] = defaultdict(set)
    for style in styles:
        for slot_name, slot in ((style.facets or {}).get("slots") or {}).items():
            garment_kind = SLOT_KINDS.get(slot_name)
            value = slot_value(slot, attribute) if garment_kind else None
            if value and garment_kind and (kind is None or garment_kind == kind):
                members[value].add((style.id, garment_kind))
    return [AttributeUnit(i + 1, attribute, value, tuple(sorted(pairs)))
            for i, (value, pairs) in enumerate(sorted(members.items()))]


def rivals(units: Iterable[AttributeUnit]) -> dict[int, set[int]]:
    """Unit -> the units worn as the same garment kind: only those compete for a video's frames
    (a video's top and bottom each carry a colour, and both are evidence)."""
    found = list(units)
    return {unit.id: {other.id for other in found if other.id != unit.id and set(other.kinds) & set(unit.kinds)}
            for unit in found}


@dataclasses.dataclass
class AttributeData:
    """The units' sightings over the styles' posts, and each unit's most typical garments."""

    data: TrendData  # sightings keyed by unit id (``Sighting.style_id``); no styles
    units: dict[int, AttributeUnit]
    medoids: dict[int, list[StyleGarment]]  # unit -> garments nearest their own style's centroid
    garments: dict[int, int]  # unit -> its garments in the posts


def _unit_groups(garments: Iterable[StyledGarment], unit_of: Mapping[tuple[int, str], int],
                 posts: Mapping[int, Post]) -> dict[tuple[int, int], list[StyledGarment]]:
    """(unit, video) -> the garments of the unit's style slots in the video, nearest first."""
    groups: dict[tuple[int, int], list[StyledGarment]] = defaultdict(list)
    for garment in garments:
        unit = unit_of.get((garment.style_id, garment.kind))
        if unit is not None and garment.video_id in posts:
            groups[(unit, garment.video_id)].append(garment)
    for group in groups.values():
        group.sort(key=lambda g: g.distance)
    return groups


def attribute_data(catalog: Catalog, data: TrendData, found: Iterable[AttributeUnit], min_frames: int) -> AttributeData:
    """Sightings of every unit: its garments grouped per video, as styles' are, with the garments
    left near its styles' slots as near sightings (the originators see what a style's see)."""
    units = {unit.id: unit for unit in found}
    unit_of = {member: unit.id for unit in units.values() for member in unit.members}
    posts = {post.video_id: post for post in data.posts}
    frames = video_frames(catalog)
    groups = _unit_groups(catalog.styled_garments(), unit_of, posts)
    sightings = unit_sightings(groups, posts, frames, min_frames)
    near = unit_sightings(_unit_groups(catalog.near_garments(), unit_of, posts), posts, frames, min_frames)
    garments_of: dict[int, list[StyledGarment]] = defaultdict(list)
    for (unit, _), garments in groups.items():
        garments_of[unit] += garments
    medoids = {unit: [StyleGarment(g.garment_id, g.crop_path, round(float(g.distance), 4))
                      for g in sorted(garments, key=lambda g: g.distance)[:MEDOIDS]]
               for unit, garments in garments_of.items()}
    return AttributeData(TrendData(sightings, data.posts, {}, data.future_videos, data.undated_videos, near), units,
                         medoids, {unit: len(garments) for unit, garments in garments_of.items()})


def unit_originators(found: AttributeData, creators_config: CreatorsConfig) -> dict[int, Origin]:
    """Who wore each unit first: a style's rules, with only units of one garment kind contesting a video."""
    adoptions = adoptions_by_style(found.data, creators_config, rivals(found.units.values()))
    return originators(found.data, creators_config, adoptions)


@dataclasses.dataclass(kw_only=True)
class AttributeReport(StyleReport):
    """One attribute unit in the report: the value as its name, the garment kinds it is worn as
    as its kind ("bottom", "full+top"), the styles it spans and who wore it first."""

    attribute: str
    styles: list[int]  # styles one of whose slots names the value
    originator: Origin | None  # None: no sighting as of the report's day

    def to_dict(self) -> dict[str, Any]:
        """Plain data for ``--json``: a style's fields without words and facets, then the styles
        and the originator (its evidence, runners-up and adopter count). The unit's id is ``id``:
        the ``style_id`` its forecast and sightings carry is left out."""
        out = {key: value for key, value in plain_fields(self).items() if key not in ("words", "facets")}
        return _without_style_ids(out)


def _without_style_ids(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _without_style_ids(item) for key, item in value.items() if key != "style_id"}
    if isinstance(value, list):
        return [_without_style_ids(item) for item in value]
    return value


@dataclasses.dataclass(kw_only=True)
class AttributeTrendsReport(TrendsReport):
    """Every unit of one attribute with its series, verdict, forecast and originator."""

    by: str  # colour, pattern, garment or silhouette

    def units(self) -> list[AttributeReport]:
        """The units (``styles`` holds them, rising first)."""
        return [unit for unit in self.styles if isinstance(unit, AttributeReport)]

    def to_dict(self) -> dict[str, Any]:
        """Plain data for ``--json``: ``by``, then the report's fields with the units under ``units``."""
        out = super().to_dict()
        return {"by": out.pop("by"), **{("units" if key == "styles" else key): value for key, value in out.items()}}


def attribute_report(
    catalog: Catalog,
    config: TrendsConfig,
    forecast_config: ForecastConfig,
    creators_config: CreatorsConfig,
    by: str,
    as_of: dt.date | None = None,
    weeks: int | None = None,
    kind: str | None = None,
) -> AttributeTrendsReport:
    """Colours, patterns, garment types or silhouettes as trends (``stylescope trends --by``).

    Args, as :func:`~inference.trends.reports.trends_report`, plus ``creators_config`` (the
    originators) and ``by``: the attribute followed. ``kind`` keeps the slots of one garment
    kind (top, bottom or full).
    """
    check_attribute(by)
    if kind not in (None, *SLOT_KINDS.values()):
        raise BadInputError(f"garment kind {kind!r} does not apply to attribute trends: choose top, bottom or full")
    data = load_report_data(catalog, config, as_of)
    units = attribute_units(data.styles.values(), by, kind)
    if not units:
        raise BadInputError(f"no style name carries a {by} yet (styles are named from vocabulary words, or no "
                            f"{by} had enough agreement): `stylescope trends --recluster` names styles by facets")
    found = attribute_data(catalog, data, units, config.series.min_frames_per_video)
    judged = judge(found.data, config, forecast_config, as_of, weeks)
    origins = unit_originators(found, creators_config)
    reports: list[StyleReport] = []
    for trend in judged.trends:
        unit = found.units[trend.style_id]
        reports.append(AttributeReport(
            id=unit.id, name=unit.value, kind="+".join(unit.kinds), words=[],
            garments=found.garments.get(unit.id, 0),
            medoids=found.medoids.get(unit.id, []), attribute=by, styles=unit.styles,
            originator=origins.get(unit.id), **judged.unit_fields(trend)))
    return AttributeTrendsReport(**judged.report_fields(found.data, config, forecast_config), styles=reports, by=by)
