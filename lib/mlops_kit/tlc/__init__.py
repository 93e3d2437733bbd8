"""The NYC TLC trip records: dataset ids, where a month's file is, reading it, synthetic months.

Everything the kit knows about the data lives here and nowhere else, one module per concern:

- ``datasets``: which services and months exist, their file names and URLs
  (``green:2021-01``), and :func:`parse_spec`, which tells an id from a path once;
- ``schemas``: each service's columns and Arrow types per month;
- ``locate``: where a month's parquet is found (an explicit path, ``MLOPS_KIT_DATA_DIR``,
  the cache, a download) and when a seeded synthetic month may stand in;
- ``download``: fetching a month or the zone table, never leaving a half file;
- ``synthetic``: seeded synthetic months with the real schema, marked as such in the file
  and in every frame read from it;
- ``reading``: reading a month whole (:func:`read_trips`) or a record batch at a time
  (:func:`read_trip_batches`);
- ``info``: describing a month (:func:`dataset_info`, :func:`trip_summary`) and the data
  folder (:func:`data_dir_report`).

Imports run one way: datasets, schemas <- synthetic, download <- locate <- reading <- info.
The package imports nothing of the kit but the core modules (``errors``, ``config``,
``fileio``). The names below are the public API; import them from here.
"""

from .datasets import Dataset, check_month, looks_like_path, parse_dataset, parse_spec
from .download import OfflineError, fetch, validate_parquet
from .info import ColumnTypeError, data_dir_report, dataset_info, trip_summary
from .locate import Resolution, locate_month, locate_months, resolve
from .reading import TripBatches, is_synthetic, read_trip_batches, read_trips, read_zones
from .schemas import UnknownSchemaError, arrow_schema, trip_columns
from .synthetic import is_synthetic_file, synthetic_trips

__all__ = [
    "ColumnTypeError",
    "Dataset",
    "OfflineError",
    "Resolution",
    "TripBatches",
    "UnknownSchemaError",
    "arrow_schema",
    "check_month",
    "data_dir_report",
    "dataset_info",
    "fetch",
    "is_synthetic",
    "is_synthetic_file",
    "locate_month",
    "locate_months",
    "looks_like_path",
    "parse_dataset",
    "parse_spec",
    "read_trip_batches",
    "read_trips",
    "read_zones",
    "resolve",
    "synthetic_trips",
    "trip_columns",
    "trip_summary",
    "validate_parquet",
]
