"""The embedding stage: garment crops -> L2-normalised vectors, in batches, handed to the index.

Loading and preprocessing the next batch (JPEG decode, resize, normalise: numpy and
OpenCV, which release the GIL) runs on a worker thread while the current batch goes
through the network, so the stage runs at nearly the speed of the bare forward pass.
Encoders that split ``encode_images`` into ``preprocess_images`` + ``encode_preprocessed``
(hooks of :class:`models.base.Encoder`; the offline default and open_clip override them) get
the full overlap; any other encoder still has its image loading overlapped.

The stage calls the index, never the other way round: :class:`IndexSink` embeds ingested
crops and adds each video's to the live index (its ``prepare`` / ``forward`` halves let
ingest's crop queue, :mod:`inference.crop_queue`, batch crops across videos), and
:class:`CropEmbedder` is what index rebuild and sync re-embed catalog garments with.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np
from tqdm import tqdm

from core.errors import BadInputError, StylescopeError
from inference.encoders import resolve_encoder
from inference.images import load_image
from inference.index import GarmentIndex, IndexConfig, SyncReport, catch_up, read_current
from inference.index.live import ensure_live_version
from inference.types import EmbeddedGarments

if TYPE_CHECKING:
    from inference.catalog import Catalog, GarmentRecord
    from models.base import Encoder

logger = logging.getLogger(__name__)

T = TypeVar("T")
Crop = np.ndarray | str | os.PathLike[str]


def _load(crop: Any) -> np.ndarray:
    return crop if isinstance(crop, np.ndarray) else load_image(crop)


def pipelined(items: Sequence[Any], prepare: Callable[[Sequence[Any]], T],
              forward: Callable[[T], np.ndarray], batch_size: int, prefetch: int = 2,
              progress: bool = False, desc: str = "embed", workers: int = 1) -> Iterator[np.ndarray]:
    """Yield ``forward(prepare(batch))`` per batch, preparing up to ``prefetch`` batches ahead.

    Args:
        items: the inputs, cut into consecutive batches of ``batch_size``.
        prepare: runs on a worker thread (I/O, decode, resize).
        forward: runs on the calling thread (the network).
        batch_size: items per batch.
        prefetch: batches prepared ahead of the one being forwarded.
        progress: show a tqdm bar.
        desc: progress bar label.
        workers: threads preparing batches (more help when the forward pass runs on a GPU).
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    starts = range(0, len(items), batch_size)
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=len(items), desc=desc, unit="img", leave=False)
    with ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="embed-prep") as pool:
        queue: list[Future[T]] = []
        pending = iter(starts)
        for start in pending:
            queue.append(pool.submit(prepare, items[start : start + batch_size]))
            if len(queue) > prefetch:
                break
        while queue:
            prepared = queue.pop(0).result()
            upcoming = next(pending, None)
            if upcoming is not None:
                queue.append(pool.submit(prepare, items[upcoming : upcoming + batch_size]))
            vectors = forward(prepared)
            if bar is not None:
                bar.update(len(vectors))
            yield vectors
    if bar is not None:
        bar.close()


def _halves(encoder: Encoder) -> tuple[Callable[[Sequence[np.ndarray]], Any], Callable[[Any], np.ndarray]]:
    """The encoder's CPU preprocessing and its forward pass, split where its device wants."""
    if encoder.device != "cpu":  # resize on CPU threads, ship uint8, normalise on the accelerator
        return encoder.resize_images, encoder.encode_resized
    return encoder.preprocess_images, encoder.encode_preprocessed


def embed_crops(encoder: Encoder, crops: Sequence[Crop], batch_size: int = 16, *,
                prefetch: int = 2, progress: bool = False, workers: int = 1) -> np.ndarray:
    """Embed garment crops with ``encoder``.

    Args:
        encoder: any :class:`models.base.Encoder`.
        crops: RGB uint8 arrays or image file paths (loaded with :func:`load_image`).
        batch_size: crops per forward pass (the deployment's setting is
            ``index.embed_batch_size`` in ``configs/index.yaml``).
        prefetch: batches loaded/preprocessed ahead of the forward pass.
        progress: show a progress bar.
        workers: threads loading and preprocessing batches (use more with a GPU).

    Returns:
        float32 (N, encoder.dim), rows L2-normalised, in the order of ``crops``.

    Raises:
        BadInputError: a crop path cannot be loaded as an image.
    """
    if len(crops) == 0:
        return np.zeros((0, encoder.dim), np.float32)
    preprocess, forward = _halves(encoder)

    def prepare(batch: Sequence[Crop]) -> Any:
        return preprocess([_load(c) for c in batch])
    chunks = list(pipelined(crops, prepare, forward, batch_size, max(prefetch, workers), progress, workers=workers))
    return np.ascontiguousarray(np.concatenate(chunks).astype(np.float32, copy=False))


