"""The garment index: factories by size, approximate vs exact, filters inside the search,
add/remove/rebuild invariants, persistence, versions, corruption, concurrency, export."""

from __future__ import annotations

import json
import threading

import numpy as np
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.cli import main
from configs import ConfigError
from core.errors import BadInputError
from inference.catalog import Catalog
from inference.embed import CropEmbedder, IndexSink
from inference.index import (
    EncoderMismatchError,
    GarmentIndex,
    IndexConfig,
    IndexCorruptError,
    IndexVersion,
    NoIndexError,
    Selection,
    activate_version,
    choose_factory,
    export_embeddings,
    index_root,
    list_versions,
    load_embeddings,
    read_current,
    rebuild_from_store,
    rebuild_index,
    sync,
    write_version,
)
from models.registry import create_encoder
from tests.index_helpers import crop_image, index_config, make_world, unit_rows

INFO = {"name": "tiny:32", "version": "tiny-32-seed0", "dim": 32}


def _brute_force(vectors: np.ndarray, ids: np.ndarray, query: np.ndarray, k: int) -> np.ndarray:
    scores = vectors @ query
    return ids[np.argsort(-scores, kind="stable")[:k]]


def _live(data_dir, ids, vectors, config):
    version = write_version(data_dir, ids, vectors, INFO, config, progress=False)
    activate_version(data_dir, version.name)
    return GarmentIndex(data_dir, config, INFO)


@pytest.fixture(scope="module")
def approx_data(tmp_path_factory):
    """An IVF-PQ index over 12k clustered vectors, built once for the module."""
    rng = np.random.default_rng(1)
    vectors = unit_rows(rng, 12_000, 32)
    ids = rng.permutation(np.arange(5, 40_000))[: len(vectors)].astype(np.int64)
    queries = unit_rows(rng, 40, 32)
    data_dir = tmp_path_factory.mktemp("approx")
    _live(data_dir, ids, vectors, index_config(approx_threshold=10_000))
    return data_dir, ids, vectors, queries


def test_factory_is_chosen_by_size():
    config = index_config(approx_threshold=1000)
    assert choose_factory(999, 256, config) == "IDMap2,Flat"
    assert choose_factory(1_000_000, 256, config) == "IVF1024,SQ8"
    pq = index_config(approx_threshold=1000, approx_factory="IVF{nlist},PQ{pq_m}")
    assert choose_factory(1_000_000, 256, pq) == "IVF1024,PQ64"
    assert choose_factory(5000, 48, pq) == "IVF64,PQ12"


@pytest.mark.slow
def test_approximate_search_agrees_with_exact(approx_data):
    data_dir, ids, vectors, queries = approx_data
    index = GarmentIndex(data_dir, index_config(nprobe=16), INFO)
    version = index.version()
    assert not version.exact and version.meta["factory"].startswith("IVF")
    _, found = index.search(queries, 10)
    recall = np.mean(
        [
            len(set(found[q]) & set(_brute_force(vectors, ids, queries[q], 10))) / 10
            for q in range(len(queries))
        ]
    )
    assert recall >= 0.9
    scores, _ = index.search(queries[:1], 10)
    assert np.all(np.diff(scores[0]) <= 1e-6)  # re-ranked: best first


@pytest.mark.slow
@pytest.mark.parametrize("exact_filter_max", [0, 10**9])
def test_filtered_search_matches_brute_force(approx_data, exact_filter_max):
    """Both paths: FAISS id selector (0) and exact search over the selected embeddings."""
    data_dir, ids, vectors, queries = approx_data
    index = GarmentIndex(data_dir, index_config(nprobe=16, exact_filter_max=exact_filter_max), INFO)
    rng = np.random.default_rng(7)
    for fraction in (0.5, 0.05, 0.001):
        allowed = ids[rng.random(len(ids)) < fraction]
        selection = Selection(allowed)
        keep = np.isin(ids, allowed)
        _, found = index.search(queries[:10], 10, selection)
        recalls = []
        for q in range(10):
            truth = _brute_force(vectors[keep], ids[keep], queries[q], 10)
            got = found[q][found[q] >= 0]
            assert set(got) <= set(allowed.tolist())
            assert len(got) == min(10, len(allowed))  # never short when matches exist
            recalls.append(len(set(got) & set(truth)) / len(truth))
        assert np.mean(recalls) >= (0.999 if exact_filter_max else 0.9)


