"""Benchmark: what the browser proxies cost at ingest, in time and disk.

Generates a small creator world (demo-like clips: 360x640 portrait, 15 fps, 3-6 s, x264), and
optionally the same world rendered at 720x1280 (where the proxy also scales down), then
ingests each world into fresh data directories with proxies on (``proxy_short_side`` 360)
and off (0), without the encoder (sampling + localisation + crops + catalog, + proxy).
On and off are interleaved and their order alternates round by round; the figures are the
median round. Disk: the proxies folder's size, and MB per minute of video.

Usage: python bench/bench_proxies.py [--videos 20] [--rounds 4] [--sizes 360x640,720x1280] [--fps 15] [--markdown]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def make_world(folder: Path, videos: int, width: int, height: int, fps: int) -> Path:
    """A demo-like world of ``videos`` clips; returns its manifest."""
    from world.config import RenderConfig, WorldConfig
    from world.generate import generate_world

    config = WorldConfig(seed=404, creators=12, videos=videos, query_videos=0, trending_styles=min(4, videos),
                         background_styles=2,
                         render=RenderConfig(width=width, height=height, fps=fps))
    generate_world(config, folder, progress=False)
    return folder / "manifest.csv"


def ingest_once(manifest: Path, short_side: int) -> dict[str, float]:
    """Ingest the world into a fresh data directory; wall time, proxy time and proxy disk."""
    from inference.ingest import IngestConfig, ingest
    from inference.manifest import read_manifest

    submissions = read_manifest(manifest).videos
    config = IngestConfig.load()
    config.proxy_short_side = short_side
    with tempfile.TemporaryDirectory() as data_dir:
        started = time.perf_counter()
        report = ingest(submissions, data_dir, config, progress=False)
        seconds = time.perf_counter() - started
        assert report.count("ingested") == len(submissions), [o.reason for o in report.outcomes if o.failed]
        proxies = Path(data_dir) / "proxies"
        disk = sum(p.stat().st_size for p in proxies.glob("*.mp4")) if proxies.is_dir() else 0
        return {"seconds": seconds, "proxy_s": report.stage_seconds().get("proxy", 0.0), "proxy_mb": disk / 1e6}


def video_minutes(manifest: Path) -> tuple[float, float]:
    """Total minutes of video in a world, and its originals' size in MB."""
    import av

    from inference.manifest import read_manifest

    minutes = size = 0.0
    for submission in read_manifest(manifest).videos:
        with av.open(str(submission.path)) as container:
            stream = container.streams.video[0]
            minutes += float(stream.duration * stream.time_base) / 60
        size += submission.path.stat().st_size / 1e6
    return minutes, size


def bench_size(folder: Path, videos: int, width: int, height: int, fps: int, rounds: int) -> dict[str, float]:
    manifest = make_world(folder, videos, width, height, fps)
    ingest_once(manifest, 0)  # warm-up: imports, the localiser, the page cache
    runs: dict[int, list[dict[str, float]]] = {360: [], 0: []}
    for round_ in range(rounds):
        for short_side in ((360, 0) if round_ % 2 == 0 else (0, 360)):
            runs[short_side].append(ingest_once(manifest, short_side))
    minutes, original_mb = video_minutes(manifest)
    on = statistics.median(r["seconds"] for r in runs[360])
    off = statistics.median(r["seconds"] for r in runs[0])
    proxy_mb = runs[360][-1]["proxy_mb"]
    return {"off_s": off, "on_s": on, "ratio": on / off, "proxy_stage_s": statistics.median(r["proxy_s"] for r in runs[360]),
            "minutes": minutes, "original_mb": original_mb, "proxy_mb": proxy_mb, "mb_per_min": proxy_mb / minutes}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--videos", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--sizes", default="360x640,720x1280", help="frame sizes of the worlds, WxH, comma-separated")
    parser.add_argument("--fps", type=int, default=15, help="frame rate of the clips (the demo's is 15)")
    parser.add_argument("--markdown", action="store_true")
    args = parser.parse_args()
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for size in args.sizes.split(","):
            width, height = (int(v) for v in size.split("x"))
            results[size] = bench_size(Path(tmp) / size, args.videos, width, height, args.fps, args.rounds)
    print(f"machine: {platform.machine()} {platform.processor() or ''}, {os.cpu_count()} CPUs, "
          f"python {platform.python_version()}; {args.videos} videos per world at {args.fps} fps, median of {args.rounds} "
          "rounds, on/off interleaved, order alternating")
    if args.markdown:
        print("| clips | video min | ingest, no proxy (s) | ingest, proxy (s) | ratio | proxy stage (s) "
              "| originals MB | proxies MB | proxy MB / min |")
        print("|---|---|---|---|---|---|---|---|---|")
    for size, r in results.items():
        if args.markdown:
            print(f"| {size} | {r['minutes']:.2f} | {r['off_s']:.2f} | {r['on_s']:.2f} | {r['ratio']:.2f}x "
                  f"| {r['proxy_stage_s']:.2f} | {r['original_mb']:.2f} | {r['proxy_mb']:.2f} | {r['mb_per_min']:.2f} |")
        else:
            print(f"{size:>9s}: {r['minutes']:.2f} min of video; ingest {r['off_s']:.2f} s without proxies, "
                  f"{r['on_s']:.2f} s with ({r['ratio']:.2f}x; proxy stage {r['proxy_stage_s']:.2f} s); "
                  f"originals {r['original_mb']:.2f} MB, proxies {r['proxy_mb']:.2f} MB "
                  f"({r['mb_per_min']:.2f} MB per minute)")


if __name__ == "__main__":
    main()
