"""mlops_kit.model.vectorizer: TripVectorizer == DictVectorizer, from frames and from arrays."""

from __future__ import annotations

import pickle

import numpy as np
import pandas as pd
import pytest
from sklearn.feature_extraction import DictVectorizer

from mlops_kit.errors import BadParameterError, KitError, MissingColumnsError
from mlops_kit.model.features import prepare_trips
from mlops_kit.model.solver import ExactLinearRegression, matrix_slots
from mlops_kit.model.streaming import PreparedTrips, prepare_batches
from mlops_kit.model.vectorizer import TripVectorizer

from .test_features import trips
from .test_streaming import frame_batches


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


# ------------------------------------------------------------- from DataFrames


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
    from mlops_kit.tlc import read_trips

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


# -------------------------------------------------------- from prepared arrays


def test_vectorizer_from_arrays_equals_the_frame_path():
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
    raw = trips(700, seed=8).assign(one="solo")  # a category column with one category
    df = prepare_trips(raw, categorical=categorical)
    tv = TripVectorizer(categorical, numerical)
    encoded = tv.fit_encode(PreparedTrips.from_frame(df, categorical, numerical))
    X = tv.matrix(encoded)
    assert_same_sparse(X, TripVectorizer(categorical, numerical).fit_transform(df))
    blocks, numeric = tv.slots(encoded)
    expected_blocks, expected_numeric = matrix_slots(X)
    assert len(blocks) == len(expected_blocks) and len(numeric) == len(expected_numeric)
    for got, expected in zip(blocks, expected_blocks, strict=True):
        assert got.dtype == expected.dtype
        np.testing.assert_array_equal(got, expected)
    for (column, values), (expected_column, expected_values) in zip(
        numeric, expected_numeric, strict=True
    ):
        assert column == expected_column
        np.testing.assert_array_equal(values, expected_values)


def test_dot_is_predict_of_the_matrix_to_the_last_bit():
    def batches(df):
        import pyarrow as pa

        from mlops_kit.tlc import TripBatches

        table = pa.Table.from_pandas(df, preserve_index=False)
        return TripBatches(table.schema, table.num_rows, {}, iter(table.to_batches(100)))

    features = dict(categorical=["PU_DO", "PULocationID"], numerical=["trip_distance"])
    train = prepare_batches(batches(trips(900, seed=3)), **features)
    val = prepare_batches(batches(trips(700, seed=4, zones=45)), **features)  # unseen routes
    vectorizer = TripVectorizer(**features)
    model = ExactLinearRegression().fit(vectorizer.fit_transform_arrays(train), train.duration)
    encoded = vectorizer.encode(val)
    X = vectorizer.matrix(encoded)
    assert_same_sparse(X, vectorizer.transform_arrays(val))
    assert (np.diff(X.indptr) < 3).any()
    dot = vectorizer.dot(encoded, model.coef_)
    np.testing.assert_array_equal(dot + model.intercept_, model.predict(X))
    # a numerical column named between the categories: rows' orders differ, no shortcut
    odd = pd.DataFrame({"c": ["x", "z", "x"], "c=y": [1.0, 2.0, 3.0], "duration": 1.0})
    tv = TripVectorizer(["c"], ["c=y"])
    encoded = tv.fit_encode(PreparedTrips.from_frame(odd, ["c"], ["c=y"]))
    assert tv.dot(encoded, np.ones(3)) is None


# ------------------------------------------------------------ what DictVectorizer takes


def fitted_pair():
    """A TripVectorizer and the course's DictVectorizer fitted on the same rides."""
    train = prepare_trips(trips(300, seed=5), categorical=["PU_DO"], as_category=False)
    columns = ["PU_DO", "trip_distance"]
    dv = DictVectorizer().fit(train[columns].to_dict(orient="records"))
    return TripVectorizer(["PU_DO"], ["trip_distance"]).fit(train), dv, train


def test_transform_takes_a_dict_or_dicts_and_gives_dict_vectorizer_s_matrix():
    tv, dv, train = fitted_pair()
    seen = str(train["PU_DO"].iloc[0])
    rides = [
        {"PU_DO": "43_151", "trip_distance": 1.2},  # the course's module-4 ride
        {"PU_DO": seen, "trip_distance": 0.0},  # an explicit zero is kept
        {"PU_DO": seen},  # no distance
        {"PU_DO": 43, "trip_distance": 2.0},  # a number: DictVectorizer's "PU_DO" feature
        {"trip_distance": 3.0, "fare": 9.5},  # a key never fitted
    ]
    for make in (lambda: rides[0], lambda: rides, lambda: tuple(rides), lambda: iter(rides)):
        got = tv.transform(make())
        assert_same_sparse(got, dv.transform(make()))
        assert got.indices.dtype == np.int32 and got.has_sorted_indices
    tv_dv = tv.to_dict_vectorizer()
    assert set(vars(tv_dv)) == set(vars(dv)) and tv_dv.get_params() == dv.get_params()
    assert tv_dv.feature_names_ == dv.feature_names_ and tv_dv.vocabulary_ == dv.vocabulary_


def test_fit_refuses_dicts_and_transform_other_things_with_the_equivalent_call():
    tv, _, train = fitted_pair()
    records = train[["PU_DO", "trip_distance"]].to_dict(orient="records")
    with pytest.raises(BadParameterError, match="not from dicts") as refused:
        TripVectorizer(["PU_DO"], ["trip_distance"]).fit(records)
    assert "pd.DataFrame(records)" in refused.value.fix
    assert "DictVectorizer().fit_transform(records)" in refused.value.fix
    with pytest.raises(BadParameterError, match="got ndarray") as refused:
        tv.transform(np.ones((2, 2)))
    assert "to_dict(orient='records')" in refused.value.fix
