"""Originators with evidence, adopters in order, influence above chance, trendsetter leaderboard."""

from __future__ import annotations

import datetime as dt
import json

import numpy as np
import pytest

from app.cli import main
from inference.catalog import Catalog
from inference.trends import ClusterConfig, CreatorsConfig, StyleTrend, TrendsConfig, recluster
from inference.trends.creators import (
    adoptions_by_style,
    influence,
    leaderboard,
    originators,
    reciprocal_ranks,
    style_adoptions,
    trendsetters,
)
from tests.trends_helpers import DAY0, WorldBuilder, make_data

CONFIG = CreatorsConfig()


def _origin(events):
    return originators(make_data(events), CONFIG)


def test_originator_with_evidence_and_runners_up():
    (origin,) = _origin([(1, "bob", 3), (1, "ann", 1, 3), (1, "cat", 5), (1, "ann", 6), (1, "dan", 9)]).values()
    assert origin.originator.creator == "ann" and origin.originator.day == DAY0 + dt.timedelta(days=1)
    assert [a.creator for a in origin.runners_up] == ["bob", "cat", "dan"]
    assert origin.adopters == 4 and origin.lead_days == 2 and origin.tied_with == []
    evidence = origin.to_dict()["originator"]
    assert evidence["video_id"] == 2 and evidence["t_s"] == 1.5 and evidence["crop_path"] == "crops/2/0_top.jpg"
    assert evidence["day"] == "2026-03-03" and evidence["frames"] == 3 and evidence["tier"] == "micro"


def test_a_single_stray_early_frame_is_not_the_originator():
    events = [(1, "stray", 0, 1)]  # one frame, never again
    events += [(1, "ann", 4, 3)] + [(1, f"c{i}", 6 + i, 2) for i in range(5)]
    (origin,) = _origin(events).values()
    assert origin.originator.creator == "ann" and origin.strays_skipped == 1
    far = [(1, "far", 0, 4, 0.9)] + [(1, "ann", 4, 3, 0.1)] + [(1, f"c{i}", 6 + i, 2, 0.1) for i in range(12)]
    (origin,) = _origin(far).values()
    assert origin.originator.creator == "ann", "a sighting far from the centroid is not an adoption"
    # the same single frame, worn again later, is a real (early) adoption
    (origin,) = _origin([*events, (1, "stray", 9, 1)]).values()
    assert origin.originator.creator == "stray"


def test_a_one_frame_video_is_not_a_stray():
    # the sampler kept one frame of a steady one-outfit video: that frame is the whole video
    later = [(1, "ann", 4, 3)] + [(1, f"c{i}", 6 + i, 2) for i in range(5)]
    (origin,) = _origin([(1, "solo", 0, 1, 0.1, 20_000, 1), *later]).values()
    assert origin.originator.creator == "solo" and origin.strays_skipped == 0
    # one frame of two is half the video; one of three is a stray
    (origin,) = _origin([(1, "half", 0, 1, 0.1, 20_000, 2), *later]).values()
    assert origin.originator.creator == "half"
    (origin,) = _origin([(1, "third", 0, 1, 0.1, 20_000, 3), *later]).values()
    assert origin.originator.creator == "ann"
    strict = CreatorsConfig(min_frame_share=1.01)
    (origin,) = originators(make_data([(1, "solo", 0, 1, 0.1, 20_000, 1), *later]), strict).values()
    assert origin.originator.creator == "ann", "a share above 1 turns the rule off"


def test_ties_break_on_frames_then_distance_then_handle():
    (origin,) = _origin([(1, "zed", 2, 4), (1, "amy", 2, 2), (1, "bob", 5)]).values()
    assert origin.originator.creator == "zed" and origin.tied_with == ["amy"]
    (origin,) = _origin([(1, "zed", 2, 2, 0.05), (1, "amy", 2, 2, 0.2), (1, "bob", 5)]).values()
    assert origin.originator.creator == "zed"
    (origin,) = _origin([(1, "zed", 2), (1, "amy", 2)]).values()
    assert origin.originator.creator == "amy" and origin.tied_with == ["zed"]


