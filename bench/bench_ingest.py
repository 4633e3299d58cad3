"""Benchmark: frame sampling and ingestion of a 30 s 720x1280 H.264 clip.

In one run, each in its own subprocess (so peak memory is its own):
  - bare decode of every frame with cv2 grab() (the decode limit),
  - bare decode of every frame with PyAV (no conversion),
  - stylescope's sampler (PyAV reader with and without the deblocking filter, OpenCV reader,
    and key frames only),
  - PySceneDetect's content detector (the peer),
  - stylescope ingest of the clip without the encoder (sampling + localisation + crops + catalog).
Prints times, ratios and peak RSS; ``--markdown`` prints a table for docs/BENCHMARKS.md.

Usage: python bench/bench_ingest.py [--seconds 30] [--repeat 3] [--markdown]
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def make_clip(path: Path, seconds: float, fps: int = 30) -> None:
    """A walking figure in a room, 720x1280, H.264 (x264 'medium'), streamed to ffmpeg."""
    import numpy as np

    from world.clips import FFMPEG, background, draw_figure

    w, h = 720, 1280
    room = background(w, h, seed=3)
    command = [FFMPEG, "-hide_banner", "-loglevel", "error", "-y", "-f", "rawvideo", "-pix_fmt", "rgb24",
               "-s", f"{w}x{h}", "-r", str(fps), "-i", "-", "-c:v", "libx264", "-pix_fmt", "yuv420p", str(path)]
    encoder = subprocess.Popen(command, stdin=subprocess.PIPE)
    assert encoder.stdin is not None
    n = int(seconds * fps)
    rng = np.random.default_rng(0)
    for i in range(n):
        frame = room.copy()
        phase = i / n
        cx = int(w * (0.35 + 0.3 * np.sin(2 * np.pi * phase * 3)))
        draw_figure(frame, cx, int(h * 0.12), int(h * 0.78))
        frame = np.clip(frame.astype(np.int16) + rng.integers(-4, 5, frame.shape), 0, 255).astype(np.uint8)
        encoder.stdin.write(frame.tobytes())
    encoder.stdin.close()
    encoder.wait()


def task_grab(path: str) -> dict:
    import cv2

    capture = cv2.VideoCapture(path)
    frames = 0
    while capture.grab():
        frames += 1
    return {"frames": frames}


def task_pyav_decode(path: str) -> dict:
    import av

    with av.open(path) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        frames = sum(1 for _ in container.decode(stream))
    return {"frames": frames}


def task_sampler(path: str, reader: str, skip_loop_filter: bool = True, keyframes_only: bool = False) -> dict:
    from inference.video import SamplerConfig, sample_video

    config = SamplerConfig(reader=reader, skip_loop_filter=skip_loop_filter, keyframes_only=keyframes_only)
    result = sample_video(path, config)
    return {"kept": len(result.frames), "candidates": result.candidates, "segments": result.segments}


def task_scenedetect(path: str) -> dict:
    from scenedetect import ContentDetector, detect

    scenes = detect(path, ContentDetector())
    return {"scenes": len(scenes)}


def task_ingest(path: str) -> dict:
    import datetime as dt

    from inference.ingest import ingest
    from inference.types import VideoSubmission

    with tempfile.TemporaryDirectory() as data_dir:
        submission = VideoSubmission(Path(path), "bench", 20_000, dt.date(2026, 5, 1), "bench")
        report = ingest([submission], data_dir, progress=False)
        outcome = report.outcomes[0]
        return {"status": outcome.status, "frames": outcome.frames, "garments": outcome.garments,
                "stages": {k: round(v, 3) for k, v in outcome.seconds.items()}}


TASKS = {
    "grab": (task_grab, ()),
    "pyav_decode": (task_pyav_decode, ()),
    "sampler_pyav": (task_sampler, ("pyav",)),
    "sampler_pyav_deblock": (task_sampler, ("pyav", False)),
    "sampler_opencv": (task_sampler, ("opencv",)),
    "sampler_keyframes": (task_sampler, ("pyav", True, True)),
    "scenedetect": (task_scenedetect, ()),
    "ingest": (task_ingest, ()),
}


def run_child(name: str, path: str) -> None:
    function, extra = TASKS[name]
    # Imports are not what we measure.
    import av  # noqa: F401
    import cv2  # noqa: F401
    import scenedetect  # noqa: F401

    import inference.ingest
    import inference.video  # noqa: F401

    started = time.perf_counter()
    detail = function(path, *extra)
    seconds = time.perf_counter() - started
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"seconds": seconds, "peak_mb": peak_mb, "detail": detail}))


def measure(name: str, path: Path, repeat: int) -> dict:
    runs = []
    for _ in range(repeat):
        out = subprocess.run([sys.executable, __file__, "--child", name, str(path)], check=True,
                             capture_output=True, text=True, cwd=ROOT).stdout
        runs.append(json.loads(out.strip().splitlines()[-1]))
    return {"seconds": statistics.median(r["seconds"] for r in runs),
            "peak_mb": max(r["peak_mb"] for r in runs), "detail": runs[-1]["detail"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--markdown", action="store_true")
    parser.add_argument("--child", nargs=2, metavar=("TASK", "PATH"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        run_child(*args.child)
        return
    with tempfile.TemporaryDirectory() as tmp:
        clip = Path(tmp) / "clip.mp4"
        make_clip(clip, args.seconds)
        results = {name: measure(name, clip, args.repeat) for name in TASKS}
    grab = results["grab"]["seconds"]
    print(f"machine: {platform.machine()} {platform.processor() or ''}, {__import__('os').cpu_count()} CPUs, "
          f"python {platform.python_version()}; clip: {args.seconds:.0f} s 720x1280 30 fps H.264; median of {args.repeat}")
    rows = []
    for name, result in results.items():
        ratio = result["seconds"] / grab
        realtime = args.seconds / result["seconds"]
        rows.append((name, result["seconds"], ratio, realtime, result["peak_mb"], result["detail"]))
    if args.markdown:
        print("| step | seconds | vs cv2 grab | x real time | peak RSS MB | detail |")
        print("|---|---|---|---|---|---|")
        for name, seconds, ratio, realtime, peak, detail in rows:
            print(f"| {name} | {seconds:.2f} | {ratio:.2f}x | {realtime:.1f}x | {peak:.0f} | {json.dumps(detail)} |")
    else:
        for name, seconds, ratio, realtime, peak, detail in rows:
            print(f"{name:15s} {seconds:7.2f} s  {ratio:5.2f}x grab  {realtime:6.1f}x realtime  {peak:6.0f} MB  {detail}")
    sampler = results["sampler_pyav"]["seconds"]
    print(f"sampler / grab = {sampler / grab:.2f} (target <= 1.25); "
          f"scenedetect / sampler = {results['scenedetect']['seconds'] / sampler:.1f} (target >= 3); "
          f"ingest = {args.seconds / results['ingest']['seconds']:.1f}x real time (target >= 10)")


if __name__ == "__main__":
    main()
