"""``stylescope check [--repair]``: each kind of damage found, with counts, and repaired where
it safely can be, keeping a copy of what is replaced."""

from __future__ import annotations

import datetime as dt
import os
import sqlite3
from pathlib import Path

import numpy as np
import pytest

from app.cli import main
from core.process import owner_token
from core.storage import OWNER_FILE
from inference.catalog import Catalog, FrameRow
from inference.check import check
from inference.embed import CropEmbedder
from inference.index import index_root, load_embeddings, read_current, read_meta, rebuild_index
from inference.types import VideoSubmission
from models.registry import create_encoder
from tests.index_helpers import INFO, add_video, crop_image, index_config, make_world

ENCODER = "tiny:32"


def _embedder():
    return CropEmbedder(create_encoder(ENCODER))


def _indexed_world(data_dir: Path):
    world = make_world(data_dir, videos=4, per_video=2)
    rebuild_index(data_dir, _embedder(), config=index_config(), progress=False)
    return world


def _dead_token() -> str:
    return owner_token().rsplit(":", 2)[0] + ":999999999:1"


def test_a_healthy_data_dir_is_clean(data_dir, capsys):
    _indexed_world(data_dir)
    report = check(data_dir, config=index_config())
    assert report.findings == [] and report.exit_code == 0
    assert report.counts["videos_done"] == 4 and report.counts["index_garments"] == 12
    assert main(["check", "--data-dir", str(data_dir)]) == 0
    assert "all well" in capsys.readouterr().out


def _damage(data_dir: Path, world) -> dict[str, object]:
    """One of each kind of damage a killed or careless run can leave."""
    rng = np.random.default_rng(5)
    with Catalog(data_dir) as catalog:
        unindexed = add_video(catalog, data_dir, "late.mp4", "ana", dt.date(2026, 4, 1), [("top", crop_image(rng))])
        deleted = catalog.delete_video(world[0].video_id)  # gone from the catalog, still in the index
        stuck = catalog.claim_video(VideoSubmission(Path("stuck.mp4"), "ana", 10, dt.date(2026, 4, 2), "s"),
                                    "hash-stuck", _dead_token())
        claimed = catalog.claim_video(VideoSubmission(Path("claimed.mp4"), "ana", 10, dt.date(2026, 4, 2), "c"),
                                      "hash-claimed", _dead_token())
        catalog.finish_video(claimed.video_id, INFO, [FrameRow(0.0, 0, 100.0, 0, 96, 160)], [])
    missing_crop = world[-1].crop_path
    (data_dir / missing_crop).unlink()
    (data_dir / "crops" / "9999").mkdir(parents=True)
    (data_dir / "crops" / "9999" / "000_top.jpg").write_bytes(b"jpeg")
    stray = Path(world[-1].crop_path).parent / "099_full.jpg"
    (data_dir / stray).write_bytes(b"jpeg")
    staging = index_root(data_dir) / ".building-x"
    staging.mkdir()
    (staging / OWNER_FILE).write_text(_dead_token())
    (data_dir / ".CURRENT.999999999.ab.tmp").write_bytes(b"")
    return {"unindexed": unindexed, "deleted": deleted, "stuck": stuck.video_id,
            "missing_crop": missing_crop, "stray": stray}


def test_each_kind_of_damage_is_found_and_the_safe_ones_repaired(data_dir, capsys):
    world = _indexed_world(data_dir)
    damage = _damage(data_dir, world)

    report = check(data_dir, config=index_config())
    areas = sorted(f.area for f in report.findings)
    assert areas == ["crops", "crops", "index", "leftovers", "videos", "videos"] and report.exit_code == 1
    text = "\n".join(f.problem for f in report.findings)
    assert "1 catalogued garments are not in the index" in text
    assert f"{len(damage['deleted'])} index entries have no garment in the catalog" in text
    assert "1 videos were left half-done" in text and "stuck.mp4" in text
    assert "1 garments have no crop file" in text and str(damage["missing_crop"]) in text
    assert "3 crop files or folders belong to no garment" in text  # the deleted video's folder too
    assert "2 staging folders or temp files" in text

    code = main(["check", "--repair", "--data-dir", str(data_dir), "--encoder", ENCODER])
    out = capsys.readouterr().out
    assert code == 1, "a half-done video and a lost crop cannot be repaired here"
    assert "stylescope ingest --resume" in out and "re-ingest their videos" in out

    report = check(data_dir, config=index_config())
    assert sorted(f.area for f in report.findings) == ["crops", "videos"]
    with Catalog(data_dir) as catalog:
        catalogued = set(catalog.done_garment_ids().tolist())
        assert catalog.claimed_videos() == [catalog.video(damage["stuck"])]
    ids, _, _ = load_embeddings(data_dir)
    assert set(ids.tolist()) == catalogued and set(damage["unindexed"]) <= catalogued
    backups = list((data_dir / "backups").glob("check-*"))
    assert len(backups) == 1 and (backups[0] / damage["stray"]).is_file()
    assert (backups[0] / "crops" / "9999" / "000_top.jpg").is_file()
    assert (backups[0] / "crops" / str(world[0].video_id)).is_dir()
    assert not (data_dir / "crops" / "9999").exists() and not list(index_root(data_dir).glob(".building-*"))


