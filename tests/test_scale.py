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


@pytest.fixture(scope="session")
def ray_cluster():
    """One local Ray node for every Ray test: 2 CPUs, loopback, no dashboard, no usage stats,
    no memory monitor (the machine is shared; its other users are not Ray's to kill for)."""
    ray = pytest.importorskip("ray", reason="the scale extra is not installed (pip install 'stylescope[scale]')")
    os.environ["RAY_USAGE_STATS_ENABLED"] = "0"
    os.environ["RAY_memory_monitor_refresh_ms"] = "0"  # noqa: SIM112 - Ray spells it so
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, _node_ip_address="127.0.0.1")
    yield ray
    ray.shutdown()


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


@pytest.mark.slow
def test_ray_ingest_matches_local_and_resumes(tmp_path, ray_cluster):
    from inference.catalog import Catalog
    from inference.embed import IndexSink
    from inference.index.live import load_embeddings
    from inference.ingest import IngestConfig, ingest
    from inference.scale.ray_ingest import ScaleConfig, ray_ingest
    from inference.scale.tables import complete_rows, encoder_table
    from tests.index_helpers import index_config

    submissions = _small_world(tmp_path / "clips")
    config = IngestConfig.load()
    local = tmp_path / "local"
    local_report = ingest(submissions, local, config, sink=IndexSink(local, "tiny:32", index_config()), progress=False)
    local_frames = {o.video: o.frames for o in local_report.outcomes}
    out = tmp_path / "tables"
    report = ray_ingest(submissions, out, config, "tiny:32", ScaleConfig(actor_cpus=0.5))
    statuses = {Path(o["source"]).name: (o["status"], o["reason"]) for o in report.outcomes}
    assert statuses["good1.mp4"][0] == statuses["good2.mp4"][0] == "ingested"
    assert statuses["corrupt.mp4"][0] == "failed" and statuses["corrupt.mp4"][1]

    videos = complete_rows(out, "videos", "video_id").to_pandas()
    frames = complete_rows(out, "frames", ("video_id", "frame_index")).to_pandas()
    garments = complete_rows(out, "garments", "garment_id").to_pandas()
    embeddings = complete_rows(out, encoder_table("tiny:32"), "garment_id").to_pandas()
    assert set(videos["month"]) == {"2026-04", "2026-05"}
    bad = videos[videos["source_path"].str.endswith("corrupt.mp4")]
    assert list(bad["status"]) == ["failed"] and bad["reason"].iloc[0]

    with Catalog(local) as catalog:
        local_videos = {Path(v.source_path).name: v for v in catalog.videos()}
        assert local_videos["corrupt.mp4"].error.split(":")[0] in bad["reason"].iloc[0]
        for name in ("good1.mp4", "good2.mp4"):
            mine = videos[videos["source_path"].str.endswith(name)].iloc[0]
            theirs = local_videos[name]
            assert mine["duration_s"] == pytest.approx(theirs.duration_s)
            ray_frames = frames[frames["video_id"] == mine["video_id"]].sort_values("frame_index")
            assert len(ray_frames) == local_frames[name]
            local_garments = sorted(catalog.garments(video_id=theirs.id), key=lambda g: g.id)
            ray_garments = garments[garments["video_id"] == mine["video_id"]].sort_values("ordinal")
            assert local_garments and [(g.kind, g.box.as_tuple(), round(g.t_s, 4)) for g in local_garments] == [
                (g.kind, (g.x0, g.y0, g.x1, g.y1), round(ray_frames["t_s"].iloc[g.frame_index], 4))
                for g in ray_garments.itertuples()]
        ids, vectors, _ = load_embeddings(local)
        local_vector = dict(zip(ids.tolist(), vectors, strict=True))
        ray_vector = dict(zip(embeddings["garment_id"], embeddings["vector"], strict=True))
        for name in ("good1.mp4", "good2.mp4"):
            mine = videos[videos["source_path"].str.endswith(name)].iloc[0]
            local_garments = sorted(catalog.garments(video_id=local_videos[name].id), key=lambda g: g.id)
            ray_ids = garments[garments["video_id"] == mine["video_id"]].sort_values("ordinal")["garment_id"]
            for local_garment, ray_id in zip(local_garments, ray_ids, strict=True):
                np.testing.assert_allclose(ray_vector[ray_id], local_vector[local_garment.id], atol=2e-3)

    again = ray_ingest(submissions, out, config, "tiny:32", ScaleConfig(actor_cpus=0.5))
    assert {o["status"] for o in again.outcomes if not o["source"].startswith("corrupt")} == {"skipped"}
    assert again.garments == 0
    assert len(complete_rows(out, "garments", "garment_id")) == len(garments)
