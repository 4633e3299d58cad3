"""Generate a creator world on disk: videos, manifest, answer key.

Layout of the output folder::

    OUT/
      manifest.csv           path,creator,followers,posted_at  (what `stylescope ingest` reads)
      queries.csv            held-out query videos (same columns; not to be ingested)
      videos/v00042.mp4      the season's videos (H.264, yuv420p, portrait)
      queries/q00003.mp4     held-out videos for search queries
      answers/world.json     config, creators, styles (originator, start, daily counts), videos
      answers/boxes.parquet  per video, frame and kind (top, bottom, full): the true box
      answers/daily.parquet  per style and day: videos and distinct creators
      world.yaml             the config that made it
      INCOMPLETE             present until generation finished (says why it stopped)
"""

from __future__ import annotations

import contextlib
import dataclasses
import errno
import logging
import multiprocessing
import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

import configs
from world.config import RenderConfig, WorldConfig, WorldError
from world.scene import FrameTruth, VideoSpec, render_video, video_spec_seed
from world.society import Post, WorldPlan, plan_world

logger = logging.getLogger(__name__)

INCOMPLETE = "INCOMPLETE"
ANSWERS = "answers"
KINDS = ("top", "bottom", "full")
# Bytes per pixel-frame of the encoded videos, generously (for the free-space check).
BYTES_PER_PIXEL_FRAME = 0.06


class DiskFullError(WorldError):
    """The disk filled up while writing the world."""


@dataclasses.dataclass
class WorldSummary:
    """What :func:`generate_world` made."""

    out_dir: str  # the output folder
    videos: int  # season videos (in manifest.csv)
    query_videos: int  # held-out videos (in queries.csv)
    frames: int  # frames rendered, all videos
    megabytes: float  # size of the videos on disk
    seconds: float  # wall time
    styles: int  # styles in the world
    rising_styles: int  # trending styles that truly rose
    seed: int  # the world's seed
    preset: str  # preset name


def _is_world_folder(folder: Path) -> bool:
    return (folder / INCOMPLETE).exists() or (folder / ANSWERS / "world.json").exists()


def prepare_output(out_dir: Path, overwrite: bool) -> None:
    """Make ``out_dir`` ready: refuse a non-empty folder unless ``overwrite``.

    Overwriting only ever clears a folder that holds a (possibly partial) creator world,
    so a mistyped ``--out`` cannot wipe unrelated files.
    """
    if out_dir.exists() and not out_dir.is_dir():
        raise WorldError(f"{out_dir} exists and is not a folder")
    if out_dir.is_dir() and any(out_dir.iterdir()):
        if not overwrite:
            raise WorldError(f"output folder {out_dir} exists and is not empty; pass --overwrite to replace it")
        if not _is_world_folder(out_dir):
            raise WorldError(
                f"output folder {out_dir} is not empty and does not hold a creator world "
                "(no answers/world.json or INCOMPLETE); refusing to clear it, choose another --out"
            )
        for child in out_dir.iterdir():
            shutil.rmtree(child) if child.is_dir() and not child.is_symlink() else child.unlink()
    out_dir.mkdir(parents=True, exist_ok=True)


def _check_free_space(out_dir: Path, config: WorldConfig) -> None:
    render = config.render
    seconds = (render.min_seconds + render.max_seconds) / 2
    frames = (config.videos + config.query_videos) * seconds * render.fps
    needed = frames * render.width * render.height * BYTES_PER_PIXEL_FRAME
    free = shutil.disk_usage(out_dir).free
    if free < needed:
        raise DiskFullError(
            f"not enough free space in {out_dir}: about {needed / 1e6:.0f} MB needed, "
            f"{free / 1e6:.0f} MB free; free some space or choose a smaller world"
        )


def _video_spec(plan: WorldPlan, post: Post) -> VideoSpec:
    creator = plan.creators[post.creator]
    return VideoSpec(
        name=post.file_stem,
        style=plan.styles[post.style],
        look_seed=creator.look,
        seed=video_spec_seed(plan.config.seed, post.index),
        texture_seed=plan.config.seed * 10_000 + post.style,
        handle=creator.handle,
        day=post.day,
    )


_FMNIST_CACHE: dict[str, Any] = {}


def _fashion_mnist(render: RenderConfig) -> Any:
    if not render.fashion_mnist:
        return None
    if render.fashion_mnist_dir not in _FMNIST_CACHE:
        from world.fmnist import FashionMnist

        _FMNIST_CACHE[render.fashion_mnist_dir] = FashionMnist(render.fashion_mnist_dir)
    return _FMNIST_CACHE[render.fashion_mnist_dir]


def write_mp4(path: Path, frames: Iterator[np.ndarray], render: RenderConfig) -> int:
    """Encode RGB frames as H.264 mp4 at ``path`` (atomically); returns the frame count.

    Single-threaded x264 with bit-exact muxing, so the same frames give the same bytes.
    """
    import imageio_ffmpeg

    tmp = path.with_name(f".{path.stem}.tmp.mp4")
    writer = imageio_ffmpeg.write_frames(
        str(tmp),
        (render.width, render.height),
        fps=render.fps,
        codec="libx264",
        quality=None,
        macro_block_size=1,
        pix_fmt_in="rgb24",
        pix_fmt_out="yuv420p",
        ffmpeg_log_level="error",
        output_params=[
            "-preset", "veryfast", "-crf", str(render.crf), "-threads", "1", "-g", str(2 * render.fps),
            "-fflags", "+bitexact", "-flags:v", "+bitexact", "-map_metadata", "-1",
            "-movflags", "+faststart",
        ],
    )
    count = 0
    try:
        writer.send(None)
        for frame in frames:
            writer.send(np.ascontiguousarray(frame))
            count += 1
        writer.close()
        if not tmp.is_file() or tmp.stat().st_size == 0:
            raise OSError(errno.EIO, "ffmpeg wrote no video", str(path))
        os.replace(tmp, path)
    except BaseException as exc:
        writer.close()
        if tmp.exists():
            tmp.unlink()
        if isinstance(exc, OSError) and _nearly_full(path.parent):
            # ffmpeg's own write failed; its pipe error does not say why
            raise OSError(errno.ENOSPC, "No space left on device", str(path)) from exc
        raise
    return count


