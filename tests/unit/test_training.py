"""mlops_kit.model.training: the exact solver against lstsq/lsqr/lsmr, models, metrics, bundles."""

from __future__ import annotations

import json
import pickle
import time

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from scipy.sparse.linalg import LinearOperator, lsmr, lsqr

import mlops_kit.model.training as training
from mlops_kit.errors import BadParameterError, ModelBundleError
from mlops_kit.model.features import TripVectorizer, prepare_trips
from mlops_kit.model.training import (
    ExactLinearRegression,
    load_bundle,
    make_model,
    mean_baseline,
    predict,
    rmse,
    save_bundle,
    sidecar_path,
    train_and_evaluate,
)


def one_hot_problem(n=300, pu=12, do=9, numerical=1, seed=0, clusters=False):
    """Rows with a PU and a DO category and numerical columns, as TripVectorizer builds them."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {"PU": rng.integers(0, pu, n).astype(str), "DO": rng.integers(0, do, n).astype(str)}
    )
    if clusters:  # two groups of zones that never meet: extra rank deficiency
        upper = rng.random(n) < 0.5
        frame.loc[upper, "PU"] = "u" + frame.loc[upper, "PU"]
        frame.loc[upper, "DO"] = "u" + frame.loc[upper, "DO"]
    names = []
    for j in range(numerical):
        name = f"x{j}"
        frame[name] = rng.normal(3 + j, 2, n)
        names.append(name)
    y = (
        rng.normal(15, 5, n)
        + frame["PU"].str.len() * 2
        + (frame[names].sum(axis=1) if names else 0)
    )
    tv = TripVectorizer(["PU", "DO"], names)
    return tv.fit_transform(frame), np.asarray(y, dtype=float), tv, frame


def min_norm_lstsq(X, y, fit_intercept=True):
    """The reference: SVD least squares on the (centred) dense matrix."""
    X = X.toarray() if sp.issparse(X) else np.asarray(X)
    if not fit_intercept:
        return np.linalg.lstsq(X, y, rcond=None)[0], 0.0
    m, ym = X.mean(axis=0), y.mean()
    w = np.linalg.lstsq(X - m, y - ym, rcond=None)[0]
    return w, ym - m @ w


def converged(solver, X, y):
    """lsqr/lsmr on the centred operator, run to convergence, as sklearn would if it could."""
    X = sp.csr_matrix(X)
    m = np.asarray(X.mean(axis=0)).ravel()
    op = LinearOperator(
        X.shape,
        matvec=lambda v: X @ v - m @ v,
        rmatvec=lambda v: X.T @ v - m * v.sum(),
        dtype=float,
    )
    w = solver(op, y - y.mean(), atol=1e-14, btol=1e-14, maxiter=100_000)[0]
    return w, y.mean() - m @ w


def _lsqr(op, b, atol, btol, maxiter):
    return lsqr(op, b, atol=atol, btol=btol, iter_lim=maxiter)


def _lsmr(op, b, atol, btol, maxiter):
    return lsmr(op, b, atol=atol, btol=btol, maxiter=maxiter)


# ------------------------------------------------------------------ exactness


@pytest.mark.parametrize("numerical", [0, 1, 2])
@pytest.mark.parametrize("clusters", [False, True])
def test_block_solver_is_the_min_norm_lstsq_solution(numerical, clusters):
    X, y, _, _ = one_hot_problem(numerical=numerical, clusters=clusters, seed=numerical)
    model = ExactLinearRegression().fit(X, y)
    assert model.solver_ == "blocks"
    w, b = min_norm_lstsq(X, y)
    np.testing.assert_allclose(model.coef_, w, atol=1e-9, rtol=0)
    assert model.intercept_ == pytest.approx(b, abs=1e-9)


def test_min_norm_matters_for_rows_with_unseen_categories():
    """Another least-squares solution fits training equally but predicts unseen rows apart."""
    X, y, tv, frame = one_hot_problem(numerical=1)
    model = ExactLinearRegression().fit(X, y)
    shifted = model.coef_.copy()
    pu_columns = [i for i, n in enumerate(tv.feature_names_) if n.startswith("PU=")]
    shifted[pu_columns] += 5.0  # +5 on every PU category ...
    intercept = model.intercept_ - 5.0  # ... -5 on the intercept: same training fit
    np.testing.assert_allclose(X @ shifted + intercept, model.predict(X), atol=1e-9)
    unseen = tv.transform(frame.head(3).assign(PU="never-seen"))
    assert not np.allclose(unseen @ shifted + intercept, model.predict(unseen))
    w, b = min_norm_lstsq(X, y)
    np.testing.assert_allclose(model.predict(unseen), unseen @ w + b, atol=1e-9)


@pytest.mark.parametrize("solver", [_lsqr, _lsmr], ids=["lsqr", "lsmr"])
def test_exact_solution_equals_converged_iterative_solvers(solver):
    X, y, _, _ = one_hot_problem(n=3000, pu=60, do=50, numerical=1, seed=4)
    model = ExactLinearRegression().fit(X, y)
    w, b = converged(solver, X, y)
    np.testing.assert_allclose(model.coef_, w, atol=1e-6, rtol=0)
    assert model.intercept_ == pytest.approx(b, abs=1e-6)
    assert rmse(y, model.predict(X)) == pytest.approx(rmse(y, X @ w + b), abs=1e-9)


def test_pu_do_single_block_with_many_columns():
    rng = np.random.default_rng(7)
    n = 1000
    frame = pd.DataFrame(
        {
            "PULocationID": rng.integers(1, 25, n),
            "DOLocationID": rng.integers(1, 25, n),
            "trip_distance": rng.exponential(3, n),
        }
    )
    frame["duration"] = 5 + 3 * frame.trip_distance + rng.normal(0, 4, n)
    from mlops_kit.model.features import add_pu_do

    frame = add_pu_do(frame)
    X = TripVectorizer(["PU_DO"], ["trip_distance"]).fit_transform(frame)
    y = frame.duration.to_numpy()
    model = ExactLinearRegression().fit(X, y)
    assert model.solver_ == "blocks" and X.shape[1] > 400
    w, b = min_norm_lstsq(X, y)
    np.testing.assert_allclose(model.coef_, w, atol=1e-9, rtol=0)
    assert model.intercept_ == pytest.approx(b, abs=1e-9)


def test_without_intercept():
    X, y, _, _ = one_hot_problem(numerical=1, seed=3)
    model = ExactLinearRegression(fit_intercept=False).fit(X, y)
    w, _ = min_norm_lstsq(X, y, fit_intercept=False)
    np.testing.assert_allclose(model.coef_, w, atol=1e-9, rtol=0)
    assert model.intercept_ == 0.0


def test_columns_never_seen_get_zero_coefficients():
    X, y, _, _ = one_hot_problem(numerical=1, seed=5)
    wider = sp.hstack([X, sp.csr_matrix((X.shape[0], 2))]).tocsr()
    model = ExactLinearRegression().fit(wider, y)
    np.testing.assert_array_equal(model.coef_[-2:], 0.0)
    w, b = min_norm_lstsq(wider, y)
    np.testing.assert_allclose(model.coef_, w, atol=1e-9, rtol=0)


@pytest.mark.parametrize("path", ["lstsq", "gram", "lsqr"])
def test_other_structures_use_exact_fallbacks(path, monkeypatch):
    rng = np.random.default_rng(11)
    dense = rng.normal(size=(200, 8))
    dense[:, 3] = dense[:, 1] + dense[:, 2]  # rank-deficient
    dense[rng.random((200, 8)) < 0.3] = 0.0
    y = dense @ rng.normal(size=8) + rng.normal(size=200)
    X = sp.csr_matrix(dense)
    if path != "lstsq":
        monkeypatch.setattr(training, "DENSE_CELLS", 0)
    if path == "lsqr":
        monkeypatch.setattr(training, "GRAM_LIMIT", 0)
    model = ExactLinearRegression().fit(X, y)
    assert model.solver_ == path
    w, b = min_norm_lstsq(X, y)
    np.testing.assert_allclose(model.coef_, w, atol=1e-7, rtol=0)
    assert model.intercept_ == pytest.approx(b, abs=1e-7)


def test_dense_input_and_sklearn_api():
    from sklearn.base import clone

    rng = np.random.default_rng(2)
    X = rng.normal(size=(50, 3))
    y = X @ [1.0, 2.0, 3.0] + 4.0
    model = ExactLinearRegression().fit(X, y)
    np.testing.assert_allclose(model.coef_, [1, 2, 3], atol=1e-10)
    assert model.intercept_ == pytest.approx(4.0)
    assert model.score(X, y) == pytest.approx(1.0)
    assert clone(model).get_params() == {"fit_intercept": True, "rtol": 1e-10}
    again = pickle.loads(pickle.dumps(model))
    np.testing.assert_array_equal(again.predict(X), model.predict(X))
    with pytest.raises(BadParameterError, match="rows"):
        ExactLinearRegression().fit(X, y[:-1])


# ------------------------------------------------------------------ models and metrics


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


# ------------------------------------------------------------------ train and evaluate


def synthetic_pair(rows=4000, seed=5):
    from mlops_kit.tlc.data import read_trips

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
    from mlops_kit.tlc.data import read_trips
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


def test_fit_slots_is_fit_on_the_matrix():
    X, y = one_hot_problem(n=500, numerical=2, seed=3)[:2]
    whole = ExactLinearRegression().fit(X, y)
    slots = training._regular_slots(sp.csr_matrix(X))
    from_slots = ExactLinearRegression()
    assert from_slots.fit_slots(*slots, y, X.shape[1])
    np.testing.assert_array_equal(from_slots.coef_, whole.coef_)
    assert from_slots.intercept_ == whole.intercept_ and from_slots.n_features_in_ == X.shape[1]
    assert not ExactLinearRegression().fit_slots([], [], y, X.shape[1])  # no one-hot block


def test_rows_of_length():
    assert training._rows_of_length(np.arange(0, 31, 3), 3, chunk=4)
    assert not training._rows_of_length(np.array([0, 3, 6, 8, 12]), 3, chunk=2)
    assert not training._rows_of_length(np.array([1, 4]), 3)


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


# ------------------------------------------------------------------ the bundle


@pytest.fixture
def trained():
    train, val = synthetic_pair(rows=2000)
    return train_and_evaluate(train, val)


def test_bundle_round_trip_and_course_pickle(tmp_path, trained):
    path = tmp_path / "models" / "lin_reg.bin"
    sidecar = save_bundle(path, trained.vectorizer, trained.model, trained.metadata())
    with open(path, "rb") as f_in:  # the course's loading code
        dv, model = pickle.load(f_in)
    assert dv.feature_names_ == trained.vectorizer.feature_names_
    on_disk = json.loads(sidecar_path(path).read_text())
    assert on_disk == sidecar
    assert on_disk["metrics"]["val_rmse"] == pytest.approx(trained.metrics["val_rmse"])
    assert on_disk["parameters"]["categorical"] == ["PU_DO"]
    assert set(on_disk["datasets"]) == {"train", "val"}
    assert "scikit-learn" in on_disk["libraries"]
    assert len(on_disk["bin"]["sha256"]) == 64
    bundle = load_bundle(path)
    vectorizer, model, metadata = bundle
    assert metadata["n_features"] == trained.metrics["n_features"]
    np.testing.assert_array_equal(model.coef_, trained.model.coef_)
    assert not list(path.parent.glob("*.tmp"))


def test_load_bundle_explains_a_replaced_bin(tmp_path, trained):
    path = tmp_path / "lin_reg.bin"
    save_bundle(path, trained.vectorizer, trained.model, trained.metadata())
    path.write_bytes(pickle.dumps((trained.vectorizer, make_model("lasso"))))
    with pytest.raises(ModelBundleError, match="does not match its sidecar") as info:
        load_bundle(path)
    assert "mlops-kit train --out" in str(info.value)
    vectorizer, model, metadata = load_bundle(path, check=False)
    assert metadata == {}


def test_load_bundle_errors(tmp_path, trained):
    with pytest.raises(ModelBundleError, match="No model bundle"):
        load_bundle(tmp_path / "missing.bin")
    bare = tmp_path / "bare.bin"
    bare.write_bytes(pickle.dumps((1, 2)))
    with pytest.raises(ModelBundleError, match="no sidecar"):
        load_bundle(bare)
    junk = tmp_path / "junk.bin"
    junk.write_bytes(b"not a pickle")
    with pytest.raises(ModelBundleError, match="Cannot unpickle"):
        load_bundle(junk, check=False)
    path = tmp_path / "old.bin"
    save_bundle(path, trained.vectorizer, trained.model)
    side = json.loads(sidecar_path(path).read_text())
    side["libraries"]["scikit-learn"] = "0.24.2"
    sidecar_path(path).write_text(json.dumps(side))
    with pytest.raises(ModelBundleError, match="scikit-learn 0.24.2"):
        load_bundle(path)


def test_numerical_column_collinear_with_a_block():
    """A numerical column that is a function of a category adds a null direction."""
    X, y, tv, frame = one_hot_problem(numerical=1, seed=8)
    frame["zone_size"] = frame["DO"].astype(int) * 1.5 + 2  # determined by DO
    tv = TripVectorizer(["PU", "DO"], ["x0", "zone_size"])
    X = tv.fit_transform(frame)
    model = ExactLinearRegression().fit(X, y)
    assert model.solver_ == "blocks"
    w, b = min_norm_lstsq(X, y)
    np.testing.assert_allclose(model.coef_, w, atol=1e-8, rtol=0)
    assert model.intercept_ == pytest.approx(b, abs=1e-8)


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


def test_predict_sums_each_row_in_column_order():
    """ExactLinearRegression.predict on sparse input: the row sums, whatever the shape."""
    rng = np.random.default_rng(9)
    w = rng.normal(size=40)
    regular = sp.random(500, 40, density=0.1, random_state=1, format="csr")
    rows = [sp.csr_matrix(rng.normal(size=(1, 40)) * (rng.random((1, 40)) < p)) for p in (0, 0.05)]
    irregular = sp.vstack([regular, *rows]).tocsr()  # an empty row and a short one
    for X in (regular, irregular):
        np.testing.assert_allclose(training._row_sums(X, w), X @ w, rtol=1e-13, atol=1e-13)
    wide = sp.csr_matrix(np.ones((3, 40)))
    assert training._row_sums(wide, w) is None  # more than ROW_SUM_ENTRIES: SciPy sums
    model = ExactLinearRegression()
    model.coef_, model.intercept_ = w, 2.5
    np.testing.assert_allclose(model.predict(wide), wide @ w + 2.5)
    np.testing.assert_array_equal(model.predict(irregular.tocoo()), model.predict(irregular))


def test_dot_is_predict_of_the_matrix_to_the_last_bit():
    from mlops_kit.model.features import prepare_batches

    def batches(df):
        import pyarrow as pa

        from mlops_kit.tlc.data import TripBatches

        table = pa.Table.from_pandas(df, preserve_index=False)
        return TripBatches(table.schema, table.num_rows, {}, iter(table.to_batches(100)))

    from tests.unit.test_features import trips

    features = dict(categorical=["PU_DO", "PULocationID"], numerical=["trip_distance"])
    train = prepare_batches(batches(trips(900, seed=3)), **features)
    val = prepare_batches(batches(trips(700, seed=4, zones=45)), **features)  # unseen routes
    vectorizer = TripVectorizer(**features)
    model = ExactLinearRegression().fit(vectorizer.fit_transform_arrays(train), train.duration)
    codes, numbers = vectorizer._check_arrays(val)
    seen = {c: vectorizer._fitted_columns(c, *pair) for c, pair in codes.items()}
    X = vectorizer.transform_arrays(val)
    assert (np.diff(X.indptr) < 3).any()
    dot = vectorizer._dot(len(val), seen, numbers, model.coef_)
    np.testing.assert_array_equal(dot + model.intercept_, model.predict(X))
    # a numerical column named between the categories: rows' orders differ, no shortcut
    odd = pd.DataFrame({"c": ["x", "z", "x"], "c=y": [1.0, 2.0, 3.0]})
    tv = TripVectorizer(["c"], ["c=y"])
    seen = tv._fit(odd)
    assert tv._dot(3, seen, {"c=y": odd["c=y"].to_numpy()}, np.ones(3)) is None
