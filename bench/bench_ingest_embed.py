"""Benchmark: the embedding part of ingest and of `index rebuild` against the raw forward pass.

Three comparisons, each interleaved with its order rotated round by round (so background
load and warm caches hit every contender alike); medians and ranges over the rounds:

- **embed**: the crops ingest cuts from the world's videos (decoded once, kept in memory),
  through (a) the raw forward pass (``encode_preprocessed`` on batches of
  ``index.embed_batch_size`` preprocessed before the clock starts), (b) per-video embedding
  (``embed_crops`` on each video's crops: how ingest embedded before the crop queue) and
  (c) the crop queue (:mod:`inference.crop_queue`, crops of successive videos batched
  across them, preprocessing on the calling thread beside the forward pass). Ratios are
  crops/s over the raw pass of the same round; the raw pass is also timed on a worker thread,
  where the queue runs it (on this VM it costs fewer CPU-seconds there than on the main thread).
- **ingest**: whole ingests of the videos into a fresh data directory with the default
  encoder and index, each in its own process: the code at ``--before`` (a checkout of the
  previous version) and this tree with ``ingest.encoder_threads`` 0 (torch's default) and 1.
- **rebuild**: re-embedding the ingested catalog from its crop files (``embed_garments``,
  what `index rebuild` and sync run), before and after, each child also timing the raw
  forward pass on the same crops (loaded and preprocessed first) in rotated order.

Under heavy load a process with more runnable threads gets a larger share of the cores, so
wall-clock ratios above 1.0 show up that a quiet machine cannot give; the embed and rebuild
comparisons also report crops per CPU-second of the process (the work each path costs).

Usage: python bench/bench_ingest_embed.py --world DIR [--videos 40] [--rounds 5] [--before /work/main]
       python bench/bench_ingest_embed.py --only rebuild --data-dir INGESTED [--rounds 3]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if "--child" not in sys.argv:  # a child imports the tree its PYTHONPATH names (before or after)
    sys.path.insert(0, str(ROOT))


def _submissions(world: Path, count: int) -> list[Any]:
    from inference.manifest import read_manifest

    return read_manifest(world / "manifest.csv").videos[:count]


def _rotated(names: list[str], round_: int) -> list[str]:
    shift = round_ % len(names)
    return names[shift:] + names[:shift]


def _summary(values: list[float]) -> dict[str, float]:
    return {"median": statistics.median(values), "low": min(values), "high": max(values)}


# -- embed: the three paths on the same crops, in process ---------------------------------------
def bench_embed(world: Path, videos: int, rounds: int) -> dict[str, Any]:
    import numpy as np

    from inference.crop_queue import CropQueue
    from inference.embed import IndexSink, embed_crops
    from inference.extract import extract_garments
    from inference.garments import LocaliserChain
    from inference.ingest import IngestConfig

    config = IngestConfig.load()
    localiser = LocaliserChain(config.localiser)
    per_video = []
    for submission in _submissions(world, videos):
        per_video.append([c.image for c in extract_garments(submission.path, config, localiser).crops])
    crops = [c for video in per_video for c in video]
    with tempfile.TemporaryDirectory() as data_dir:
        sink = IndexSink(data_dir)
    encoder, size = sink.encoder, sink.batch_size
    batches = [encoder.preprocess_images(crops[i : i + size]) for i in range(0, len(crops), size)]
    encoder.encode_preprocessed(batches[0])  # warm-up

    def raw() -> None:
        for batch in batches:
            encoder.encode_preprocessed(batch)

    def raw_on_a_thread() -> None:  # the queue's forward passes run on a worker thread
        worker = threading.Thread(target=raw)
        worker.start()
        worker.join()

    def per_video_path() -> None:
        for video in per_video:
            embed_crops(encoder, video, size)

    def queue_path() -> None:
        with CropQueue(sink.prepare, sink.forward, size, 2 * size) as queue:
            for n, video in enumerate(per_video):
                queue.put(n, video)
                queue.ready()
            list(queue.drain())

    contenders = {"raw": raw, "raw_thread": raw_on_a_thread, "per_video": per_video_path, "queue": queue_path}
    rates: dict[str, list[float]] = {name: [] for name in contenders}
    ratios: dict[str, list[float]] = {"raw_thread": [], "per_video": [], "queue": [], "queue_vs_raw_thread": []}
    cpu_ratios: dict[str, list[float]] = {name: [] for name in ratios}
    for round_ in range(rounds):
        current, cpu = {}, {}
        for name in _rotated(list(contenders), round_):
            clock, cpu_clock = time.perf_counter(), time.process_time()
            contenders[name]()
            current[name] = len(crops) / (time.perf_counter() - clock)
            cpu[name] = len(crops) / (time.process_time() - cpu_clock)
            rates[name].append(current[name])
        for name in ["raw_thread", "per_video", "queue"]:
            ratios[name].append(current[name] / current["raw"])
            cpu_ratios[name].append(cpu[name] / cpu["raw"])
        ratios["queue_vs_raw_thread"].append(current["queue"] / current["raw_thread"])
        cpu_ratios["queue_vs_raw_thread"].append(cpu["queue"] / cpu["raw_thread"])
    sizes = [len(v) for v in per_video]
    return {"videos": len(per_video), "crops": len(crops), "batch_size": size,
            "crops_per_video": float(np.mean(sizes)),
            "rates": {k: _summary(v) for k, v in rates.items()}, "ratios": {k: _summary(v) for k, v in ratios.items()},
            "cpu_ratios": {k: _summary(v) for k, v in cpu_ratios.items()}}


# -- ingest and rebuild: children, one per run ----------------------------------------------------
def child_ingest(world: str, videos: int, data_dir: str, threads: int) -> dict[str, Any]:
    import logging

    from inference.embed import IndexSink
    from inference.ingest import IngestConfig, ingest

    config = IngestConfig.load()
    if threads >= 0:
        config.encoder_threads = threads
    submissions = _submissions(Path(world), videos)
    sink = IndexSink(data_dir)
    stats: dict[str, Any] = {}
    try:
        import inference.crop_queue as crop_queue
    except ImportError:  # the tree before the crop queue
        crop_queue = None
    if crop_queue is not None:  # note the queue's encoder time
        original = crop_queue.CropQueue.close

        def close(self: Any) -> None:
            original(self)
            stats.update(forward_s=self.stats.forward_s, idle_s=self.stats.idle_s, batches=len(self.stats.batch_sizes))

        crop_queue.CropQueue.close = close  # type: ignore[method-assign]
    logging.disable(logging.WARNING)
    sink.encoder.encode_images([__import__("numpy").zeros((64, 64, 3), "uint8")])  # load the towers first
    clock = time.perf_counter()
    report = ingest(submissions, data_dir, config, sink=sink, progress=False)
    seconds = time.perf_counter() - clock
    stages = report.stage_seconds()
    return {"seconds": seconds, "garments": sum(o.garments for o in report.outcomes),
            "statuses": sorted({o.status for o in report.outcomes}), "stages": stages, "queue": stats}


def child_rebuild(data_dir: str, rounds: int) -> dict[str, Any]:
    from inference.catalog import Catalog
    from inference.embed import embed_garments
    from inference.encoders import resolve_encoder
    from inference.images import load_image
    from inference.index import IndexConfig

    encoder = resolve_encoder(None, data_dir)
    size = IndexConfig.load().embed_batch_size
    with Catalog(data_dir) as catalog:
        garments = catalog.garments()
    crops = [load_image(Path(data_dir) / g.crop_path) for g in garments]
    batches = [encoder.preprocess_images(crops[i : i + size]) for i in range(0, len(crops), size)]
    encoder.encode_preprocessed(batches[0])

    def raw() -> None:
        for batch in batches:
            encoder.encode_preprocessed(batch)

    def rebuild() -> None:
        embed_garments(data_dir, encoder, garments, size, progress=False)

    ratios, rates, cpu_ratios = [], [], []
    for round_ in range(rounds):
        current, cpu = {}, {}
        for name in _rotated(["raw", "rebuild"], round_):
            clock, cpu_clock = time.perf_counter(), time.process_time()
            (raw if name == "raw" else rebuild)()
            current[name] = len(crops) / (time.perf_counter() - clock)
            cpu[name] = len(crops) / (time.process_time() - cpu_clock)
        ratios.append(current["rebuild"] / current["raw"])
        cpu_ratios.append(cpu["rebuild"] / cpu["raw"])
        rates.append(current["rebuild"])
    return {"crops": len(crops), "ratio": ratios, "rate": rates, "cpu_ratio": cpu_ratios}


def _child(root: Path, *args: str) -> dict[str, Any]:
    env = {**os.environ, "PYTHONPATH": str(root)}
    out = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--child", *args], check=True,
                         capture_output=True, text=True, cwd=root, env=env).stdout
    return json.loads(out.strip().splitlines()[-1])


def bench_ingest(world: Path, videos: int, rounds: int, before: Path) -> tuple[dict[str, Any], Path]:
    contenders = {"before": (before, "-1"), "after": (ROOT, "0"), "after_1_thread": (ROOT, "1")}
    runs: dict[str, list[dict[str, Any]]] = {name: [] for name in contenders}
    keep = Path(tempfile.mkdtemp(prefix="bench-ingest-"))
    for round_ in range(rounds):
        for name in _rotated(list(contenders), round_):
            root, threads = contenders[name]
            data_dir = keep / f"{name}-{round_}"
            runs[name].append(_child(root, "ingest", str(world), str(videos), str(data_dir), threads))
            print(f"  ingest round {round_} {name}: {runs[name][-1]['seconds']:.1f} s", flush=True)
    result = {name: {"seconds": _summary([r["seconds"] for r in rs]), "runs": rs} for name, rs in runs.items()}
    return result, keep / "after-0"


def bench_rebuild(data_dir: Path, rounds: int, before: Path) -> dict[str, Any]:
    runs: dict[str, list[float]] = {"before": [], "after": []}
    rates: dict[str, list[float]] = {"before": [], "after": []}
    cpu: dict[str, list[float]] = {"before": [], "after": []}
    for round_ in range(rounds):
        for name in _rotated(["before", "after"], round_):
            result = _child(before if name == "before" else ROOT, "rebuild", str(data_dir), "1")
            runs[name] += result["ratio"]
            rates[name] += result["rate"]
            cpu[name] += result["cpu_ratio"]
            print(f"  rebuild round {round_} {name}: {result['ratio'][0]:.2f}x raw "
                  f"(CPU time {result['cpu_ratio'][0]:.2f}x)", flush=True)
    return {name: {"ratio": _summary(runs[name]), "cpu_ratio": _summary(cpu[name]), "crops_s": _summary(rates[name])}
            for name in runs}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--world", type=Path)
    parser.add_argument("--videos", type=int, default=40)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--ingest-rounds", type=int, default=3)
    parser.add_argument("--before", type=Path, default=Path("/work/main"), help="a checkout of the previous version")
    parser.add_argument("--only", choices=["embed", "ingest", "rebuild"], action="append")
    parser.add_argument("--data-dir", type=Path, help="rebuild this ingested data dir (skips the ingest runs)")
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        kind, *rest = args.child
        if kind == "ingest":
            print(json.dumps(child_ingest(rest[0], int(rest[1]), rest[2], int(rest[3]))))
        else:
            print(json.dumps(child_rebuild(rest[0], int(rest[1]))))
        return
    only = set(args.only or ["embed", "ingest", "rebuild"])
    print(f"machine: {platform.machine()}, {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} "
          f"at start; python {platform.python_version()}; world {args.world}, {args.videos} videos", flush=True)
    results: dict[str, Any] = {}
    if "embed" in only:
        results["embed"] = bench_embed(args.world, args.videos, args.rounds)
        print(json.dumps(results["embed"], indent=1), flush=True)
    if args.data_dir and "ingest" not in only:
        results["rebuild"] = bench_rebuild(args.data_dir, args.rounds, args.before)
        print(json.dumps(results["rebuild"], indent=1), flush=True)
    elif "ingest" in only or "rebuild" in only:
        results["ingest"], ingested = bench_ingest(args.world, args.videos, args.ingest_rounds, args.before)
        print(json.dumps({k: v["seconds"] for k, v in results["ingest"].items()}, indent=1), flush=True)
        for name, value in results["ingest"].items():
            print(name, json.dumps(value["runs"][0]["queue"]), json.dumps(value["runs"][0]["stages"]))
        if "rebuild" in only:
            results["rebuild"] = bench_rebuild(ingested, args.rounds, args.before)
            print(json.dumps(results["rebuild"], indent=1), flush=True)
    print(f"load average {os.getloadavg()[0]:.1f} at the end")
    print(json.dumps(results))


if __name__ == "__main__":
    main()
