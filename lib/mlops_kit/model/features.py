"""From trip records to a feature matrix: duration, outlier filter, ``PU_DO``, vectoriser.

The course's ``duration-prediction.ipynb`` prepares a month of trips in four steps, which
this module names and tests one by one:

1. :func:`add_duration`: the target, the ride's duration in minutes, from the service's
   pickup and dropoff timestamps (vectorised: ``.dt.total_seconds() / 60``; the course's
   ``.apply(lambda td: ...)`` gives the same numbers 60 times slower).
2. :func:`filter_outliers`: keep rides of 1 to 60 minutes (both bounds inclusive). A
   "ride" of 0 seconds or of three days is a meter left running, not a trip to learn.
3. Location IDs as *categories*, not numbers: zone 132 is not "twice" zone 66. The course
   turns them into strings; :func:`add_pu_do` adds the pickup-dropoff pair ``"132_75"``
   as one category, which lets a linear model learn one duration per route.
4. :class:`TripVectorizer`: one-hot columns for the categories plus the numerical columns,
   the same matrix scikit-learn's ``DictVectorizer`` builds from
   ``df.to_dict(orient="records")``, but built straight from the columns (no Python dict
   per row), so a 3-million-row month takes a fraction of a second instead of ten.

:func:`prepare_trips` chains 1-3: it is the course's ``read_dataframe`` without the I/O.

Categories are stored as a pandas ``Categorical`` whose categories are strings (``"132"``).
It behaves like the course's ``str`` column (``df.PULocationID == "132"``, ``to_dict``,
``DictVectorizer``) but holds one small integer per row: converting 3 million IDs with
``astype(str)`` and joining them takes about a second, the categorical a few hundredths. Pass
``as_category=False`` to get plain ``str`` columns exactly as the course does.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin

from ..errors import BadParameterError, MissingColumnsError
from .arrays import count, gather, pieces

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


def _require(df: pd.DataFrame, columns: Sequence[str], why: str) -> None:
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
    same floats, about 60 times faster.

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
    _require(df, [pickup, dropoff], "needed for the duration")
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

    The course keeps 1 to 60 minutes, which drops about 3% of a green month: rides of a
    few seconds (cancelled, test records) and meters left running for hours.

    Raises:
        BadParameterError: when the bounds are reversed or not numbers.
        MissingColumnsError: when the duration column is missing (call add_duration).
    """
    low, high = _bounds(min_duration, max_duration)
    if column not in df.columns:
        raise MissingColumnsError(
            f"The trips have no {column!r} column to filter on.",
            "Call add_duration(df) first (prepare_trips does both).",
        )
    duration = df[column]
    return df[(duration >= low) & (duration <= high)]


def _bounds(min_duration, max_duration) -> tuple[float, float]:
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


# ---------------------------------------------------------------- categories as strings


def _code_dtype(categories: int):
    """Codes as int32 (half the memory), int64 beyond 2**31 categories.

    numpy copies an int32 index to int64 before indexing with it, so month-sized
    gathers and counts with codes go through :mod:`mlops_kit.model.arrays`, in pieces.
    """
    return np.int32 if categories < 2**31 else np.int64


