"""Search by image, text and both: results joined with the catalog, filters against brute
force, grouping, de-duplication, atomic switches under load, bad inputs, the CLI."""

from __future__ import annotations

import datetime as dt
import json
import threading

import numpy as np
import pytest

from app.cli import main
from core.errors import BadInputError
from inference.catalog import Catalog
from inference.embed import CropEmbedder, IndexSink
from inference.index import (
    EncoderMismatchError,
    NoIndexError,
    load_embeddings,
    rebuild_index,
    write_version,
)
from inference.search import (
    EmbeddedQuery,
    LocalisedGarment,
    SearchConfig,
    Searcher,
    SearchFilters,
    SearchQuery,
    SearchResult,
    dedupe_hits,
    dedupe_order,
    localise_query,
)
from inference.types import Box, GarmentCrop, follower_tier
from models.registry import create_encoder
from tests.index_helpers import add_video, crop_image, index_config, make_world


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """A catalog of 30 videos (180 garments), indexed exactly with tiny:32, and two styles."""
    data_dir = tmp_path_factory.mktemp("world")
    garments = make_world(data_dir, videos=30)
    rebuild_index(data_dir, CropEmbedder(create_encoder("tiny:32")), config=index_config(), progress=False)
    with Catalog(data_dir) as catalog, catalog._transaction() as tx:
        now = "2026-05-01T00:00:00+00:00"
        tx.execute(
            "INSERT INTO styles(id, name, created_at, updated_at) VALUES (1, 'red stripes', ?, ?)",
            (now, now),
        )
        tx.execute(
            "INSERT INTO styles(id, name, created_at, updated_at) VALUES (2, 'mono checks', ?, ?)",
            (now, now),
        )
        for g in garments:
            tx.execute(
                "INSERT INTO garment_styles(garment_id, style_id, distance) VALUES (?, ?, 0.1)",
                (g.id, 1 + g.id % 2),
            )
    return data_dir, garments


@pytest.fixture(scope="module")
def searcher(world):
    data_dir, _ = world
    config = SearchConfig.load()
    searcher = Searcher(data_dir, create_encoder("tiny:32"), config, index_config())
    yield searcher
    searcher.close()


def _brute_force(world, query: np.ndarray, k: int, keep) -> list[int]:
    data_dir, garments = world
    ids, vectors, _ = load_embeddings(data_dir)
    by_id = {g.id: g for g in garments}
    allowed = np.array([keep(by_id[int(i)]) for i in ids])
    scores = vectors[allowed] @ query
    return [int(i) for i in ids[allowed][np.argsort(-scores, kind="stable")[:k]]]


def test_text_search_returns_joined_results(searcher, world):
    data_dir, garments = world
    result = searcher.search(text="red striped top", k=5)
    assert len(result.hits) == 5 and result.query.mode == "text"
    by_id = {g.id: g for g in garments}
    for hit in result.hits:
        truth = by_id[hit.garment_id]
        assert hit.creator == truth.creator and hit.followers == truth.followers
        assert hit.tier == follower_tier(truth.followers) and hit.video_id == truth.video_id
        assert hit.posted_at == truth.posted_at.isoformat() and hit.kind == truth.kind
        assert hit.style_id == 1 + hit.garment_id % 2 and hit.style in {
            "red stripes",
            "mono checks",
        }
        assert hit.t_s >= 0 and (data_dir / truth.crop_path).is_file()
        assert hit.crop_path == str(data_dir / truth.crop_path)
    scores = [h.score for h in result.hits]
    assert scores == sorted(scores, reverse=True)
    assert (
        json.loads(json.dumps(result.to_dict(), default=str))["hits"][0]["garment_id"]
        == result.hits[0].garment_id
    )


