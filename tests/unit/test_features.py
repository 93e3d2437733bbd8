"""mlops_kit.model.features: duration, filter, PU_DO, and TripVectorizer == DictVectorizer."""

from __future__ import annotations

import pickle

import numpy as np
import pandas as pd
import pytest
from sklearn.feature_extraction import DictVectorizer

from mlops_kit.errors import BadParameterError, KitError, MissingColumnsError
from mlops_kit.model.features import (
    TripVectorizer,
    add_duration,
    add_pu_do,
    filter_outliers,
    prepare_features,
    prepare_trips,
)


def trips(n=200, seed=0, service="lpep", zones=30) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    pickup = pd.Timestamp("2021-01-01") + pd.to_timedelta(rng.integers(0, 86400 * 28, n), "s")
    minutes = rng.exponential(15, n)
    minutes[:5] = [0.5, 1.0, 60.0, 60.01, 300]  # the bounds and outliers
    return pd.DataFrame(
        {
            f"{service}_pickup_datetime": pickup.astype("datetime64[us]"),
            f"{service}_dropoff_datetime": (pickup + pd.to_timedelta(minutes * 60, "s")).astype(
                "datetime64[us]"
            ),
            "PULocationID": rng.integers(1, zones, n),
            "DOLocationID": rng.integers(1, zones, n),
            "trip_distance": np.round(rng.exponential(3, n), 2) * (rng.random(n) > 0.1),
        }
    )


def course_read_dataframe(df: pd.DataFrame, pickup="lpep_pickup_datetime", dropoff=None):
    """The course's read_dataframe (without the read), as the reference."""
    dropoff = dropoff or pickup.replace("pickup", "dropoff")
    df = df.copy()
    df["duration"] = df[dropoff] - df[pickup]
    df["duration"] = df["duration"].apply(lambda td: td.total_seconds() / 60)
    df = df[(df.duration >= 1) & (df.duration <= 60)].copy()
    categorical = ["PULocationID", "DOLocationID"]
    df[categorical] = df[categorical].astype(str)
    df["PU_DO"] = df["PULocationID"] + "_" + df["DOLocationID"]
    return df


def dv_matrix(train, val, columns):
    dv = DictVectorizer()
    X = dv.fit_transform(train[columns].to_dict(orient="records"))
    return dv, X, dv.transform(val[columns].to_dict(orient="records"))


def assert_same_sparse(A, B):
    assert A.shape == B.shape
    A, B = A.tocsr(), B.tocsr()
    A.sort_indices()
    B.sort_indices()
    np.testing.assert_array_equal(A.indptr, B.indptr)
    np.testing.assert_array_equal(A.indices, B.indices)
    np.testing.assert_array_equal(A.data, B.data)
    assert A.dtype == B.dtype == np.float64


# ------------------------------------------------------------------ duration and filter


def test_add_duration_equals_the_course_apply():
    df = trips()
    ours = add_duration(df)["duration"]
    course = (df.lpep_dropoff_datetime - df.lpep_pickup_datetime).apply(
        lambda td: td.total_seconds() / 60
    )
    np.testing.assert_array_equal(ours.to_numpy(), course.to_numpy())
    assert "duration" not in df.columns  # input untouched


@pytest.mark.parametrize(
    "pickup,dropoff",
    [
        ("tpep_pickup_datetime", "tpep_dropoff_datetime"),
        ("pickup_datetime", "dropOff_datetime"),  # fhv
        ("pickup_datetime", "dropoff_datetime"),  # fhvhv
    ],
)
def test_add_duration_finds_each_services_columns(pickup, dropoff):
    df = trips(10).rename(
        columns={"lpep_pickup_datetime": pickup, "lpep_dropoff_datetime": dropoff}
    )
    assert add_duration(df)["duration"].notna().all()


def test_add_duration_missing_columns_is_a_kit_error():
    with pytest.raises(MissingColumnsError, match="pickup"):
        add_duration(pd.DataFrame({"x": [1]}))


def test_filter_outliers_bounds_are_inclusive():
    df = pd.DataFrame({"duration": [0.99, 1.0, 30, 60.0, 60.01]})
    assert filter_outliers(df)["duration"].tolist() == [1.0, 30, 60.0]
    assert filter_outliers(df, 30, 30)["duration"].tolist() == [30]
    assert filter_outliers(df, min_duration=0, max_duration=100).shape[0] == 5


