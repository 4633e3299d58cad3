"""Scale-out on Ray: the local path never imports Ray; a Ray ingest writes the same videos,
frames and garments (and embeddings) as the local one, bad videos as rows with a reason,
and a second run skips what is written."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from inference.scale.tables import garment_id, month_of

ROOT = Path(__file__).resolve().parents[1]


def test_local_path_never_imports_ray(tmp_path):
    """Importing the CLI and running a local ingest leaves Ray (and this package's Ray half) out."""
    script = (
        "import sys\n"
        "from app.cli import main\n"
        "from world.clips import walking_clip, write_video\n"
        f"write_video({str(tmp_path / 'a.mp4')!r}, walking_clip(n=8, seed=1))\n"
        f"code = main(['ingest', {str(tmp_path / 'a.mp4')!r}, '--creator', 'ann', '--followers', '1k',"
        f" '--posted-at', '2026-05-01', '--data-dir', {str(tmp_path / 'data')!r}, '--no-index', '-q'])\n"
        "assert code == 0, code\n"
        "leaked = [m for m in sys.modules if m == 'ray' or m.startswith('ray.') or m == 'inference.scale.ray_ingest']\n"
        "assert not leaked, leaked\n"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    result = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]


def test_garment_ids_are_deterministic_distinct_and_faiss_ready():
    video_a, video_b = "ab" * 32, "cd" * 32
    ids = [garment_id(video_a, i) for i in range(2048)] + [garment_id(video_b, i) for i in range(2048)]
    assert len(set(ids)) == len(ids)
    assert all(0 <= i < 2**63 for i in ids)
    assert garment_id(video_a, 7) == garment_id(video_a, 7)
    with pytest.raises(ValueError):
        garment_id(video_a, 2048)
    assert month_of(dt.date(2026, 5, 31)) == "2026-05"


def _small_world(folder: Path) -> list:
    """Two good clips in different months, a copy under another name, a corrupt file."""
    from inference.types import VideoSubmission
    from world.clips import walking_clip, write_video

    folder.mkdir()
    write_video(folder / "good1.mp4", walking_clip(n=20, seed=1))
    write_video(folder / "good2.mp4", walking_clip(n=20, seed=2, top_colour=(20, 160, 40)))
    data = (folder / "good1.mp4").read_bytes()
    (folder / "corrupt.mp4").write_bytes(data[:64] + os.urandom(4000))
    posts = [("good1.mp4", "ann", dt.date(2026, 4, 20)), ("good2.mp4", "bea", dt.date(2026, 5, 2)),
             ("corrupt.mp4", "cid", dt.date(2026, 5, 3))]
    return [VideoSubmission(folder / name, creator, 1000, day, name) for name, creator, day in posts]


@pytest.fixture(scope="module")
def both_ingests(tmp_path_factory, ray_cluster):
    """The small world ingested locally (tiny:32 index) and on Ray through the CLI (tables)."""
    from app.cli import main
    from inference.embed import IndexSink
    from inference.ingest import IngestConfig, ingest
    from tests.index_helpers import index_config

    root = tmp_path_factory.mktemp("scale")
    submissions = _small_world(root / "clips")
    local = root / "local"
    local_report = ingest(submissions, local, IngestConfig.load(), sink=IndexSink(local, "tiny:32", index_config()),
                          progress=False)
    manifest = root / "manifest.csv"
    manifest.write_text("path,creator,followers,posted_at\n" + "".join(
        f"{s.path},{s.creator},{s.followers},{s.posted_at}\n" for s in submissions))
    out = root / "tables"
    code = main(["ingest", "--manifest", str(manifest), "--backend", "ray", "--out", str(out),
                 "--encoder", "tiny:32", "-q"])
    assert code == 1  # the corrupt video failed, the rest went in
    return submissions, local, {o.video: o.frames for o in local_report.outcomes}, out


def _tables(out: Path):
    from inference.scale.tables import complete_rows, encoder_table

    return (complete_rows(out, "videos", "video_id").to_pandas(),
            complete_rows(out, "frames", ("video_id", "frame_index")).to_pandas(),
            complete_rows(out, "garments", "garment_id").to_pandas(),
            complete_rows(out, encoder_table("tiny:32"), "garment_id").to_pandas())


@pytest.mark.slow
def test_ray_ingest_writes_what_the_local_ingest_catalogs(both_ingests):
    from inference.catalog import Catalog
    from inference.index.live import load_embeddings

    _, local, local_frames, out = both_ingests
    videos, frames, garments, embeddings = _tables(out)
    assert set(videos["month"]) == {"2026-04", "2026-05"}
    bad = videos[videos["source_path"].str.endswith("corrupt.mp4")]
    assert list(bad["status"]) == ["failed"] and bad["reason"].iloc[0]
    ids, vectors, _ = load_embeddings(local)
    local_vector = dict(zip(ids.tolist(), vectors, strict=True))
    ray_vector = dict(zip(embeddings["garment_id"], embeddings["vector"], strict=True))
    with Catalog(local) as catalog:
        local_videos = {Path(v.source_path).name: v for v in catalog.videos()}
        assert local_videos["corrupt.mp4"].error == bad["reason"].iloc[0]
        for name in ("good1.mp4", "good2.mp4"):
            mine = videos[videos["source_path"].str.endswith(name)].iloc[0]
            theirs = local_videos[name]
            assert mine["video_id"] == theirs.content_hash
            assert mine["duration_s"] == pytest.approx(theirs.duration_s)
            ray_frames = frames[frames["video_id"] == mine["video_id"]].sort_values("frame_index")
            assert len(ray_frames) == local_frames[name]
            local_garments = sorted(catalog.garments(video_id=theirs.id), key=lambda g: g.id)
            ray_garments = garments[garments["video_id"] == mine["video_id"]].sort_values("ordinal")
            assert local_garments and [(g.kind, g.box.as_tuple(), round(g.t_s, 4)) for g in local_garments] == [
                (g.kind, (g.x0, g.y0, g.x1, g.y1), round(ray_frames["t_s"].iloc[g.frame_index], 4))
                for g in ray_garments.itertuples()]
            for local_garment, ray_id in zip(local_garments, ray_garments["garment_id"], strict=True):
                np.testing.assert_allclose(ray_vector[ray_id], local_vector[local_garment.id], atol=2e-3)


@pytest.mark.slow
def test_imported_tables_give_the_local_catalog_and_index(both_ingests, tmp_path):
    from app.cli import main
    from inference.catalog import Catalog
    from inference.index.live import load_embeddings

    _, local, _, out = both_ingests
    imported = tmp_path / "imported"
    assert main(["import", str(out), "--data-dir", str(imported), "--encoder", "tiny:32", "-q"]) == 0
    assert main(["import", str(out), "--data-dir", str(imported), "--encoder", "tiny:32", "-q"]) == 0  # all skipped
    local_ids, local_vectors, _ = load_embeddings(local)
    ids, vectors, _ = load_embeddings(imported)
    local_vector = dict(zip(local_ids.tolist(), local_vectors, strict=True))
    vector = dict(zip(ids.tolist(), vectors, strict=True))
    assert len(ids) == len(local_ids)
    with Catalog(local) as theirs, Catalog(imported) as mine:
        local_videos = {v.content_hash: v for v in theirs.videos()}
        videos = {v.content_hash: v for v in mine.videos()}
        assert {(v.source_path, v.status, v.error) for v in videos.values()} == {
            (v.source_path, v.status, v.error) for v in local_videos.values()}
        for content_hash, video in videos.items():
            if video.status != "done":
                continue
            local_garments = theirs.garments(video_id=local_videos[content_hash].id)
            garments = mine.garments(video_id=video.id)
            assert [(g.kind, g.box, g.t_s, g.creator, g.posted_at) for g in garments] == [
                (g.kind, g.box, g.t_s, g.creator, g.posted_at) for g in local_garments]
            for garment, local_garment in zip(garments, local_garments, strict=True):
                assert (imported / garment.crop_path).stat().st_size > 0
                np.testing.assert_allclose(vector[garment.id], local_vector[local_garment.id], atol=2e-3)
        assert mine.integrity_problems() == []


@pytest.mark.slow
def test_a_second_ray_run_skips_every_written_video(both_ingests):
    from inference.ingest import IngestConfig
    from inference.scale.ray_ingest import ScaleConfig, ray_ingest

    submissions, _, _, out = both_ingests
    before = _tables(out)
    again = ray_ingest(submissions, out, IngestConfig.load(), "tiny:32", ScaleConfig(actor_cpus=0.5))
    good = [o for o in again.outcomes if not o["source"].endswith("corrupt.mp4")]
    assert good and {o["status"] for o in good} == {"skipped"}
    assert again.garments == 0
    after = _tables(out)
    assert [len(t) for t in after] == [len(t) for t in before]


@pytest.mark.slow
def test_export_of_the_local_deployment_shares_the_ray_run_ids(both_ingests, tmp_path):
    from app.cli import main

    _, local, _, out = both_ingests
    exported = tmp_path / "exported"
    assert main(["export", "--parquet", str(exported), "--data-dir", str(local), "--encoder", "tiny:32", "-q"]) == 0
    ray_videos, ray_frames, ray_garments, ray_embeddings = _tables(out)
    videos, frames, garments, embeddings = _tables(exported)
    assert sorted(videos["video_id"]) == sorted(ray_videos["video_id"])
    assert len(frames) == len(ray_frames)
    assert sorted(garments["garment_id"]) == sorted(ray_garments["garment_id"])
    mine = dict(zip(embeddings["garment_id"], embeddings["vector"], strict=True))
    for shared_id, vector in zip(ray_embeddings["garment_id"], ray_embeddings["vector"], strict=True):
        np.testing.assert_allclose(mine[shared_id], vector, atol=2e-3)
    from core.errors import BadInputError
    from inference.scale.interchange import export_tables

    with pytest.raises(BadInputError, match="already holds"):
        export_tables(local, exported, "tiny:32")


def _exact(vectors: np.ndarray, ids: np.ndarray, queries: np.ndarray, k: int, allowed=None) -> np.ndarray:
    scores = queries @ vectors.T
    if allowed is not None:
        scores[:, ~np.isin(ids, allowed)] = -np.inf
    return ids[np.argsort(-scores, axis=1, kind="stable")[:, :k]]


@pytest.mark.slow
def test_sharded_index_built_on_ray_finds_what_exact_search_finds(ray_cluster, tmp_path):
    from inference.scale.shards import ShardedIndex, ShardSpec, build_shards
    from tests.index_helpers import unit_rows

    rng = np.random.default_rng(3)
    vectors = unit_rows(rng, 20_000, 64)
    ids = rng.choice(2**62, 20_000, replace=False).astype(np.int64)  # sparse ids, as shared garment ids are
    queries = unit_rows(np.random.default_rng(4), 200, 64)
    truth = _exact(vectors, ids, queries, 10)

    flat, _ = build_shards(ids, vectors, ShardSpec(shards=4, nlist=0))
    _, found = flat.search(queries, 10)
    assert (found == truth).all()

    ivf, times = build_shards(ids, vectors, ShardSpec(shards=4, nlist=64, train_size=5000))
    assert len(ivf) == len(ids) and len(times.shard_s) == 4
    _, found = ivf.search(queries, 10, nprobe=16)
    recall = np.mean([len(set(f) & set(t)) / 10 for f, t in zip(found, truth, strict=True)])
    assert recall >= 0.95, recall

    allowed = ids[::7]
    _, found = ivf.search(queries, 10, nprobe=64, allowed_ids=allowed)
    assert np.isin(found[found >= 0], allowed).all()
    filtered_truth = _exact(vectors, ids, queries, 10, allowed)
    assert np.mean([len(set(f) & set(t)) / 10 for f, t in zip(found, filtered_truth, strict=True)]) >= 0.95

    ivf.save(tmp_path / "sharded")
    _, again = ShardedIndex.load(tmp_path / "sharded").search(queries, 10, nprobe=16)
    assert (again == ivf.search(queries, 10, nprobe=16)[1]).all()


@pytest.mark.slow
def test_index_build_on_ray_shards_the_live_embeddings(both_ingests, tmp_path):
    from app.cli import main
    from inference.index.live import load_embeddings
    from inference.scale.shards import ShardedIndex

    _, local, _, _ = both_ingests
    out = tmp_path / "sharded"
    assert main(["index", "build", "--backend", "ray", "--shards", "2", "--nlist", "0", "--out", str(out),
                 "--data-dir", str(local), "-q"]) == 0
    ids, vectors, _ = load_embeddings(local)
    index = ShardedIndex.load(out)
    assert len(index) == len(ids) and len(index.shards) == 2
    _, found = index.search(vectors[:3], 1)
    assert list(found[:, 0]) == list(ids[:3])


def _resume_world(folder: Path) -> Path:
    """Six good clips over two months and a corrupt file, as a manifest."""
    from world.clips import walking_clip, write_video

    folder.mkdir()
    lines = []
    for i in range(6):
        write_video(folder / f"clip{i}.mp4", walking_clip(n=16, seed=10 + i, top_colour=(40 * i, 90, 160)))
        lines.append(f"{folder / f'clip{i}.mp4'},c{i},1000,2026-0{4 + i % 2}-1{i}\n")
    (folder / "corrupt.mp4").write_bytes((folder / "clip0.mp4").read_bytes()[:64] + os.urandom(4000))
    lines.append(f"{folder / 'corrupt.mp4'},bad,1000,2026-05-20\n")
    manifest = folder / "manifest.csv"
    manifest.write_text("path,creator,followers,posted_at\n" + "".join(lines))
    return manifest


def _ray_ingest_process(manifest: Path, out: Path) -> subprocess.Popen:
    """``stylescope ingest --backend ray`` in its own process group (its Ray cluster with it)."""
    command = ("from app.cli import main; import sys; sys.exit(main(['ingest', '--manifest', "
               f"{str(manifest)!r}, '--backend', 'ray', '--out', {str(out)!r}, '--encoder', 'tiny:32', "
               "'--chunk-videos', '2', '-q']))")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
           "RAY_USAGE_STATS_ENABLED": "0", "RAY_memory_monitor_refresh_ms": "0"}
    return subprocess.Popen([sys.executable, "-c", command], cwd=ROOT, env=env, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


@pytest.mark.slow
def test_a_killed_ray_ingest_resumes_with_no_garment_lost_or_doubled(tmp_path):
    """SIGKILL the driver (and its Ray cluster) once a chunk is committed, run the same command
    again: every video once, the same garments as an uninterrupted run, no id twice."""
    import signal
    import time

    pytest.importorskip("ray", reason="the scale extra is not installed (pip install 'stylescope[scale]')")
    from inference.scale.tables import read_table, written_videos

    manifest = _resume_world(tmp_path / "clips")
    whole, resumed = tmp_path / "whole", tmp_path / "resumed"
    assert _ray_ingest_process(manifest, whole).wait(timeout=600) == 1  # the corrupt video failed

    run = _ray_ingest_process(manifest, resumed)
    deadline = time.monotonic() + 600
    while not any((resumed / "videos").rglob("*.parquet")) and run.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    os.killpg(run.pid, signal.SIGKILL)
    run.wait(timeout=60)
    assert run.returncode == -signal.SIGKILL, "the run ended before it could be killed"
    interrupted = written_videos(resumed)
    assert 0 < len(interrupted) < 7, "the kill should land after the first chunk and before the last"

    again = _ray_ingest_process(manifest, resumed)
    _, errors = again.communicate(timeout=600)
    assert again.returncode == 1, errors[-2000:]
    assert not (resumed / "_staging").exists()
    raw_videos = read_table(resumed, "videos").column("video_id").to_pylist()
    assert len(raw_videos) == len(set(raw_videos)) == 7  # each video committed exactly once
    for reference, after in zip(_tables(whole), _tables(resumed), strict=True):
        assert len(after) == len(reference)
    _, _, whole_garments, whole_vectors = _tables(whole)
    _, _, garments, vectors = _tables(resumed)
    assert garments["garment_id"].is_unique and len(garments) > 0
    assert sorted(garments["garment_id"]) == sorted(whole_garments["garment_id"])
    assert sorted(vectors["garment_id"]) == sorted(whole_garments["garment_id"])
    reference = dict(zip(whole_vectors["garment_id"], whole_vectors["vector"], strict=True))
    for shared_id, vector in zip(vectors["garment_id"], vectors["vector"], strict=True):
        np.testing.assert_allclose(vector, reference[shared_id], atol=1e-5)


@pytest.mark.slow
def test_search_and_the_app_serve_the_sharded_index_with_the_live_index_answers(both_ingests, tmp_path, capsys):
    """Exact shards built on Ray: ``stylescope search --shards``, the searcher and the app's
    services give the hits (ids, scores, catalog facts) the live exact index gives, filters
    and de-duplication included."""
    import json

    from app.cli import main
    from app.services import Services
    from inference.catalog import Catalog
    from inference.index.live import load_embeddings
    from inference.search import Searcher, SearchFilters

    _, local, _, _ = both_ingests
    shards = tmp_path / "shards"
    assert main(["index", "build", "--backend", "ray", "--shards", "3", "--nlist", "0", "--out", str(shards),
                 "--data-dir", str(local), "-q"]) == 0
    _, vectors, _ = load_embeddings(local)
    live, sharded = Searcher(local, "tiny:32"), Searcher(local, "tiny:32", shards=shards)
    services = Services.open(local, "tiny:32", shards_dir=shards)
    try:
        assert sharded.shards is not None and len(sharded.shards.shards) == 3
        for query in vectors[::5]:
            for filters, dedupe in ((None, True), (None, False), (SearchFilters.build(creators=["bea"]), True)):
                expected = live.search_vector(query, 5, filters, dedupe=dedupe).hits
                assert expected
                for searcher in (sharded, services.searcher):
                    hits = searcher.search_vector(query, 5, filters, dedupe=dedupe).hits
                    assert [(h.garment_id, h.creator, h.video_id) for h in hits] == [
                        (h.garment_id, h.creator, h.video_id) for h in expected]
                    np.testing.assert_allclose([h.score for h in hits], [h.score for h in expected], atol=1e-5)
    finally:
        live.close()
        sharded.close()
        services.close()

    with Catalog(local) as catalog:
        crop = local / next(g for v in catalog.videos() if v.status == "done"
                            for g in catalog.garments(video_id=v.id)).crop_path
    answers = []
    for extra in ([], ["--shards", str(shards)]):
        capsys.readouterr()
        assert main(["search", "--image", str(crop), "--data-dir", str(local), "--encoder", "tiny:32",
                     "--k", "5", "--json", *extra]) == 0
        answers.append([(h["garment_id"], round(h["score"], 4)) for h in json.loads(capsys.readouterr().out)["hits"]])
    assert answers[0] and answers[0] == answers[1]
    capsys.readouterr()
    assert main(["search", "--image", str(crop), "--data-dir", str(local), "--encoder", "tiny:32",
                 "--shards", str(tmp_path / "no-shards")]) == 2
    captured = capsys.readouterr()
    assert "not a sharded index" in captured.err and "Traceback" not in captured.err + captured.out
