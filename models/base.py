"""The one interface every encoder implements."""

from __future__ import annotations

import abc
import contextlib
import itertools
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any, TypeVar

import numpy as np

from core.errors import StylescopeError
from core.process import threads_set

T = TypeVar("T")


class EncoderError(StylescopeError):
    """An encoder cannot be built or loaded (missing weights, wrong checkpoint ...)."""


class Encoder(abc.ABC):
    """A CLIP-style dual encoder mapping images and text into one space.

    Both methods return float32 arrays of shape (N, dim) whose rows are L2-normalised,
    so inner product == cosine similarity.

    The embedding stage (:func:`inference.embed.embed_crops`) overlaps loading and
    preprocessing the next batch with the forward pass through optional hooks, declared here
    with defaults that simply call :meth:`encode_images`: an encoder whose preprocessing is
    worth running on worker threads overrides ``preprocess_images`` / ``encode_preprocessed``,
    and one that runs on an accelerator also ``resize_images`` / ``encode_resized``.
    """

    name: str  # registry spec that builds this encoder, e.g. "open_clip:ViT-B-32:laion2b_s34b_b79k"
    dim: int  # embedding dimension
    version: str  # changes whenever weights change; index versions record it
    device: str = "cpu"  # where the image network runs ("cuda" ...); not "cpu": resize_images path
    batch_size: int = 64  # inputs per forward pass in encode_images / encode_text (create_encoder: configs/encoders.yaml)

    @abc.abstractmethod
    def encode_images(self, images: Iterable[np.ndarray]) -> np.ndarray:
        """Embed RGB uint8 images (H, W, 3), any size; returns float32 (N, dim).

        Implementations run :attr:`batch_size` images at a time (:func:`encode_in_batches`),
        so memory stays flat however many images come; ``images`` may be a generator.
        """

    @abc.abstractmethod
    def encode_text(self, texts: Iterable[str]) -> np.ndarray:
        """Embed text queries; returns float32 (N, dim), :attr:`batch_size` texts at a time."""

    # -- optional hooks of the embedding stage --------------------------------------------
    def preprocess_images(self, images: Sequence[np.ndarray]) -> Any:
        """The CPU half of :meth:`encode_images` (numpy, thread-safe), run on worker threads
        ahead of the forward pass. Default: the images as they are."""
        return list(images)

    def encode_preprocessed(self, batch: Any) -> np.ndarray:
        """The forward pass on a batch from :meth:`preprocess_images`. Default: :meth:`encode_images`."""
        return self.encode_images(batch)

    def resize_images(self, images: Sequence[np.ndarray]) -> Any:
        """On an accelerator, the cheap CPU half: images resized to the network's input
        (uint8), normalised where the network runs. Default: :meth:`preprocess_images`."""
        return self.preprocess_images(images)

    def encode_resized(self, batch: Any) -> np.ndarray:
        """The forward pass on a batch from :meth:`resize_images`. Default: :meth:`encode_preprocessed`."""
        return self.encode_preprocessed(batch)

    def describe(self) -> dict[str, object]:
        """Name, dimension and version, for reports and index metadata."""
        return {"name": self.name, "dim": self.dim, "version": self.version}


def encode_in_batches(inputs: Iterable[T], batch_size: int, dim: int,
                      encode: Callable[[list[T]], np.ndarray]) -> np.ndarray:
    """``encode`` over consecutive batches of at most ``batch_size`` inputs, stacked (N, dim).

    Only one batch is in the network at a time, and a generator of inputs is read as it is
    needed: memory grows with the (N, dim) result, not with the inputs' pixels or tokens.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    pending = iter(inputs)
    parts = []
    while batch := list(itertools.islice(pending, batch_size)):
        parts.append(np.asarray(encode(batch), np.float32))
    return np.concatenate(parts) if parts else np.zeros((0, dim), np.float32)


def l2_normalise(vectors: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length (zero rows stay zero), as float32."""
    vectors = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=-1, keepdims=True)
    return vectors / np.maximum(norms, 1e-12)


@contextlib.contextmanager
def torch_threads(count: int) -> Iterator[None]:
    """torch's intra-op threads set to ``count`` inside the block and put back after it (0, or
    torch not imported yet: left as they are). The setting is process-wide."""
    torch = sys.modules.get("torch")  # torch comes with an encoder; never imported here
    if torch is None:
        yield
        return
    with threads_set(count, torch.get_num_threads, torch.set_num_threads):
        yield