def test_image_search_finds_the_garment_itself(searcher, world):
    data_dir, garments = world
    target = garments[7]
    from_file = searcher.search(image=data_dir / target.crop_path, k=3)
    assert from_file.hits[0].garment_id == target.id and from_file.hits[0].score > 0.99
    from inference.images import load_image

    from_array = searcher.search(image=load_image(data_dir / target.crop_path), k=3)
    assert [h.garment_id for h in from_array.hits] == [h.garment_id for h in from_file.hits]


def test_image_plus_text_combines_normalised_embeddings(searcher, world):
    data_dir, garments = world
    path = data_dir / garments[3].crop_path
    image_vector, _ = searcher.embed_query(image=path)
    text_vector, _ = searcher.embed_query(text="in denim")
    both, query = searcher.embed_query(image=path, text="in denim")
    weight = searcher.config.text_weight
    expected = (1 - weight) * image_vector + weight * text_vector
    assert query.mode == "image+text" and query.text == "in denim"
    assert np.allclose(both, expected / np.linalg.norm(expected), atol=1e-5)
    combined = searcher.search(image=path, text="in denim", k=5, dedupe=False)
    direct = searcher.search_vector(both, k=5, dedupe=False)
    assert [h.garment_id for h in combined.hits] == [h.garment_id for h in direct.hits]


FILTER_CASES = [
    (
        SearchFilters.build(date_from="2026-03-10", date_to="2026-04-05"),
        lambda g: dt.date(2026, 3, 10) <= g.posted_at <= dt.date(2026, 4, 5),
    ),
    (SearchFilters.build(creators=["ben", "@dev"]), lambda g: g.creator in {"ben", "dev"}),
    (SearchFilters.build(tiers=["micro"]), lambda g: 10_000 <= g.followers < 50_000),
    (SearchFilters.build(tiers=["macro", "mega"]), lambda g: g.followers >= 50_000),
    (SearchFilters.build(kinds=["bottom"]), lambda g: g.kind == "bottom"),
    (SearchFilters.build(styles=[2]), lambda g: g.id % 2 == 1),
    (
        SearchFilters.build(
            date_from="2026-03-15",
            creators=["ana", "eve", "cleo"],
            kinds=["top", "full"],
            styles=[1],
        ),
        lambda g: (
            g.posted_at >= dt.date(2026, 3, 15)
            and g.creator in {"ana", "eve", "cleo"}
            and g.kind != "bottom"
            and g.id % 2 == 0
        ),
    ),
]


@pytest.mark.parametrize("case", range(len(FILTER_CASES)))
def test_filters_match_brute_force(searcher, world, case):
    filters, keep = FILTER_CASES[case]
    query, _ = searcher.embed_query(text="black and white checked skirt")
    result = searcher.search_vector(query, k=8, filters=filters, dedupe=False)
    expected = _brute_force(world, query, 8, keep)
    assert [h.garment_id for h in result.hits] == expected
    assert result.matched == sum(keep(g) for g in world[1])


def test_filters_through_the_faiss_selector(world):
    """The same filters with the id-selector path (no exact subset search)."""
    data_dir, _ = world
    searcher = Searcher(
        data_dir, create_encoder("tiny:32"), SearchConfig.load(), index_config(exact_filter_max=0)
    )
    try:
        query, _ = searcher.embed_query(text="white top")
        by_id = {g.id: g for g in world[1]}
        ids, vectors, _ = load_embeddings(data_dir)
        score = dict(zip(ids.tolist(), (vectors @ query).tolist(), strict=True))
        for filters, keep in FILTER_CASES:
            hits = searcher.search_vector(query, k=6, filters=filters, dedupe=False).hits
            expected = _brute_force(world, query, 6, keep)
            # FAISS scores with float32 vectors, brute force with the float16 store: same
            # ranking up to near-ties
            assert all(keep(by_id[h.garment_id]) for h in hits) and len(hits) == len(expected)
            assert np.allclose([h.score for h in hits], [score[i] for i in expected], atol=2e-3)
    finally:
        searcher.close()


