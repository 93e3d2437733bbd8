"""From trip records to a prepared DataFrame: duration, outlier filter, ``PU_DO``.

The course's ``duration-prediction.ipynb`` prepares a month of trips in steps, which this
module names and tests one by one:

1. :func:`add_duration`: the target, the ride's duration in minutes, from the service's
   pickup and dropoff timestamps (vectorised: ``.dt.total_seconds() / 60``; the course's
   ``.apply(lambda td: ...)`` gives the same numbers with a Python call per row).
2. :func:`filter_outliers`: keep rides of 1 to 60 minutes (both bounds inclusive). A
   "ride" of 0 seconds or of three days is a meter left running, not a trip to learn.
3. Location IDs as *categories*, not numbers: zone 132 is not "twice" zone 66. The course
   turns them into strings; :func:`add_pu_do` adds the pickup-dropoff pair ``"132_75"``
   as one category, which lets a linear model learn one duration per route.

:func:`prepare_trips` chains them: it is the course's ``read_dataframe`` without the I/O.
The next step, the one-hot matrix, is :class:`~mlops_kit.model.vectorizer.TripVectorizer`;
the same preparation a record batch at a time is :mod:`mlops_kit.model.streaming`.

Categories are stored as a pandas ``Categorical`` whose categories are strings (``"132"``).
It behaves like the course's ``str`` column (``df.PULocationID == "132"``, ``to_dict``,
``DictVectorizer``) but holds one small integer per row instead of one string per row
(see :mod:`mlops_kit.model.categories`). Pass ``as_category=False`` to get plain ``str``
columns exactly as the course does.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np
import pandas as pd

from ..errors import BadParameterError, MissingColumnsError
from .categories import codes_and_names, pair_codes

#: the target column: ride duration in minutes (the course's name)
DURATION = "duration"
#: the pickup-dropoff pair column
PU_DO = "PU_DO"
#: the course's first feature set (homework) and its final one
DEFAULT_CATEGORICAL = ("PULocationID", "DOLocationID")
DEFAULT_NUMERICAL = ("trip_distance",)
#: what replaces a missing location ID (FHV data has them), as the 2022 homework does
MISSING_LOCATION = -1

_PICKUP = re.compile(r"pickup_?datetime$", re.IGNORECASE)
_DROPOFF = re.compile(r"drop_?off_?datetime$", re.IGNORECASE)


def _find_column(df: pd.DataFrame, pattern: re.Pattern, what: str) -> str:
    found = [c for c in df.columns if isinstance(c, str) and pattern.search(c)]
    if len(found) != 1:
        raise MissingColumnsError(
            f"Cannot tell which column holds the {what} time: "
            f"{'none' if not found else ', '.join(found)} of the columns "
            f"({', '.join(map(str, df.columns))}) match.",
            f"Read the trips with their timestamp columns (e.g. lpep_{what}_datetime for green, "
            f"tpep_{what}_datetime for yellow) or name it with {what}=.",
        )
    return found[0]


def find_datetime_columns(df: pd.DataFrame) -> tuple[str, str]:
    """Return the (pickup, dropoff) timestamp columns of any TLC service.

    Green calls them ``lpep_pickup_datetime``, yellow ``tpep_...``, FHV
    ``pickup_datetime`` / ``dropOff_datetime``: the suffix is what they share.

    Raises:
        MissingColumnsError: when no single column matches.
    """
    return _find_column(df, _PICKUP, "pickup"), _find_column(df, _DROPOFF, "dropoff")


def find_location_columns(df: pd.DataFrame) -> tuple[str, str]:
    """Return the (pickup, dropoff) location-ID columns (``PULocationID``; FHV ``PUlocationID``).

    Raises:
        MissingColumnsError: when the frame has no location columns.
    """
    lower = {c.lower(): c for c in df.columns if isinstance(c, str)}
    try:
        return lower["pulocationid"], lower["dolocationid"]
    except KeyError:
        raise MissingColumnsError(
            f"The trips have no pickup/dropoff location columns "
            f"(found: {', '.join(map(str, df.columns))}).",
            "Read the trips with PULocationID and DOLocationID (PUlocationID/DOlocationID "
            "for FHV).",
        ) from None


def require_columns(df: pd.DataFrame, columns: Sequence[str], why: str) -> None:
    """Raise :class:`MissingColumnsError` naming the ``columns`` that ``df`` lacks.

    ``why`` ends the sentence "The trips lack the column(s) ... <why>", e.g. "the features
    need"; the message lists the columns the frame has and how to read the missing ones.
    """
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise MissingColumnsError(
            f"The trips lack the column(s) {', '.join(missing)} {why} "
            f"(found: {', '.join(map(str, df.columns))}).",
            "Read those columns too (read_trips(..., columns=None) reads all), or choose "
            "features the data has.",
        )


def add_duration(
    df: pd.DataFrame,
    *,
    pickup: str | None = None,
    dropoff: str | None = None,
    column: str = DURATION,
) -> pd.DataFrame:
    """Return a copy of ``df`` with the ride duration in minutes in ``column``.

    ``(dropoff - pickup).dt.total_seconds() / 60`` is the course's
    ``.apply(lambda td: td.total_seconds() / 60)`` without a Python call per row: the
    same floats.

    Args:
        df: trips with pickup and dropoff timestamps.
        pickup: the pickup column; found by its ``pickup_datetime`` suffix when None.
        dropoff: the dropoff column; found by its ``dropoff_datetime`` suffix when None.
        column: where to store the duration.

    Raises:
        MissingColumnsError: when the timestamp columns are missing.
    """
    if pickup is None or dropoff is None:
        found_pickup, found_dropoff = find_datetime_columns(df)
        pickup = pickup or found_pickup
        dropoff = dropoff or found_dropoff
    require_columns(df, [pickup, dropoff], "needed for the duration")
    out = df.copy(deep=False)
    minutes = duration_minutes(out[dropoff], out[pickup])
    out[column] = pd.Series(minutes, index=out.index, copy=False)
    return out


def _datetime64(values) -> np.ndarray:
    """Timestamps as a naive ``datetime64`` array: strings parsed, time zones turned to UTC."""
    array = values.to_numpy() if isinstance(values, pd.Series) else np.asarray(values)
    if array.dtype.kind == "M":
        return array
    parsed = pd.to_datetime(pd.Series(values, copy=False))
    if parsed.dt.tz is not None:
        parsed = parsed.dt.tz_convert("UTC").dt.tz_localize(None)
    return parsed.to_numpy()


def duration_minutes(dropoff, pickup) -> np.ndarray:
    """Return ``dropoff - pickup`` in minutes (float64; NaN where a time is missing).

    The arithmetic of :func:`add_duration`, for arrays or Series: timedelta ticks divided by
    ticks per second (the same correctly rounded division as Python's
    ``timedelta.total_seconds()``), then by 60.
    """
    seconds = (_datetime64(dropoff) - _datetime64(pickup)) / np.timedelta64(1, "s")
    seconds /= 60
    return seconds


def filter_outliers(
    df: pd.DataFrame,
    min_duration: float = 1,
    max_duration: float = 60,
    *,
    column: str = DURATION,
) -> pd.DataFrame:
    """Keep the rides with ``min_duration <= duration <= max_duration`` (minutes, inclusive).

    The course keeps 1 to 60 minutes: that drops rides of a few seconds (cancelled, test
    records) and meters left running for hours.

    Raises:
        BadParameterError: when the bounds are reversed or not numbers.
        MissingColumnsError: when the duration column is missing (call add_duration).
    """
    low, high = duration_bounds(min_duration, max_duration)
    if column not in df.columns:
        raise MissingColumnsError(
            f"The trips have no {column!r} column to filter on.",
            "Call add_duration(df) first (prepare_trips does both).",
        )
    duration = df[column]
    return df[(duration >= low) & (duration <= high)]


def duration_bounds(min_duration, max_duration) -> tuple[float, float]:
    """Return the outlier filter's bounds as floats, checked: numbers, and min <= max.

    Raises:
        BadParameterError: when the bounds are not numbers or are reversed.
    """
    try:
        low, high = float(min_duration), float(max_duration)
    except (TypeError, ValueError):
        raise BadParameterError(
            f"Duration bounds must be numbers of minutes, got {min_duration!r} and "
            f"{max_duration!r}.",
            "Pass numbers, e.g. min_duration=1, max_duration=60.",
        ) from None
    if not low <= high:
        raise BadParameterError(
            f"min_duration ({min_duration}) is larger than max_duration ({max_duration}).",
            "Swap them: the filter keeps rides with min_duration <= duration <= max_duration.",
        )
    return low, high


def _categorical(codes: np.ndarray, names, index: pd.Index) -> pd.Series:
    cats = names if isinstance(names, pd.Index) else pd.Index(list(names), dtype="str")
    # codes come from our own factorisation: skip from_codes' range check (two passes)
    values = pd.Categorical.from_codes(codes, categories=cats, validate=False)
    return pd.Series(values, index=index, copy=False)


def as_string_category(series: pd.Series, *, as_category: bool = True) -> pd.Series:
    """Return the column as categories named by strings (missing IDs become ``"-1"``).

    Args:
        series: location IDs (int, float with NaN, str or categorical).
        as_category: a ``Categorical`` with string categories (fast) when True, the
            course's plain ``str`` column when False.
    """
    codes, names = codes_and_names(series, fill=MISSING_LOCATION)
    out = _categorical(codes, names, series.index).rename(series.name)
    return out if as_category else out.astype("str")


def add_pu_do(
    df: pd.DataFrame,
    *,
    column: str = PU_DO,
    as_category: bool = True,
) -> pd.DataFrame:
    """Return a copy with the pickup-dropoff pair ``"<PU>_<DO>"`` as one category.

    The course's ``df["PU_DO"] = df["PULocationID"] + "_" + df["DOLocationID"]``: with it a
    linear model learns one typical duration per route instead of one per pickup zone plus
    one per dropoff zone. Built from the two columns' codes, so only the distinct pairs
    are turned into strings, not every row.

    Raises:
        MissingColumnsError: when the location columns are missing.
    """
    pu_col, do_col = find_location_columns(df)
    codes, names = pair_codes(
        codes_and_names(df[pu_col], fill=MISSING_LOCATION),
        codes_and_names(df[do_col], fill=MISSING_LOCATION),
    )
    out = df.copy(deep=False)
    series = _categorical(codes, names, df.index)
    out[column] = series if as_category else series.astype("str")
    return out


def prepare_trips(
    df: pd.DataFrame,
    *,
    categorical: Sequence[str] = DEFAULT_CATEGORICAL,
    numerical: Sequence[str] = DEFAULT_NUMERICAL,
    min_duration: float = 1,
    max_duration: float = 60,
    as_category: bool = True,
) -> pd.DataFrame:
    """Prepare a month of trips for training: the course's ``read_dataframe`` without I/O.

    Adds ``duration`` (minutes), keeps rides within the bounds, turns the location IDs
    (and any other categorical column) into string categories, and adds ``PU_DO`` when
    ``categorical`` asks for it. The other columns are kept, as in the course.

    Args:
        df: trips as read from a TLC file (any service).
        categorical: the columns used as categories (``"PU_DO"`` is built when listed).
        numerical: the numerical columns the model will use (checked to exist).
        min_duration: shortest ride kept, minutes (inclusive).
        max_duration: longest ride kept, minutes (inclusive).
        as_category: categorical columns as ``Categorical`` of strings (fast) or ``str``.

    Returns:
        A new DataFrame; ``df`` is not modified. ``attrs`` are kept.

    Raises:
        MissingColumnsError: when a needed column is missing.
        BadParameterError: when the duration bounds are reversed.
    """
    categorical, numerical = list(categorical), list(numerical)
    wanted = [c for c in categorical + numerical if c not in (PU_DO, DURATION)]
    require_columns(df, wanted, "the features need")
    out = filter_outliers(add_duration(df), min_duration, max_duration)
    out = prepare_features(out, categorical=categorical, as_category=as_category)
    out.attrs = dict(df.attrs)
    return out


def prepare_features(
    df: pd.DataFrame,
    *,
    categorical: Sequence[str] = DEFAULT_CATEGORICAL,
    as_category: bool = True,
) -> pd.DataFrame:
    """Return a copy with the categorical columns as strings and ``PU_DO`` when asked.

    This is the part of :func:`prepare_trips` that also applies when *predicting*: a new
    ride has no duration yet, so nothing is filtered, and rows keep their order.

    Raises:
        MissingColumnsError: when a categorical column (or a location column for
            ``PU_DO``) is missing.
    """
    categorical = [categorical] if isinstance(categorical, str) else list(categorical)
    require_columns(df, [c for c in categorical if c != PU_DO], "the features need")
    to_convert = [c for c in categorical if c != PU_DO]
    try:
        to_convert += [c for c in find_location_columns(df) if c not in to_convert]
    except MissingColumnsError:
        if PU_DO in categorical:
            raise
    out = df.copy(deep=False)
    for column in to_convert:
        out[column] = as_string_category(out[column], as_category=as_category)
    if PU_DO in categorical:
        out = add_pu_do(out, as_category=as_category)
    return out
