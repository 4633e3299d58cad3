"""Fault injection: the ingest's promises under kills, races and full disks.

As SQLite and FAISS test their own promises: a process is killed (SIGKILL, through the
``$STYLESCOPE_KILL_AT`` fault points of :mod:`core.faults`) between two writes, two
ingests race for the same videos, and the disk fills up in the middle of a batch. After
each, the next plain run (no flags) leaves every catalogued garment searchable, nothing
stored twice, and nothing already stored lost.
"""

from __future__ import annotations

import datetime as dt
import errno
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from app.cli import main
from core.faults import ENV_VAR
from core.process import owner_token
from inference import ingest as ingest_module
from inference.catalog import Catalog
from inference.embed import IndexSink
from inference.index import load_embeddings
from inference.ingest import IngestConfig, ingest
from inference.types import VideoSubmission
from models.registry import create_encoder
from tests.index_helpers import index_config
from world.clips import walking_clip, write_video

ROOT = Path(__file__).resolve().parents[1]
ENCODER = "tiny:32"


def _clips(folder: Path, count: int, n: int = 15) -> list[Path]:
    folder.mkdir(exist_ok=True)
    return [
        write_video(folder / f"v{i}.mp4", walking_clip(n=n, seed=i), extra=["-preset", "ultrafast"])
        for i in range(count)
    ]


def _submission(path: Path) -> VideoSubmission:
    return VideoSubmission(path, "ann", 20_000, dt.date(2026, 5, 1), path.name)


def _sink(data_dir: Path) -> IndexSink:
    return IndexSink(data_dir, create_encoder(ENCODER), index_config())


def _searchable(data_dir: Path) -> tuple[set[int], set[int]]:
    """(garment ids of done videos, garment ids in the live index)."""
    with Catalog(data_dir) as catalog:
        catalogued = set(catalog.done_garment_ids().tolist())
    try:
        ids, _, _ = load_embeddings(data_dir)
    except Exception:  # no index yet
        return catalogued, set()
    return catalogued, set(ids.tolist())


def _foreign_live_token() -> str:
    """An owner token of another live process on this host (our parent)."""
    from core.process import _host, _start_time

    return f"{_host()}:{os.getppid()}:{_start_time(os.getppid())}"


# -- claims ----------------------------------------------------------------------------------
def test_a_claim_is_won_once(data_dir, tmp_path):
    submission = _submission(tmp_path / "a.mp4")
    me, other, dead = owner_token(), _foreign_live_token(), owner_token().rsplit(":", 2)[0] + ":999999999:1"
    with Catalog(data_dir) as catalog:
        first = catalog.claim_video(submission, "hash-a", other)
        assert first.claimed
        second = catalog.claim_video(submission, "hash-a", me)
        assert not second.claimed and second.in_flight and second.video_id == first.video_id
        catalog.release_claims(other)  # as if its process died without a word
        catalog.claim_video(submission, "hash-b", dead)
        taken = catalog.claim_video(submission, "hash-b", me)
        assert taken.claimed, "a claim whose process is gone is taken over"
        catalog.fail_video(taken.video_id, "bad")
        assert catalog.claim_video(submission, "hash-b", other).claimed, "a failed video is redone"
        assert [v.content_hash for v in catalog.abandoned_videos()] == ["hash-a"]
        assert catalog.in_flight_video_ids() == {taken.video_id}


def test_a_video_another_run_holds_is_reported_not_redone(data_dir, tmp_path):
    clip = _clips(tmp_path / "clips", 1)[0]
    from core.storage import sha256_file

    with Catalog(data_dir) as catalog:
        held = catalog.claim_video(_submission(clip), sha256_file(clip), _foreign_live_token())
    report = ingest([_submission(clip)], data_dir, progress=False)
    outcome = report.outcomes[0]
    assert outcome.status == "duplicate" and "another ingest" in outcome.reason
    with Catalog(data_dir) as catalog:
        video = catalog.video(held.video_id)
        assert video is not None and video.status == "processing"
        assert video.claimed_by == _foreign_live_token(), "the other run keeps its claim"


