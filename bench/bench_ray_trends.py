"""Trends at scale (issue 18, item 4), side by side in one run on this machine:

- a deployment's full trends run (cluster every garment, series, states, forecasts,
  originators) locally vs ``--backend ray`` on its Parquet export (Ray's start-up apart),
  rounds alternated; how many garments get the same style (up to numbering);
- the per-core kernels the 300M-garment estimate rests on: fitting k-means (k chosen by
  silhouette, refined) on a sample, and assigning garments to the nearest centroid;
- the Ray assignment stage alone on synthetic tables: garments/s on this node.

Usage::

    PYTHONPATH=. .venv/bin/python bench/bench_ray_trends.py --data-dir COPY_OF_DEPLOYMENT --tables ITS_EXPORT
        [--rounds 2] [--sample 20000] [--dim 512] [--videos 2000]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import shutil
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")  # per-core figures
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")
os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")

import numpy as np


def local_run(data_dir: Path) -> tuple[float, dict[int, int]]:
    """A full local run on a fresh copy of the deployment: seconds and garment -> style."""
    from inference import trends
    from inference.catalog import Catalog

    config = trends.load_config()
    with tempfile.TemporaryDirectory() as tmp:
        copy = Path(tmp) / "data"
        shutil.copytree(data_dir, copy)
        clock = time.perf_counter()
        with Catalog(copy) as catalog:
            trends.update_styles(catalog, config, full=True)
            trends.trends_report(catalog, config, trends.load_forecast_config())
            trends.creators_report(catalog, config, trends.load_creators_config())
            seconds = time.perf_counter() - clock
            return seconds, catalog.garment_style_ids()


def ray_run(tables: Path, encoder: str, sample: int) -> tuple[float, dict[str, float], dict[int, int]]:
    """A full Ray run on the tables: seconds, the stages' seconds, and garment -> style."""
    from inference import trends
    from inference.scale.ray_trends import ray_trends
    from inference.trends.naming import naming_encoder
    from inference.trends.reports import checked, creators_of, styles_report

    config = trends.load_config()
    clock = time.perf_counter()
    run = ray_trends(tables, encoder, config, sample=sample, naming=naming_encoder({"name": encoder}))
    data = checked(run.data)
    styles_report(data, config, trends.load_forecast_config(), None, None, None, lambda s: run.medoids.get(s, []))
    creators_of(data, config, trends.load_creators_config())
    seconds = time.perf_counter() - clock
    return seconds, run.seconds, {r["garment_id"]: r["style_id"] for r in run.assignments.take_all()}


def agreement(local: dict[int, int], ray: dict[int, int], data_dir: Path) -> float:
    """Share of garments styled by either run that the two put in matching styles (each local
    style matched to the Ray style most of its garments went to)."""
    from collections import Counter

    from inference.catalog import Catalog
    from inference.scale.tables import garment_id

    shared = {}
    with Catalog(data_dir) as catalog:
        for video in catalog.videos():
            for ordinal, g in enumerate(sorted(catalog.garments(video_id=video.id), key=lambda g: g.id)):
                shared[g.id] = garment_id(video.content_hash, ordinal)
    pairs = Counter((style, ray.get(shared[g], -1)) for g, style in local.items())
    best: dict[int, tuple[int, int]] = {}
    for (style, other), n in pairs.items():
        if other >= 0 and n > best.get(style, (0, -1))[0]:
            best[style] = (n, other)
    matched = sum(n for n, _ in best.values())
    return matched / max(1, len(set(local) | {g for g in shared if shared[g] in ray}))