def test_filter_outliers_rejects_reversed_bounds():
    with pytest.raises(BadParameterError, match="Swap"):
        filter_outliers(pd.DataFrame({"duration": [1.0]}), 60, 1)
    with pytest.raises(MissingColumnsError, match="add_duration"):
        filter_outliers(pd.DataFrame({"x": [1.0]}))


# ------------------------------------------------------------------ prepare and PU_DO


def test_prepare_trips_matches_the_course_read_dataframe():
    df = trips(500)
    ours = prepare_trips(df, categorical=["PU_DO"], numerical=["trip_distance"])
    course = course_read_dataframe(df)
    assert len(ours) == len(course)
    np.testing.assert_array_equal(ours.index, course.index)
    np.testing.assert_array_equal(ours["duration"], course["duration"])
    for column in ("PULocationID", "DOLocationID", "PU_DO"):
        assert ours[column].astype(str).tolist() == course[column].tolist()
    plain = prepare_trips(df, categorical=["PU_DO"], as_category=False)
    assert plain["PU_DO"].tolist() == course["PU_DO"].tolist()
    assert plain["PU_DO"].dtype == "str"


def test_prepare_trips_keeps_the_input_and_its_attrs():
    df = trips(50)
    df.attrs["synthetic"] = True
    before = df.copy()
    out = prepare_trips(df)
    pd.testing.assert_frame_equal(df, before)
    assert out.attrs["synthetic"] is True


def test_missing_location_ids_become_minus_one_as_the_2022_homework():
    df = trips(6).rename(columns={"PULocationID": "PUlocationID", "DOLocationID": "DOlocationID"})
    df["PUlocationID"] = [np.nan, 5.0, 7.0, np.nan, 5.0, 9.0]
    out = prepare_features(df, categorical=["PUlocationID", "DOlocationID"])
    assert out["PUlocationID"].astype(str).tolist() == ["-1", "5", "7", "-1", "5", "9"]


def test_add_pu_do_from_strings_and_ints_agree():
    df = trips(100)
    from_ints = add_pu_do(df)["PU_DO"].astype(str)
    strings = df.assign(
        PULocationID=df.PULocationID.astype(str), DOLocationID=df.DOLocationID.astype(str)
    )
    from_strings = add_pu_do(strings)["PU_DO"].astype(str)
    expected = df.PULocationID.astype(str) + "_" + df.DOLocationID.astype(str)
    assert from_ints.tolist() == expected.tolist() == from_strings.tolist()


def test_prepare_trips_missing_feature_column():
    with pytest.raises(MissingColumnsError, match="fare_amount"):
        prepare_trips(trips(10), numerical=["fare_amount"])


# ------------------------------------------------------------------ the vectoriser


@pytest.mark.parametrize(
    "categorical,numerical",
    [
        (["PULocationID", "DOLocationID"], ["trip_distance"]),
        (["PU_DO"], ["trip_distance"]),
        (["PULocationID", "DOLocationID"], []),
        (["PU_DO", "PULocationID"], ["trip_distance", "duration"]),
    ],
)
def test_trip_vectorizer_equals_dict_vectorizer(categorical, numerical):
    train = prepare_trips(trips(400, seed=1), categorical=categorical, numerical=numerical)
    # validation: other seed and more zones, so it has categories unseen in training
    val = prepare_trips(trips(300, seed=2, zones=40), categorical=categorical, numerical=numerical)
    columns = categorical + numerical
    dv, X_dv, V_dv = dv_matrix(
        prepare_trips(trips(400, seed=1), categorical=categorical, as_category=False),
        prepare_trips(trips(300, seed=2, zones=40), categorical=categorical, as_category=False),
        columns,
    )
    tv = TripVectorizer(categorical, numerical)
    X = tv.fit_transform(train)
    V = tv.transform(val)
    assert list(tv.get_feature_names_out()) == list(dv.get_feature_names_out())
    assert tv.feature_names_ == dv.feature_names_
    assert tv.vocabulary_ == dv.vocabulary_
    assert_same_sparse(X, X_dv)
    assert_same_sparse(V, V_dv)
    assert_same_sparse(tv.transform(train), X)
    assert X.indices.dtype == np.int32 and X.indptr.dtype == np.int32