@pytest.mark.slow
def test_two_concurrent_ingests_store_each_video_once(tmp_path, data_dir):
    clips = _clips(tmp_path / "clips", 6)
    manifest = tmp_path / "batch.csv"
    manifest.write_text(
        "path,creator,followers,posted_at\n"
        + "".join(f"{c},ann,12000,2026-05-01\n" for c in clips)
    )
    command = [sys.executable, "-m", "app.cli", "ingest", "--manifest", str(manifest),
               "--data-dir", str(data_dir), "--no-index", "-q", "--json"]
    runs = [subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            for _ in range(2)]
    results = [run.communicate(timeout=300) for run in runs]
    assert [run.returncode for run in runs] == [0, 0], [err.decode()[-2000:] for _, err in results]
    with Catalog(data_dir) as catalog:
        assert catalog.counts()["videos_done"] == 6
        ingested = catalog._conn.execute(
            "SELECT video_id, COUNT(*) FROM ingest_events WHERE outcome = 'ingested' GROUP BY video_id"
        ).fetchall()
        assert sorted(n for _, n in ingested) == [1] * 6, "each video processed by one run only"
        garments = catalog.garments()
        assert len({(g.video_id, g.frame_id, g.kind) for g in garments}) == len(garments)
        assert catalog.integrity_problems() == []


# -- killed between two writes ---------------------------------------------------------------
@pytest.mark.slow
@pytest.mark.parametrize(
    "point", ["ingest.claimed", "ingest.crops_written", "ingest.committed", "ingest.indexed"]
)
def test_killed_ingest_is_whole_after_one_plain_rerun(tmp_path, data_dir, point):
    _clips(tmp_path / "clips", 2)
    command = [sys.executable, "-m", "app.cli", "ingest", str(tmp_path / "clips"), "--creator", "ann",
               "--followers", "12k", "--posted-at", "2026-05-01", "--data-dir", str(data_dir),
               "--encoder", ENCODER, "-q"]
    killed = subprocess.run(command, cwd=ROOT, env={**os.environ, ENV_VAR: point}, capture_output=True)
    assert killed.returncode == -9, killed.stderr.decode()[-2000:]
    if point == "ingest.committed":
        catalogued, indexed = _searchable(data_dir)
        assert catalogued and not catalogued <= indexed, "the kill left garments unsearchable"

    rerun = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
    assert rerun.returncode == 0, rerun.stderr[-2000:]
    if point == "ingest.committed":
        assert "index caught up with the catalog" in rerun.stdout
    catalogued, indexed = _searchable(data_dir)
    assert catalogued and catalogued == indexed
    with Catalog(data_dir) as catalog:
        counts = catalog.counts()
        assert counts["videos_done"] == 2 and counts["videos_processing"] == 0
        assert catalog.integrity_problems() == []
        assert all((data_dir / g.crop_path).is_file() for g in catalog.garments())
        assert {p.name for p in (data_dir / "crops").iterdir()} == {str(v.id) for v in catalog.videos()}
    from inference.check import check

    assert check(data_dir, config=index_config()).findings == []


def test_garments_catalogued_but_not_indexed_are_indexed_by_the_next_batch(tmp_path, data_dir):
    first, second = _clips(tmp_path / "clips", 2)
    ingest([_submission(first)], data_dir, progress=False)  # catalog only, as if killed before the index
    report = ingest([_submission(first), _submission(second)], data_dir, sink=_sink(data_dir), progress=False)
    assert report.caught_up.startswith("index caught up with the catalog")
    assert [o.status for o in report.outcomes] == ["skipped", "ingested"]
    catalogued, indexed = _searchable(data_dir)
    assert catalogued == indexed and len(catalogued) > 0


