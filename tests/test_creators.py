"""Originators with evidence, adopters in order, influence above chance, trendsetter leaderboard."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json

import numpy as np
import pytest

from app.cli import main
from inference.catalog import Catalog
from inference.trends import (
    ClusterConfig,
    CreatorsConfig,
    Sighting,
    StyleTrend,
    TrendsConfig,
    load_trend_data,
    recluster,
)
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


def test_a_far_first_video_counts_when_the_creator_wears_the_style_again_close_by():
    # kim's first video sits beyond the distance limit (shot before the look settled); she wears
    # the style again, close to its centroid, after ann's first video
    later = [(1, "ann", 4, 3, 0.1)] + [(1, f"c{i}", 6 + i, 2, 0.1) for i in range(12)]
    events = [(1, "kim", 0, 2, 0.9), *later, (1, "kim", 5, 3, 0.1)]
    (origin,) = _origin(events).values()
    assert origin.originator.creator == "kim" and origin.originator.day == DAY0
    (origin,) = originators(make_data(events), CreatorsConfig(far_worn_again=False)).values()
    assert origin.originator.creator == "ann"
    # worn again only far away: still no adoption
    (origin,) = _origin([(1, "kim", 0, 2, 0.9), *later, (1, "kim", 5, 3, 0.9)]).values()
    assert origin.originator.creator == "ann"


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


def test_a_video_split_evenly_between_two_styles_is_no_evidence_for_either_by_its_share():
    # mada's two-frame video shows style 2 in one frame and style 1 in the other: "half the
    # video" for both, so neither counts it unless mada wears the style again
    later = [(1, "ann", 4, 3)] + [(1, f"c{i}", 6 + i, 2) for i in range(5)]
    data = make_data([(1, "mada", 0, 1, 0.1, 20_000, 2), *later])
    data.sightings.append(dataclasses.replace(data.sightings[0], style_id=2))
    origins = originators(data, CONFIG)
    assert origins[1].originator.creator == "ann" and origins[2].originator.creator == "mada"
    assert not origins[2].originator.confident, "style 2 has no other sighting: the fallback names mada"
    alone = make_data([(1, "mada", 0, 1, 0.1, 20_000, 2), *later])
    assert originators(alone, CONFIG)[1].originator.creator == "mada", "uncontested, half the video counts"
    again = make_data([(1, "mada", 0, 1, 0.1, 20_000, 2), *later, (1, "mada", 9, 2)])
    again.sightings.append(dataclasses.replace(again.sightings[0], style_id=2))
    assert originators(again, CONFIG)[1].originator.creator == "mada", "worn again: a real early adoption"


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


def _with_near_garments(events, near_events):
    """TrendData of ``events`` (as make_data) plus near-only sightings of style 1 from
    ``near_events`` ``(creator, day, frames, distance, video_frames)``, each a video of its own."""
    data = make_data(events + [(None, creator, day) for creator, day, *_ in near_events])
    by_creator = {(p.creator, p.day): p for p in data.posts}
    for creator, day, frames, distance, video_frames in near_events:
        post = by_creator[(creator, DAY0 + dt.timedelta(days=day))]
        data.near_sightings.append(Sighting(1, post.video_id, creator, post.followers, post.day, frames, frames,
                                            video_frames, distance, post.video_id * 10, 0.5, "crops/near.jpg"))
    return data


def test_an_originator_whose_first_video_was_left_as_noise_is_found():
    later = [(1, "bob", 5, 3), (1, "ann", 9, 2)] + [(1, f"c{i}", 11 + i, 2) for i in range(5)]
    # ann's first video (day 1) landed just beyond the style's limit: near it, but in no style
    data = _with_near_garments(later, [("ann", 1, 3, 0.25, 3)])
    (origin,) = originators(data, CONFIG).values()
    assert origin.originator.creator == "ann" and origin.originator.near_frames == 3
    assert origin.originator.day == DAY0 + dt.timedelta(days=1) and origin.runners_up[0].creator == "bob"
    assert origin.to_dict()["originator"]["near_frames"] == 3
    (origin,) = originators(data, CreatorsConfig(near_garments=False)).values()
    assert origin.originator.creator == "bob", "without near garments the first video is not seen"
    # near garments join the video's sighting of the style: one assigned frame of three is no
    # longer a stray when the other two frames of the video lie near the style
    data = _with_near_garments([(1, "dee", 1, 1, 0.1, 20_000, 3), *later], [])
    assert originators(data, CONFIG)[1].originator.creator == "bob"
    data.near_sightings.append(dataclasses.replace(data.sightings[0], frames=2, garments=2, distance=0.25))
    assert originators(data, CONFIG)[1].originator.creator == "dee"


def test_a_stray_near_frame_is_never_the_originator():
    later = [(1, "bob", 5, 3)] + [(1, f"c{i}", 7 + i, 2) for i in range(5)]
    # one frame of a four-frame video (the rest shows something else), never worn again
    data = _with_near_garments(later, [("stray", 0, 1, 0.22, 4)])
    assert originators(data, CONFIG)[1].originator.creator == "bob"
    # two near frames of five are no adoption either: a near-only sighting needs most of its video
    data = _with_near_garments(later, [("stray", 0, 2, 0.22, 5)])
    assert originators(data, CONFIG)[1].originator.creator == "bob"
    # ...or the creator wearing the style again
    data = _with_near_garments([*later, (1, "stray", 12, 2)], [("stray", 0, 2, 0.22, 5)])
    assert originators(data, CONFIG)[1].originator.creator == "stray"
    # garments near a style never stand in for it when it has no confident sighting
    alone = _with_near_garments([(1, "bob", 5, 1, 0.1, 20_000, 4)], [("stray", 0, 1, 0.22, 4)])
    assert [a.creator for a in adoptions_by_style(alone, CONFIG)[1]] == ["bob"]


def test_a_near_frame_in_a_video_of_another_style_is_no_wearing_even_by_a_later_wearer():
    # bench world 5959: vani's video of another style has one frame near the dress style; she
    # wears the dress from day 9 on, so "worn again" named her the dress's originator on day 0
    later = [(1, "issi", 1, 1, 0.1, 20_000, 1)] + [(1, f"c{i}", 3 + i, 2) for i in range(6)] + [(1, "vani", 9, 3)]
    data = _with_near_garments(later, [("vani", 0, 1, 0.37, 5)])
    near = data.near_sightings[0]
    assert originators(data, CONFIG)[1].originator.creator == "vani"  # not contested: worn again counts
    data.sightings.append(dataclasses.replace(near, style_id=2, distance=0.1, near_frames=0))  # her video's own style
    assert originators(data, CONFIG)[1].originator.creator == "issi"
    assert originators(data, CONFIG)[2].originator.creator == "vani"


def test_an_originator_left_as_noise_by_the_clustering_is_found(data_dir):
    # style "look" started by ann on day 0 in a video shot differently (its frames lie beyond the
    # noise limit, nearest "look"); nine creators follow from day 6, and three other styles run
    with Catalog(data_dir) as catalog:
        world = WorldBuilder(catalog, dim=32, seed=4)
        outfit = {"top": "look-top", "bottom": "look-bottom"}
        first = world.post("ann", 0, outfit, frames=3, noise=0.065)
        far = world.post("far", 1, outfit, frames=3, noise=0.12)  # too far to be near the style
        following = [world.post(f"f{i}", 6 + i, outfit, frames=3) for i in range(9)]
        for other in ("x", "y", "z"):
            for i in range(10):
                world.post(f"{other}{i}", i, {"top": f"{other}-top", "bottom": f"{other}-bottom"}, frames=3)
        ids, vectors = world.arrays()
        config = TrendsConfig(cluster=ClusterConfig(method="kmeans", group_by="outfit", k_min=2, k_max=6))
        recluster(catalog, ids, vectors, config)
        styled, near = catalog.garment_style_ids(), {g.garment_id for g in catalog.near_garments()}
        ann = {g.id for g in catalog.garments(video_id=first)}
        assert not ann & set(styled) and ann <= near, "ann's first video is left out of the style, near it"
        assert not {g.id for g in catalog.garments(video_id=far)} & (set(styled) | near)
        data = load_trend_data(catalog, as_of=DAY0 + dt.timedelta(days=30))
        look = styled[catalog.garments(video_id=following[0])[0].id]
        origins = originators(data, CONFIG)
        assert origins[look].originator.creator == "ann" and origins[look].originator.video_id == first
        assert origins[look].runners_up[0].creator == "f0"
        assert originators(data, CreatorsConfig(near_garments=False))[look].originator.creator == "f0"
        assert data.styles[look].size == 9 * 3 * 2, "near garments do not count in the style's size"


def test_two_lookalikes_one_colour_step_apart_get_their_own_originators(data_dir):
    # white vs beige polka-dot trousers under the same top: the embedding barely tells them apart,
    # the pixels do. The big white style starts on day 0 (w0); the small beige one, worn by 4
    # creators, is started by b0 on day 20. After the full run each has its own originator.
    from PIL import Image

    white, beige, navy = (242, 242, 236), (222, 204, 168), (30, 40, 90)
    with Catalog(data_dir) as catalog:
        world = WorldBuilder(catalog, dim=32, seed=7, noise=0.02)
        step = world.centre("shift") - (world.centre("shift") @ world.centre("white")) * world.centre("white")
        world.centres["beige"] = world.centre("white") + 0.3 * step / np.linalg.norm(step)
        colour = {}
        for creator, day, look in [(f"w{i}", i * 2, "white") for i in range(12)] + [
                (f"b{i}", 20 + 3 * i, "beige") for i in range(4)]:
            video = world.post(creator, day, {"top": "top", "bottom": look}, frames=4)
            colour[video] = white if look == "white" else beige
        for other in ("x", "y"):
            for i in range(10):
                colour[world.post(f"{other}{i}", i, {"top": f"{other}-top", "bottom": f"{other}-bottom"},
                                  frames=4)] = navy
        rng = np.random.default_rng(0)
        for garment in catalog.garments():
            rgb = navy if garment.kind == "top" else colour[garment.video_id]
            pixels = np.clip(np.asarray(rgb, float) + rng.normal(0, 3, (48, 32, 3)), 0, 255).astype(np.uint8)
            (data_dir / garment.crop_path).parent.mkdir(parents=True, exist_ok=True)
            Image.fromarray(pixels).save(data_dir / garment.crop_path)
        ids, vectors = world.arrays()
        cluster = ClusterConfig(method="kmeans", group_by="outfit", k_min=2, k_max=6, split_separation=0.0,
                                style_check=False)  # flat-colour crops: no garment to the ImageNet check
        merged = TrendsConfig(cluster=dataclasses.replace(cluster, lookalikes=False))
        recluster(catalog, ids, vectors, merged)
        first = {o.originator.creator for o in originators(load_trend_data(catalog), CONFIG).values()}
        assert "b0" not in first, "merged with the white style, the beige one has no originator of its own"
        recluster(catalog, ids, vectors, TrendsConfig(cluster=dataclasses.replace(cluster, lookalikes=True)))
        origins = originators(load_trend_data(catalog), CONFIG)
        styles = catalog.garment_style_ids()
        beige_style = styles[catalog.garments(video_id=max(colour, key=lambda v: colour[v] == beige))[0].id]
        white_style = styles[catalog.garments(video_id=min(colour))[0].id]
        assert beige_style != white_style
        assert origins[beige_style].originator.creator == "b0" and origins[beige_style].adopters == 4
        assert origins[white_style].originator.creator == "w0"


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

