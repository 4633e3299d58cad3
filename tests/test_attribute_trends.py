"""Attribute trends (inference/trends/attributes.py): colours, patterns, garment types and
silhouettes followed as trend units, built from the facet evidence stored with style names."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import numpy as np
import pytest

from app.cli import main
from core.errors import BadInputError
from inference import trends
from inference.catalog import Catalog, StyleAssignment, StyleRecord
from inference.trends import (
    STATE_KEY,
    CreatorsConfig,
    ForecastConfig,
    TrendsConfig,
    attribute_report,
    attribute_units,
    load_styles,
    trends_report,
)
from tests.trends_helpers import DAY0, WorldBuilder

ABSENT = {"absent": True}


def _slot(garments: int, **facets: str | dict) -> dict:
    named = {f: v if isinstance(v, dict) else {"value": v, "evidence": 0.9, "margin": 0.05} for f, v in facets.items()}
    return {"text": "", "garments": garments, "facets": named}


# Style 1: a butter yellow polka-dot top over navy baggy jeans. Style 2: a butter yellow top
# (its pattern too uncertain to name) over black cargo pants (silhouette uncertain).
FACETS: dict[int, dict[str, Any]] = {
    1: {"text": "butter yellow polka dot top + navy baggy jeans", "aesthetic": None, "slots": {
        "top": _slot(10, colour="butter yellow", pattern="polka dot", type=ABSENT, silhouette=ABSENT),
        "bottom": _slot(10, colour="navy", pattern="solid", type="jeans", silhouette="baggy")}},
    2: {"text": "butter yellow top + black cargo pants", "aesthetic": None, "slots": {
        "top": _slot(10, colour="butter yellow", pattern=ABSENT, type=ABSENT, silhouette=ABSENT),
        "bottom": _slot(10, colour="black", pattern="solid", type="cargo pants", silhouette=ABSENT)}},
}
OUTFITS = {1: {"top": "s1-top", "bottom": "s1-bottom"}, 2: {"top": "s2-top", "bottom": "s2-bottom"}}


def _world(catalog: Catalog, near_first: bool = False) -> WorldBuilder:
    """@ada wears style 2 first (day 0); six creators wear style 1 from day 10, @ada's style 2 again
    on day 20. Styles are written by hand with the facet evidence above. ``near_first``: @zed wears
    style 1 on day 5, in a video the clustering left without a style but near style 1."""
    world = WorldBuilder(catalog, dim=8)
    world.post("ada", 0, OUTFITS[2])
    zed = world.post("zed", 5, OUTFITS[1]) if near_first else None
    for i, creator in enumerate(["bo", "cy", "di", "ed", "fa", "gu"]):
        world.post(creator, 10 + i, OUTFITS[1])
    world.post("ada", 20, OUTFITS[2])
    ids, _ = world.arrays()
    style_of = np.asarray([1 if str(world.truth[int(g)]).startswith("s1") else 2 for g in ids])
    left_out = np.isin(ids, [g.id for g in catalog.garments(video_id=zed)]) if zed else np.zeros(len(ids), bool)
    style_of[left_out] = -1
    near = [StyleAssignment(int(g), 1, 0.2) for g in ids[left_out]]
    records = [StyleRecord(sid, FACETS[sid]["text"], [], "outfit", None, int((style_of == sid).sum()),
                           facets=FACETS[sid]) for sid in (1, 2)]
    catalog.replace_styles(records, ids, style_of, np.full(len(ids), 0.1), STATE_KEY, json.dumps({}), near)
    return world


def _report(catalog: Catalog, by: str, kind: str | None = None):
    return attribute_report(catalog, TrendsConfig(), ForecastConfig(), CreatorsConfig(), by, kind=kind)


def test_a_colour_unit_spanning_two_styles_merges_their_garments(data_dir):
    with Catalog(data_dir) as catalog:
        _world(catalog)
        report = _report(catalog, "colour")
    units = {u.name: u for u in report.styles}
    assert set(units) == {"butter yellow", "navy", "black"}
    yellow = units["butter yellow"]
    assert yellow.styles == [1, 2] and yellow.kind == "top"
    assert yellow.garments == 8 * 2  # every top of both styles: 8 videos of 2 frames
    assert yellow.creators == 7 and sum(yellow.series.videos) == 8
    assert yellow.originator is not None and yellow.originator.originator.creator == "ada"  # style 2 came first
    assert units["navy"].originator.originator.creator == "bo" and units["navy"].garments == 12
    assert report.by == "colour" and len(report.periods) == len(yellow.series.share)


def test_a_unit_sees_the_garments_left_near_its_styles_as_the_style_does(data_dir):
    """Garments the clustering left just outside style 1 (@zed, day 5, before anyone in it) make
    @zed the style's originator; the colour and pattern units built on style 1 agree."""
    with Catalog(data_dir) as catalog:
        _world(catalog, near_first=True)
        style = trends.creators_report(catalog, TrendsConfig(), CreatorsConfig())
        colours = {u.name: u for u in _report(catalog, "colour").styles}
        patterns = {u.name: u for u in _report(catalog, "pattern").styles}
    first = {o.origin.style_id: o.origin.originator for o in style.originators}
    assert first[1].creator == "zed" and first[1].near_frames == 2
    for unit in (colours["navy"], patterns["polka dot"]):
        assert unit.originator.originator.creator == "zed" and unit.originator.originator.near_frames == 2
        assert unit.garments == 12 and unit.creators == 6  # near garments count for the originator only
    assert colours["butter yellow"].originator.originator.creator == "ada"


