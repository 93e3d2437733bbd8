"""TLC dataset names: services, months, file names, URLs, and which months can exist.

A dataset is a service and a month, written ``service:YYYY-MM`` (``green:2021-01``). What a
user gives to name trips (a :class:`Dataset`, an id such as ``"green:2021-01"``, or the path
of a parquet file) is told apart once, by :func:`parse_spec`; everything downstream passes
the parsed object on instead of parsing the text again.

Nothing here touches the disk or the network: where a month's file is found lives in
:mod:`mlops_kit.tlc.locate`, downloading it in :mod:`mlops_kit.tlc.download`.
"""

from __future__ import annotations

import datetime as _dt
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import DatasetNameError, MonthNotPublishedError
from .schemas import DATETIME_COLUMNS, LOCATION_COLUMNS

#: the four TLC services, in the order TLC lists them
SERVICES = ("yellow", "green", "fhv", "fhvhv")

#: first month each service published (requests before it are refused without the network)
SERVICE_START = {"yellow": (2009, 1), "green": (2013, 8), "fhv": (2015, 1), "fhvhv": (2019, 2)}

#: where TLC serves the monthly files; MLOPS_KIT_TLC_BASE_URL overrides it (mirrors, tests)
DEFAULT_BASE_URL = "https://d37ci6vzurychx.cloudfront.net/trip-data"

#: TLC's taxi zone lookup table (LocationID, Borough, Zone, service_zone)
ZONES_URL = "https://d37ci6vzurychx.cloudfront.net/misc/taxi_zone_lookup.csv"
ZONES_FILE = "taxi_zone_lookup.csv"

_FILE_RE = re.compile(
    r"^(yellow|green|fhv|fhvhv)_tripdata_(\d{4})-(\d{2})(?:[._-][\w.-]*)?\.parquet$"
)
_ID_RE = re.compile(r"^\s*([A-Za-z]+)\s*[:/_ ]\s*(\d{4})-(\d{1,2})\s*$")


@dataclass(frozen=True, order=True)
class Dataset:
    """One TLC monthly file, named by service and month (``green:2021-01``).

    The dataclass is frozen, so datasets can be dictionary keys and compare by value;
    they sort by service, then month.

    Attributes:
        service: ``yellow``, ``green``, ``fhv`` (for-hire vehicles) or ``fhvhv``
            (high-volume for-hire: Uber, Lyft...).
        year: the data year.
        month: 1..12.
    """

    service: str
    year: int
    month: int

    def __post_init__(self):
        try:  # accept "2021" and "01" too, but store ints
            object.__setattr__(self, "year", int(self.year))
            object.__setattr__(self, "month", int(self.month))
        except (TypeError, ValueError):
            raise DatasetNameError(
                f"{self.year!r}-{self.month!r} is not a year and month.",
                "Write the month as YYYY-MM, e.g. green:2021-01.",
            ) from None
        if self.service not in SERVICES:
            raise DatasetNameError(
                f"Unknown TLC service {self.service!r}.",
                f"Use one of {', '.join(SERVICES)} (e.g. green:2021-01).",
            )
        if not 1 <= int(self.month) <= 12 or not 1900 < int(self.year) < 3000:
            raise DatasetNameError(
                f"{self.year}-{self.month} is not a valid month.",
                "Write the month as YYYY-MM, e.g. green:2021-01.",
            )

    @property
    def id(self) -> str:
        """The dataset id, ``service:YYYY-MM``."""
        return f"{self.service}:{self.year:04d}-{self.month:02d}"

    @property
    def month_id(self) -> str:
        """The month alone, ``YYYY-MM``."""
        return f"{self.year:04d}-{self.month:02d}"

    @property
    def file_name(self) -> str:
        """TLC's file name, e.g. ``green_tripdata_2021-01.parquet``."""
        return f"{self.service}_tripdata_{self.month_id}.parquet"

    @property
    def url(self) -> str:
        """The public URL (``MLOPS_KIT_TLC_BASE_URL`` replaces TLC's host when set)."""
        return tlc_url(self)

    @property
    def pickup_column(self) -> str:
        """Pickup time column: ``lpep_*`` green, ``tpep_*`` yellow, ``pickup_datetime`` FHV."""
        return DATETIME_COLUMNS[self.service][0]

    @property
    def dropoff_column(self) -> str:
        """Dropoff time column (``dropOff_datetime`` with a capital O for fhv)."""
        return DATETIME_COLUMNS[self.service][1]

    @property
    def location_columns(self) -> tuple[str, str]:
        """Pickup and dropoff zone columns (fhv: ``PUlocationID``, ``DOlocationID``)."""
        return LOCATION_COLUMNS[self.service]

    @property
    def month_start(self) -> _dt.datetime:
        """Midnight on the first day of the month (naive, New York local time as TLC)."""
        return _dt.datetime(self.year, self.month, 1)

    @property
    def month_end(self) -> _dt.datetime:
        """Midnight on the first day of the *next* month (exclusive end)."""
        year, month = (self.year + 1, 1) if self.month == 12 else (self.year, self.month + 1)
        return _dt.datetime(year, month, 1)

    def __str__(self) -> str:
        return self.id


