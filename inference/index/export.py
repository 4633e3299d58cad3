"""Export of the live embeddings with their garments' metadata (clip-retrieval's layout)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from core.errors import BadInputError
from inference.index.config import IndexConfig
from inference.index.files import read_current
from inference.index.live import load_embeddings
from inference.index.sync import catalog_for

if TYPE_CHECKING:
    from inference.catalog import Catalog, GarmentRecord, GarmentStyle


def export_embeddings(
    data_dir: str | Path,
    out_dir: str | Path,
    catalog: Catalog | None = None,
    partition_size: int = 100_000,
    config: IndexConfig | None = None,
) -> dict[str, Any]:
    """Write the live embeddings and their garments' metadata in clip-retrieval's layout.

    ``out_dir/img_emb/img_emb_{i}.npy`` (float16, row-aligned with)
    ``out_dir/metadata/metadata_{i}.parquet`` (``image_path`` plus garment, creator, video,
    style columns), and ``out_dir/parquet/part_{i}.parquet`` holding both (an
    ``embedding`` column) for readers that take embeddings from Parquet.

    Returns:
        A summary: rows, partitions, encoder, version.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    if partition_size <= 0:
        raise BadInputError("partition size must be positive")
    ids, vectors, encoder_info = load_embeddings(data_dir, config)
    out = Path(out_dir)
    for folder in ("img_emb", "metadata", "parquet"):
        (out / folder).mkdir(parents=True, exist_ok=True)
    with catalog_for(data_dir, catalog) as cat:
        styles = cat.garment_styles()
        known = np.isin(ids, cat.done_garment_ids())
        ids, vectors = ids[known], vectors[known]
        partitions = 0
        for part, start in enumerate(range(0, len(ids), partition_size)):
            chunk_ids = ids[start : start + partition_size]
            garments = {g.id: g for g in cat.garments(ids=[int(i) for i in chunk_ids])}
            table = _metadata_table(Path(data_dir), chunk_ids, garments, styles)
            chunk_vectors = vectors[start : start + partition_size].astype(np.float16)
            np.save(out / "img_emb" / f"img_emb_{part}.npy", chunk_vectors)
            pq.write_table(table, out / "metadata" / f"metadata_{part}.parquet")
            embedding = pa.FixedSizeListArray.from_arrays(
                pa.array(chunk_vectors.astype(np.float32).reshape(-1)), encoder_info["dim"]
            )
            pq.write_table(
                table.append_column("embedding", embedding),
                out / "parquet" / f"part_{part}.parquet",
            )
            partitions += 1
    summary = {
        "rows": len(ids),
        "partitions": partitions,
        "encoder": encoder_info,
        "version": read_current(data_dir),
        "dir": str(out),
    }
    (out / "stylescope_export.json").write_text(json.dumps(summary, indent=2), encoding="utf-8")
    return summary


def _metadata_table(
    data_dir: Path,
    ids: np.ndarray,
    garments: dict[int, GarmentRecord],
    styles: dict[int, GarmentStyle],
) -> Any:
    import pyarrow as pa

    records = [garments[int(i)] for i in ids]
    style = [styles.get(g.id) for g in records]
    return pa.table(
        {
            "image_path": [str(data_dir / g.crop_path) for g in records],
            "caption": [f"{g.kind} worn by @{g.creator}" for g in records],
            "garment_id": pa.array([g.id for g in records], pa.int64()),
            "kind": [g.kind for g in records],
            "creator": [g.creator for g in records],
            "followers": pa.array([g.followers for g in records], pa.int64()),
            "tier": [g.tier for g in records],
            "video_id": pa.array([g.video_id for g in records], pa.int64()),
            "t_s": pa.array([g.t_s for g in records], pa.float64()),
            "posted_at": [g.posted_at for g in records],
            "source_path": [g.source_path for g in records],
            "style_id": pa.array([s.style_id if s else None for s in style], pa.int64()),
            "style": [s.name if s else None for s in style],
        }
    )
