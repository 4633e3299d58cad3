"""Styles and trends from the Parquet tables on Ray (``stylescope trends --backend ray``).

The local path clusters every garment in one process. Here:

1. every table (``videos``, ``frames``, ``garments``, ``embeddings/<encoder>``) is read as a
   Ray dataset and brought together per video (one ``groupby("video_id")``);
2. the clusters are fitted on a sample of videos (all of their garments, so outfits stay
   whole; ``--sample`` garments, drawn by video hash) with the local path's own
   :func:`~inference.trends.clustering.fit_units`: the same k-means, k selection, noise
   limits and radii;
3. every video is assigned as a distributed ``map_groups``
   (:func:`~inference.scale.trend_rows.assign_video`: nearest cluster within its limit, and
   the video's sightings through the local path's ``unit_sightings``);
4. clusters below ``min_style_size`` units are dissolved from the counts, as locally, and
   the rest numbered as fresh style ids;
5. the series, rising states, forecasts, originators and creators come from the same pure
   functions as the local report (:func:`~inference.trends.reports.styles_report`,
   :func:`~inference.trends.reports.creators_of`).

The outputs are Parquet tables under ``--out`` (``styles``, ``assignments``, ``series``) and
the same report ``stylescope trends`` prints.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import time
from pathlib import Path
from typing import Any

import numpy as np

from core.errors import BadInputError
from inference.catalog import PostRecord, StyleGarment
from inference.scale.tables import complete_rows, encoder_table
from inference.scale.trend_rows import assign_video, sample_units, to_union, video_key
from inference.trends.clustering import NOISE, ClusterFit, Clustering, fit_units, kept_clusters
from inference.trends.identity import Style
from inference.trends.naming import name_clusters
from inference.trends.series import Post, Sighting, TrendData, dated_posts
from inference.trends.settings import TrendsConfig

logger = logging.getLogger(__name__)

MEDOIDS = 4  # typical garments per style in the report, as locally


@dataclasses.dataclass
class RayTrends:
    """What a Ray trends run found: the fit, the styles, the data the reports are made from."""

    fit: ClusterFit
    styles: list[Style]
    data: TrendData
    style_of_cluster: dict[int, int]  # fit cluster index -> style id (dissolved clusters absent)
    assigned: int  # garments given a style
    unassigned: int  # clusterable garments left without one
    medoids: dict[int, list[StyleGarment]]  # style id -> nearest garments
    assignments: Any  # Ray dataset: garment_id, video_id, style_id, distance (styled garments)
    seconds: dict[str, float]  # read (posts, and every table into the object store), fit, assign


def _union(tables: Path, encoder: str):  # type: ignore[no-untyped-def]
    """Every table's rows as one dataset of union rows."""
    import ray.data

    parts = {"video": ("videos", ["video_id", "status", "creator", "followers", "posted_at"]),
             "frame": ("frames", ["video_id", "frame_index", "t_s"]),
             "garment": ("garments", ["video_id", "garment_id", "frame_index", "kind", "method"]),
             "vector": (encoder_table(encoder), ["video_id", "garment_id", "vector"])}
    datasets = []
    for part, (table, columns) in parts.items():
        folder = tables / table
        if not folder.exists():
            raise BadInputError(f"no {table} table under {tables}: is it the --out of a Ray ingest or an export?")
        read: Any = ray.data.read_parquet(str(folder), partitioning=None, file_extensions=["parquet"]).select_columns(columns)
        datasets.append(read.map_batches(to_union, fn_kwargs={"part": part}, batch_format="pyarrow"))
    return datasets[0].union(*datasets[1:])


def _below(batch: Any, threshold: str) -> Any:
    import pyarrow.compute as pc

    return batch.filter(pc.less(batch.column("video_id"), threshold))


def sample_threshold(garments: int, sample: int) -> str | None:
    """Video hashes below this are the fit's sample (``sample`` of ``garments``, in expectation);
    None: every video."""
    if garments <= sample:
        return None
    return f"{int(sample / garments * 16**12):012x}"


def _arrow(dataset: Any) -> Any:
    """A (small) dataset as one pyarrow table on the driver."""
    import pyarrow as pa
    import ray

    tables = [t for t in ray.get(dataset.to_arrow_refs()) if t.num_rows]
    return pa.concat_tables(tables) if tables else pa.table({})


