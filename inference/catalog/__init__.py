"""The catalog: SQLite (WAL) holding creators, videos, frames, garments and styles.

The only place SQL lives. Callers get typed records (:mod:`inference.catalog.records`),
never rows, and never the connection.

One catalog per data directory. Every video is written in two steps: a ``processing`` row
first (so its id is known while crops are written), then its frames and garments together
with ``status = 'done'`` in one transaction. A process killed in between leaves a
``processing`` row, which the next ingest resets and redoes: nothing is half-written.

Garment ids are AUTOINCREMENT so a deleted garment's id is never reused: they double as
FAISS ids.

The :class:`Catalog` is assembled from one class of queries per concern:

- :mod:`~inference.catalog.base` connections, transactions, migrations, meta;
- :mod:`~inference.catalog.videos` what the ingest writes and the plain reads after it;
- :mod:`~inference.catalog.checks` the evidence the garment check weighs;
- :mod:`~inference.catalog.garment_checks` the garment check's verdicts (which crops are not garments);
- :mod:`~inference.catalog.claims` which process works on a video (atomic dedup across processes);
- :mod:`~inference.catalog.health` integrity checks and repairs (``stylescope check``);
- :mod:`~inference.catalog.index` what the garment index reads;
- :mod:`~inference.catalog.metadata` columns for search's cache, counts and lookups for the app;
- :mod:`~inference.catalog.interchange` a video's decoder facts and frames, for exports;
- :mod:`~inference.catalog.styles` styles, garment assignments, posts and sightings (trends).
"""

from __future__ import annotations

from inference.catalog.base import CATALOG_FILE, check_schema, local_commits
from inference.catalog.checks import GarmentEvidenceQueries, GarmentEvidenceRecord
from inference.catalog.claims import Claim, claim_is_live
from inference.catalog.garment_checks import GarmentCheckQueries, GarmentCheckRecord
from inference.catalog.health import HealthQueries
from inference.catalog.index import GarmentStyle, IndexQueries
from inference.catalog.interchange import InterchangeQueries, StoredFrame, VideoFacts
from inference.catalog.metadata import (
    CreatorColumns,
    GarmentColumns,
    GarmentStyleColumns,
    MetadataQueries,
    MetadataReader,
    StyleName,
    StylesVersion,
    VideoColumns,
)
from inference.catalog.records import (
    FrameRow,
    GarmentRecord,
    GarmentRow,
    IngestEvent,
    VideoRecord,
    WholeVideo,
)
from inference.catalog.schema import SCHEMA_VERSION
from inference.catalog.styles import (
    ClusterableGarment,
    PostRecord,
    StyleAssignment,
    StyledGarment,
    StyleGarment,
    StyleQueries,
    StyleRecord,
    StyleWord,
)
from inference.catalog.videos import VideoQueries


class Catalog(
    HealthQueries, VideoQueries, IndexQueries, MetadataQueries, StyleQueries, GarmentEvidenceQueries,
    GarmentCheckQueries, InterchangeQueries,
):
    """SQLite catalog of one data directory; safe to share between threads.

    Each thread gets its own connection; writes serialise on SQLite's lock (WAL lets
    readers go on during a write).
    """


__all__ = [
    "CATALOG_FILE",
    "SCHEMA_VERSION",
    "Catalog",
    "Claim",
    "ClusterableGarment",
    "CreatorColumns",
    "FrameRow",
    "GarmentCheckQueries",
    "GarmentCheckRecord",
    "GarmentColumns",
    "GarmentEvidenceRecord",
    "GarmentRecord",
    "GarmentRow",
    "GarmentStyle",
    "GarmentStyleColumns",
    "IngestEvent",
    "InterchangeQueries",
    "MetadataReader",
    "PostRecord",
    "StoredFrame",
    "StyleAssignment",
    "StyleGarment",
    "StyleName",
    "StyleRecord",
    "StyleWord",
    "StyledGarment",
    "StylesVersion",
    "VideoColumns",
    "VideoFacts",
    "VideoRecord",
    "WholeVideo",
    "check_schema",
    "claim_is_live",
    "local_commits",
]