def test_group_by_creator(searcher):
    result = searcher.search(text="striped", k=20, by_creator=True)
    assert result.groups is not None
    assert sum(len(g.hits) for g in result.groups) == len(result.hits)
    assert len({g.creator for g in result.groups}) == len(result.groups)
    best = [g.best_score for g in result.groups]
    assert best == sorted(best, reverse=True)
    for group in result.groups:
        assert all(h.creator == group.creator and h.tier == group.tier for h in group.hits)


def test_near_identical_frames_are_collapsed(searcher, world):
    data_dir, garments = world
    first = garments[0]
    twin = next(
        g
        for g in garments
        if g.video_id == first.video_id and g.id != first.id and g.id - first.id == 5
    )
    plain = searcher.search(image=data_dir / first.crop_path, k=2, dedupe=False)
    assert {h.garment_id for h in plain.hits} == {first.id, twin.id}
    deduped = searcher.search(image=data_dir / first.crop_path, k=2)
    assert deduped.hits[0].garment_id in {first.id, twin.id}
    assert deduped.hits[1].garment_id not in {first.id, twin.id}


def test_dedupe_keeps_different_videos():
    vectors = np.eye(3, dtype=np.float32)[[0, 0, 0]]
    hits = [_fake_hit(1, video=1), _fake_hit(2, video=2), _fake_hit(3, video=1)]
    assert [h.garment_id for h in dedupe_hits(hits, vectors, 0.97)] == [1, 2]


def _dedupe_reference(video, kind, vectors, threshold, limit):
    """The plain definition: a hit is dropped when a kept better hit of its video and kind is
    at least ``threshold`` similar."""
    kept: list[int] = []
    for j in range(len(video)):
        if any(video[i] == video[j] >= 0 and kind[i] == kind[j] and vectors[i] @ vectors[j] >= threshold
               for i in kept):
            continue
        kept.append(j)
    return kept[:limit]


def test_dedupe_order_matches_the_definition_and_skips_embeddings_without_pairs():
    rng = np.random.default_rng(3)
    for _ in range(200):
        n = int(rng.integers(2, 40))
        video = rng.integers(-1, 4, n)
        kind = rng.integers(0, 2, n)
        base = rng.standard_normal((3, 8))
        vectors = (base[rng.integers(0, 3, n)] + 0.1 * rng.standard_normal((n, 8))).astype(np.float32)
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        limit = int(rng.integers(1, n + 1))
        asked: list[np.ndarray] = []

        def embeddings(positions, vectors=vectors, asked=asked):
            asked.append(positions)
            return vectors[positions]

        kept = dedupe_order(video, kind, embeddings, 0.97, limit).tolist()
        assert kept == _dedupe_reference(video, kind, vectors, 0.97, limit)
        if asked:  # only hits sharing a known video and kind with another are looked up
            shared = [i for i in range(n) if video[i] >= 0 and ((video == video[i]) & (kind == kind[i])).sum() > 1]
            assert sorted(asked[0].tolist()) == shared
    unique = np.arange(5)
    assert dedupe_order(unique, np.zeros(5, int), lambda _: pytest.fail("no pair to compare"), 0.9, 3).tolist() == [0, 1, 2]


def _fake_hit(garment_id: int, video: int):
    from inference.search import SearchHit

    return SearchHit(
        garment_id,
        1.0,
        "top",
        "x.jpg",
        "ana",
        10,
        "nano",
        video,
        "v.mp4",
        0.0,
        "2026-01-01",
        None,
        None,
    )