def test_flat_filtered_search_is_exact(data_dir):
    rng = np.random.default_rng(3)
    vectors = unit_rows(rng, 800, 32)
    ids = np.arange(100, 900, dtype=np.int64)
    index = _live(data_dir, ids, vectors, index_config(exact_filter_max=0))
    allowed = ids[::7]
    _, found = index.search(vectors[:5], 8, Selection(allowed))
    keep = np.isin(ids, allowed)
    for q in range(5):
        assert list(found[q]) == list(_brute_force(vectors[keep], ids[keep], vectors[q], 8))


operations = st.lists(
    st.one_of(
        st.tuples(st.just("add"), st.integers(1, 40)),
        st.tuples(st.just("remove"), st.floats(0.0, 1.0)),
    ),
    min_size=1,
    max_size=6,
)


@settings(
    max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(ops=operations)
def test_add_remove_rebuild_invariants(tmp_path_factory, ops):
    data_dir = tmp_path_factory.mktemp("data")
    config = index_config(approx_threshold=10**9)
    rng = np.random.default_rng(len(ops))
    index = _live(data_dir, np.zeros(0, np.int64), np.zeros((0, 32), np.float32), config)
    model: dict[int, np.ndarray] = {}
    next_id = 1
    for op, arg in ops:
        if op == "add":
            new = np.arange(next_id, next_id + arg, dtype=np.int64)
            vectors = unit_rows(rng, arg, 32)
            assert index.add(new, vectors) == arg
            assert index.add(new[:1], vectors[:1]) == 0  # adding twice is a no-op
            model.update(zip(new.tolist(), vectors, strict=True))
            next_id += arg
        else:
            doomed = [i for i in model if rng.random() < arg]
            assert index.remove(doomed) == len(doomed)
            for i in doomed:
                del model[i]
        version = index.version()
        assert sorted(version.store.ids.tolist()) == sorted(model)
        assert version.index.ntotal == len(model)
    reopened = GarmentIndex(data_dir, config, INFO)
    assert sorted(reopened.version().store.ids.tolist()) == sorted(model)
    if model:
        some = sorted(model)[len(model) // 2]
        _, found = reopened.search(model[some][None], 1)
        assert found[0, 0] == some
    rebuild_from_store(data_dir, config, progress=False)
    ids, vectors, _ = load_embeddings(data_dir)
    assert sorted(ids.tolist()) == sorted(model)
    for i, v in zip(ids, vectors, strict=True):
        assert np.allclose(v, model[int(i)], atol=2e-3)  # float16 store


def test_persistence_round_trip(data_dir):
    rng = np.random.default_rng(0)
    vectors = unit_rows(rng, 300, 32)
    ids = np.arange(1, 301, dtype=np.int64)
    config = index_config()
    index = _live(data_dir, ids[:200], vectors[:200], config)
    index.add(ids[200:], vectors[200:])
    before = index.search(vectors[:20], 5)
    name = read_current(data_dir)
    path = index_root(data_dir) / name
    meta = json.loads((path / "meta.json").read_text())
    assert meta["encoder"] == INFO and meta["count"] == 300 and meta["factory"] == "IDMap2,Flat"
    assert meta["checksum"] and meta["created_at"] and (path / "config.yaml").is_file()
    assert len(meta["segments"]) == 2
    loaded = IndexVersion.load(path, config)
    after = loaded.search(vectors[:20], 5)
    assert np.array_equal(before[1], after[1]) and np.allclose(before[0], after[0])


def test_small_adds_write_their_own_rows_not_the_whole_index(data_dir):
    """Appends merge only the newest segments and leave the FAISS file until it is due."""
    rng = np.random.default_rng(3)
    vectors = unit_rows(rng, 740, 32)
    ids = np.arange(1, 741, dtype=np.int64)
    config = index_config(checkpoint_rows=0, checkpoint_share=0.5)
    writer = _live(data_dir, ids[:100], vectors[:100], config)
    reader = GarmentIndex(data_dir, config, INFO)
    first = reader.version()
    assert len(first) == 100
    path = index_root(data_dir) / read_current(data_dir)
    faiss_writes, largest_segment_write = 0, 0
    for start in range(100, 740, 10):
        before = json.loads((path / "meta.json").read_text())
        writer.add(ids[start : start + 10], vectors[start : start + 10])
        meta = json.loads((path / "meta.json").read_text())
        faiss_writes += meta["index_file"] != before["index_file"]
        new = [s for s in meta["segments"] if s["ids"] not in {b["ids"] for b in before["segments"]}]
        assert len(new) == 1 and new[0]["count"] >= 10
        largest_segment_write = max(largest_segment_write, new[0]["count"])
        assert sum(s["count"] for s in meta["segments"]) == meta["count"] == start + 10
        assert meta["count"] - meta["index_rows"] <= 0.5 * meta["count"]
        # a reader catches up by rows, merged segments or not, and agrees with the writer
        assert reader.version() is first and len(first) == start + 10  # no full reload
    assert faiss_writes == 2  # 100 -> 200 -> 400 rows covered, not once per add
    assert len(meta["segments"]) <= 6 and largest_segment_write <= 640
    assert {p.name for p in path.iterdir() if p.suffix in (".npy", ".faiss")} == set(meta["files"])
    loaded = IndexVersion.load(path, config)  # the FAISS file plus the rows added since
    assert loaded.index.ntotal == 740 and meta["index_rows"] < 740
    queries = vectors[::37]
    for version in (loaded, writer.version(), reader.version()):
        _, found = version.search(queries, 5)
        assert np.array_equal(found, writer.version().search(queries, 5)[1])
        assert np.array_equal(found[:, 0], ids[::37])
    # a removal rewrites everything and bumps the epoch, and the reader reloads in full
    epoch = meta["epoch"]
    writer.remove(ids[:5])
    meta = json.loads((path / "meta.json").read_text())
    assert meta["epoch"] == epoch + 1 and meta["index_rows"] == meta["count"] == 735 and len(meta["segments"]) == 1
    assert reader.version() is not first  # rows moved: reloaded in full
    assert len(reader.version()) == 735 and not reader.version().store.contains(ids[:5]).any()


def test_rows_reach_disk_however_they_came(data_dir, monkeypatch):
    """Old meta.json files, rows added without saying which, a failed write, remove-then-add."""
    import inference.index.version as index_version

    rng = np.random.default_rng(4)
    vectors = unit_rows(rng, 200, 32)
    ids = np.arange(1, 201, dtype=np.int64)
    config = index_config()
    writer = _live(data_dir, ids[:100], vectors[:100], config)
    path = index_root(data_dir) / read_current(data_dir)
    # a meta.json from before index_rows / epoch: its FAISS file holds all its rows
    meta = json.loads((path / "meta.json").read_text())
    for key in ("index_rows", "epoch"):
        meta.pop(key)
    (path / "meta.json").write_text(json.dumps(meta))
    writer = GarmentIndex(data_dir, config, INFO)
    writer.add(ids[100:110], vectors[100:110])
    assert len(IndexVersion.load(path, config)) == 110
    # rows put in memory and persisted without naming them (what a catalog sync does)
    version = writer.version()
    version.add(ids[110:120], vectors[110:120])
    version.persist()
    assert len(IndexVersion.load(path, config)) == 120
    # a write that fails leaves its rows in memory; the next write takes them along
    real = index_version.write_file

    def disk_full(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(index_version, "write_file", disk_full)
    with pytest.raises(OSError):
        writer.add(ids[120:130], vectors[120:130])
    monkeypatch.setattr(index_version, "write_file", real)
    assert len(IndexVersion.load(path, config)) == 120  # the last good generation
    writer.add(ids[130:140], vectors[130:140])
    loaded = IndexVersion.load(path, config)
    assert len(loaded) == 140 and loaded.store.contains(ids[120:140]).all()
    # remove then add between two reader checks: same count trend, other rows
    reader = GarmentIndex(data_dir, config, INFO)
    assert len(reader.version()) == 140
    writer.remove(ids[:5])
    writer.add(ids[140:160], vectors[140:160])
    seen = reader.version()
    assert len(seen) == 155 and not seen.store.contains(ids[:5]).any() and seen.store.contains(ids[140:160]).all()
    # meta.json that counts more rows than its segments hold is damage, not a smaller index
    meta = json.loads((path / "meta.json").read_text())
    meta["count"] += 1
    (path / "meta.json").write_text(json.dumps(meta))
    with pytest.raises(IndexCorruptError, match="counts 156 garments"):
        IndexVersion.load(path, config, verify=False)


def test_encoder_mismatch_is_a_clear_error(data_dir):
    _live(data_dir, np.arange(3), unit_rows(np.random.default_rng(0), 3, 32), index_config())
    other = {"name": "tiny:32", "version": "tiny-32-seed1", "dim": 32}
    with pytest.raises(EncoderMismatchError, match="tiny-32-seed1"):
        GarmentIndex(data_dir, index_config(), other).version()
    with pytest.raises(EncoderMismatchError, match="built by encoder"):
        IndexSink(data_dir, create_encoder("tiny:16"), index_config()).add_garments(
            [9], [crop_image(np.random.default_rng(0))]
        )


def test_no_index_and_bad_vectors(data_dir):
    with pytest.raises(NoIndexError, match="index rebuild"):
        GarmentIndex(data_dir, index_config()).version()
    index = _live(
        data_dir, np.arange(3), unit_rows(np.random.default_rng(0), 3, 32), index_config()
    )
    with pytest.raises(BadInputError, match="shape"):
        index.add([5], np.zeros((1, 16), np.float32))
    with pytest.raises(BadInputError, match="NaN"):
        index.add([5], np.full((1, 32), np.nan, np.float32))


@pytest.mark.slow
def test_sink_sync_rebuild_against_the_catalog(data_dir):
    world = make_world(data_dir, videos=8)
    encoder = create_encoder("tiny:32")
    config = index_config()
    sink = IndexSink(data_dir, encoder, config)
    from inference.images import load_image

    by_video: dict[int, list] = {}
    for g in world:
        by_video.setdefault(g.video_id, []).append(g)
    videos = sorted(by_video)
    for video in videos[:-2]:  # the last two videos "crashed" between catalog and sink
        garments = by_video[video]
        sink.add_garments(
            [g.id for g in garments], [load_image(data_dir / g.crop_path) for g in garments]
        )
    with Catalog(data_dir) as catalog:
        gone = catalog.delete_video(videos[0])  # deleted behind the index's back
    report = sync(data_dir, CropEmbedder(encoder), config=config, progress=False)
    assert report.added == len(by_video[videos[-1]]) + len(by_video[videos[-2]])
    assert report.removed == len(gone) and report.failed == []
    ids, vectors, info = load_embeddings(data_dir)
    expected = sorted(g.id for g in world if g.video_id != videos[0])
    assert sorted(ids.tolist()) == expected and info == encoder.describe()
    # what the sink embedded equals what a rebuild embeds from the stored crops
    old = dict(zip(ids.tolist(), vectors, strict=True))
    before = read_current(data_dir)
    name = rebuild_index(data_dir, CropEmbedder(encoder), config=config, progress=False)
    assert name != before and read_current(data_dir) == name and before in list_versions(data_dir)
    new_ids, new_vectors, _ = load_embeddings(data_dir)
    assert sorted(new_ids.tolist()) == expected
    for i, v in zip(new_ids.tolist(), new_vectors, strict=True):
        assert float(v @ old[i]) > 0.98  # JPEG re-decode vs the in-memory crop


def test_auto_upgrade_to_approximate(data_dir):
    rng = np.random.default_rng(0)
    vectors = unit_rows(rng, 1200, 32)
    ids = np.arange(1, 1201, dtype=np.int64)
    index = _live(data_dir, ids[:900], vectors[:900], index_config(approx_threshold=1000))
    first = read_current(data_dir)
    assert index.version().exact
    index.add(ids[900:], vectors[900:])
    assert read_current(data_dir) != first
    assert not index.version().exact and len(index.version()) == 1200
    _, found = index.search(vectors[:5], 1)
    assert list(found[:, 0]) == list(ids[:5])


def test_readers_catch_up_with_another_writer(data_dir):
    rng = np.random.default_rng(0)
    vectors = unit_rows(rng, 60, 32)
    writer = _live(data_dir, np.arange(1, 31), vectors[:30], index_config())
    reader = GarmentIndex(data_dir, index_config(), INFO)
    assert len(reader.version()) == 30
    writer.add(np.arange(31, 61), vectors[30:])
    assert len(reader.version()) == 60  # appended segment picked up without a reload
    writer.remove([1, 2])
    assert len(reader.version()) == 58


def test_corrupted_index_file_is_detected_and_rebuild_recovers(data_dir):
    world = make_world(data_dir, videos=4)
    encoder = create_encoder("tiny:32")
    rebuild_index(data_dir, CropEmbedder(encoder), config=index_config(), progress=False)
    path = index_root(data_dir) / read_current(data_dir)
    faiss_file = next(path.glob("index-*.faiss"))
    payload = bytearray(faiss_file.read_bytes())
    payload[len(payload) // 2] ^= 0xFF
    faiss_file.write_bytes(bytes(payload))
    with Catalog(data_dir) as catalog:
        counts = catalog.counts()
    with pytest.raises(IndexCorruptError, match=r"damaged.*catalog is untouched.*index rebuild"):
        GarmentIndex(data_dir, index_config(), encoder.describe()).version()
    assert main(["index", "info", "--data-dir", str(data_dir)]) == 2
    with Catalog(data_dir) as catalog:
        assert catalog.counts() == counts
    assert (
        main(["index", "rebuild", "--data-dir", str(data_dir), "--encoder", "tiny:32", "-q"]) == 0
    )
    index = GarmentIndex(data_dir, index_config(), encoder.describe())
    assert len(index.version()) == len(world)
    assert main(["index", "info", "--data-dir", str(data_dir), "--json"]) == 0


def test_index_settings_come_from_the_packaged_file_and_the_users(tmp_path):
    assert IndexConfig.load().embed_batch_size == 64
    user = tmp_path / "index.yaml"
    user.write_text("index:\n  embed_batch_size: 4\n", encoding="utf-8")
    assert IndexConfig.load(user).embed_batch_size == 4
    user.write_text("index:\n  embed_batch_sise: 4\n", encoding="utf-8")
    with pytest.raises(ValueError, match="embed_batch_sise"):
        IndexConfig.load(user)
    user.write_text("index:\n  embed_batch_size: 0\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"^index\.embed_batch_size must be >= 1, got 0$"):
        IndexConfig.load(user)
    user.write_text("index:\n  nlist_per_sqrt: 0\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"^index\.nlist_per_sqrt must be > 0"):
        IndexConfig.load(user)


def test_reading_embeddings_follows_the_config(data_dir, tmp_path):
    make_world(data_dir, videos=3)
    rebuild_index(data_dir, CropEmbedder(create_encoder("tiny:32")), config=index_config(), progress=False)
    path = index_root(data_dir) / read_current(data_dir)
    segment = next(path.glob("emb-*.npy"))
    payload = bytearray(segment.read_bytes())
    payload[-1] ^= 0x01  # one embedding value changes; the file still loads
    segment.write_bytes(bytes(payload))
    with pytest.raises(IndexCorruptError, match="checksum mismatch"):
        load_embeddings(data_dir)
    ids, _, _ = load_embeddings(data_dir, index_config(verify_checksums=False))
    assert len(ids)
    user = tmp_path / "index.yaml"
    user.write_text("index:\n  verify_checksums: false\n", encoding="utf-8")
    out = tmp_path / "export"
    assert main(["index", "export", str(out), "--data-dir", str(data_dir), "-q"]) == 2
    assert main(["index", "export", str(out), "--data-dir", str(data_dir), "--config", str(user), "-q"]) == 0


def test_damaged_meta_is_reported(data_dir):
    _live(data_dir, np.arange(3), unit_rows(np.random.default_rng(0), 3, 32), index_config())
    (index_root(data_dir) / read_current(data_dir) / "meta.json").write_text("{not json")
    with pytest.raises(IndexCorruptError, match=r"meta\.json is damaged"):
        GarmentIndex(data_dir, index_config()).version()


def test_searches_keep_working_during_adds(data_dir):
    rng = np.random.default_rng(0)
    vectors = unit_rows(rng, 3000, 32)
    ids = np.arange(1, 3001, dtype=np.int64)
    index = _live(data_dir, ids[:500], vectors[:500], index_config())
    errors: list[BaseException] = []
    stop = threading.Event()

    def search_forever() -> None:
        while not stop.is_set():
            try:
                _, found = index.search(vectors[:4], 3)
                assert list(found[:, 0]) == list(ids[:4])
            except BaseException as exc:  # reported below
                errors.append(exc)
                return

    threads = [threading.Thread(target=search_forever) for _ in range(3)]
    for t in threads:
        t.start()
    for start in range(500, 3000, 250):
        index.add(ids[start : start + 250], vectors[start : start + 250])
    stop.set()
    for t in threads:
        t.join()
    assert not errors, errors[0]
    assert len(index.version()) == 3000


def test_a_second_writer_waits_for_the_first(data_dir):
    from inference.index.files import writer_lock

    order: list[str] = []

    def second_writer() -> None:
        with writer_lock(data_dir):
            order.append("second")

    with writer_lock(data_dir):
        thread = threading.Thread(target=second_writer)
        thread.start()
        thread.join(0.3)
        assert thread.is_alive()  # waiting on DATA_DIR/index/.lock
        order.append("first")
    thread.join(10)
    assert order == ["first", "second"]
    assert (index_root(data_dir) / ".lock").is_file()  # stays in place between writers


def test_export_in_clip_retrieval_layout(data_dir, tmp_path):
    world = make_world(data_dir, videos=3)
    rebuild_index(data_dir, CropEmbedder(create_encoder("tiny:32")), config=index_config(), progress=False)
    summary = export_embeddings(data_dir, tmp_path / "out", partition_size=10)
    assert summary["rows"] == len(world) and summary["partitions"] == 2
    ids, vectors, _ = load_embeddings(data_dir)
    by_id = dict(zip(ids.tolist(), vectors, strict=True))
    for part in range(2):
        emb = np.load(tmp_path / "out" / "img_emb" / f"img_emb_{part}.npy")
        meta = pq.read_table(tmp_path / "out" / "metadata" / f"metadata_{part}.parquet").to_pydict()
        assert len(emb) == len(meta["image_path"]) == len(meta["garment_id"])
        for row, garment in enumerate(meta["garment_id"]):
            assert np.allclose(emb[row], by_id[garment], atol=2e-3)
        combined = pq.read_table(tmp_path / "out" / "parquet" / f"part_{part}.parquet")
        assert combined.column("embedding").type.list_size == 32
    assert {"creator", "followers", "tier", "video_id", "t_s", "posted_at", "style"} <= set(meta)


def test_remove_video_and_creator_commands(data_dir):
    world = make_world(data_dir, videos=5)
    rebuild_index(data_dir, CropEmbedder(create_encoder("tiny:32")), config=index_config(), progress=False)
    video = world[0].video_id
    assert main(["index", "remove-video", str(video), "--data-dir", str(data_dir), "-q"]) == 0
    ids, _, _ = load_embeddings(data_dir)
    assert video not in {g.video_id for g in world if g.id in set(ids.tolist())}
    assert main(["index", "remove-creator", "@eve", "--data-dir", str(data_dir), "-q"]) == 0
    ids, _, _ = load_embeddings(data_dir)
    left = {g.id for g in world if g.video_id != video and g.creator != "eve"}
    assert set(ids.tolist()) == left
    assert main(["index", "remove-creator", "nobody", "--data-dir", str(data_dir), "-q"]) == 2
    assert main(["index", "remove-video", "99999", "--data-dir", str(data_dir), "-q"]) == 2
    with Catalog(data_dir) as catalog:
        assert {g.id for g in catalog.garments()} == left


def test_hnsw_factory_adds_removes_and_reranks(data_dir):
    """An index kind that cannot remove ids in place (HNSW) is rebuilt from the store."""
    rng = np.random.default_rng(5)
    vectors = unit_rows(rng, 400, 32)
    ids = np.arange(1, 401, dtype=np.int64)
    config = index_config(flat_factory="IDMap2,HNSW16")
    index = _live(data_dir, ids[:300], vectors[:300], config)
    assert not index.version().exact
    index.add(ids[300:], vectors[300:])
    assert index.remove(ids[:50]) == 50
    _, found = index.search(vectors[50:60], 1)
    assert list(found[:, 0]) == list(ids[50:60])
    _, found = index.search(vectors[:5], 5)
    assert not set(found.ravel().tolist()) & set(ids[:50].tolist())
    assert len(GarmentIndex(data_dir, config, INFO).version()) == 350


@pytest.mark.parametrize("spacing", [1, 10**7])  # dense ids: a lookup table; very sparse: binary search
def test_store_rows_match_a_dictionary(spacing):
    from inference.index import EmbeddingStore

    rng = np.random.default_rng(1)
    ids = rng.permutation(np.arange(5, 400) * spacing)[:300]
    store = EmbeddingStore(4, ids, rng.standard_normal((300, 4)))
    row = {int(i): r for r, i in enumerate(ids)}
    asked = np.concatenate([ids[::7], [-1, 0, 4 * spacing, 400 * spacing, 10**12], rng.integers(0, 500 * spacing, 50)])
    expected = [row.get(int(i), -1) for i in asked]
    assert store.rows(asked).tolist() == expected
    assert store.found_rows(asked.astype(np.int64)).tolist() == expected  # ids as a search returns them
    assert store.rows(np.array([-2, -10**9, ids[0]])).tolist() == [-1, -1, 0]
    store.remove(ids[:100])
    assert store.rows(ids[:3]).tolist() == [-1, -1, -1] and store.rows(ids[100:103]).tolist() == [0, 1, 2]


def test_rerank_matches_brute_force_over_the_stored_embeddings():
    from inference.index import EmbeddingStore
    from inference.index.store import rerank

    rng = np.random.default_rng(2)
    ids = np.arange(1000, 1500)
    store = EmbeddingStore(16, ids, rng.standard_normal((500, 16)))
    exact = store.vectors.astype(np.float32)
    queries = rng.standard_normal((3, 16)).astype(np.float32)
    for k, fetch, pad in ((5, 12, 0), (5, 12, 9), (10, 4, 2), (1, 1, 0)):
        candidates = np.stack([
            np.concatenate([rng.choice(ids, fetch - pad, replace=False), np.full(pad, -1)]) for _ in queries
        ]).astype(np.int64)
        for nq in (1, 3):  # one query takes its own path
            scores, found = rerank(store, queries[:nq], candidates[:nq], k)
            assert scores.shape == found.shape == (nq, k)
            for q in range(nq):
                held = candidates[q][candidates[q] >= 0]
                truth = exact[held - 1000] @ queries[q]
                order = np.argsort(-truth, kind="stable")[:k]
                assert found[q].tolist() == held[order].tolist() + [-1] * (k - len(order))
                np.testing.assert_allclose(scores[q, : len(order)], truth[order], rtol=1e-6)
                assert np.isneginf(scores[q, len(order):]).all()
