"""Benchmark the garment index at scale: 1M garments at dim 256 with realistic embeddings.

Embeddings: Fashion-MNIST images (real garment photos, Debian package
``dataset-fashion-mnist``) embedded by the best encoder available -- the offline default
when its trained heads are installed, else its pretrained EfficientNet-Lite0 image tower
with a PCA projection to 256 dims -- then replicated with small noise up to size (each
copy keeps a cosine of ``--copy-cos`` with its original, like the same garment in another
frame). Queries are held-out Fashion-MNIST test images, never in the index.

One run measures, on the same index and queries:
- build time (train + add + write of the index version) and the catalog write time;
- resident memory of a fresh process once the index, the float16 store and the metadata
  cache are loaded;
- single-query latency p50/p99 of ``Searcher.search_vector`` (filters, re-ranking and the
  catalog join included), with and without de-duplication, against the raw FAISS call it
  makes (``IndexVersion.raw_search``, same FAISS thread count), each query in every arm
  back to back with the arms' order rotated by query and round (``--rounds``); the ratio;
- recall@10 against exact search over the stored embeddings;
- filtered searches (tier, creator, date range) against brute-force filtering.

Usage::

    .venv/bin/python bench/bench_index.py [--garments 1000000] [--work-dir DIR] [--random]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import resource
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from models.base import Encoder, l2_normalise
from world.fashion_mnist import FASHION_MNIST_DIR, read_idx

logger = logging.getLogger("bench_index")
FASHION_MNIST = FASHION_MNIST_DIR
KINDS = ("top", "bottom", "full")
# Fashion-MNIST classes -> garment kind: T-shirt, trouser, pullover, dress, coat, sandal,
# shirt, sneaker, bag, ankle boot
CLASS_KIND = ("top", "bottom", "top", "full", "top", "full", "top", "full", "full", "full")


def rss_mb() -> float:
    """Resident set size of this process now, MiB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


# -- embeddings ------------------------------------------------------------------------------


def tower_features(images: np.ndarray, size: int, batch: int = 64) -> np.ndarray:
    """EfficientNet-Lite0 pooled features (N, 1280) of grey 28x28 images at ``size`` px."""
    import cv2
    import torch

    from models.offline import build_image_tower

    tower = build_image_tower("efficientnet-lite0")
    out = []
    started = time.perf_counter()
    for start in range(0, len(images), batch):
        chunk = images[start : start + batch]
        rgb = np.stack(
            [
                cv2.resize(
                    np.repeat(img[..., None], 3, 2), (size, size), interpolation=cv2.INTER_LINEAR
                )
                for img in chunk
            ]
        )
        tensor = torch.from_numpy(
            ((rgb.astype(np.float32) - 127.0) / 128.0).transpose(0, 3, 1, 2).copy()
        )
        with torch.inference_mode():
            out.append(tower.forward(tensor).float().numpy())
        if start % (batch * 40) == 0:
            logger.info(
                "embedded %d/%d images (%.0fs)",
                start + len(chunk),
                len(images),
                time.perf_counter() - started,
            )
    return np.concatenate(out)


def random_embeddings(args: argparse.Namespace) -> tuple[np.ndarray, np.ndarray, np.ndarray, str]:
    """``--bases random``: random unit bases at dim 256 with random labels, and queries that
    are fresh noisy copies (cosine ~0.9) of random bases, never in the index. What the
    search path adds over FAISS does not depend on what the vectors mean, so this measures
    the same overhead in seconds instead of the encoder's 12 minutes (recall is not comparable)."""
    rng = np.random.default_rng(0)
    bases = l2_normalise(rng.standard_normal((args.bases, 256)).astype(np.float32))
    labels = rng.integers(0, len(CLASS_KIND), args.bases)
    near = bases[rng.integers(0, args.bases, args.queries)]
    noise = rng.standard_normal(near.shape).astype(np.float32) * (np.tan(np.arccos(0.9)) / 16)
    return bases, labels, l2_normalise(near + noise), "random unit vectors (dim 256)"