def test_localisation_picks_the_wanted_garment(searcher, monkeypatch):
    image = np.zeros((120, 60, 3), np.uint8)
    crops = [
        GarmentCrop(0, "top", Box(0, 0, 60, 50), "hog", 0.9, np.full((50, 60, 3), 10, np.uint8)),
        GarmentCrop(
            0, "bottom", Box(0, 50, 60, 120), "hog", 0.9, np.full((70, 60, 3), 20, np.uint8)
        ),
        GarmentCrop(0, "full", Box(0, 0, 60, 120), "hog", 0.9, np.full((120, 60, 3), 30, np.uint8)),
    ]
    import inference.garments

    monkeypatch.setattr(inference.garments, "localise_image", lambda img: crops)
    crop, info = localise_query(image, ["bottom"])
    assert info is not None and info.kind == "bottom" and crop[0, 0, 0] == 20
    assert info.box == (0, 50, 60, 120) and info.method == "hog"
    crop, info = localise_query(image, [])
    assert info is not None and info.kind == "full"
    crop, info = localise_query(image, [], localise=False)
    assert info is None and crop is image
    monkeypatch.setattr(inference.garments, "localise_image", lambda img: [])
    crop, info = localise_query(image, [])
    assert info is None and crop is image
    result = searcher.search(image=np.full((64, 64, 3), 128, np.uint8), k=2)
    assert result.query.garment is None and result.query.mode == "image"


def test_deleted_garments_never_come_back_before_sync(tmp_path):
    data_dir = tmp_path / "data"
    garments = make_world(data_dir, videos=6)
    rebuild_index(data_dir, CropEmbedder(create_encoder("tiny:32")), config=index_config(), progress=False)
    searcher = Searcher(data_dir, create_encoder("tiny:32"), SearchConfig.load(), index_config())
    try:
        video = garments[0].video_id
        with Catalog(data_dir) as catalog:
            catalog.delete_video(video)  # catalog only: the index still holds them
        result = searcher.search(image=data_dir / garments[1].crop_path, k=10, dedupe=False)
        assert len(result.hits) == 10 and all(h.video_id != video for h in result.hits)
    finally:
        searcher.close()


def test_searches_keep_working_during_an_atomic_switch(tmp_path):
    data_dir = tmp_path / "data"
    garments = make_world(data_dir, videos=10)
    encoder = create_encoder("tiny:32")
    first = rebuild_index(data_dir, CropEmbedder(encoder), config=index_config(), progress=False)
    searcher = Searcher(data_dir, encoder, SearchConfig.load(), index_config())
    errors: list[BaseException] = []
    versions: set[str] = set()
    stop = threading.Event()
    query = data_dir / garments[2].crop_path

    def search_forever() -> None:
        while not stop.is_set():
            try:
                result = searcher.search(image=query, k=3, dedupe=False)
                assert result.hits[0].garment_id == garments[2].id
                versions.add(result.index_version)
            except BaseException as exc:  # reported below
                errors.append(exc)
                return

    threads = [threading.Thread(target=search_forever) for _ in range(3)]
    for t in threads:
        t.start()
    try:
        second = rebuild_index(data_dir, CropEmbedder(encoder), config=index_config(), progress=False)
        third = rebuild_index(data_dir, CropEmbedder(encoder), config=index_config(), progress=False)
        deadline = threading.Event()
        deadline.wait(0.3)
    finally:
        stop.set()
        for t in threads:
            t.join()
        searcher.close()
    assert not errors, errors[0]
    assert first in versions and versions <= {first, second, third}
    assert searcher.index.version().name == third


def test_sink_then_search_sees_new_garments(tmp_path):
    data_dir = tmp_path / "data"
    make_world(data_dir, videos=2)
    encoder = create_encoder("tiny:32")
    rebuild_index(data_dir, CropEmbedder(encoder), config=index_config(), progress=False)
    searcher = Searcher(data_dir, encoder, SearchConfig.load(), index_config())
    try:
        rng = np.random.default_rng(99)
        crop = crop_image(rng)
        with Catalog(data_dir) as catalog:
            ids = add_video(
                catalog, data_dir, "new.mp4", "newbie", dt.date(2026, 6, 1), [("top", crop)]
            )
        IndexSink(data_dir, encoder, index_config()).add_garments(ids, [crop])
        result = searcher.search(image=crop, k=1, filters=SearchFilters.build(creators=["newbie"]))
        assert result.hits[0].garment_id == ids[0] and result.hits[0].creator == "newbie"
    finally:
        searcher.close()


