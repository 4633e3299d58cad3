"""Scale-out benchmark (issue 18), side by side in one run on this machine:

- ingest of the same small world, local backend vs ``--backend ray`` (Ray's start-up apart);
- the encoder stage alone on Ray: crops/s with 1 and 2 CPU actors (the default encoder);
- a sharded IVF index on synthetic unit vectors: training, per-shard build (Ray tasks),
  recall@10 vs exact, p50/p99 single-query latency at N shards vs one index, memory.

Usage::

    PYTHONPATH=. .venv/bin/python bench/ray_scale.py [--videos 6] [--vectors 200000] [--dim 512]
    PYTHONPATH=. .venv/bin/python bench/ray_scale.py --ingest-only --manifest WORLD/manifest.csv [--limit 60]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import resource
import tempfile
import time
from pathlib import Path

import numpy as np


def _world(folder: Path, videos: int) -> list:
    from inference.types import VideoSubmission
    from world.clips import walking_clip, write_video

    folder.mkdir(parents=True)
    posts = []
    for i in range(videos):
        write_video(folder / f"clip{i}.mp4", walking_clip(n=45, seed=i, top_colour=(30 * i % 255, 90, 160)))
        posts.append(VideoSubmission(folder / f"clip{i}.mp4", f"c{i}", 1000, dt.date(2026, 3 + i % 3, 1), f"clip{i}"))
    return posts


def _manifest_posts(manifest: Path, limit: int | None) -> list:
    """The first ``limit`` videos of an existing world's manifest (e.g. the demo preset's)."""
    from inference.manifest import read_manifest

    return read_manifest(manifest).videos[:limit]


def bench_ingest(root: Path, videos: int, encoder: str, manifest: Path | None = None, limit: int | None = None) -> dict:
    from inference.embed import IndexSink
    from inference.ingest import IngestConfig, ingest
    from inference.scale.ray_ingest import ScaleConfig, ray_ingest

    posts = _manifest_posts(manifest, limit) if manifest else _world(root / "clips", videos)
    videos = len(posts)
    load_before = os.getloadavg()
    config = IngestConfig.load()
    clock = time.perf_counter()
    report = ingest(posts, root / "local", config, sink=IndexSink(root / "local", encoder), progress=False)
    local_s = time.perf_counter() - clock
    load_between = os.getloadavg()
    clock = time.perf_counter()
    ray_report = ray_ingest(posts, root / "tables", config, encoder, ScaleConfig(num_cpus=2))
    ray_s = time.perf_counter() - clock - ray_report.seconds["ray_start"]
    garments = sum(o.garments for o in report.outcomes)
    return {"videos": videos, "garments": garments, "local_s": local_s, "local_stages_s": report.stage_seconds(),
            "ray_s": ray_s,
            "ratio": ray_s / local_s, "ray_start_s": ray_report.seconds["ray_start"],
            "ray_phases_s": ray_report.seconds, "ray_garments": ray_report.garments,
            "loadavg_1_5_15": {"before": load_before, "after_local": load_between, "after_ray": os.getloadavg()}}


def bench_encoder(root: Path, encoder: str) -> dict:
    """The resize + actor stages alone, on the crops the Ray ingest wrote (repeated to ~2k)."""
    import ray.data

    from inference.scale.ray_ingest import EncoderActor, resize_batch
    from inference.scale.tables import read_table

    jpegs = read_table(root / "tables", "garments").column("crop_jpeg").to_pylist()
    import cv2

    pngs = [cv2.imencode(".png", cv2.imdecode(np.frombuffer(j, np.uint8), cv2.IMREAD_COLOR))[1].tobytes() for j in jpegs]
    items = [{"crop_png": pngs[i % len(pngs)]} for i in range(2048)]
    figures = {}
    for actors in (1, 2):
        data = ray.data.from_items(items).map_batches(
            resize_batch, fn_kwargs={"encoder_spec": encoder}, batch_size=64, batch_format="numpy",
        ).map_batches(EncoderActor, fn_constructor_kwargs={"encoder_spec": encoder}, batch_size=64,
                      batch_format="numpy", compute=ray.data.ActorPoolStrategy(size=actors), num_cpus=0.5)
        clock = time.perf_counter()
        count = len(data.take_all())
        figures[f"{actors}_actor_crops_per_s"] = count / (time.perf_counter() - clock)
    return figures


def bench_shards(vectors_n: int, dim: int, shards: int, nlist: int) -> dict:
    import faiss

    from inference.scale.shards import ShardedIndex, ShardSpec, build_shards

    rng = np.random.default_rng(0)
    centres = rng.standard_normal((1000, dim)).astype(np.float32)
    vectors = centres[rng.integers(0, 1000, vectors_n)] + 0.5 * rng.standard_normal((vectors_n, dim)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    ids = np.arange(vectors_n, dtype=np.int64)
    queries = vectors[rng.choice(vectors_n, 200, replace=False)] + 0.1 * rng.standard_normal((200, dim)).astype(np.float32)
    queries /= np.linalg.norm(queries, axis=1, keepdims=True)
    truth = np.argsort(-(queries @ vectors.T), axis=1)[:, :10]
    result: dict = {"vectors": vectors_n, "dim": dim, "nlist": nlist, "data_mb": vectors.nbytes / 1e6}
    spec = ShardSpec(shards=shards, nlist=nlist, train_size=min(100_000, vectors_n))
    sharded, times = build_shards(ids, vectors, spec)
    result |= {"train_s": times.train_s, "shard_build_s": times.shard_s, "sharded_total_s": times.total_s}
    clock = time.perf_counter()
    single, _ = build_shards(ids, vectors, ShardSpec(shards=1, nlist=nlist, train_size=spec.train_size), use_ray=False)
    result["one_index_build_s"] = time.perf_counter() - clock
    copies = [faiss.deserialize_index(faiss.serialize_index(s)) for s in sharded.shards]  # merge_from empties its source
    clock = time.perf_counter()
    merged = copies[0]
    for shard in copies[1:]:
        merged.merge_from(shard, 0)
    result["merge_s"] = time.perf_counter() - clock
    faiss.omp_set_num_threads(1)
    for name, index in (("sharded", sharded), ("one", single), ("merged", ShardedIndex([merged]))):
        _, found = index.search(queries, 10, nprobe=32)
        latencies = []
        for q in queries:
            clock = time.perf_counter()
            index.search(q[None], 10, nprobe=32)
            latencies.append((time.perf_counter() - clock) * 1000)
        result[name] = {"recall_at_10": float(np.mean([len(set(f) & set(t)) / 10 for f, t in zip(found, truth, strict=True)])),
                        "p50_ms": float(np.percentile(latencies, 50)), "p99_ms": float(np.percentile(latencies, 99))}
    result["shard_mb"] = [faiss.serialize_index(s).nbytes / 1e6 for s in sharded.shards]
    result["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--videos", type=int, default=6)
    parser.add_argument("--encoder", default=None, help="default: the offline default encoder")
    parser.add_argument("--vectors", type=int, default=200_000)
    parser.add_argument("--dim", type=int, default=512)
    parser.add_argument("--shards", type=int, default=4)
    parser.add_argument("--nlist", type=int, default=1024)
    parser.add_argument("--index-only", action="store_true", help="only the sharded index part")
    parser.add_argument("--ingest-only", action="store_true", help="only the side-by-side ingest")
    parser.add_argument("--manifest", type=Path, default=None,
                        help="ingest this world's manifest (e.g. a demo world's) instead of generated clips")
    parser.add_argument("--limit", type=int, default=None, help="with --manifest: its first N videos")
    args = parser.parse_args()
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    from models.settings import load_settings

    encoder = args.encoder or load_settings().default
    figures: dict = {"machine": f"{os.cpu_count()} CPUs", "encoder": encoder}
    if args.index_only:
        from inference.scale.ray_ingest import ScaleConfig, start_ray

        start_ray(ScaleConfig(num_cpus=2))
    else:
        with tempfile.TemporaryDirectory() as tmp:
            figures["ingest"] = bench_ingest(Path(tmp), args.videos, encoder, args.manifest, args.limit)
            print(json.dumps(figures, indent=1), flush=True)
            if args.ingest_only:
                return
            figures["encoder_stage"] = bench_encoder(Path(tmp), encoder)
            print(json.dumps(figures["encoder_stage"], indent=1), flush=True)
    figures["shards"] = bench_shards(args.vectors, args.dim, args.shards, args.nlist)
    print(json.dumps(figures, indent=1))


if __name__ == "__main__":
    main()