def base_embeddings(args: argparse.Namespace) -> tuple[np.ndarray, np.ndarray, np.ndarray, str]:
    """(base vectors (B, 256), their labels, query vectors (Q, 256), encoder description)."""
    if args.random:
        return random_embeddings(args)
    cache = args.work_dir / f"fmnist_{args.bases}_{args.queries}_{args.image_size}.npz"
    if cache.is_file():
        saved = np.load(cache, allow_pickle=False)
        return saved["bases"], saved["labels"], saved["queries"], str(saved["encoder"])
    train = read_idx(FASHION_MNIST / "train-images-idx3-ubyte.gz")
    labels = read_idx(FASHION_MNIST / "train-labels-idx1-ubyte.gz")
    test = read_idx(FASHION_MNIST / "t10k-images-idx3-ubyte.gz")
    rng = np.random.default_rng(0)
    pick = rng.choice(len(train), args.bases, replace=False)
    query_pick = rng.choice(len(test), args.queries, replace=False)
    try:
        from inference.embed import embed_crops
        from models.registry import create_encoder

        encoder = create_encoder("stylescope-default")
        rgb = lambda imgs: [np.repeat(i[..., None], 3, 2) for i in imgs]  # noqa: E731
        bases = embed_crops(encoder, rgb(train[pick]), 64)
        queries = embed_crops(encoder, rgb(test[query_pick]), 64)
        description = f"{encoder.name} ({encoder.version})"
    except Exception as exc:  # the trained heads may not be installed yet
        logger.warning(
            "offline default unavailable (%s); using its EfficientNet-Lite0 tower + PCA-256", exc
        )
        features = tower_features(np.concatenate([train[pick], test[query_pick]]), args.image_size)
        mean = features[: args.bases].mean(axis=0)
        _, _, vt = np.linalg.svd(features[: args.bases] - mean, full_matrices=False)
        projected = l2_normalise((features - mean) @ vt[:256].T)
        bases, queries = projected[: args.bases], projected[args.bases :]
        description = f"efficientnet-lite0 tower (ImageNet) at {args.image_size}px + PCA-256"
    args.work_dir.mkdir(parents=True, exist_ok=True)
    np.savez(cache, bases=bases, labels=labels[pick], queries=queries, encoder=description)
    return bases, labels[pick], queries, description


def replicate(
    bases: np.ndarray, n: int, copy_cos: float, seed: int = 1
) -> tuple[np.ndarray, np.ndarray]:
    """``n`` unit vectors: each base, then noisy copies at cosine ~``copy_cos`` to it."""
    rng = np.random.default_rng(seed)
    origin = np.arange(n) % len(bases)
    rng.shuffle(origin)
    noise_norm = np.tan(np.arccos(copy_cos))
    out = np.empty((n, bases.shape[1]), np.float32)
    for start in range(0, n, 100_000):
        chunk = origin[start : start + 100_000]
        noise = rng.standard_normal((len(chunk), bases.shape[1])).astype(np.float32)
        noise *= noise_norm / np.sqrt(bases.shape[1])
        out[start : start + len(chunk)] = l2_normalise(bases[chunk] + noise)
    return out, origin


# -- catalog ----------------------------------------------------------------------------------


