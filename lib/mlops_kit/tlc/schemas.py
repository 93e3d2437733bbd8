"""The column names and Arrow types of TLC's monthly trip files, by service and month.

TLC rewrote every monthly file as parquet in 2022 and has changed the writer since, so
the *same* column can be ``int64`` in one month and ``int32`` the next, and yellow's
``airport_fee`` became ``Airport_fee`` in February 2023. Code that concatenates months,
or a synthetic month that must look like a real one, needs the exact schema per month.

Where each schema comes from:

* green 2019-01 .. 2023-01: read from the real files ``green_tripdata_2021-01/02`` and
  ``green_tripdata_2023-01`` (read from the parquet footers of the published files).
* green 2023-02 onwards: read from the real ``green_tripdata_2023-03.parquet``.
* yellow 2019-01 .. 2023-01: a ``pyarrow`` print-out of ``yellow_tripdata_2022-01.parquet``
  (19 columns, lower-case ``airport_fee``) published in a public tutorial.
* yellow 2023-02 onwards, fhv and fhvhv: a public schema-drift table built from the parquet
  footers of every monthly file 2019-01 .. 2026-08 (which months changed which type),
  cross-checked with print-outs of fhvhv 2022 (``timestamp[us]``, ``int64`` zone ids) and
  yellow 2025 (``Airport_fee``, ``cbd_congestion_fee``).
* ``request_source`` (added June 2026 to yellow and green): the drift table names the
  column but not its type; ``large_string`` is an assumption.

Months before 2019 are not described: TLC's older files use other column names (yellow
2009-2010 had ``Trip_Pickup_DateTime``...), and the kit refuses to guess them.

Schemas are plain tuples here, so importing this module does not import pyarrow;
:func:`arrow_schema` builds the :class:`pyarrow.Schema` when asked.
"""

from __future__ import annotations

from ..errors import DataError

#: first month whose schema the kit knows, for every service
FIRST_KNOWN_MONTH = (2019, 1)

#: pickup/dropoff timestamp columns per service (fhv's capital O is TLC's spelling)
DATETIME_COLUMNS = {
    "yellow": ("tpep_pickup_datetime", "tpep_dropoff_datetime"),
    "green": ("lpep_pickup_datetime", "lpep_dropoff_datetime"),
    "fhv": ("pickup_datetime", "dropOff_datetime"),
    "fhvhv": ("pickup_datetime", "dropoff_datetime"),
}

#: pickup/dropoff taxi-zone columns per service (fhv spells them with a lower-case l)
LOCATION_COLUMNS = {
    "yellow": ("PULocationID", "DOLocationID"),
    "green": ("PULocationID", "DOLocationID"),
    "fhv": ("PUlocationID", "DOlocationID"),
    "fhvhv": ("PULocationID", "DOLocationID"),
}

Columns = tuple[tuple[str, str], ...]


class UnknownSchemaError(DataError):
    """The kit does not know TLC's schema for this service and month."""


def _ym(year: int, month: int) -> int:
    return year * 12 + (month - 1)


def _after(year: int, month: int, y0: int, m0: int) -> bool:
    return _ym(year, month) >= _ym(y0, m0)


def _money(*names: str) -> list[tuple[str, str]]:
    return [(name, "double") for name in names]


def _yellow(year: int, month: int) -> list[tuple[str, str]]:
    new = _after(year, month, 2023, 2)
    # airport_fee was an all-null column before August 2020 and again in October 2020
    fee_null = not _after(year, month, 2020, 8) or (year, month) == (2020, 10)
    cols = [
        ("VendorID", "int32" if new else "int64"),
        ("tpep_pickup_datetime", "timestamp[us]"),
        ("tpep_dropoff_datetime", "timestamp[us]"),
        ("passenger_count", "int64" if new else "double"),
        ("trip_distance", "double"),
        ("RatecodeID", "int64" if new else "double"),
        ("store_and_fwd_flag", "large_string" if new else "string"),
        ("PULocationID", "int32" if new else "int64"),
        ("DOLocationID", "int32" if new else "int64"),
        ("payment_type", "int64"),
        *_money("fare_amount", "extra", "mta_tax", "tip_amount", "tolls_amount"),
        *_money("improvement_surcharge", "total_amount", "congestion_surcharge"),
        ("Airport_fee", "double") if new else ("airport_fee", "null" if fee_null else "double"),
    ]
    return cols