def test_a_style_with_one_creator():
    data = make_data([(1, "solo", d) for d in range(5)])
    (origin,) = originators(data, CONFIG).values()
    assert origin.originator.creator == "solo" and origin.runners_up == [] and origin.lead_days == 0
    assert influence(adoptions_by_style(data, CONFIG), CONFIG) == []


def test_without_any_confident_sighting_every_sighting_counts():
    adopters = style_adoptions(make_data([(1, "b", 2, 1), (1, "a", 1, 1)]).sightings, CONFIG)
    assert [a.creator for a in adopters] == ["a", "b"] and not adopters[0].confident


def test_backdated_post_ingested_last_is_the_originator(data_dir):
    with Catalog(data_dir) as catalog:
        world = WorldBuilder(catalog)
        for i in range(6):
            world.post(f"c{i}", 10 + i, "look", frames=2)
            world.post(f"o{i}", 1 + i, "other", frames=2)
        world.post("backdated", 2, "look", frames=2)  # arrives last, posted first
        ids, vectors = world.arrays()
        recluster(catalog, ids, vectors, TrendsConfig(cluster=ClusterConfig(method="kmeans", k_min=2, k_max=4)))
        from inference.trends import load_trend_data

        origins = originators(load_trend_data(catalog), CONFIG)
        (origin,) = [o for o in origins.values() if o.originator.creator[0] != "o"]
        assert origin.originator.creator == "backdated" and origin.runners_up[0].creator == "c0"


def test_influence_is_found_only_above_chance():
    rng = np.random.default_rng(0)
    events = []
    for style in range(8):
        start = 10 * style
        events += [(style, "leader", start), (style, "follower", start + 2)]
        events += [(style, f"x{i}", start + int(rng.integers(0, 40))) for i in rng.choice(30, 6, replace=False)]
    edges = influence(adoptions_by_style(make_data(events), CONFIG), CONFIG)
    pairs = {(e.source, e.target) for e in edges}
    assert ("leader", "follower") in pairs and ("follower", "leader") not in pairs
    edge = next(e for e in edges if (e.source, e.target) == ("leader", "follower"))
    assert edge.observed == 8 and edge.lift > 2 and len(edge.styles) == 8
    # the same creators adopting in random order support no edge
    shuffled = [(s, c, int(rng.integers(0, 60))) for s, c, _ in events]
    assert ("leader", "follower") not in {(e.source, e.target) for e in
                                          influence(adoptions_by_style(make_data(shuffled), CONFIG), CONFIG)}


def _trend(style_id: int, takeoff_day: int | None) -> StyleTrend:
    takeoff = DAY0 + dt.timedelta(days=takeoff_day) if takeoff_day is not None else None
    return StyleTrend(style_id, "steady", 0.0, 1.0, 0, 0, 0, 0, 0.0, 0.0, 0.0, takeoff, takeoff, None)


def test_trendsetters_rank_early_adopters_of_styles_that_rose():
    events = []
    for style in range(4):  # "setter" first on every risen style; "late" always last
        events += [(style, "setter", 10 * style, 2, 0.1, 30_000)]
        events += [(style, f"c{i}", 10 * style + 1 + i, 2, 0.1, 300_000) for i in range(5)]
        events += [(style, "late", 10 * style + 8, 2, 0.1, 20_000)]
    events += [(9, "lucky", 0, 2, 0.1, 20_000), (9, "c0", 3)]  # first on a style that never rose
    data = make_data(events)
    adoptions = adoptions_by_style(data, CONFIG)
    board = trendsetters(adoptions, [_trend(s, 10 * s + 4) for s in range(4)] + [_trend(9, None)], CONFIG)
    assert board[0].creator == "setter" and board[0].styles == 4 and board[0].originated == 4
    assert board[0].days_before_takeoff == 4
    assert board[-1].creator == "late" and "lucky" not in {t.creator for t in board}
    assert [t.creator for t in leaderboard(board, tier="micro")] == ["setter", "late"]
    assert [t.tier for t in leaderboard(board, tier="macro")] == ["mid"] * 5
    assert len(leaderboard(board, top=2)) == 2
    with pytest.raises(ValueError, match="unknown follower tier"):
        leaderboard(board, tier="giga")


