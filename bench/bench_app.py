"""App benchmark through gradio_client: search latency and time from upload to searchable.

Serves the app on a copy of a data directory (e.g. the one ``stylescope demo`` built) and
measures, as a user of the HTTP API sees it:

- text and image search latency, p50 / p95, including the download of the result
  thumbnails (gradio_client fetches every gallery file, one after another), and the
  response alone (thumbnails not fetched), and the time inside the search handler;
- the time from submitting a 10 s clip to the Upload endpoint until a search finds it;
- ``--clients N`` (default 16): N clients searching at once (text and image, responses only),
  in rounds: errors, latency and the serving process's memory after each round (flat memory:
  later rounds do not grow).

Usage::

    .venv/bin/python bench/bench_app.py --data-dir ~/.local/share/stylescope [--encoder tiny:32]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

TEXT_QUERIES = [
    "red plaid mini skirt", "black leather jacket", "white sneakers", "denim jacket", "floral summer dress",
    "striped t-shirt", "wide-leg trousers", "oversized hoodie", "yellow puffer jacket", "green cargo pants",
    "quiet luxury beige coat", "y2k baby tee", "gorpcore fleece", "checked blazer", "pink satin slip dress",
]


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (0..100), linear interpolation."""
    ordered = sorted(values)
    position = (len(ordered) - 1) * q / 100
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def timed_searches(client, queries: Sequence[tuple[object, str]], k: int) -> tuple[list[float], list[float]]:
    """Milliseconds per search (image, text) as the client sees it, thumbnails downloaded, and
    inside the search handler (what the status line reports)."""
    times, handler = [], []
    for image, text in queries:
        started = time.perf_counter()
        status = client.predict(image, text, "", "", [], [], [], k, False, api_name="/search")[0]
        times.append((time.perf_counter() - started) * 1000)
        inside = re.search(r"(\d+) ms", status)
        handler.append(float(inside.group(1)) if inside else float("nan"))
    return times, handler


def summary(measured: tuple[list[float], list[float]]) -> dict[str, float]:
    times, handler = measured
    return {"n": len(times), "p50_ms": round(percentile(times, 50), 1), "p95_ms": round(percentile(times, 95), 1),
            "mean_ms": round(statistics.fmean(times), 1), "handler_p50_ms": round(percentile(handler, 50), 1),
            "handler_p95_ms": round(percentile(handler, 95), 1)}


