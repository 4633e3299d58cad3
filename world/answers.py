"""The answer key of a creator world (read back for scoring by world/scorer.py).

``answers/world.json`` holds the config, every creator (handle, followers, tier, whether a
trendsetter, who they follow, how late their videos arrive), every style (recipe,
description, trending or background, curve shape, true originator, start day, take-off day,
whether it truly rose, adopters in order, daily counts) and every video (file, creator,
posted_at, arrival date, style, held out or not). ``answers/boxes.parquet`` has the true box
of the top, the bottom and the whole person (``full``) in every frame of every video.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np

import configs
from core.storage import atomic_write_bytes, atomic_write_text
from inference.types import follower_tier
from world.society import Post, WorldPlan

TRUTH_FILE = "world.json"
BOXES_FILE = "boxes.parquet"
DAILY_FILE = "daily.parquet"


def _style_truth(plan: WorldPlan, style_id: int, posts: list[Post]) -> dict[str, Any]:
    config = plan.config
    worn = sorted((p for p in posts if p.style == style_id), key=lambda p: (p.day, p.index))
    first_day: dict[int, int] = {}
    for post in worn:
        first_day.setdefault(post.creator, post.day)
    videos = np.zeros(config.days, dtype=int)
    creators_by_day: dict[int, set[int]] = defaultdict(set)
    for post in worn:
        videos[post.day] += 1
        creators_by_day[post.day].add(post.creator)
    adopters = [{"creator": plan.creators[c].handle, "day": d} for c, d in first_day.items()]
    takeoff = adopters[config.rise_min_creators - 1]["day"] if len(adopters) >= config.rise_min_creators else None
    truth: dict[str, Any] = {
        "shape": "flat",
        "originator": None,
        "start_day": None,
        "start_date": None,
        "peak_day": None,
        "takeoff_day": takeoff,
        "rose": False,
        "adopters": adopters,
        "daily_videos": videos.tolist(),
        "daily_creators": [len(creators_by_day[d]) for d in range(config.days)],
    }
    trend = next((t for t in plan.trends if t.style == style_id), None)
    if trend is not None:
        start_date = config.season_start + dt.timedelta(days=trend.start_day)
        truth.update(
            shape=trend.shape,
            originator=plan.creators[trend.originator].handle,
            start_day=trend.start_day,
            start_date=start_date.isoformat(),
            peak_day=trend.peak_day,
            rose=trend.shape in ("rising", "peaking") and trend.start_day >= 0 and takeoff is not None,
        )
    return truth


def _creators_truth(plan: WorldPlan) -> list[dict[str, Any]]:
    return [
        {
            "handle": c.handle,
            "followers": c.followers,
            "tier": follower_tier(c.followers),
            "trendsetter": c.trendsetter,
            "late_days": c.late_days,
            "follows": [plan.creators[i].handle for i in c.follows],
        }
        for c in plan.creators
    ]


def _videos_truth(plan: WorldPlan, frame_counts: dict[str, int]) -> list[dict[str, Any]]:
    start = plan.config.season_start
    render = plan.config.render
    videos = []
    for post in plan.posts:
        name = f"q{post.index:05d}" if post.held_out else f"v{post.index:05d}"
        creator = plan.creators[post.creator]
        videos.append(
            {
                "name": name,
                "file": f"{'queries' if post.held_out else 'videos'}/{name}.mp4",
                "creator": creator.handle,
                "followers": creator.followers,
                "posted_at": (start + dt.timedelta(days=post.day)).isoformat(),
                "arrives_at": (start + dt.timedelta(days=post.day + creator.late_days)).isoformat(),
                "day": post.day,
                "style": post.style,
                "adoption": post.adoption,
                "held_out": post.held_out,
                "frames": frame_counts.get(name, 0),
                "fps": render.fps,
                "width": render.width,
                "height": render.height,
            }
        )
    return videos


def _parquet_bytes(columns: dict[str, Any]) -> bytes:
    import pyarrow as pa
    import pyarrow.parquet as pq

    buffer = io.BytesIO()
    pq.write_table(pa.table(columns), buffer, compression="zstd")
    return buffer.getvalue()


def write_answer_key(plan: WorldPlan, out_dir: Path, frame_counts: dict[str, int], box_rows: list[tuple[Any, ...]]) -> int:
    """Write answers/ and the manifests; returns how many styles truly rose."""
    import pyarrow as pa


    answers = out_dir / "answers"
    answers.mkdir(exist_ok=True)
    season = [p for p in plan.posts if not p.held_out]
    styles = []
    for style in plan.styles:
        styles.append({**style.to_json(), **_style_truth(plan, style.id, season)})
    payload = {
        "format": 1,
        # the world's settings; `workers` only changes how fast it is made, not what
        "config": {k: v for k, v in configs.to_dict(plan.config).items() if k != "workers"},
        "season": {"start": plan.config.start_date, "days": plan.config.days},
        "creators": _creators_truth(plan),
        "styles": styles,
        "videos": _videos_truth(plan, frame_counts),
    }
    atomic_write_text(answers / TRUTH_FILE, json.dumps(payload, indent=1, sort_keys=False) + "\n")
    box_rows = sorted(box_rows, key=lambda r: (r[0], r[1], r[4]))
    names = ["video", "frame", "t_s", "shot", "kind", "x0", "y0", "x1", "y1", "visible"]
    columns = {name: [row[k] for row in box_rows] for k, name in enumerate(names)}
    typed = {
        "video": pa.array(columns["video"], pa.string()),
        "frame": pa.array(columns["frame"], pa.int32()),
        "t_s": pa.array(columns["t_s"], pa.float32()),
        "shot": pa.array(columns["shot"], pa.string()),
        "kind": pa.array(columns["kind"], pa.string()),
        **{c: pa.array(columns[c], pa.int32()) for c in ("x0", "y0", "x1", "y1")},
        "visible": pa.array(columns["visible"], pa.float32()),
    }
    atomic_write_bytes(answers / BOXES_FILE, _parquet_bytes(typed))
    daily_rows = [
        (s["id"], d, (plan.config.season_start + dt.timedelta(days=d)).isoformat(), s["daily_videos"][d], s["daily_creators"][d])
        for s in styles
        for d in range(plan.config.days)
    ]
    atomic_write_bytes(
        answers / DAILY_FILE,
        _parquet_bytes(
            {
                "style": pa.array([r[0] for r in daily_rows], pa.int32()),
                "day": pa.array([r[1] for r in daily_rows], pa.int32()),
                "date": pa.array([r[2] for r in daily_rows], pa.string()),
                "videos": pa.array([r[3] for r in daily_rows], pa.int32()),
                "creators": pa.array([r[4] for r in daily_rows], pa.int32()),
            }
        ),
    )
    atomic_write_bytes(out_dir / "manifest.csv", manifest_text(plan, held_out=False).encode())
    atomic_write_bytes(out_dir / "queries.csv", manifest_text(plan, held_out=True).encode())
    return sum(1 for s in styles if s["rose"])


def manifest_text(plan: WorldPlan, held_out: bool) -> str:
    """``path,creator,followers,posted_at`` rows in the order the videos arrive.

    Late creators' videos arrive days after their posting date (backdated posts), so
    the manifest is ordered by arrival, not by ``posted_at``.
    """
    start = plan.config.season_start
    posts = [p for p in plan.posts if p.held_out == held_out]
    posts.sort(key=lambda p: (p.day + plan.creators[p.creator].late_days, p.index))
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["path", "creator", "followers", "posted_at"])
    folder = "queries" if held_out else "videos"
    for post in posts:
        creator = plan.creators[post.creator]
        posted = start + dt.timedelta(days=post.day)
        writer.writerow([f"{folder}/{post.file_stem}.mp4", creator.handle, creator.followers, posted.isoformat()])
    return buffer.getvalue()
