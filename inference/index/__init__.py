"""The garment index: FAISS index versions whose ids are catalog garment ids.

Layout of one data directory's index::

    DATA_DIR/index/
      CURRENT                 name of the live version (replaced atomically)
      .lock                   writers (ingest sink, sync, remove, rebuild) serialise on it
      <version>/
        meta.json             encoder, factory, parameters, count, files + sha256, created_at
        config.yaml           the IndexConfig that built the version
        index-<gen>.faiss     the FAISS index; ids inside it are garment ids
        ids-<gen>.npy         garment ids of one embedding segment (int64)
        emb-<gen>.npy         their L2-normalised embeddings (float16)

Files are written once and never changed: a write (an add, a removal) writes new files
under the next generation number, then replaces ``meta.json`` atomically, then deletes the
files the new meta no longer names. An add writes only the rows the last generation lacks:
a new segment, merged with the newest segments while they are no larger (adds of similar
size keep about log2(N) segments), and the FAISS file only once the rows added since it was
written pass ``checkpoint_share`` of the index (``index_rows`` in ``meta.json`` says how
many rows it holds; loading adds the rest from the store: cheap for flat and IVF indexes,
slower for HNSW), so adding a video to a large index costs about its own size, not the
index's. ``epoch`` changes when rows are removed, so readers know when catching up by rows
is not possible. A reader reads ``meta.json`` first and the files it
names after, so it sees one generation or the next, never a mix; every file's sha256 is in
``meta.json`` and checked on load, so a damaged file is reported, not searched.

The index kind follows the size: an exact inner-product index (``flat_factory``) while
small, an approximate one (``approx_factory``, IVF-PQ by default) once a (re)build holds
``approx_threshold`` garments or more. Approximate candidates are re-ranked exactly from
the float16 store. Metadata filters arrive as a :class:`Selection` of allowed garment ids
and are applied inside FAISS with an id selector, or by exact search over the selected
embeddings when the selection is small; results are never over-fetched and post-filtered.

The package, one job per module:

- :mod:`~inference.index.config` the settings (``configs/index.yaml``);
- :mod:`~inference.index.files` the layout on disk, atomic writes, checksums, locks;
- :mod:`~inference.index.store` the float16 embedding store and exact scoring over it;
- :mod:`~inference.index.faiss_index` FAISS factories, building, id selectors, parameters;
- :mod:`~inference.index.version` one index version; building, activating, pruning versions;
- :mod:`~inference.index.live` the live index of a data directory and its reload;
- :mod:`~inference.index.sync` rebuild and sync against the catalog (with the embedder it is given);
- :mod:`~inference.index.export` embeddings and metadata as .npy and Parquet.
"""

from __future__ import annotations

from inference.index.config import IndexConfig
from inference.index.export import export_embeddings
from inference.index.faiss_index import Selection, choose_factory, faiss_threads
from inference.index.files import (
    EncoderMismatchError,
    GarmentIndexError,
    IndexCorruptError,
    NoIndexError,
    index_root,
    read_current,
    read_meta,
)
from inference.index.live import GarmentIndex, live_encoder_info, load_embeddings
from inference.index.store import EmbeddingStore
from inference.index.sync import (
    GarmentEmbedder,
    SyncReport,
    catch_up,
    rebuild_from_store,
    rebuild_index,
    sync,
)
from inference.index.version import (
    IndexVersion,
    activate_version,
    check_encoder,
    list_versions,
    prune_versions,
    write_version,
)

__all__ = [
    "EmbeddingStore",
    "EncoderMismatchError",
    "GarmentEmbedder",
    "GarmentIndex",
    "GarmentIndexError",
    "IndexConfig",
    "IndexCorruptError",
    "IndexVersion",
    "NoIndexError",
    "Selection",
    "SyncReport",
    "activate_version",
    "catch_up",
    "check_encoder",
    "choose_factory",
    "export_embeddings",
    "faiss_threads",
    "index_root",
    "list_versions",
    "live_encoder_info",
    "load_embeddings",
    "prune_versions",
    "read_current",
    "read_meta",
    "rebuild_from_store",
    "rebuild_index",
    "sync",
    "write_version",
]
