"""mlops_kit.model.training: models by name, metrics, train_and_evaluate on frames and files."""

from __future__ import annotations

import time

import numpy as np
import pytest

import mlops_kit.model.training as training
from mlops_kit.errors import BadParameterError
from mlops_kit.model.features import prepare_trips
from mlops_kit.model.solver import ExactLinearRegression
from mlops_kit.model.training import (
    make_model,
    mean_baseline,
    predict,
    rmse,
    train_and_evaluate,
)
from mlops_kit.model.vectorizer import TripVectorizer

from .test_solver import one_hot_problem

# ---------------------------------------------------------- models and metrics


def test_make_model():
    from sklearn.linear_model import Lasso, Ridge

    assert isinstance(make_model("linear"), ExactLinearRegression)
    lasso = make_model("lasso")
    assert isinstance(lasso, Lasso) and lasso.alpha == 0.01
    assert isinstance(make_model("Ridge", 2.5), Ridge) and make_model("ridge", 2.5).alpha == 2.5
    with pytest.raises(BadParameterError, match="linear, lasso, ridge"):
        make_model("forest")
    with pytest.raises(BadParameterError, match="alpha"):
        make_model("lasso", -1)


def test_lasso_accepts_the_vectorizers_32_bit_indices():
    X, y, _, _ = one_hot_problem(numerical=1)
    assert X.indices.dtype == np.int32
    make_model("lasso").fit(X, y)  # scikit-learn 1.9 refuses int64 indices here


def test_rmse_and_mean_baseline():
    assert rmse([1, 2, 3], [1, 2, 3]) == 0.0
    assert rmse([0, 0], [3, 4]) == pytest.approx(np.sqrt(12.5))
    y = np.array([1.0, 2.0, 3.0, 6.0])
    assert mean_baseline(y) == pytest.approx(np.std(y))
    assert mean_baseline(y, [3.0, 3.0]) == 0.0
    with pytest.raises(BadParameterError):
        rmse([1, 2], [1])


def test_ridge_converges_to_the_closed_form_on_sparse_input():
    """Ridge on sparse one-hot input must reach (X'X + aI) w = X'y, not stop early."""
    import scipy.sparse as sp

    rng = np.random.default_rng(0)
    n, k = 4000, 300
    cats = rng.integers(0, k, n)
    X = sp.csr_matrix((np.ones(n), (np.arange(n), cats)), shape=(n, k))
    X = sp.hstack([X, sp.csr_matrix(rng.exponential(3, (n, 1)))]).tocsr()
    y = rng.normal(10, 5, n) + cats * 0.05 + 2 * X[:, -1].toarray().ravel()
    alpha = 1.0
    model = make_model("ridge", alpha).fit(X, y)
    Xd = X.toarray()
    mu, ym = Xd.mean(axis=0), y.mean()
    Xc = Xd - mu
    w = np.linalg.solve(Xc.T @ Xc + alpha * np.eye(Xd.shape[1]), Xc.T @ (y - ym))
    exact = Xc @ w + ym
    assert np.max(np.abs(model.predict(X) - exact)) < 1e-6


# ---------------------------------------------------------- train and evaluate


def synthetic_pair(rows=4000, seed=5):
    from mlops_kit.tlc import read_trips

    return (
        read_trips("green:2021-01", source="synthetic", rows=rows, seed=seed),
        read_trips("green:2021-02", source="synthetic", rows=rows, seed=seed),
    )


def test_train_and_evaluate_on_frames():
    train, val = synthetic_pair()
    result = train_and_evaluate(train, val)
    m = result.metrics
    for key in ("train_rows", "val_rows", "n_features", "train_rmse", "val_rmse", "model"):
        assert key in m
    assert m["synthetic"] is True and m["model"] == "linear" and m["seconds"] > 0
    prepared = prepare_trips(train, categorical=["PU_DO"])
    assert m["train_rows"] == len(prepared)
    assert m["n_features"] == len(prepared["PU_DO"].unique()) + 1
    # the reported RMSEs are the model's, recomputed by hand
    X = result.vectorizer.transform(prepared)
    assert m["train_rmse"] == pytest.approx(rmse(prepared.duration, result.model.predict(X)))
    assert m["train_rmse"] < m["baseline_rmse"]
    assert set(result.timings) == {"read", "prepare", "vectorize", "fit", "predict"}


def test_train_and_evaluate_by_dataset_id_reads_synthetic():
    result = train_and_evaluate(
        "green:2021-01",
        "green:2021-02",
        categorical=["PULocationID", "DOLocationID"],
        numerical=[],
        model="ridge",
        alpha=0.5,
        source="synthetic",
        rows=3000,
        seed=1,
        min_duration=2,
        max_duration=30,
    )
    m = result.metrics
    assert m["synthetic"] and m["model"] == "ridge" and m["alpha"] == 0.5
    assert result.datasets["train"]["id"] == "green:2021-01"
    assert "sha256" not in result.datasets["train"]  # hashed only for the sidecar
    assert len(result.metadata()["datasets"]["train"]["sha256"]) == 64
    assert result.y_train.min() >= 2 and result.y_train.max() <= 30
    assert result.parameters["min_duration"] == 2