def test_a_facet_marked_absent_forms_no_unit():
    styles = [trends.Style(sid, "", [], "outfit", None, 1, 0.0, facets=facets) for sid, facets in FACETS.items()]
    patterns = {u.value: u.members for u in attribute_units(styles, "pattern")}
    assert patterns == {"polka dot": ((1, "top"),), "solid": ((1, "bottom"), (2, "bottom"))}
    silhouettes = {u.value: u.styles for u in attribute_units(styles, "silhouette")}
    assert silhouettes == {"baggy jeans": [1]}  # style 2's silhouette is absent: no "cargo pants" silhouette
    garments = {u.value for u in attribute_units(styles, "garment")}
    assert garments == {"jeans", "cargo pants"}  # the tops' types are absent
    assert {u.value for u in attribute_units(styles, "colour", kind="bottom")} == {"navy", "black"}
    unnamed = [trends.Style(3, "red top", [], "top", None, 1, 0.0)]  # named from vocabulary words
    assert attribute_units(unnamed, "colour") == []


def test_a_style_report_is_unchanged_and_attribute_json_lists_units(data_dir):
    with Catalog(data_dir) as catalog:
        _world(catalog)
        styles = trends_report(catalog, TrendsConfig(), ForecastConfig())
        payload = json.loads(json.dumps(_report(catalog, "pattern").to_dict(), default=str))
    assert {s.id for s in styles.styles} == {1, 2} and "by" not in styles.to_dict()
    assert payload["by"] == "pattern" and "styles" not in payload
    polka = next(u for u in payload["units"] if u["name"] == "polka dot")
    assert polka["styles"] == [1] and polka["attribute"] == "pattern" and "words" not in polka
    assert polka["originator"]["originator"]["creator"] == "bo" and "style_id" not in json.dumps(polka)
    assert {"state", "score", "takeoff", "series", "forecast", "medoids"} <= set(polka)


