"""A tiny randomly initialised dual encoder for tests and CI: no weights, no downloads.

Spec: ``tiny`` or ``tiny:<dim>`` (default 32). Same seed -> same weights -> same vectors.
It embeds real pixels and real tokens, so near-identical crops land near each other,
but it knows nothing about fashion.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable

import numpy as np

from models.base import Encoder, EncoderError, encode_in_batches, l2_normalise
from models.registry import register_encoder
from models.text import clean_texts

_TOKEN = re.compile(r"[a-z0-9]+")


class TinyEncoder(Encoder):
    """Small conv net over 32x32 images and hashed bag-of-words text, randomly initialised."""

    image_size = 32
    buckets = 4096

    def __init__(self, dim: int = 32, seed: int = 0):
        import torch
        from torch import nn

        if not 2 <= dim <= 4096:
            raise EncoderError(f"tiny encoder dimension must be in 2..4096, got {dim}")
        self.name = f"tiny:{dim}"
        self.dim = dim
        self.version = f"tiny-{dim}-seed{seed}"
        generator_state = torch.random.get_rng_state()
        torch.manual_seed(seed)
        self.image_tower = nn.Sequential(
            nn.Conv2d(3, 16, 3, stride=2, padding=1),
            nn.ReLU(),
            nn.Conv2d(16, 32, 3, stride=2, padding=1),
            nn.ReLU(),
            nn.AdaptiveAvgPool2d(2),
            nn.Flatten(),
            nn.Linear(128, dim),
        ).eval()
        self.text_tower = nn.EmbeddingBag(self.buckets, dim, mode="mean")
        torch.random.set_rng_state(generator_state)

    def encode_images(self, images: Iterable[np.ndarray]) -> np.ndarray:
        return encode_in_batches(images, self.batch_size, self.dim, self._encode_image_batch)

    def _encode_image_batch(self, images: list[np.ndarray]) -> np.ndarray:
        import cv2
        import torch

        batch = np.stack(
            [cv2.resize(np.ascontiguousarray(img[..., :3]), (self.image_size, self.image_size),
                        interpolation=cv2.INTER_AREA) for img in images]
        ).astype(np.float32) / 255.0
        tensor = torch.from_numpy(batch).permute(0, 3, 1, 2)
        with torch.inference_mode():
            return l2_normalise(self.image_tower(tensor).numpy())

    def _token_ids(self, text: str) -> list[int]:
        tokens = _TOKEN.findall(text.lower()) or ["<empty>"]
        return [int(hashlib.md5(t.encode()).hexdigest()[:8], 16) % self.buckets for t in tokens]

    def encode_text(self, texts: Iterable[str]) -> np.ndarray:
        return encode_in_batches(clean_texts(texts), self.batch_size, self.dim, self._encode_text_batch)

    def _encode_text_batch(self, texts: list[str]) -> np.ndarray:
        import torch

        ids: list[int] = []
        offsets: list[int] = []
        for text in texts:
            offsets.append(len(ids))
            ids.extend(self._token_ids(text))
        with torch.inference_mode():
            vectors = self.text_tower(torch.tensor(ids), torch.tensor(offsets))
        return l2_normalise(vectors.numpy())


@register_encoder("tiny", "tiny random dual encoder for tests (tiny[:dim])")
def _build_tiny(args: str) -> Encoder:
    try:
        dim = int(args) if args else 32
    except ValueError:
        raise EncoderError(f"tiny encoder spec takes a dimension, got {args!r}") from None
    return TinyEncoder(dim)