def fit_sample(union: Any, config: TrendsConfig, garments: int, sample: int) -> tuple[ClusterFit, np.ndarray]:
    """The clusters of a sample of videos' units (the local fit, on fewer units), and those units' vectors."""
    cluster = config.cluster
    threshold = sample_threshold(garments, sample)
    chosen = union if threshold is None else union.map_batches(_below, fn_kwargs={"threshold": threshold},
                                                               batch_format="pyarrow")
    units = _arrow(chosen.groupby("video_id", num_partitions=_partitions(garments)).map_groups(sample_units, fn_kwargs={"config": cluster},
                                                         batch_format="pyarrow"))
    if units.num_rows == 0:
        raise BadInputError("no garments to cluster in the tables (no done videos with embeddings)")
    units = units.sort_by([("video_id", "ascending"), ("unit", "ascending")])
    vectors = np.asarray(units.column("vector").to_pylist(), np.float32)
    unit_config = dataclasses.replace(cluster, group_by="all") if cluster.group_by == "outfit" else cluster
    fit, _, _ = fit_units(vectors, units.column("kind").to_pylist(), unit_config)
    logger.info("fitted %d clusters on %d sampled units", len(fit.clusters), len(vectors))
    return fit, vectors


def _summary(batch: Any, clusters: int) -> Any:
    """Per batch of assigned rows: clusterable garments, and per cluster units, garments and the
    nearest garments."""
    import pyarrow as pa

    def column(name: str) -> np.ndarray:
        return batch.column(name).to_numpy(zero_copy_only=False)

    garment_rows = column("row") == "garment"
    rows = np.flatnonzero(garment_rows & (column("cluster") >= 0))
    labels, first = column("cluster")[rows], column("unit_first")[rows].astype(bool)
    distances, ids = column("distance")[rows], column("garment_id")[rows]
    near_ids, near_distances = [], []
    for c in range(clusters):
        members = np.flatnonzero(labels == c)
        nearest = members[np.lexsort((ids[members], distances[members]))[:MEDOIDS]]
        near_ids.append(ids[nearest].tolist())
        near_distances.append(distances[nearest].tolist())
    return pa.table({"clusterable": [int(garment_rows.sum())],
                     "units": [np.bincount(labels[first], minlength=clusters).tolist()],
                     "garments": [np.bincount(labels, minlength=clusters).tolist()],
                     "near_ids": [near_ids], "near_distances": [near_distances]})


def _sighting_rows(batch: Any, style_of: dict[int, int]) -> Any:
    import pyarrow.compute as pc

    kept = _int_array(list(style_of))
    return batch.filter(pc.and_(pc.equal(batch.column("row"), "sighting"), pc.is_in(batch.column("cluster"),
                                                                                    value_set=kept)))


def _styled_rows(batch: Any, style_of: dict[int, int]) -> Any:
    """Garment rows of kept clusters as assignments: garment_id, video_id, style_id, distance."""
    import pyarrow as pa
    import pyarrow.compute as pc

    rows = batch.filter(pc.and_(pc.equal(batch.column("row"), "garment"),
                                pc.is_in(batch.column("cluster"), value_set=_int_array(list(style_of)))))
    styles = np.asarray([style_of[int(c)] for c in rows.column("cluster").to_numpy(zero_copy_only=False)], np.int64)
    return pa.table({"garment_id": rows.column("garment_id"), "video_id": rows.column("video_id"),
                     "style_id": pa.array(styles, pa.int64()), "distance": rows.column("distance")})


def _int_array(values: list[int]) -> Any:
    import pyarrow as pa

    return pa.array(values, pa.int64())


def read_posts(tables: Path, as_of: dt.date | None) -> tuple[dict[int, Post], int, int]:
    """The tables' done videos as posts (by video key), dated on or before ``as_of`` (default today)."""
    videos = complete_rows(tables, "videos", "video_id")
    if videos.num_rows == 0:
        raise BadInputError(f"no videos table under {tables}: is it the --out of a Ray ingest or an export?")
    records = [PostRecord(video_key(v["video_id"]), v["creator"], int(v["followers"]), v["posted_at"])
               for v in videos.to_pylist() if v["status"] == "done"]
    return dated_posts(records, as_of or dt.date.today())


