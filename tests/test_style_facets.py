"""Styles named from facets with evidence at recluster (inference/trends/facet_names.py),
stored with the style, carried by the trends report's JSON and shown in the app."""

from __future__ import annotations

import hashlib
import json

import numpy as np

from app import views
from inference.catalog import Catalog
from inference.facet_colour import Facet, probe_colours
from inference.facet_probe import FacetProbe, LinearHead
from inference.facets import SlotName, StyleName, load_facet_vocabulary
from inference.palette import load_palette
from inference.trends import (
    ClusterConfig,
    ForecastConfig,
    TrendsConfig,
    load_styles,
    recluster,
    trends_report,
)
from inference.trends.facet_names import unique_names
from tests.trends_helpers import WorldBuilder

DIM = 512


class HashEncoder:
    """A text tower giving each text its own random unit vector."""

    name = "hash:512"

    def encode_text(self, texts):
        return np.stack([self.vector(t) for t in texts]).astype(np.float32)

    def vector(self, text: str) -> np.ndarray:
        seed = int.from_bytes(hashlib.sha256(text.encode()).digest()[:4], "little")
        v = np.random.default_rng(seed).normal(size=DIM)
        return v / np.linalg.norm(v)


ENCODER = HashEncoder()
PHRASE = load_facet_vocabulary().phrase_text


def _named_world(catalog: Catalog) -> tuple[np.ndarray, np.ndarray]:
    """Two outfits. A: a striped oversized top halfway between a tank top and a t-shirt (its
    type has too little agreement) over straight jeans; B: a floral fitted blouse over plaid
    wide-leg trousers. No crops on disk, so no colour is measured."""
    world = WorldBuilder(catalog, dim=DIM, noise=0.01)
    between = ENCODER.vector(PHRASE(("tank top", "striped", "oversized"))) + ENCODER.vector(PHRASE(("t-shirt", "striped", "oversized")))
    world.centres["a-top"] = between / np.linalg.norm(between)
    world.centres["a-jeans"] = ENCODER.vector(PHRASE(("jeans", "solid", "straight")))
    world.centres["b-blouse"] = ENCODER.vector(PHRASE(("blouse", "floral", "fitted")))
    world.centres["b-trousers"] = ENCODER.vector(PHRASE(("trousers", "plaid", "wide-leg")))
    for day in range(12):
        world.post(f"a{day}", day, {"top": "a-top", "bottom": "a-jeans"})
        world.post(f"b{day}", day, {"top": "b-blouse", "bottom": "b-trousers"})
    return world.arrays()


def _config() -> TrendsConfig:
    return TrendsConfig(cluster=ClusterConfig(method="kmeans", group_by="outfit", k_min=2, k_max=4,
                                              kmeans_restarts=2, noise_mads=0.0))


def test_a_style_gets_a_two_slot_name_from_each_slots_own_vocabulary(data_dir):
    with Catalog(data_dir) as catalog:
        ids, vectors = _named_world(catalog)
        recluster(catalog, ids, vectors, _config(), encoder=ENCODER)
        styles = {s.name: s for s in load_styles(catalog)}
    assert "floral fitted blouse + plaid wide-leg trousers" in styles
    blouse = styles["floral fitted blouse + plaid wide-leg trousers"]
    assert blouse.facets is not None and set(blouse.facets["slots"]) == {"top", "bottom"}
    assert blouse.facets["slots"]["top"]["facets"]["type"]["value"] == "blouse"
    assert blouse.facets["slots"]["bottom"]["facets"]["type"]["value"] == "trousers"
    assert blouse.words  # the vocabulary words are kept beside the facets


def test_a_facet_below_its_threshold_is_left_out_and_marked_absent(data_dir):
    with Catalog(data_dir) as catalog:
        ids, vectors = _named_world(catalog)
        recluster(catalog, ids, vectors, _config(), encoder=ENCODER)
        style = next(s for s in load_styles(catalog) if "jeans" in s.name)
    assert style.name == "striped oversized top + straight jeans"  # tank top or t-shirt: no type agreed on
    top = style.facets["slots"]["top"]["facets"]
    assert top["type"] == {"absent": True} and top["colour"] == {"absent": True}  # no crops: no colour
    assert top["pattern"]["value"] == "striped" and top["pattern"]["evidence"] >= 0.6


def test_trends_json_and_the_style_detail_carry_the_facets(data_dir):
    with Catalog(data_dir) as catalog:
        ids, vectors = _named_world(catalog)
        recluster(catalog, ids, vectors, _config(), encoder=ENCODER)
        report = trends_report(catalog, _config(), ForecastConfig())
    payload = json.loads(json.dumps(report.to_dict(), default=str))
    facets = {s["name"]: s["facets"] for s in payload["styles"]}
    top = facets["floral fitted blouse + plaid wide-leg trousers"]["slots"]["top"]["facets"]
    assert top["pattern"]["value"] == "floral" and top["pattern"]["evidence"] == 1.0
    assert top["colour"] == {"absent": True}
    lines = views.facet_lines(facets["striped oversized top + straight jeans"])
    assert any(line.startswith("- **Top**") and "pattern: striped (" in line and "agree)" in line
               and "Not named, too little agreement: colour, type" in line for line in lines)


def test_without_facets_styles_keep_their_vocabulary_names(data_dir):
    config = _config()
    config.naming.facets = False
    with Catalog(data_dir) as catalog:
        ids, vectors = _named_world(catalog)
        recluster(catalog, ids, vectors, config, encoder=ENCODER)
        styles = load_styles(catalog)
    assert all(s.facets is None for s in styles) and all(" + " not in s.name for s in styles)