def kernels(sample: int, dim: int, clusters: int = 60) -> dict[str, float]:
    """Seconds to fit k-means on ``sample`` garments, and garments/s assigned per core."""
    from inference.trends import load_config
    from inference.trends.clustering import assign_units, fit_units

    rng = np.random.default_rng(0)
    centres = rng.normal(size=(clusters, dim))
    labels = rng.integers(0, clusters, sample)
    vectors = (centres[labels] + 0.9 * rng.normal(size=(sample, dim))).astype(np.float32)
    config = load_config().cluster
    clock = time.perf_counter()
    fit, _, _ = fit_units(vectors, ["top"] * sample, config)
    fit_s = time.perf_counter() - clock
    batch = np.repeat(vectors, max(1, 200_000 // sample), axis=0)[:200_000]
    clock = time.perf_counter()
    assign_units(fit, batch, ["top"] * len(batch))
    assign_s = time.perf_counter() - clock
    return {"sample": sample, "dim": dim, "k": len(fit.clusters), "fit_s": round(fit_s, 1),
            "assign_per_s_per_core": round(len(batch) / assign_s)}


def synthetic_tables(out: Path, videos: int, dim: int, per_video: int = 30) -> int:
    """Tables of ``videos`` videos, ``per_video`` garments each (top / bottom pairs per frame)."""
    import hashlib

    import pyarrow as pa

    from inference.scale.interchange import _write_partitioned
    from inference.scale.tables import encoder_table, garment_id

    rng = np.random.default_rng(1)
    centres = rng.normal(size=(40, dim))
    rows: dict[str, list[dict]] = {"videos": [], "frames": [], "garments": [], encoder_table("synthetic"): []}
    for v in range(videos):
        key = hashlib.sha256(f"video{v}".encode()).hexdigest()
        day = f"2026-{3 + v % 3:02d}-{1 + v % 28:02d}"
        rows["videos"].append({"video_id": key, "creator": f"c{v % 300}", "followers": 1000, "posted_at": day,
                               "status": "done", "month": day[:7]})
        style = rng.integers(0, 20) * 2
        for f in range(per_video // 2):
            rows["frames"].append({"video_id": key, "frame_index": f, "t_s": 0.5 * f, "month": day[:7]})
            for k, kind in enumerate(("top", "bottom")):
                ordinal = 2 * f + k
                vector = centres[style + k] + 0.6 * rng.normal(size=dim)
                gid = garment_id(key, ordinal)
                rows["garments"].append({"garment_id": gid, "video_id": key, "ordinal": ordinal, "frame_index": f,
                                         "kind": kind, "method": "detector", "month": day[:7]})
                rows[encoder_table("synthetic")].append({"garment_id": gid, "video_id": key, "month": day[:7],
                                                         "vector": (vector / np.linalg.norm(vector)).astype(
                                                             np.float32).tolist()})
    for table, table_rows in rows.items():
        _write_partitioned(pa.Table.from_pylist(table_rows), out / table)
    return len(rows["garments"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", type=Path, required=True, help="a deployment (copied before each local run)")
    parser.add_argument("--tables", type=Path, required=True, help="its `stylescope export --parquet`")
    parser.add_argument("--encoder", default="stylescope-default")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--sample", type=int, default=20_000)
    parser.add_argument("--dim", type=int, default=512)
    parser.add_argument("--videos", type=int, default=2000, help="synthetic videos for the Ray assignment stage")
    args = parser.parse_args()
    from inference.scale.ray_ingest import ScaleConfig, start_ray

    results: dict[str, object] = {"load_average": os.getloadavg(), "ray_start_s": round(start_ray(ScaleConfig()), 1)}
    local_s, ray_s, stages = [], [], []
    for r in range(args.rounds):
        order = ("local", "ray") if r % 2 == 0 else ("ray", "local")
        for which in order:
            if which == "local":
                seconds, local_styles = local_run(args.data_dir)
                local_s.append(round(seconds, 1))
            else:
                seconds, stage, ray_styles = ray_run(args.tables, args.encoder, 100_000)
                ray_s.append(round(seconds, 1))
                stages.append({k: round(v, 1) for k, v in stage.items()})
            print(which, round(seconds, 1), flush=True)
    results.update(local_s=local_s, ray_s=ray_s, ray_stages=stages,
                   same_style_share=round(agreement(local_styles, ray_styles, args.data_dir), 3))
    print(json.dumps(results), flush=True)
    results["kernels"] = kernels(args.sample, args.dim)
    print(json.dumps(results["kernels"]), flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        garments = synthetic_tables(Path(tmp) / "tables", args.videos, args.dim)
        config = dataclasses.replace(__import__("inference.trends", fromlist=["load_config"]).load_config())
        from inference.scale.ray_trends import ray_trends

        clock = time.perf_counter()
        run = ray_trends(Path(tmp) / "tables", "synthetic", config, sample=args.sample)
        total = time.perf_counter() - clock
        results["synthetic"] = {"videos": args.videos, "garments": garments, "dim": args.dim, "total_s": round(total, 1),
                                **{k: round(v, 1) for k, v in run.seconds.items()}, "styles": len(run.styles),
                                "assign_per_s_node": round(garments / run.seconds["assign"])}
    results["load_average_end"] = os.getloadavg()
    print(json.dumps(results))


if __name__ == "__main__":
    main()
