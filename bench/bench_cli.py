"""CLI cold-start benchmark: wall time and peak memory of one fresh ``stylescope`` process per command.

Every command runs as a new process (what a user at a shell gets), next to the reference
``python -c "import torch"``. Rounds interleave the commands and rotate their order, so no
command always runs first (on a cold cache) or last; the table shows the median and the range
over rounds, and each command's median as a multiple of the torch import.

Usage::

    .venv/bin/python bench/bench_cli.py --data-dir ~/.local/share/stylescope [--rounds 5] [--json OUT]
    # side by side with another checkout (e.g. a worktree of the code before a change):
    .venv/bin/python bench/bench_cli.py --data-dir DIR --baseline /path/to/other/checkout

The data dir should hold a deployment (``stylescope demo --no-serve`` builds one); the
commands only read it.
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

REPO = Path(__file__).resolve().parents[1]


def commands(data_dir: str) -> dict[str, list[str]]:
    """Name -> argv (after the interpreter) of every command measured."""
    cli = ["-m", "app.cli"]
    data = ["--data-dir", data_dir]
    return {
        "import torch (reference)": ["-c", "import torch"],
        "--help": [*cli, "--help"],
        "search --help": [*cli, "search", "--help"],
        "search, bad argument": [*cli, "search", "--text", "red", "--from", "2024-13-01", *data],
        "index info": [*cli, "index", "info", *data],
        "trends": [*cli, "trends", *data],
        "creators": [*cli, "creators", *data],
        "search --text": [*cli, "search", "--text", "red plaid mini skirt", *data],
    }


def run_once(argv: list[str], repo: Path = REPO) -> tuple[float, float, int]:
    """Wall seconds, peak resident MB and exit code of one fresh process running ``repo``'s code."""
    env = {**os.environ, "PYTHONPATH": str(repo), "GRADIO_ANALYTICS_ENABLED": "False",
           "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    started = time.perf_counter()
    process = subprocess.Popen([sys.executable, *argv], cwd=repo, env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    return wall, usage.ru_maxrss / 1024, process.returncode


def measure(named: dict[str, tuple[list[str], Path]], rounds: int) -> dict[str, dict[str, list[float]]]:
    """Every command once per round, the order rotated by one each round."""
    names = list(named)
    results: dict[str, dict[str, list[float]]] = {n: {"wall_s": [], "peak_mb": [], "exit": []} for n in names}
    for round_no in range(rounds):
        shift = round_no % len(names)
        for name in names[shift:] + names[:shift]:
            wall, peak, code = run_once(*named[name])
            results[name]["wall_s"].append(wall)
            results[name]["peak_mb"].append(peak)
            results[name]["exit"].append(code)
            print(f"round {round_no + 1}/{rounds}  {name:<26} {wall:6.2f} s {peak:7.0f} MB  exit {code}",
                  file=sys.stderr)
    return results


def table(results: dict[str, dict[str, list[float]]]) -> str:
    """Markdown: median wall time (range), multiple of the torch import, median peak memory."""
    reference = statistics.median(results["import torch (reference)"]["wall_s"])
    lines = ["| command | wall, median (range) | x import torch | peak memory | exit |",
             "|---|---|---|---|---|"]
    for name, measured in results.items():
        wall = measured["wall_s"]
        median = statistics.median(wall)
        lines.append(f"| `{name}` | {median:.2f} s ({min(wall):.2f}-{max(wall):.2f}) | "
                     f"{median / reference:.2f}x | {statistics.median(measured['peak_mb']):.0f} MB | "
                     f"{sorted(set(int(c) for c in measured['exit']))} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", required=True, help="a deployment (stylescope demo builds one)")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--only", action="append", default=[], help="measure only these commands (by name)")
    parser.add_argument("--json", default=None, help="also write the raw measurements here")
    parser.add_argument("--baseline", default=None, help="another checkout: its commands run interleaved with these")
    parser.add_argument("--baseline-data-dir", default=None,
                        help="the baseline's copy of the deployment (when the two differ in catalog schema)")
    args = parser.parse_args()
    named = {n: (argv, REPO) for n, argv in commands(args.data_dir).items()
             if not args.only or n in args.only or n.startswith("import torch")}
    if args.baseline:
        baseline = commands(args.baseline_data_dir or args.data_dir)
        for name in list(named):
            if not name.startswith("import torch"):
                named[f"{name} (baseline)"] = (baseline[name], Path(args.baseline).resolve())
    results = measure(named, args.rounds)
    print(f"{platform.machine()}, {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}, "
          f"{args.rounds} rounds\n")
    print(table(results))
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
