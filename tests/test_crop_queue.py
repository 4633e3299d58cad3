"""The crop queue: batches across videos, videos back whole and in order, memory bounded,
and an ingest through it that stores what per-video embedding stored."""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from core.errors import StylescopeError
from inference.catalog import Catalog
from inference.crop_queue import CropQueue
from inference.embed import IndexSink
from inference.index import load_embeddings
from inference.ingest import IngestConfig, ingest
from inference.types import VideoSubmission
from models.base import EncoderError
from models.registry import create_encoder
from tests.index_helpers import index_config
from world.clips import walking_clip, write_video

ENCODER = "tiny:32"


def _crops(sizes: Sequence[int]) -> list[list[np.ndarray]]:
    """Videos of tiny crops whose pixels count up, so a vector says which crop it came from."""
    counter, videos = 0, []
    for size in sizes:
        videos.append([np.full((2, 2, 3), counter + i, np.uint8) for i in range(size)])
        counter += size
    return videos


class _Recorder:
    """A fake encoder: a crop's vector is its pixel value; records every batch it runs."""

    def __init__(self, fail_batch: int | None = None, gate: threading.Event | None = None):
        self.batches: list[int] = []
        self.fail_batch, self.gate = fail_batch, gate

    def prepare(self, crops: Sequence[np.ndarray]) -> np.ndarray:
        return np.stack([c[0, 0, :1].astype(np.float32) for c in crops])

    def forward(self, batch: np.ndarray) -> np.ndarray:
        if self.gate is not None:
            self.gate.wait()
        self.batches.append(len(batch))
        if len(self.batches) - 1 == self.fail_batch:
            raise EncoderError("the encoder gave up on this batch")
        return batch * 1.0


def _run(sizes: Sequence[int], batch_size: int, recorder: _Recorder) -> list[Any]:
    with CropQueue(recorder.prepare, recorder.forward, batch_size, 2 * batch_size) as queue:
        done = []
        for n, crops in enumerate(_crops(sizes)):
            queue.put(n, crops)
            done += queue.ready()
        return done + list(queue.drain())


def test_batches_span_videos_and_videos_come_back_whole_in_order():
    sizes = [5, 7, 0, 3, 9, 4]
    recorder = _Recorder()
    done = _run(sizes, 8, recorder)
    assert recorder.batches == [8, 8, 8, 4], "full batches across video boundaries, the rest at the end"
    assert [d.key for d in done] == list(range(len(sizes)))
    start = 0
    for video, size in zip(done, sizes, strict=True):
        assert video.error is None and len(video.vectors) == size
        assert video.vectors.ravel().tolist() == list(range(start, start + size)), "each crop its own vector"
        start += size


def test_a_failed_batch_fails_only_the_videos_with_crops_in_it():
    recorder = _Recorder(fail_batch=1)  # the second batch: crops 4-7, of videos 1 and 2
    done = _run([3, 3, 3, 3], 4, recorder)
    assert [d.error is not None for d in done] == [False, True, True, False]
    assert isinstance(done[1].error, StylescopeError) and len(done[3].vectors) == 3


def test_put_waits_while_the_encoder_is_behind():
    gate = threading.Event()
    recorder = _Recorder(gate=gate)
    with CropQueue(recorder.prepare, recorder.forward, 4, 8) as queue:
        for n, crops in enumerate(_crops([4, 4, 4])):  # one batch in the encoder, 8 crops waiting
            queue.put(n, crops)
        blocked = threading.Thread(target=queue.put, args=(3, _crops([4])[0]))
        blocked.start()
        time.sleep(0.3)
        assert blocked.is_alive(), "a put beyond max_waiting crops waits for the encoder"
        gate.set()
        blocked.join(5)
        assert not blocked.is_alive()
        assert [d.key for d in queue.drain()] == [0, 1, 2, 3]


def test_a_bug_in_the_encoder_is_raised_on_the_callers_thread():
    def broken(batch: Any) -> np.ndarray:
        raise ZeroDivisionError("a bug")

    with CropQueue(list, broken, 2, 4) as queue:
        queue.put("a", _crops([3])[0])
        with pytest.raises(RuntimeError, match="encoder thread failed"):
            list(queue.drain())


# -- through ingest ------------------------------------------------------------------------------
class _RecordingSink(IndexSink):
    """The real sink with small batches, recording each video's crops and each batch."""

    def __init__(self, data_dir: Path, batch_size: int, fail_batch: int | None = None):
        super().__init__(data_dir, create_encoder(ENCODER), index_config(embed_batch_size=batch_size))
        self.videos: list[int] = []  # crops per prepare call (one per video with garments)
        self.batches: list[int] = []
        self.fail_batch = fail_batch

    def prepare(self, crops: Sequence[np.ndarray]) -> Any:
        self.videos.append(len(crops))
        return super().prepare(crops)

    def forward(self, batch: Any) -> np.ndarray:
        self.batches.append(len(batch))
        if len(self.batches) - 1 == self.fail_batch:
            raise EncoderError("the encoder gave up on this batch")
        return super().forward(batch)


class _PerVideoSink:
    """How ingest embedded before the crop queue: each video's crops as one call."""

    def __init__(self, data_dir: Path):
        self.sink = IndexSink(data_dir, create_encoder(ENCODER), index_config())

    def add_garments(self, garment_ids: list[int], crops: list[np.ndarray]) -> None:
        self.sink.add_garments(garment_ids, crops)

    def catch_up(self, catalog: Catalog) -> Any:
        return self.sink.catch_up(catalog)


