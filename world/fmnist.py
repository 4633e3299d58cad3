"""Real garment images from the Debian package ``dataset-fashion-mnist``.

With ``render.fashion_mnist`` on, each garment's texture is modulated by a real
Fashion-MNIST garment of the same type (folds, seams, prints), stretched over the body.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from world.config import WorldError
from world.fashion_mnist import read_idx

logger = logging.getLogger(__name__)

# Fashion-MNIST labels: 0 T-shirt/top, 1 Trouser, 2 Pullover, 3 Dress, 4 Coat, 6 Shirt.
FASHION_MNIST_CLASS = {
    "t-shirt": 0,
    "crop top": 0,
    "tank top": 0,
    "shirt": 6,
    "hoodie": 2,
    "sweater": 2,
    "blazer": 4,
    "dress": 3,
    "jeans": 1,
    "cargo pants": 1,
    "trousers": 1,
}


class FashionMnist:
    """Real garment images from the Debian package ``dataset-fashion-mnist``."""

    def __init__(self, folder: str | Path):
        folder = Path(folder)
        images_path = folder / "t10k-images-idx3-ubyte.gz"
        labels_path = folder / "t10k-labels-idx1-ubyte.gz"
        if not images_path.is_file() or not labels_path.is_file():
            raise WorldError(
                f"Fashion-MNIST not found in {folder} (render.fashion_mnist is on): install the "
                "Debian package dataset-fashion-mnist or set render.fashion_mnist: false"
            )
        self.images = read_idx(images_path).reshape(-1, 28, 28)
        self.labels = read_idx(labels_path)
        logger.debug("loaded %d Fashion-MNIST garments from %s", len(self.labels), folder)

    def shading(self, garment_type: str, seed: int) -> np.ndarray | None:
        """A 28x28 float32 shading map (around 1.0) from one real garment of that type."""
        label = FASHION_MNIST_CLASS.get(garment_type)
        if label is None:
            return None
        candidates = np.flatnonzero(self.labels == label)
        image = self.images[candidates[seed % len(candidates)]].astype(np.float32) / 255.0
        inside = image[image > 0.05]
        level = float(inside.mean()) if inside.size else 1.0
        return np.clip(0.85 + 0.35 * (image - level) / max(level, 0.1), 0.6, 1.25).astype(np.float32)


