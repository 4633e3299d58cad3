"""Benchmarks of the trends stage: speed on a synthetic catalog, quality on a creator world.

Speed (``speed``): a catalog of ~100k garments (tops, bottoms and full outfits from 10k
videos of 400 creators over 90 days, styles with rising / flat / fading shares) is written
through the catalog's bulk write (``Catalog.write_videos``), with embeddings drawn around per-style directions. Timed: the full
clustering + naming run, incremental assignment of 1k new garments, the trend report and
the creator report.

Quality (``world``): a creator world ingested into a data directory (``stylescope world
generate`` + ``stylescope ingest``), scored by ``world.scorer`` for each clustering
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

from inference import trends as trends_mod
from inference.catalog import Catalog, FrameRow, GarmentRow, WholeVideo
from inference.trends.kmeans import normalise
from inference.trends.naming import naming_encoder
from inference.types import Box, VideoInfo, VideoSubmission

logger = logging.getLogger("bench_trends")
KINDS = ("top", "bottom", "full")
_INFO = VideoInfo(width=288, height=512, fps=30.0, duration_s=1.5, frame_count=45, rotation=0, codec="bench")


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


def _frame(t_s: float) -> FrameRow:
    return FrameRow(t_s=t_s, segment=0, sharpness=1.0, phash=0, width=288, height=512)


def _garment(frame_index: int, kind: str, crop_path: str) -> GarmentRow:
    return GarmentRow(frame_index, kind, Box(0, 0, 10, 10), "bench", 1.0, crop_path)


def _write_crop(path: Path, colour: np.ndarray, rng: np.random.Generator) -> None:
    import cv2

    path.parent.mkdir(parents=True, exist_ok=True)
    pixels = np.clip(colour[None, None, :] + rng.normal(0, 6, (48, 32, 3)), 0, 255).astype(np.uint8)
    cv2.imwrite(str(path), pixels)


def build_synthetic(data_dir: Path, garments: int, dim: int, styles: int, seed: int = 0,
                    crops: bool = False) -> SyntheticCatalog:
    """Write a synthetic catalog with ~``garments`` garments in one catalog transaction (and, with
    ``crops``, a small crop image per garment in its style's colour, for the lookalike pass to read)."""
    rng = np.random.default_rng(seed)
    days, creators = 90, 400
    frames_per_video = 3
    videos = max(1, garments // (frames_per_video * len(KINDS)))
    centres = rng.normal(size=(styles, len(KINDS), dim))
    centres /= np.linalg.norm(centres, axis=-1, keepdims=True)
    colours = rng.integers(0, 256, size=(styles, len(KINDS), 3))
    weights = _style_day_weights(styles, days, rng)
    video_days = np.sort(rng.integers(0, days, size=videos))
    handles = [f"creator{i:03d}" for i in range(creators)]
    followers = (10 ** rng.uniform(3, 6.5, size=creators)).astype(int)
    start = dt.date(2026, 3, 2)
    frames = [_frame(0.5 * f) for f in range(frames_per_video)]
    videos_, vectors = [], []
    garment_id = 0
    for v, day in enumerate(video_days, start=1):
        p = weights[:, day] / weights[:, day].sum()
        style = int(rng.choice(styles, p=p))
        creator = int(rng.integers(creators))
        posted = start + dt.timedelta(days=int(day))
        garments_ = []
        for f in range(frames_per_video):
            for k, kind in enumerate(KINDS):
                garment_id += 1
                garments_.append(_garment(f, kind, f"crops/{v}/{garment_id}.jpg"))
                vectors.append(centres[style, k])
                if crops:
                    _write_crop(data_dir / f"crops/{v}/{garment_id}.jpg", colours[style, k], rng)
        submission = VideoSubmission(Path(f"v{v}.mp4"), handles[creator], int(followers[creator]), posted)
        videos_.append(WholeVideo(submission, f"h{v}", _INFO, frames, garments_))
    with Catalog(data_dir) as catalog:
        catalog.add_creators((handle, int(count)) for handle, count in zip(handles, followers, strict=True))
        ids = [garment for video in catalog.write_videos(videos_) for garment in video]
    vectors_array = np.asarray(vectors, np.float32)
    vectors_array += rng.normal(scale=0.6 / np.sqrt(dim), size=vectors_array.shape).astype(np.float32)
    return SyntheticCatalog(np.asarray(ids, np.int64), normalise(vectors_array), len(video_days) + 1)


def add_new_garments(data_dir: Path, synthetic: SyntheticCatalog, count: int, seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Append ``count`` garments (new videos on the last day) near existing ones."""
    rng = np.random.default_rng(seed)
    with Catalog(data_dir) as catalog:
        followers = dict(catalog.creators())["creator000"]
        new_videos = [
            WholeVideo(VideoSubmission(Path(f"n{v}.mp4"), "creator000", followers, dt.date(2026, 5, 30)),
                       f"n{v}", _INFO, [_frame(0.5)], [_garment(0, "top", "x.jpg")])
            for v in range(synthetic.next_video, synthetic.next_video + count)
        ]
        new_ids = [garment for video in catalog.write_videos(new_videos) for garment in video]
    tops = np.flatnonzero(np.arange(len(synthetic.ids)) % 3 == 0)
    source = synthetic.vectors[rng.choice(tops, count)]
    noise = rng.normal(scale=0.2 / np.sqrt(source.shape[1]), size=source.shape).astype(np.float32)
    return np.concatenate([synthetic.ids, new_ids]), np.concatenate([synthetic.vectors, normalise(source + noise)])


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
    config.cluster.method = args.method or config.cluster.method
    config.cluster.group_by = args.group_by or config.cluster.group_by
    config.cluster.lookalikes = args.lookalikes
    if args.twin_share is not None:
        config.cluster.twin_share = args.twin_share
    results: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp)
        synthetic = _timed("build catalog (fixture)", results, build_synthetic, data_dir, args.garments, encoder.dim, args.styles,
                            crops=args.lookalikes)
        with Catalog(data_dir) as catalog:
            # the encoder's version brings its facet probe, when it has one (facet twins, names)
            run = _timed("full clustering + naming", results, trends_mod.recluster, catalog, synthetic.ids,
                         synthetic.vectors, config, encoder, encoder_version=getattr(encoder, "version", None))
            ids, vectors = add_new_garments(data_dir, synthetic, 1000)
            assigned = _timed("incremental assignment of 1k", results, trends_mod.assign_new_garments, catalog, ids, vectors)
            _timed("trend report", results, trends_mod.trends_report, catalog, config, trends_mod.load_forecast_config())
            _timed("creator report", results, trends_mod.creators_report, catalog, config,
                   trends_mod.load_creators_config())
    return {
        "garments": len(synthetic.ids),
        "true_styles": args.styles * len(KINDS),
        "styles_found": len(run.styles),
        "assigned_of_1k": assigned.assigned,
        "encoder": encoder.describe(),
        "method": config.cluster.method,
        "group_by": config.cluster.group_by,
        "lookalikes": config.cluster.lookalikes,
        "seconds": results,
    }


# --------------------------------------------------------------------------------------
# quality on a creator world
# --------------------------------------------------------------------------------------
def world_metrics(catalog: Catalog, answer: Any, config: trends_mod.TrendsConfig,
                  creators_config: trends_mod.CreatorsConfig) -> dict[str, Any]:
    """Score the catalog's current styles against the world's answer key."""
    from world.trend_scorer import score_world

    return score_world(catalog, answer, config, creators_config)


def run_world(args: argparse.Namespace) -> dict[str, Any]:
    from inference.index import load_embeddings
    from world import scorer

    answer = scorer.load_answer_key(args.world)
    ids, vectors, encoder_info = load_embeddings(args.data_dir)
    encoder = naming_encoder(encoder_info)
    results: dict[str, Any] = {"encoder": encoder_info, "variants": {}}
    variants = [(m, g) for m in args.methods.split(",") for g in args.groupings.split(",")]
    seeds = [int(s) for s in str(args.seeds).split(",")]
    with Catalog(args.data_dir) as catalog:
        for method, group_by in variants:
            for seed in seeds:
                config = trends_mod.load_config()
                config.cluster.method, config.cluster.group_by, config.cluster.seed = method, group_by, seed
                start = time.perf_counter()
                run = trends_mod.recluster(catalog, ids, vectors, config, encoder)
                seconds = time.perf_counter() - start
                metrics = world_metrics(catalog, answer, config, trends_mod.load_creators_config())
                metrics["styles"] = len(run.styles)
                metrics["cluster_seconds"] = round(seconds, 2)
                name = f"{method}/{group_by}" + (f" seed {seed}" if len(seeds) > 1 else "")
                results["variants"][name] = metrics
                logger.info("%s: %s", name, json.dumps(_summary(metrics)))
            if len(seeds) > 1:  # k-means depends on its seed: one run is not the method's figure
                runs = [_summary(results["variants"][f"{method}/{group_by} seed {s}"]) for s in seeds]
                results.setdefault("means", {})[f"{method}/{group_by}"] = {
                    key: float(np.mean([r[key] for r in runs])) if all(r[key] is not None for r in runs) else None
                    for key in runs[0]
                }
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


# --------------------------------------------------------------------------------------
# quality on the world's society with synthetic garment embeddings
# --------------------------------------------------------------------------------------
def _society_truth(plan: Any) -> list[Any]:
    """True styles as the answer key defines them (world/answers.py): take-off is the
    day of the ``rise_min_creators``-th distinct adopter; a style rose when its curve is
    rising or peaking, it started in the season, and it took off."""
    from world import scorer

    config = plan.config
    truths = []
    for style in plan.styles:
        first: dict[int, int] = {}
        for post in sorted((p for p in plan.posts if p.style == style.id and not p.held_out),
                           key=lambda p: (p.day, p.index)):
            first.setdefault(post.creator, post.day)
        days = list(first.values())
        takeoff = days[config.rise_min_creators - 1] if len(days) >= config.rise_min_creators else None
        trend = next((t for t in plan.trends if t.style == style.id), None)
        rose = bool(trend and trend.shape in ("rising", "peaking") and trend.start_day >= 0 and takeoff is not None)
        truths.append(scorer.TrueStyle(
            id=str(style.id), originator=plan.creators[trend.originator].handle if trend else None, rose=rose,
            takeoff=config.season_start + dt.timedelta(days=takeoff) if takeoff is not None else None,
        ))
    return truths


LOOKALIKE_COSINE = 2.2 / np.sqrt(2.2**2 + 1)  # ~0.91: a lookalike's centre against the style it copies


def build_society(data_dir: Path, preset: str, dim: int, noise: float, seed: int,
                  lookalike: float = LOOKALIKE_COSINE) -> tuple[Any, np.ndarray, np.ndarray]:
    """Catalog + answer key from a world plan; garments are style directions plus noise.

    Each video shows its style's top and bottom (or a dress) and the full outfit in 2-5
    frames; a per-video offset (lighting, pose) is shared by its frames, and lookalike
    styles sit close to the style they copy (their centres at cosine ``lookalike``, in
    expectation).
    """
    pull = lookalike / np.sqrt(1.0 - lookalike**2)
    from world import scorer
    from world.config import world_config
    from world.society import plan_world

    plan = plan_world(world_config(preset, seed=seed))
    rng = np.random.default_rng(seed + 100)
    centres: dict[tuple[int, str], np.ndarray] = {}
    for style in sorted(plan.styles, key=lambda s: s.lookalike_of is not None):
        for kind in KINDS:
            base = rng.normal(size=dim)
            if style.lookalike_of is not None and (style.lookalike_of, kind) in centres:
                base = pull * np.linalg.norm(base) * centres[(style.lookalike_of, kind)] + base
            centres[(style.id, kind)] = base / np.linalg.norm(base)
    ids, vectors, truth_garments = [], [], []
    start = plan.config.season_start
    catalog = Catalog(data_dir)
    from inference.catalog import FrameRow, GarmentRow
    from inference.types import Box, VideoInfo, VideoSubmission

    info = VideoInfo(288, 512, 15.0, 4.0, 60, 0, "h264")
    for post in sorted((p for p in plan.posts if not p.held_out), key=lambda p: (p.day + plan.creators[p.creator].late_days, p.index)):
        creator = plan.creators[post.creator]
        name = f"v{post.index:05d}.mp4"
        style = plan.styles[post.style]
        kinds = ["top", "full"] if style.bottom is None else list(KINDS)
        video_id = catalog.begin_video(VideoSubmission(Path(name), creator.handle, creator.followers,
                                                       start + dt.timedelta(days=post.day), name), name)
        frames = int(rng.integers(2, 6))
        offset = rng.normal(size=dim) * (0.6 * noise / np.sqrt(dim))
        frame_rows = [FrameRow(0.5 + f, f, 100.0, f, 288, 512) for f in range(frames)]
        rows = [GarmentRow(f, kind, Box(0, 0, 10, 10), "bench", 1.0, f"crops/{video_id}/{f}_{kind}.jpg")
                for f in range(frames) for kind in kinds]
        garment_ids = catalog.finish_video(video_id, info, frame_rows, rows)
        for garment_id, row in zip(garment_ids, rows, strict=True):
            vector = centres[(style.id, row.kind)] + offset + rng.normal(size=dim) * (noise / np.sqrt(dim))
            ids.append(garment_id)
            vectors.append(vector / np.linalg.norm(vector))
            truth_garments.append(scorer.TrueGarment(name, row.frame_index, 0.5 + row.frame_index, row.kind,
                                                         str(style.id), Box(0, 0, 10, 10)))
    catalog.close()
    answer = scorer.AnswerKey(
        videos=[], styles=_society_truth(plan), garments=truth_garments,
        creators=[scorer.TrueCreator(c.handle, c.followers, "", c.trendsetter) for c in plan.creators],
    )
    return answer, np.asarray(ids, np.int64), np.asarray(vectors, np.float32)


def run_society(args: argparse.Namespace) -> dict[str, Any]:
    data_dir = Path(args.data_dir or tempfile.mkdtemp(prefix="society-"))
    answer, ids, vectors = build_society(data_dir, args.preset, args.dim, args.noise, args.seed, args.lookalike)
    results: dict[str, Any] = {"preset": args.preset, "noise": args.noise, "lookalike": args.lookalike,
                               "seed": args.seed, "garments": len(ids), "variants": {}}
    with Catalog(data_dir) as catalog:
        for method in args.methods.split(","):
            for group_by in args.groupings.split(","):
                config = trends_mod.load_config()
                config.cluster.method, config.cluster.group_by = method, group_by
                start = time.perf_counter()
                run = trends_mod.recluster(catalog, ids, vectors, config)
                metrics = world_metrics(catalog, answer, config, trends_mod.load_creators_config())
                metrics.update(styles=len(run.styles), cluster_seconds=round(time.perf_counter() - start, 2))
                results["variants"][f"{method}/{group_by}"] = metrics
                logger.info("%s/%s: %s", method, group_by, json.dumps(_summary(metrics)))
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="what", required=True)
    speed = sub.add_parser("speed")
    speed.add_argument("--garments", type=int, default=100_000)
    speed.add_argument("--styles", type=int, default=40, help="true outfit styles (x3 garment kinds)")
    speed.add_argument("--encoder", default="tiny:256", help="encoder whose text tower names the styles")
    speed.add_argument("--method", choices=("kmeans", "density"), default=None)
    speed.add_argument("--group-by", choices=("kind", "outfit", "all"), default=None)
    speed.add_argument("--twin-share", type=float, default=None, help="cluster.twin_share (0: no facet twins)")
    speed.add_argument("--lookalikes", action="store_true", help="run the lookalike split (writes a crop per garment)")
    world = sub.add_parser("world")
    world.add_argument("--world", required=True)
    world.add_argument("--data-dir", required=True)
    world.add_argument("--methods", default="kmeans,density")
    world.add_argument("--groupings", default="kind,outfit")
    world.add_argument("--seeds", default="0", help="cluster seeds, e.g. 0,1,2,3,4: each variant is run per seed, with means")
    society = sub.add_parser("society")
    society.add_argument("--preset", default="bench")
    society.add_argument("--seed", type=int, default=0)
    society.add_argument("--dim", type=int, default=256)
    society.add_argument("--noise", type=float, default=0.8, help="garment noise norm relative to the style direction")
    society.add_argument("--lookalike", type=float, default=round(float(LOOKALIKE_COSINE), 4),
                         help="cosine between a lookalike style's centre and the style it copies (< 1)")
    society.add_argument("--data-dir", default=None)
    society.add_argument("--methods", default="kmeans,density")
    society.add_argument("--groupings", default="kind,outfit")
    parser.add_argument("--out", default=None, help="write the JSON results here too")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s", datefmt="%H:%M:%S")
    runners = {"speed": run_speed, "world": run_world, "society": run_society}
    results = runners[args.what](args)
    if args.what != "speed":
        results["summary"] = {k: _summary(v) for k, v in results["variants"].items()}
    text = json.dumps(results, indent=2, default=str)
    print(text)
    if args.out:
        Path(args.out).write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
