"""Benchmark of the garment check: images made outside the sample world, then creator worlds.

``synthetic``: sets made here from sources that know nothing of the sample world's drawing:
photos of people (matplotlib's Grace Hopper; scikit-image's astronaut and cameraman when
``--photos`` points at a folder holding them) run through the project's own localiser chain
and cut into top / bottom / full crops; Fashion-MNIST garments as product shots (as
shipped, inverted, and tinted on a light background; no person, so they must pass on
clothing alone); text cards rendered with PIL's TrueType fonts on plain, gradient and noisy
backgrounds; walls (plain, gradients, noise, textures, frames and doors drawn as
rectangles); photos without people (cat, coffee, rocket, flower, ...); and extreme blurs of
the garment sets. Positive sets report the share rejected, negative sets the share kept.
The thresholds in configs/garment_check.yaml were chosen on these sets.

``world``: ingested creator worlds (data directories holding ``world/answers``), scored
against the answer key. A crop shows a garment when a true top or bottom garment at least
half in view covers >= 25% of the crop; it shows none when true garments cover < 5% of it
(title cards, empty rooms, the person walked out); in between it is left out of both
rates ("unsure"). Reported per world: the share of non-garment crops kept, the share of
real garments rejected, the non-garment crops that reached a style before the check and
would after it, and the check's speed.

    .venv/bin/python bench/bench_garment_check.py synthetic [--photos DIR]
    .venv/bin/python bench/bench_garment_check.py world DATA_DIR [DATA_DIR ...] [--held-out DATA_DIR ...]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from inference.catalog import Catalog
from inference.garment_check import (
    CropEvidence,
    CropSignals,
    GarmentCheckConfig,
    GarmentChecker,
    judge,
    load_config,
)
from inference.garments import LocaliserChain, LocaliserConfig, garment_boxes
from inference.types import Box

logger = logging.getLogger("bench_garment_check")

FONT_DIRS = (Path("/usr/share/fonts/truetype"), Path("/usr/share/fonts"))
WORDS = ("sale", "new", "chapter", "monday", "vibes", "spring", "collection", "welcome", "menu", "coffee",
         "open", "hello", "summer", "haul", "review", "part", "episode", "weekend", "unboxing", "tips")
PERSON_PHOTOS = ("astronaut.png", "camera.png", "grace_hopper.jpg")
SCENE_PHOTOS = ("chelsea.png", "coffee.png", "rocket.jpg", "horse.png", "motorcycle_left.png", "moon.png",
                "hubble_deep_field.jpg", "coins.png", "brick.png", "gravel.png", "grass.png", "china.jpg", "flower.jpg",
                "tower.jpg", "cheetah1.jpg", "page.png", "text.png", "logo.png", "color.png")
FMNIST_APPAREL = {0: "tops", 1: "trousers", 2: "pullovers", 3: "dresses", 4: "coats", 6: "shirts"}
METHODS = ("hog", "fallback_center", "motion")  # evidence given to negatives in turn: a detector's false alarm or none


@dataclasses.dataclass
class Sample:
    """A crop with its evidence and whether it truly shows a garment."""

    image: np.ndarray
    evidence: CropEvidence
    garment: bool
    group: str


# ----------------------------------------------------------------------------- sources


def find_photos(extra: Path | None) -> dict[str, np.ndarray]:
    """Photos shipped in installed packages (matplotlib, scikit-learn, gradio) plus ``extra``."""
    folders = [extra] if extra else []
    for module in ("matplotlib", "sklearn", "gradio"):
        try:
            root = Path(__import__(module).__file__).parent
        except ImportError:
            continue
        folders += [root / "mpl-data" / "sample_data", root / "datasets" / "images", root / "media_assets" / "images"]
    photos: dict[str, np.ndarray] = {}
    for folder in folders:
        for name in PERSON_PHOTOS + SCENE_PHOTOS:
            path = folder / name
            if name not in photos and path.is_file():
                image = cv2.imread(str(path), cv2.IMREAD_COLOR)
                if image is not None:
                    photos[name] = cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
    return photos


def people(photos: dict[str, np.ndarray], rng: np.random.Generator, variants: int = 8) -> list[Sample]:
    """Top and full crops of real people cut by the project's localiser chain (HOG, then the face cascade)."""
    chain = LocaliserChain(LocaliserConfig(chain=["hog", "face"]))
    samples = []
    for name in PERSON_PHOTOS:
        if name not in photos:
            continue
        for k in range(variants):
            frame = _jitter(photos[name], rng, flip=k % 2 == 1, crop=0.0 if k < 2 else 0.15)
            detection = chain.find([frame])[0]
            if detection is None:
                continue
            h, w = frame.shape[:2]
            for kind, box in garment_boxes(detection.box, chain.config).items():
                if kind == "bottom":  # half-length portraits: below the waist is a flag or a tripod
                    continue
                clipped = box.clip(w, h)
                if clipped.width < 16 or clipped.height < 16 or clipped.area < 0.5 * box.area:
                    continue
                crop = np.ascontiguousarray(frame[clipped.y0 : clipped.y1, clipped.x0 : clipped.x1])
                evidence = CropEvidence(detection.method, kind, detection.box.clip(w, h), (w, h), person_key=(name, k))
                samples.append(Sample(crop, evidence, True, "people"))
    return samples