def embed_garments(
    data_dir: str | Path,
    encoder: Encoder,
    garments: Sequence[GarmentRecord],
    batch_size: int,
    progress: bool = True,
) -> EmbeddedGarments:
    """Embed catalog garments from their stored crop files, ``batch_size`` at a time.

    Crops that are missing or unreadable are skipped (logged, and listed in ``failed``).
    """
    ids: list[int] = []
    vectors: list[np.ndarray] = []
    failed: list[int] = []
    bar = tqdm(total=len(garments), desc="embed", unit="crop", disable=not progress)
    for start in range(0, len(garments), batch_size):
        batch = garments[start : start + batch_size]
        crops, batch_ids = [], []
        for garment in batch:
            try:
                crops.append(load_image(Path(data_dir) / garment.crop_path))
                batch_ids.append(garment.id)
            except (StylescopeError, OSError) as exc:
                logger.warning(
                    "garment %d: cannot read crop %s: %s", garment.id, garment.crop_path, exc
                )
                failed.append(garment.id)
        if crops:
            vectors.append(embed_crops(encoder, crops, batch_size))
            ids.extend(batch_ids)
        bar.update(len(batch))
    bar.close()
    matrix = np.concatenate(vectors) if vectors else np.zeros((0, encoder.dim), np.float32)
    return EmbeddedGarments(np.asarray(ids, np.int64), matrix, failed)


class CropEmbedder:
    """Embeds catalog garments from their crop files with one encoder: what index rebuild
    and sync (:mod:`inference.index.sync`) re-embed with."""

    def __init__(self, encoder: Encoder):
        self.encoder = encoder

    def embed_garments(
        self, data_dir: Path, garments: Sequence[GarmentRecord], batch_size: int, progress: bool
    ) -> EmbeddedGarments:
        """See :func:`embed_garments`."""
        return embed_garments(data_dir, self.encoder, garments, batch_size, progress)


class IndexSink:
    """The ingest stage's sink: embeds each committed video's crops and indexes them.

    Creates the first index version (exact, for this encoder) when there is none, and
    before a batch catches the index up with what an interrupted run catalogued.
    """

    def __init__(
        self,
        data_dir: str | Path,
        encoder: Encoder | str | None = None,
        config: IndexConfig | None = None,
    ):
        self.data_dir = Path(data_dir)
        self.encoder = resolve_encoder(encoder, data_dir)
        self.config = config or IndexConfig.load()
        self._index = GarmentIndex(self.data_dir, self.config, self.encoder.describe())

    @property
    def batch_size(self) -> int:
        """Crops per forward pass (``index.embed_batch_size``)."""
        return self.config.embed_batch_size

    def add_garments(self, garment_ids: list[int], crops: list[np.ndarray]) -> None:
        """Embed ``crops`` and add them under ``garment_ids`` to the live index."""
        if len(garment_ids) != len(crops):
            raise BadInputError(f"{len(garment_ids)} garment ids for {len(crops)} crops")
        if garment_ids:
            self.add_embedded(garment_ids, embed_crops(self.encoder, crops, self.batch_size))

    def prepare(self, crops: Sequence[np.ndarray]) -> Any:
        """The CPU half of embedding ``crops`` (ingest's crop queue runs it on the decoding thread)."""
        return _halves(self.encoder)[0](list(crops))

    def forward(self, batch: Any) -> np.ndarray:
        """The forward pass on a batch from :meth:`prepare`, or several joined."""
        return _halves(self.encoder)[1](batch)

    def add_embedded(self, garment_ids: list[int], vectors: np.ndarray) -> None:
        """Add one video's garments, embedded, to the live index (made when there is none)."""
        if len(garment_ids) != len(vectors):
            raise BadInputError(f"{len(garment_ids)} garment ids for {len(vectors)} vectors")
        ensure_live_version(self.data_dir, self.encoder.describe(), self.config)
        self._index.add(garment_ids, vectors)

    def catch_up(self, catalog: Catalog) -> SyncReport | None:
        """Add the catalog's garments the live index lacks (embedded from their crops) and
        drop entries the catalog lost; None when there is nothing to index at all."""
        if read_current(self.data_dir) is None:
            if not len(catalog.done_garment_ids()):
                return None
            ensure_live_version(self.data_dir, self.encoder.describe(), self.config)
        return catch_up(self._index, CropEmbedder(self.encoder), catalog)
