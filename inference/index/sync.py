"""Re-embedding the catalog into the index: rebuild, rebuild from the store, sync, and the
ingest stage's sink."""

from __future__ import annotations

import contextlib
import dataclasses
import logging
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from tqdm import tqdm

from core.errors import BadInputError, StylescopeError
from inference.index.config import IndexConfig
from inference.index.files import read_current, writer_lock
from inference.index.live import GarmentIndex, load_live, resolve_encoder
from inference.index.version import IndexVersion, activate_version, check_encoder, write_version

if TYPE_CHECKING:
    from inference.catalog import Catalog, GarmentRecord
    from models.base import Encoder

logger = logging.getLogger(__name__)


def embed_images(encoder: Encoder, images: Sequence[np.ndarray], batch_size: int) -> np.ndarray:
    """Embed RGB crops in batches (the encoder stage's ``embed_crops`` when present)."""
    try:
        from inference.embed import embed_crops
    except ModuleNotFoundError as exc:
        if exc.name != "inference.embed":
            raise
    else:
        return np.asarray(embed_crops(encoder, list(images), batch_size), dtype=np.float32)
    parts = [
        encoder.encode_images(list(images[i : i + batch_size]))
        for i in range(0, len(images), batch_size)
    ]
    return np.concatenate(parts) if parts else np.zeros((0, encoder.dim), np.float32)


def read_image(source: Any) -> np.ndarray:
    """An image file, bytes or array as RGB uint8 (``inference.images.load_image``)."""
    from inference.images import load_image

    return load_image(source)


def embed_garments(
    data_dir: str | Path,
    encoder: Encoder,
    garments: Sequence[GarmentRecord],
    batch_size: int,
    progress: bool = True,
) -> tuple[np.ndarray, np.ndarray, list[int]]:
    """Embed garments from their stored crop files.

    Returns (ids, vectors, failed ids): crops that are missing or unreadable are skipped.
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
                crops.append(read_image(Path(data_dir) / garment.crop_path))
                batch_ids.append(garment.id)
            except (StylescopeError, OSError) as exc:
                logger.warning(
                    "garment %d: cannot read crop %s: %s", garment.id, garment.crop_path, exc
                )
                failed.append(garment.id)
        if crops:
            vectors.append(embed_images(encoder, crops, batch_size))
            ids.extend(batch_ids)
        bar.update(len(batch))
    bar.close()
    matrix = np.concatenate(vectors) if vectors else np.zeros((0, encoder.dim), np.float32)
    return np.asarray(ids, np.int64), matrix, failed


def _garments_in_chunks(
    catalog: Catalog, ids: np.ndarray, chunk: int = 20_000
) -> Iterator[list[GarmentRecord]]:
    for start in range(0, len(ids), chunk):
        yield catalog.garments(ids=[int(i) for i in ids[start : start + chunk]])


@contextlib.contextmanager
def catalog_for(data_dir: str | Path, catalog: Catalog | None) -> Iterator[Catalog]:
    from inference.catalog import Catalog

    if catalog is not None:
        yield catalog
        return
    owned = Catalog(data_dir)
    try:
        yield owned
    finally:
        owned.close()


@dataclasses.dataclass
class SyncReport:
    """What :func:`sync` changed."""

    version: str  # the live version after the sync
    added: int  # catalog garments that were missing from the index, now embedded and added
    removed: int  # index entries whose garment is no longer in the catalog
    failed: list[int]  # garments whose crop could not be read


def rebuild_index(
    data_dir: str | Path,
    encoder: Encoder,
    catalog: Catalog | None = None,
    activate: bool = True,
    config: IndexConfig | None = None,
    progress: bool = True,
) -> str:
    """Re-embed every catalog garment from its crop and build a new index version.

    The new version is switched in atomically (``activate``); searches keep working on the
    old one until then, and any failure leaves the old version live. Garments ingested
    while it was built are caught up before the switch.

    Returns:
        The new version's name.
    """
    config = config or IndexConfig.load()
    with catalog_for(data_dir, catalog) as cat:
        ids = cat.done_garment_ids()
        logger.info("re-embedding %d garments with %s", len(ids), encoder.name)
        parts = [
            embed_garments(data_dir, encoder, chunk, config.embed_batch_size, progress)
            for chunk in _garments_in_chunks(cat, ids)
        ]
        new_ids = np.concatenate([p[0] for p in parts]) if parts else np.zeros(0, np.int64)
        vectors = (
            np.concatenate([p[1] for p in parts])
            if parts
            else np.zeros((0, encoder.dim), np.float32)
        )
        failed = [i for p in parts for i in p[2]]
        if failed:
            logger.warning(
                "%d garments had no readable crop and are left out of the index", len(failed)
            )
        version = write_version(data_dir, new_ids, vectors, encoder.describe(), config, progress)
        if activate:
            with writer_lock(data_dir):
                _catch_up(data_dir, version, encoder, cat, config, progress=False)
                activate_version(data_dir, version.name, config.keep_versions)
    return version.name


def rebuild_from_store(
    data_dir: str | Path, config: IndexConfig | None = None, progress: bool = True
) -> str:
    """Rebuild the FAISS index of the live version from its stored embeddings (no re-embedding).

    Picks the factory for the current size; the result is a new version, switched in atomically.
    """
    config = config or IndexConfig.load()
    with writer_lock(data_dir):
        live = load_live(data_dir, config)
        version = write_version(
            data_dir, live.store.ids.copy(), live.store.vectors, live.encoder_info, config, progress
        )
        activate_version(data_dir, version.name, config.keep_versions)
    return version.name


def _catch_up(
    data_dir: str | Path,
    version: IndexVersion,
    encoder: Encoder,
    catalog: Catalog,
    config: IndexConfig,
    progress: bool,
) -> SyncReport:
    """Make ``version`` hold exactly the catalog's garments (embedding the missing ones)."""
    catalog_ids = catalog.done_garment_ids()
    stale = np.setdiff1d(version.store.ids, catalog_ids)
    missing = np.setdiff1d(catalog_ids, version.store.ids)
    failed: list[int] = []
    added = 0
    if len(missing):
        records = [g for chunk in _garments_in_chunks(catalog, missing) for g in chunk]
        ids, vectors, failed = embed_garments(
            data_dir, encoder, records, config.embed_batch_size, progress
        )
        added = len(version.add(ids, vectors))
    removed = version.remove(stale) if len(stale) else 0
    if added or removed:
        version.persist(rewrite_store=bool(removed))
    return SyncReport(version.name, added, removed, failed)


