"""Peak memory of ``Encoder.encode_images`` against the number of images (the library API).

Each run is a fresh process that encodes N generated images (a generator: the caller holds
none of them) and reports its peak resident memory; runs alternate small and large N.
``--batch-size`` sets the encoder's internal batch (``0``: all N in one batch, what
``encode_images`` did before it batched internally).

Usage::

    .venv/bin/python bench/bench_encode_memory.py [--counts 100 2000] [--encoder stylescope-default]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CHILD = """
import json, resource, sys, time
import numpy as np
from models import create_encoder
count, batch_size, spec = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
encoder = create_encoder(spec)
encoder.batch_size = batch_size or count
rng = np.random.default_rng(0)
images = (rng.integers(0, 255, (160, 120, 3), dtype=np.uint8) for _ in range(count))
started = time.perf_counter()
vectors = encoder.encode_images(images)
print(json.dumps({"count": count, "shape": list(vectors.shape), "seconds": time.perf_counter() - started,
                  "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--counts", type=int, nargs="+", default=[100, 2000])
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--encoder", default="stylescope-default")
    parser.add_argument("--rounds", type=int, default=1)
    args = parser.parse_args()
    env = {**os.environ, "PYTHONPATH": str(REPO), "HF_HUB_OFFLINE": "1"}
    results: dict[int, list[dict]] = {c: [] for c in args.counts}
    for round_no in range(args.rounds):
        order = args.counts if round_no % 2 == 0 else args.counts[::-1]
        for count in order:
            done = subprocess.run([sys.executable, "-c", CHILD, str(count), str(args.batch_size), args.encoder],
                                  cwd=REPO, env=env, capture_output=True, text=True, check=True)
            results[count].append(json.loads(done.stdout.strip().splitlines()[-1]))
    print(f"encoder {args.encoder}, batch size {args.batch_size or 'all'}, {os.cpu_count()} cores, "
          f"load average {os.getloadavg()[0]:.1f}\n")
    print("| images | peak memory | encode time |\n|---|---|---|")
    for count, runs in results.items():
        peak = max(r["peak_mb"] for r in runs)
        seconds = min(r["seconds"] for r in runs)
        print(f"| {count:,} | {peak:.0f} MB | {seconds:.1f} s ({count / seconds:.0f} img/s) |")


if __name__ == "__main__":
    main()