def test_trendsetter_score_sums_reciprocal_ranks_with_shared_ties():
    data = make_data([(1, "a", 0), (1, "b", 0), (1, "c", 3), (1, "d", 5)])
    adopters = adoptions_by_style(data, CONFIG)[1]
    assert reciprocal_ranks(adopters) == pytest.approx([0.75, 0.75, 1 / 3, 1 / 4])
    assert reciprocal_ranks([]) == []


def test_one_lucky_first_adoption_ranks_below_being_early_again_and_again():
    events = [(0, "lucky", 0), (0, "c0", 1), (0, "c1", 2)]  # lucky is first once, then never again
    for style in range(1, 4):  # "steady" is second on three risen styles
        events += [(style, f"o{style}", 10 * style), (style, "steady", 10 * style + 1)]
        events += [(style, f"x{i}", 10 * style + 2 + i) for i in range(4)]
    adoptions = adoptions_by_style(make_data(events), CONFIG)
    board = trendsetters(adoptions, [_trend(s, 10 * s + 3) for s in range(4)], CONFIG)
    scores = {t.creator: t for t in board}
    assert scores["steady"].score == pytest.approx(1.5) and scores["steady"].styles == 3
    assert scores["lucky"].score == pytest.approx(1.0) and scores["lucky"].originated == 1
    assert board[0].creator == "steady" and scores["steady"].originated == 0


def test_creators_command(data_dir, capsys):
    with Catalog(data_dir) as catalog:
        world = WorldBuilder(catalog)
        rng = np.random.default_rng(2)
        for day in range(60):
            world.post(f"c{rng.integers(12)}", day, "steady", followers=int(rng.integers(1_000, 900_000)))
        for i in range(8):
            world.post(f"t{i}", 35 + i, "trend", frames=3, followers=20_000)
        ids, vectors = world.arrays()
        recluster(catalog, ids, vectors, TrendsConfig(cluster=ClusterConfig(method="kmeans", k_min=2, k_max=6)))
        trend_id = catalog._conn.execute(
            "SELECT gs.style_id FROM garment_styles gs WHERE gs.garment_id = ?", (int(ids[-1]),)).fetchone()[0]
    assert main(["creators", "--data-dir", str(data_dir), "--json", "--tier", "micro"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert trend_id in report["risen_styles"]
    assert report["leaderboard"][0]["creator"] == "t0" and all(t["tier"] == "micro" for t in report["leaderboard"])
    origin = next(o for o in report["originators"] if o["style_id"] == trend_id)
    assert origin["originator"]["creator"] == "t0" and origin["runners_up"][0]["creator"] == "t1"
    assert main(["creators", "--data-dir", str(data_dir), "--style", str(trend_id)]) == 0
    out = capsys.readouterr().out
    assert "originator: @t0" in out and "days after" in out
    assert main(["creators", "--data-dir", str(data_dir)]) == 0
    assert "originators" in capsys.readouterr().out
    assert main(["creators", "--data-dir", str(data_dir), "--style", "999"]) == 2
    assert main(["creators", "--data-dir", str(data_dir), "--tier", "giga"]) == 2


def test_creators_command_without_styles_exits_2(data_dir, capsys):
    assert main(["creators", "--data-dir", str(data_dir)]) == 2
    assert "no styles yet" in capsys.readouterr().err