# -- disk full -------------------------------------------------------------------------------
def _full_after(calls: int, real):
    """A write function that fills the disk after ``calls`` successful writes."""
    count = [0]

    def write(*args, **kwargs):
        count[0] += 1
        if count[0] > calls:
            raise OSError(errno.ENOSPC, "No space left on device", str(args[0]))
        return real(*args, **kwargs)

    return write


def test_disk_full_mid_batch_stops_cleanly_with_a_summary(tmp_path, data_dir, monkeypatch, capsys):
    clips = _clips(tmp_path / "clips", 3)
    ingest([_submission(clips[0])], data_dir, progress=False)
    with Catalog(data_dir) as catalog:
        kept = [g.id for g in catalog.garments()]
    monkeypatch.setattr(ingest_module, "atomic_write_bytes", _full_after(1, ingest_module.atomic_write_bytes))
    code = main(["ingest", *map(str, clips), "--creator", "ann", "--followers", "20k",
                 "--posted-at", "2026-05-01", "--data-dir", str(data_dir), "--no-index"])
    out, err = capsys.readouterr()
    assert code == 1
    assert "Traceback" not in out + err
    assert "1 skipped, 1 failed, 1 not attempted" in out
    assert "the batch stopped: disk full" in out
    with Catalog(data_dir) as catalog:
        assert [g.id for g in catalog.garments()] == kept, "nothing already stored is lost"
        failed = catalog.videos(status="failed")
        assert len(failed) == 1 and "disk full" in (failed[0].error or "")
        assert not (data_dir / "crops" / str(failed[0].id)).exists(), "no half-written crops"
        assert catalog.claimed_videos() == []
    monkeypatch.undo()
    assert main(["ingest", *map(str, clips), "--creator", "ann", "--followers", "20k", "--posted-at",
                 "2026-05-01", "--data-dir", str(data_dir), "--no-index", "-q"]) == 0


@pytest.mark.parametrize(("method", "error", "said"), [
    ("finish_video", "database or disk is full", "disk full"),
    ("claim_video", "attempt to write a readonly database", "the catalog is read-only"),
    ("claim_video", "database is locked", "the catalog is locked by another process"),
])
def test_a_catalog_that_takes_no_writes_stops_the_batch_and_rolls_the_video_back(
    tmp_path, data_dir, monkeypatch, method, error, said
):
    clips = _clips(tmp_path / "clips", 2)

    def refuse(*args, **kwargs):
        raise sqlite3.OperationalError(error)

    monkeypatch.setattr(Catalog, method, refuse)
    report = ingest([_submission(c) for c in clips], data_dir, progress=False)
    assert [o.status for o in report.outcomes] == ["failed", "not attempted"]
    assert report.stopped.startswith(said) and report.exit_code == 2
    with Catalog(data_dir) as catalog:
        assert catalog.counts()["garments"] == 0 and catalog.abandoned_videos() == []


def test_a_full_index_disk_leaves_the_video_for_the_next_run(tmp_path, data_dir, monkeypatch):
    from inference.index import files

    clips = _clips(tmp_path / "clips", 2)
    sink = _sink(data_dir)
    monkeypatch.setattr(files, "atomic_path", _full_after(0, files.atomic_path))
    report = ingest([_submission(c) for c in clips], data_dir, sink=sink, progress=False)
    # the second video was catalogued while the first one's crops were on the crop queue
    assert [o.status for o in report.outcomes] == ["unindexed", "unindexed"]
    assert all("the next run indexes it" in o.reason for o in report.outcomes) and report.exit_code == 2
    monkeypatch.undo()
    report = ingest([_submission(c) for c in clips], data_dir, sink=_sink(data_dir), progress=False)
    assert [o.status for o in report.outcomes] == ["skipped", "skipped"] and report.caught_up
    catalogued, indexed = _searchable(data_dir)
    assert catalogued == indexed and len(catalogued) > 0


