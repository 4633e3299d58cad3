"""App benchmark through gradio_client: search latency and time from upload to searchable.

Serves the app on a copy of a data directory (e.g. the one ``stylescope demo`` built) and
measures, as a user of the HTTP API sees it:

- text and image search latency, p50 / p95, including the download of the result
  thumbnails (gradio_client fetches every gallery file, one after another), and the
  response alone (thumbnails not fetched), and the time inside the search handler;
- the time from submitting a 10 s clip to the Upload endpoint until a search finds it;
- ``--cold-start ROUNDS``: only the first text and image search after the app starts, against
  warm ones (first / warm median per kind, and the seconds from process start until the
  HTTP API answers), over ROUNDS fresh starts;
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
import subprocess
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


def rss_mb(pid: int | str = "self") -> float:
    """Resident memory of process ``pid`` (default: this one), from /proc."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def load_round(url: str, queries: Sequence[tuple[object, str]], clients: int, per_client: int,
               k: int, server: int | str) -> dict[str, object]:
    """``clients`` threads, each with its own gradio client, ``per_client`` searches each:
    errors, latency, throughput and the memory of the serving process (pid ``server``)."""
    import threading

    from gradio_client import Client

    times: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()
    peak = [rss_mb(server)]

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
                    peak[0] = max(peak[0], rss_mb(server))
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
            "rss_after_mb": round(rss_mb(server))}


def concurrent_load(url: str, queries: Sequence[tuple[object, str]], clients: int, per_client: int,
                    rounds: int, k: int, server: int | str = "self") -> dict[str, object]:
    """:func:`load_round` ``rounds`` times: flat memory means later rounds do not grow."""
    return {"clients": clients, "per_client": per_client, "server_rss_before_mb": round(rss_mb(server)),
            "rounds": [load_round(url, queries, clients, per_client, k, server) for _ in range(rounds)]}


def start_server(data_dir: Path, encoder: str | None) -> tuple[subprocess.Popen[bytes], str]:
    """``stylescope app`` on a free port in its own process; returns it and its URL."""
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    command = [sys.executable, "-m", "app.cli", "app", "--data-dir", str(data_dir), "--port", str(port), "-q"]
    server = subprocess.Popen([*command, *(["--encoder", encoder] if encoder else [])],
                              cwd=Path(__file__).resolve().parents[1], stdout=subprocess.DEVNULL)
    return server, f"http://127.0.0.1:{port}/"


def wait_for_port(server: subprocess.Popen[bytes], url: str, poll_s: float = 1.0) -> None:
    """Until the server accepts connections (exits when it dies or takes over 5 minutes)."""
    import socket

    port = int(url.rstrip("/").rsplit(":", 1)[1])
    deadline = time.monotonic() + 300
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            if server.poll() is not None or time.monotonic() > deadline:
                raise SystemExit("the app did not start") from None
            time.sleep(poll_s)


def api_client(server: subprocess.Popen[bytes], url: str):
    """A gradio client as soon as the HTTP API answers (polled every 50 ms)."""
    from gradio_client import Client

    deadline = time.monotonic() + 300
    while True:
        try:
            return Client(url, verbose=False, download_files=False)
        except Exception:  # not up yet: connection refused, or the page not built
            if server.poll() is not None or time.monotonic() > deadline:
                raise SystemExit("the app did not start") from None
            time.sleep(0.05)


