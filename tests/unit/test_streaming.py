"""mlops_kit.model.streaming: a month prepared in record batches == prepare_trips, row for row."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mlops_kit.errors import BadParameterError, MissingColumnsError
from mlops_kit.model.features import find_datetime_columns, find_location_columns, prepare_trips
from mlops_kit.model.streaming import prepare_batches

from .test_features import trips


def frame_batches(df: pd.DataFrame, batch_rows: int = 64):
    """The TripBatches of a DataFrame: what read_trip_batches gives for the same file."""
    import pyarrow as pa

    from mlops_kit.tlc import TripBatches

    table = pa.Table.from_pandas(df, preserve_index=False)
    return TripBatches(table.schema, table.num_rows, {}, iter(table.to_batches(batch_rows)))


def file_batches(path, columns, batch_rows=1000):
    from mlops_kit.tlc import read_trip_batches

    return read_trip_batches(path, columns, source="real", batch_rows=batch_rows)


def assert_same_month(month, frame, categorical, numerical):
    """A PreparedTrips holds, row for row, what prepare_trips' DataFrame holds."""
    np.testing.assert_array_equal(month.duration, frame["duration"].to_numpy())
    for column in categorical:
        codes, names = month.categories[column]
        assert codes.dtype.kind == "i" and names.dtype == object
        np.testing.assert_array_equal(names[codes], frame[column].astype(str).to_numpy())
    for column in numerical:
        np.testing.assert_array_equal(
            month.numbers[column], frame[column].to_numpy(dtype=np.float64, na_value=np.nan)
        )
    assert len(month) == len(frame)


FEATURE_SETS = [
    (["PU_DO"], ["trip_distance"]),
    (["PULocationID", "DOLocationID"], []),
    (["PU_DO", "PULocationID"], ["trip_distance"]),  # PU_DO the general way
]


@pytest.mark.parametrize("service", ["green", "yellow", "fhv"])
@pytest.mark.parametrize("categorical,numerical", FEATURE_SETS)
def test_prepare_batches_equals_prepare_trips_on_synthetic_months(service, categorical, numerical):
    from mlops_kit.tlc import read_trips
    from mlops_kit.tlc.synthetic import synthetic_trips

    path = synthetic_trips(service, "2021-01", 6000, 11)
    raw = read_trips(path, source="real")
    if service == "fhv":  # no distance, PUlocationID (lower-case l), IDs with gaps (NaN)
        numerical = []
        fhv_names = find_location_columns(raw)
        rename = dict(zip(("PULocationID", "DOLocationID"), fhv_names, strict=True))
        categorical = [rename.get(c, c) for c in categorical]
        assert raw[rename["PULocationID"]].isna().any()
    columns = [*find_datetime_columns(raw), *find_location_columns(raw), *numerical]
    month = prepare_batches(
        file_batches(path, columns), categorical=categorical, numerical=numerical
    )
    frame = prepare_trips(raw, categorical=categorical, numerical=numerical)
    assert month.raw_rows == len(raw)
    assert_same_month(month, frame, categorical, numerical)


def test_prepare_batches_bounds_and_missing_columns():
    df = trips(500, seed=4)
    month = prepare_batches(frame_batches(df), min_duration=2, max_duration=30)
    frame = prepare_trips(df, min_duration=2, max_duration=30)
    assert_same_month(month, frame, ["PULocationID", "DOLocationID"], ["trip_distance"])
    with pytest.raises(BadParameterError, match="larger than"):
        prepare_batches(frame_batches(df), min_duration=30, max_duration=2)
    with pytest.raises(MissingColumnsError, match="fare_amount"):
        prepare_batches(frame_batches(df), numerical=["fare_amount"])
    with pytest.raises(BadParameterError, match="numerical column"):
        prepare_batches(frame_batches(df.assign(note="x")), numerical=["note"])
    with pytest.raises(BadParameterError, match="both categorical and numerical"):
        prepare_batches(frame_batches(df), numerical=["PULocationID"])
    month = prepare_batches(frame_batches(df), numerical=["duration", "trip_distance"])
    np.testing.assert_array_equal(month.numbers["duration"], month.duration)


@pytest.mark.parametrize("odd", ["large", "missing", "negative"])
def test_pu_do_from_one_number_falls_back_when_an_id_does_not_fit(odd):
    """PU*1024+DO per row until a batch has an ID outside 0..1023, then two columns again."""
    df = trips(600, seed=6)
    late = df.index >= 400  # the first batches fit, a later one does not
    if odd == "large":
        df.loc[late & (df.index % 3 == 0), "PULocationID"] = 5000
    elif odd == "missing":
        df["DOLocationID"] = df["DOLocationID"].astype("Int64")
        df.loc[late & (df.index % 3 == 0), "DOLocationID"] = pd.NA
    else:
        df.loc[late & (df.index % 3 == 0), "DOLocationID"] = -7
    frame = prepare_trips(
        df.astype({"DOLocationID": "float64"}) if odd == "missing" else df, categorical=["PU_DO"]
    )
    month = prepare_batches(frame_batches(df), categorical=["PU_DO"])
    assert_same_month(month, frame, ["PU_DO"], ["trip_distance"])
    assert (frame["PU_DO"].astype(str).str.contains("5000_|_-1$|_-7$")).any()
