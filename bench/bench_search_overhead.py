"""What the search path adds over the raw FAISS call it makes, at 1M garments.

Arms, on one index and one set of queries:
- ``raw``: ``IndexVersion.raw_search`` at the fetch the search makes (k x de-duplication
  factor x re-rank factor candidates), on the same FAISS thread count as search;
- ``search``: ``Searcher.search_vector`` with de-duplication on (the default): selection
  check, FAISS, exact re-ranking, de-duplication, the catalog join, strength rating;
- with ``--no-dedup`` also ``raw_k`` / ``search_plain`` (fetch k x re-rank factor).

Every query is timed in every arm back to back, the arms' order rotated from query to query
and from round to round, so no arm always runs on the caches another just warmed. Each
round gives each arm's p50 and the ratio search / raw; the report gives the median ratio
over rounds with its range, and the median per-query overhead (search - raw, same query)
in microseconds. ``--profile`` adds a cProfile of the search arm.

``--against DIR`` compares two versions of the code on the same data: this benchmark runs
``--runs`` times from this checkout and from DIR (e.g. ``git archive main | tar -x -C DIR``)
in turn, each in a fresh process, which goes first alternating, and reports each run.

Build the data directory first (random unit vectors: the overhead does not depend on what
the vectors mean; drop ``--random`` for embedded Fashion-MNIST images)::

    .venv/bin/python bench/bench_index.py --phase build --random --work-dir /tmp/s16
    .venv/bin/python bench/bench_search_overhead.py --work-dir /tmp/s16 [--rounds 7] [--clock cpu]
    .venv/bin/python bench/bench_search_overhead.py --work-dir /tmp/s16 --clock cpu --against /tmp/prev --runs 4
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import pstats
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_index import StoredEncoder, interleaved


def summary(times: dict[str, np.ndarray], arm: str, base: str) -> dict[str, Any]:
    """Median ratio of per-round p50s (with its range) and the median per-query overhead."""
    ratios = np.median(times[arm], axis=1) / np.median(times[base], axis=1)
    overhead_us = (times[arm] - times[base]) * 1e6
    return {
        "p50_ms": round(float(np.median(times[arm])) * 1e3, 3),
        "raw_p50_ms": round(float(np.median(times[base])) * 1e3, 3),
        "ratio_median": round(float(np.median(ratios)), 3),
        "ratio_range": [round(float(ratios.min()), 3), round(float(ratios.max()), 3)],
        "ratio_rounds": [round(float(x), 3) for x in ratios],
        "overhead_us_median": round(float(np.median(overhead_us)), 1),
        "p99_ms": round(float(np.percentile(times[arm], 99)) * 1e3, 3),
        "raw_p99_ms": round(float(np.percentile(times[base], 99)) * 1e3, 3),
    }


def compare(args: argparse.Namespace, argv: list[str]) -> int:
    """Run this benchmark from this checkout and from ``args.against`` in turn, each in a
    fresh process, which goes first alternating; print one line per run and the medians."""
    passed, skip = [], False
    for arg in argv:  # the arguments, less --against / --runs / --out and their values
        if skip:
            skip = False
        elif arg in ("--against", "--runs", "--out"):
            skip = True
        elif not arg.startswith(("--against=", "--runs=", "--out=")):
            passed.append(arg)
    here = Path(__file__).resolve().parents[1]
    checkouts = {"this": here, "against": args.against.resolve()}
    reports: dict[str, list[dict[str, Any]]] = {"this": [], "against": []}
    for run in range(args.runs):
        for name in ("this", "against") if run % 2 == 0 else ("against", "this"):
            root = checkouts[name]
            out = Path(tempfile.gettempdir()) / f"bench_search_overhead_{os.getpid()}.json"
            subprocess.run([sys.executable, str(root / "bench" / "bench_search_overhead.py"), *passed, "--out", str(out)],
                           cwd=root, env={**os.environ, "PYTHONPATH": str(root)}, check=True, stdout=subprocess.DEVNULL)
            report = json.loads(out.read_text())
            out.unlink()
            reports[name].append(report)
            dedup = report["dedup"]
            print(f"run {run + 1} {name:7s} load {report['load_average'][0]:5.1f}  search/raw {dedup['ratio_median']:.3f} "
                  f"(rounds {dedup['ratio_range'][0]:.3f}-{dedup['ratio_range'][1]:.3f})  +{dedup['overhead_us_median']:.0f} us  "
                  f"search {dedup['p50_ms']:.3f} ms, raw {dedup['raw_p50_ms']:.3f} ms", flush=True)
    for name, runs in reports.items():
        ratios = [r["dedup"]["ratio_median"] for r in runs]
        overheads = [r["dedup"]["overhead_us_median"] for r in runs]
        print(f"{name} ({checkouts[name]}): median search/raw {float(np.median(ratios)):.3f} "
              f"(runs {min(ratios):.3f}-{max(ratios):.3f}), median +{float(np.median(overheads)):.0f} us")
    if args.out:
        args.out.write_text(json.dumps(reports, indent=2))
    return 0


def main(argv: list[str] | None = None) -> int:
    from inference.index import IndexConfig, faiss_threads, index_root, read_current, read_meta
    from inference.search import SearchConfig, Searcher

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work-dir", type=Path, default=Path("/tmp/stylescope-bench-index"))
    parser.add_argument("--garments", type=int, default=1_000_000)
    parser.add_argument("--data-dir", type=Path, default=None, help="default: WORK_DIR/data_GARMENTS")
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--no-dedup", action="store_true", help="also time search without de-duplication")
    parser.add_argument("--profile", action="store_true", help="cProfile the search arm afterwards")
    parser.add_argument("--clock", choices=("wall", "cpu"), default="wall",
                        help="cpu: this thread's CPU time per call, not inflated by a busy machine's preemptions")
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--against", type=Path, default=None,
                        help="another checkout of the code: run this benchmark from it and from here in turn")
    parser.add_argument("--runs", type=int, default=4, help="with --against: runs of each")
    args = parser.parse_args(argv)
    if args.against is not None:
        return compare(args, [a for a in (argv if argv is not None else sys.argv[1:])])
    data_dir = args.data_dir or args.work_dir / f"data_{args.garments}"
    queries = np.load(args.work_dir / "queries.npy")[: args.queries]
    meta = read_meta(index_root(data_dir) / str(read_current(data_dir)))
    config, search_config = IndexConfig.load(), SearchConfig.load()
    searcher = Searcher(data_dir, StoredEncoder(meta["encoder"]), search_config, config)
    version = searcher.index.version()
    k, threads = args.k, search_config.query_threads
    fetch = k * search_config.dedup_fetch_factor  # what search asks the index for
    raw_fetch = fetch * config.rerank_factor  # what the index asks FAISS for

    def raw(q: np.ndarray, n: int = raw_fetch) -> object:
        with faiss_threads(threads):
            return version.raw_search(q[None], n)

    arms: dict[str, Callable[[np.ndarray], object]] = {
        "raw": raw,
        "search": lambda q: searcher.search_vector(q, k),
    }
    if args.no_dedup:
        arms["raw_k"] = lambda q: raw(q, k * config.rerank_factor)
        arms["search_plain"] = lambda q: searcher.search_vector(q, k, dedupe=False)
    interleaved(arms, queries[:30], 1)  # warm up
    load = os.getloadavg()
    times = interleaved(arms, queries, args.rounds, time.thread_time if args.clock == "cpu" else time.perf_counter)
    report: dict[str, Any] = {
        "garments": len(version),
        "factory": version.meta["factory"],
        "nprobe": config.nprobe,
        "k": k,
        "fetch": fetch,
        "raw_fetch": raw_fetch,
        "query_threads": threads,
        "queries": len(queries),
        "rounds": args.rounds,
        "clock": args.clock,
        "load_average": [round(x, 1) for x in load],
        "cpus": os.cpu_count(),
        "dedup": summary(times, "search", "raw"),
    }
    if args.no_dedup:
        report["plain"] = summary(times, "search_plain", "raw_k")
    print(json.dumps(report, indent=2))
    if args.out:
        args.out.write_text(json.dumps(report, indent=2))
    if args.profile:
        profiler = cProfile.Profile()
        profiler.enable()
        for _ in range(5):
            for q in queries:
                searcher.search_vector(q, k)
        profiler.disable()
        text = io.StringIO()
        pstats.Stats(profiler, stream=text).sort_stats("tottime").print_stats(30)
        print(text.getvalue())
    searcher.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