def test_too_little_free_space_is_said_before_any_write(tmp_path, data_dir, monkeypatch):
    clips = _clips(tmp_path / "clips", 2)
    monkeypatch.setattr(ingest_module, "free_mb", lambda path: 5.0)
    report = ingest([_submission(c) for c in clips], data_dir, IngestConfig(), progress=False)
    assert [o.status for o in report.outcomes] == ["not attempted"] * 2 and report.exit_code == 2
    assert "only 5 MB free" in report.stopped and "at least 64 MB" in report.stopped
    with Catalog(data_dir) as catalog:
        assert catalog.videos() == []


def test_storage_faults_are_named(tmp_path):
    from core.storage import storage_fault

    assert storage_fault(OSError(errno.ENOSPC, "No space", "/x/y")) == "disk full: /x/y"
    assert storage_fault(sqlite3.OperationalError("attempt to write a readonly database")).startswith(
        "the catalog is read-only")
    assert storage_fault(sqlite3.OperationalError("database is locked")).startswith("the catalog is locked")
    assert storage_fault(ValueError("x")) is None


# -- leftovers of killed runs ----------------------------------------------------------------
def test_leftovers_of_dead_processes_are_removed_and_live_ones_kept(data_dir):
    from core.storage import OWNER_FILE, find_leftovers, remove_leftovers

    version = data_dir / "index" / "20260501-000000-abcd"
    version.mkdir(parents=True)
    dead_tmp = version / ".meta.json.999999999.x1y2.tmp"
    live_tmp = version / f".meta.json.{os.getpid()}.x1y2.tmp"
    old_tmp, new_tmp = data_dir / ".CURRENT.ab12cd.tmp", data_dir / ".CURRENT.ef34gh.tmp"
    for path in (dead_tmp, live_tmp, old_tmp, new_tmp):
        path.write_bytes(b"half")
    os.utime(old_tmp, (0, 0))  # an old-style name, hours old
    dead_staging, live_staging = data_dir / "index" / ".building-a", data_dir / "index" / ".building-b"
    for folder, token in ((dead_staging, "host:999999999:1"), (live_staging, owner_token())):
        folder.mkdir()
        (folder / OWNER_FILE).write_text(token.replace("host", owner_token().rsplit(":", 2)[0]))
        (folder / ".index-1.faiss.999999999.zz.tmp").write_bytes(b"x")
    (data_dir / "index" / ".lock").write_bytes(b"")

    expected = sorted([dead_tmp, old_tmp, dead_staging])
    assert find_leftovers(data_dir) == expected
    assert remove_leftovers(data_dir) == expected
    assert not any(p.exists() for p in expected)
    assert live_tmp.exists() and new_tmp.exists() and live_staging.exists()


@pytest.mark.slow
def test_a_killed_rebuild_leaves_the_old_version_live_and_its_staging_is_cleaned(tmp_path, data_dir):
    from inference.embed import CropEmbedder
    from inference.index import read_current, rebuild_index
    from tests.index_helpers import make_world

    make_world(data_dir, videos=3, per_video=2)
    rebuild_index(data_dir, CropEmbedder(create_encoder(ENCODER)), config=index_config(), progress=False)
    live = read_current(data_dir)
    command = [sys.executable, "-m", "app.cli", "index", "rebuild", "--data-dir", str(data_dir),
               "--encoder", ENCODER, "-q"]
    killed = subprocess.run(command, cwd=ROOT, env={**os.environ, ENV_VAR: "index.staging"}, capture_output=True)
    assert killed.returncode == -9
    assert read_current(data_dir) == live
    assert list((data_dir / "index").glob(".building-*")), "the kill left its staging folder"
    assert subprocess.run(command, cwd=ROOT, capture_output=True).returncode == 0
    assert not list((data_dir / "index").glob(".building-*"))
    assert read_current(data_dir) != live