def test_cli_trends_by_pattern_json_and_table(data_dir, capsys, monkeypatch):
    with Catalog(data_dir) as catalog:
        _world(catalog)
    # the hand-built catalog has no index: the styles written above are what is reported
    monkeypatch.setattr(trends, "update_styles", lambda *a, **k: trends.StylesUpdate("incremental", None, None, {}))
    assert main(["trends", "--by", "pattern", "--json", "--data-dir", str(data_dir)]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert payload["by"] == "pattern" and {u["name"] for u in payload["units"]} == {"polka dot", "solid"}
    assert main(["trends", "--by", "garment", "--data-dir", str(data_dir)]) == 0
    out = capsys.readouterr().out
    assert "2 garment types:" in out and "cargo pants" in out and "@ada (2026-03-02)" in out
    assert out.splitlines()[3].split()[:3] == ["id", "garment", "worn"]


@pytest.mark.parametrize("argv, message", [
    (["--by", "fabric"], "cannot follow trends by 'fabric': choose style, colour, pattern, garment, silhouette"),
    (["--by", "colour", "--kind", "outfit"], "garment kind 'outfit' does not apply to attribute trends"),
])
def test_bad_attribute_arguments_are_one_line_errors(data_dir, capsys, monkeypatch, argv, message):
    with Catalog(data_dir) as catalog:
        _world(catalog)
    monkeypatch.setattr(trends, "update_styles", lambda *a, **k: trends.StylesUpdate("incremental", None, None, {}))
    assert main(["trends", *argv, "--data-dir", str(data_dir)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("stylescope trends: error:") and message in err and len(err.strip().splitlines()) == 1


def test_styles_named_without_facets_are_a_clear_error(data_dir):
    with Catalog(data_dir) as catalog:
        _world(catalog)
        plain = [StyleRecord(s.id, s.name, [], s.kind, None, s.size) for s in load_styles(catalog)]
        ids = np.asarray([g.garment_id for g in catalog.styled_garments()])
        style_ids = np.asarray([g.style_id for g in catalog.styled_garments()])
        catalog.replace_styles(plain, ids, style_ids, np.full(len(ids), 0.1), STATE_KEY, "{}")
        with pytest.raises(BadInputError, match="no style name carries a colour yet"):
            _report(catalog, "colour")


def _recipe(colour: str, pattern: str) -> dict:
    return {"type": "t-shirt", "colour": colour, "pattern": pattern, "silhouette": "fitted"}


def test_eval_world_scores_colour_trends_against_the_recipes(data_dir, tmp_path):
    from world.attribute_scorer import score_attributes
    from world.scorer import AnswerKey, TrueStyle, TrueVideo

    # true style A is what style 1 found (it rose), B what style 2 found; both tops are yellow
    adopters = {"A": [("bo", 10), ("cy", 11)], "B": [("ada", 0)]}
    recipes = {"A": (_recipe("yellow", "polka dots"), _recipe("navy", "solid")),
               "B": (_recipe("yellow", "solid"), _recipe("black", "solid"))}
    styles = [{"id": key, "top": top, "bottom": bottom, "adopters": [{"creator": c, "day": d} for c, d in adopters[key]]}
              for key, (top, bottom) in recipes.items()]
    (tmp_path / "answers").mkdir()
    (tmp_path / "answers" / "world.json").write_text(json.dumps({"styles": styles}))
    worn = [("ada", 0, "B"), *((c, 10 + i, "A") for i, c in enumerate(["bo", "cy", "di", "ed", "fa", "gu"])),
            ("ada", 20, "B")]  # the posts _world makes
    videos = [TrueVideo(f"v{i}.mp4", c, DAY0 + dt.timedelta(days=d), (style,)) for i, (c, d, style) in enumerate(worn)]
    answer = AnswerKey(videos, [TrueStyle("A", rose=True), TrueStyle("B")], [], [], folder=tmp_path)
    with Catalog(data_dir) as catalog:
        world = _world(catalog)
        truth = {g: "A" if str(key).startswith("s1") else "B" for g, key in world.truth.items()}
        scores = score_attributes(catalog, answer, truth, TrendsConfig(), CreatorsConfig())
        answer.styles = [TrueStyle("A"), TrueStyle("B", rose=True)]
        b_rose = score_attributes(catalog, answer, truth, TrendsConfig(), CreatorsConfig())["colour"]
    colour, pattern = scores["colour"], scores["pattern"]
    assert colour["units"] == 3 and colour["purity"] == 1.0  # butter yellow holds yellow tops only
    assert colour["originator_top1"] == 1.0 and colour["originator_units"] == 3  # yellow: @ada, B came first
    # six new wearers of A: butter yellow and navy rise; both are A's colours
    assert colour["riser_garments"] == 2 and colour["riser_garments_rising"] == 1.0
    assert colour["risen_units"] == 2 and colour["risen_units_explained"] == 1.0
    # run on the world's own posts, yellow (six new wearers) and navy truly rose, black did not
    assert colour["values_truly_risen"] == ["navy", "yellow"]
    assert colour["value_rising_recall"] == 1.0 and colour["value_rising_precision"] == 1.0
    # had B risen instead: its yellow top is in a risen unit, its black bottom (worn twice) is not,
    # and navy rose with no true riser behind it
    assert b_rose["riser_garments_rising"] == 0.5 and b_rose["risen_units_explained"] == 0.5
    # "solid" holds both styles' bottoms (navy, black: solid) and no top: pure; polka dot is A's tops
    assert pattern["units"] == 2 and pattern["purity"] == 1.0


def test_the_demo_report_lists_the_colours_and_patterns_on_the_move_as_trends_by_does(data_dir):
    from app.commands.demo import top_attributes

    with Catalog(data_dir) as catalog:
        _world(catalog)
        top = top_attributes(catalog, TrendsConfig(), None)
        reports = {by: {u.name: u for u in _report(catalog, by).styles} for by in ("colour", "pattern")}
    assert top and all(a["value"] != "solid" for a in top)  # a plain pattern is no print on the move
    for entry in top:
        unit = reports[entry["by"]][entry["value"]]
        assert unit.state in ("rising", "emerging") or unit.has_risen
        assert (entry["state"], entry["takeoff"], entry["creators"]) == (
            unit.state, unit.takeoff.isoformat() if unit.takeoff else None, unit.creators)
        assert entry["originator"] == unit.originator.originator.creator
    moving = [n for n, u in reports["colour"].items() if u.state in ("rising", "emerging") or u.has_risen]
    assert [a["value"] for a in top if a["by"] == "colour"] == moving[:3]