# -- bad input ----------------------------------------------------------------------------------


def test_bad_queries(searcher, world, tmp_path):
    _, garments = world
    with pytest.raises(BadInputError, match="at least 1"):
        searcher.search(text="top", k=0)
    with pytest.raises(BadInputError, match="larger than the index"):
        searcher.search(text="top", k=len(garments) + 1)
    with pytest.raises(BadInputError):
        searcher.search(image=b"this is not an image")
    text_file = tmp_path / "notes.jpg"
    text_file.write_text("hello")
    with pytest.raises(BadInputError):
        searcher.search(image=text_file)
    with pytest.raises(BadInputError):
        searcher.search(image=tmp_path / "missing.png")
    with pytest.raises(BadInputError, match="give an image, a text"):
        searcher.search()
    with pytest.raises(BadInputError, match="empty"):
        searcher.search(text="   ")


def test_bad_filters(searcher):
    with pytest.raises(BadInputError, match=r"unknown creator @bne.*@ben"):
        searcher.search(text="top", filters=SearchFilters.build(creators=["bne"]))
    with pytest.raises(BadInputError, match="reversed"):
        SearchFilters.build(date_from="2026-05-01", date_to="2026-04-01")
    with pytest.raises(BadInputError, match="2024-05-31"):
        SearchFilters.build(date_from="May 1st")
    with pytest.raises(BadInputError, match="unknown follower tier"):
        SearchFilters.build(tiers=["giga"])
    with pytest.raises(BadInputError, match="unknown garment kind"):
        SearchFilters.build(kinds=["hat"])
    with pytest.raises(BadInputError, match="unknown style 99"):
        searcher.search(text="top", filters=SearchFilters.build(styles=[99]))
    empty = searcher.search(text="top", filters=SearchFilters.build(date_from="2030-01-01"))
    assert empty.hits == [] and empty.matched == 0


def test_empty_and_missing_index(tmp_path):
    data_dir = tmp_path / "data"
    Catalog(data_dir).close()
    with pytest.raises(NoIndexError, match="no index"):
        Searcher(data_dir, create_encoder("tiny:32"), SearchConfig.load(), index_config())
    version = write_version(
        data_dir,
        np.zeros(0, np.int64),
        np.zeros((0, 32), np.float32),
        create_encoder("tiny:32").describe(),
        index_config(),
        progress=False,
    )
    from inference.index import activate_version

    activate_version(data_dir, version.name)
    searcher = Searcher(data_dir, create_encoder("tiny:32"), SearchConfig.load(), index_config())
    try:
        with pytest.raises(BadInputError, match="index is empty"):
            searcher.search(text="top")
    finally:
        searcher.close()
    with pytest.raises(EncoderMismatchError):
        Searcher(data_dir, create_encoder("tiny:16"), SearchConfig.load(), index_config())


def test_query_json_keeps_its_keys_in_order():
    filters = SearchFilters.build(kinds=["top"])
    garment = LocalisedGarment("top", (1, 2, 3, 4), "hog")
    both = SearchQuery(5, filters, EmbeddedQuery("image+text", "in denim", garment)).to_dict()
    assert list(both) == ["k", "filters", "garment", "text", "mode"]
    assert both["garment"] == {"kind": "top", "box": [1, 2, 3, 4], "method": "hog"}
    assert both["filters"]["kinds"] == ("top",) and both["mode"] == "image+text"
    image = SearchQuery(5, filters, EmbeddedQuery("image")).to_dict()
    assert list(image) == ["k", "filters", "garment", "mode"] and image["garment"] is None
    text = SearchQuery(5, filters, EmbeddedQuery("text", "red")).to_dict()
    assert list(text) == ["k", "filters", "text", "mode"]
    assert list(SearchQuery(5, filters).to_dict()) == ["k", "filters"]


