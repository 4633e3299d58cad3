"""The world scorer on hand-made cases whose right scores are known."""

from __future__ import annotations

import datetime as dt
import json

import numpy as np
import pytest

from inference.palette import load_palette
from inference.types import Box
from world import scorer as we

D = dt.date


def _truth_frames() -> list[we.TrueGarment]:
    return [
        we.TrueGarment("a.mp4", 0, 0.0, "top", "A", Box(0, 0, 10, 10)),
        we.TrueGarment("a.mp4", 0, 0.0, "bottom", "A", Box(0, 10, 10, 20)),
        we.TrueGarment("a.mp4", 7, 0.5, "top", "A", Box(0, 0, 10, 10)),
        we.TrueGarment("a.mp4", 7, 0.5, "bottom", "A", Box(0, 10, 10, 20)),
        we.TrueGarment("b.mp4", 0, 0.0, "full", "B", Box(5, 5, 15, 25)),
    ]


def _key(styles: list[we.TrueStyle], garments: list[we.TrueGarment] | None = None) -> we.AnswerKey:
    return we.AnswerKey(videos=[], styles=styles, creators=[], garments=garments or [])


def test_box_iou_matches_video_nearest_time_and_kind():
    matcher = we.GarmentMatcher(_truth_frames())
    found = [
        we.FoundGarment(1, "a.mp4", 0.1, "top", Box(0, 0, 10, 10)),  # nearest t=0.0: IoU 1
        we.FoundGarment(2, "a.mp4", 0.45, "bottom", Box(0, 10, 10, 15)),  # nearest t=0.5: IoU 0.5
        we.FoundGarment(3, "a.mp4", 0.0, "full", Box(0, 0, 10, 20)),  # no 'full' in a.mp4: 0
        we.FoundGarment(4, "zzz.mp4", 0.0, "top", Box(0, 0, 10, 10)),  # unknown video: 0
    ]
    score = we.box_scores(found, matcher)
    assert score.garments == 4 and score.matched == 2
    assert score.mean_iou == pytest.approx(0.375)
    assert score.median_iou == pytest.approx(0.25)
    assert score.share_iou_50 == pytest.approx(0.5)
    assert score.by_kind == {"bottom": 0.5, "full": 0.0, "top": 0.5}
    assert we.true_styles_of(found, matcher) == {1: "A", 2: "A"}


def test_box_scores_refuse_an_empty_catalog():
    with pytest.raises(ValueError, match="no catalog garments"):
        we.box_scores([], we.GarmentMatcher(_truth_frames()))


def test_perfect_clustering_scores_one_whatever_the_labels():
    score = we.cluster_scores({1: "A", 2: "A", 3: "B", 4: "B"}, {1: 7, 2: 7, 3: 3, 4: 3})
    assert (score.nmi, score.ari, score.purity, score.coverage) == pytest.approx((1, 1, 1, 1))


def test_split_cluster_has_known_nmi_ari_purity():
    # true [A A B B] vs predicted [0 0 1 2]: NMI = 2I/(H(T)+H(P)) = 0.8, ARI = 4/7, purity 1
    score = we.cluster_scores({1: "A", 2: "A", 3: "B", 4: "B"}, {1: 0, 2: 0, 3: 1, 4: 2})
    assert score.nmi == pytest.approx(0.8)
    assert score.ari == pytest.approx(4 / 7)
    assert score.purity == pytest.approx(1.0)
    assert score.predicted_styles == 3 and score.true_styles == 2


def test_every_garment_in_one_cluster():
    score = we.cluster_scores({1: "A", 2: "A", 3: "A", 4: "B"}, {1: 0, 2: 0, 3: 0, 4: 0})
    assert score.nmi == pytest.approx(0.0)
    assert score.ari == pytest.approx(0.0)
    assert score.purity == pytest.approx(0.75)


def test_one_true_style():
    together = we.cluster_scores({1: "A", 2: "A"}, {1: 0, 2: 0})
    assert (together.nmi, together.ari, together.purity) == pytest.approx((1, 1, 1))
    split = we.cluster_scores({1: "A", 2: "A", 3: "A"}, {1: 0, 2: 1, 3: 2})
    assert (split.nmi, split.ari, split.purity) == pytest.approx((0, 0, 1))


