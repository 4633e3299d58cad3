"""Benchmarks of the trends stage: speed on a synthetic catalog, quality on a creator world.

Speed (``speed``): a catalog of ~100k garments (tops, bottoms and full outfits from 10k
videos of 400 creators over 90 days, styles with rising / flat / fading shares) is written
straight into SQLite, with embeddings drawn around per-style directions. Timed: the full
clustering + naming run, incremental assignment of 1k new garments, the trend report and
the creator report.

Quality (``world``): a creator world ingested into a data directory (``stylescope world
generate`` + ``stylescope ingest``), scored by ``training.world_eval`` for each clustering
variant (k-means / density x per kind / per outfit): NMI/ARI, originator top-1/top-3 over
the styles that truly rose, rising precision / recall / days late, and the share of true
trendsetters in the top 10% of the leaderboard.

    .venv/bin/python bench/bench_trends.py speed [--garments 100000] [--encoder tiny:256]
    .venv/bin/python bench/bench_trends.py world --world WORLD_DIR --data-dir DATA_DIR
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import json
import logging
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from inference import creators as creators_mod
from inference import forecast as forecast_mod
from inference import trends as trends_mod
from inference.catalog import Catalog
from inference.trend_reports import creators_report, trends_report

logger = logging.getLogger("bench_trends")
KINDS = ("top", "bottom", "full")


# --------------------------------------------------------------------------------------
# speed
# --------------------------------------------------------------------------------------
@dataclasses.dataclass
class SyntheticCatalog:
    ids: np.ndarray
    vectors: np.ndarray
    next_video: int


def _style_day_weights(n_styles: int, days: int, rng: np.random.Generator) -> np.ndarray:
    """(styles, days) relative popularity: a third rising, a third flat, a third fading."""
    t = np.arange(days)[None, :]
    start = rng.integers(10, days - 20, size=(n_styles, 1))
    rising = 1.0 / (1.0 + np.exp(-(t - start - 10) / 4.0))
    fading = 1.0 - rising
    shapes = rng.integers(0, 3, size=(n_styles, 1))
    return np.where(shapes == 0, rising, np.where(shapes == 1, 0.5, fading)) + 0.02


def build_synthetic(data_dir: Path, garments: int, dim: int, styles: int, seed: int = 0) -> SyntheticCatalog:
    """Write a synthetic catalog with ~``garments`` garments straight into SQLite."""
    rng = np.random.default_rng(seed)
    days, creators = 90, 400
    frames_per_video = 3
    videos = max(1, garments // (frames_per_video * len(KINDS)))
    centres = rng.normal(size=(styles, len(KINDS), dim))
    centres /= np.linalg.norm(centres, axis=-1, keepdims=True)
    weights = _style_day_weights(styles, days, rng)
    video_days = np.sort(rng.integers(0, days, size=videos))
    handles = [f"creator{i:03d}" for i in range(creators)]
    followers = (10 ** rng.uniform(3, 6.5, size=creators)).astype(int)
    start = dt.date(2026, 3, 2)
    ids, vectors = [], []
    catalog = Catalog(data_dir)
    with catalog.transaction() as tx:
        tx.executemany("INSERT INTO creators(id, handle, followers, updated_at) VALUES (?, ?, ?, 'x')",
                       [(i + 1, h, int(f)) for i, (h, f) in enumerate(zip(handles, followers, strict=True))])
        garment_id = frame_id = 0
        for v, day in enumerate(video_days, start=1):
            p = weights[:, day] / weights[:, day].sum()
            style = int(rng.choice(styles, p=p))
            creator = int(rng.integers(creators)) + 1
            posted = (start + dt.timedelta(days=int(day))).isoformat()
            tx.execute("INSERT INTO videos(id, creator_id, source_path, content_hash, posted_at, status, "
                       "created_at) VALUES (?, ?, ?, ?, ?, 'done', 'x')", (v, creator, f"v{v}.mp4", f"h{v}", posted))
            for f in range(frames_per_video):
                frame_id += 1
                tx.execute("INSERT INTO frames(id, video_id, t_s, segment, sharpness, phash, width, height) "
                           "VALUES (?, ?, ?, 0, 1.0, '0', 288, 512)", (frame_id, v, 0.5 * f))
                for k, kind in enumerate(KINDS):
                    garment_id += 1
                    tx.execute("INSERT INTO garments(id, frame_id, video_id, kind, x0, y0, x1, y1, method, score, "
                               "crop_path) VALUES (?, ?, ?, ?, 0, 0, 10, 10, 'bench', 1.0, ?)",
                               (garment_id, frame_id, v, kind, f"crops/{v}/{garment_id}.jpg"))
                    ids.append(garment_id)
                    vectors.append(centres[style, k])
    catalog.close()
    vectors_array = np.asarray(vectors, np.float32)
    vectors_array += rng.normal(scale=0.6 / np.sqrt(dim), size=vectors_array.shape).astype(np.float32)
    return SyntheticCatalog(np.asarray(ids, np.int64), trends_mod.normalise(vectors_array), len(video_days) + 1)


def add_new_garments(data_dir: Path, synthetic: SyntheticCatalog, count: int, seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Append ``count`` garments (new videos on the last day) near existing ones."""
    rng = np.random.default_rng(seed)
    catalog = Catalog(data_dir)
    base_garment = int(synthetic.ids.max())
    base_frame = int(catalog.conn.execute("SELECT MAX(id) FROM frames").fetchone()[0])
    new_ids = []
    with catalog.transaction() as tx:
        for n in range(count):
            v = synthetic.next_video + n
            tx.execute("INSERT INTO videos(id, creator_id, source_path, content_hash, posted_at, status, created_at) "
                       "VALUES (?, 1, ?, ?, '2026-05-30', 'done', 'x')", (v, f"n{v}.mp4", f"n{v}"))
            tx.execute("INSERT INTO frames(id, video_id, t_s, segment, sharpness, phash, width, height) "
                       "VALUES (?, ?, 0.5, 0, 1.0, '0', 288, 512)", (base_frame + n + 1, v))
            tx.execute("INSERT INTO garments(id, frame_id, video_id, kind, x0, y0, x1, y1, method, score, crop_path) "
                       "VALUES (?, ?, ?, 'top', 0, 0, 10, 10, 'bench', 1.0, 'x.jpg')", (base_garment + n + 1, base_frame + n + 1, v))
            new_ids.append(base_garment + n + 1)
    catalog.close()
    tops = np.flatnonzero(np.arange(len(synthetic.ids)) % 3 == 0)
    source = synthetic.vectors[rng.choice(tops, count)]
    noise = rng.normal(scale=0.2 / np.sqrt(source.shape[1]), size=source.shape).astype(np.float32)
    return np.concatenate([synthetic.ids, new_ids]), np.concatenate([synthetic.vectors, trends_mod.normalise(source + noise)])