def _green(year: int, month: int) -> list[tuple[str, str]]:
    new = _after(year, month, 2023, 2)
    integer = "int64" if new else "double"  # nullable codes were floats before 2023-02
    if new:
        ehail = "double"
    else:
        ehail = "null" if _after(year, month, 2019, 9) else "double"
    return [
        ("VendorID", "int32" if new else "int64"),
        ("lpep_pickup_datetime", "timestamp[us]"),
        ("lpep_dropoff_datetime", "timestamp[us]"),
        ("store_and_fwd_flag", "large_string" if new else "string"),
        ("RatecodeID", integer),
        ("PULocationID", "int32" if new else "int64"),
        ("DOLocationID", "int32" if new else "int64"),
        ("passenger_count", integer),
        *_money("trip_distance", "fare_amount", "extra", "mta_tax", "tip_amount"),
        ("tolls_amount", "double"),
        ("ehail_fee", ehail),
        ("improvement_surcharge", "double"),
        ("total_amount", "double"),
        ("payment_type", integer),
        ("trip_type", integer),
        ("congestion_surcharge", "double"),
    ]


def _fhv(year: int, month: int) -> list[tuple[str, str]]:
    new = _after(year, month, 2023, 2)
    text = "large_string" if new else "string"
    if new:
        pu = do = "int64"
    elif (year, month) in {(2019, 5), (2019, 6)}:
        pu = do = "int64"
    else:
        pu, do = "double", "int64" if (year, month) == (2020, 7) else "double"
    if new:
        sr_flag = "int64"
    else:
        sr_flag = "null" if _after(year, month, 2019, 3) else "double"
    return [
        ("dispatching_base_num", text),
        ("pickup_datetime", "timestamp[us]"),
        ("dropOff_datetime", "timestamp[us]"),
        ("PUlocationID", pu),
        ("DOlocationID", do),
        ("SR_Flag", sr_flag),
        ("Affiliated_base_number", text),
    ]


def _fhvhv(year: int, month: int) -> list[tuple[str, str]]:
    new = _after(year, month, 2023, 2)
    text = "large_string" if new else "string"
    ym = (year, month)
    fee_null = not _after(year, month, 2019, 7) or ym in {(2020, 4), (2020, 10)}
    return [
        ("hvfhs_license_num", text),
        ("dispatching_base_num", text),
        ("originating_base_num", text),
        ("request_datetime", "timestamp[us]"),
        ("on_scene_datetime", "timestamp[us]"),
        ("pickup_datetime", "timestamp[us]"),
        ("dropoff_datetime", "timestamp[us]"),
        ("PULocationID", "int32" if new else "int64"),
        ("DOLocationID", "int32" if new else "int64"),
        ("trip_miles", "double"),
        ("trip_time", "int64"),
        *_money("base_passenger_fare", "tolls", "bcf", "sales_tax", "congestion_surcharge"),
        ("airport_fee", "null" if fee_null else "double"),
        *_money("tips", "driver_pay"),
        ("shared_request_flag", text),
        ("shared_match_flag", text),
        ("access_a_ride_flag", text),
        ("wav_request_flag", text),
        ("wav_match_flag", "null" if ym in {(2019, 2), (2019, 3)} else text),
    ]


_BUILDERS = {"yellow": _yellow, "green": _green, "fhv": _fhv, "fhvhv": _fhvhv}


def trip_columns(service: str, year: int, month: int) -> Columns:
    """Return ``((name, arrow_type), ...)`` for a TLC monthly file, in file order.

    Args:
        service: ``yellow``, ``green``, ``fhv`` or ``fhvhv``.
        year: the data year (2019 or later).
        month: 1..12.

    Raises:
        UnknownSchemaError: for an unknown service or a month before 2019.
    """
    if service not in _BUILDERS:
        raise UnknownSchemaError(
            f"Unknown TLC service {service!r}.",
            "Use one of yellow, green, fhv, fhvhv.",
        )
    if _ym(year, month) < _ym(*FIRST_KNOWN_MONTH):
        raise UnknownSchemaError(
            f"The kit does not know the schema of {service} {year}-{month:02d}: it describes "
            "TLC files from 2019-01 on (older files use other column names).",
            "Pick a month from 2019-01 on, or read the real file with read_trips(path).",
        )
    cols = _BUILDERS[service](year, month)
    if service in {"yellow", "green", "fhvhv"} and _after(year, month, 2025, 1):
        cols.append(("cbd_congestion_fee", "double"))
    if service in {"yellow", "green"} and _after(year, month, 2026, 6):
        cols.append(("request_source", "large_string"))  # type assumed, see module doc
    return tuple(cols)


def arrow_type(name: str):
    """Return the :mod:`pyarrow` type for a type string such as ``timestamp[us]``."""
    import pyarrow as pa

    simple = {
        "int32": pa.int32(),
        "int64": pa.int64(),
        "double": pa.float64(),
        "string": pa.string(),
        "large_string": pa.large_string(),
        "null": pa.null(),
        "timestamp[us]": pa.timestamp("us"),
    }
    return simple[name]


def arrow_schema(service: str, year: int, month: int):
    """Return the :class:`pyarrow.Schema` TLC uses for ``service`` in ``year-month``."""
    import pyarrow as pa

    return pa.schema([(n, arrow_type(t)) for n, t in trip_columns(service, year, month)])
