"""Re-embedding the catalog into the index: rebuild, rebuild from the store, and sync.

The index does not embed: the embedding stage hands it a :class:`GarmentEmbedder`
(:class:`inference.embed.CropEmbedder`) that embeds catalog garments from their crop files.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from core.faults import fault_point
from core.storage import remove_leftovers
from inference.index.config import IndexConfig
from inference.index.files import read_current, writer_lock
from inference.index.live import GarmentIndex, load_live, stored_embeddings
from inference.index.version import IndexVersion, activate_version, check_encoder, write_version
from inference.types import EmbeddedGarments

if TYPE_CHECKING:
    from inference.catalog import Catalog, GarmentRecord
    from models.base import Encoder

logger = logging.getLogger(__name__)


class GarmentEmbedder(Protocol):
    """Embeds catalog garments from their stored crops (:class:`inference.embed.CropEmbedder`)."""

    @property
    def encoder(self) -> Encoder:
        """The encoder the vectors come from."""
        ...

    def embed_garments(
        self, data_dir: Path, garments: Sequence[GarmentRecord], batch_size: int, progress: bool
    ) -> EmbeddedGarments:
        """Embed ``garments`` from their crop files under ``data_dir``, ``batch_size`` at a time."""
        ...


def _garments_in_chunks(
    catalog: Catalog, ids: np.ndarray, chunk: int = 20_000
) -> Iterator[list[GarmentRecord]]:
    for start in range(0, len(ids), chunk):
        yield catalog.garments(ids=[int(i) for i in ids[start : start + chunk]])


def _missing_records(catalog: Catalog, catalog_ids: np.ndarray, index_ids: np.ndarray) -> list[GarmentRecord]:
    """Catalog garments the index lacks, less those of videos a live ingest is still
    indexing (their owner adds them)."""
    missing = np.setdiff1d(catalog_ids, index_ids)
    if not len(missing):
        return []
    in_flight = catalog.in_flight_video_ids()
    return [
        g for chunk in _garments_in_chunks(catalog, missing) for g in chunk if g.video_id not in in_flight
    ]


@contextlib.contextmanager
def catalog_for(data_dir: str | Path, catalog: Catalog | None) -> Iterator[Catalog]:
    """``catalog`` itself, or the data directory's catalog opened (and closed) around the block."""
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
    embedder: GarmentEmbedder,
    catalog: Catalog | None = None,
    activate: bool = True,
    config: IndexConfig | None = None,
    progress: bool = True,
) -> str:
    """Re-embed every catalog garment from its crop with ``embedder`` and build a new index version.

    The new version is switched in atomically (``activate``); searches keep working on the
    old one until then, and any failure leaves the old version live. Garments ingested
    while it was built are caught up before the switch.

    Returns:
        The new version's name.
    """
    config = config or IndexConfig.load()
    encoder = embedder.encoder
    remove_leftovers(data_dir)
    with catalog_for(data_dir, catalog) as cat:
        ids = cat.done_garment_ids()
        logger.info("re-embedding %d garments with %s", len(ids), encoder.name)
        parts = [
            embedder.embed_garments(Path(data_dir), chunk, config.embed_batch_size, progress)
            for chunk in _garments_in_chunks(cat, ids)
        ]
        new_ids = np.concatenate([p.ids for p in parts]) if parts else np.zeros(0, np.int64)
        vectors = (
            np.concatenate([p.vectors for p in parts])
            if parts
            else np.zeros((0, encoder.dim), np.float32)
        )
        failed = [i for p in parts for i in p.failed]
        if failed:
            kept_ids, kept_vectors = _keep_stored(data_dir, cat, failed, encoder.describe(), config)
            new_ids = np.concatenate([new_ids, kept_ids])
            vectors = np.concatenate([vectors, kept_vectors])
        version = write_version(data_dir, new_ids, vectors, encoder.describe(), config, progress)
        fault_point("index.version_built")
        if activate:
            with writer_lock(data_dir):
                _catch_up(data_dir, version, embedder, cat, config, progress=False)
                activate_version(data_dir, version.name, config.keep_versions)
    return version.name