def _int_codes(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Factorise integers: (codes, sorted unique values); a bincount when the range is small."""
    if values.size == 0:
        return np.zeros(0, dtype=np.int32), values[:0].astype(np.int64)
    low, high = int(values.min()), int(values.max())
    if high - low < 10_000_000:
        # small non-negative values index the lookup directly (one pass fewer)
        low = min(low, 0) if high < 10_000_000 else low
        shifted = values if low == 0 else values.astype(np.int64, copy=False) - low
        present = np.flatnonzero(count(shifted, high - low + 1))
        lookup = np.full(high - low + 1, -1, dtype=_code_dtype(present.size))
        lookup[present] = np.arange(present.size)
        return gather(lookup, shifted), present + low
    uniques, codes = np.unique(values, return_inverse=True)
    return codes.astype(_code_dtype(uniques.size)), uniques.astype(np.int64)


def _as_names(uniques) -> np.ndarray:
    """Category names as Python strings, as ``astype(str)`` writes them."""
    if isinstance(uniques, (pd.Index, pd.Series, pd.api.extensions.ExtensionArray)):
        if pd.api.types.is_string_dtype(uniques.dtype):
            return np.asarray(uniques.to_numpy(dtype=object, na_value=None), dtype=object)
        uniques = np.asarray(uniques, dtype=object)
    if isinstance(uniques, np.ndarray) and uniques.dtype.kind in "iu":
        return uniques.astype(str).astype(object)
    return np.array([str(v) for v in uniques], dtype=object)


def codes_and_names(series: pd.Series, *, fill: object = None) -> tuple[np.ndarray, np.ndarray]:
    """Return ``(codes, names)``: each row's category number and the categories as strings.

    This is how the kit reads a categorical column without building a string per row:
    integers are factorised with a bincount, a ``Categorical`` gives its codes, strings go
    through :func:`pandas.factorize`. Integral floats (FHV location IDs are floats because of
    missing values) are named as integers (``"132"``, not ``"132.0"``).

    Args:
        series: the column.
        fill: the value for missing entries; when None, missing entries get code -1.

    Returns:
        ``codes`` (int64, -1 for missing) and ``names`` (object array of str), where
        ``names[codes[i]]`` is row i's category.
    """
    if isinstance(series.dtype, pd.CategoricalDtype):
        cats = series.cat.categories
        codes = series.cat.codes.to_numpy().astype(np.int64)
        names = _as_names(cats)
        if fill is not None and (codes < 0).any():
            names = np.append(names, str(fill))
            codes = np.where(codes < 0, names.size - 1, codes)
            names, inverse = np.unique(names, return_inverse=True)
            codes = inverse[codes]
        return codes, names
    numpy_ints = isinstance(series.dtype, np.dtype) and series.dtype.kind in "iu"
    if fill is not None and not numpy_ints and series.isna().any():
        series = series.fillna(fill)
    dtype = series.dtype
    if pd.api.types.is_bool_dtype(dtype):
        values = series.to_numpy()
        codes, uniques = np.unique(values, return_inverse=True)
        return uniques.astype(np.int64), _as_names(codes)
    if pd.api.types.is_integer_dtype(dtype) and (numpy_ints or not series.isna().any()):
        codes, uniques = _int_codes(series.to_numpy(dtype=np.int64))
        return codes, _as_names(uniques)
    if pd.api.types.is_float_dtype(dtype):
        values = series.to_numpy(dtype=np.float64, na_value=np.nan)
        finite = np.isfinite(values)
        if finite.all() and np.array_equal(values, np.round(values)):
            codes, uniques = _int_codes(values.astype(np.int64))
            return codes, _as_names(uniques)
    codes, uniques = pd.factorize(series, use_na_sentinel=True)
    return codes.astype(np.int64), _as_names(uniques)


def _join(left: np.ndarray, right: np.ndarray, sep: str) -> pd.Index:
    """Return ``left[i] + sep + right[i]`` for arrays of str, as a string Index.

    Arrow's kernel joins the 60,000 routes of a yellow month and builds the Index in about
    12 ms; an f-string loop plus ``pd.Index(list(...))`` took about 65 ms.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    joined = pc.binary_join_element_wise(
        pa.array(left, type=pa.string()), pa.array(right, type=pa.string()), sep
    )
    return pd.Index(joined.to_pandas(), dtype="str")


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


def pair_codes(pickup, dropoff) -> tuple[np.ndarray, pd.Index]:
    """Combine two ``(codes, names)`` pairs into the codes and names of ``"<PU>_<DO>"``.

    Row i's pair is number ``pickup_codes[i] * len(dropoff_names) + dropoff_codes[i]``;
    those numbers are factorised, and only the distinct pairs (a few tens of thousands,
    not millions of rows) are joined into strings.
    """
    (pu_codes, pu_names), (do_codes, do_names) = pickup, dropoff
    del pickup, dropoff  # a caller that passes fresh pairs lets them go as soon as used
    key = np.multiply(pu_codes, max(do_names.size, 1), dtype=np.int64)
    del pu_codes
    key += do_codes
    del do_codes
    codes, pairs = _int_codes(key)
    del key
    names = _join(pu_names[pairs // do_names.size], do_names[pairs % do_names.size], "_")
    return codes, names


def add_pu_do(
    df: pd.DataFrame,
    *,
    column: str = PU_DO,
    as_category: bool = True,
) -> pd.DataFrame:
    """Return a copy with the pickup-dropoff pair ``"<PU>_<DO>"`` as one category.

    The course's ``df["PU_DO"] = df["PULocationID"] + "_" + df["DOLocationID"]``: with it a
    linear model learns one typical duration per route instead of one per pickup zone plus
    one per dropoff zone. Built from the two columns' codes, so only the few thousand
    distinct pairs are turned into strings, not every row.

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
    _require(df, wanted, "the features need")
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
    _require(df, [c for c in categorical if c != PU_DO], "the features need")
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


# ------------------------------------------------------------ the same, a batch at a time


@dataclass
class PreparedTrips:
    """A month prepared for the model, as arrays: what :func:`prepare_batches` returns.

    The columnar twin of :func:`prepare_trips`' DataFrame, holding only what the model
    uses; ``TripVectorizer.fit_transform_arrays`` takes it. Row i of every array is the
    same ride.

    Attributes:
        duration: minutes (float64) of the rides kept by the filter.
        categories: column -> ``(codes, names)``: ``names[codes[i]]`` is row i's category
            as a string (missing location IDs are ``"-1"``), ``PU_DO`` included when asked.
        numbers: column -> float64 values.
        raw_rows: rows before the filter.
    """

    duration: np.ndarray
    categories: dict[str, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)
    numbers: dict[str, np.ndarray] = field(default_factory=dict)
    raw_rows: int = 0

    def __len__(self) -> int:
        return int(self.duration.size)


def _arrow_values(array):
    """An Arrow array as numpy (no copy for numbers without nulls), else as pandas reads it."""
    import pyarrow as pa

    kind = array.type
    if (
        pa.types.is_integer(kind)
        or pa.types.is_floating(kind)
        or (pa.types.is_timestamp(kind) and kind.tz is None)
    ):
        return array.to_numpy(zero_copy_only=False)
    return array.to_pandas()  # strings, time zones, dictionaries: the DataFrame's own values


class _Column:
    """The kept rows of one column, written batch by batch into one preallocated array.

    ``np.empty`` of the month's row count costs no memory until written, so the 3% of rows
    the filter drops are never touched, and no list of pieces is concatenated at the end.
    """

    def __init__(self, capacity: int):
        self.capacity, self.size, self.values = capacity, 0, None

    def add(self, piece: np.ndarray) -> None:
        if self.values is None:
            self.values = np.empty(self.capacity, dtype=piece.dtype)
        elif piece.dtype != self.values.dtype:  # e.g. an int column whose batch has nulls
            self.values = self.values.astype(np.result_type(self.values.dtype, piece.dtype))
        self.values[self.size : self.size + piece.size] = piece
        self.size += piece.size

    def result(self, dtype=None) -> np.ndarray:
        values = self.values if self.values is not None else np.empty(0, dtype=dtype or float)
        return values[: self.size]


class _Pairs:
    """The pickup and dropoff IDs of the kept rows as one number each: ``PU * 1024 + DO``.

    When ``PU_DO`` is the only use of the location IDs, one int64 per row replaces two,
    and one factorisation replaces three. Pairs sort as ``(PU, DO)`` either way, so the
    codes and names equal those of :func:`pair_codes`. A batch with an ID outside
    ``0..1023`` (or missing) splits the numbers back into two columns, and the month goes
    the general way.
    """

    BASE = 1024

    def __init__(self, capacity: int):
        self.capacity = capacity
        self.key: _Column | None = _Column(capacity)
        self.columns: tuple[_Column, _Column] | None = None

    def _small(self, values: np.ndarray) -> bool:
        return values.dtype.kind in "iu" and (
            values.size == 0 or (values.min() >= 0 and values.max() < self.BASE)
        )

    def add(self, pickup: np.ndarray, dropoff: np.ndarray) -> None:
        if self.key is not None and self._small(pickup) and self._small(dropoff):
            key = pickup.astype(np.int32) * self.BASE  # < 2**20: int32 is plenty
            key += dropoff.astype(np.int32, copy=False)
            self.key.add(key)
            return
        if self.key is not None:  # back to two columns, for good
            key = self.key.result(np.int64).astype(np.int64)
            self.columns = (_Column(self.capacity), _Column(self.capacity))
            self.columns[0].add(key // self.BASE)
            self.columns[1].add(key % self.BASE)
            self.key = None
        self.columns[0].add(pickup)
        self.columns[1].add(dropoff)

    def codes(self, series) -> tuple[np.ndarray, np.ndarray]:
        """``PU_DO``'s ``(codes, names)``; ``series(column)`` wraps a split column."""
        if self.key is None:
            pickup, dropoff = self.columns
            self.columns = None
            return _pair_codes_and_names(
                codes_and_names(series(pickup), fill=MISSING_LOCATION),
                codes_and_names(series(dropoff), fill=MISSING_LOCATION),
            )
        codes, pairs = _int_codes(self.key.result(np.int32))
        self.key = None
        names = _join(_small_names(pairs // self.BASE), _small_names(pairs % self.BASE), "_")
        return codes, _as_names(names)


def _pair_codes_and_names(pickup, dropoff) -> tuple[np.ndarray, np.ndarray]:
    """:func:`pair_codes`, with the route names as the array the batch path keeps."""
    codes, names = pair_codes(pickup, dropoff)
    return codes, _as_names(names)


def _small_names(ids: np.ndarray) -> np.ndarray:
    """``_as_names(ids)`` for many repeats of a few IDs: each distinct one is named once."""
    distinct, inverse = np.unique(ids, return_inverse=True)
    return _as_names(distinct)[inverse]


def prepare_batches(
    batches,
    *,
    categorical: Sequence[str] = DEFAULT_CATEGORICAL,
    numerical: Sequence[str] = DEFAULT_NUMERICAL,
    min_duration: float = 1,
    max_duration: float = 60,
) -> PreparedTrips:
    """Prepare a month read in record batches: :func:`prepare_trips` without a DataFrame.

    Each batch gets its duration and filter at once, and only the kept values of the
    columns the model uses are copied out, so the month is never held whole: about a
    third of the memory of reading the table, converting it to pandas and preparing the
    frame. Categories are then coded with the same functions the DataFrame path uses, so
    the result is the same data (the tests prove it row for row).

    Args:
        batches: a :class:`mlops_kit.tlc.data.TripBatches` (``schema``, ``num_rows``, and
            iterable over ``pyarrow.RecordBatch``).
        categorical: one-hot columns; ``"PU_DO"`` is built from the location IDs.
        numerical: numerical columns.
        min_duration: shortest ride kept, minutes (inclusive).
        max_duration: longest ride kept, minutes (inclusive).

    Raises:
        MissingColumnsError: a needed column is not in the batches.
        BadParameterError: reversed bounds, or a numerical column that holds no numbers.
    """
    categorical = [categorical] if isinstance(categorical, str) else list(categorical)
    numerical = [numerical] if isinstance(numerical, str) else list(numerical)
    if set(categorical) & set(numerical):
        TripVectorizer(categorical, numerical)._columns()  # says which, and what to do
    low, high = _bounds(min_duration, max_duration)
    header = pd.DataFrame(columns=list(batches.schema.names))
    pickup, dropoff = find_datetime_columns(header)
    _require(
        header,
        [c for c in categorical + numerical if c not in (PU_DO, DURATION)],
        "the features need",
    )
    locations = list(find_location_columns(header)) if PU_DO in categorical else []
    others = [c for c in categorical if c != PU_DO] + numerical
    pairs = _Pairs(batches.num_rows) if locations and not set(locations) & set(others) else None
    wanted = others + ([] if pairs else locations)
    wanted = [c for c in dict.fromkeys(wanted) if c != DURATION]
    kept = {name: _Column(batches.num_rows) for name in [DURATION, *wanted]}
    raw_rows = 0

    def values_of(batch, name):
        values = _arrow_values(batch.column(batch.schema.names.index(name)))
        return values.to_numpy() if isinstance(values, pd.Series) else values

    for batch in batches:
        names = batch.schema.names
        minutes = duration_minutes(
            _arrow_values(batch.column(names.index(dropoff))),
            _arrow_values(batch.column(names.index(pickup))),
        )
        keep = (minutes >= low) & (minutes <= high)
        raw_rows += batch.num_rows
        kept[DURATION].add(minutes[keep])
        for name in wanted:
            kept[name].add(values_of(batch, name)[keep])
        if pairs:
            pairs.add(*(values_of(batch, name)[keep] for name in locations))
    duration = kept.pop(DURATION).result(np.float64)
    index = pd.RangeIndex(duration.size)

    def series(name):  # each column is let go once coded: the next one reuses its memory
        if isinstance(name, _Column):
            return pd.Series(name.result(), index=index, copy=False)
        return pd.Series(kept.pop(name).result(), index=index, name=name, copy=False)

    numbers = {}
    for name in numerical:
        if name == DURATION:  # the target as a feature: allowed, as in prepare_trips
            numbers[name] = duration
            continue
        column = series(name)
        TripVectorizer._check_numeric(column.to_frame(), name)
        numbers[name] = column.to_numpy(dtype=np.float64, na_value=np.nan)
    categories = {
        name: codes_and_names(series(name), fill=MISSING_LOCATION)
        for name in categorical
        if name != PU_DO
    }
    if pairs:
        categories[PU_DO] = pairs.codes(series)
    elif PU_DO in categorical:
        categories[PU_DO] = _pair_codes_and_names(
            *(
                categories.get(c) or codes_and_names(series(c), fill=MISSING_LOCATION)
                for c in locations
            )
        )
    categories = {name: categories[name] for name in categorical}
    return PreparedTrips(duration, categories, numbers, raw_rows)


# ---------------------------------------------------------------------- the vectoriser


class TripVectorizer(TransformerMixin, BaseEstimator):
    """One-hot categories plus numerical columns, exactly as ``DictVectorizer`` does it.

    The course vectorises with ``DictVectorizer().fit_transform(df[cols].to_dict(
    orient="records"))``: every string value ``v`` of column ``c`` becomes a 0/1 column
    named ``c=v``, every number stays one column named ``c``, and the names are sorted.
    This class gives the same names in the same order and the same sparse matrix (float64
    values, explicit zeros included), with categories unseen at ``fit`` giving all-zero
    columns at ``transform``. It works on the columns directly (integer codes and
    ``np.bincount``-sized lookups), so it needs no Python dict per row, and its sparse
    matrix has 32-bit indices, which scikit-learn 1.9's ``Lasso`` requires.

    Categorical columns are categories whatever their dtype (as the course's
    ``astype(str)`` makes them): ``132`` and ``"132"`` both give the column
    ``PULocationID=132``.

    Args:
        categorical: columns one-hot encoded (default: the course's two location IDs).
        numerical: columns used as numbers (default: ``trip_distance``).

    Attributes:
        feature_names_: the sorted feature names (``DictVectorizer.feature_names_``).
        categories_: for each categorical column, its categories (strings) seen at fit.
    """

    def __init__(
        self,
        categorical: Sequence[str] = DEFAULT_CATEGORICAL,
        numerical: Sequence[str] = DEFAULT_NUMERICAL,
    ):
        self.categorical = categorical
        self.numerical = numerical

    # -- helpers
    def _columns(self) -> tuple[list[str], list[str]]:
        categorical = [self.categorical] if isinstance(self.categorical, str) else self.categorical
        numerical = [self.numerical] if isinstance(self.numerical, str) else self.numerical
        categorical, numerical = list(categorical or []), list(numerical or [])
        if not categorical + numerical:
            raise BadParameterError(
                "No features were asked for: the categorical and numerical column lists "
                "are both empty.",
                "Pass at least one column, e.g. categorical=['PU_DO'], "
                "numerical=['trip_distance'] (--categorical PU_DO --numerical trip_distance).",
            )
        overlap = set(categorical) & set(numerical)
        if overlap:
            raise BadParameterError(
                f"The column(s) {', '.join(sorted(overlap))} are listed as both categorical "
                "and numerical.",
                "List each column once: categorical for IDs, numerical for quantities.",
            )
        return categorical, numerical

    @staticmethod
    def _check_frame(X, columns: list[str]) -> pd.DataFrame:
        if not isinstance(X, pd.DataFrame):
            raise BadParameterError(
                f"TripVectorizer takes a pandas DataFrame of trips, got {type(X).__name__}.",
                "Pass the prepared trips, e.g. vectorizer.fit_transform(train_df).",
            )
        _require(X, columns, "the vectoriser was asked to use")
        return X

    def _category_codes(self, X: pd.DataFrame, column: str) -> tuple[np.ndarray, np.ndarray]:
        return self._present(column, *codes_and_names(X[column]))

    @staticmethod
    def _present(column: str, codes: np.ndarray, names: np.ndarray):
        """Check a column's ``(codes, names)`` and drop the names no row uses."""
        if codes.size and codes.min() < 0:
            raise BadParameterError(
                f"The categorical column {column!r} has missing values; DictVectorizer would "
                "turn them into a numerical NaN feature.",
                "Fill them first: prepare_trips fills missing location IDs with -1, as the "
                "2022 homework does.",
            )
        present = count(codes, names.size) > 0
        if not present.all():  # e.g. categories of a Categorical filtered away
            lookup = (np.cumsum(present) - 1).astype(codes.dtype)
            codes, names = gather(lookup, codes), names[present]
        return codes, names

    def _numbers(self, X: pd.DataFrame, column: str) -> np.ndarray:
        self._check_numeric(X, column)
        return X[column].to_numpy(dtype=np.float64, na_value=np.nan)

    @staticmethod
    def _check_numeric(X: pd.DataFrame, column: str) -> None:
        series = X[column]
        if not (
            pd.api.types.is_numeric_dtype(series.dtype) or pd.api.types.is_bool_dtype(series.dtype)
        ):
            raise BadParameterError(
                f"The numerical column {column!r} holds {series.dtype} values, not numbers.",
                "List it under categorical= instead, or convert it with pd.to_numeric.",
            )

    # -- sklearn API
    def fit(self, X: pd.DataFrame, y=None) -> TripVectorizer:
        """Learn the feature names: every category seen in ``X`` plus the numerical columns."""
        self._fit(X)
        return self

    def _fit(self, X: pd.DataFrame) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        categorical, numerical = self._columns()
        X = self._check_frame(X, categorical + numerical)
        for column in numerical:
            self._check_numeric(X, column)
        return self._fit_codes({c: self._category_codes(X, c) for c in categorical})

    def _fit_codes(self, codes: Mapping[str, tuple[np.ndarray, np.ndarray]]):
        """Learn the feature names from each categorical column's ``(codes, names)``."""
        categorical, numerical = self._columns()
        seen: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        parts = [np.array(numerical, dtype=str)]
        for column in categorical:
            codes_, cats = codes[column]
            seen[column] = (codes_, cats)
            parts.append(np.char.add(f"{column}=", cats.astype(str)))
        # DictVectorizer sorts all names together (code-point order, as numpy sorts str)
        names = np.concatenate(parts)
        order = np.argsort(names, kind="stable")
        names = names[order]
        if names.size > 1 and (names[1:] == names[:-1]).any():
            raise BadParameterError(
                "Two features would get the same name (a numerical column named like a "
                "category 'column=value').",
                "Rename the clashing column.",
            )
        position = np.empty(order.size, dtype=np.int64)
        position[order] = np.arange(order.size)
        self.feature_names_ = names.tolist()
        self._numerical_index = {c: int(position[i]) for i, c in enumerate(numerical)}
        self.categories_ = {}
        self._category_index = {}
        start = len(numerical)
        for column in categorical:
            codes, cats = seen[column]
            columns_of_cat = position[start : start + cats.size]
            start += cats.size
            by_name = np.argsort(columns_of_cat, kind="stable")
            self.categories_[column] = cats[by_name]
            self._category_index[column] = columns_of_cat[by_name]
            seen[column] = (codes, columns_of_cat)  # fit_transform needs no lookup
        self.n_features_in_ = len(categorical) + len(numerical)
        return seen

    @property
    def vocabulary_(self) -> dict[str, int]:
        """Feature name -> column, as ``DictVectorizer.vocabulary_``."""
        return {name: i for i, name in enumerate(self.feature_names_)}

    def get_feature_names_out(self, input_features=None) -> np.ndarray:
        """Return the feature names (object array), as ``DictVectorizer`` does."""
        self._check_fitted()
        return np.asarray(self.feature_names_, dtype=object)

    def _check_fitted(self) -> None:
        if not hasattr(self, "feature_names_"):
            from sklearn.exceptions import NotFittedError

            raise NotFittedError("This TripVectorizer is not fitted yet: call fit() first.")

    def transform(self, X: pd.DataFrame):
        """Return the sparse CSR matrix of ``X`` (rows in order, unseen categories as zeros)."""
        self._check_fitted()
        return self._transform(X, None)

    def fit_transform(self, X: pd.DataFrame, y=None, **fit_params):
        """Fit and transform in one pass over the columns."""
        seen = self._fit(X)
        return self._transform(X, seen)

    def _transform(self, X: pd.DataFrame, seen):
        categorical, numerical = self._columns()
        X = self._check_frame(X, categorical + numerical)
        if seen is None:
            seen = {c: self._fitted_columns(c, *self._category_codes(X, c)) for c in categorical}
        return self._assemble(len(X), seen, {c: self._numbers(X, c) for c in numerical})

    # -- the same from arrays (what train_and_evaluate uses on a month read in batches)
    def _check_arrays(self, trips: PreparedTrips):
        categorical, numerical = self._columns()
        missing = [c for c in categorical if c not in trips.categories]
        missing += [c for c in numerical if c not in trips.numbers]
        if missing:
            raise MissingColumnsError(
                f"The prepared trips lack the column(s) {', '.join(missing)} the vectoriser "
                "was asked to use.",
                "Prepare them with the same categorical and numerical lists "
                "(prepare_batches(..., categorical=..., numerical=...)).",
            )
        codes = {c: self._present(c, *trips.categories[c]) for c in categorical}
        return codes, {c: trips.numbers[c] for c in numerical}

    def fit_transform_arrays(self, trips: PreparedTrips):
        """``fit_transform`` for a month prepared by :func:`prepare_batches`.

        The same names and matrix as ``fit_transform`` on the equivalent DataFrame: both
        go through the same code once the categories are ``(codes, names)`` pairs.
        """
        codes, numbers = self._check_arrays(trips)
        return self._assemble(len(trips), self._fit_codes(codes), numbers)

    def transform_arrays(self, trips: PreparedTrips):
        """``transform`` for a month prepared by :func:`prepare_batches`."""
        self._check_fitted()
        codes, numbers = self._check_arrays(trips)
        seen = {c: self._fitted_columns(c, *pair) for c, pair in codes.items()}
        return self._assemble(len(trips), seen, numbers)

    def _slots(self, n: int, seen, numbers: Mapping[str, np.ndarray]):
        """``(blocks, numeric)`` of the matrix ``_assemble`` would build, without building it.

        What ``mlops_kit.model.training._regular_slots`` reads back from the matrix, in the same
        order: per-row column indices (the matrix's index dtype) of each one-hot block,
        and ``(column, values)`` for the slots that hold one column on every row
        (numerical columns, and a category column with a single category, whose values
        are ones). A linear model fitted from these never needs the training matrix and
        its 84 MB (3 million rows).
        Only for ``seen`` from fitting, where every row has every slot.
        """
        categorical, numerical = self._columns()
        itype = _index_dtype(n, len(categorical) + len(numerical), len(self.feature_names_))
        slots = []  # (first column, per-row columns or None, column, values)
        for column in categorical:
            codes, columns_of_cat = seen[column]
            cols = gather(columns_of_cat.astype(itype), codes)
            first, last = int(cols.min()), int(cols.max())
            if first == last:
                slots.append((first, None, first, np.ones(n)))
            else:
                slots.append((self._span(column)[0], cols, None, None))
        for column in numerical:
            index = self._numerical_index[column]
            values = np.asarray(numbers[column], dtype=np.float64)
            slots.append((index, None, index, values))
        slots.sort(key=lambda slot: slot[0])
        blocks = [cols for _, cols, _, _ in slots if cols is not None]
        numeric = [(index, values) for _, cols, index, values in slots if cols is None]
        return blocks, numeric

    def _fitted_columns(self, column: str, codes: np.ndarray, cats: np.ndarray):
        """``(codes, column of each code)``: categories -> fitted columns (-1: unseen)."""
        fitted = self.categories_[column]
        lookup = pd.Index(fitted, dtype=object).get_indexer(pd.Index(cats, dtype=object))
        return codes, np.where(lookup >= 0, self._category_index[column][lookup], -1)

    def _span(self, column: str) -> tuple[int, int]:
        """The first and last matrix column of a categorical column's categories."""
        fitted = self._category_index[column]
        return (int(fitted.min()), int(fitted.max())) if fitted.size else (0, -1)

    def _dot(self, n: int, seen, numbers: Mapping[str, np.ndarray], coef: np.ndarray):
        """``X @ coef`` for the matrix ``_assemble`` would build, without building it.

        Each row's terms are added in column order, starting from 0.0, exactly as
        :meth:`mlops_kit.model.training.ExactLinearRegression.predict` adds them for the matrix,
        so the two agree to the last bit: a category's term is its coefficient (a category
        unseen at fit adds 0.0, as its missing entry adds nothing), a numerical column's
        is value times coefficient. None when the columns of different blocks interleave
        (then only the matrix knows each row's order).
        """
        categorical, numerical = self._columns()
        terms = []  # (first column, last column, per-category coefficient or None, ...)
        for column in categorical:
            codes, columns_of_cat = seen[column]
            of_code = np.where(columns_of_cat >= 0, coef[np.maximum(columns_of_cat, 0)], 0.0)
            terms.append((*self._span(column), of_code, codes))
        for column in numerical:
            index = self._numerical_index[column]
            terms.append((index, index, float(coef[index]), numbers[column]))
        terms.sort(key=lambda t: t[0])
        if not _in_order(terms):
            return None
        out = np.zeros(n)
        for rows in pieces(n):
            part = out[rows]
            for _, _, weight, values in terms:
                if isinstance(weight, float):
                    part += values[rows] * weight
                else:
                    part += weight[values[rows]]
        return out

    def _assemble(self, n: int, seen, numbers: Mapping[str, np.ndarray]):
        """The CSR matrix: one entry per row and column, unseen categories left out."""
        import scipy.sparse as sp

        categorical, numerical = self._columns()
        n_features = len(self.feature_names_)
        k = len(categorical) + len(numerical)
        itype = _index_dtype(n, k, n_features)
        blocks = []  # (first column, last column, per-row columns, values or None)
        unseen = None  # per-row count of categories unseen at fit
        for column in categorical:
            codes, columns_of_cat = seen[column]
            cols = gather(columns_of_cat.astype(itype), codes)
            blocks.append((*self._span(column), cols, None))
            missing = columns_of_cat < 0
            if missing.any():
                row_missing = gather(missing, codes).view(np.int8)
                unseen = row_missing.copy() if unseen is None else unseen + row_missing
        for column in numerical:
            index = self._numerical_index[column]
            blocks.append((index, index, index, numbers[column]))
        blocks.sort(key=lambda b: b[0])
        indices = np.empty((n, k), dtype=itype)
        data = np.empty((n, k), dtype=np.float64)
        for j, (_, _, cols, values) in enumerate(blocks):
            indices[:, j] = cols
            data[:, j] = 1.0 if values is None else values
        indices, data = indices.reshape(-1), data.reshape(-1)
        if unseen is None:
            indptr = np.arange(0, n * k + 1, k, dtype=itype)
        else:  # drop the unseen entries; a row's count is k minus its unseen ones
            indptr = np.empty(n + 1, dtype=itype)
            indptr[0] = 0
            np.cumsum(k - unseen.astype(itype), out=indptr[1:])
            keep = indices >= 0
            indices, data = indices[keep], data[keep]
        matrix = sp.csr_matrix((data, indices, indptr), shape=(n, n_features), copy=False)
        # blocks whose column ranges follow one another give sorted rows by construction
        if _in_order(blocks):
            matrix.has_sorted_indices = True
        elif not matrix.has_sorted_indices:
            matrix.sort_indices()
        return _sparse_interface(matrix)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.two_d_array = False
        tags.input_tags.dict = False
        tags.input_tags.string = True
        return tags


def _in_order(slots) -> bool:
    """True when the slots' column ranges ``(first, last, ...)`` follow one another.

    Then every row's entries, one per slot, are in column order by construction.
    """
    return all(a[1] < b[0] for a, b in zip(slots[:-1], slots[1:], strict=True))


def _index_dtype(n: int, k: int, n_features: int):
    """32-bit sparse indices (what Lasso needs) unless the matrix is too large for them."""
    return np.int32 if max(n * k, n_features) < 2**31 else np.int64


def _sparse_interface(matrix):
    """Return a ``csr_matrix`` or ``csr_array``, whichever scikit-learn is configured for."""
    import sklearn

    if sklearn.get_config().get("sparse_interface", "spmatrix") == "sparray":
        import scipy.sparse as sp

        return sp.csr_array(matrix)
    return matrix
