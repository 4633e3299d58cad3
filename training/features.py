"""Cached frozen-tower features, so head training on 2 CPU cores takes minutes, not hours.

The offline default's towers never change while its heads train, so each image and each
caption goes through its tower once; the features are stored as ``.npy`` files keyed by
tower name and a fingerprint of the pair set (image bytes or file path/size/mtime).
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from core.storage import atomic_path
from inference.embed import pipelined
from training.data import PairSet
from training.evaluate import EmbedView

logger = logging.getLogger(__name__)


class FeatureCache:
    """Tower features of pair sets and captions, in memory and (if ``root``) on disk."""

    def __init__(self, encoder: object, root: str | Path | None = None, batch_size: int = 16):
        self.encoder = encoder
        self.root = Path(root) if root else None
        self.batch_size = batch_size
        self._images: dict[str, np.ndarray] = {}
        self._texts: dict[str, np.ndarray] = {}

    def _path(self, tower: str, key: str, kind: str) -> Path | None:
        if self.root is None:
            return None
        safe_tower = tower.replace(":", "-").replace("/", "-")
        return self.root / safe_tower / f"{kind}-{key}.npy"

    def image_features(self, pairs: PairSet, progress: bool = True) -> np.ndarray:
        """(N, tower dim) image-tower features of every image in ``pairs``."""
        tower = self.encoder.image_tower.name  # type: ignore[attr-defined]
        key = f"{pairs.name}-{pairs.fingerprint()}"
        if key in self._images:
            return self._images[key]
        path = self._path(tower, key, "images")
        if path is not None and path.is_file():
            features = np.load(path)
        else:
            features = self._compute_images(pairs, progress)
            if path is not None:
                _save(path, features)
        self._images[key] = features
        return features

    def _compute_images(self, pairs: PairSet, progress: bool) -> np.ndarray:
        encoder = self.encoder
        if len(pairs) == 0:
            return np.zeros((0, int(encoder.image_tower.dim)), np.float32)  # type: ignore[attr-defined,arg-type]
        logger.info("computing image-tower features of %s (%d images)", pairs.name, len(pairs))

        def prepare(indices: Sequence[int]) -> np.ndarray:
            return encoder.preprocess_images([pairs.load(i) for i in indices])  # type: ignore[attr-defined]

        chunks = pipelined(list(range(len(pairs))), prepare, encoder.image_features,  # type: ignore[attr-defined]
                           self.batch_size, progress=progress, desc=f"features {pairs.name}")
        return np.concatenate(list(chunks)).astype(np.float32)

    def text_features(self, texts: Sequence[str]) -> np.ndarray:
        """(N, tower dim) text-tower features of ``texts`` (unique texts computed once)."""
        tower = self.encoder.text_tower.name  # type: ignore[attr-defined]
        unique = list(dict.fromkeys(texts))
        key = hashlib.sha256(json.dumps(unique).encode()).hexdigest()[:16]
        if key not in self._texts:
            path = self._path(tower, key, "texts")
            if path is not None and path.is_file():
                self._texts[key] = np.load(path)
            else:
                chunks = [self.encoder.text_features(unique[i : i + 256])  # type: ignore[attr-defined]
                          for i in range(0, len(unique), 256)]
                self._texts[key] = np.concatenate(chunks).astype(np.float32)
                if path is not None:
                    _save(path, self._texts[key])
        features = self._texts[key]
        row = {text: n for n, text in enumerate(unique)}
        return features[[row[text] for text in texts]]


def _save(path: Path, features: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp, open(tmp, "wb") as handle:
        np.save(handle, features)


class CachedHeadsView(EmbedView):
    """Embeddings from cached tower features through (possibly still training) heads."""

    def __init__(self, cache: FeatureCache, heads: object):
        self.cache, self.heads = cache, heads

    def images(self, pairs: PairSet) -> np.ndarray:
        return _project(self.heads.image, self.cache.image_features(pairs))  # type: ignore[attr-defined]

    def texts(self, texts: Sequence[str]) -> np.ndarray:
        return _project(self.heads.text, self.cache.text_features(list(texts)))  # type: ignore[attr-defined]


def _project(head: object, features: np.ndarray) -> np.ndarray:
    import torch

    from models.base import l2_normalise

    was_training = head.training  # type: ignore[attr-defined]
    head.eval()  # type: ignore[attr-defined]
    with torch.inference_mode():
        out = head(torch.from_numpy(np.ascontiguousarray(features, np.float32))).numpy()  # type: ignore[operator]
    head.train(was_training)  # type: ignore[attr-defined]
    return l2_normalise(out)
