"""The SQLite catalog: schema migrations, atomic video writes, deletes, ids never reused."""

from __future__ import annotations

import datetime as dt
import sqlite3
from pathlib import Path

import pytest

from core.errors import CatalogError
from inference.catalog import SCHEMA_VERSION, Catalog, FrameRow, GarmentRow, WholeVideo
from inference.types import Box, VideoInfo, VideoSubmission

INFO = VideoInfo(100, 200, 15.0, 2.0, 30, 0, "h264")


def _add_video(catalog: Catalog, name: str, creator: str = "ann", garments: int = 3) -> list[int]:
    submission = VideoSubmission(Path(name), creator, 20_000, dt.date(2026, 5, 1), name)
    video_id = catalog.begin_video(submission, content_hash=name)
    frames = [FrameRow(0.5, 0, 100.0, 0xABCDEF, 100, 200)]
    rows = [GarmentRow(0, "top", Box(0, 0, 10, 10), "hog", 0.9, f"crops/{video_id}/{i}.jpg") for i in range(garments)]
    return catalog.finish_video(video_id, INFO, frames, rows)


def test_schema_and_wal(data_dir):
    with Catalog(data_dir) as catalog:
        assert catalog.schema_version == SCHEMA_VERSION
        assert catalog._conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    # Reopening runs no migration twice.
    with Catalog(data_dir) as catalog:
        assert catalog.schema_version == SCHEMA_VERSION


def test_newer_schema_is_refused(data_dir):
    Catalog(data_dir).close()
    conn = sqlite3.connect(data_dir / "catalog.sqlite")
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 5}")
    conn.close()
    with pytest.raises(CatalogError, match="newer"):
        Catalog(data_dir)


def test_not_a_database_is_a_clear_error(data_dir):
    (data_dir / "catalog.sqlite").write_bytes(b"garbage" * 1000)
    with pytest.raises(CatalogError):
        Catalog(data_dir)


def test_video_lifecycle_and_joins(data_dir):
    with Catalog(data_dir) as catalog:
        ids = _add_video(catalog, "a.mp4")
        garments = catalog.garments()
        assert [g.id for g in garments] == ids
        assert garments[0].creator == "ann" and garments[0].tier == "micro"
        assert garments[0].posted_at == "2026-05-01" and garments[0].t_s == 0.5
        assert catalog.garments(ids=list(reversed(ids)))[0].id == ids[-1]
        assert catalog.counts()["videos_done"] == 1
        assert catalog.integrity_problems() == []


def test_garment_ids_are_never_reused(data_dir):
    with Catalog(data_dir) as catalog:
        first = _add_video(catalog, "a.mp4")
        video_id = catalog.video_by_hash("a.mp4").id
        assert sorted(catalog.delete_video(video_id)) == sorted(first)
        second = _add_video(catalog, "b.mp4")
        assert min(second) > max(first)
        assert catalog.counts()["garments"] == len(second)


def test_delete_creator_cascades(data_dir):
    with Catalog(data_dir) as catalog:
        _add_video(catalog, "a.mp4", creator="ann")
        kept = _add_video(catalog, "b.mp4", creator="bob")
        removed = catalog.delete_creator("ann")
        assert len(removed) == 3
        assert [g.id for g in catalog.garments()] == kept
        assert catalog.counts()["frames"] == 1


def test_failed_video_keeps_reason_and_redo_resets(data_dir):
    with Catalog(data_dir) as catalog:
        submission = VideoSubmission(Path("x.mp4"), "ann", 5, dt.date(2026, 5, 1), "x")
        video_id = catalog.begin_video(submission, "hash-x")
        catalog.fail_video(video_id, "no decodable frames")
        assert catalog.video(video_id).error == "no decodable frames"
        assert catalog.begin_video(submission, "hash-x") == video_id
        assert catalog.video(video_id).status == "processing"


def test_rollback_leaves_nothing_half_written(data_dir):
    with Catalog(data_dir) as catalog:
        submission = VideoSubmission(Path("x.mp4"), "ann", 5, dt.date(2026, 5, 1), "x")
        video_id = catalog.begin_video(submission, "hash-x")
        frames = [FrameRow(0.0, 0, 1.0, 1, 10, 10)]
        bad = [GarmentRow(5, "top", Box(0, 0, 1, 1), "hog", 1.0, "c.jpg")]  # frame index out of range
        with pytest.raises(IndexError):
            catalog.finish_video(video_id, INFO, frames, bad)
        assert catalog.counts()["frames"] == 0
        assert catalog.video(video_id).status == "processing"


def test_concurrent_first_opens_migrate_once(data_dir):
    import threading

    errors: list[BaseException] = []

    def open_catalog() -> None:
        try:
            Catalog(data_dir).close()
        except BaseException as exc:  # collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=open_catalog) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    with Catalog(data_dir) as catalog:
        assert catalog.schema_version == SCHEMA_VERSION