def _nearly_full(folder: Path, margin: int = 4 << 20) -> bool:
    try:
        return shutil.disk_usage(folder).free < margin
    except OSError:
        return False


def _render_job(job: tuple[VideoSpec, RenderConfig, str]) -> tuple[str, int, list[tuple[Any, ...]], int]:
    """Render and write one video; returns (name, frames, truth rows, bytes)."""
    spec, render, path = job
    truths: list[FrameTruth] = []

    def frames() -> Iterator[np.ndarray]:
        for frame, truth in render_video(spec, render, _fashion_mnist(render)):
            truths.append(truth)
            yield frame

    count = write_mp4(Path(path), frames(), render)
    rows = []
    for truth in truths:
        for kind in KINDS:
            box = truth.boxes[kind]
            coords = box.as_tuple() if box else (None, None, None, None)
            rows.append((spec.name, truth.index, round(truth.t_s, 4), truth.shot, kind, *coords, truth.visible[kind]))
    return spec.name, count, rows, Path(path).stat().st_size


def _render_all(plan: WorldPlan, out_dir: Path, progress: bool) -> tuple[dict[str, int], list[tuple[Any, ...]], int]:
    render = plan.config.render
    jobs = []
    for post in plan.posts:
        folder = "queries" if post.held_out else "videos"
        (out_dir / folder).mkdir(exist_ok=True)
        spec = _video_spec(plan, post)
        jobs.append((spec, render, str(out_dir / folder / f"{spec.name}.mp4")))
    _fashion_mnist(render)  # fail early, before any worker starts
    workers = plan.config.workers or os.cpu_count() or 1
    frame_counts: dict[str, int] = {}
    rows: list[tuple[Any, ...]] = []
    total_bytes = 0
    bar = tqdm(total=len(jobs), desc="rendering videos", unit="video", disable=not progress)
    with _pool(min(workers, len(jobs))) as pool:
        for name, count, video_rows, size in pool(jobs):
            frame_counts[name] = count
            rows += video_rows
            total_bytes += size
            bar.update()
    bar.close()
    return frame_counts, rows, total_bytes


class _pool:
    """``imap`` over a process pool, or a plain loop for one worker."""

    def __init__(self, workers: int):
        self.workers = workers
        self._pool: Any = None

    def __enter__(self) -> Any:
        if self.workers <= 1:
            return lambda jobs: map(_render_job, jobs)
        self._pool = multiprocessing.get_context("fork").Pool(self.workers)
        return lambda jobs: self._pool.imap(_render_job, jobs)

    def __exit__(self, *exc: object) -> None:
        if self._pool is not None:
            self._pool.terminate() if exc[0] else self._pool.close()
            self._pool.join()


def generate_world(config: WorldConfig, out_dir: str | Path, overwrite: bool = False, progress: bool = True) -> WorldSummary:
    """Generate the world of ``config`` into ``out_dir``.

    Args:
        config: a validated config (see :func:`world.config.world_config`).
        out_dir: output folder; must be missing or empty unless ``overwrite``.
        overwrite: replace a previous (or partial) world in ``out_dir``.
        progress: show a progress bar.

    Raises:
        WorldError: bad settings, a non-empty output folder, or Fashion-MNIST missing.
        DiskFullError: the disk filled up; the partial output keeps its INCOMPLETE marker.
    """
    config.validate()
    out = Path(out_dir).expanduser()
    started = time.perf_counter()
    prepare_output(out, overwrite)
    marker = out / INCOMPLETE
    marker.write_text("generation started; not finished\n", encoding="utf-8")
    try:
        _check_free_space(out, config)
        plan = plan_world(config)
        frame_counts, rows, total_bytes = _render_all(plan, out, progress)
        from world.answers import write_answer_key

        rising = write_answer_key(plan, out, frame_counts, rows)
        configs.dump(config, out / "world.yaml")
    except OSError as exc:
        if exc.errno in (errno.ENOSPC, errno.EDQUOT) or "No space left" in str(exc):
            _mark(marker, f"stopped: disk full ({exc})")
            raise DiskFullError(
                f"the disk filled up while writing the world into {out}: {exc}. The partial "
                f"output is marked incomplete ({marker.name}); free some space and rerun with --overwrite"
            ) from None
        _mark(marker, f"stopped: {exc}")
        raise
    except BaseException as exc:
        _mark(marker, f"stopped: {type(exc).__name__}: {exc}")
        raise
    marker.unlink()
    seconds = time.perf_counter() - started
    summary = WorldSummary(
        out_dir=str(out),
        videos=sum(1 for p in plan.posts if not p.held_out),
        query_videos=sum(1 for p in plan.posts if p.held_out),
        frames=sum(frame_counts.values()),
        megabytes=round(total_bytes / 1e6, 2),
        seconds=round(seconds, 2),
        styles=len(plan.styles),
        rising_styles=rising,
        seed=config.seed,
        preset=config.preset,
    )
    logger.info("creator world written to %s: %d videos, %d frames in %.1f s", out, summary.videos, summary.frames, seconds)
    return summary


def _mark(marker: Path, reason: str) -> None:
    # the disk may be full; the marker written at the start is still there then
    with contextlib.suppress(OSError):
        marker.write_text(reason + "\n", encoding="utf-8")
