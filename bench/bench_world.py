"""Benchmark: the creator world's drawing, its people as a detector sees them, and a world end to end.

Parts (each can be skipped):
  crops  - ``render_garment_crops``: crops per second, one process and two.
  hog    - how often OpenCV's HOG people detector (the ingest localiser, as configured in
           inference/garments.py) finds the drawn person, by person height as a share of
           the frame, and the IoU of its box with the true person box; also with the
           frame padded before detection (people taller than ~75% of the frame do not fit
           the detector's window otherwise).
  world  - ``stylescope world generate`` of a preset (time), ``stylescope ingest --no-index``
           of its manifest (time, which localiser found the person), and
           ``stylescope eval world`` (box IoU against the answer key).
  worldhog - the HOG localiser on frames of that world's videos that show the whole person
           (walking, turning, shake, blur and all), against the true person box.

Usage: python bench/bench_world.py [--parts crops,hog,world,worldhog] [--preset demo]
       [--keep DIR] [--markdown]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import platform
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from inference.catalog import Catalog  # noqa: E402
from inference.garments import HOGLocaliser, LocaliserConfig  # noqa: E402
from world.figure import draw_person, make_look  # noqa: E402
from world.render import (  # noqa: E402
    draw_room,
    partner_garment,
    random_garment,
    random_pose,
    render_garment_crops,
    unit_for_height,
)


def bench_crops(count: int) -> dict[str, float]:
    """Crops per second with one worker and with two."""
    render_garment_crops(16, seed=99)  # warm up imports and caches
    started, cpu = time.perf_counter(), time.process_time()
    render_garment_crops(count // 5, seed=1)
    single = (count // 5) / (time.perf_counter() - started)
    cpu_ms = (time.process_time() - cpu) / (count // 5) * 1000
    started = time.perf_counter()
    render_garment_crops(count, seed=2, workers=2)
    pooled_seconds = time.perf_counter() - started
    return {"crops_per_s_1_worker": single, "cpu_ms_per_crop": cpu_ms, "crops": count, "seconds_2_workers": pooled_seconds}


class PaddedHOG(HOGLocaliser):
    """The ingest HOG localiser on a frame padded by a border, boxes mapped back."""

    def __init__(self, config: LocaliserConfig, pad: float = 0.18):
        super().__init__(config)
        self.pad = pad

    def _detect(self, frame: np.ndarray):  # type: ignore[no-untyped-def]
        p = round(self.pad * frame.shape[0])
        padded = cv2.copyMakeBorder(frame, p, p, p, p, cv2.BORDER_REPLICATE)
        found = super()._detect(padded)
        if found is None:
            return None
        box = type(found.box)(found.box.x0 - p, found.box.y0 - p, found.box.x1 - p, found.box.y1 - p)
        return type(found)(box.clip(frame.shape[1], frame.shape[0]), found.score, found.method)


def bench_hog(frames_per_band: int, width: int = 360, height: int = 640) -> list[dict[str, object]]:
    """HOG detection rate and box IoU by person height (share of the frame height)."""
    plain, padded = HOGLocaliser(LocaliserConfig()), PaddedHOG(LocaliserConfig())
    rows = []
    for low, high in ((0.5, 0.6), (0.6, 0.7), (0.7, 0.8), (0.8, 0.85)):
        rng = np.random.default_rng(int(low * 100))
        stats: dict[str, list[float]] = {"plain": [], "padded": []}
        started = time.perf_counter()
        for _ in range(frames_per_band):
            frame, person = _scene(rng, width, height, rng.uniform(low, high))
            for name, localiser in (("plain", plain), ("padded", padded)):
                found = localiser.locate([frame])[0]
                stats[name].append(-1.0 if found is None else found.box.iou(person))
        per_frame = (time.perf_counter() - started) / frames_per_band / 2
        row: dict[str, object] = {"height_share": f"{low:.2f}-{high:.2f}", "frames": frames_per_band, "ms_per_detect": per_frame * 1000}
        for name, values in stats.items():
            hits = [v for v in values if v >= 0]
            row[f"{name}_rate"] = len(hits) / len(values)
            row[f"{name}_iou"] = float(np.mean(hits)) if hits else float("nan")
        rows.append(row)
    return rows


def _scene(rng: np.random.Generator, width: int, height: int, share: float):  # type: ignore[no-untyped-def]
    frame = draw_room(width, height, rng)
    unit = unit_for_height(share * height)
    look = make_look(partner_garment(random_garment(rng), rng), unit, rng)
    feet = height * 0.5 + share * height / 2 + rng.uniform(-0.02, 0.02) * height
    pose = random_pose(rng, width / 2 + rng.uniform(-0.12, 0.12) * width, feet, unit)
    boxes = draw_person(frame, pose, look)
    return frame, boxes["person"]


def bench_world(preset: str, seed: int, keep: Path | None) -> dict[str, object]:
    """Generate a world, ingest it without the encoder, score the boxes."""
    from app.cli import main

    folder = keep or Path(tempfile.mkdtemp(prefix="bench_world_"))
    world, data = folder / "world", folder / "data"
    started = time.perf_counter()
    code = main(["-q", "world", "generate", "--preset", preset, "--seed", str(seed), "--out", str(world), "--overwrite"])
    generate_s = time.perf_counter() - started
    if code != 0:
        raise SystemExit(f"world generate failed with exit code {code}")
    started = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()):
        code = main(["-q", "ingest", "--manifest", str(world / "manifest.csv"), "--data-dir", str(data), "--no-index", "--json"])
    ingest_s = time.perf_counter() - started
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        main(["eval", "world", "--answers", str(world), "--data-dir", str(data), "--json"])
    report = json.loads(buffer.getvalue())
    with Catalog(data) as catalog:
        methods = catalog.frames_by_method()
        videos = catalog.counts()["videos_done"]
    truth = json.loads((world / "answers" / "world.json").read_text())
    return {
        "preset": preset,
        "videos": videos,
        "styles": len(truth["styles"]),
        "rising": sum(1 for s in truth["styles"] if s["rose"]),
        "creators": len(truth["creators"]),
        "video_mb": sum(p.stat().st_size for p in (world / "videos").glob("*.mp4")) / 1e6,
        "generate_s": generate_s,
        "ingest_s": ingest_s,
        "ingest_exit": code,
        "frames_by_localiser": methods,
        "boxes": report["boxes"],
        "folder": str(folder),
    }


def bench_world_hog(world: Path, frames: int, seed: int = 0) -> dict[str, object]:
    """HOG on frames of a generated world's videos where the whole person is in view."""
    import pyarrow.parquet as pq

    from world.scorer import load_answer_key, read_frames

    answer = load_answer_key(world)
    table = pq.read_table(world / "answers" / "boxes.parquet").to_pylist()
    whole = [r for r in table if r["kind"] == "full" and r["shot"] == "full" and r["x0"] is not None and r["visible"] >= 0.99]
    rng = np.random.default_rng(seed)
    picks = [whole[i] for i in rng.choice(len(whole), size=min(frames, len(whole)), replace=False)]
    paths = {Path(v.path).stem: world / v.path for v in answer.videos}
    stats: dict[str, list[float]] = {"plain": [], "padded": []}
    localisers = {"plain": HOGLocaliser(LocaliserConfig()), "padded": PaddedHOG(LocaliserConfig())}
    for row in picks:
        frame = read_frames(paths[row["video"]], {row["frame"]})[row["frame"]]
        truth = type(answer.garments[0].box)(row["x0"], row["y0"], row["x1"], row["y1"])
        for name, localiser in localisers.items():
            found = localiser.locate([frame])[0]
            stats[name].append(-1.0 if found is None else found.box.iou(truth))
    result: dict[str, object] = {"frames": len(picks), "candidates": len(whole)}
    for name, values in stats.items():
        hits = [v for v in values if v >= 0]
        result[f"{name}_rate"] = len(hits) / max(1, len(values))
        result[f"{name}_iou"] = float(np.mean(hits)) if hits else float("nan")
    return result


