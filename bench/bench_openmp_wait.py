"""How OpenMP's wait policy changes the encoder's speed: idle threads spinning vs sleeping.

torch and FAISS each load their own OpenMP runtime; by default an idle OpenMP thread spins
for a while before it sleeps. On a machine whose cores are busy with other work, a thread
spinning at a barrier holds a core the threads it waits for need. The CLI and the app set
``OMP_WAIT_POLICY=PASSIVE`` unless the user set it (core.process.passive_openmp_waits).

Each arm runs in its own process (the policy is read when OpenMP loads), arms interleaved
and their order rotated, ``--rounds`` rounds. Per arm, medians of: a forward pass of 32
garment crops, a forward pass of one crop, and a whole image search (query image read,
localised, embedded, searched, joined) answered on a long-lived thread, as the app's
worker threads answer them. The load average is recorded with each round.

    PYTHONPATH=. .venv/bin/python bench/bench_openmp_wait.py --data-dir DATA_DIR [--rounds 4] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

ARMS = ("ACTIVE", "PASSIVE")


def measure(data_dir: str, repeats: int) -> dict[str, float]:
    """One arm's figures, in this process (its OpenMP policy is what the environment says)."""
    import queue
    import threading

    from app import handlers
    from app.services import Services
    from inference.images import load_image

    services = Services.open(data_dir, None)
    services.warm_up().join()
    encoder = services.encoder
    paths = sorted(str(p) for p in Path(data_dir, "crops").rglob("*.jpg"))
    crops = [load_image(p) for p in paths[:32]]
    batch = encoder.preprocess_images(crops)
    encoder.encode_preprocessed(batch)

    def timed(call) -> float:
        started = time.perf_counter()
        call()
        return time.perf_counter() - started

    batch_s = [timed(lambda: encoder.encode_preprocessed(batch)) for _ in range(repeats)]
    singles = [encoder.preprocess_images([c]) for c in crops[:repeats * 3]]
    single_s = [timed(lambda s=s: encoder.encode_preprocessed(s)) for s in singles]
    filters = handlers.search_filters("", "", [], [], [])
    jobs: queue.Queue[str | None] = queue.Queue()
    times: queue.Queue[float] = queue.Queue()

    def worker() -> None:  # a long-lived thread, like the app's
        while (path := jobs.get()) is not None:
            times.put(timed(lambda: handlers.search(services, path, None, filters, 12, False)))

    thread = threading.Thread(target=worker, daemon=True)
    thread.start()
    search_s = []
    for path in paths[:: max(1, len(paths) // (repeats * 3))][: repeats * 3]:
        jobs.put(path)
        search_s.append(times.get())
    jobs.put(None)
    services.close()
    return {"batch32_s": statistics.median(batch_s), "single_s": statistics.median(single_s),
            "image_search_s": statistics.median(search_s)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", required=True, help="an ingested data directory (read only)")
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=5, help="timed calls of each kind per arm and round")
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--arm", choices=ARMS, help=argparse.SUPPRESS)  # one arm, in a child process
    args = parser.parse_args(argv)
    if args.arm:
        print(json.dumps(measure(args.data_dir, args.repeats)))
        return 0
    rounds = []
    for n in range(args.rounds):
        order = ARMS if n % 2 == 0 else ARMS[::-1]
        row: dict[str, object] = {"order": list(order), "load_before": round(os.getloadavg()[0], 1)}
        for arm in order:
            env = {**os.environ, "OMP_WAIT_POLICY": arm}
            out = subprocess.run([sys.executable, __file__, "--data-dir", args.data_dir, "--repeats", str(args.repeats),
                                  "--arm", arm], env=env, capture_output=True, text=True, check=True)
            row[arm] = json.loads(out.stdout.strip().splitlines()[-1])
        rounds.append(row)
        print(json.dumps(row), flush=True)
    summary = {key: {arm: round(statistics.median(r[arm][key] for r in rounds), 4) for arm in ARMS}  # type: ignore[index]
               for key in ("batch32_s", "single_s", "image_search_s")}
    result = {"machine": f"{platform.machine()} {os.cpu_count()} CPUs", "rounds": rounds, "median": summary,
              "active_over_passive": {k: round(v["ACTIVE"] / v["PASSIVE"], 2) for k, v in summary.items()}}
    print(json.dumps(result["median"]), json.dumps(result["active_over_passive"]))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
