"""Scale-out on Ray: the ingest stages on a cluster, written as Parquet tables.

Optional (``pip install 'stylescope[scale]'``): nothing outside this package imports Ray, and
only the CLI's ``--backend ray`` paths import this package's :mod:`~inference.scale.ray_ingest`.
:mod:`~inference.scale.tables` (ids, table layout, reading) needs only pyarrow.
"""