def fashion_mnist(rng: np.random.Generator, n: int = 240) -> list[Sample]:
    """Fashion-MNIST apparel (tops, trousers, pullovers, dresses, coats, shirts) as product shots."""
    from world.fashion_mnist import FASHION_MNIST_DIR, read_idx

    images = read_idx(FASHION_MNIST_DIR / "t10k-images-idx3-ubyte.gz")
    labels = read_idx(FASHION_MNIST_DIR / "t10k-labels-idx1-ubyte.gz")
    apparel = np.flatnonzero(np.isin(labels, list(FMNIST_APPAREL)))
    samples = []
    for k, index in enumerate(rng.choice(apparel, size=n, replace=False)):
        grey = cv2.resize(images[index], (112, 112), interpolation=cv2.INTER_CUBIC).astype(np.float32) / 255.0
        look = k % 3
        if look == 0:  # as shipped: light garment on black
            rgb = np.repeat(grey[..., None], 3, axis=2) * 255
        elif look == 1:  # inverted: dark garment on white
            rgb = np.repeat(1.0 - grey[..., None], 3, axis=2) * 255
        else:  # a coloured garment on a light background
            colour = rng.uniform(30, 230, 3)
            background = rng.uniform(200, 250, 3)
            rgb = grey[..., None] * colour + (1 - grey[..., None]) * background
        image = np.clip(rgb, 0, 255).astype(np.uint8)
        group = f"fashion-mnist {FMNIST_APPAREL[int(labels[index])]}"
        samples.append(Sample(image, CropEvidence("fallback_center", "full"), True, group))
    return samples


def text_cards(rng: np.random.Generator, n: int = 150) -> list[Sample]:
    """Lines of words in TrueType fonts on plain, gradient or noisy backgrounds."""
    from PIL import Image, ImageDraw, ImageFont

    fonts = [p for d in FONT_DIRS if d.is_dir() for p in sorted(d.rglob("*.ttf"))][:12]
    samples = []
    for k in range(n):
        w, h = int(rng.integers(120, 360)), int(rng.integers(160, 480))
        image = Image.fromarray(_background(rng, w, h, kind=k % 3))
        draw = ImageDraw.Draw(image)
        lum = np.asarray(image).mean()
        ink = tuple(int(v) for v in (rng.integers(0, 60, 3) if lum > 128 else rng.integers(200, 256, 3)))
        y = int(rng.uniform(0.1, 0.4) * h)
        for _ in range(int(rng.integers(1, 4))):
            size = int(rng.uniform(0.06, 0.16) * w) + 8
            font = ImageFont.truetype(str(fonts[int(rng.integers(len(fonts)))]), size) if fonts else ImageFont.load_default(size)
            words = " ".join(WORDS[int(i)] for i in rng.integers(0, len(WORDS), int(rng.integers(1, 3))))
            if rng.random() < 0.3:
                words = words.upper() + f" {int(rng.integers(1, 99))}"
            draw.text((int(rng.uniform(0.02, 0.2) * w), y), words, fill=ink, font=font)
            y += int(size * 1.5)
        samples.append(_negative(np.asarray(image), k, "text cards"))
    return samples


