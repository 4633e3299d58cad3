"""Scale-out on Ray: the ingest stages on a cluster, written as Parquet tables, and styles and
trends found on those tables.

Optional (``pip install 'stylescope[scale]'``): nothing outside this package imports Ray, and
only the CLI's ``--backend ray`` paths import this package's :mod:`~inference.scale.ray_ingest`
and :mod:`~inference.scale.ray_trends`. :mod:`~inference.scale.tables` (ids, table layout,
reading) and :mod:`~inference.scale.trend_rows` (one video's rows clustered and counted) need
only pyarrow.
"""
