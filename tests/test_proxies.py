"""Browser proxies: each ingested video keeps a small upright H.264 copy, and the app's moment
links play it (a video ingested from outside the data directory included)."""

from __future__ import annotations

import datetime as dt
import logging
from pathlib import Path

import av
import numpy as np
import pytest

from app.services import Services
from app.views import MomentLinks, moment_url, results_html
from inference import proxies
from inference.catalog import Catalog
from inference.ingest import IngestConfig, ingest
from inference.proxies import ProxyError, proxy_path, write_proxy
from inference.search.results import SearchHit
from inference.types import VideoSubmission
from world.clips import marker_frames, remux, walking_clip, write_video


def _probe(path: Path) -> tuple[int, int, float, str, str, np.ndarray]:
    """(width, height, duration, codec, pixel format, first frame as RGB) of a video."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        first = next(container.decode(video=0))
        duration = container.duration / 1e6
        return (stream.width, stream.height, duration, stream.codec_context.name, first.format.name,
                first.to_ndarray(format="rgb24"))


def _ingest(source: Path, data_dir: Path, short_side: int = 360):
    submission = VideoSubmission(source, "ann", 20_000, dt.date(2026, 5, 1), source.name)
    config = IngestConfig(proxy_short_side=short_side)
    report = ingest([submission], data_dir, config, progress=False)
    return report.outcomes[0]


@pytest.fixture(scope="module")
def outside(tmp_path_factory) -> Path:
    """A 3 s portrait clip (480x720) in a folder outside any data directory."""
    folder = tmp_path_factory.mktemp("outside")
    return write_video(folder / "fit check.mp4", walking_clip(n=45, w=480, h=720), fps=15)


def test_ingest_keeps_a_small_h264_proxy(outside, data_dir):
    outcome = _ingest(outside, data_dir)
    assert outcome.status == "ingested", outcome.reason
    proxy = proxy_path(data_dir, outcome.video_id)
    assert proxy == data_dir / "proxies" / f"{outcome.video_id}.mp4" and proxy.is_file()
    width, height, duration, codec, pix_fmt, _ = _probe(proxy)
    assert (codec, pix_fmt) == ("h264", "yuv420p")
    assert width == 360 and abs(height - 540) <= 2  # short side 360, aspect 2:3 kept
    assert abs(duration - 3.0) < 0.2
    assert "proxy" in outcome.seconds
    assert not list(proxy.parent.glob(".*"))  # no temporary file left beside it
    with open(proxy, "rb") as handle:  # +faststart: the index comes before the media data
        head = handle.read(4096)
    assert 0 <= head.find(b"moov") < max(head.find(b"mdat"), 4096)


@pytest.mark.parametrize(("name", "codec"), [("small.mp4", "libx264"), ("small.webm", "libvpx-vp9")])
def test_a_small_video_is_never_upscaled_and_30_fps_is_halved(tmp_path, name, codec):
    source = write_video(tmp_path / name, walking_clip(n=30, w=216, h=384), fps=30, codec=codec)
    write_proxy(source, tmp_path / "proxy.mp4", 360)
    width, height, duration, codec_name, *_ = _probe(tmp_path / "proxy.mp4")
    assert (width, height, codec_name) == (216, 384, "h264") and abs(duration - 1.0) < 0.2
    with av.open(str(tmp_path / "proxy.mp4")) as container:
        assert 14 <= sum(1 for _ in container.decode(video=0)) <= 17  # 15 frames per second, not 30


@pytest.mark.parametrize("rotation", [90, 270])
def test_the_proxy_of_a_rotated_video_is_upright(tmp_path, rotation):
    upright = marker_frames(w=96, h=160)
    stored = [np.ascontiguousarray(np.rot90(f, (-rotation // 90) % 4)) for f in upright]
    plain = write_video(tmp_path / "plain.mp4", stored)
    rotated = remux(plain, tmp_path / "rotated.mp4", before_input=["-display_rotation", str(rotation)])
    write_proxy(rotated, tmp_path / "proxy.mp4", 80)
    width, height, *_, first = _probe(tmp_path / "proxy.mp4")
    assert width == 80 and abs(height - 133) <= 1  # upright 96x160 brought down to a short side of 80
    corner = first[: height // 5, : width // 4].mean(axis=(0, 1))
    other = first[-height // 5:, -width // 4:].mean(axis=(0, 1))
    assert corner[0] > 150 and corner[1] < 90 and other.min() > 200  # the red block is top left


def test_proxy_off_writes_none(outside, data_dir):
    outcome = _ingest(outside, data_dir, short_side=0)
    assert outcome.status == "ingested" and "proxy" not in outcome.seconds
    assert not (data_dir / "proxies").exists()


def test_a_proxy_failure_leaves_the_video_ingested(outside, data_dir, monkeypatch, caplog):
    monkeypatch.setattr(proxies, "PRESET", "no-such-preset")  # ffmpeg itself refuses: a real failure
    with caplog.at_level(logging.WARNING, logger="inference.ingest"):
        outcome = _ingest(outside, data_dir)
    assert outcome.status == "ingested" and outcome.garments > 0
    assert "no browser proxy (ffmpeg failed" in outcome.reason
    assert any("no browser proxy" in r.getMessage() for r in caplog.records)
    assert not (data_dir / "proxies").exists() or not list((data_dir / "proxies").iterdir())
    with Catalog(data_dir) as catalog:
        assert catalog.video(outcome.video_id).status == "done"


def test_write_proxy_names_what_went_wrong(tmp_path):
    (tmp_path / "notes.mp4").write_text("not a video\n")
    with pytest.raises(ProxyError, match="ffmpeg failed"):
        write_proxy(tmp_path / "notes.mp4", tmp_path / "proxy.mp4", 360)
    assert not (tmp_path / "proxy.mp4").exists() and not list(tmp_path.glob(".*"))


def _hit(video_id: int, source_path: str) -> SearchHit:
    return SearchHit(garment_id=1, score=0.9, video_id=video_id, source_path=source_path, t_s=1.5,
                     kind="top", crop_path="crops/1/000_top.jpg", creator="ann", followers=20_000,
                     tier="micro", posted_at="2026-05-01", style_id=None, style=None)


def test_moment_links_of_a_cli_ingested_video_play_its_proxy(outside, data_dir):
    outcome = _ingest(outside, data_dir)
    services = Services.open(data_dir)
    try:
        links = services.moment_links()
        proxy = proxy_path(services.data_dir, outcome.video_id).resolve()
        assert any(proxy.is_relative_to(Path(root).resolve()) for root in services.allowed_paths())
        assert not any(outside.resolve().is_relative_to(Path(root).resolve()) for root in services.allowed_paths())
        url = moment_url(links, outcome.video_id, str(outside), 1.5)
        assert url is not None and url.endswith(f"{outcome.video_id}.mp4#t=1.5") and "/proxies/" in url
        assert 'href="/gradio_api/file=' in results_html([_hit(outcome.video_id, str(outside))], links)
        proxy.unlink()  # an older video without a proxy: today's behaviour, the moment as text
        assert moment_url(links, outcome.video_id, str(outside), 1.5) is None
        assert "▶" not in results_html([_hit(outcome.video_id, str(outside))], links)
    finally:
        services.close()


def test_a_moment_without_a_proxy_links_an_original_the_app_serves(tmp_path):
    served = tmp_path / "uploads"
    served.mkdir()
    video = served / "a.mp4"
    video.write_bytes(b"x")
    links = MomentLinks((str(served),), tmp_path)
    assert moment_url(links, 7, str(video), 2.0) == f"/gradio_api/file={video.resolve()}#t=2.0"


def test_a_video_that_fails_leaves_no_proxy_behind(tmp_path, data_dir):
    (tmp_path / "notes.mp4").write_text("a text file named like a video\n")
    outcome = _ingest(tmp_path / "notes.mp4", data_dir)
    assert outcome.status == "failed"
    assert not list((data_dir / "proxies").iterdir())  # neither a proxy nor the encode's temporary file


def _proxy_findings(report) -> list:
    return [f for f in report.findings if f.area == "proxies"]


def _check(data_dir: Path, **options):
    """`stylescope check` of a data directory ingested without an index (a repair builds one)."""
    from inference.check import check
    from inference.embed import CropEmbedder
    from models.registry import create_encoder
    from tests.index_helpers import index_config

    return check(data_dir, embedder=lambda: CropEmbedder(create_encoder("tiny:32")), config=index_config(), **options)


def test_check_notices_a_missing_proxy_and_repair_makes_it(outside, data_dir):
    outcome = _ingest(outside, data_dir)
    proxy = proxy_path(data_dir, outcome.video_id)
    assert not _proxy_findings(_check(data_dir))
    proxy.unlink()  # as in a data directory from before proxies
    report = _check(data_dir)
    assert len(_proxy_findings(report)) == 1 and report.counts["proxies_missing"] == 1
    assert not _proxy_findings(_check(data_dir, proxy_short_side=0))  # proxies off: none expected
    repaired = _proxy_findings(_check(data_dir, repair=True))
    assert [f.repaired for f in repaired] == ["made 1 proxies"]
    assert _probe(proxy)[:2] == (360, 540) and not _proxy_findings(_check(data_dir))


def test_repair_makes_no_proxy_from_a_different_file_at_the_source_path(outside, tmp_path, data_dir):
    source = write_video(tmp_path / "moved.mp4", walking_clip(n=15, seed=3))
    outcome = _ingest(source, data_dir, short_side=0)
    source.write_bytes(outside.read_bytes())  # another video now lives at that path
    findings = _proxy_findings(_check(data_dir, repair=True))
    assert "no longer the file that was ingested" in findings[-1].problem and findings[-1].open
    assert not proxy_path(data_dir, outcome.video_id).exists()


def test_a_missing_proxy_whose_source_is_gone_is_only_counted(tmp_path, data_dir):
    source = write_video(tmp_path / "gone.mp4", walking_clip(n=15, seed=3))
    outcome = _ingest(source, data_dir, short_side=0)
    source.unlink()
    report = _check(data_dir, repair=True)
    assert not _proxy_findings(report) and report.counts["proxies_without_source"] == 1
    assert not proxy_path(data_dir, outcome.video_id).exists()


def test_ingesting_a_video_again_makes_its_missing_proxy(outside, tmp_path, data_dir):
    first = _ingest(outside, data_dir, short_side=0)  # as in a data directory from before proxies
    again = _ingest(outside, data_dir)
    assert again.status == "skipped" and again.video_id == first.video_id and "proxy" in again.seconds
    assert _probe(proxy_path(data_dir, first.video_id))[:2] == (360, 540)
    copy = tmp_path / "copy.mp4"  # the same bytes under another name make it too
    copy.write_bytes(outside.read_bytes())
    proxy_path(data_dir, first.video_id).unlink()
    assert _ingest(copy, data_dir).status == "duplicate" and proxy_path(data_dir, first.video_id).is_file()
    assert "proxy" not in _ingest(outside, data_dir).seconds  # one in place: nothing to do