def test_unassigned_garments_lower_coverage_only():
    score = we.cluster_scores({1: "A", 2: "A", 3: "B", 4: "B"}, {1: 0, 2: we.UNASSIGNED, 3: 1})
    assert score.coverage == pytest.approx(0.5) and score.garments == 2
    assert score.purity == pytest.approx(1.0)
    with pytest.raises(ValueError):
        we.cluster_scores({1: "A"}, {1: we.UNASSIGNED})


def test_majority_mapping_and_representatives():
    truth = {1: "A", 2: "A", 3: "B", 4: "B", 5: "A", 6: "B"}
    predicted = {1: 0, 2: 0, 3: 0, 4: 1, 5: 2, 6: 3}
    mapping = we.majority_mapping(truth, predicted)
    assert mapping == {0: "A", 1: "B", 2: "A", 3: "B"}
    # A: style 0 holds 2 of its garments, style 2 holds 1 -> 0; B: styles 1 and 3 tie -> lower id
    assert we.representatives(truth, predicted, mapping) == {"A": 0, "B": 1}
    assert we.majority_mapping({1: "A", 2: "B"}, {1: 5, 2: 5}) == {5: "A"}  # tie -> first id


RISING = [
    we.TrueStyle("S1", originator="ann", rose=True, takeoff=D(2026, 6, 10)),
    we.TrueStyle("S2", originator="bob", rose=True, takeoff=D(2026, 6, 20)),
    we.TrueStyle("S3", originator="cat", rose=False),
]


def test_originator_top1_and_top3():
    rankings = {0: ["ann", "x"], 1: ["x", "y", "bob"]}
    score = we.originator_scores(_key(RISING), rankings, {"S1": 0, "S2": 1, "S3": 9})
    assert score.styles == 2
    assert score.top1 == pytest.approx(0.5) and score.top3 == pytest.approx(1.0)
    assert score.per_style == {"S1": 1, "S2": 3}
    missing = we.originator_scores(_key(RISING), rankings, {"S1": 0})
    assert missing.top1 == pytest.approx(0.5) and missing.top3 == pytest.approx(0.5)
    assert missing.per_style["S2"] is None


def test_originators_with_no_rising_style_are_undefined():
    score = we.originator_scores(_key([RISING[2]]), {0: ["cat"]}, {"S3": 0})
    assert score.styles == 0 and score.top1 is None and score.top3 is None


def test_rising_precision_recall_and_days_late():
    mapping = {0: "S1", 4: "S1", 2: "S3"}
    flagged = {0: D(2026, 6, 12), 4: D(2026, 6, 11), 2: D(2026, 6, 1), 5: D(2026, 6, 5)}
    score = we.rising_scores(_key(RISING), flagged, mapping)
    assert score.precision == pytest.approx(0.5)  # styles 0 and 4 of 4 flagged
    assert score.recall == pytest.approx(0.5)  # S1 found, S2 missed
    assert score.days_late == {"S1": 1}  # first flag of S1 (style 4) a day after take-off
    assert score.mean_days_late == pytest.approx(1.0)
    assert score.within_7_days == pytest.approx(0.5)  # S2 never flagged counts as late


def test_rising_degenerate_cases():
    none_rose = we.rising_scores(_key([RISING[2]]), {}, {})
    assert none_rose.precision is None and none_rose.recall is None and none_rose.within_7_days is None
    nothing_flagged = we.rising_scores(_key(RISING), {}, {})
    assert nothing_flagged.precision is None and nothing_flagged.recall == 0.0
    late = we.rising_scores(_key(RISING), {1: D(2026, 6, 30)}, {1: "S2"})
    assert late.days_late == {"S2": 10} and late.within_7_days == pytest.approx(0.0)
    early = we.rising_scores(_key(RISING), {1: D(2026, 6, 15)}, {1: "S2"})
    assert early.days_late == {"S2": -5}  # flagged before take-off counts as on time


def _creators(*setters: str, others: int = 8) -> we.AnswerKey:
    creators = [we.TrueCreator(h, 20_000, "micro", True) for h in setters]
    creators += [we.TrueCreator(f"c{i}", 20_000, "micro", False) for i in range(others)]
    return we.AnswerKey(videos=[], styles=[], creators=creators, garments=[])