# -- rebuild with crops gone -----------------------------------------------------------------
def test_rebuild_keeps_garments_whose_crop_is_gone(data_dir, caplog):
    from inference.embed import CropEmbedder
    from inference.index import rebuild_index
    from tests.index_helpers import make_world

    world = make_world(data_dir, videos=4, per_video=2)
    rebuild_index(data_dir, CropEmbedder(create_encoder(ENCODER)), config=index_config(), progress=False)
    before_ids, before, _ = load_embeddings(data_dir)
    gone = world[:2]
    for garment in gone:
        (data_dir / garment.crop_path).unlink()

    rebuild_index(data_dir, CropEmbedder(create_encoder(ENCODER)), config=index_config(), progress=False)
    ids, vectors, _ = load_embeddings(data_dir)
    assert sorted(ids.tolist()) == sorted(g.id for g in world), "no garment dropped"
    for garment in gone:
        old, new = before[before_ids == garment.id][0], vectors[ids == garment.id][0]
        assert np.allclose(old, new, atol=1e-3), "the stored embedding is what is kept"
    assert "2 garments have no readable crop; their stored embeddings are kept" in caplog.text
    assert gone[0].crop_path in caplog.text

    caplog.clear()  # another encoder: the stored vectors do not fit, the garments stay catalogued
    rebuild_index(data_dir, CropEmbedder(create_encoder("tiny:16")), config=index_config(), progress=False)
    ids, _, _ = load_embeddings(data_dir)
    assert sorted(ids.tolist()) == sorted(g.id for g in world[2:])
    assert "stay in the catalog but are not searchable" in caplog.text
    with Catalog(data_dir) as catalog:
        assert len(catalog.garments()) == len(world)


def test_opening_a_searcher_indexes_what_an_interrupted_run_catalogued(data_dir, caplog):
    from inference.embed import CropEmbedder
    from inference.index import rebuild_index
    from inference.search import SearchConfig, Searcher
    from tests.index_helpers import add_video, crop_image, make_world

    make_world(data_dir, videos=2, per_video=2)
    rebuild_index(data_dir, CropEmbedder(create_encoder(ENCODER)), config=index_config(), progress=False)
    crop = crop_image(np.random.default_rng(3))
    with Catalog(data_dir) as catalog:  # committed, then the process was killed before the index
        ids = add_video(catalog, data_dir, "late.mp4", "ana", dt.date(2026, 4, 1), [("top", crop)])
    searcher = Searcher(data_dir, create_encoder(ENCODER), SearchConfig.load(), index_config())
    try:
        assert "index caught up with the catalog: 1 garments" in caplog.text
        assert searcher.search(image=crop, k=1, dedupe=False).hits[0].garment_id == ids[0]
    finally:
        searcher.close()


@pytest.mark.slow
@pytest.mark.parametrize("point", ["sync.embedded", "index.version_built"])
def test_a_killed_sync_or_rebuild_is_caught_up_by_the_next_command(data_dir, point):
    from inference.embed import CropEmbedder
    from inference.index import rebuild_index
    from tests.index_helpers import add_video, crop_image, make_world

    make_world(data_dir, videos=2, per_video=2)
    rebuild_index(data_dir, CropEmbedder(create_encoder(ENCODER)), config=index_config(), progress=False)
    with Catalog(data_dir) as catalog:
        add_video(catalog, data_dir, "late.mp4", "ana", dt.date(2026, 4, 1), [("top", crop_image(np.random.default_rng(1)))])
    action = "sync" if point == "sync.embedded" else "rebuild"
    command = [sys.executable, "-m", "app.cli", "index", action, "--data-dir", str(data_dir), "--encoder", ENCODER, "-q"]
    killed = subprocess.run(command, cwd=ROOT, env={**os.environ, ENV_VAR: point}, capture_output=True)
    assert killed.returncode == -9
    check = [sys.executable, "-m", "app.cli", "check", "--data-dir", str(data_dir), "--encoder", ENCODER, "-q"]
    assert subprocess.run(check, cwd=ROOT, capture_output=True).returncode == 1, "the kill left work undone"
    assert subprocess.run(command, cwd=ROOT, capture_output=True).returncode == 0
    after = subprocess.run(check, cwd=ROOT, capture_output=True, text=True)
    assert after.returncode == 0, after.stdout
    catalogued, indexed = _searchable(data_dir)
    assert catalogued == indexed


