"""Render the sample frames shown in docs/WORLD.md from the creator world's `demo` preset.

Usage: python scripts/world_frames.py [--seed 0] [--out docs/images]

Writes world_video.jpg (moments of one video: title card, walking in, turning, close-up)
and world_styles.jpg (one frame of several videos, true garment boxes drawn: top red,
bottom blue, whole person green).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from world.config import world_config
from world.generate import _video_spec
from world.scene import FrameTruth, render_video
from world.society import plan_world

COLOURS = {"top": (230, 40, 40), "bottom": (40, 80, 230), "full": (40, 200, 60)}


def _boxed(frame: np.ndarray, truth: FrameTruth) -> np.ndarray:
    frame = frame.copy()
    for kind, colour in COLOURS.items():
        box = truth.boxes[kind]
        if box is not None:
            cv2.rectangle(frame, (box.x0, box.y0), (box.x1 - 1, box.y1 - 1), colour, 2)
    return frame


def _save(path: Path, tiles: list[np.ndarray], scale: float) -> None:
    strip = np.hstack([np.pad(t, ((4, 4), (4, 4), (0, 0)), constant_values=255) for t in tiles])
    strip = cv2.resize(strip, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    cv2.imwrite(str(path), cv2.cvtColor(strip, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 85])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="docs/images")
    args = parser.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    config = world_config("demo", args.seed)
    render = config.render
    render.title_card_rate = render.closeup_rate = render.walk_rate = render.turn_rate = 1.0
    plan = plan_world(config)
    frames = list(render_video(_video_spec(plan, plan.posts[5]), config.render))
    picks = [0, len(frames) // 5, len(frames) // 2, int(len(frames) * 0.7), len(frames) - 3]
    by_shot = {t.shot for _, t in frames}
    closeups = [i for i, (_, t) in enumerate(frames) if t.shot == "closeup"]
    if "closeup" in by_shot and closeups:
        picks[3] = closeups[len(closeups) // 2]
    _save(out / "world_video.jpg", [_boxed(*frames[i]) for i in picks], 0.5)
    config = world_config("demo", args.seed)
    tiles = []
    seen: set[int] = set()
    distinct = [p for p in plan.posts if p.style not in seen and not seen.add(p.style)]  # type: ignore[func-returns-value]
    for post in distinct[:6]:
        video = list(render_video(_video_spec(plan, post), config.render))
        frame, truth = next(((f, t) for f, t in video[len(video) // 2 :] if t.shot == "full"), video[-1])
        tiles.append(_boxed(frame, truth))
    _save(out / "world_styles.jpg", tiles, 0.5)
    print(f"wrote {out / 'world_video.jpg'} and {out / 'world_styles.jpg'}")


if __name__ == "__main__":
    main()
