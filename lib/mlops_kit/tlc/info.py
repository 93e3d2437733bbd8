"""Describing data without loading it all: a month's file and a month's trips.

- :func:`dataset_info`: rows, columns, pickup range, size and sha256 of a month's file, from
  its footer and pickup column (``mlops-kit data info``);
- :func:`trip_summary`: what the course looks at first, the share of rides of 1-60 minutes
  and of pickups inside the month (``mlops-kit data summary``, the start of ``make run``).
"""

from __future__ import annotations

from typing import Any

from ..errors import DatasetNameError
from ..fileio import file_sha256
from .download import validate_parquet
from .locate import Spec, locate_month
from .reading import read_trips
from .synthetic import is_synthetic_file


def _pickup_range(path, ds, schema):
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    names = schema.names
    column = ds.pickup_column if ds else next((c for c in names if "pickup_datetime" in c), None)
    if column is None or column not in names:
        return None, None, None
    values = pq.read_table(path, columns=[column]).column(column)
    bounds = pc.min_max(values).as_py()
    return column, bounds["min"], bounds["max"]


def dataset_info(
    dataset_or_path: Spec,
    *,
    source: str = "auto",
    rows: int | None = None,
    seed: int = 42,
    checksum: bool = True,
) -> dict[str, Any]:
    """Describe a dataset's file without loading it all: rows, columns, dates, size, sha256.

    Reads the parquet footer (row count, schema) and the pickup column only.

    Returns:
        A dict with ``dataset``, ``path``, ``origin``, ``synthetic``, ``rows``,
        ``columns`` (name -> Arrow type), ``pickup_column``, ``pickup_min``,
        ``pickup_max``, ``size_bytes`` and ``sha256`` (None when ``checksum=False``).

    Raises:
        The errors of :func:`~mlops_kit.tlc.reading.read_trips`.
    """
    found = locate_month(dataset_or_path, source=source, rows=rows, seed=seed)
    ds, path = found.dataset, found.path
    what = ds.id if ds else path.name
    parquet = validate_parquet(path, what=what)
    schema = parquet.schema_arrow
    column, low, high = _pickup_range(path, ds, schema)
    return {
        "dataset": ds.id if ds else None,
        "path": str(path),
        "origin": found.origin,
        "synthetic": found.synthetic or is_synthetic_file(schema),
        "rows": parquet.metadata.num_rows,
        "columns": {field.name: str(field.type) for field in schema},
        "pickup_column": column,
        "pickup_min": low.isoformat(sep=" ") if low is not None else None,
        "pickup_max": high.isoformat(sep=" ") if high is not None else None,
        "size_bytes": path.stat().st_size,
        "sha256": file_sha256(path) if checksum else None,
    }


def trip_summary(
    dataset_or_path: Spec,
    *,
    source: str = "auto",
    rows: int | None = None,
    seed: int = 42,
    min_duration: float = 1.0,
    max_duration: float = 60.0,
) -> dict[str, Any]:
    """Summarise a month the way the course looks at it first: size, dates, durations.

    Reads only the pickup and dropoff columns.

    Returns:
        A dict with ``dataset``, ``origin``, ``synthetic``, ``path``, ``rows``,
        ``pickup_min``/``pickup_max``, ``share_in_month`` (pickups inside the month),
        ``share_kept`` (durations within ``[min_duration, max_duration]`` minutes, the
        course's outlier filter), ``duration_mean_min`` and ``duration_median_min``.

    Raises:
        DatasetNameError: a file whose name does not say its service and month.
    """
    found = locate_month(dataset_or_path, source=source, rows=rows, seed=seed)
    ds = found.dataset
    if ds is None:
        raise DatasetNameError(
            f"{found.path}: cannot tell the service from the file name, so not which columns "
            "hold the pickup and dropoff times.",
            "Use TLC's file name (e.g. green_tripdata_2021-01.parquet) or a dataset id.",
        )
    df = read_trips(found, columns=[ds.pickup_column, ds.dropoff_column], rows=rows, seed=seed)
    pickup, dropoff = df[ds.pickup_column], df[ds.dropoff_column]
    minutes = (dropoff - pickup).dt.total_seconds() / 60
    kept = minutes.between(min_duration, max_duration)
    inside = (pickup >= ds.month_start) & (pickup < ds.month_end)
    n = len(df)
    return {
        "dataset": df.attrs["dataset"],
        "origin": df.attrs["origin"],
        "synthetic": df.attrs["synthetic"],
        "path": df.attrs["path"],
        "rows": n,
        "pickup_min": str(pickup.min()) if n else None,
        "pickup_max": str(pickup.max()) if n else None,
        "share_in_month": float(inside.mean()) if n else None,
        "share_kept": float(kept.mean()) if n else None,
        "duration_mean_min": float(minutes.mean()) if n else None,
        "duration_median_min": float(minutes.median()) if n else None,
    }