def test_metadata_counts_and_lookups(data_dir):
    with Catalog(data_dir) as catalog:
        ids = _add_video(catalog, "a.mp4") + _add_video(catalog, "b.mp4", creator="bo", garments=2)
        _add_video(catalog, "c.mp4")
        assert not catalog.has_styles() and catalog.style_count() == 0
        with catalog._transaction() as tx:
            for style_id, name in ((2, "mono checks"), (1, "red stripes")):
                tx.execute("INSERT INTO styles(id, name, created_at, updated_at) VALUES (?, ?, 'x', 'x')",
                           (style_id, name))
            tx.execute("INSERT INTO garment_styles(garment_id, style_id, distance) VALUES (?, 2, 0.1)", (ids[0],))
        assert catalog.has_styles() and catalog.style_count() == 2
        assert [(s.id, s.name) for s in catalog.style_names()] == [(1, "red stripes"), (2, "mono checks")]
        assert catalog.garment_style_ids() == {ids[0]: 2}
        assert catalog.done_video_count("ann") == 2 and catalog.done_video_count("nobody") == 0
        assert catalog.frames_by_method() == {"hog": 3}


def test_metadata_reader_reads_columns_and_sees_other_commits(data_dir):
    with Catalog(data_dir) as catalog:
        first = _add_video(catalog, "a.mp4", garments=2)
        reader = catalog.metadata_reader()
        try:
            version = reader.data_version()
            with reader.snapshot():
                creators, videos = reader.creators(), reader.videos()
                garments = reader.garments_after(-1)
                assert reader.garment_count() == 2
            assert creators.handles == ["ann"] and creators.followers == [20_000]
            assert videos.statuses == ["done"] and videos.posted_at == ["2026-05-01"]
            assert videos.creator_ids == creators.ids
            assert garments.ids == first and garments.kinds == ["top", "top"] and garments.t_s == [0.5, 0.5]
            assert garments.video_ids == videos.ids * 2
            second = _add_video(catalog, "b.mp4", garments=1)
            assert reader.data_version() != version
            assert reader.garments_after(first[-1]).ids == second
            assert reader.styles_version().styles == 0 and reader.style_name_by_id() == {}
            assert reader.garment_styles().garment_ids == []
        finally:
            reader.close()


def test_bulk_writes_match_the_ingest_writes(tmp_path):
    def whole(name: str, creator: str) -> WholeVideo:
        submission = VideoSubmission(Path(name), creator, 20_000, dt.date(2026, 5, 1), name)
        garments = [GarmentRow(0, "top", Box(0, 0, 10, 10), "hog", 0.9, f"crops/{name}/{i}.jpg") for i in range(2)]
        return WholeVideo(submission, name, INFO, [FrameRow(0.5, 0, 100.0, 0xABCDEF, 100, 200)], garments)

    one_by_one, bulk = tmp_path / "one", tmp_path / "bulk"
    with Catalog(one_by_one) as catalog:
        assert catalog.add_creators([("zed", 5), ("bo", 7)]) == [1, 2]
        for name, creator in (("a.mp4", "bo"), ("b.mp4", "ann")):
            video = whole(name, creator)
            video_id = catalog.begin_video(video.submission, video.content_hash)
            catalog.finish_video(video_id, video.info, video.frames, video.garments)
        expected = (catalog.creators(), catalog.garments(), catalog.counts())
    with Catalog(bulk) as catalog:
        catalog.add_creators([("zed", 5), ("bo", 7)])
        assert catalog.write_videos([whole("a.mp4", "bo"), whole("b.mp4", "ann")]) == [[1, 2], [3, 4]]
        assert (catalog.creators(), catalog.garments(), catalog.counts()) == expected
        assert catalog.integrity_problems() == []


def test_an_older_catalog_gains_the_ingest_log_s_video_paths(data_dir):
    import sqlite3

    from inference.catalog import CATALOG_FILE
    from inference.catalog.schema import MIGRATIONS

    with sqlite3.connect(data_dir / CATALOG_FILE) as conn:  # a catalog written before schema 3
        for migration in MIGRATIONS[:2]:
            conn.executescript(migration)
        conn.execute("INSERT INTO ingest_events(at, source, outcome, reason) VALUES ('2026-01-01', 'm.csv:2', 'failed', 'x')")
        conn.execute("PRAGMA user_version = 2")
    with Catalog(data_dir) as catalog:
        catalog.record_event("m.csv:3", "failed", "file not found", path="/videos/gone.mp4")
        events = catalog.ingest_events()
    assert [(e.source, e.path) for e in events] == [("m.csv:2", ""), ("m.csv:3", "/videos/gone.mp4")]
