"""Fashion-MNIST from the Debian package ``dataset-fashion-mnist`` (real garment images)."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np

FASHION_MNIST_DIR = Path("/usr/share/datasets/fashion-mnist")


def read_idx(path: str | Path) -> np.ndarray:
    """An IDX file (the MNIST format), gzip-compressed, as a uint8 array of its shape."""
    with gzip.open(path, "rb") as handle:
        payload = handle.read()
    dims = payload[3]
    shape = tuple(int.from_bytes(payload[4 + 4 * i : 8 + 4 * i], "big") for i in range(dims))
    return np.frombuffer(payload, dtype=np.uint8, offset=4 + 4 * dims).reshape(shape)