def test_trendsetters_in_the_top_ten_percent():
    key = _creators("ann", "bob")
    board = ["ann", "c0", "bob", *[f"c{i}" for i in range(1, 8)], "ann"]  # 10 distinct handles
    score = we.trendsetter_scores(key, board, top_share=0.2)  # top 2 places: ann, c0
    assert (score.ranked, score.top) == (10, 2)
    assert score.recall_in_top == pytest.approx(0.5) and score.precision_in_top == pytest.approx(0.5)
    assert we.trendsetter_scores(key, board).top == 1  # 10% of 10
    nobody = we.trendsetter_scores(_creators(), board)
    assert nobody.recall_in_top is None and nobody.precision_in_top == 0.0
    empty = we.trendsetter_scores(key, [])
    assert empty.recall_in_top == 0.0 and empty.precision_in_top is None
    with pytest.raises(ValueError):
        we.trendsetter_scores(key, board, top_share=0)


def test_search_recall_at_10():
    truth = {1: "A", 2: "A", 3: "B"}
    image = np.zeros((4, 4, 3), np.uint8)
    answers = {"A": [1, 3, 2], "B": [1, 2], "C": [1]}
    queries = [we.SearchQuery(image, style, f"{style}.mp4") for style in ("A", "B", "C")]
    calls = iter(answers[q.style] for q in queries if q.style in ("A", "B"))
    score = we.search_scores(queries, lambda img: next(calls), truth)
    assert score.queries == 2 and score.skipped == 1
    assert score.recall_at_k == pytest.approx(0.5)  # A: 2/2, B: 0/1
    assert score.hit_at_k == pytest.approx(0.5)


def test_search_recall_counts_only_the_top_k_and_no_duplicates():
    truth = {g: "A" for g in range(1, 21)}
    query = we.SearchQuery(np.zeros((2, 2, 3), np.uint8), "A", "q.mp4")
    score = we.search_scores([query], lambda img: [99, 1, 1, 2, 3, *range(4, 20)], truth, k=5)
    assert score.recall_at_k == pytest.approx(3 / 5)  # 99 irrelevant, duplicate 1 counted once


def test_evaluate_ties_the_stages_together():
    key = we.AnswerKey(
        videos=[],
        styles=[we.TrueStyle("A", originator="ann", rose=True, takeoff=D(2026, 6, 1)), we.TrueStyle("B")],
        creators=[],
        garments=_truth_frames(),
    )
    found = [
        we.FoundGarment(1, "a.mp4", 0.0, "top", Box(0, 0, 10, 10)),
        we.FoundGarment(2, "a.mp4", 0.5, "bottom", Box(0, 10, 10, 20)),
        we.FoundGarment(3, "b.mp4", 0.0, "full", Box(5, 5, 15, 25)),
    ]
    report = we.evaluate(
        key, found, predicted={1: 0, 2: 0, 3: 1}, rankings={0: ["ann"]}, flagged={0: D(2026, 6, 3)}
    )
    assert report.boxes.mean_iou == pytest.approx(1.0)
    assert report.clusters is not None and report.clusters.nmi == pytest.approx(1.0)
    assert report.originators is not None and report.originators.top1 == 1.0
    assert report.rising is not None and report.rising.days_late == {"A": 2}
    assert report.search is None
    assert json.loads(json.dumps(report.to_dict()))["rising"]["days_late"] == {"A": 2}