def ray_trends(tables_dir: str | Path, encoder: str, config: TrendsConfig, as_of: dt.date | None = None,
               sample: int = 100_000, fit: ClusterFit | None = None, naming: Any = None) -> RayTrends:
    """Styles, assignments and trend data from the tables under ``tables_dir`` (see the module).

    Args:
        tables_dir: the tables a Ray ingest (or ``stylescope export --parquet``) wrote.
        encoder: whose embeddings table to cluster (``embeddings/<encoder>``).
        config: trends settings (the same file as the local path's).
        as_of: judge trends as of this day (later posts are left out and counted).
        sample: garments (in expectation; whole videos) the clusters are fitted on.
        fit: clusters fitted elsewhere (then no sample is drawn).
        naming: the encoder whose text tower names the styles (None: "style <id>").

    Raises:
        BadInputError: no tables, no garments to cluster, or a setting the Ray path lacks.
    """
    import pyarrow.dataset as pads

    if config.cluster.garment_check:
        raise BadInputError("the garment check reads crops from a deployment: set cluster.garment_check false "
                            "for --backend ray (or import the tables and run trends locally)")
    tables, clock, seconds = Path(tables_dir), time.perf_counter(), {}
    posts, future, undated = read_posts(tables, as_of)
    union = _union(tables, encoder).materialize()  # read once: the fit's sample and the assignment
    garments = pads.dataset(str(tables / encoder_table(encoder)), format="parquet").count_rows()
    seconds["read"] = time.perf_counter() - clock
    clock = time.perf_counter()
    reference = np.stack([c.centroid for c in fit.clusters]) if fit and fit.clusters else None
    if fit is None:
        fit, reference = fit_sample(union, config, garments, sample)
    seconds["fit"] = time.perf_counter() - clock
    if not fit.clusters:
        raise BadInputError("the fit found no styles in the sample: raise --sample, or check the tables' garments")
    clock = time.perf_counter()
    assigned = union.groupby("video_id", num_partitions=_partitions(garments)).map_groups(
        assign_video, fn_kwargs={"fit": fit, "config": config.cluster, "min_frames": config.series.min_frames_per_video},
        batch_format="pyarrow").materialize()
    summary = _arrow(assigned.map_batches(_summary, fn_kwargs={"clusters": len(fit.clusters)}, batch_format="pyarrow",
                                          batch_size=None))
    units = np.asarray(summary.column("units").to_pylist(), np.int64).reshape(-1, len(fit.clusters)).sum(axis=0)
    counts = np.asarray(summary.column("garments").to_pylist(), np.int64).reshape(-1, len(fit.clusters)).sum(axis=0)
    remap = kept_clusters(units, config.cluster.min_style_size)
    style_of = {int(c): int(remap[c]) + 1 for c in range(len(fit.clusters)) if remap[c] != NOISE}
    if not style_of:
        raise BadInputError(f"no style kept: every cluster has fewer than min_style_size "
                            f"({config.cluster.min_style_size}) garments over all videos")
    sighting_rows = _arrow(assigned.map_batches(_sighting_rows, fn_kwargs={"style_of": style_of},
                                                batch_format="pyarrow"))
    seconds["assign"] = time.perf_counter() - clock
    styles = _styles(fit, style_of, counts, config, reference, naming)
    sightings = [_sighting(r, style_of) for r in sighting_rows.to_pylist() if r["video_key"] in posts]
    sightings.sort(key=lambda s: (s.day, s.video_id, s.style_id))
    data = TrendData(sightings, sorted(posts.values(), key=lambda p: (p.day, p.video_id)), {s.id: s for s in styles},
                     future, undated)
    styled = int(sum(counts[c] for c in style_of))
    total = int(np.sum(summary.column("clusterable").to_numpy()))
    return RayTrends(fit, styles, data, style_of, styled, total - styled, _medoids(summary, style_of),
                     assigned.map_batches(_styled_rows, fn_kwargs={"style_of": style_of}, batch_format="pyarrow"),
                     seconds)