@pytest.mark.parametrize(
    "categorical,numerical,model",
    [
        (["PU_DO"], ["trip_distance"], "linear"),
        (["PULocationID", "DOLocationID"], [], "linear"),
        (["PULocationID", "DOLocationID"], ["trip_distance"], "linear"),
        (["PU_DO"], ["trip_distance"], "lasso"),
    ],
)
def test_files_read_in_batches_give_what_frames_give(monkeypatch, categorical, numerical, model):
    """Files go through prepare_batches, the slots and row-chunked predictions; DataFrames
    through prepare_trips, the whole matrix and fit(X): the numbers must be the same."""
    from mlops_kit.tlc import read_trips
    from mlops_kit.tlc.synthetic import synthetic_trips

    monkeypatch.setattr(training, "PREDICT_ROWS", 999)  # several pieces per month
    paths = [synthetic_trips("yellow", month, 5000, 21) for month in ("2023-01", "2023-02")]
    kwargs = dict(categorical=categorical, numerical=numerical, model=model, source="real")
    by_file = train_and_evaluate(*paths, **kwargs)
    by_frame = train_and_evaluate(*(read_trips(p) for p in paths), **kwargs)
    assert by_file.vectorizer.feature_names_ == by_frame.vectorizer.feature_names_
    np.testing.assert_array_equal(by_file.model.coef_, by_frame.model.coef_)
    assert by_file.model.intercept_ == by_frame.model.intercept_
    for name in ("y_train", "y_train_pred", "y_val", "y_val_pred"):
        np.testing.assert_array_equal(getattr(by_file, name), getattr(by_frame, name))
    for key in ("train_rows", "val_rows", "n_features", "train_rmse", "val_rmse", "synthetic"):
        assert by_file.metrics[key] == by_frame.metrics[key], key
    if model == "linear":
        assert by_file.model.solver_ == by_frame.model.solver_ == "blocks"
    # and what a learner would write: the whole matrix, fit(X, y), predict(X)
    frames = [
        prepare_trips(read_trips(p), categorical=categorical, numerical=numerical) for p in paths
    ]
    vectorizer = TripVectorizer(categorical, numerical)
    X = vectorizer.fit_transform(frames[0])
    by_hand = make_model(model).fit(X, frames[0]["duration"].to_numpy())
    np.testing.assert_array_equal(by_hand.coef_, by_file.model.coef_)
    np.testing.assert_array_equal(by_hand.predict(X), by_file.y_train_pred)
    np.testing.assert_array_equal(
        by_hand.predict(vectorizer.transform(frames[1])), by_file.y_val_pred
    )
    assert by_file.datasets["train"]["path"] == str(paths[0])
    assert by_file.timings["read"] > 0 and by_file.timings["prepare"] > 0


def test_train_and_evaluate_with_impossible_bounds():
    train, val = synthetic_pair(rows=500)
    with pytest.raises(BadParameterError, match="No train trips"):
        train_and_evaluate(train, val, min_duration=5000, max_duration=6000)


def test_predict_from_raw_trips_keeps_rows():
    train, val = synthetic_pair(rows=2000)
    result = train_and_evaluate(train, val)
    raw = val.head(7)
    predicted = predict(result.vectorizer, result.model, raw)
    assert predicted.shape == (7,)
    expected = result.model.predict(
        result.vectorizer.transform(prepare_trips(raw, categorical=["PU_DO"], max_duration=1e9))
    )
    assert np.isfinite(predicted).all()
    if len(expected) == 7:
        np.testing.assert_allclose(predicted, expected)


def test_without_a_second_thread_the_months_are_read_one_after_the_other(monkeypatch):
    """A sandbox may refuse new threads: the same result, sequentially."""
    from concurrent.futures import ThreadPoolExecutor

    from mlops_kit.tlc.synthetic import synthetic_trips

    paths = [synthetic_trips("green", month, 3000, 4) for month in ("2021-01", "2021-02")]
    threaded = train_and_evaluate(*paths, source="real")

    def refuse(self, *args, **kwargs):
        raise RuntimeError("can't start new thread")

    monkeypatch.setattr(ThreadPoolExecutor, "submit", refuse)
    alone = train_and_evaluate(*paths, source="real")
    np.testing.assert_array_equal(alone.y_val_pred, threaded.y_val_pred)
    assert alone.metrics["val_rmse"] == threaded.metrics["val_rmse"]


def test_an_interrupted_training_does_not_read_the_validation_month_to_its_end(monkeypatch):
    """Ctrl-C while the training month is fitted: the validation reader stops at once.

    The validation month is served in 60 slow batches; fitting raises KeyboardInterrupt.
    Leaving train_and_evaluate waits for the reading thread, which must stop at its next
    batch instead of reading all 60.
    """
    import pyarrow.parquet as pq

    from mlops_kit.tlc.synthetic import synthetic_trips

    paths = [synthetic_trips("green", month, 6000, 4) for month in ("2021-01", "2021-02")]
    served = []

    class SlowBatches:
        def __init__(self, batches):
            self.schema, self.num_rows, self.attrs = batches.schema, batches.num_rows, {}
            self._table = pq.read_table(paths[1], columns=batches.schema.names)

        def __iter__(self):
            for batch in self._table.to_batches(max_chunksize=100):
                time.sleep(0.02)
                served.append(batch.num_rows)
                yield batch

    real_open = training.open_trips

    def open_slowly(trips, *args, **kwargs):
        batches, info = real_open(trips, *args, **kwargs)
        return (SlowBatches(batches), info) if trips == paths[1] else (batches, info)

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(training, "open_trips", open_slowly)
    monkeypatch.setattr(training, "_fit_month", interrupted)
    with pytest.raises(KeyboardInterrupt):
        train_and_evaluate(*paths, source="real")
    assert len(served) < 30, f"the reader went on for {len(served)} of 60 batches"
