"""Every view tells the same story: one catalog, read by the CLI (``trends`` / ``creators``,
as JSON and as tables), the app's handlers and views, and the demo's report builder; every
count, state, take-off date, "days before take-off" and handle that appears in two of them
is equal. And the glossary is the same wherever it is shown."""

from __future__ import annotations

import contextlib
import io
import json
import re
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from app import format as fmt
from app import handlers, views
from app.cli import main
from app.commands import print_table
from app.commands.demo import trends_summary
from app.services import AppConfig, Services
from inference.catalog import Catalog
from inference.trends.glossary import GLOSSARY, glossary_markdown
from tests.trends_helpers import WorldBuilder

ROOT = Path(__file__).resolve().parents[1]


def _season(data_dir: Path, monkeypatch) -> None:
    """Two staples, a look that takes off on day 40 and one that took off on day 14 and holds.

    Every frame shows a top and a bottom: an outfit style holds two garments per frame.
    """

    def look(key: str) -> dict[str, str]:
        return {"top": key, "bottom": f"{key}-bottom"}

    with Catalog(data_dir) as catalog:
        world = WorldBuilder(catalog)
        rng = np.random.default_rng(4)
        for day in range(63):
            for _ in range(3):
                world.post(f"c{rng.integers(15)}", day, look("staple"), followers=int(rng.integers(1_000, 2_000_000)))
            world.post(f"s{rng.integers(6)}", day, look("basics"))
        for i in range(10):
            world.post(f"t{i}", 40 + i, look("late"), frames=3, followers=30_000 + i)
        for i in range(8):
            world.post(f"e{i}", 14 + i, look("early"), frames=3, followers=5_000 + i)
        for day in range(24, 63, 2):
            world.post(f"e{rng.integers(8)}", day, look("early"), frames=3)
        ids, vectors = world.arrays()
    monkeypatch.setattr("inference.index.load_embeddings", lambda *_: (ids, vectors, {"name": "tiny:16", "dim": 16}))


def _table(text: str, first_header: str) -> list[list[str]]:
    """The rows of the first plain-text table whose header starts with ``first_header``, cut at
    the columns the dashes under the header mark; a line with an empty first cell continues the
    row above (a wrapped style name), its cells joined on with a space."""
    lines = text.splitlines()
    start = next(n for n, line in enumerate(lines) if line.startswith(first_header + " "))
    spans = [m.span() for m in re.finditer(r"-+", lines[start + 1])]
    rows: list[list[str]] = []
    for line in lines[start + 2:]:
        if not line.strip():
            break
        cells = [line[a:(spans[k + 1][0] if k + 1 < len(spans) else None)].strip() for k, (a, _) in enumerate(spans)]
        if cells[0] or not rows:
            rows.append(cells)
        else:
            rows[-1] = [f"{old} {new}".strip() for old, new in zip(rows[-1], cells, strict=True)]
    return rows


@pytest.fixture(scope="module")
def views_of_one_catalog(tmp_path_factory):
    monkeypatch = pytest.MonkeyPatch()
    root = tmp_path_factory.mktemp("agree")
    data_dir = root / "data"
    data_dir.mkdir()
    settings = root / "trends.yaml"
    settings.write_text("cluster:\n  k_min: 2\n")  # outfit styles, as by default
    _season(data_dir, monkeypatch)
    common = ("--data-dir", str(data_dir), "--config", str(settings))
    def run(*argv: str) -> str:
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            assert main(list(argv)) == 0
        return out.getvalue()

    cli_trends = json.loads(run("trends", "--json", *common))
    cli_trends_text = run("trends", *common)
    cli_creators = json.loads(run("creators", "--json", "--top", "10", *common))
    cli_creators_text = run("creators", "--top", "10", *common)
    services = Services(data_dir, Catalog(data_dir), AppConfig(), config_file=settings)
    app_trends = handlers.trends_overview(services)
    app_people = handlers.leaderboard(services, top=10)
    with Catalog(data_dir) as catalog:
        demo = trends_summary(catalog, str(settings))
    yield {
        "cli_trends": cli_trends, "cli_trends_text": cli_trends_text, "cli_creators": cli_creators,
        "cli_creators_text": cli_creators_text, "app_trends": app_trends, "app_people": app_people,
        "app_style_rows": views.style_rows(app_trends), "app_leaderboard": views.leaderboard_rows(app_people),
        "app_originators": views.originator_rows(app_people), "demo": demo, "services": services,
    }
    services.close()
    monkeypatch.undo()


def test_the_catalog_has_the_states_worth_comparing(views_of_one_catalog):
    states = {s["state"] for s in views_of_one_catalog["cli_trends"]["styles"]}
    assert views_of_one_catalog["cli_trends"]["risen"] >= 2, states
    assert "steady" in states and {"rising", "peaked"} & states, states
    assert views_of_one_catalog["cli_creators"]["leaderboard"]


def test_styles_agree_between_cli_json_cli_table_app_and_demo(views_of_one_catalog):
    v = views_of_one_catalog
    cli = {s["id"]: s for s in v["cli_trends"]["styles"]}
    app = {row[0]: row for row in v["app_style_rows"]}
    table = {int(row[0]): row for row in _table(v["cli_trends_text"], "id")}
    demo = {s["id"]: s for s in v["demo"]["top_styles"]}
    assert set(cli) == set(app) == set(table) and set(demo) <= set(cli) and demo
    for style_id, style in cli.items():
        expected = [style_id, style["name"], style["kind"] or "-", style["state"], fmt.score(style["score"]),
                    fmt.growth(style["growth"]), f"{style['new_wearers']} ({style['expected_new_wearers']:.1f})",
                    style["takeoff"] or "-", fmt.count(style["garments"]), fmt.count(style["creators"])]
        assert app[style_id][:10] == expected
        assert [int(table[style_id][0]), *table[style_id][1:10]] == expected  # a long name wrapped, whole
        assert app[style_id][10:] == table[style_id][10:]  # share now, forecast with interval, backtest error
        assert style["has_risen"] == (style["takeoff"] is not None)
        assert style["state"] != "steady" or not style["has_risen"]
        if style["forecast"] is None:
            assert app[style_id][11] == "too little history to forecast" == style["forecast_note"]
        if style_id in demo:
            shown = demo[style_id]
            assert [shown[k] for k in ("state", "has_risen", "takeoff", "garments", "creators", "growth")] == [
                style[k] for k in ("state", "has_risen", "takeoff", "garments", "creators", "growth")]
    assert v["demo"]["states"] == v["cli_trends"]["states"] == v["app_trends"].state_counts()


