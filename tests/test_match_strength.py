"""Match strength of search hits (strong / fair / weak), the "no close match" notice, why a hit
matched, and where the cut-offs come from: derived from same-style vs different-style pairs,
recorded with the encoder (a model version's version.json, or configs/encoders.yaml for a
packaged encoder), read back by the searcher."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pytest

from app.cli import main
from inference.embed import CropEmbedder
from inference.index import rebuild_index
from inference.search import SearchConfig, Searcher, query_words, shared_words
from models.match import Cutoffs, MatchThresholds, derive_cutoffs, recorded_thresholds
from models.offline import PACKAGED_HEADS
from models.registry import create_encoder
from models.settings import load_settings
from tests.index_helpers import crop_image, index_config, make_world
from training.versions import VersionWriter

CUTOFFS = {
    "derived_by": "test",
    "image": {"fair": 0.5, "strong": 0.95},  # a crop of a catalog garment finds itself: strong
    "text": {"fair": 0.99, "strong": 0.995},  # the tiny text tower never comes close: weak
}


@pytest.fixture
def small_world(tmp_path):
    """Four videos indexed with tiny:32; no cut-offs recorded yet."""
    data_dir = tmp_path / "data"
    garments = make_world(data_dir, videos=4)
    rebuild_index(data_dir, CropEmbedder(create_encoder("tiny:32")), config=index_config(), progress=False)
    return data_dir, garments


def record(data_dir, spec: str, cutoffs: dict) -> str:
    """A model version built with ``spec`` that records ``cutoffs`` (not made current)."""
    return VersionWriter(data_dir).commit({"encoder": spec, "kind": "test", "match_strength": cutoffs},
                                          activate=False)[0]


def searcher_for(data_dir) -> Searcher:
    return Searcher(data_dir, create_encoder("tiny:32"), SearchConfig.load(), index_config())


# -- deriving ---------------------------------------------------------------------------------------
def test_cutoffs_separate_same_style_from_different_style_pairs():
    rng = np.random.default_rng(0)
    same = rng.normal(0.70, 0.04, 400)  # best same-style pair per query
    other = rng.normal(0.40, 0.04, 400)  # best different-style pair per query
    scores = np.concatenate([same, other])
    cutoffs = derive_cutoffs(same, other, scores, np.r_[np.ones(400, bool), np.zeros(400, bool)])
    assert 0.5 < cutoffs.fair < 0.6  # the middle of the gap between the two
    assert cutoffs.strong >= cutoffs.fair
    assert (same < cutoffs.fair).mean() < 0.02 and (other >= cutoffs.fair).mean() < 0.02
    assert [cutoffs.strength(s) for s in (0.9, cutoffs.fair - 1e-3, 0.2)] == ["strong", "weak", "weak"]
    # hits from 0.8 are all right, between 0.5 and 0.7 half: 90% of the hits from about 0.65 up
    # are right (strong), below that it is a toss-up (fair)
    hits = np.r_[np.linspace(0.8, 0.95, 40), np.linspace(0.5, 0.7, 40)]
    right = np.r_[np.ones(40, bool), np.arange(40) % 2 == 0]
    banded = derive_cutoffs(same, other, hits, right)
    assert 0.6 < banded.strong < 0.7 and banded.strength(0.55) == "fair"
    overlapping = derive_cutoffs([0.6, 0.7], [0.65], [0.7, 0.65, 0.6], [True, False, True])
    assert overlapping.fair <= overlapping.strong
    with pytest.raises(ValueError, match="same-style and different-style"):
        derive_cutoffs([], [0.3], [0.3], [False])


def test_recorded_cutoffs_round_trip_and_bad_records_are_refused():
    thresholds = MatchThresholds.from_dict(CUTOFFS)
    assert thresholds.cutoffs("image") == Cutoffs(0.5, 0.95) and thresholds.cutoffs("image+text") is None
    assert MatchThresholds.from_dict(thresholds.to_dict()) == thresholds
    with pytest.raises(ValueError, match="fair <= strong"):
        MatchThresholds.from_dict({"text": {"fair": 0.8, "strong": 0.5}})
    with pytest.raises(ValueError, match="numbers fair and strong"):
        MatchThresholds.from_dict({"text": {"fair": "high"}})


# -- where they are recorded ------------------------------------------------------------------------
def test_thresholds_are_read_from_the_model_version_of_the_encoder(small_world):
    data_dir, garments = small_world
    searcher = searcher_for(data_dir)
    result = searcher.search(text="red top", k=3)
    assert searcher.match is None and result.cutoffs is None and result.notice is None
    assert all(hit.strength is None for hit in result.hits)  # no record: no guess
    searcher.close()

    record(data_dir, "tiny:16", {"image": {"fair": 0.9, "strong": 0.99}})  # another encoder's: not used
    record(data_dir, "tiny:32", CUTOFFS)
    searcher = searcher_for(data_dir)
    try:
        assert searcher.match == MatchThresholds.from_dict(CUTOFFS)
        result = searcher.search(image=str(data_dir / garments[0].crop_path), k=3)
        assert result.cutoffs == Cutoffs(0.5, 0.95) and result.hits[0].strength == "strong"
        assert all(hit.strength == result.cutoffs.strength(hit.score) for hit in result.hits)
        assert result.notice is None and not result.no_close_match
        weak = searcher.search(text="red top", k=3)
        assert {hit.strength for hit in weak.hits} == {"weak"}
        assert weak.no_close_match and weak.notice.startswith("No close match in the catalog")
        assert "text matches are fair from 0.99" in weak.notice
        unrated = searcher.search_vector(searcher.embed_query(text="red top")[0], 3)
        assert unrated.notice is None and unrated.hits[0].strength is None  # mode unknown
    finally:
        searcher.close()


def test_the_packaged_encoder_reads_its_cutoffs_from_the_shipped_settings():
    version = f"stylescope-default-{hashlib.sha256(PACKAGED_HEADS.read_bytes()).hexdigest()[:12]}"
    shipped = load_settings().match_strength
    assert version in shipped, "re-run bench/calibrate_match.py --write after changing the packaged heads"
    thresholds = recorded_thresholds("stylescope-default", version)
    assert thresholds is not None and set(thresholds.modes) == {"image", "text", "image+text"}
    assert thresholds == MatchThresholds.from_dict(shipped[version])
    assert "calibrate_match" in thresholds.derived_by
    text = thresholds.cutoffs("text")
    assert text is not None and 0.35 < text.fair <= text.strong < 0.8  # junk 0.29-0.35, real hits 0.5-0.8
    assert recorded_thresholds("stylescope-default", "stylescope-default-000000000000") is None


# -- why a hit matched ------------------------------------------------------------------------------
def test_shared_words_are_the_query_words_the_style_name_has():
    words = query_words("I am looking for a Red plaid mini-skirt, please")
    assert words == ["red", "plaid", "mini", "skirt"]
    assert shared_words(words, "red checked mini skirt") == ("red", "mini", "skirt")
    assert shared_words(words, None) == () and shared_words([], "red skirt") == ()
    # a naming phrase is one word: a t-shirt is no "shirt", a tank top no "crop top", navy is no "blue"
    assert shared_words(query_words("red plaid shirt"), "olive t-shirt + olive cargo pants") == ()
    assert shared_words(query_words("light blue crop top"), "blue tank top + light blue jeans") == ("light blue",)
    assert shared_words(query_words("polka dot t-shirt"), "pink polka dot t-shirt") == ("polka dot", "t-shirt")


def test_hits_say_which_words_their_style_shares(small_world):
    data_dir, _ = small_world
    from inference.catalog import Catalog

    with Catalog(data_dir) as catalog, catalog._transaction() as tx:
        tx.execute("INSERT INTO styles(id, name, created_at, updated_at) VALUES (1, 'red striped top', 'x', 'x')")
        tx.execute("INSERT INTO garment_styles(garment_id, style_id, distance) SELECT id, 1, 0.1 FROM garments")
    searcher = searcher_for(data_dir)
    try:
        result = searcher.search(text="a red top in stripes", k=2)
        assert all(hit.shared_words == ("red", "top") for hit in result.hits)
        assert searcher.search(image=crop_image(np.random.default_rng(1)), k=1).hits[0].shared_words == ()
    finally:
        searcher.close()


# -- the CLI ----------------------------------------------------------------------------------------
def test_cli_shows_the_strength_column_and_the_notice(small_world, capsys):
    data_dir, garments = small_world
    record(data_dir, "tiny:32", CUTOFFS)
    args = ["search", "--data-dir", str(data_dir), "--encoder", "tiny:32"]
    assert main([*args, "--text", "red top", "--k", "3", "--json"]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert payload["notice"].startswith("No close match in the catalog")
    assert payload["cutoffs"] == {"fair": 0.99, "strong": 0.995}
    assert {hit["strength"] for hit in payload["hits"]} == {"weak"}
    assert main([*args, "--text", "red top", "--k", "3"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("No close match in the catalog")
    assert "match" in lines[1].split() and "weak" in lines[3].split()
    assert main([*args, "--image", str(data_dir / garments[0].crop_path), "--k", "2"]) == 0
    out = capsys.readouterr().out
    assert "No close match" not in out and "strong" in out.splitlines()[2].split()


# -- the packaged encoder on outfits the catalog has and lacks ---------------------------------------
@pytest.mark.slow
def test_a_missing_outfit_gets_the_notice_and_a_present_one_does_not(tmp_path):
    """A catalog of rendered garments in three colour x pattern pairs, embedded by the packaged
    default encoder with its shipped cut-offs: what it holds is found without the notice,
    "red plaid mini skirt" and a red plaid garment it lacks get the notice."""
    import datetime as dt

    from inference.catalog import Catalog
    from tests.index_helpers import add_video
    from world.render import render_garment_crops

    data_dir = tmp_path / "data"
    held = [("navy", "stripes"), ("blue", "denim"), ("beige", "solid")]
    stock = render_garment_crops(40, seed=3, size=160, only=held)
    with Catalog(data_dir) as catalog:
        for n in range(0, len(stock), 5):
            add_video(catalog, data_dir, f"v{n:02d}.mp4", "ana", dt.date(2026, 3, 1 + n // 5),
                      [(s.attributes["kind"], s.image) for s in stock[n:n + 5]])
    encoder = create_encoder()
    rebuild_index(data_dir, CropEmbedder(encoder), config=index_config(), progress=False)
    config = SearchConfig.load()
    config.localise = False  # the queries are garment crops already (a person detector would re-cut them)
    searcher = Searcher(data_dir, encoder, config, index_config())

    try:
        assert searcher.match is not None
        for text in (stock[0].caption, stock[7].caption):
            result = searcher.search(text=text, k=5)
            assert not result.no_close_match and result.hits[0].strength in ("strong", "fair"), text
        for sample in (stock[3], stock[12]):  # the same garment seen again, a little closer
            seen_again = np.ascontiguousarray(sample.image[6:-6, 6:-6])
            result = searcher.search(image=seen_again, k=5)
            assert not result.no_close_match, (sample.caption, result.hits[0].score)
        for text in ("red plaid mini skirt", "a yellow polka-dot hoodie"):
            result = searcher.search(text=text, k=5)
            assert result.no_close_match, (text, result.hits[0].score)
        for sample in render_garment_crops(2, seed=9, size=160, only=[("red", "plaid")]):
            result = searcher.search(image=sample.image, k=5)
            assert result.no_close_match, (sample.caption, result.hits[0].score)
    finally:
        searcher.close()
