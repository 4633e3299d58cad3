"""Benchmark: what adding one video's garments costs as the index grows.

Ingest adds each video's garments to the live index version as it goes (``IndexSink`` ->
``GarmentIndex.add``), so the cost of one small add on a large index is what a long ingest
pays again and again. One run builds a version of ``--garments`` random unit vectors
(dim 256; the cost does not depend on what the vectors mean) with the packaged index
settings (exact below 50k garments, IVF-SQ8 from there), then makes ``--adds`` adds of
``--batch`` garments each and reports per add: wall time (median, p90, max) and the bytes
written to disk. Then it times loading the version in a fresh ``IndexVersion.load`` (which
adds the rows written since the FAISS file from the store) and checks it finds what the
writer finds. The limit to compare with: writing the add's own rows (``--batch`` x 256 x 2
bytes of float16 plus ids).

Usage::

    .venv/bin/python bench/bench_index_add.py [--garments 200000] [--adds 60] [--batch 30]

Run it from another checkout's root (``PYTHONPATH=that/checkout``) to compare code versions
on the same machine in the same session.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

if not os.environ.get("PYTHONPATH"):  # PYTHONPATH=other/checkout runs that checkout's code
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

INFO = {"name": "bench:256", "version": "bench-256", "dim": 256}


def _unit(rng: np.random.Generator, n: int, dim: int) -> np.ndarray:
    vectors = rng.standard_normal((n, dim)).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def _bytes_on_disk(path: Path) -> dict[str, int]:
    return {p.name: p.stat().st_size for p in path.iterdir() if p.is_file()}


def run(garments: int, adds: int, batch: int, seed: int = 0) -> dict[str, object]:
    from inference.index import (
        GarmentIndex,
        IndexConfig,
        IndexVersion,
        activate_version,
        index_root,
        read_current,
        write_version,
    )

    rng = np.random.default_rng(seed)
    config = IndexConfig.load()
    config.reload_check_s = 0.0
    with tempfile.TemporaryDirectory(prefix="bench-index-add-") as tmp:
        data_dir = Path(tmp)
        started = time.perf_counter()
        version = write_version(data_dir, np.arange(1, garments + 1), _unit(rng, garments, 256), INFO, config,
                                progress=False)
        activate_version(data_dir, version.name)
        build_s = time.perf_counter() - started
        index = GarmentIndex(data_dir, config, INFO)
        index.version()
        path = index_root(data_dir) / read_current(data_dir)
        seconds, written = [], []
        next_id = garments + 1
        for _ in range(adds):
            before = _bytes_on_disk(path)
            vectors = _unit(rng, batch, 256)
            started = time.perf_counter()
            index.add(np.arange(next_id, next_id + batch), vectors)
            seconds.append(time.perf_counter() - started)
            after = _bytes_on_disk(path)
            written.append(sum(size for name, size in after.items() if before.get(name) != size))
            next_id += batch
        started = time.perf_counter()
        loaded = IndexVersion.load(path, config)
        load_s = time.perf_counter() - started
        queries = _unit(rng, 20, 256)
        agree = bool(np.array_equal(loaded.search(queries, 10)[1], index.version().search(queries, 10)[1]))
        meta = json.loads((path / "meta.json").read_text())
    seconds.sort()
    return {
        "garments": garments,
        "factory": meta["factory"],
        "build_s": round(build_s, 2),
        "adds": adds,
        "batch": batch,
        "add_s_median": round(statistics.median(seconds), 4),
        "add_s_p90": round(seconds[int(0.9 * (len(seconds) - 1))], 4),
        "add_s_max": round(seconds[-1], 4),
        "written_mb_per_add": round(statistics.mean(written) / 2**20, 3),
        "own_rows_mb": round(batch * (256 * 2 + 8) / 2**20, 4),
        "segments_after": len(meta["segments"]),
        "load_s": round(load_s, 2),
        "loaded_agrees": agree,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--garments", type=int, nargs="+", default=[200_000])
    parser.add_argument("--adds", type=int, default=60)
    parser.add_argument("--batch", type=int, default=30, help="garments per add (one video: 10 frames x 3)")
    args = parser.parse_args(argv)
    import inference

    print(f"machine: {platform.machine()}, {os.cpu_count()} CPUs; code: {Path(inference.__file__).parents[1]}")
    for garments in args.garments:
        print(json.dumps(run(garments, args.adds, args.batch)), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