def test_the_garments_count_is_the_catalogs(views_of_one_catalog):
    services = views_of_one_catalog["services"]
    assigned = Counter(services.catalog.garment_style_ids().values())
    assert {s["id"]: s["garments"] for s in views_of_one_catalog["cli_trends"]["styles"]} == assigned


def test_risen_styles_agree_between_the_trends_and_creators_views(views_of_one_catalog):
    v = views_of_one_catalog
    risen = sorted(s["id"] for s in v["cli_trends"]["styles"] if s["has_risen"])
    assert risen == v["cli_creators"]["risen_styles"] == v["app_people"].risen_styles
    assert len(risen) == v["cli_trends"]["risen"] == v["demo"]["risen"] == v["app_trends"].risen()
    said = f"{len(risen)} have risen"
    assert said in views.trends_status(v["app_trends"]) and said in v["cli_trends_text"]
    board = f"of the {len(risen)} styles that have risen"
    assert board in views.leaderboard_status(v["app_people"]) and board in v["cli_creators_text"]


def test_trendsetters_and_originators_agree(views_of_one_catalog):
    v = views_of_one_catalog
    cli = v["cli_creators"]["leaderboard"]
    table = _table(v["cli_creators_text"], "#")
    assert len(cli) == len(v["app_leaderboard"]) == len(table)
    for setter, app_row, text_row in zip(cli, v["app_leaderboard"], table, strict=True):
        expected = ["@" + setter["creator"], fmt.count(setter["followers"]), setter["tier"],
                    fmt.trendsetter_score(setter["score"]), setter["styles"], setter["originated"],
                    fmt.days(setter["days_before_takeoff"])]
        assert app_row[1:] == expected
        assert text_row[1:] == [str(e) for e in expected]
    for setter, demo in zip(cli, v["demo"]["trendsetters"], strict=False):
        assert demo == setter
    origins = {o["style_id"]: o for o in v["cli_creators"]["originators"]}
    for row in v["app_originators"]:
        origin = origins[row[0]]
        assert row[2:5] == ["@" + origin["originator"]["creator"], origin["originator"]["tier"],
                            origin["originator"]["day"]]
    for style in v["demo"]["top_styles"]:
        origin = origins[style["id"]]["originator"]
        assert (style["originator"], style["since"]) == (origin["creator"], origin["day"])


def test_handles_always_carry_the_at_sign_in_tables(views_of_one_catalog):
    v = views_of_one_catalog
    originators = _table(v["cli_creators_text"], "style")
    assert originators and all(row[2].startswith("@") for row in originators)
    assert all(row[1].startswith("@") for row in v["app_leaderboard"])


def test_the_glossary_is_the_same_in_the_readme_the_cli_and_the_app(capsys):
    readme = (ROOT / "README.md").read_text()
    assert "## Reading the trends" in readme and glossary_markdown() in readme
    assert main(["trends", "--help"]) == 0
    help_text = " ".join(capsys.readouterr().out.split())
    for term, text in GLOSSARY.items():
        assert f"{term}: {text}" in help_text, term
    assert {"emerging", "rising", "peaked", "steady", "fading", "new", "has risen", "score", "take-off",
            "share now", "growth", "forecast interval", "backtest error", "days before take-off",
            "originator", "adopters"} <= set(GLOSSARY)
    assert all(text.count(". ") == 0 and text.endswith(".") for text in GLOSSARY.values())  # one sentence each


def test_the_trends_tab_shows_the_glossary(data_dir):
    pytest.importorskip("gradio")
    from app.ui import build_app

    services = Services(data_dir, Catalog(data_dir), AppConfig())
    try:
        blocks = build_app(services)
        markdown = [c.get("props", {}).get("value") for c in blocks.config["components"]]
        assert glossary_markdown() in markdown
        labels = [c.get("props", {}).get("label") for c in blocks.config["components"]]
        assert "Glossary: what the states and columns mean" in labels
    finally:
        services.close()


def test_a_long_style_name_is_wrapped_whole_in_text_tables(capsys):
    name = "beige polka dot shirt + burgundy cargo pants"
    assert fmt.name(name) == name  # fits
    assert fmt.name(name, 30) == "beige polka dot shirt +\nburgundy cargo pants"  # broken between slots
    assert fmt.name("dusty rose polka dot crop top + olive cargo pants", 20) == (
        "dusty rose polka dot\ncrop top +\nolive cargo pants")  # a slot too wide: at a word, never mid-word
    assert fmt.name("x" * 80) == "x" * 80  # one word wider than the column stays whole
    print_table(["id", "style", "state"], [[3, fmt.name(name, 30), "rising"], [4, "red dress", "steady"]])
    assert capsys.readouterr().out.splitlines() == [
        "id  style                    state",
        "--  -----------------------  ------",
        "3   beige polka dot shirt +  rising",
        "    burgundy cargo pants",
        "4   red dress                steady",
    ]
