"""Ingest end to end: good and bad videos, duplicates, exit codes, resume after SIGKILL."""

from __future__ import annotations

import csv
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import cv2
import pytest

from app.cli import main
from inference.catalog import Catalog
from inference.ingest import IngestConfig, ingest
from inference.manifest import read_manifest
from world.clips import FFMPEG, marker_frames, walking_clip, write_video

ROOT = Path(__file__).resolve().parents[1]


def _mixed_folder(folder: Path) -> dict[str, str]:
    """Good and bad videos; returns name -> expected status."""
    folder.mkdir()
    write_video(folder / "good1.mp4", walking_clip(n=30, seed=1))
    write_video(folder / "good2.webm", walking_clip(n=30, seed=2, top_colour=(20, 160, 40)), codec="libvpx-vp9")
    (folder / "zz_copy_of_good1.mp4").write_bytes((folder / "good1.mp4").read_bytes())
    (folder / "zero.mp4").write_bytes(b"")
    (folder / "notes.mp4").write_text("this is a text file named like a video\n")
    data = (folder / "good1.mp4").read_bytes()
    (folder / "truncated.mp4").write_bytes(data[: len(data) // 3])
    (folder / "corrupt.mkv").write_bytes(data[:64] + os.urandom(4000))
    subprocess.run([FFMPEG, "-hide_banner", "-loglevel", "error", "-f", "lavfi", "-i",
                    "sine=duration=1", str(folder / "audio.mp4")], check=True, capture_output=True)
    return {
        "good1.mp4": "ingested", "good2.webm": "ingested", "zz_copy_of_good1.mp4": "duplicate",
        "zero.mp4": "failed", "notes.mp4": "failed", "truncated.mp4": "failed",
        "corrupt.mkv": "failed", "audio.mp4": "failed",
    }


def _manifest(path: Path, rows: list[dict]) -> Path:
    with open(path, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=["path", "creator", "followers", "posted_at"])
        writer.writeheader()
        writer.writerows(rows)
    return path


@pytest.mark.slow
def test_mixed_folder_catalogs_good_and_records_bad(tmp_path, data_dir, capsys):
    expected = _mixed_folder(tmp_path / "clips")
    code = main(["ingest", str(tmp_path / "clips"), "--creator", "ann", "--followers", "20k",
                 "--posted-at", "2026-05-01", "--data-dir", str(data_dir), "--no-index", "-q"])
    out = capsys.readouterr().out
    assert code == 1
    for name in expected:
        assert name in out
    with Catalog(data_dir) as catalog:
        videos = {Path(v.source_path).name: v for v in catalog.videos()}
        assert videos["good1.mp4"].status == "done" and videos["good2.webm"].status == "done"
        for name, status in expected.items():
            if status == "failed" and name in videos:  # hashable failures have a row too
                assert videos[name].status == "failed" and videos[name].error
        assert "zz_copy_of_good1.mp4" not in videos
        events = catalog._conn.execute("SELECT source, outcome, reason FROM ingest_events").fetchall()
        outcomes = {Path(source).name: (outcome, reason) for source, outcome, reason in events}
        for name, status in expected.items():
            assert outcomes[name][0] == status, name
            if status == "failed":
                assert outcomes[name][1], f"{name} failed without a reason"
        garments = catalog.garments()
        assert garments and {g.kind for g in garments} == {"top", "bottom", "full"}
        for garment in garments:
            crop = cv2.imread(str(data_dir / garment.crop_path))
            assert crop is not None and crop.shape[0] > 8
        assert catalog.integrity_problems() == []


def test_exit_codes(tmp_path, data_dir, capsys):
    good = write_video(tmp_path / "good.mp4", walking_clip(n=15))
    args = ["--creator", "ann", "--followers", "100", "--posted-at", "2026-05-01", "--data-dir", str(data_dir), "--no-index", "-q"]
    assert main(["ingest", str(good), *args]) == 0
    out = capsys.readouterr().out  # what to do next: the new garments get a style from `stylescope trends`
    assert "Next: run `stylescope index sync`, then `stylescope trends` to cluster the" in out
    assert main(["ingest", str(good), *args]) == 0  # already in: skipped, not a failure
    (tmp_path / "bad.mp4").write_text("nope")
    assert main(["ingest", str(tmp_path / "bad.mp4"), *args]) == 2
    assert main(["ingest", "--data-dir", str(data_dir)]) == 2  # nothing to ingest
    assert main(["ingest", str(good), "--data-dir", str(data_dir)]) == 2  # no creator metadata
    assert main(["ingest", "--manifest", str(tmp_path / "missing.csv"), "--data-dir", str(data_dir)]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and "manifest not found" in err


def test_manifest_with_bad_rows_and_missing_file(tmp_path, data_dir):
    write_video(tmp_path / "a.mp4", walking_clip(n=15))
    manifest = _manifest(tmp_path / "m.csv", [
        {"path": "a.mp4", "creator": "ann", "followers": "30k", "posted_at": "2026-05-01"},
        {"path": "gone.mp4", "creator": "bob", "followers": "10", "posted_at": "2026-05-02"},
        {"path": "a.mp4", "creator": "bob", "followers": "-10", "posted_at": "2026-05-02"},
    ])
    batch = read_manifest(manifest)
    report = ingest(batch.videos, data_dir, rejected=batch.rejected, progress=False)
    statuses = {o.source: (o.status, o.reason) for o in report.outcomes}
    assert statuses["m.csv:2"][0] == "ingested"
    assert statuses["m.csv:3"] == ("failed", "file not found")
    assert statuses["m.csv:4"][0] == "failed" and ">= 0" in statuses["m.csv:4"][1]
    assert report.exit_code == 1


def test_reports_name_each_video_and_its_manifest_line(tmp_path, data_dir, capsys):
    import json

    write_video(tmp_path / "mia-fit-check.mp4", walking_clip(n=15))
    (tmp_path / "broken-haul.mp4").write_text("not a video")
    manifest = _manifest(tmp_path / "uploads.csv", [
        {"path": "mia-fit-check.mp4", "creator": "mia", "followers": "30k", "posted_at": "2026-05-01"},
        {"path": "broken-haul.mp4", "creator": "bob", "followers": "10", "posted_at": "2026-05-02"},
        {"path": "gone-ootd.mp4", "creator": "bob", "followers": "10", "posted_at": "2026-05-02"},
        {"path": "mia-fit-check.mp4", "creator": "bob", "followers": "-10", "posted_at": "2026-05-02"},
        {"path": "", "creator": "eve", "followers": "10", "posted_at": "2026-05-02"},
    ])
    expected = [("mia-fit-check.mp4", "uploads.csv:2", "ingested"), ("broken-haul.mp4", "uploads.csv:3", "failed"),
                ("gone-ootd.mp4", "uploads.csv:4", "failed"), ("mia-fit-check.mp4", "uploads.csv:5", "failed"),
                ("", "uploads.csv:6", "failed")]
    args = ["--manifest", str(manifest), "--data-dir", str(data_dir), "--no-index"]
    assert main(["ingest", *args, "-q"]) == 1
    table = capsys.readouterr().out.splitlines()
    assert table[0].split()[:3] == ["video", "from", "status"]
    rows = sorted(line.split()[:3] for line in table[2:2 + len(expected)])
    assert rows == sorted([video or "-", source, status] for video, source, status in expected)

    assert main(["ingest", *args, "--json"]) == 1  # again: the good one is skipped now
    outcomes = {o["source"]: o for o in json.loads(capsys.readouterr().out)["outcomes"]}
    assert {source: outcomes[source]["video"] for _, source, _ in expected} == {s: v for v, s, _ in expected}
    assert outcomes["uploads.csv:4"]["path"] == str(tmp_path / "gone-ootd.mp4")

    with Catalog(data_dir) as catalog:
        events = catalog.ingest_events()
        last_two = catalog.ingest_events(last=2)
    first_run = sorted((Path(e.path).name if e.path else "", e.source, e.outcome) for e in events[:5])
    assert first_run == sorted(expected)
    assert any(e.outcome == "skipped" and Path(e.path).name == "mia-fit-check.mp4" for e in events[5:])
    assert last_two == events[-2:]


def test_nothing_stored_is_lost_when_a_later_video_fails(tmp_path, data_dir):
    good = write_video(tmp_path / "good.mp4", walking_clip(n=15))
    ingest([_submission(good)], data_dir, progress=False)
    with Catalog(data_dir) as catalog:
        before = [g.id for g in catalog.garments()]
    (tmp_path / "bad.mp4").write_bytes(b"\x00" * 5000)
    report = ingest([_submission(tmp_path / "bad.mp4")], data_dir, progress=False)
    assert report.exit_code == 2
    with Catalog(data_dir) as catalog:
        assert [g.id for g in catalog.garments()] == before


def _submission(path: Path):
    import datetime as dt

    from inference.types import VideoSubmission

    return VideoSubmission(path, "ann", 20_000, dt.date(2026, 5, 1), path.name)


class _GreenSquare:
    """A stand-in person detector for the ingest plumbing: finds a green square, if any."""

    name = "green"

    def __init__(self, config):
        pass

    def locate(self, frames):
        from inference.garments import PersonDetection
        from inference.types import Box

        found = []
        for frame in frames:
            green = (frame[..., 1] > 180) & (frame[..., 0] < 80) & (frame[..., 2] < 80)
            ys, xs = green.nonzero()
            found.append(PersonDetection(Box(int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1),
                                         1.0, self.name) if len(xs) > 20 else None)
        return found


def test_a_frame_replaced_by_its_alternate_is_what_gets_stored(tmp_path, data_dir, monkeypatch):
    from inference import garments

    monkeypatch.setitem(garments.LOCALISERS, "green", _GreenSquare)
    frames = marker_frames(n=45)  # a steady shot: one kept frame at 0.0 s, alternates after it
    for frame in frames[4:]:
        frame[100:112, 60:72] = (20, 220, 20)  # the "person" is there from 0.27 s on
    path = write_video(tmp_path / "late.mp4", frames, extra=["-crf", "10"])
    config = IngestConfig()
    config.localiser.chain = ["green"]
    report = ingest([_submission(path)], data_dir, config, progress=False)
    assert report.outcomes[0].status == "ingested" and report.outcomes[0].fallback_frames == 0
    with Catalog(data_dir) as catalog:
        garments_ = catalog.garments()
        times = [round(t, 2) for (t,) in catalog._conn.execute("SELECT t_s FROM frames")]
    assert times == [0.53] and {g.method for g in garments_} == {"green"}
    assert {round(g.t_s, 2) for g in garments_} == {0.53}
    full = next(g for g in garments_ if g.kind == "full")
    crop = cv2.imread(str(data_dir / full.crop_path))
    assert crop[..., 1].mean() > 150 and crop[..., 2].mean() < 100  # cut from the frame with the square (BGR)


def test_per_stage_timing_is_reported(tmp_path, data_dir):
    good = write_video(tmp_path / "good.mp4", walking_clip(n=15))
    report = ingest([_submission(good)], data_dir, IngestConfig(), progress=False)
    assert {"hash", "decode", "crop", "write"} <= set(report.stage_seconds())


@pytest.mark.slow
def test_resume_after_sigkill(tmp_path, data_dir):
    clips = tmp_path / "clips"
    clips.mkdir()
    for i in range(6):
        write_video(clips / f"v{i}.mp4", walking_clip(n=75, w=360, h=640, seed=i), extra=["-preset", "ultrafast"])
    command = [sys.executable, "-m", "app.cli", "ingest", str(clips), "--creator", "ann", "--followers", "12k",
               "--posted-at", "2026-05-01", "--data-dir", str(data_dir), "--no-index", "-q"]
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    done = 0
    while time.time() < deadline and process.poll() is None:
        if (data_dir / "catalog.sqlite").exists():
            with Catalog(data_dir) as catalog:
                done = catalog.counts()["videos_done"]
            if done >= 2:
                break
        time.sleep(0.05)
    assert process.poll() is None, "ingest finished before it could be killed; make the clips longer"
    os.kill(process.pid, signal.SIGKILL)
    process.wait()

    with Catalog(data_dir) as catalog:
        assert catalog.integrity_problems() == []
        counts = catalog.counts()
        assert 2 <= counts["videos_done"] < 6
    assert subprocess.run(command, cwd=ROOT).returncode == 0
    with Catalog(data_dir) as catalog:
        counts = catalog.counts()
        assert counts["videos_done"] == 6 and counts["videos_processing"] == 0
        assert catalog.integrity_problems() == []
        per_video = catalog._conn.execute(
            "SELECT source_path, COUNT(*) FROM videos GROUP BY content_hash HAVING COUNT(*) > 1").fetchall()
        assert per_video == []
        garments = catalog.garments()
        assert len({(g.video_id, g.frame_id, g.kind) for g in garments}) == len(garments)
        assert all((data_dir / g.crop_path).is_file() for g in garments)
        crop_dirs = {p.name for p in (data_dir / "crops").iterdir()}
        assert crop_dirs == {str(v.id) for v in catalog.videos()}
