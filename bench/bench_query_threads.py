"""Single-query search latency on an exact index: one FAISS thread against FAISS's default.

FAISS splits even one query over every core by default; on a busy machine that search
waits until all cores are free. ``search.query_threads`` (default 1) runs a single query on
one thread. Rounds alternate which setting goes first; the table gives p50 / p90.

Usage::

    .venv/bin/python bench/bench_query_threads.py [--sizes 1281 10000] [--rounds 400]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main() -> None:
    import faiss

    from inference.index import faiss_threads

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1281, 10_000])
    parser.add_argument("--dim", type=int, default=256)
    parser.add_argument("--k", type=int, default=30, help="hits fetched (k 10 x de-duplication factor 3)")
    parser.add_argument("--rounds", type=int, default=400)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    print(f"{os.cpu_count()} cores, FAISS default {faiss.omp_get_max_threads()} threads, "
          f"load average {os.getloadavg()[0]:.1f}\n")
    print("| garments | 1 thread p50 / p90 | default threads p50 / p90 |\n|---|---|---|")
    for size in args.sizes:
        vectors = rng.standard_normal((size, args.dim)).astype(np.float32)
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        index = faiss.index_factory(args.dim, "IDMap2,Flat", faiss.METRIC_INNER_PRODUCT)
        index.add_with_ids(vectors, np.arange(size))
        times: dict[int, list[float]] = {1: [], 0: []}
        for round_no in range(args.rounds):
            for threads in (1, 0) if round_no % 2 else (0, 1):
                query = vectors[round_no % size : round_no % size + 1]
                with faiss_threads(threads):
                    started = time.perf_counter()
                    index.search(query, args.k)
                    times[threads].append((time.perf_counter() - started) * 1000)
        cells = [f"{statistics.median(t):.3f} / {np.percentile(t, 90):.3f} ms" for t in (times[1], times[0])]
        print(f"| {size:,} | {cells[0]} | {cells[1]} |")


if __name__ == "__main__":
    main()