def cold_start(data_dir: Path, encoder: str | None, rounds: int, warm: int, k: int) -> dict[str, object]:
    """The first text and image search right after ``stylescope app`` starts, against warm ones.

    Each round starts the app afresh, waits until its HTTP API answers (the time from the
    process start is reported), then at once times one search of each kind (which kind goes
    first alternates between rounds), then ``warm`` more of each. Responses only, no
    thumbnails. The figure is first / median warm, per kind; a new client's first search on the
    warm server is timed too, since gradio_client's first call in a client costs extra.
    """
    from gradio_client import Client, handle_file

    crops = sorted((data_dir / "crops").rglob("*.jpg"))
    crops = crops[:: max(1, len(crops) // (warm + 1))][: warm + 1]
    kinds = {"text": [(None, TEXT_QUERIES[i % len(TEXT_QUERIES)]) for i in range(warm + 1)],
             "image": [(handle_file(str(crop)), "") for crop in crops]}
    per_round = []
    for n in range(rounds):
        started = time.perf_counter()
        server, url = start_server(data_dir, encoder)
        try:
            client = api_client(server, url)
            page_up = time.perf_counter() - started
            order = ["text", "image"] if n % 2 == 0 else ["image", "text"]
            firsts = {kind: timed_searches(client, kinds[kind][:1], k) for kind in order}
            warms = {kind: timed_searches(client, kinds[kind][1:], k) for kind in order}
            fresh = Client(url, verbose=False, download_files=False)  # a new client's first search, server warm
            fresh_ms = {kind: timed_searches(fresh, kinds[kind][:1], k)[0][0] for kind in order}
            fresh.close()
            first = {kind: firsts[kind][0][0] for kind in order}
            warm_ms = {kind: warms[kind][0] for kind in order}
            client.close()
        finally:
            server.terminate()
            server.wait(timeout=60)
        per_round.append({"order": order, "page_up_s": round(page_up, 2),
                          **{f"{kind}_first_ms": round(first[kind], 1) for kind in order},
                          **{f"{kind}_warm_p50_ms": round(statistics.median(warm_ms[kind]), 1) for kind in order},
                          **{f"{kind}_fresh_client_warm_ms": round(fresh_ms[kind], 1) for kind in order},
                          **{f"{kind}_first_handler_ms": firsts[kind][1][0] for kind in order},
                          **{f"{kind}_warm_handler_p50_ms": statistics.median(warms[kind][1]) for kind in order},
                          **{f"{kind}_ratio": round(first[kind] / statistics.median(warm_ms[kind]), 2)
                             for kind in order}})
    return {"rounds": per_round, "warm_per_round": warm,
            **{f"{kind}_ratio_median": statistics.median(r[f"{kind}_ratio"] for r in per_round)
               for kind in ("text", "image")},
            **{f"{kind}_ratio_max": max(r[f"{kind}_ratio"] for r in per_round) for kind in ("text", "image")},
            "page_up_s_median": statistics.median(r["page_up_s"] for r in per_round)}


def served_load(data_dir: Path, encoder: str | None, args: argparse.Namespace) -> dict[str, object]:
    """The load test against ``stylescope app`` in its own process, so the server's memory is
    read apart from the clients'."""
    from gradio_client import handle_file

    server, url = start_server(data_dir, encoder)
    try:
        wait_for_port(server, url)
        crops = sorted((data_dir / "crops").rglob("*.jpg"))
        crops = crops[:: max(1, len(crops) // args.queries)][: args.queries]
        queries = [q for i, crop in enumerate(crops)
                   for q in ((None, TEXT_QUERIES[i % len(TEXT_QUERIES)]), (handle_file(str(crop)), ""))]
        load_round(url, queries[:6], 1, 6, args.k, server.pid)  # warm-up: model load, caches
        return concurrent_load(url, queries, args.clients, args.per_client, args.rounds, args.k, server.pid)
    finally:
        server.terminate()
        server.wait(timeout=60)


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
    parser.add_argument("--rounds", type=int, default=5, help="load rounds (memory is read after each)")
    parser.add_argument("--load-only", action="store_true", help="only the concurrent load test")
    parser.add_argument("--cold-start", type=int, default=0, metavar="ROUNDS",
                        help="only the first search after start against warm ones, over ROUNDS app starts")
    parser.add_argument("--warm", type=int, default=8, help="warm searches of each kind per cold-start round")
    parser.add_argument("--out", default="bench/out/app.json", help="where to write the JSON figures")
    args = parser.parse_args(argv)

    from gradio_client import Client, handle_file

    from app.services import Services
    from app.ui import build_app, launch

    machine = f"{platform.machine()} {os.cpu_count()} CPUs, shared with other work (noisy)"
    with tempfile.TemporaryDirectory(prefix="bench-app-") as tmp:
        work = Path(tmp)
        data_dir = work / "data"
        shutil.copytree(Path(args.data_dir).expanduser(), data_dir, ignore=shutil.ignore_patterns("world"))
        result: dict[str, object] = {"machine": machine, "k": args.k}
        if args.cold_start:
            result["cold_start"] = cold_start(data_dir, args.encoder, args.cold_start, args.warm, args.k)
        else:
            result["concurrent"] = served_load(data_dir, args.encoder, args)
        if not args.load_only and not args.cold_start:
            services = Services.open(data_dir, args.encoder)
            blocks = build_app(services)
            url = launch(blocks, services, "127.0.0.1", None, block=False, quiet=True)  # None: a free port
            client = Client(url, verbose=False, download_files=str(work / "downloads"))
            bare = Client(url, verbose=False, download_files=False)  # the response alone, no thumbnails
            crops = sorted((data_dir / "crops").rglob("*.jpg"))
            crops = crops[:: max(1, len(crops) // args.queries)]
            texts = [(None, TEXT_QUERIES[i % len(TEXT_QUERIES)]) for i in range(args.queries)]
            images = [(handle_file(str(c)), "") for c in crops[: args.queries]]
            timed_searches(client, texts[:3] + images[:3], args.k)  # warm-up: model load, caches
            result.update({
                "catalog": services.catalog.counts(),
                "encoder": services.encoder.describe(),
                "text_search": summary(timed_searches(client, texts, args.k)),
                "image_search": summary(timed_searches(client, images, args.k)),
                "text_search_response_only": summary(timed_searches(bare, texts, args.k)),
                "image_search_response_only": summary(timed_searches(bare, images, args.k)),
                "upload": upload_to_searchable(client, work, args.clip_seconds),
            })
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
