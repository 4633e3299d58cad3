"""The one interface every encoder implements."""

from __future__ import annotations

import abc
from collections.abc import Sequence

import numpy as np

from core.errors import StylescopeError


class EncoderError(StylescopeError):
    """An encoder cannot be built or loaded (missing weights, wrong checkpoint ...)."""


class Encoder(abc.ABC):
    """A CLIP-style dual encoder mapping images and text into one space.

    Both methods return float32 arrays of shape (N, dim) whose rows are L2-normalised,
    so inner product == cosine similarity.
    """

    name: str  # registry spec that builds this encoder, e.g. "open_clip:ViT-B-32:laion2b_s34b_b79k"
    dim: int  # embedding dimension
    version: str  # changes whenever weights change; index versions record it

    @abc.abstractmethod
    def encode_images(self, images: Sequence[np.ndarray]) -> np.ndarray:
        """Embed RGB uint8 images (H, W, 3), any size; returns float32 (N, dim)."""

    @abc.abstractmethod
    def encode_text(self, texts: Sequence[str]) -> np.ndarray:
        """Embed text queries; returns float32 (N, dim)."""

    def describe(self) -> dict[str, object]:
        """Name, dimension and version, for reports and index metadata."""
        return {"name": self.name, "dim": self.dim, "version": self.version}


def l2_normalise(vectors: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length (zero rows stay zero), as float32."""
    vectors = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=-1, keepdims=True)
    return vectors / np.maximum(norms, 1e-12)
