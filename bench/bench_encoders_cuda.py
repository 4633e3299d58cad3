"""Encoder throughput on a CUDA GPU: raw forward pass vs the embedding stage end to end.

    python bench/bench_encoders_cuda.py [--images 4096] [--batch-size 256] [--workers 8] [--json]

For the offline default's image path (EfficientNet-Lite0 tower + trained heads) and for
open_clip ViT-B-32 with random weights (none can be downloaded; speed does not depend on the
weights), in one run on one GPU:

- raw forward: images/s of the forward pass on batches already preprocessed and already on
  the GPU (fp32, and fp16 autocast) — the limit;
- stage: ``inference.embed.embed_crops`` on decoded RGB crops of mixed sizes, preprocessing
  on CPU worker threads, host-to-device copies and device-to-host results included;
- the ratio stage / raw (target >= 0.9).

The offline default's text tower (MiniLM) is not loaded: only images are measured, and its
text projection gets a stand-in tower of the same width.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def crops(count: int, seed: int = 0) -> list[np.ndarray]:
    """Garment-crop-like images of mixed sizes (tall, wide, square), 120-400 px a side."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(count):
        h, w = int(rng.integers(120, 400)), int(rng.integers(120, 400))
        base = rng.integers(0, 255, (h // 8 + 1, w // 8 + 1, 3), dtype=np.uint8)
        out.append(np.ascontiguousarray(np.kron(base, np.ones((8, 8, 1), np.uint8))[:h, :w]))
    return out


def offline_default(device: str) -> Any:
    from models.offline import (
        PACKAGED_HEADS,
        HashBowTower,
        OfflineEncoder,
        build_image_tower,
        read_heads_file,
        torch_heads,
    )

    config, tensors, _ = read_heads_file(PACKAGED_HEADS)
    image_tower = build_image_tower(config.image_tower)
    stand_in_text = HashBowTower(dim=int(tensors["text.norm.weight"].shape[0]))
    heads = torch_heads(config, tensors)
    return OfflineEncoder(config, heads, name="stylescope-default", version="bench",
                          image_tower=image_tower, text_tower=stand_in_text).to(device)


def vit_b_32(device: str) -> Any:
    import open_clip

    from models.openclip import OpenClipEncoder

    model = open_clip.create_model("ViT-B-32", pretrained=None)
    return OpenClipEncoder(model, open_clip.get_tokenizer("ViT-B-32"), arch="ViT-B-32",
                           name="open_clip:ViT-B-32:random", version="random").to(device)


def raw_forward(encoder: Any, batch: np.ndarray, repeats: int, half: bool) -> float:
    """Images/s of the forward pass on a batch already on the GPU."""
    import torch

    from models.offline import OfflineEncoder

    tensor = torch.from_numpy(batch).to(encoder.device)

    def forward() -> None:
        with torch.inference_mode(), torch.autocast(encoder.device, dtype=torch.float16, enabled=half):
            if isinstance(encoder, OfflineEncoder):
                features = encoder.image_tower.forward(tensor)
                encoder.heads.image(features.float())
            else:
                encoder.model.encode_image(tensor)

    sync = torch.cuda.synchronize if encoder.device == "cuda" else (lambda: None)
    forward()
    sync()
    started = time.perf_counter()
    for _ in range(repeats):
        forward()
    sync()
    return repeats * len(batch) / (time.perf_counter() - started)


def stage(encoder: Any, images: list[np.ndarray], batch_size: int, workers: int) -> float:
    from inference.embed import embed_crops

    embed_crops(encoder, images[: batch_size * 2], batch_size=batch_size, workers=workers)  # warm-up
    started = time.perf_counter()
    vectors = embed_crops(encoder, images, batch_size=batch_size, workers=workers)
    seconds = time.perf_counter() - started
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-3)
    return len(images) / seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=4096)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--workers", type=int, default=8, help="preprocessing threads of the stage")
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--device", default="cuda", help="cuda, or cpu for a smoke run")
    args = parser.parse_args()
    import torch

    device = args.device
    if device == "cuda" and not torch.cuda.is_available():
        sys.exit("bench_encoders_cuda: no CUDA device")
    images = crops(args.images)
    gpu = torch.cuda.get_device_name(0) if device == "cuda" else "CPU"
    results: dict[str, Any] = {"gpu": gpu, "torch": torch.__version__,
                               "images": args.images, "batch_size": args.batch_size, "workers": args.workers}
    for label, build in (("offline default", offline_default), ("ViT-B-32 (random init)", vit_b_32)):
        encoder = build(device)
        batch = encoder.preprocess_images(images[: args.batch_size])
        raw32 = raw_forward(encoder, batch, args.repeats, half=False)
        raw16 = raw_forward(encoder, batch, args.repeats, half=True) if device == "cuda" else float("nan")
        by_workers = {w: stage(encoder, images, args.batch_size, w) for w in sorted({1, args.workers})}
        best = max(by_workers.values())
        results[label] = {"raw_fp32_img_s": raw32, "raw_fp16_img_s": raw16,
                          "stage_img_s_by_workers": by_workers, "stage_vs_raw_fp32": best / raw32}
        del encoder
        torch.cuda.empty_cache()
    if args.json:
        print(json.dumps(results, indent=2))
        return
    print(f"{results['gpu']}, torch {results['torch']}, {args.images} crops, batch {args.batch_size}")
    print("| encoder | raw fp32 img/s | raw fp16 img/s | stage img/s (1 worker / N workers) | stage / raw fp32 |")
    print("|---|---|---|---|---|")
    for label in ("offline default", "ViT-B-32 (random init)"):
        r = results[label]
        stages = " / ".join(f"{v:,.0f}" for v in r["stage_img_s_by_workers"].values())
        print(f"| {label} | {r['raw_fp32_img_s']:,.0f} | {r['raw_fp16_img_s']:,.0f} | {stages} | {r['stage_vs_raw_fp32']:.2f}x |")


if __name__ == "__main__":
    main()
