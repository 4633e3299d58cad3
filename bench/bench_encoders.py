"""Encoder speed: raw forward pass vs the embedding stage end to end, head training, memory.

    .venv/bin/python bench/bench_encoders.py [--images 96] [--batch-size 16] [--json]

For each encoder (the offline default, and open_clip ViT-B-32 with *random* weights since
no pretrained weights can be downloaded here; speed does not depend on the weights):

- raw forward: images/s of ``encode_preprocessed`` on batches preprocessed beforehand
  (medians over interleaved rounds; stage/raw is the median per-round ratio);
- stage (arrays): ``inference.embed.embed_crops`` on decoded RGB crops of mixed sizes,
  preprocessing included;
- stage (JPEG files): the same from JPEG files on disk, decoding included;
- peak resident memory of a fresh process that runs that encoder.

Plus the offline default's head training time per epoch on cached features (16,000
pairs, the default training set's size). Each encoder runs in its own subprocess so peak
memory is its own.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
ENCODERS = {"offline default": "stylescope-default", "ViT-B-32 (random init)": "open_clip:ViT-B-32:random"}


def _crops(count: int, seed: int = 0) -> list[np.ndarray]:
    """Garment-crop-like images of mixed sizes (tall, wide, square), 120-400 px a side."""
    rng = np.random.default_rng(seed)
    crops = []
    for _ in range(count):
        height, width = int(rng.integers(160, 400)), int(rng.integers(120, 320))
        base = rng.integers(0, 255, 3)
        image = np.broadcast_to(base, (height, width, 3)).astype(np.int16)
        image[:: int(rng.integers(4, 12))] = rng.integers(0, 255, 3)
        image += rng.integers(-20, 21, image.shape, dtype=np.int16)
        crops.append(np.clip(image, 0, 255).astype(np.uint8))
    return crops


def _rate(func, count: int, repeats: int) -> float:
    best = 0.0
    for _ in range(repeats):
        started = time.perf_counter()
        func()
        best = max(best, count / (time.perf_counter() - started))
    return best


def bench_encoder(spec: str, images: int, batch_size: int, repeats: int) -> dict[str, float]:
    """Images/s raw vs stage, and peak RSS, for one encoder (run in a subprocess)."""
    import cv2

    from inference.embed import embed_crops
    from models import create_encoder

    encoder: Any = create_encoder(spec)  # both encoders split preprocess / forward
    crops = _crops(images)
    batches = [encoder.preprocess_images(crops[i : i + batch_size]) for i in range(0, images, batch_size)]
    encoder.encode_preprocessed(batches[0])  # warm-up
    embed_crops(encoder, crops[:batch_size], batch_size=batch_size)

    def raw() -> None:
        for batch in batches:
            encoder.encode_preprocessed(batch)

    with tempfile.TemporaryDirectory() as folder:
        paths = []
        for n, crop in enumerate(crops):
            paths.append(os.path.join(folder, f"{n}.jpg"))
            cv2.imwrite(paths[-1], cv2.cvtColor(crop, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 90])
        result: dict[str, float] = {}
        # interleave raw and stage runs so background load hits both alike; the ratio of each
        # stage run to the mean of the raw runs around it is robust to slow drifts of the load
        raw_rates, array_rates, file_rates, array_ratios, file_ratios = [], [], [], [], []
        previous = _rate(raw, images, 1)
        for _ in range(repeats):
            array_rates.append(_rate(lambda: embed_crops(encoder, crops, batch_size=batch_size), images, 1))
            file_rates.append(_rate(lambda: embed_crops(encoder, paths, batch_size=batch_size), images, 1))
            current = _rate(raw, images, 1)
            raw_rates += [previous, current]
            array_ratios.append(array_rates[-1] / ((previous + current) / 2))
            file_ratios.append(file_rates[-1] / ((previous + current) / 2))
            previous = current
        result["raw_forward_img_s"] = float(np.median(raw_rates))
        result["stage_arrays_img_s"] = float(np.median(array_rates))
        result["stage_jpeg_img_s"] = float(np.median(file_rates))
        result["stage_over_raw_arrays"] = float(np.median(array_ratios))
        result["stage_over_raw_jpeg"] = float(np.median(file_ratios))
        result["preprocess_only_img_s"] = _rate(
            lambda: [encoder.preprocess_images(crops[i : i + batch_size]) for i in range(0, images, batch_size)],
            images, 1)
    result["peak_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return result


def bench_heads(pairs: int = 16000, epochs: int = 2) -> dict[str, float]:
    """Seconds per epoch of head training on cached (here random) features of the default tower's size."""
    from models.offline import HeadsConfig, build_heads, build_image_tower
    from training.train import OptimConfig, train_heads

    config = HeadsConfig()
    image_dim = build_image_tower(config.image_tower).dim
    rng = np.random.default_rng(0)
    images = rng.random((pairs, image_dim), dtype=np.float32) * 3
    table = rng.standard_normal((pairs, 384)).astype(np.float32)
    caption_ids = [rng.integers(0, pairs, 4) for _ in range(pairs)]
    groups = rng.integers(0, 500, pairs)
    heads = build_heads(config, image_dim, 384)
    log = train_heads(heads, images, table, caption_ids, groups, OptimConfig(epochs=epochs, warmup_steps=5))
    return {"seconds_per_epoch": log.seconds_per_epoch, "pairs": pairs, "image_dim": image_dim,
            "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=96, help="crops per measurement")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--repeats", type=int, default=5, help="interleaved raw/stage rounds (medians)")
    parser.add_argument("--only", choices=["encoder", "heads"], help=argparse.SUPPRESS)
    parser.add_argument("--spec", help=argparse.SUPPRESS)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    if args.only == "encoder":
        print(json.dumps(bench_encoder(args.spec, args.images, args.batch_size, args.repeats)))
        return 0
    if args.only == "heads":
        print(json.dumps(bench_heads()))
        return 0
    results: dict[str, dict[str, float]] = {}
    env = dict(os.environ, HF_HUB_OFFLINE="1", PYTHONPATH=str(ROOT))
    for label, spec in ENCODERS.items():
        out = subprocess.run([sys.executable, __file__, "--only", "encoder", "--spec", spec,
                              "--images", str(args.images), "--batch-size", str(args.batch_size),
                              "--repeats", str(args.repeats)], capture_output=True, text=True, env=env, check=True)
        results[label] = json.loads(out.stdout.strip().splitlines()[-1])
    out = subprocess.run([sys.executable, __file__, "--only", "heads"], capture_output=True, text=True,
                         env=env, check=True)
    results["head training (offline default)"] = json.loads(out.stdout.strip().splitlines()[-1])
    if args.json:
        print(json.dumps(results, indent=2))
        return 0
    print("| encoder | raw forward img/s | stage (arrays) img/s | stage (JPEG) img/s | stage/raw | "
          "preprocessing alone img/s | peak RSS MiB |")
    print("|---|---|---|---|---|---|---|")
    for label in ENCODERS:
        r = results[label]
        print(f"| {label} | {r['raw_forward_img_s']:.1f} | {r['stage_arrays_img_s']:.1f} | "
              f"{r['stage_jpeg_img_s']:.1f} | {r['stage_over_raw_arrays']:.2f} (JPEG {r['stage_over_raw_jpeg']:.2f}) | "
              f"{r['preprocess_only_img_s']:.0f} | {r['peak_rss_mib']:.0f} |")
    heads = results["head training (offline default)"]
    print(f"\nhead training: {heads['seconds_per_epoch']:.2f} s/epoch over {heads['pairs']} cached pairs "
          f"({heads['image_dim']}-d image features), "
          f"peak RSS {heads['peak_rss_mib']:.0f} MiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