def test_a_damaged_index_is_rebuilt_and_kept(data_dir):
    _indexed_world(data_dir)
    damaged = read_current(data_dir)
    meta = read_meta(index_root(data_dir) / damaged)
    segment = index_root(data_dir) / damaged / meta["segments"][0]["vectors"]
    segment.write_bytes(segment.read_bytes()[:-8] + b"\x00" * 8)
    report = check(data_dir, config=index_config())
    assert [f.area for f in report.findings] == ["index"] and "damaged" in report.findings[0].problem
    report = check(data_dir, repair=True, embedder=_embedder, config=index_config())
    assert report.clean and f"the damaged version {damaged} is kept" in report.findings[0].repaired
    assert read_current(data_dir) != damaged and (index_root(data_dir) / damaged).is_dir()
    assert check(data_dir, config=index_config()).findings == []


def _page_of(data_dir: Path, name: str) -> tuple[int, int]:
    with sqlite3.connect(data_dir / "catalog.sqlite") as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        (root,) = conn.execute("SELECT rootpage FROM sqlite_master WHERE name = ?", (name,)).fetchone()
        (size,) = conn.execute("PRAGMA page_size").fetchone()
    conn.close()
    return root, size


def test_a_damaged_catalog_index_is_reindexed_with_a_copy_kept(data_dir):
    _indexed_world(data_dir)
    root, size = _page_of(data_dir, "garments_video")
    catalog_file = data_dir / "catalog.sqlite"
    data = bytearray(catalog_file.read_bytes())
    first_cell = (root - 1) * size + int.from_bytes(data[(root - 1) * size + 8 : (root - 1) * size + 10], "big")
    data[first_cell + 2] = 0x08  # the first entry's video id becomes 0: the index disagrees with its table
    catalog_file.write_bytes(bytes(data))

    report = check(data_dir, config=index_config())
    assert [f.area for f in report.findings] == ["catalog"]
    assert "missing from index garments_video" in report.findings[0].problem
    report = check(data_dir, repair=True, embedder=_embedder, config=index_config())
    assert report.clean and "REINDEX" in report.findings[0].repaired
    assert list((data_dir / "backups").glob("check-*/catalog.sqlite"))
    assert check(data_dir, config=index_config()).findings == []


def test_a_damaged_catalog_table_is_salvaged_without_a_traceback(data_dir, capsys):
    _indexed_world(data_dir)
    root, size = _page_of(data_dir, "garments")
    catalog_file = data_dir / "catalog.sqlite"
    data = bytearray(catalog_file.read_bytes())
    data[(root - 1) * size : root * size] = os.urandom(size)  # the whole (one-page) garments table
    catalog_file.write_bytes(bytes(data))

    assert main(["check", "--repair", "--data-dir", str(data_dir), "--encoder", ENCODER]) == 1
    out = capsys.readouterr().out
    assert "salvaged every readable row" in out and "4 videos that lost rows" in out
    assert "4 videos were left half-done" in out and "ingest --resume" in out  # what remains, and what to do
    code = main(["search", "--text", "red", "--data-dir", str(data_dir), "--encoder", ENCODER])
    captured = capsys.readouterr()
    assert code == 2 and "Traceback" not in captured.err + captured.out
    assert "the index is empty" in captured.err


def _leaf_pages(data_dir: Path, table: str) -> list[int]:
    with sqlite3.connect(data_dir / "catalog.sqlite") as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        pages = [p for (p,) in conn.execute(
            "SELECT pageno FROM dbstat WHERE name = ? AND pagetype = 'leaf' ORDER BY pageno", (table,))]
    conn.close()
    return pages


@pytest.mark.slow
def test_a_damaged_table_page_is_salvaged_and_one_resume_restores_what_it_held(tmp_path, data_dir, capsys):
    from tests.test_faults import _clips

    clips = _clips(tmp_path / "clips", 30)
    args = ["--creator", "ann", "--followers", "20k", "--posted-at", "2026-05-01", "--data-dir", str(data_dir),
            "--encoder", ENCODER, "-q"]
    assert main(["ingest", *map(str, clips), *args]) == 0
    with Catalog(data_dir) as catalog:
        before = sorted((g.video_id, g.crop_path) for g in catalog.garments())
        videos = len(catalog.videos(status="done"))
    leaves = _leaf_pages(data_dir, "garments")
    assert len(leaves) >= 2, "the test needs a garments table over several pages"
    size = 4096
    catalog_file = data_dir / "catalog.sqlite"
    data = bytearray(catalog_file.read_bytes())
    data[(leaves[0] - 1) * size : leaves[0] * size] = os.urandom(size)  # one leaf: the rows on it
    catalog_file.write_bytes(bytes(data))
    capsys.readouterr()

    assert main(["check", "--data-dir", str(data_dir), "--encoder", ENCODER]) == 1
    assert main(["check", "--repair", "--data-dir", str(data_dir), "--encoder", ENCODER]) == 1
    out = capsys.readouterr().out
    assert "salvaged every readable row" in out and "ingest --resume" in out, out
    with Catalog(data_dir) as catalog:
        assert catalog.integrity_check() == []
        kept = catalog.garments()
        reset = catalog.videos(status="processing")
    assert 0 < len(reset) < videos, "only the videos whose rows were on the damaged page are redone"
    assert len(kept) == len(before) - sum(1 for v, _ in before if v in {r.id for r in reset})

    assert main(["ingest", "--resume", *args]) == 0
    assert main(["check", "--data-dir", str(data_dir), "--encoder", ENCODER]) == 0
    with Catalog(data_dir) as catalog:
        assert sorted((g.video_id, g.crop_path) for g in catalog.garments()) == before, "nothing lost or doubled"
        assert len(catalog.videos(status="done")) == videos
    ids, _, _ = load_embeddings(data_dir)
    assert len(ids) == len(set(ids.tolist())) == len(before)