@pytest.fixture(scope="module")
def clips(tmp_path_factory) -> list[Path]:
    """Four short clips with a junk file in the middle."""
    folder = tmp_path_factory.mktemp("clips")
    paths = [write_video(folder / f"v{i}.mp4", walking_clip(n=15, seed=i), extra=["-preset", "ultrafast"])
             for i in range(4)]
    junk = folder / "junk.mp4"
    junk.write_bytes(b"not a video at all" * 100)
    return [*paths[:2], junk, *paths[2:]]


def _ingest(clips: list[Path], data_dir: Path, sink: Any) -> Any:
    submissions = [VideoSubmission(p, "ann", 20_000, dt.date(2026, 5, 1), p.name) for p in clips]
    config = IngestConfig.load()
    config.proxy_short_side = 0
    return ingest(submissions, data_dir, config, sink=sink, progress=False)


def _stored(data_dir: Path) -> tuple[list[tuple[Any, ...]], np.ndarray]:
    """(garment id, video file, frame, kind) of each garment, and their vectors in that order."""
    with Catalog(data_dir) as catalog:
        sources = {v.id: Path(v.source_path).name for v in catalog.videos()}
        garments = [(g.id, sources[g.video_id], g.frame_id, g.kind) for g in catalog.garments()]
    ids, vectors, _ = load_embeddings(data_dir)
    order = {int(i): n for n, i in enumerate(ids)}
    return garments, vectors[[order[g[0]] for g in garments]]


@pytest.mark.slow
def test_ingest_batches_across_videos_and_stores_what_per_video_batching_stored(clips, tmp_path):
    queued = _RecordingSink(tmp_path / "queued", batch_size=4)
    report = _ingest(clips, tmp_path / "queued", queued)
    assert [o.status for o in report.outcomes] == ["ingested", "ingested", "failed", "ingested", "ingested"]
    assert report.outcomes[2].reason and report.outcomes[2].video == "junk.mp4"

    assert sum(queued.batches) == sum(queued.videos) == sum(o.garments for o in report.outcomes)
    assert all(size == 4 for size in queued.batches[:-1]) and 0 < queued.batches[-1] <= 4
    boundaries = set(np.cumsum(queued.videos)[:-1].tolist())
    cuts = set(np.cumsum(queued.batches).tolist())
    assert boundaries - cuts, "some batch holds crops of two videos"

    with Catalog(tmp_path / "queued") as catalog:
        events = [(e.source, e.outcome) for e in catalog.ingest_events()]
    assert events == [(p.name, o.status) for p, o in zip(clips, report.outcomes, strict=True)], "events in order"

    _ingest(clips, tmp_path / "per_video", _PerVideoSink(tmp_path / "per_video"))
    garments, vectors = _stored(tmp_path / "queued")
    before, before_vectors = _stored(tmp_path / "per_video")
    assert garments == before, "same garments under the same ids"
    np.testing.assert_allclose(vectors, before_vectors, atol=1e-5)


@pytest.mark.slow
def test_a_failed_batch_leaves_whole_videos_for_the_next_run(clips, tmp_path):
    data_dir = tmp_path / "data"
    sink = _RecordingSink(data_dir, batch_size=4, fail_batch=1)
    report = _ingest(clips, data_dir, sink)
    statuses = [o.status for o in report.outcomes]
    assert "unindexed" in statuses and "ingested" in statuses and statuses[2] == "failed"
    assert all("not indexed" in o.reason for o in report.outcomes if o.status == "unindexed")
    with Catalog(data_dir) as catalog:
        by_video = {o.video_id: {g.id for g in catalog.garments(video_id=o.video_id)}
                    for o in report.outcomes if o.status in ("ingested", "unindexed")}
    indexed = set(load_embeddings(data_dir)[0].tolist())
    for outcome in report.outcomes:
        if outcome.video_id in by_video:
            garments = by_video[outcome.video_id]
            assert garments <= indexed if outcome.status == "ingested" else not garments & indexed, "no half video"

    again = _ingest(clips, data_dir, _RecordingSink(data_dir, batch_size=4))
    assert again.caught_up and [o.status for o in again.outcomes].count("skipped") == 4
    assert set(load_embeddings(data_dir)[0].tolist()) == set().union(*by_video.values())


@pytest.mark.slow
def test_a_batch_stopped_for_space_still_indexes_the_videos_on_the_queue(clips, tmp_path, monkeypatch):
    from inference import ingest as ingest_module

    calls = iter([1e6, 1e6])  # room for two videos, then none
    monkeypatch.setattr(ingest_module, "free_mb", lambda path: next(calls, 1.0))
    data_dir = tmp_path / "data"
    sink = _RecordingSink(data_dir, batch_size=64)  # both videos' crops wait for a batch that never fills
    report = _ingest(clips, data_dir, sink)
    assert [o.status for o in report.outcomes] == ["ingested", "ingested"] + ["not attempted"] * 3
    assert "MB free" in report.stopped and len(sink.batches) == 1
    with Catalog(data_dir) as catalog:
        assert set(catalog.done_garment_ids().tolist()) == set(load_embeddings(data_dir)[0].tolist())