def rss_mb() -> float:
    """This process's resident memory (the app is served in-process), from /proc."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def load_round(url: str, queries: Sequence[tuple[object, str]], clients: int, per_client: int,
               k: int) -> dict[str, object]:
    """``clients`` threads, each with its own gradio client, ``per_client`` searches each:
    errors, latency, throughput and the serving process's memory."""
    import threading

    from gradio_client import Client

    times: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()
    peak = [rss_mb()]

    def one(n: int) -> None:
        client = Client(url, verbose=False, download_files=False)
        try:
            for i in range(per_client):
                image, text = queries[(n * per_client + i) % len(queries)]
                started = time.perf_counter()
                try:
                    client.predict(image, text, "", "", [], [], [], k, False, api_name="/search")
                except Exception as exc:  # counted, not raised: the figure is the error count
                    with lock:
                        errors.append(f"{type(exc).__name__}: {exc}"[:200])
                    continue
                with lock:
                    times.append((time.perf_counter() - started) * 1000)
                    peak[0] = max(peak[0], rss_mb())
        finally:
            client.close()

    started = time.perf_counter()
    threads = [threading.Thread(target=one, args=(n,)) for n in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - started
    return {"searches": len(times), "errors": len(errors), "first_errors": errors[:3],
            "p50_ms": round(percentile(times, 50), 1) if times else None,
            "p99_ms": round(percentile(times, 99), 1) if times else None,
            "searches_per_s": round(len(times) / wall, 1), "rss_peak_mb": round(peak[0]),
            "rss_after_mb": round(rss_mb())}


def concurrent_load(url: str, queries: Sequence[tuple[object, str]], clients: int, per_client: int,
                    rounds: int, k: int) -> dict[str, object]:
    """:func:`load_round` ``rounds`` times: flat memory means later rounds do not grow."""
    return {"clients": clients, "per_client": per_client,
            "rounds": [load_round(url, queries, clients, per_client, k) for _ in range(rounds)]}


def upload_to_searchable(client, work: Path, seconds: float) -> dict[str, float]:
    """Seconds from submitting a clip to the upload endpoint until a search returns it."""
    from gradio_client import handle_file

    from world.clips import walking_clip, write_video

    fps = 15
    clip = write_video(work / "ten_seconds.mp4", walking_clip(n=int(seconds * fps), w=360, h=640, seed=123,
                                                               top_colour=(250, 120, 10)), fps=fps)
    day = "2026-06-01"
    started = time.perf_counter()
    summary_text, _ = client.predict([handle_file(str(clip))], "@bench.upload", "20k", day, None, api_name="/upload")
    uploaded = time.perf_counter() - started
    if "1 added" not in summary_text:
        raise RuntimeError(f"upload failed: {summary_text}")
    while True:
        _, _, _, table = client.predict(None, "jacket", day, day, [], [], [], 5, False, api_name="/search")
        if "@bench.upload" in table:
            break
        if time.perf_counter() - started > 600:
            raise RuntimeError("the uploaded clip never became searchable")
        time.sleep(0.1)
    return {"clip_seconds": seconds, "upload_call_s": round(uploaded, 2),
            "upload_to_searchable_s": round(time.perf_counter() - started, 2)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", required=True, help="a data directory with an index (copied, not changed)")
    parser.add_argument("--encoder", default=None, help="encoder spec (default: the index's)")
    parser.add_argument("--queries", type=int, default=40, help="searches of each kind")
    parser.add_argument("--k", type=int, default=12, help="results per search (thumbnails downloaded)")
    parser.add_argument("--clip-seconds", type=float, default=10.0, help="length of the uploaded clip")
    parser.add_argument("--clients", type=int, default=16, help="concurrent search clients in the load test")
    parser.add_argument("--per-client", type=int, default=10, help="searches per client and round")
    parser.add_argument("--rounds", type=int, default=3, help="load rounds (memory is read after each)")
    parser.add_argument("--load-only", action="store_true", help="only the concurrent load test")
    parser.add_argument("--out", default="bench/out/app.json", help="where to write the JSON figures")
    args = parser.parse_args(argv)

    from gradio_client import Client, handle_file

    from app.services import Services
    from app.ui import build_app, launch

    with tempfile.TemporaryDirectory(prefix="bench-app-") as tmp:
        work = Path(tmp)
        data_dir = work / "data"
        shutil.copytree(Path(args.data_dir).expanduser(), data_dir, ignore=shutil.ignore_patterns("world"))
        services = Services.open(data_dir, args.encoder)
        blocks = build_app(services)
        url = launch(blocks, services, "127.0.0.1", None, block=False, quiet=True)  # None: gradio picks a free port
        client = Client(url, verbose=False, download_files=str(work / "downloads"))
        bare = Client(url, verbose=False, download_files=False)  # the response alone, no thumbnails
        crops = sorted((data_dir / "crops").rglob("*.jpg"))[:: max(1, len(list((data_dir / "crops").rglob("*.jpg"))) // args.queries)]
        texts = [(None, TEXT_QUERIES[i % len(TEXT_QUERIES)]) for i in range(args.queries)]
        images = [(handle_file(str(c)), "") for c in crops[: args.queries]]
        timed_searches(client, texts[:3] + images[:3], args.k)  # warm-up: model load, caches
        rss_before = round(rss_mb())
        load = concurrent_load(url, [q for pair in zip(texts, images, strict=False) for q in pair], args.clients,
                               args.per_client, args.rounds, args.k)
        if args.load_only:
            result = {"machine": f"{platform.machine()} {os.cpu_count()} CPUs, shared with other work (noisy)",
                      "catalog": services.catalog.counts(), "encoder": services.encoder.describe(),
                      "rss_before_load_mb": rss_before, "concurrent": load}
        else:
            result = {
                "rss_before_load_mb": rss_before,
                "concurrent": load,
            "machine": f"{platform.machine()} {os.cpu_count()} CPUs, shared with other work (noisy)",
            "catalog": services.catalog.counts(),
            "encoder": services.encoder.describe(),
            "k": args.k,
            "text_search": summary(timed_searches(client, texts, args.k)),
            "image_search": summary(timed_searches(client, images, args.k)),
            "text_search_response_only": summary(timed_searches(bare, texts, args.k)),
            "image_search_response_only": summary(timed_searches(bare, images, args.k)),
            "upload": upload_to_searchable(client, work, args.clip_seconds),
            }
        client.close()
        bare.close()
        blocks.close()
        services.close()
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2, default=str), encoding="utf-8")
    print(json.dumps(result, indent=2, default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