def sync(
    data_dir: str | Path,
    encoder: Encoder,
    catalog: Catalog | None = None,
    config: IndexConfig | None = None,
    progress: bool = True,
) -> SyncReport:
    """Bring the live index in line with the catalog after a crash or a manual change.

    Catalog garments missing from the index are embedded from their crop files and added;
    index entries whose garment left the catalog are removed. Without a live index, one is
    built from the whole catalog.
    """
    config = config or IndexConfig.load()
    with catalog_for(data_dir, catalog) as cat:
        if read_current(data_dir) is None:
            name = rebuild_index(data_dir, encoder, cat, True, config, progress)
            return SyncReport(name, len(load_live(data_dir, config)), 0, [])
        with writer_lock(data_dir):
            live = load_live(data_dir, config)
            check_encoder(live.meta, encoder.describe())
            report = _catch_up(data_dir, live, encoder, cat, config, progress)
    logger.info(
        "sync: %d added, %d removed, %d unreadable crops",
        report.added,
        report.removed,
        len(report.failed),
    )
    return report


class IndexSink:
    """The ingest stage's sink: embeds each committed video's crops and indexes them.

    Creates the first index version (exact, for this encoder) when there is none.
    """

    def __init__(
        self,
        data_dir: str | Path,
        encoder: Encoder | str | None = None,
        config: IndexConfig | None = None,
    ):
        self.data_dir = Path(data_dir)
        self.encoder = resolve_encoder(data_dir, encoder)
        self.config = config or IndexConfig.load()
        self._index = GarmentIndex(self.data_dir, self.config, self.encoder.describe())

    def add_garments(self, garment_ids: list[int], crops: list[np.ndarray]) -> None:
        """Embed ``crops`` and add them under ``garment_ids`` to the live index."""
        if len(garment_ids) != len(crops):
            raise BadInputError(f"{len(garment_ids)} garment ids for {len(crops)} crops")
        if not garment_ids:
            return
        vectors = embed_images(self.encoder, crops, self.config.embed_batch_size)
        with writer_lock(self.data_dir):
            if read_current(self.data_dir) is None:
                empty = write_version(
                    self.data_dir,
                    np.zeros(0, np.int64),
                    np.zeros((0, self.encoder.dim), np.float32),
                    self.encoder.describe(),
                    self.config,
                    progress=False,
                )
                activate_version(self.data_dir, empty.name)
        self._index.add(garment_ids, vectors)
