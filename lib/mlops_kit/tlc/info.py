"""Describing data without loading it all: a month's file, a month's trips, the data folder.

- :func:`dataset_info`: rows, columns, pickup range, size and sha256 of a month's file, from
  its footer and pickup column (``mlops-kit data info``);
- :func:`trip_summary`: what the course looks at first, the share of rides of 1-60 minutes
  and of pickups inside the month (``mlops-kit data summary``, the start of ``make run``);
- :func:`data_dir_report`: what ``MLOPS_KIT_DATA_DIR`` holds, for ``mlops-kit doctor``.
"""

from __future__ import annotations

from typing import Any

from .. import config
from ..errors import CorruptDataError, DataError, DataNotFoundError, DatasetNameError
from ..fileio import file_sha256
from .datasets import ZONES_FILE
from .download import validate_parquet
from .locate import Spec, data_folder, locate_month, months_in
from .reading import read_trips
from .synthetic import is_synthetic_file


class ColumnTypeError(DataError):
    """A column holds the wrong kind of values (pickup times stored as text)."""


def _not_times(what: str, path, column: str, kind: str) -> ColumnTypeError:
    return ColumnTypeError(
        f"{what}: {path} stores {column} as {kind}, not as timestamps, so pickup and dropoff "
        "times cannot be compared or subtracted.",
        f"Use TLC's own file (its time columns are timestamps), or convert the column before "
        f"saving: df[{column!r}] = pd.to_datetime(df[{column!r}]).",
    )


def _pickup_range(path, what: str, ds, schema):
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    names = schema.names
    column = ds.pickup_column if ds else next((c for c in names if "pickup_datetime" in c), None)
    if column is None or column not in names:
        return None, None, None
    kind = schema.field(column).type
    if not pa.types.is_timestamp(kind):
        raise _not_times(what, path, column, str(kind))
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
        The errors of :func:`~mlops_kit.tlc.reading.read_trips`, and ColumnTypeError when
        the pickup column does not hold timestamps.
    """
    found = locate_month(dataset_or_path, source=source, rows=rows, seed=seed)
    ds, path = found.dataset, found.path
    what = ds.id if ds else path.name
    parquet = validate_parquet(path, what=what)
    schema = parquet.schema_arrow
    column, low, high = _pickup_range(path, what, ds, schema)
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
        ColumnTypeError: time columns that do not hold timestamps.
    """
    import pandas as pd

    found = locate_month(dataset_or_path, source=source, rows=rows, seed=seed)
    ds = found.dataset
    if ds is None:
        raise DatasetNameError(
            f"{found.path}: cannot tell the service from the file name, so not which columns "
            "hold the pickup and dropoff times.",
            "Use TLC's file name (e.g. green_tripdata_2021-01.parquet) or a dataset id.",
        )
    df = read_trips(found, columns=[ds.pickup_column, ds.dropoff_column], rows=rows, seed=seed)
    for column in (ds.pickup_column, ds.dropoff_column):
        if not pd.api.types.is_datetime64_any_dtype(df[column]):
            raise _not_times(ds.id, found.path, column, str(df[column].dtype))
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


def data_dir_report() -> dict[str, Any]:
    """Say what ``MLOPS_KIT_DATA_DIR`` holds, and what is wrong with it if anything.

    Lists the folder and opens each month's parquet footer; nothing is written or
    downloaded. ``mlops-kit doctor`` turns the ``status`` into its verdict.

    Returns:
        A dict with ``variable`` (``"MLOPS_KIT_DATA_DIR"``), ``path`` (str or None),
        ``status`` (``unset``, ``missing``, ``not_a_folder``, ``empty``, ``unreadable`` or
        ``ok``), ``months`` (dataset ids of the TLC files it holds, sorted), ``zones``
        (whether ``taxi_zone_lookup.csv`` is there), ``other_parquet`` (parquet files not
        under a TLC name, which the kit does not find by id), ``unreadable`` (TLC files
        whose footer does not open), and ``problem`` and ``fix`` (None when ``ok``).
    """
    folder = config.data_dir()
    report: dict[str, Any] = {
        "variable": "MLOPS_KIT_DATA_DIR",
        "path": str(folder) if folder is not None else None,
        "status": "ok",
        "months": [],
        "zones": False,
        "other_parquet": [],
        "unreadable": [],
        "problem": None,
        "fix": None,
    }
    if folder is None:
        report.update(
            status="unset",
            problem="MLOPS_KIT_DATA_DIR is not set: the kit reads the cache, downloads from "
            "TLC, or (offline) uses seeded synthetic months.",
            fix="To read real files without the network, export MLOPS_KIT_DATA_DIR=/path/to/"
            "a/folder/of/TLC/parquet/files.",
        )
        return report
    try:
        data_folder()
    except DataNotFoundError as exc:
        status = "not_a_folder" if folder.exists() else "missing"
        report.update(status=status, problem=exc.problem, fix=exc.fix)
        return report
    months = months_in(folder)
    tlc_names = {ds.file_name for ds in months}
    report["months"] = [ds.id for ds in months]
    report["zones"] = (folder / ZONES_FILE).is_file()
    report["other_parquet"] = sorted(
        p.name for p in folder.glob("*.parquet") if p.is_file() and p.name not in tlc_names
    )
    for ds in months:
        try:
            validate_parquet(folder / ds.file_name, what=ds.id).close()
        except (CorruptDataError, DataNotFoundError):
            report["unreadable"].append(ds.file_name)
    if not months:
        report.update(
            status="empty",
            problem=f"MLOPS_KIT_DATA_DIR={folder} holds no TLC trip file under TLC's own "
            "names (like green_tripdata_2021-01.parquet).",
            fix="Copy TLC's monthly parquet files there without renaming them, or point "
            "MLOPS_KIT_DATA_DIR at the folder that holds them.",
        )
    elif report["unreadable"]:
        report.update(
            status="unreadable",
            problem=f"In MLOPS_KIT_DATA_DIR={folder}, {', '.join(report['unreadable'])} "
            "cannot be read as parquet (truncated or not parquet).",
            fix="Replace them with good copies (download again from TLC).",
        )
    return report