def docs_image(out: Path) -> Path:
    """A grid of rendered garment crops (``render_garment_crops``) for the docs."""
    crops = [s.image for s in render_garment_crops(24, seed=5, size=112)]
    grid = np.vstack([np.hstack(crops[r * 8 : (r + 1) * 8]) for r in range(3)])
    out.mkdir(parents=True, exist_ok=True)
    path = out / "world_crops.jpg"
    cv2.imwrite(str(path), cv2.cvtColor(grid, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 88])
    return path


def markdown(results: dict[str, object]) -> str:
    """The figures as the ``## Creator world`` section of docs/BENCHMARKS.md."""
    lines = ["## Creator world", "", f"Machine: {platform.machine()} CPU, 2 cores shared with other jobs (noisy).", ""]
    crops = results.get("crops")
    if isinstance(crops, dict):
        lines += [
            "`render_garment_crops` (224 px):",
            f"- one process: {crops['crops_per_s_1_worker']:.0f} crops/s wall, {crops['cpu_ms_per_crop']:.1f} ms CPU per crop",
            f"- {crops['crops']} crops with `workers=2`: {crops['seconds_2_workers']:.1f} s",
            "",
        ]
    hog = results.get("hog")
    if isinstance(hog, list):
        lines += [
            "OpenCV HOG people detector (ingest's localiser settings) on drawn people, 360x640 frames:",
            "",
            "| person height / frame | frames | found | IoU | found, frame padded 18% | IoU | ms/detect |",
            "|---|---|---|---|---|---|---|",
        ]
        lines += [
            f"| {r['height_share']} | {r['frames']} | {r['plain_rate']:.0%} | {r['plain_iou']:.2f} | "
            f"{r['padded_rate']:.0%} | {r['padded_iou']:.2f} | {r['ms_per_detect']:.0f} |"
            for r in hog
        ]
        lines.append("")
    world_hog = results.get("worldhog")
    if isinstance(world_hog, dict):
        lines += [
            f"HOG on {world_hog['frames']} random frames of the generated videos that show the whole "
            f"person (of {world_hog['candidates']}): found {world_hog['plain_rate']:.0%} (IoU "
            f"{world_hog['plain_iou']:.2f}); with the frame padded 18% first: "
            f"{world_hog['padded_rate']:.0%} (IoU {world_hog['padded_iou']:.2f}).",
            "",
        ]
    world = results.get("world")
    if isinstance(world, dict):
        boxes = world["boxes"]
        assert isinstance(boxes, dict)
        lines += [
            f"`{world['preset']}` world: {world['creators']} creators, {world['styles']} styles "
            f"({world['rising']} rose), {world['videos']} videos ({world['video_mb']:.1f} MB)",
            f"- `stylescope world generate`: {world['generate_s']:.1f} s",
            f"- `stylescope ingest --no-index`: {world['ingest_s']:.1f} s (exit {world['ingest_exit']})",
            f"- frames by localiser: {world['frames_by_localiser']}",
            f"- `stylescope eval world`: mean box IoU {boxes['mean_iou']:.3f}, share IoU>=0.5 "
            f"{boxes['share_iou_50']:.3f}, by kind {json.dumps({k: round(v, 3) for k, v in boxes['by_kind'].items()})}",
            "",
        ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--parts", default="crops,hog,world,worldhog", help="comma-separated: crops, hog, world, worldhog")
    parser.add_argument("--world-hog-frames", type=int, default=150, help="frames of the world's videos for worldhog")
    parser.add_argument("--crops", type=int, default=10_000, help="crops for the two-worker timing")
    parser.add_argument("--hog-frames", type=int, default=40, help="frames per person-height band")
    parser.add_argument("--preset", default="demo", help="world preset for the world part")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--keep", type=Path, default=None, help="keep the world and catalog in this folder")
    parser.add_argument("--markdown", action="store_true", help="print the docs/BENCHMARKS.md section")
    parser.add_argument("--docs-image", type=Path, default=None, help="write world_crops.jpg (a grid of garment crops) here")
    args = parser.parse_args(argv)
    parts = set(args.parts.split(","))
    results: dict[str, object] = {}
    if "crops" in parts:
        results["crops"] = bench_crops(args.crops)
    if "hog" in parts:
        results["hog"] = bench_hog(args.hog_frames)
    if "world" in parts:
        results["world"] = bench_world(args.preset, args.seed, args.keep)
    if "worldhog" in parts:
        if args.keep is None:
            raise SystemExit("--parts worldhog needs --keep FOLDER (the world it reads)")
        results["worldhog"] = bench_world_hog(args.keep / "world", args.world_hog_frames, args.seed)
    print(markdown(results) if args.markdown else json.dumps(results, indent=2, default=str))
    if args.docs_image is not None:
        docs_image(args.docs_image)


if __name__ == "__main__":
    main()
