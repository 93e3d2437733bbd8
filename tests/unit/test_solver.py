"""mlops_kit.model.solver: the exact solver against lstsq/lsqr/lsmr, on every structure."""

from __future__ import annotations

import pickle

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from scipy.sparse.linalg import LinearOperator, lsmr, lsqr

import mlops_kit.model.solver as solver
from mlops_kit.errors import BadParameterError
from mlops_kit.model.features import add_pu_do
from mlops_kit.model.solver import ExactLinearRegression, matrix_slots
from mlops_kit.model.training import rmse
from mlops_kit.model.vectorizer import TripVectorizer


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


# ------------------------------------------------------------------- exactness


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


@pytest.mark.parametrize("path", ["lstsq", "gram", "lsqr"])
def test_other_structures_use_exact_fallbacks(path, monkeypatch):
    rng = np.random.default_rng(11)
    dense = rng.normal(size=(200, 8))
    dense[:, 3] = dense[:, 1] + dense[:, 2]  # rank-deficient
    dense[rng.random((200, 8)) < 0.3] = 0.0
    y = dense @ rng.normal(size=8) + rng.normal(size=200)
    X = sp.csr_matrix(dense)
    if path != "lstsq":
        monkeypatch.setattr(solver, "DENSE_CELLS", 0)
    if path == "lsqr":
        monkeypatch.setattr(solver, "GRAM_LIMIT", 0)
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


# --------------------------------------------- fit from slots, predict by rows


def test_fit_slots_is_fit_on_the_matrix():
    X, y = one_hot_problem(n=500, numerical=2, seed=3)[:2]
    whole = ExactLinearRegression().fit(X, y)
    slots = matrix_slots(sp.csr_matrix(X))
    from_slots = ExactLinearRegression()
    assert from_slots.fit_slots(*slots, y, X.shape[1])
    np.testing.assert_array_equal(from_slots.coef_, whole.coef_)
    assert from_slots.intercept_ == whole.intercept_ and from_slots.n_features_in_ == X.shape[1]
    assert not ExactLinearRegression().fit_slots([], [], y, X.shape[1])  # no one-hot block


def test_rows_of_length():
    assert solver._rows_of_length(np.arange(0, 31, 3), 3, chunk=4)
    assert not solver._rows_of_length(np.array([0, 3, 6, 8, 12]), 3, chunk=2)
    assert not solver._rows_of_length(np.array([1, 4]), 3)


def test_predict_sums_each_row_in_column_order():
    """ExactLinearRegression.predict on sparse input: the row sums, whatever the shape."""
    rng = np.random.default_rng(9)
    w = rng.normal(size=40)
    regular = sp.random(500, 40, density=0.1, random_state=1, format="csr")
    rows = [sp.csr_matrix(rng.normal(size=(1, 40)) * (rng.random((1, 40)) < p)) for p in (0, 0.05)]
    irregular = sp.vstack([regular, *rows]).tocsr()  # an empty row and a short one
    for X in (regular, irregular):
        np.testing.assert_allclose(solver._row_sums(X, w), X @ w, rtol=1e-13, atol=1e-13)
    wide = sp.csr_matrix(np.ones((3, 40)))
    assert solver._row_sums(wide, w) is None  # more than ROW_SUM_ENTRIES: SciPy sums
    model = ExactLinearRegression()
    model.coef_, model.intercept_ = w, 2.5
    np.testing.assert_allclose(model.predict(wide), wide @ w + 2.5)
    np.testing.assert_array_equal(model.predict(irregular.tocoo()), model.predict(irregular))


# ------------------------------------------------------------------ the input's width


@pytest.mark.parametrize("delta", [-1, 1])
@pytest.mark.parametrize("dense", [False, True])
def test_a_matrix_of_the_wrong_width_is_refused_in_scikit_learn_s_words(delta, dense):
    """529 columns gave a silently wrong RMSE and 531 a bare IndexError; now both say why."""
    from sklearn.linear_model import LinearRegression

    X, y, _, _ = one_hot_problem(numerical=1, seed=6)
    p = X.shape[1]
    wrong = sp.hstack([X, sp.csr_matrix((X.shape[0], 1))]).tocsr() if delta > 0 else X[:, :-1]
    wrong = wrong.toarray() if dense else wrong
    with pytest.raises(ValueError) as sklearn_says:
        LinearRegression().fit(X, y).predict(wrong)
    with pytest.raises(BadParameterError) as kit_says:
        ExactLinearRegression().fit(X, y).predict(wrong)
    expected = str(sklearn_says.value).replace("LinearRegression", "ExactLinearRegression")
    assert str(kit_says.value).startswith(expected)
    assert f"X has {p + delta} features" in expected and f"expecting {p} features" in expected
    assert "vectorizer.transform" in kit_says.value.fix


def test_a_one_dimensional_input_is_refused():
    X, y, _, _ = one_hot_problem(numerical=1, seed=6)
    with pytest.raises(BadParameterError, match="2D array"):
        ExactLinearRegression().fit(X, y).predict(np.ones(X.shape[1]))


def test_the_linear_regression_it_becomes_predicts_the_same():
    from sklearn.linear_model import LinearRegression

    X, y, _, _ = one_hot_problem(n=500, numerical=2, seed=2)
    for fit_intercept in (True, False):
        exact = ExactLinearRegression(fit_intercept=fit_intercept).fit(X, y)
        course = exact.to_linear_regression()
        assert type(course) is LinearRegression and course.fit_intercept is fit_intercept
        assert set(vars(course)) == set(vars(LinearRegression().fit(X, y)))
        np.testing.assert_allclose(course.predict(X), exact.predict(X), atol=1e-9, rtol=0)
        with pytest.raises(ValueError, match="expecting"):
            course.predict(X[:, 1:])
