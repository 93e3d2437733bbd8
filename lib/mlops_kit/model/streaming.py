"""The streaming fast path: a month prepared a record batch at a time, never held whole.

:func:`~mlops_kit.model.features.prepare_trips` prepares a DataFrame the way the course does;
:func:`prepare_batches` gives the same data from a file read in record batches
(:func:`mlops_kit.tlc.data.read_trip_batches`): each batch gets its duration and filter at
once, and only the kept values of the columns the model uses are copied out. The result
is a :class:`PreparedTrips` (arrays, no DataFrame), which
:meth:`~mlops_kit.model.vectorizer.TripVectorizer.fit_encode` takes. Categories are coded
with the functions of :mod:`mlops_kit.model.categories`, as on the DataFrame path, so both
paths give the same data row for row (the tests hold them equal).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .categories import category_names, codes_and_names, int_codes, join_names, pair_codes
from .features import (
    DEFAULT_CATEGORICAL,
    DEFAULT_NUMERICAL,
    DURATION,
    MISSING_LOCATION,
    PU_DO,
    duration_bounds,
    duration_minutes,
    find_datetime_columns,
    find_location_columns,
    require_columns,
)
from .vectorizer import check_numerical, feature_columns


@dataclass
class PreparedTrips:
    """A month prepared for the model, as arrays: what :func:`prepare_batches` returns.

    The columnar twin of :func:`~mlops_kit.model.features.prepare_trips`' DataFrame,
    holding only what the model uses; ``TripVectorizer.fit_encode`` takes it. Row i of
    every array is the same ride.

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

    @classmethod
    def from_frame(
        cls, frame: pd.DataFrame, categorical, numerical, *, raw_rows: int | None = None
    ) -> PreparedTrips:
        """The columns of a DataFrame prepared by ``prepare_trips``, as arrays.

        Categories are coded as they are (a missing value keeps code -1, which the
        vectoriser refuses); numerical columns must hold numbers.

        Args:
            frame: prepared trips, with the ``duration`` column and the feature columns.
            categorical: the categorical columns to keep.
            numerical: the numerical columns to keep.
            raw_rows: the rows before the filter (default: the frame's rows).

        Raises:
            MissingColumnsError: when a feature column is missing.
            BadParameterError: when a numerical column does not hold numbers.
        """
        categorical, numerical = list(categorical), list(numerical)
        require_columns(frame, categorical + numerical, "the vectoriser was asked to use")
        numbers = {}
        for column in numerical:
            check_numerical(frame[column], column)
            numbers[column] = frame[column].to_numpy(dtype=np.float64, na_value=np.nan)
        categories = {c: codes_and_names(frame[c]) for c in categorical}
        duration = frame[DURATION].to_numpy(dtype=np.float64)
        return cls(duration, categories, numbers, len(frame) if raw_rows is None else raw_rows)


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

    ``np.empty`` of the month's row count costs no memory until written, so the rows the
    filter drops are never touched, and no list of pieces is concatenated at the end.
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

    When ``PU_DO`` is the only use of the location IDs, one number per row replaces two,
    and one factorisation replaces three. Pairs sort as ``(PU, DO)`` either way, so the
    codes and names equal those of :func:`~mlops_kit.model.categories.pair_codes`. A
    batch with an ID outside ``0..1023`` (or missing) splits the numbers back into two
    columns, and the month goes the general way.
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
        codes, pairs = int_codes(self.key.result(np.int32))
        self.key = None
        names = join_names(_small_names(pairs // self.BASE), _small_names(pairs % self.BASE), "_")
        return codes, category_names(names)


def _pair_codes_and_names(pickup, dropoff) -> tuple[np.ndarray, np.ndarray]:
    """:func:`pair_codes`, with the route names as the array the batch path keeps."""
    codes, names = pair_codes(pickup, dropoff)
    return codes, category_names(names)


def _small_names(ids: np.ndarray) -> np.ndarray:
    """``category_names(ids)`` for many repeats of a few IDs: each distinct one is named once."""
    distinct, inverse = np.unique(ids, return_inverse=True)
    return category_names(distinct)[inverse]


def prepare_batches(
    batches,
    *,
    categorical: Sequence[str] = DEFAULT_CATEGORICAL,
    numerical: Sequence[str] = DEFAULT_NUMERICAL,
    min_duration: float = 1,
    max_duration: float = 60,
) -> PreparedTrips:
    """Prepare a month read in record batches: ``prepare_trips`` without a DataFrame.

    Each batch gets its duration and filter at once, and only the kept values of the
    columns the model uses are copied out, so the month is never held whole (nor converted
    to pandas). Categories are then coded with the same functions the DataFrame path uses, so
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
        feature_columns(categorical, numerical)  # says which, and what to do
    low, high = duration_bounds(min_duration, max_duration)
    header = pd.DataFrame(columns=list(batches.schema.names))
    pickup, dropoff = find_datetime_columns(header)
    require_columns(
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
        check_numerical(column, name)
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