def _sighting(row: dict[str, Any], style_of: dict[int, int]) -> Sighting:
    return Sighting(style_of[row["cluster"]], row["video_key"], row["creator"], row["followers"],
                    dt.date.fromisoformat(row["day"]), row["garments"], row["frames"], row["video_frames"],
                    row["distance"], row["garment_id"], row["t_s"], "")


def _medoids(summary: Any, style_of: dict[int, int]) -> dict[int, list[StyleGarment]]:
    """Each style's nearest garments over every batch's nearest."""
    found: dict[int, list[tuple[float, int]]] = {s: [] for s in style_of.values()}
    for ids, distances in zip(summary.column("near_ids").to_pylist(), summary.column("near_distances").to_pylist(),
                              strict=True):
        for cluster, style_id in style_of.items():
            found[style_id] += list(zip(distances[cluster], ids[cluster], strict=True))
    return {s: [StyleGarment(g, "", round(float(d), 4)) for d, g in sorted(near)[:MEDOIDS]] for s, near in found.items()}


def _styles(fit: ClusterFit, style_of: dict[int, int], garments: np.ndarray, config: TrendsConfig,
            reference: np.ndarray | None, naming: Any) -> list[Style]:
    """The kept clusters as styles: fresh ids in cluster order, names, sizes in garments."""
    kept = sorted(style_of, key=style_of.__getitem__)
    clusters = [fit.clusters[c] for c in kept]
    ids = [style_of[c] for c in kept]
    kind = "outfit" if config.cluster.group_by == "outfit" else None
    vectors = reference if reference is not None else np.zeros((1, len(clusters[0].centroid) if clusters else 1))
    clustering = Clustering(np.zeros(0, np.int64), np.zeros(0, np.float32), clusters, fit.selection)
    names = name_clusters(clustering, vectors, config.naming, naming, None, ids)
    return [Style(sid, name, words, kind or c.kind, c.centroid, int(garments[cluster]), c.radius)
            for sid, cluster, c, (name, words) in zip(ids, kept, clusters, names, strict=True)]


def _partitions(garments: int) -> int:
    """Shuffle partitions of the per-video grouping: ~20k garments each (Ray's default, 200, is
    slow for a small world and too few for a large one)."""
    return int(min(1024, max(1, garments // 20_000)))


def write_outputs(run: RayTrends, config: TrendsConfig, out_dir: str | Path) -> dict[str, int]:
    """The run as Parquet under ``out_dir``: ``styles.parquet`` (id, name, kind, size, radius,
    limit, centroid), ``assignments/`` (garment_id, video_id, style_id, distance) and
    ``series.parquet`` (style_id, period, garments, videos, creators, weighted, share); rows per table.

    Raises:
        BadInputError: ``out_dir`` already holds a run's tables.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    from inference.trends.series import style_series

    out = Path(out_dir)
    if (out / "styles.parquet").exists() or (out / "assignments").exists():
        raise BadInputError(f"{out} already holds a trends run: write into a new folder")
    out.mkdir(parents=True, exist_ok=True)
    limit_of = {style_id: float(run.fit.limits[c]) for c, style_id in run.style_of_cluster.items()}
    styles = pa.table({
        "style_id": [s.id for s in run.styles], "name": [s.name for s in run.styles],
        "kind": [s.kind for s in run.styles], "size": [s.size for s in run.styles],
        "radius": [s.radius for s in run.styles], "limit": [limit_of[s.id] for s in run.styles],
        "centroid": pa.array([np.asarray(s.centroid, np.float32) for s in run.styles], pa.list_(pa.float32())),
    })
    pq.write_table(styles, out / "styles.parquet")
    series = style_series(run.data, config.series)
    rows = [{"style_id": style_id, "period": period, **{name: float(getattr(counts, name)[i]) for name in
                                                         ("garments", "videos", "creators", "weighted", "share")}}
            for style_id, counts in sorted(series.styles.items()) for i, period in enumerate(series.periods)]
    pq.write_table(pa.Table.from_pylist(rows) if rows else pa.table({"style_id": pa.array([], pa.int64())}),
                   out / "series.parquet")
    run.assignments.write_parquet(str(out / "assignments"))
    return {"styles": styles.num_rows, "series": len(rows), "assignments": run.assigned}