def test_unseen_categories_give_zero_columns():
    train = pd.DataFrame({"PU_DO": ["1_2", "3_4"], "trip_distance": [1.0, 0.0]})
    val = pd.DataFrame({"PU_DO": ["9_9", "1_2"], "trip_distance": [2.0, 3.0]})
    tv = TripVectorizer(["PU_DO"], ["trip_distance"]).fit(train)
    dense = tv.transform(val).toarray()
    np.testing.assert_array_equal(dense, [[0, 0, 2.0], [1, 0, 3.0]])


def test_explicit_zeros_are_kept_like_dict_vectorizer():
    df = pd.DataFrame({"PULocationID": ["1", "2"], "trip_distance": [0.0, 1.5]})
    X = TripVectorizer(["PULocationID"], ["trip_distance"]).fit_transform(df)
    X_dv = DictVectorizer().fit_transform(df.to_dict(orient="records"))
    assert X.nnz == X_dv.nnz == 4


def test_categories_from_ints_strings_and_categorical_agree():
    ints = pd.DataFrame({"PULocationID": [10, 2, 100, 2]})
    strs = ints.astype(str)
    cats = strs.astype("category")
    names = [TripVectorizer(["PULocationID"], []).fit(d).feature_names_ for d in (ints, strs, cats)]
    assert (
        names[0]
        == names[1]
        == names[2]
        == [
            "PULocationID=10",
            "PULocationID=100",
            "PULocationID=2",
        ]
    )


def test_unused_categories_of_a_categorical_are_not_features():
    column = pd.Categorical(["a", "b"], categories=["a", "b", "zzz"])
    tv = TripVectorizer(["c"], []).fit(pd.DataFrame({"c": column}))
    assert tv.feature_names_ == ["c=a", "c=b"]


def test_vectorizer_is_picklable_and_sklearn_compatible():
    from sklearn.base import clone

    df = prepare_trips(trips(100), categorical=["PU_DO"])
    tv = TripVectorizer(["PU_DO"], ["trip_distance"]).fit(df)
    again = pickle.loads(pickle.dumps(tv))
    assert (again.transform(df) != tv.transform(df)).nnz == 0
    assert clone(tv).get_params() == {"categorical": ["PU_DO"], "numerical": ["trip_distance"]}


def test_vectorizer_errors_are_kit_errors():
    df = pd.DataFrame({"PU_DO": ["1_2", None], "trip_distance": [1.0, 2.0]})
    with pytest.raises(BadParameterError, match="missing values"):
        TripVectorizer(["PU_DO"], ["trip_distance"]).fit(df)
    with pytest.raises(MissingColumnsError):
        TripVectorizer(["nope"], []).fit(df)
    with pytest.raises(BadParameterError, match="numerical"):
        TripVectorizer([], ["PU_DO"]).fit(df.fillna("x"))
    with pytest.raises(KitError):
        TripVectorizer([], []).fit(df)
    with pytest.raises(BadParameterError, match="DataFrame"):
        TripVectorizer().fit([{"a": 1}])


def test_synthetic_month_matches_dict_vectorizer():
    from mlops_kit.tlc.data import read_trips

    raw = read_trips("green:2021-01", source="synthetic", rows=5000, seed=3)
    raw_val = read_trips("green:2021-02", source="synthetic", rows=5000, seed=3)
    cols = ["PU_DO", "trip_distance"]
    train = prepare_trips(raw, categorical=["PU_DO"])
    val = prepare_trips(raw_val, categorical=["PU_DO"])
    dv, X_dv, V_dv = dv_matrix(train, val, cols)
    tv = TripVectorizer(["PU_DO"], ["trip_distance"])
    assert_same_sparse(tv.fit_transform(train), X_dv)
    assert_same_sparse(tv.transform(val), V_dv)
    assert tv.feature_names_ == dv.feature_names_