def test_search_status_reads_the_query():
    from app import views

    garment = LocalisedGarment("bottom", (0, 0, 5, 5), "hog")
    result = SearchResult([], SearchQuery(3, SearchFilters(), EmbeddedQuery("image", None, garment)), "v1")
    status = views.search_status(result, 0.012)
    assert status.startswith("0 results · mode: image · 12 ms")  # no internal index version id (it had one)
    assert "v1" not in status
    assert status.endswith("searched with the bottom garment found in the image")
    assert "mode: ?" in views.search_status(SearchResult([], SearchQuery(3, SearchFilters()), "v1"), 0.0)


# -- the CLI --------------------------------------------------------------------------------------


def test_cli_search(world, capsys):
    data_dir, garments = world
    args = ["search", "--data-dir", str(data_dir)]
    assert main([*args, "--text", "red top", "--k", "4", "--json"]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert len(payload["hits"]) == 4 and payload["query"]["mode"] == "text"
    image = str(data_dir / garments[5].crop_path)
    assert (
        main([*args, "--image", image, "--text", "but in denim", "--tier", "micro", "--by-creator"])
        == 0
    )
    out = capsys.readouterr().out
    assert "creator" in out and ("@ben" in out or "@cleo" in out)
    assert (
        main(
            [
                *args,
                "--image",
                image,
                "--k",
                "3",
                "--kind",
                "top",
                "--from",
                "2026-03-01",
                "--to",
                "2026-06-01",
            ]
        )
        == 0
    )
    assert "score" in capsys.readouterr().out
    assert main([*args, "--text", "top", "--creator", "nobody"]) == 2
    assert "unknown creator @nobody" in capsys.readouterr().err
    assert main([*args, "--text", "top", "--from", "2026-05-01", "--to", "2026-04-01"]) == 2
    assert main([*args, "--text", "top", "--k", "0"]) == 2
    assert main(args) == 2
    assert main([*args, "--image", __file__]) == 2


def test_faiss_threads_apply_to_the_calling_thread_only():
    import faiss

    from inference.index import faiss_threads

    def in_another_thread() -> int:
        seen: list[int] = []
        other = threading.Thread(target=lambda: seen.append(faiss.omp_get_max_threads()))
        other.start()
        other.join()
        return seen[0]

    default, fresh = faiss.omp_get_max_threads(), in_another_thread()
    with faiss_threads(1):
        assert faiss.omp_get_max_threads() == 1
        assert in_another_thread() == fresh
    assert faiss.omp_get_max_threads() == default
    with faiss_threads(0):  # 0: left as it is
        assert faiss.omp_get_max_threads() == default


def test_a_thread_count_is_put_back_even_when_the_block_fails():
    from core.process import threads_set

    count = [4]
    with pytest.raises(RuntimeError), threads_set(2, lambda: count[0], lambda n: count.__setitem__(0, n)):
        assert count[0] == 2
        raise RuntimeError("a search failed")
    assert count[0] == 4


@pytest.mark.parametrize("threads", [1, 0])
def test_a_single_query_searches_on_the_configured_threads(world, monkeypatch, threads):
    import faiss

    from inference.index import IndexVersion

    data_dir, _ = world
    seen: list[int] = []
    search = IndexVersion.search

    def recording(self, *args, **kwargs):
        seen.append(faiss.omp_get_max_threads())
        return search(self, *args, **kwargs)

    monkeypatch.setattr(IndexVersion, "search", recording)
    config = SearchConfig.load()
    config.query_threads = threads
    searcher = Searcher(data_dir, create_encoder("tiny:32"), config, index_config())
    try:
        searcher.search(text="red stripes", k=3)
    finally:
        searcher.close()
    assert seen == [1 if threads else faiss.omp_get_max_threads()]


def test_search_cli_threads_option(world, capsys):
    data_dir, _ = world
    argv = ["search", "--data-dir", str(data_dir), "--text", "red", "--encoder", "tiny:32", "--k", "2"]
    assert main([*argv, "--threads", "-1"]) == 2
    assert "--threads must be >= 0" in capsys.readouterr().err
    import torch

    before = torch.get_num_threads()
    assert main([*argv, "--threads", "1", "--json"]) == 0
    assert len(json.loads(capsys.readouterr().out)["hits"]) == 2
    assert torch.get_num_threads() == before  # put back for the rest of this process


def test_approximate_search_matches_its_plain_definition(world, tmp_path):
    """Search over an approximate index is: FAISS's candidates re-ranked exactly with the
    stored float16 embeddings, near-identical hits of one video and kind dropped by the plain
    definition, the first k joined with the catalog."""
    import shutil

    from inference.index import GarmentIndex

    source, garments = world
    data_dir = tmp_path / "approx"
    shutil.copytree(source, data_dir)
    rebuild_index(data_dir, CropEmbedder(create_encoder("tiny:32")), config=index_config(approx_threshold=10),
                  progress=False)
    searcher = Searcher(data_dir, create_encoder("tiny:32"), SearchConfig.load(), index_config(approx_threshold=10))
    try:
        version = GarmentIndex(data_dir, index_config(approx_threshold=10)).version()
        assert not version.exact
        ids, vectors, _ = load_embeddings(data_dir)
        stored = dict(zip(ids.tolist(), vectors, strict=True))  # the float16 values, as float32
        by_id = {g.id: g for g in garments}
        kind_code = {"top": 0, "bottom": 1, "full": 2}
        rng = np.random.default_rng(5)
        twins_seen = 0
        for n in range(12):
            # odd rounds: a video's first garment, whose near-identical second frame is also indexed
            query = stored[garments[6 * n].id] if n % 2 else rng.standard_normal(vectors.shape[1])
            query = (query / np.linalg.norm(query)).astype(np.float32)
            k = int(rng.integers(2, 8))
            fetch = k * searcher.config.dedup_fetch_factor
            _, candidates = version.raw_search(query[None], fetch * version.config.rerank_factor)
            candidates = [int(i) for i in candidates[0] if i >= 0]
            exact = np.array([stored[i] @ query for i in candidates], np.float32)
            ranked = [candidates[i] for i in np.argsort(-exact, kind="stable")[:fetch]]
            video = np.array([by_id[i].video_id for i in ranked])
            kind = np.array([kind_code[by_id[i].kind] for i in ranked])
            kept = _dedupe_reference(video, kind, np.array([stored[i] for i in ranked]), searcher.config.dedup_threshold, k)
            twins_seen += kept != list(range(len(kept)))
            hits = searcher.search_vector(query, k).hits
            assert [h.garment_id for h in hits] == [ranked[i] for i in kept]
            for hit in hits:
                truth = by_id[hit.garment_id]
                assert hit.score == pytest.approx(float(stored[hit.garment_id] @ query), abs=1e-5)
                assert (hit.video_id, hit.kind, hit.creator, hit.followers) == (
                    truth.video_id, truth.kind, truth.creator, truth.followers)
                assert hit.crop_path == str(data_dir / truth.crop_path) and hit.style_id == 1 + hit.garment_id % 2
        assert twins_seen  # the near-identical second frames were met and dropped
    finally:
        searcher.close()


def test_catalog_changes_show_at_once_from_this_process_and_within_catalog_check_s_from_others(world, tmp_path):
    import shutil
    import sqlite3

    from inference.search import CatalogMetadata

    source, garments = world
    data_dir = tmp_path / "catalog"
    shutil.copytree(source, data_dir)
    catalog = Catalog(data_dir)
    metadata = CatalogMetadata(catalog.metadata_reader())
    garment = np.array([garments[0].id], np.int64)
    try:
        metadata.refresh(3600)
        assert metadata.describe(garment)[0].followers == garments[0].followers
        with sqlite3.connect(data_dir / "catalog.sqlite") as other:  # as another process writes
            other.execute("UPDATE creators SET followers = 77 WHERE handle = ?", (garments[0].creator,))
        metadata.refresh(3600)
        assert metadata.describe(garment)[0].followers == garments[0].followers  # not asked yet
        metadata.refresh(0.0)
        assert metadata.describe(garment)[0].followers == 77
        with catalog._transaction() as tx:  # this process: seen at the next search
            tx.execute("UPDATE creators SET followers = 88 WHERE handle = ?", (garments[0].creator,))
        metadata.refresh(3600)
        assert metadata.describe(garment)[0].followers == 88
    finally:
        metadata.close()
        catalog.close()


def test_catalog_records_of_unknown_ids(searcher, world):
    _, garments = world
    top = max(g.id for g in garments)
    asked = np.array([garments[3].id, -1, top + 1, top + 10**7, garments[4].id], np.int64)
    searcher.metadata.refresh()
    records = searcher.metadata.records(asked)
    facts = records.facts(len(asked))
    assert [f is None for f in facts] == [False, True, True, True, False]
    assert facts[0].video_id == garments[3].video_id and facts[4].kind == garments[4].kind
    assert records.twin_keys[1:4] == [-1, -1, -1]
    video, kind = searcher.metadata.videos_and_kinds(np.array([garments[3].id, -5], np.int64))
    assert video.tolist() == [garments[3].video_id, -1] and kind[1] == -1
    assert searcher.metadata.describe(np.array([-7], np.int64)) == [None]


def test_hits_are_hashable_and_compare_by_value():
    assert _fake_hit(1, video=1) == _fake_hit(1, video=1)
    assert len({_fake_hit(1, video=1), _fake_hit(1, video=1), _fake_hit(2, video=1)}) == 2


def test_crops_set_aside_as_no_garment_are_searched_only_on_request_with_their_reason(tmp_path, capsys):
    from inference.catalog import GarmentCheckRecord
    from inference.trends.identity import STATE_KEY

    data_dir = tmp_path / "data"
    garments = make_world(data_dir, videos=6)
    rebuild_index(data_dir, CropEmbedder(create_encoder("tiny:32")), config=index_config(), progress=False)
    card, wall = garments[1], garments[2]
    with Catalog(data_dir) as catalog:  # a title card the garment check rejected, a wall the style check did
        catalog.save_garment_checks([GarmentCheckRecord(card.id, False, "text card", 0.2, 0.01, 0.01, 0.4, 90.0,
                                                        False, False, False, "test", "test")])
        catalog.set_meta(STATE_KEY, json.dumps({"set_aside": {str(wall.id): "in a style of non-garments"}}))
    searcher = Searcher(data_dir, create_encoder("tiny:32"), SearchConfig.load(), index_config())
    try:
        for target in (card, wall):
            hidden = searcher.search(image=data_dir / target.crop_path, k=10, dedupe=False)
            assert target.id not in {h.garment_id for h in hidden.hits} and len(hidden.hits) == 10
            asked = searcher.search(image=data_dir / target.crop_path, k=10, dedupe=False,
                                    filters=SearchFilters.build(set_aside=True))
            assert asked.hits[0].garment_id == target.id
            reasons = {h.garment_id: h.set_aside for h in asked.hits}
            assert reasons[target.id] == ("text card" if target is card else "in a style of non-garments")
            assert all(reasons[g] is None for g in reasons if g not in (card.id, wall.id))
        narrowed = searcher.search(image=data_dir / card.crop_path, k=3, dedupe=False,
                                   filters=SearchFilters.build(kinds=[card.kind]))  # a filter hides it too
        assert card.id not in {h.garment_id for h in narrowed.hits}
    finally:
        searcher.close()
    assert main(["search", "--data-dir", str(data_dir), "--image", str(data_dir / card.crop_path),
                 "--encoder", "tiny:32", "--k", "3", "--no-dedupe", "--include-set-aside", "--json"]) == 0
    hit = json.loads(capsys.readouterr().out)["hits"][0]
    assert hit["garment_id"] == card.id and hit["set_aside"] == "text card"
