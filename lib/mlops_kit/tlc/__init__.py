"""The NYC TLC trip records: dataset ids, schemas, where a month's file is, reading it.

Everything the kit knows about the data lives here and nowhere else:

- which months exist and what their files and URLs are called (``green:2021-01``);
- each service's columns and Arrow types per month;
- where a month's parquet is found (an explicit path, ``MLOPS_KIT_DATA_DIR``, the cache, a
  download) and, when nothing real is to be had, seeded synthetic months with the real
  schema, marked as such in the file and in every frame read from it;
- reading a month whole (:func:`read_trips`) or a record batch at a time
  (:func:`read_trip_batches`), and describing it (:func:`dataset_info`).

It imports nothing of the kit but the core modules (``errors``, ``config``, ``fileio``).
"""

from .data import (
    Dataset,
    TripBatches,
    dataset_info,
    fetch,
    is_synthetic,
    parse_dataset,
    read_trip_batches,
    read_trips,
    read_zones,
    resolve,
    trip_summary,
    validate_parquet,
)
from .schemas import UnknownSchemaError, arrow_schema, trip_columns
from .synthetic import synthetic_trips

__all__ = [
    "Dataset",
    "TripBatches",
    "UnknownSchemaError",
    "arrow_schema",
    "dataset_info",
    "fetch",
    "is_synthetic",
    "parse_dataset",
    "read_trip_batches",
    "read_trips",
    "read_zones",
    "resolve",
    "synthetic_trips",
    "trip_columns",
    "trip_summary",
    "validate_parquet",
]