def _write_key(folder):
    """A one-video world in the format `stylescope world generate` writes."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    answers = folder / "answers"
    answers.mkdir(parents=True)
    payload = {
        "season": {"start": "2026-06-01", "days": 30},
        "creators": [{"handle": "ann", "followers": 20000, "tier": "micro", "trendsetter": True}],
        "styles": [
            {"id": 0, "description": "red plaid skirt", "originator": "ann", "rose": True, "takeoff_day": 1, "lookalike_of": None},
            {"id": 1, "description": "navy jeans", "originator": None, "rose": False, "takeoff_day": None, "lookalike_of": 0},
        ],
        "videos": [{"name": "v00000", "file": "videos/v00000.mp4", "creator": "ann", "posted_at": "2026-06-01", "style": 0, "held_out": False}],
    }
    (answers / "world.json").write_text(json.dumps(payload))
    rows = [
        {"video": "v00000", "frame": 0, "t_s": 0.0, "kind": "top", "x0": 1, "y0": 2, "x1": 3, "y1": 4},
        {"video": "v00000", "frame": 0, "t_s": 0.0, "kind": "bottom", "x0": None, "y0": None, "x1": None, "y1": None},
    ]
    pq.write_table(pa.Table.from_pylist(rows), answers / "boxes.parquet")
    return answers


def test_load_answer_key(tmp_path):
    _write_key(tmp_path)
    key = we.load_answer_key(tmp_path / "answers")
    assert key.videos[0].posted_at == D(2026, 6, 1) and key.videos[0].file == "v00000.mp4"
    assert key.styles[0].takeoff == D(2026, 6, 2) and [s.id for s in key.rising_styles()] == ["0"]
    assert key.styles[1].lookalike_of == "0"
    assert key.creators[0].is_trendsetter
    # the invisible bottom is not a true garment
    assert key.garments == [we.TrueGarment("v00000.mp4", 0, 0.0, "top", "0", Box(1, 2, 3, 4))]


def test_load_answer_key_errors(tmp_path):
    with pytest.raises(we.AnswerKeyError, match="no creator world"):
        we.load_answer_key(tmp_path / "nowhere")
    with pytest.raises(we.AnswerKeyError, match="no answer key"):
        we.load_answer_key(tmp_path)
    answers = _write_key(tmp_path)
    (answers / "boxes.parquet").write_bytes(b"not parquet")
    with pytest.raises(we.AnswerKeyError, match="cannot read true boxes"):
        we.load_answer_key(tmp_path)
    (answers / "world.json").write_text("{not json")
    with pytest.raises(we.AnswerKeyError, match="cannot read"):
        we.load_answer_key(tmp_path)
    (answers / "world.json").write_text(json.dumps({"season": {"start": "2026-06-01"}, "videos": [{"file": "x"}]}))
    with pytest.raises(we.AnswerKeyError, match="malformed"):
        we.load_answer_key(tmp_path)
    (tmp_path / "INCOMPLETE").write_text("")
    with pytest.raises(we.AnswerKeyError, match="incomplete"):
        we.load_answer_key(tmp_path)


def _catalog_with_garments(data_dir, boxes):
    from inference.catalog import Catalog, FrameRow, GarmentRow
    from inference.types import VideoInfo, VideoSubmission

    catalog = Catalog(data_dir)
    submission = VideoSubmission(data_dir / "world" / "videos" / "v00000.mp4", "ann", 20000, D(2026, 6, 1))
    video_id = catalog.begin_video(submission, "hash0")
    info = VideoInfo(144, 256, 15.0, 1.0, 15, 0, "h264")
    frames = [FrameRow(0.0, 0, 100.0, 0, 144, 256)]
    garments = [GarmentRow(0, kind, box, "hog", 0.9, f"crops/{i}.jpg") for i, (kind, box) in enumerate(boxes)]
    ids = catalog.finish_video(video_id, info, frames, garments)
    return catalog, ids


def test_eval_world_cli_scores_boxes_and_catalog_styles(tmp_path, capsys):
    from app.cli import main

    _write_key(tmp_path / "world")
    catalog, ids = _catalog_with_garments(tmp_path, [("top", Box(1, 2, 3, 4)), ("bottom", Box(0, 0, 5, 5))])
    assert main(["eval", "world", "--answers", str(tmp_path / "world"), "--data-dir", str(tmp_path), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["boxes"]["garments"] == 2 and report["boxes"]["matched"] == 1
    assert report["boxes"]["mean_iou"] == pytest.approx(0.5)  # top exact, invisible bottom 0
    assert report["clusters"] is None
    with catalog._transaction() as tx:
        tx.execute("INSERT INTO styles(id, name, created_at, updated_at) VALUES (5, 's', 'x', 'x')")
        tx.execute("INSERT INTO garment_styles(garment_id, style_id, distance) VALUES (?, 5, 0.1)", (ids[0],))
    assert main(["eval", "world", "--answers", str(tmp_path / "world"), "--data-dir", str(tmp_path)]) == 0
    table = capsys.readouterr().out
    assert "clustering NMI" in table and "box IoU, mean" in table
    assert main(["eval", "world", "--answers", str(tmp_path / "world"), "--data-dir", str(tmp_path), "--json"]) == 0
    junk = json.loads(capsys.readouterr().out)["junk"]  # the bottom box shows no true garment and has no style
    assert junk["non_garments"] == 1 and junk["non_garments_styled"] == 0.0 and junk["styled_non_garments"] == 0.0
    assert junk["garments_set_aside"] == 0.0  # no full run recorded: nothing was set aside


def test_eval_world_cli_bad_input(tmp_path, capsys):
    from app.cli import main

    _write_key(tmp_path / "world")
    assert main(["eval", "world", "--answers", str(tmp_path / "missing"), "--data-dir", str(tmp_path)]) == 2
    assert "no creator world" in capsys.readouterr().err
    (tmp_path / "empty").mkdir()
    assert main(["eval", "world", "--answers", str(tmp_path / "world"), "--data-dir", str(tmp_path / "empty")]) == 2
    assert "no catalog" in capsys.readouterr().err
    assert main(["eval", "world", "--answers", str(tmp_path / "world"), "--data-dir", str(tmp_path / "typo")]) == 2
    assert "does not exist" in capsys.readouterr().err and not (tmp_path / "typo").exists()
    assert main(["eval"]) == 2


def _write_mp4(path, frames, fps=15):
    import imageio_ffmpeg

    path.parent.mkdir(parents=True, exist_ok=True)
    height, width = frames[0].shape[:2]
    writer = imageio_ffmpeg.write_frames(str(path), (width, height), fps=fps, codec="libx264", pix_fmt_out="yuv420p", output_params=["-crf", "12"])
    writer.send(None)
    for frame in frames:
        writer.send(np.ascontiguousarray(frame))
    writer.close()


def test_search_queries_cut_true_boxes_from_held_out_videos(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    answers = _write_key(tmp_path)
    payload = json.loads((answers / "world.json").read_text())
    payload["videos"].append({"name": "q00001", "file": "queries/q00001.mp4", "creator": "ann", "posted_at": "2026-06-03", "style": 1, "held_out": True})
    (answers / "world.json").write_text(json.dumps(payload))
    frames, rows = [], []
    for i in range(6):
        frame = np.full((96, 64, 3), 128, np.uint8)
        x0 = 8 + 4 * i  # the garment moves right by 4 px a frame
        frame[20:60, x0 : x0 + 24] = (220, 30, 30)
        frames.append(frame)
        rows.append({"video": "q00001", "frame": i, "t_s": i / 15, "kind": "full", "x0": x0, "y0": 20, "x1": x0 + 24, "y1": 60})
    _write_mp4(tmp_path / "queries" / "q00001.mp4", frames)
    table = pq.read_table(answers / "boxes.parquet").to_pylist() + rows
    pq.write_table(pa.Table.from_pylist(table), answers / "boxes.parquet")

    queries = we.search_queries(we.load_answer_key(tmp_path), kind="full", per_video=2)
    assert [q.video for q in queries] == ["q00001.mp4", "q00001.mp4"]
    assert all(q.style == "1" and q.image.shape == (40, 24, 3) for q in queries)
    for query in queries:  # the crop is the red garment, not the grey room
        assert query.image[..., 0].mean() > 180 and query.image[..., 1].mean() < 80
    (tmp_path / "queries" / "q00001.mp4").write_bytes(b"broken")
    with pytest.raises(we.AnswerKeyError, match="cannot decode"):
        we.search_queries(we.load_answer_key(tmp_path))


def test_eval_world_cli_without_an_index_skips_search(tmp_path, capsys):
    from app.cli import main

    answers = _write_key(tmp_path / "world")
    payload = json.loads((answers / "world.json").read_text())
    payload["videos"].append({"name": "q00001", "file": "queries/q00001.mp4", "creator": "ann", "posted_at": "2026-06-03", "style": 1, "held_out": True})
    (answers / "world.json").write_text(json.dumps(payload))
    _catalog_with_garments(tmp_path, [("top", Box(1, 2, 3, 4))])
    assert main(["eval", "world", "--answers", str(tmp_path / "world"), "--data-dir", str(tmp_path), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["search"] is None


@pytest.mark.slow
def test_eval_world_end_to_end_on_a_generated_world(tmp_path, capsys):
    """world generate -> ingest (tiny encoder) -> trends -> eval world: every score is computed."""
    from app.cli import main

    world, data = tmp_path / "world", tmp_path / "data"
    assert main(["-q", "world", "generate", "--preset", "tiny", "--seed", "3", "--out", str(world)]) == 0
    assert main(["-q", "ingest", "--manifest", str(world / "manifest.csv"), "--data-dir", str(data), "--encoder", "tiny"]) == 0
    assert main(["-q", "trends", "--data-dir", str(data), "--recluster", "--json"]) == 0
    capsys.readouterr()
    assert main(["eval", "world", "--answers", str(world), "--data-dir", str(data), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["boxes"]["matched"] > 0 and 0 < report["boxes"]["mean_iou"] <= 1
    assert report["clusters"]["garments"] > 0 and 0 <= report["clusters"]["purity"] <= 1
    assert report["rising"] is not None and report["originators"] is not None
    assert report["trendsetters"]["true_trendsetters"] >= 0
    assert report["search"]["queries"] > 0 and 0 <= report["search"]["recall_at_k"] <= 1
    naming = report["naming"]  # the tiny encoder's text tower names facets: scored against the recipes
    assert naming["styles"] > 0 and all(0 <= naming[f]["accuracy"] <= 1 for f in ("type", "colour", "pattern"))
    assert 0 <= naming["wrong"] <= 1


def test_eval_world_refuses_another_worlds_key_and_leaves_other_videos_out(tmp_path, capsys):
    from app.cli import main

    answers = _write_key(tmp_path / "world")
    catalog, _ = _catalog_with_garments(tmp_path, [("top", Box(1, 2, 3, 4))])
    catalog.close()
    payload = json.loads((answers / "world.json").read_text())
    payload["videos"][0]["creator"] = "bob"  # same file name, another world's creator
    (answers / "world.json").write_text(json.dumps(payload))
    assert main(["eval", "world", "--answers", str(tmp_path / "world"), "--data-dir", str(tmp_path)]) == 2
    assert "does not belong to this catalog" in capsys.readouterr().err
    with pytest.raises(we.AnswerKeyError, match="names none of this catalog's videos"):
        we.own_garments(we.load_answer_key(tmp_path / "world"), [])


def test_naming_scores_per_facet_and_names_with_a_facet_no_garment_has():
    from world.naming_scorer import WorldColours, score_claims, slot_truth, summarise, world_claims
    from world.styles import Garment

    def garment(kind_type, colour, pattern, silhouette):
        return Garment(kind_type, colour, (0, 0, 0), pattern, "white", (255, 255, 255), silhouette)

    top, jeans = garment("shirt", "red", "plaid", "fitted"), garment("jeans", "navy", "denim", "straight")
    other_top = garment("shirt", "yellow", "plaid", "fitted")
    truth = {1: {"top": top, "bottom": jeans}, 2: {"top": top, "bottom": jeans}, 3: {"top": other_top, "bottom": jeans},
             4: {"top": top, "bottom": jeans}}
    kinds = {1: "top", 2: "bottom", 3: "top", 4: "top"}
    facts = slot_truth([1, 2, 3, 4], kinds, truth)
    assert facts["top"]["majority"]["colour"] == "red" and facts["top"]["present"]["colour"] == {"red", "yellow"}
    colours = WorldColours(load_palette())
    right = {"top": world_claims({"colour": "red", "pattern": "plaid", "type": "shirt"}, colours),
             "bottom": world_claims({"type": "jeans", "pattern": "denim"}, colours)}
    wrong = {"top": world_claims({"colour": "yellow", "type": "blazer"}, colours), "bottom": {}}
    scores = [score_claims(right, facts), score_claims(wrong, facts)]
    assert not scores[0]["wrong"] and scores[1]["wrong"]  # no garment is a blazer
    summary = summarise(scores)
    assert summary["type"] == {"accuracy": 0.5, "named": 0.75, "precision": 0.667}  # 2 of 4 slots named right, 3 named
    assert summary["colour"]["accuracy"] == 0.25 and summary["colour"]["precision"] == 0.5  # yellow: present, not the majority
    assert summary["silhouette"]["named"] == 0 and summary["wrong"] == 0.5
    assert world_claims({"pattern": "polka dot", "colour": "butter yellow"}, colours) == {"pattern": "polka dots",
                                                                                         "colour": "yellow"}


def test_a_two_colour_name_is_right_only_with_the_prints_two_colours():
    """"black and white checked top": right for a black check with white (either order, the
    pixels cannot tell which the recipe calls main), wrong when one colour is neither."""
    from world.naming_scorer import (
        WorldColours,
        named_facets,
        score_claims,
        slot_truth,
        summarise,
        world_claims,
    )
    from world.styles import Garment

    colours = WorldColours(load_palette())
    check = Garment("shirt", "black", (0, 0, 0), "checks", "white", (255, 255, 255), "fitted")
    facts = slot_truth([1, 2], {1: "top", 2: "top"}, {1: {"top": check}, 2: {"top": check}})
    stored = {"colour": {"value": "white", "second": "black", "evidence": 0.9}, "pattern": {"value": "checked"}}
    assert named_facets(stored) == {"colour": "white", "colour2": "black", "pattern": "checked"}
    right = score_claims({"top": world_claims(named_facets(stored), colours)}, facts)
    assert right["colour"] == {"match": 1, "named": 1} and (right["pairs"], right["pair_match"]) == (1, 1)
    assert not right["wrong"]
    off = score_claims({"top": world_claims({"colour": "black", "colour2": "red"}, colours)}, facts)
    assert off["colour"] == {"match": 0, "named": 1} and off["wrong"]  # no garment has red
    half = score_claims({"top": world_claims({"colour": "black", "colour2": "black"}, colours)}, facts)
    assert half["colour"]["match"] == 0  # one colour twice is not the pair
    summary = summarise([right, off])
    assert summary["colour"]["pairs"] == 2 and summary["colour"]["pairs_right"] == 1


def test_a_dress_slot_claims_its_type():
    """"beige dress" says the garment is a dress: right for a dress, wrong for a top and a bottom."""
    from world.naming_scorer import WorldColours, score_claims, slot_claims, slot_truth
    from world.styles import Garment

    colours = WorldColours(load_palette())
    dress = Garment("dress", "beige", (0, 0, 0), "solid", "white", (255, 255, 255), "mini")
    top, jeans = (Garment("shirt", "beige", (0, 0, 0), "solid", "white", (255, 255, 255), "fitted"),
                  Garment("jeans", "navy", (0, 0, 0), "denim", "white", (255, 255, 255), "straight"))
    assert slot_claims("dress", {"colour": "beige"}, colours) == {"colour": "beige", "type": "dress"}
    assert slot_claims("top", {"colour": "beige"}, colours) == {"colour": "beige"}
    said = {"dress": slot_claims("dress", {}, colours)}
    as_dress = score_claims(said, slot_truth([1, 2], {1: "full", 2: "full"}, {1: {"dress": dress}, 2: {"dress": dress}}))
    assert as_dress["type"] == {"match": 1, "named": 1} and not as_dress["wrong"]
    outfit = {1: {"top": top, "bottom": jeans}, 2: {"top": top, "bottom": jeans}}
    assert score_claims(said, slot_truth([1, 2], {1: "top", 2: "bottom"}, outfit))["wrong"]  # "dress" for a top and jeans


def test_junk_scores_count_non_garments_in_styles_and_garments_set_aside():
    """A wall crop in a style and a real garment the screen kept out are both counted."""
    truth = [we.TrueGarment("a.mp4", 0, 0.0, "top", "A", Box(0, 0, 10, 10)),
             we.TrueGarment("a.mp4", 0, 0.0, "bottom", "A", Box(0, 10, 10, 20))]
    found = [
        we.FoundGarment(1, "a.mp4", 0.0, "top", Box(0, 0, 10, 10)),  # the top
        we.FoundGarment(2, "a.mp4", 0.0, "bottom", Box(0, 10, 10, 20)),  # the bottom
        we.FoundGarment(3, "a.mp4", 0.0, "top", Box(50, 50, 90, 90)),  # the wall beside the person
        we.FoundGarment(4, "b.mp4", 0.0, "full", Box(0, 0, 10, 20)),  # a title card video: no truth at all
    ]
    junk = we.junk_scores(found, we.GarmentMatcher(truth), predicted={1: 7, 3: 7}, set_aside={2: "text card", 4: "cut by fallback_center"},
                          medoids={7: 3, 8: 1, 9: 99})
    assert junk.crops == 4 and junk.non_garments == 2
    assert junk.non_garments_styled == 0.5  # the wall reached style 7, the title card did not
    assert junk.styled_non_garments == 0.5  # half of style 7's crops are no garment
    assert junk.garments_set_aside == 0.5 and junk.set_aside_reasons == {"text card": 1}
    assert junk.medoids_no_garment == 1  # style 7 shows the wall as its typical garment; 9 is not scored


def test_a_crop_of_a_frame_that_shows_no_garment_matches_nothing(tmp_path):
    """A title card before the first shot of the person is not that person's garment, however
    near in time the first frame that shows one is (the key lists such frames with no box)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    rows = {"video": ["v0"] * 6, "frame": [0, 0, 1, 1, 2, 2], "t_s": [0.0, 0.0, 0.0667, 0.0667, 0.1333, 0.1333],
            "kind": ["top", "full"] * 3, "x0": [None, None, None, 0.0, 0.0, 0.0], "y0": [None, None, None, 0.0, 0.0, 0.0],
            "x1": [None, None, None, 10.0, 10.0, 10.0], "y1": [None, None, None, 20.0, 20.0, 20.0]}
    pq.write_table(pa.table(rows), tmp_path / "boxes.parquet")
    garments, blank = we._garments(tmp_path / "boxes.parquet", [{"name": "v0", "file": "videos/v0.mp4", "style": "A"}])
    assert len(garments) == 3 and blank == {"v0.mp4": [0.0]}, "frame 1 shows a full figure, so it is not blank"
    matcher = we.GarmentMatcher(garments, blank)
    card = we.FoundGarment(1, "v0.mp4", 0.0, "full", Box(0, 0, 10, 20))
    assert matcher.match(card) is None
    assert we.GarmentMatcher(garments).match(card) is not None, "without the blank frames it matched frame 1"
    assert matcher.match(we.FoundGarment(2, "v0.mp4", 0.0667, "top", Box(0, 0, 10, 20))) is None  # no top there
    assert matcher.match(we.FoundGarment(3, "v0.mp4", 0.13, "top", Box(0, 0, 10, 20))) is not None


