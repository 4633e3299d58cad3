"""Manifest parsing: CSV and JSONL, with every bad row reported and the good rows kept."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from core.errors import BadInputError
from inference.manifest import (
    from_arguments,
    parse_followers,
    parse_handle,
    parse_posted_at,
    read_manifest,
)


def test_csv_manifest_good_and_bad_rows(tmp_path):
    (tmp_path / "a.mp4").write_bytes(b"x")
    manifest = tmp_path / "m.csv"
    manifest.write_text(
        "path,creator,followers,posted_at,mood\n"
        "a.mp4,@alice,24k,2026-05-01,happy\n"
        "b.mp4,bob,-5,2026-05-02,\n"
        "c.mp4,carol,1000,2026-13-40,\n"
        "d.mp4,dave,1000,2999-01-01,\n"
        "e.mp4,,1000,2026-05-01,\n"
        "f.mp4,fay ray,1000,2026-05-01,\n"
        "g.mp4,gus,1000,2026-05-01,x,extra\n"
    )
    batch = read_manifest(manifest)
    assert [v.creator for v in batch.videos] == ["alice"]
    video = batch.videos[0]
    assert video.path == tmp_path / "a.mp4" and video.followers == 24_000
    assert video.posted_at == dt.date(2026, 5, 1) and video.source == "m.csv:2"
    reasons = {r.source: r.reason for r in batch.rejected}
    assert "must be >= 0" in reasons["m.csv:3"]
    assert "bad posted_at" in reasons["m.csv:4"]
    assert "in the future" in reasons["m.csv:5"]
    assert "missing creator" in reasons["m.csv:6"]
    assert "bad creator handle" in reasons["m.csv:7"]
    assert "more fields" in reasons["m.csv:8"]
    assert batch.warnings == ["m.csv: ignored unknown column(s) mood"]


def test_jsonl_manifest(tmp_path):
    manifest = tmp_path / "m.jsonl"
    rows = [
        {"path": "/abs/v.mp4", "creator": "zoe", "followers": 1200000, "posted_at": "2026-06-01T10:00:00Z"},
        "not an object",
    ]
    manifest.write_text("\n".join(json.dumps(r) for r in rows) + "\n{broken\n\n")
    batch = read_manifest(manifest)
    assert len(batch.videos) == 1 and batch.videos[0].followers == 1_200_000
    assert str(batch.videos[0].path) == "/abs/v.mp4"
    assert [r.source for r in batch.rejected] == ["m.jsonl:2", "m.jsonl:3"]


def test_manifest_missing_columns_or_file(tmp_path):
    manifest = tmp_path / "m.csv"
    manifest.write_text("path,creator\na.mp4,alice\n")
    with pytest.raises(BadInputError, match="lacks column"):
        read_manifest(manifest)
    with pytest.raises(BadInputError, match="not found"):
        read_manifest(tmp_path / "nope.csv")
    binary = tmp_path / "bin.csv"
    binary.write_bytes(b"\xff\xfe\x00bad")
    with pytest.raises(BadInputError, match="not UTF-8"):
        read_manifest(binary)


@pytest.mark.parametrize(("text", "count"), [("0", 0), ("12000", 12000), ("12k", 12000), ("1.5M", 1_500_000), (7, 7)])
def test_follower_counts(text, count):
    assert parse_followers(text) == count


@pytest.mark.parametrize("text", ["-1", "lots", "", "1e9", True])
def test_bad_follower_counts(text):
    with pytest.raises(ValueError):
        parse_followers(text)


def test_handles_and_dates():
    assert parse_handle("@some.one_2") == "some.one_2"
    with pytest.raises(ValueError):
        parse_handle("x" * 65)
    assert parse_posted_at("2026-01-02") == dt.date(2026, 1, 2)
    with pytest.raises(ValueError, match="future"):
        parse_posted_at("2026-02-01", today=dt.date(2026, 1, 1))
    with pytest.raises(ValueError):
        parse_posted_at("yesterday")


def test_from_arguments_expands_folders(tmp_path):
    (tmp_path / "clips").mkdir()
    for name in ("b.mp4", "a.MOV", "notes.txt"):
        (tmp_path / "clips" / name).write_bytes(b"x")
    (tmp_path / "empty").mkdir()
    batch = from_arguments([tmp_path / "clips", tmp_path / "empty"], "ann", "10k", "2026-03-03")
    assert [v.path.name for v in batch.videos] == ["a.MOV", "b.mp4"]
    assert batch.rejected and "no video files" in batch.rejected[0].reason
    with pytest.raises(BadInputError, match="follower"):
        from_arguments([tmp_path / "clips"], "ann", "-3", "2026-03-03")