def _timed(label: str, results: dict[str, float], fn: Any, *args: Any, **kwargs: Any) -> Any:
    start = time.perf_counter()
    out = fn(*args, **kwargs)
    results[label] = round(time.perf_counter() - start, 3)
    logger.info("%s: %.2f s", label, results[label])
    return out


def run_speed(args: argparse.Namespace) -> dict[str, Any]:
    from models import create_encoder

    encoder = create_encoder(args.encoder)
    config = trends_mod.load_config()
    results: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp)
        synthetic = _timed("build catalog (fixture)", results, build_synthetic, data_dir, args.garments, encoder.dim, args.styles)
        with Catalog(data_dir) as catalog:
            run = _timed("full clustering + naming", results, trends_mod.recluster, catalog, synthetic.ids,
                         synthetic.vectors, config, encoder)
            ids, vectors = add_new_garments(data_dir, synthetic, 1000)
            assigned = _timed("incremental assignment of 1k", results, trends_mod.assign_new_garments, catalog, ids, vectors)
            _timed("trend report", results, trends_report, catalog, config, forecast_mod.load_config())
            _timed("creator report", results, creators_report, catalog, config, creators_mod.load_config())
    return {
        "garments": len(synthetic.ids),
        "true_styles": args.styles * len(KINDS),
        "styles_found": len(run.styles),
        "assigned_of_1k": assigned.assigned,
        "encoder": encoder.describe(),
        "seconds": results,
    }