def parse_dataset(value: str | Dataset) -> Dataset:
    """Parse ``"green:2021-01"`` (or a TLC file name) into a :class:`Dataset`.

    Accepts ``service:YYYY-MM``, ``service/YYYY-MM``, ``service_YYYY-MM`` and the file name
    ``green_tripdata_2021-01.parquet``; a :class:`Dataset` is returned unchanged.

    Raises:
        DatasetNameError: when the text names no service and month.
    """
    if isinstance(value, Dataset):
        return value
    text = str(value)
    match = _FILE_RE.match(Path(text).name) or _ID_RE.match(text)
    if not match:
        raise DatasetNameError(
            f"{text!r} is not a TLC dataset name.",
            "Write service:YYYY-MM with service in yellow, green, fhv, fhvhv (e.g. green:2021-01).",
        )
    service, year, month = match.group(1).lower(), int(match.group(2)), int(match.group(3))
    return Dataset(service, year, month)


def looks_like_path(value: Any) -> bool:
    """Return True when ``value`` names a file rather than a dataset id.

    A :class:`pathlib.Path`, or text ending in ``.parquet`` or holding a path separator
    (``data/x.parquet``, ``/tmp``); ``green:2021-01`` and ``green_2021-01`` are ids.
    """
    if isinstance(value, Path):
        return True
    if isinstance(value, Dataset):
        return False
    text = str(value)
    return text.endswith(".parquet") or os.sep in text or (os.altsep or "\0") in text


def parse_spec(value: str | os.PathLike | Dataset) -> Dataset | Path:
    """Tell apart what a user gave to name trips: a :class:`Dataset` or a file's path.

    A :class:`Dataset` comes back as is; text that :func:`looks_like_path` becomes a
    :class:`~pathlib.Path` (``~`` expanded); other text is parsed as a dataset id, except
    that a name that is no id but exists on disk (a folder ``trips``) is taken as a path,
    so the error can say what is there.

    Raises:
        DatasetNameError: text that is neither a dataset id nor an existing path.
    """
    if isinstance(value, Dataset):
        return value
    if looks_like_path(value):
        return Path(value).expanduser()
    try:
        return parse_dataset(value)
    except DatasetNameError:
        if str(value).strip() and Path(value).expanduser().exists():
            return Path(value).expanduser()
        raise


def dataset_of_path(path: str | os.PathLike) -> Dataset | None:
    """Return the dataset a file is named after (``.../green_tripdata_2021-01.parquet``)."""
    match = _FILE_RE.match(Path(path).name)
    return Dataset(match.group(1), int(match.group(2)), int(match.group(3))) if match else None


def tlc_url(dataset: str | Dataset, base_url: str | None = None) -> str:
    """Return the download URL of a dataset.

    Args:
        dataset: a :class:`Dataset` or its id.
        base_url: replaces TLC's folder URL; default ``MLOPS_KIT_TLC_BASE_URL`` or
            :data:`DEFAULT_BASE_URL`. Tests point it at a server on 127.0.0.1.
    """
    ds = parse_dataset(dataset)
    base = base_url or os.environ.get("MLOPS_KIT_TLC_BASE_URL", "").strip() or DEFAULT_BASE_URL
    return f"{base.rstrip('/')}/{ds.file_name}"


def check_month(ds: Dataset, today: _dt.date | None = None) -> None:
    """Refuse a month TLC cannot have published, without asking TLC.

    A month before the service's first records, or one that is not over yet, has no file
    anywhere: reading it must fail, not quietly become synthetic data.

    Raises:
        MonthNotPublishedError: naming the month and the first or last possible one.
    """
    start = SERVICE_START[ds.service]
    if (ds.year, ds.month) < start:
        raise MonthNotPublishedError(
            f"{ds.id}: TLC has no {ds.service} data before {start[0]}-{start[1]:02d} "
            "(when that service's records begin).",
            f"Pick a month from {start[0]}-{start[1]:02d} on.",
        )
    today = today or _dt.date.today()
    if (ds.year, ds.month) >= (today.year, today.month):
        raise MonthNotPublishedError(
            f"{ds.id}: that month is not over yet, so TLC cannot have published it.",
            "Pick an earlier month; TLC publishes each month about two months after it ends.",
        )