def test_a_two_colour_slot_reads_as_both_colours_and_makes_no_colour_trend():
    """A check named "black and white" shows both colours with the agreement in the app, and
    joins neither colour's attribute trend (which one is the garment's colour is a toss-up)."""
    from inference.trends.attributes import slot_value

    slot = {"garments": 12, "facets": {"colour": {"value": "black", "second": "white", "evidence": 0.92, "margin": 0.0},
                                       "pattern": {"value": "checked", "evidence": 0.8, "margin": 0.2}}}
    lines = views.facet_lines({"slots": {"top": slot}})
    assert "colour: black and white (92% agree)" in lines[0]
    assert slot_value(slot, "colour") is None and slot_value(slot, "pattern") == "checked"
    plain = {"facets": {"colour": {"value": "black", "evidence": 0.9, "margin": 0.0}}}
    assert slot_value(plain, "colour") == "black"


def test_the_two_colours_setting_reaches_the_names(data_dir, monkeypatch, tmp_path):
    """`naming.two_colours` in the trends config is what naming reads (off by default)."""
    from inference.trends import facet_names, load_config

    seen = []
    real = facet_names.name_style_facets

    def spy(garments, prompts, palette, config=None, probe=None):
        seen.append(config.two_colours)
        return real(garments, prompts, palette, config, probe=probe)

    monkeypatch.setattr(facet_names, "name_style_facets", spy)
    path = tmp_path / "trends.yaml"
    path.write_text("naming:\n  two_colours: true\n")
    with Catalog(data_dir) as catalog:
        ids, vectors = _named_world(catalog)
        for config, expected in ((_config(), False), (load_config(path), True)):
            config.cluster = _config().cluster
            seen.clear()
            recluster(catalog, ids, vectors, config, encoder=ENCODER)
            assert seen and set(seen) == {expected}


def test_the_trends_chart_legend_carries_whole_style_names(data_dir):
    with Catalog(data_dir) as catalog:
        ids, vectors = _named_world(catalog)
        recluster(catalog, ids, vectors, _config(), encoder=ENCODER)
        report = trends_report(catalog, _config(), ForecastConfig())
    figure = views.trends_figure(report, count=5)
    legend = figure.axes[0].get_legend()
    texts = [" ".join(t.get_text().split()) for t in legend.get_texts()]
    names = {s.name for s in report.styles}
    assert len(texts) == len(names) == 2
    assert {"floral fitted blouse + plaid wide-leg trousers", "striped oversized top + straight jeans"} == names
    assert all(any(f": {name} (" in text for text in texts) for name in names), texts
    figure.savefig(data_dir / "chart.png")  # the legend beside the plot still lays out and draws
    assert legend.get_window_extent().x0 > figure.axes[0].get_window_extent().x1


def _dress(scores: dict[str, float] | None, pattern: str = "floral") -> StyleName:
    facets = {"pattern": Facet(pattern, 0.9), "type": Facet("maxi dress", 0.8)}
    return StyleName((SlotName("dress", facets, 40, scores or {}),))


WHITE = {"white": 0.74, "beige": 0.05, "grey": 0.04}  # the probe's reading of 5858's two floral maxi dresses
BEIGE = {"white": 0.30, "beige": 0.32, "grey": 0.05}  # beige by a hair, but far more beige than the other


def test_two_styles_with_one_name_are_told_apart_by_the_colour_that_sets_each_apart():
    names = unique_names([_dress(WHITE), _dress(None, "striped"), _dress(BEIGE)])
    assert names == ["floral maxi dress (more white)", "striped maxi dress", "floral maxi dress (more beige)"]
    assert unique_names([_dress(WHITE), _dress(WHITE)]) == ["floral maxi dress", "floral maxi dress (2)"]  # no tell
    assert unique_names([_dress(WHITE), _dress(None)]) == ["floral maxi dress", "floral maxi dress (2)"]
    shirt = {"pattern": Facet("checked", 0.9), "type": Facet("shirt", 0.9)}
    jeans = SlotName("bottom", {"colour": Facet("navy", 0.8), "type": Facet("jeans", 0.9)}, 30)
    outfits = [StyleName((SlotName("top", shirt, 30, scores), jeans)) for scores in (WHITE, {"grey": 0.6, "white": 0.3})]
    assert unique_names(outfits) == ["checked shirt + navy jeans (shirt more white)",
                                     "checked shirt + navy jeans (shirt more grey)"]


def test_a_colour_left_out_keeps_the_probes_reading_as_a_hint_not_a_value():
    stored = SlotName("dress", {}, 6, BEIGE).to_dict()["facets"]["colour"]
    assert stored == {"absent": True, "probe_leading": "beige", "probability": 0.32} and "value" not in stored
    line = views.facet_lines({"slots": {"dress": {"garments": 6, "facets": {"colour": stored}}}})[0]
    assert "Not named, too little agreement: colour (the probe leans beige, 32%)" in line
    assert "colour" not in SlotName("dress", {}, 6).to_dict()["facets"]  # no probe: marked absent later, no hint


def test_the_probes_colour_reading_covers_palette_colours_only():
    head = LinearHead(np.zeros((3, 4), np.float32), np.array([2.0, 1.0, 0.0], np.float32), ("beige", "white", "dress"))
    reading = probe_colours("full", np.ones((5, 4), np.float32), FacetProbe("v", {("full", "colour"): head}),
                            load_palette())
    assert list(reading) == ["beige", "white"] and reading["beige"] > reading["white"] > 0  # "dress" is no colour
    assert probe_colours("top", np.ones((5, 4), np.float32), FacetProbe("v", {}), load_palette()) == {}  # no head
    assert probe_colours("full", np.ones((5, 4), np.float32), None, load_palette()) == {}