def test_the_rising_bench_loads_a_worlds_predicted_and_oracle_styles(tmp_path, monkeypatch):
    """bench/bench_rising.py reads a world's catalog the way eval does (it broke once when the
    scorer's catalog reader moved into the catalog, and nothing ran it)."""
    import importlib.util
    import sys
    from pathlib import Path

    _write_key(tmp_path / "world")
    catalog, ids = _catalog_with_garments(tmp_path, [("top", Box(1, 2, 3, 4))])
    with catalog._transaction() as tx:
        tx.execute("INSERT INTO styles(id, name, created_at, updated_at) VALUES (5, 's', 'x', 'x')")
        tx.execute("INSERT INTO garment_styles(garment_id, style_id, distance) VALUES (?, 5, 0.1)", (ids[0],))
    catalog.close()
    path = Path(__file__).resolve().parents[1] / "bench" / "bench_rising.py"
    spec = importlib.util.spec_from_file_location("bench_rising", path)
    bench = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "bench_rising", bench)  # its dataclasses look their module up
    spec.loader.exec_module(bench)
    world = bench.load_world(tmp_path, "one")
    assert world.groupings["predicted"].mapping == {5: "0"}  # the catalog's style stands for its garment's true style
    assert world.groupings["oracle"].sightings == [(0, "ann", 0)] and world.n_days == 1