def write_catalog(
    data_dir: Path,
    n: int,
    labels: np.ndarray,
    origin: np.ndarray,
    per_video: int = 20,
    seed: int = 2,
) -> np.ndarray:
    """n garments in ``per_video``-garment videos from 5000 creators over a year.

    Written in one catalog transaction (``Catalog.write_videos``; the ingest path writes one
    video per transaction, which is ingestion's cost, not the index's). Returns garment ids.
    """
    from inference.catalog import Catalog, FrameRow, GarmentRow, WholeVideo
    from inference.types import Box, VideoInfo, VideoSubmission

    rng = np.random.default_rng(seed)
    creators = 5000
    followers = np.round(10 ** rng.uniform(2.5, 7.0, creators)).astype(int)
    videos = -(-n // per_video)
    start = dt.date(2025, 6, 1)
    handles = [f"creator{c:04d}" for c in range(creators)]
    video_creator = rng.integers(1, creators + 1, videos)
    video_day = rng.integers(0, 365, videos)
    info = VideoInfo(width=720, height=1280, fps=30.0, duration_s=0.5 * per_video, frame_count=15 * per_video,
                     rotation=0, codec="bench")
    box = Box(0, 0, 64, 64)

    def video(v: int) -> WholeVideo:
        creator = int(video_creator[v]) - 1
        posted = start + dt.timedelta(days=int(video_day[v]))
        garments = range(v * per_video, min(n, (v + 1) * per_video))
        return WholeVideo(
            VideoSubmission(Path(f"videos/{v}.mp4"), handles[creator], int(followers[creator]), posted),
            f"hash{v}",
            info,
            [FrameRow(0.5 * (g % per_video), 0, 100.0, 0, 720, 1280) for g in garments],
            [GarmentRow(i, CLASS_KIND[labels[origin[g]]], box, "bench", 0.9, f"crops/{v + 1}/{g % per_video:03d}.jpg")
             for i, g in enumerate(garments)],
        )

    with Catalog(data_dir) as catalog:
        catalog.add_creators((handle, int(count)) for handle, count in zip(handles, followers, strict=True))
        catalog.write_videos(video(v) for v in range(videos))
    return np.arange(1, n + 1, dtype=np.int64)


# -- phases -----------------------------------------------------------------------------------


class StoredEncoder(Encoder):
    """Stands for the encoder that made the benchmark's embeddings (queries come as vectors)."""

    def __init__(self, info: dict[str, Any]):
        self.name, self.version, self.dim = info["name"], info["version"], int(info["dim"])

    def encode_images(self, images):  # type: ignore[no-untyped-def]
        raise NotImplementedError("the benchmark queries with stored vectors")

    def encode_text(self, texts):  # type: ignore[no-untyped-def]
        raise NotImplementedError("the benchmark queries with stored vectors")


def build_phase(args: argparse.Namespace) -> dict[str, Any]:
    from inference.index import IndexConfig, activate_version, write_version

    data_dir = args.work_dir / f"data_{args.garments}"
    if data_dir.exists():
        import shutil

        shutil.rmtree(data_dir)
    started = time.perf_counter()
    bases, labels, queries, encoder = base_embeddings(args)
    embed_s = time.perf_counter() - started
    vectors, origin = replicate(bases, args.garments, args.copy_cos)
    started = time.perf_counter()
    ids = write_catalog(data_dir, args.garments, labels, origin)
    catalog_s = time.perf_counter() - started
    config = IndexConfig.load(args.config)
    info = {"name": "bench-fmnist", "version": encoder, "dim": vectors.shape[1]}
    started = time.perf_counter()
    version = write_version(data_dir, ids, vectors, info, config)
    activate_version(data_dir, version.name)
    build_s = time.perf_counter() - started
    np.save(args.work_dir / "queries.npy", queries)
    return {
        "encoder": encoder,
        "bases": len(bases),
        "garments": args.garments,
        "copy_cos": args.copy_cos,
        "factory": version.meta["factory"],
        "embed_bases_s": round(embed_s, 1),
        "catalog_write_s": round(catalog_s, 1),
        "build_s": round(build_s, 1),
        "build_peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        "data_dir": str(data_dir),
    }


def interleaved(arms: dict[str, Callable[[np.ndarray], object]], queries: np.ndarray,
                rounds: int, clock: Callable[[], float] = time.perf_counter) -> dict[str, np.ndarray]:
    """Seconds per (round, query) of each arm. Each query runs in every arm back to back, the
    arms' order rotated by query and by round, so no arm always runs on the caches another
    has just warmed (a search and the FAISS call inside it touch the same inverted lists).
    ``clock``: wall time by default; ``time.thread_time`` counts only this thread's CPU
    time, which a busy machine's preemptions do not inflate."""
    names = list(arms)
    times = {name: np.zeros((rounds, len(queries))) for name in names}
    for r in range(rounds):
        for i, q in enumerate(queries):
            shift = (i + r) % len(names)
            for name in names[shift:] + names[:shift]:
                started = clock()
                arms[name](q)
                times[name][r, i] = clock() - started
    return times


def percentiles(samples: Any) -> tuple[float, float]:
    ms = np.array(samples) * 1000
    return float(np.percentile(ms, 50)), float(np.percentile(ms, 99))


def exact_top(
    vectors16: np.ndarray,
    ids: np.ndarray,
    queries: np.ndarray,
    k: int,
    mask: np.ndarray | None = None,
) -> np.ndarray:
    """Exact top-k ids per query over the float16 store (optionally only rows in ``mask``)."""
    best_scores = np.full((len(queries), k), -np.inf, np.float32)
    best_ids = np.full((len(queries), k), -1, np.int64)
    for start in range(0, len(ids), 200_000):
        block = vectors16[start : start + 200_000].astype(np.float32)
        scores = queries @ block.T
        if mask is not None:
            scores[:, ~mask[start : start + 200_000]] = -np.inf
        merged_scores = np.concatenate([best_scores, scores], axis=1)
        merged_ids = np.concatenate(
            [best_ids, np.broadcast_to(ids[start : start + 200_000], scores.shape)], axis=1
        )
        top = np.argsort(-merged_scores, axis=1)[:, :k]
        best_scores = np.take_along_axis(merged_scores, top, 1)
        best_ids = np.take_along_axis(merged_ids, top, 1)
    return best_ids


def recall(found: list[list[int]], truth: np.ndarray) -> float:
    return float(
        np.mean(
            [
                len(set(f) & set(t[t >= 0].tolist())) / max(1, (t >= 0).sum())
                for f, t in zip(found, truth, strict=True)
            ]
        )
    )


def search_phase(args: argparse.Namespace) -> dict[str, Any]:
    from inference.index import IndexConfig, faiss_threads, index_root, read_current, read_meta
    from inference.search import SearchConfig, Searcher

    data_dir = Path(args.data_dir)
    queries = np.load(args.work_dir / "queries.npy")
    meta = read_meta(index_root(data_dir) / str(read_current(data_dir)))
    config = IndexConfig.load(args.config)
    before = rss_mb()
    started = time.perf_counter()
    searcher = Searcher(
        data_dir, StoredEncoder(meta["encoder"]), SearchConfig.load(args.config), config
    )
    searcher.search_vector(queries[0], 10)  # loads the metadata cache
    load_s = time.perf_counter() - started
    after = rss_mb()
    version = searcher.index.version()
    k = 10
    fetch = k * config.rerank_factor
    threads = searcher.config.query_threads

    def raw(n: int) -> Any:
        def call(q: np.ndarray) -> object:
            with faiss_threads(threads):  # the thread count search runs FAISS with
                return version.raw_search(q[None], n)
        return call

    arms = {
        "raw": raw(fetch),
        "search": lambda q: searcher.search_vector(q, k, dedupe=False),
        "raw_dedup": raw(fetch * searcher.config.dedup_fetch_factor),
        "search_dedup": lambda q: searcher.search_vector(q, k),
    }
    interleaved(arms, queries[:20], 1)  # warm up
    times = interleaved(arms, queries, args.rounds)
    raw_t, plain_t = times["raw"].ravel(), times["search"].ravel()
    dedup_t, raw_dedup_t = times["search_dedup"].ravel(), times["raw_dedup"].ravel()
    found = [[h.garment_id for h in searcher.search_vector(q, k, dedupe=False).hits] for q in queries]
    store = version.store
    truth = exact_top(store.vectors, store.ids, queries, k)
    raw50, raw99 = percentiles(raw_t)
    s50, s99 = percentiles(plain_t)
    d50, d99 = percentiles(dedup_t)
    rd50, rd99 = percentiles(raw_dedup_t)
    report: dict[str, Any] = {
        "queries": len(queries),
        "rounds": args.rounds,
        "nprobe": config.nprobe,
        "rerank_factor": config.rerank_factor,
        "load_s": round(load_s, 1),
        "rss_before_mb": round(before),
        "rss_loaded_mb": round(after),
        "rss_index_store_metadata_mb": round(after - before),
        "store_mb": round(store.vectors.nbytes / 2**20),
        "recall_at_10": round(recall(found, truth), 4),
        "raw_faiss_ms": {"p50": raw50, "p99": raw99},
        "search_ms": {"p50": s50, "p99": s99},
        "ratio_p50": s50 / raw50,
        "ratio_p99": s99 / raw99,
        "search_dedup_ms": {"p50": d50, "p99": d99},
        "raw_faiss_dedup_fetch_ms": {"p50": rd50, "p99": rd99},
        "ratio_dedup_p50": d50 / rd50,
        "ratio_dedup_p50_rounds": (np.median(times["search_dedup"], axis=1) / np.median(times["raw_dedup"], axis=1)).tolist(),
    }
    report["filtered"] = filtered_searches(searcher, queries[:100], store)
    report["sweep"] = sweep(version, queries, truth, k)
    searcher.close()
    return report


def filtered_searches(searcher: Any, queries: np.ndarray, store: Any) -> dict[str, Any]:
    """Latency and recall of filtered searches against brute-force filtering."""
    from inference.search import SearchFilters

    meta = searcher.metadata
    cases = {
        "tier=micro": SearchFilters.build(tiers=["micro"]),
        "creator (1 of 5000)": SearchFilters.build(creators=["creator0042"]),
        "posted in March 2026 + kind=top": SearchFilters.build(
            date_from="2026-03-01", date_to="2026-03-31", kinds=["top"]
        ),
    }
    out = {}
    for name, filters in cases.items():
        searcher.search_vector(
            queries[0], 10, filters, dedupe=False
        )  # compile + cache the selection
        times, found = [], []
        for q in queries:
            t0 = time.perf_counter()
            result = searcher.search_vector(q, 10, filters, dedupe=False)
            times.append(time.perf_counter() - t0)
            found.append([h.garment_id for h in result.hits])
        allowed = meta.select(filters).ids
        truth = exact_top(store.vectors, store.ids, queries, 10, np.isin(store.ids, allowed))
        p50, p99 = percentiles(times)
        out[name] = {
            "matching": len(allowed),
            "p50_ms": p50,
            "p99_ms": p99,
            "recall_at_10": round(recall(found, truth), 4),
        }
    return out


def sweep(version: Any, queries: np.ndarray, truth: np.ndarray, k: int) -> list[dict[str, Any]]:
    """Recall and latency of the index alone (search + re-rank) across nprobe settings."""
    import dataclasses

    original = version.config
    rows = []
    for nprobe in (4, 8, 16, 32, 64):
        for factor in (2, 4, 10):
            version.config = dataclasses.replace(original, nprobe=nprobe, rerank_factor=factor)
            times, found = [], []
            for q in queries:
                t0 = time.perf_counter()
                _, ids = version.search(q[None], k)
                times.append(time.perf_counter() - t0)
                found.append(ids[0].tolist())
            p50, p99 = percentiles(times)
            rows.append(
                {
                    "nprobe": nprobe,
                    "rerank_factor": factor,
                    "recall_at_10": round(recall(found, truth), 4),
                    "p50_ms": p50,
                    "p99_ms": p99,
                }
            )
    version.config = original
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--garments", type=int, default=1_000_000)
    parser.add_argument("--bases", type=int, default=20_000, help="Fashion-MNIST images embedded")
    parser.add_argument("--queries", type=int, default=500, help="held-out query images")
    parser.add_argument("--random", action="store_true",
                        help="random unit vectors instead of embedded Fashion-MNIST images (same overhead, no encoder)")
    parser.add_argument(
        "--copy-cos", type=float, default=0.95, help="cosine of a copy to its original"
    )
    parser.add_argument(
        "--image-size", type=int, default=64, help="tower input size (fallback encoder)"
    )
    parser.add_argument("--work-dir", type=Path, default=Path("/tmp/stylescope-bench-index"))
    parser.add_argument(
        "--config", default=None, help="index config YAML overriding the packaged one"
    )
    parser.add_argument("--phase", choices=("all", "build", "search"), default="all")
    parser.add_argument("--data-dir", default=None, help="search phase: the built data directory")
    parser.add_argument("--rounds", type=int, default=3, help="search phase: rounds over the queries, arms rotated")
    parser.add_argument("--out", type=Path, default=None, help="write the JSON report here")
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(name)s: %(message)s", datefmt="%H:%M:%S"
    )
    args.work_dir.mkdir(parents=True, exist_ok=True)
    if args.phase == "search":
        print(json.dumps(search_phase(args)))
        return 0
    report = {"build": build_phase(args)}
    if args.phase == "all":  # a fresh process, so resident memory is the search side's alone
        command = [
            sys.executable,
            __file__,
            "--phase",
            "search",
            "--data-dir",
            report["build"]["data_dir"],
            "--work-dir",
            str(args.work_dir),
            "--rounds",
            str(args.rounds),
        ]
        if args.config:
            command += ["--config", args.config]
        output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
        report["search"] = json.loads(output.strip().splitlines()[-1])
    text = json.dumps(report, indent=2)
    print(text)
    if args.out:
        args.out.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