def walls(rng: np.random.Generator, photos: dict[str, np.ndarray], n: int = 150) -> list[Sample]:
    """Plain and textured walls, gradients, and walls with frames, doors or windows drawn on them."""
    textures = [photos[t] for t in ("brick.png", "gravel.png", "grass.png") if t in photos]
    samples = []
    for k in range(n):
        w, h = int(rng.integers(100, 360)), int(rng.integers(140, 480))
        if k % 4 == 3 and textures:
            image = _random_crop(textures[k % len(textures)], rng, w, h)
        else:
            image = _background(rng, w, h, kind=k % 3)
            for _ in range(int(rng.integers(0, 4))):  # frames, doors, windows, a skirting board
                x0, y0 = int(rng.integers(0, w)), int(rng.integers(0, h))
                x1, y1 = x0 + int(rng.integers(10, w // 2 + 11)), y0 + int(rng.integers(10, h // 2 + 11))
                colour = tuple(int(v) for v in rng.integers(0, 256, 3))
                cv2.rectangle(image, (x0, y0), (x1, y1), colour, -1 if rng.random() < 0.6 else 3)
        samples.append(_negative(image, k, "walls"))
    return samples


def scenes(rng: np.random.Generator, photos: dict[str, np.ndarray], per_photo: int = 6) -> list[Sample]:
    """Crops of photos with nobody in them (animals, food, objects, landscapes, documents)."""
    samples = []
    for name in SCENE_PHOTOS:
        if name not in photos:
            continue
        for k in range(per_photo):
            w, h = int(rng.integers(80, 240)), int(rng.integers(120, 360))
            samples.append(_negative(_random_crop(photos[name], rng, w, h), k, "photos, no person"))
    return samples


def blurred(garments: Sequence[Sample]) -> list[Sample]:
    """The garment sets blurred far past recognition (Gaussian, sigma 6% of the longer side)."""
    samples = []
    for s in garments[::3]:
        sigma = 0.06 * max(s.image.shape[:2])
        image = cv2.GaussianBlur(s.image, (0, 0), sigmaX=sigma)
        samples.append(Sample(image, s.evidence, False, "extreme blur"))
    return samples


def _negative(image: np.ndarray, k: int, group: str) -> Sample:
    h, w = image.shape[:2]
    method = METHODS[k % len(METHODS)]
    return Sample(image, CropEvidence(method, "full", Box(0, 0, w, h), (w * 3, h)), False, group)


def _background(rng: np.random.Generator, w: int, h: int, kind: int) -> np.ndarray:
    colour = rng.uniform(20, 240, 3)
    if kind == 0:
        image = np.broadcast_to(colour, (h, w, 3)).copy()
    elif kind == 1:
        other = rng.uniform(20, 240, 3)
        t = np.linspace(0, 1, h if rng.random() < 0.5 else w)
        ramp = t[:, None, None] if len(t) == h else t[None, :, None]
        image = colour * (1 - ramp) + other * ramp
        image = np.broadcast_to(image, (h, w, 3)).copy()
    else:
        image = colour + rng.normal(0, rng.uniform(3, 15), (h, w, 3))
    return np.clip(image, 0, 255).astype(np.uint8)


def _random_crop(photo: np.ndarray, rng: np.random.Generator, w: int, h: int) -> np.ndarray:
    ph, pw = photo.shape[:2]
    w, h = min(w, pw), min(h, ph)
    x, y = int(rng.integers(0, pw - w + 1)), int(rng.integers(0, ph - h + 1))
    return np.ascontiguousarray(photo[y : y + h, x : x + w])


def _jitter(photo: np.ndarray, rng: np.random.Generator, flip: bool, crop: float) -> np.ndarray:
    image = photo[:, ::-1] if flip else photo
    h, w = image.shape[:2]
    dx, dy = int(rng.uniform(0, crop) * w), int(rng.uniform(0, crop) * h)
    image = image[dy : h - int(rng.uniform(0, crop) * h), dx : w - int(rng.uniform(0, crop) * w)]
    return np.ascontiguousarray(image)


# ----------------------------------------------------------------------------- scoring


@dataclasses.dataclass
class Measured:
    """Signals measured once per crop, so that configs can be compared without measuring again."""

    signals: list[CropSignals]
    seconds: float  # wall time of measuring all crops
    cpu_seconds: float  # CPU time of this process (all its threads) measuring them
    crops: int


def measure(checker: GarmentChecker, images: Sequence[np.ndarray], evidence: Sequence[CropEvidence]) -> Measured:
    _ = checker.classifier  # load the network before the clock starts
    start, cpu = time.perf_counter(), time.process_time()
    signals = checker.measure(images, evidence)
    return Measured(signals, time.perf_counter() - start, time.process_time() - cpu, len(images))


def synthetic(args: argparse.Namespace, config: GarmentCheckConfig) -> dict[str, Any]:
    rng = np.random.default_rng(args.seed)
    photos = find_photos(args.photos)
    logger.info("photos found: %s", ", ".join(sorted(photos)))
    positives = people(photos, rng) + fashion_mnist(rng)
    samples = positives + text_cards(rng) + walls(rng, photos) + scenes(rng, photos) + blurred(positives)
    checker = GarmentChecker(config)
    measured = measure(checker, [s.image for s in samples], [s.evidence for s in samples])
    verdicts = [judge(s, config) for s in measured.signals]
    table: dict[str, Any] = {}
    groups: dict[str, list[int]] = defaultdict(list)
    for i, s in enumerate(samples):
        groups[s.group].append(i)
    for group, members in groups.items():
        truth = samples[members[0]].garment
        wrong = [i for i in members if verdicts[i].is_garment != truth]
        reasons = Counter(verdicts[i].reason for i in members)
        table[group] = {"crops": len(members), "truth": "garment" if truth else "none",
                        "wrong_share": len(wrong) / len(members), "reasons": dict(reasons)}
    table["_speed_ms_per_crop"] = 1000 * measured.seconds / max(1, measured.crops)
    table["_cpu_ms_per_crop"] = 1000 * measured.cpu_seconds / max(1, measured.crops)
    table["_threads"] = torch_threads()
    return table


def torch_threads() -> int:
    import torch

    return int(torch.get_num_threads())


def world_truth(data_dir: Path) -> dict[int, str]:
    """Catalog garment id -> "garment", "none" or "unsure", from the world's answer key."""
    import pyarrow.parquet as pq

    answers = data_dir / "world" / "answers"
    videos = json.loads((answers / "world.json").read_text())["videos"]
    file_of = {str(v["name"]): Path(str(v["file"])).name for v in videos}
    table = pq.read_table(answers / "boxes.parquet").to_pydict()
    frames: dict[str, dict[float, list[tuple[str, Box | None, float]]]] = defaultdict(lambda: defaultdict(list))
    for name, t_s, kind, x0, y0, x1, y1, visible in zip(*(table[c] for c in ("video", "t_s", "kind", "x0", "y0", "x1", "y1", "visible")), strict=True):
        box = None if x0 is None or np.isnan(x0) else Box(int(x0), int(y0), int(x1), int(y1))
        frames[file_of[str(name)]][round(float(t_s), 4)].append((str(kind), box, float(visible)))
    catalog = Catalog(data_dir)
    truth = {}
    for g in catalog.garments():
        by_time = frames.get(Path(g.source_path).name)
        if not by_time:
            continue
        nearest = min(by_time, key=lambda t: abs(t - g.t_s))
        truth[g.id] = _crop_truth(g.box, by_time[nearest])
    catalog.close()
    return truth


def _crop_truth(box: Box, garments: list[tuple[str, Box | None, float]]) -> str:
    best, visible = 0.0, 0.0
    for kind, true_box, seen in garments:
        if kind == "full" or true_box is None:
            continue
        ix = max(0, min(box.x1, true_box.x1) - max(box.x0, true_box.x0))
        iy = max(0, min(box.y1, true_box.y1) - max(box.y0, true_box.y0))
        cover = ix * iy / max(1, box.area)
        if cover > best:
            best, visible = cover, seen
    if best >= 0.25 and visible >= 0.5:
        return "garment"
    return "none" if best < 0.05 else "unsure"


def world(data_dir: Path, config: GarmentCheckConfig, cache: Path | None) -> dict[str, Any]:

    truth = world_truth(data_dir)
    catalog = Catalog(data_dir)
    records = [r for r in catalog.garment_evidence() if r.garment_id in truth]
    styles = catalog.garment_style_ids()
    catalog.close()
    signals, seconds, cpu_seconds = _world_signals(data_dir, records, config, cache)
    verdicts = {r.garment_id: judge(s, config) for r, s in zip(records, signals, strict=True)}
    none = [i for i in verdicts if truth[i] == "none"]
    real = [i for i in verdicts if truth[i] == "garment"]
    kept_none = [i for i in none if verdicts[i].is_garment]
    styled_none = [i for i in none if i in styles]
    styled_real = [i for i in real if i in styles]
    return {
        "crops": len(verdicts), "garments": len(real), "non_garments": len(none),
        "unsure": sum(truth[i] == "unsure" for i in verdicts),
        "non_garment_kept": len(kept_none) / max(1, len(none)),
        "garment_rejected": sum(not verdicts[i].is_garment for i in real) / max(1, len(real)),
        "styled_non_garments_before": len(styled_none),
        "styled_non_garments_after": sum(verdicts[i].is_garment for i in styled_none),
        "styled_garments_rejected": sum(not verdicts[i].is_garment for i in styled_real),
        "styled_garments": len(styled_real),
        "kept_by_method": _by_method(records, verdicts, truth),
        "reasons": dict(Counter(v.reason for v in verdicts.values())),
        "ms_per_crop": 1000 * seconds / max(1, len(records)),
        "cpu_ms_per_crop": 1000 * cpu_seconds / max(1, len(records)),
    }


def _by_method(records: Sequence[Any], verdicts: dict[int, Any], truth: dict[int, str]) -> dict[str, str]:
    counts: dict[str, Counter[str]] = defaultdict(Counter)
    for r in records:
        counts[r.method][f"{truth[r.garment_id]}:{'kept' if verdicts[r.garment_id].is_garment else 'out'}"] += 1
    return {m: ", ".join(f"{k} {v}" for k, v in sorted(c.items())) for m, c in sorted(counts.items())}


def _world_signals(data_dir: Path, records: Sequence[Any], config: GarmentCheckConfig, cache: Path | None) -> tuple[list[CropSignals], float, float]:
    path = cache / f"{data_dir.name}.signals.json" if cache else None
    if path and path.is_file():
        stored = json.loads(path.read_text())
        if len(stored["signals"]) == len(records):
            return [CropSignals(**s) for s in stored["signals"]], float(stored["seconds"]), float(stored.get("cpu_seconds", "nan"))
    images, evidence = [], []
    for r in records:
        image = cv2.imread(str(data_dir / r.crop_path), cv2.IMREAD_COLOR)
        images.append(cv2.cvtColor(image, cv2.COLOR_BGR2RGB))
        evidence.append(CropEvidence(r.method, r.kind, r.person, (r.frame_width, r.frame_height), r.frame_sharpness, (r.frame_id, r.method)))
    measured = measure(GarmentChecker(config), images, evidence)
    if path:
        path.parent.mkdir(parents=True, exist_ok=True)
        stored = {"seconds": measured.seconds, "cpu_seconds": measured.cpu_seconds, "signals": [dataclasses.asdict(s) for s in measured.signals]}
        path.write_text(json.dumps(stored))
    return measured.signals, measured.seconds, measured.cpu_seconds


# ----------------------------------------------------------------------------- report


def print_synthetic(table: dict[str, Any]) -> None:
    print(f"{'set':<20} {'crops':>6} {'truth':>8} {'wrong':>7}  reasons")
    for group, row in table.items():
        if group.startswith("_"):
            continue
        print(f"{group:<20} {row['crops']:>6} {row['truth']:>8} {row['wrong_share']:>7.1%}  {row['reasons']}")
    print(f"speed: {table['_speed_ms_per_crop']:.1f} ms/crop wall, {table['_cpu_ms_per_crop']:.1f} ms/crop CPU "
          f"(classifier + classical signals, {table['_threads']} torch thread(s))")


def print_worlds(results: dict[str, dict[str, Any]], held_out: set[str]) -> None:
    print(f"{'world':<14} {'crops':>6} {'garm':>5} {'none':>5} {'unsure':>6} {'none kept':>10} {'garm rej':>9} "
          f"{'styled none before/after':>25} {'ms/crop':>8} {'cpu ms':>7}")
    for name, r in results.items():
        tag = " (held out)" if name in held_out else ""
        print(f"{name:<14} {r['crops']:>6} {r['garments']:>5} {r['non_garments']:>5} {r['unsure']:>6} "
              f"{r['non_garment_kept']:>10.1%} {r['garment_rejected']:>9.1%} "
              f"{r['styled_non_garments_before']:>12} / {r['styled_non_garments_after']:<10} {r['ms_per_crop']:>8.1f} {r['cpu_ms_per_crop']:>7.1f}{tag}")
    for label, names in (("dev", [n for n in results if n not in held_out]), ("held out", [n for n in results if n in held_out])):
        if not names:
            continue
        kept = [results[n]["non_garment_kept"] for n in names]
        rejected = [results[n]["garment_rejected"] for n in names]
        print(f"{label}: non-garments kept mean {np.mean(kept):.1%} worst {max(kept):.1%}; "
              f"garments rejected mean {np.mean(rejected):.1%} worst {max(rejected):.1%} ({len(names)} worlds)")
    for name, r in results.items():
        print(f"{name}: reasons {r['reasons']}; by method {r['kept_by_method']}")


def _world_name(data_dir: Path) -> str:
    seed = json.loads((data_dir / "world" / "answers" / "world.json").read_text())["config"]
    return f"{seed.get('preset', 'world')}-s{seed.get('seed', '?')}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", type=Path, help="YAML file over configs/garment_check.yaml")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    commands = parser.add_subparsers(dest="command", required=True)
    synth = commands.add_parser("synthetic", help="sets made outside the sample world")
    synth.add_argument("--photos", type=Path, help="a folder with more photos (e.g. scikit-image's skimage/data)")
    synth.add_argument("--seed", type=int, default=0)
    worlds = commands.add_parser("world", help="ingested creator worlds scored against their answer keys")
    worlds.add_argument("data_dirs", type=Path, nargs="+", help="data directories the worlds were ingested into")
    worlds.add_argument("--held-out", type=Path, nargs="*", default=[], help="more worlds, reported apart (never tuned on)")
    worlds.add_argument("--cache", type=Path, help="folder to keep measured signals in, to compare configs quickly")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    config = load_config(args.config)
    if args.command == "synthetic":
        table = synthetic(args, config)
        print(json.dumps(table, indent=1)) if args.json else print_synthetic(table)
        return 0
    held_out = {_world_name(d) for d in args.held_out}
    results = {_world_name(d): world(d, config, args.cache) for d in [*args.data_dirs, *args.held_out]}
    print(json.dumps(results, indent=1)) if args.json else print_worlds(results, held_out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