# --------------------------------------------------------------------------------------
# quality on a creator world
# --------------------------------------------------------------------------------------
def world_metrics(catalog: Catalog, answer: Any, config: trends_mod.TrendsConfig,
                  creators_config: creators_mod.CreatorsConfig) -> dict[str, Any]:
    """Score the catalog's current styles against the world's answer key."""
    from training import world_eval

    found = world_eval.found_garments(catalog.garments())
    predicted = dict(catalog.conn.execute("SELECT garment_id, style_id FROM garment_styles").fetchall())
    data = trends_mod.load_trend_data(catalog, min_frames=config.series.min_frames_per_video)
    trends = trends_mod.rising_styles(data, config.rising)
    adoptions = creators_mod.adoptions_by_style(data, creators_config)
    origins = creators_mod.originators(data, creators_config, adoptions)
    rankings = {sid: [o.originator.creator] + [a.creator for a in o.runners_up] for sid, o in origins.items()}
    flagged = {t.style_id: t.takeoff for t in trends if t.takeoff is not None}
    report = world_eval.evaluate(answer, found, predicted, rankings, flagged).to_dict()
    board = creators_mod.trendsetters(adoptions, trends, creators_config)
    setters = {c.handle for c in answer.creators if c.is_trendsetter}
    top = {t.creator for t in board[: max(1, round(0.1 * len(board)))]}
    report["trendsetters"] = {
        "true": len(setters),
        "ranked": len(board),
        "in_top_10pct": len(setters & top) / len(setters) if setters else None,
        "top_10pct_precision": len(setters & top) / len(top) if top else None,
    }
    report.pop("boxes", None)
    return report


def run_world(args: argparse.Namespace) -> dict[str, Any]:
    from inference.index import load_embeddings
    from training import world_eval

    answer = world_eval.load_answer_key(args.world)
    ids, vectors, encoder_info = load_embeddings(args.data_dir)
    encoder = trends_mod._naming_encoder(encoder_info)
    results: dict[str, Any] = {"encoder": encoder_info, "variants": {}}
    variants = [(m, g) for m in args.methods.split(",") for g in args.groupings.split(",")]
    with Catalog(args.data_dir) as catalog:
        for method, group_by in variants:
            config = trends_mod.load_config()
            config.cluster.method, config.cluster.group_by = method, group_by
            start = time.perf_counter()
            run = trends_mod.recluster(catalog, ids, vectors, config, encoder)
            seconds = time.perf_counter() - start
            metrics = world_metrics(catalog, answer, config, creators_mod.load_config())
            metrics["styles"] = len(run.styles)
            metrics["cluster_seconds"] = round(seconds, 2)
            results["variants"][f"{method}/{group_by}"] = metrics
            logger.info("%s/%s: %s", method, group_by, json.dumps(_summary(metrics)))
    return results


def _summary(metrics: dict[str, Any]) -> dict[str, Any]:
    c, o, r, t = (metrics.get(k) or {} for k in ("clusters", "originators", "rising", "trendsetters"))
    return {
        "styles": metrics.get("styles"), "nmi": c.get("nmi"), "coverage": c.get("coverage"),
        "orig_top1": o.get("top1"), "orig_top3": o.get("top3"),
        "rise_precision": r.get("precision"), "rise_recall": r.get("recall"),
        "within_7d": r.get("within_7_days"), "mean_days_late": r.get("mean_days_late"),
        "setters_top10": t.get("in_top_10pct"),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="what", required=True)
    speed = sub.add_parser("speed")
    speed.add_argument("--garments", type=int, default=100_000)
    speed.add_argument("--styles", type=int, default=40, help="true outfit styles (x3 garment kinds)")
    speed.add_argument("--encoder", default="tiny:256", help="encoder whose text tower names the styles")
    world = sub.add_parser("world")
    world.add_argument("--world", required=True)
    world.add_argument("--data-dir", required=True)
    world.add_argument("--methods", default="kmeans,density")
    world.add_argument("--groupings", default="kind,outfit")
    parser.add_argument("--out", default=None, help="write the JSON results here too")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s", datefmt="%H:%M:%S")
    results = run_speed(args) if args.what == "speed" else run_world(args)
    if args.what == "world":
        results["summary"] = {k: _summary(v) for k, v in results["variants"].items()}
    text = json.dumps(results, indent=2, default=str)
    print(text)
    if args.out:
        Path(args.out).write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