def _keep_stored(
    data_dir: str | Path, catalog: Catalog, failed: list[int], encoder_info: dict[str, Any],
    config: IndexConfig,
) -> tuple[np.ndarray, np.ndarray]:
    """Garments whose crop is gone keep the embedding the live version stored for them (same
    encoder); the rest stay catalogued, out of the index. Says which crops are missing."""
    ids, vectors = stored_embeddings(data_dir, np.asarray(failed, np.int64), encoder_info, config)
    crops = {g.id: g.crop_path for g in catalog.garments(ids=failed)}
    kept = set(ids.tolist())
    lost = [i for i in failed if i not in kept]

    def named(garments: list[int]) -> str:
        shown = ", ".join(crops.get(i, f"garment {i}") for i in garments[:10])
        return shown + (f" and {len(garments) - 10} more" if len(garments) > 10 else "")

    if kept:
        logger.warning(
            "%d garments have no readable crop; their stored embeddings are kept in the new "
            "index (missing crops: %s)", len(kept), named(sorted(kept))
        )
    if lost:
        logger.warning(
            "%d garments have no readable crop and no stored embedding from this encoder: they "
            "stay in the catalog but are not searchable; re-ingest their videos to cut the crops "
            "again (missing crops: %s)", len(lost), named(lost)
        )
    return ids, vectors


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
    embedder: GarmentEmbedder,
    catalog: Catalog,
    config: IndexConfig,
    progress: bool,
) -> SyncReport:
    """Make ``version`` hold exactly the catalog's garments (embedding the missing ones)."""
    catalog_ids = catalog.done_garment_ids()
    stale = np.setdiff1d(version.store.ids, catalog_ids)
    records = _missing_records(catalog, catalog_ids, version.store.ids)
    failed: list[int] = []
    added = 0
    if records:
        embedded = embedder.embed_garments(
            Path(data_dir), records, config.embed_batch_size, progress
        )
        fault_point("sync.embedded")
        failed = embedded.failed
        added = len(version.add(embedded.ids, embedded.vectors))
    removed = version.remove(stale) if len(stale) else 0
    if added or removed:
        version.persist(rewrite_store=bool(removed))
    return SyncReport(version.name, added, removed, failed)


def catch_up(
    index: GarmentIndex, embedder: GarmentEmbedder, catalog: Catalog, progress: bool = False
) -> SyncReport:
    """Add to ``index`` the catalog garments it lacks and drop the ones the catalog lost.

    What every writer that opens a data directory runs first, so that a video committed
    by a run that was killed before indexing it becomes searchable without being asked
    for. Garments of videos that a live ingest is still indexing are left to it. Each
    change takes the index's writer lock on its own, so searches and other writers go on.
    """
    version = index.version()
    catalog_ids = catalog.done_garment_ids()
    stale = np.setdiff1d(version.store.ids, catalog_ids)
    records = _missing_records(catalog, catalog_ids, version.store.ids)
    added, failed = 0, []
    if records:
        embedded = embedder.embed_garments(
            index.data_dir, records, index.config.embed_batch_size, progress
        )
        fault_point("sync.embedded")
        failed = embedded.failed
        if len(embedded.ids):
            added = index.add(embedded.ids, embedded.vectors)
    removed = index.remove(stale) if len(stale) else 0
    return SyncReport(index.version().name, added, removed, failed)


def sync(
    data_dir: str | Path,
    embedder: GarmentEmbedder,
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
    remove_leftovers(data_dir)
    with catalog_for(data_dir, catalog) as cat:
        if read_current(data_dir) is None:
            name = rebuild_index(data_dir, embedder, cat, True, config, progress)
            return SyncReport(name, len(load_live(data_dir, config)), 0, [])
        with writer_lock(data_dir):
            live = load_live(data_dir, config)
            check_encoder(live.meta, embedder.encoder.describe())
            report = _catch_up(data_dir, live, embedder, cat, config, progress)
    logger.info(
        "sync: %d added, %d removed, %d unreadable crops",
        report.added,
        report.removed,
        len(report.failed),
    )
    return report