@pytest.mark.slow
def test_random_kills_then_one_plain_rerun_leave_everything_searchable_once(tmp_path, data_dir):
    import random
    import time

    _clips(tmp_path / "clips", 4, n=30)
    command = [sys.executable, "-m", "app.cli", "ingest", str(tmp_path / "clips"), "--creator", "ann",
               "--followers", "12k", "--posted-at", "2026-05-01", "--data-dir", str(data_dir),
               "--encoder", ENCODER, "-q"]
    chance = random.Random(17)
    for _ in range(5):
        run = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(chance.uniform(1.0, 6.0))
        run.kill()
        run.wait()
    rerun = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
    assert rerun.returncode == 0, rerun.stderr[-2000:]
    catalogued, indexed = _searchable(data_dir)
    assert catalogued and catalogued == indexed
    with Catalog(data_dir) as catalog:
        assert catalog.counts()["videos_done"] == 4
        garments = catalog.garments()
        assert len({(g.video_id, g.frame_id, g.kind) for g in garments}) == len(garments)
    check = subprocess.run([sys.executable, "-m", "app.cli", "check", "--data-dir", str(data_dir), "-q"],
                           cwd=ROOT, capture_output=True, text=True)
    assert check.returncode == 0, check.stdout


# -- a real full disk --------------------------------------------------------------------------
@pytest.fixture
def small_disk(tmp_path):
    """A tmpfs mounted at a temporary folder (root only), remountable to another size."""
    mount_point = tmp_path / "small"
    mount_point.mkdir()
    made = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", str(mount_point)],
                          capture_output=True, text=True)
    if made.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here ({made.stderr.strip() or 'mount failed'}): needs root")

    def resize(kilobytes: int) -> None:
        subprocess.run(["mount", "-o", f"remount,size={kilobytes}k", str(mount_point)], check=True)

    try:
        yield mount_point, resize
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], check=False)


@pytest.mark.slow
def test_a_really_full_disk_stops_the_batch_and_one_rerun_on_more_space_finishes_it(tmp_path, small_disk, capsys):
    mount_point, resize = small_disk
    data_dir = mount_point / "data"
    clips = _clips(tmp_path / "clips", 6)
    settings = tmp_path / "settings.yaml"
    settings.write_text("ingest:\n  min_free_mb: 0\n")  # the free-space guard would stop it first
    args = ["--creator", "ann", "--followers", "20k", "--posted-at", "2026-05-01", "--data-dir", str(data_dir),
            "--encoder", ENCODER, "--config", str(settings), "-q"]
    assert main(["ingest", str(clips[0]), *args]) == 0
    capsys.readouterr()
    kept, _ = _searchable(data_dir)
    used_kb = sum(f.stat().st_blocks for f in mount_point.rglob("*") if f.is_file()) // 2
    resize(used_kb + 96)  # about one more video's crops, not five

    code = main(["ingest", *map(str, clips), *args])
    out, err = capsys.readouterr()
    assert code == 1, out + err
    assert "Traceback" not in out + err
    assert "the batch stopped: disk full" in out and "not attempted" in out
    catalogued, indexed = _searchable(data_dir)
    assert kept <= catalogued and kept <= indexed, "nothing already stored is lost"
    with Catalog(data_dir) as catalog:
        assert catalog.claimed_videos() == []
        assert catalog.integrity_check() == []

    resize(64 * 1024)
    assert main(["ingest", *map(str, clips), *args]) == 0
    catalogued, indexed = _searchable(data_dir)
    with Catalog(data_dir) as catalog:
        done = catalog.videos(status="done")
        assert len({v.content_hash for v in done}) == len(done) == len(clips), "each video stored once"
    assert catalogued == indexed and len(catalogued) == 6 * len(clips)
    assert main(["check", "--data-dir", str(data_dir), "--encoder", ENCODER]) == 0