def test_add_duration_parses_strings_and_time_zones():
    text = pd.DataFrame(
        {
            "pickup_datetime": ["2021-01-01 00:00:00", None],
            "dropOff_datetime": ["2021-01-01 00:10:30", "2021-01-01 00:00:00"],
        }
    )
    assert add_duration(text)["duration"].iloc[0] == 10.5
    assert np.isnan(add_duration(text)["duration"].iloc[1])
    # across the DST change in New York: 01:50 -> 03:10 local is 20 minutes
    aware = pd.DataFrame(
        {
            "pickup_datetime": pd.to_datetime(["2021-03-14 01:50:00"]).tz_localize(
                "America/New_York"
            ),
            "dropOff_datetime": pd.to_datetime(["2021-03-14 03:10:00"]).tz_localize(
                "America/New_York"
            ),
        }
    )
    assert add_duration(aware)["duration"].iloc[0] == 20.0


# ------------------------------------------------------------ a month read in batches


def frame_batches(df: pd.DataFrame, batch_rows: int = 64):
    """The TripBatches of a DataFrame: what read_trip_batches gives for the same file."""
    import pyarrow as pa

    from mlops_kit.tlc.data import TripBatches

    table = pa.Table.from_pandas(df, preserve_index=False)
    return TripBatches(table.schema, table.num_rows, {}, iter(table.to_batches(batch_rows)))


def file_batches(path, columns, batch_rows=1000):
    from mlops_kit.tlc.data import read_trip_batches

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
    from mlops_kit.model.features import (
        find_datetime_columns,
        find_location_columns,
        prepare_batches,
    )
    from mlops_kit.tlc.data import read_trips
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
    from mlops_kit.model.features import prepare_batches

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
    from mlops_kit.model.features import prepare_batches

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


def test_vectorizer_from_arrays_equals_the_frame_path():
    from mlops_kit.model.features import prepare_batches

    categorical, numerical = ["PU_DO", "PULocationID"], ["trip_distance"]
    train_raw, val_raw = trips(800, seed=1), trips(500, seed=2, zones=45)
    features = dict(categorical=categorical, numerical=numerical)
    month = prepare_batches(frame_batches(train_raw), **features)
    val_month = prepare_batches(frame_batches(val_raw), **features)
    train, val = prepare_trips(train_raw, **features), prepare_trips(val_raw, **features)
    by_frame, by_arrays = TripVectorizer(**features), TripVectorizer(**features)
    assert_same_sparse(by_arrays.fit_transform_arrays(month), by_frame.fit_transform(train))
    assert by_arrays.feature_names_ == by_frame.feature_names_
    for column in categorical:
        np.testing.assert_array_equal(by_arrays.categories_[column], by_frame.categories_[column])
    V = by_arrays.transform_arrays(val_month)
    assert_same_sparse(V, by_frame.transform(val))
    assert V.has_sorted_indices and (np.diff(V.indptr) < 3).any()  # unseen routes left out
    with pytest.raises(MissingColumnsError, match="column.s. fare the vectoriser"):
        TripVectorizer(categorical, ["trip_distance", "fare"]).fit_transform_arrays(month)


@pytest.mark.parametrize(
    "categorical,numerical",
    [
        (["PU_DO"], ["trip_distance"]),
        (["PULocationID", "DOLocationID"], []),
        (["PULocationID", "one"], ["trip_distance", "duration"]),
    ],
)
def test_slots_are_what_the_solver_reads_from_the_matrix(categorical, numerical):
    from mlops_kit.model.training import _regular_slots

    raw = trips(700, seed=8).assign(one="solo")  # a category column with one category
    df = prepare_trips(raw, categorical=categorical)
    tv = TripVectorizer(categorical, numerical)
    seen = tv._fit(df)
    numbers = {c: tv._numbers(df, c) for c in numerical}
    X = tv._assemble(len(df), seen, numbers)
    blocks, numeric = tv._slots(len(df), seen, numbers)
    expected_blocks, expected_numeric = _regular_slots(X)
    assert len(blocks) == len(expected_blocks) and len(numeric) == len(expected_numeric)
    for got, expected in zip(blocks, expected_blocks, strict=True):
        assert got.dtype == expected.dtype
        np.testing.assert_array_equal(got, expected)
    for (column, values), (expected_column, expected_values) in zip(
        numeric, expected_numeric, strict=True
    ):
        assert column == expected_column
        np.testing.assert_array_equal(values, expected_values)
