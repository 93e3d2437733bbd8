"""Train and evaluate the ride-duration model; save and load the model bundle.

The course fits ``LinearRegression()`` on the one-hot matrix of ``DictVectorizer`` and
scores it with the RMSE. Two things changed under that code since it was recorded:

* scikit-learn fits *sparse* input with SciPy's iterative ``lsqr``, and SciPy 1.9 loosened
  lsqr's default tolerance (1e-8 -> 1e-6). It now stops early: train RMSE 9.84 instead
  of 9.78, validation 7.76 instead of 7.48. :class:`ExactLinearRegression` computes the
  solution lsqr converges to, exactly, and faster than lsqr's first iterations.
* scikit-learn 1.9's ``Lasso`` refuses sparse matrices with 64-bit indices, which is what
  ``DictVectorizer`` now returns; :class:`~mlops_kit.model.features.TripVectorizer` gives 32-bit.

Why "the solution lsqr converges to" needs care: one-hot columns of a category sum to a
column of ones, the same as the intercept, so many coefficient vectors fit the training
rows equally well. They agree on every training row but not on a validation row whose
category was never seen in training. The *minimum-norm* solution (of the centred problem)
is the one lsqr and ``numpy.linalg.lstsq`` return, so it is the one we reproduce.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import pickle
import platform
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
from sklearn.base import BaseEstimator, RegressorMixin

from ..errors import BadParameterError, ModelBundleError
from ..fileio import file_sha256
from .arrays import count, count_pairs, gather, pieces

log = logging.getLogger(__name__)

#: models :func:`make_model` knows, with the alpha each uses by default
MODELS = {"linear": None, "lasso": 0.01, "ridge": 1.0}
#: beyond this many columns outside the largest one-hot block, the dense Gram is too big
GRAM_LIMIT = 4000
#: dense problems up to this many cells are solved by SVD (numpy.linalg.lstsq)
DENSE_CELLS = 4_000_000


# ------------------------------------------------------------------ the exact solver


_CONTROLLER = None


def _blas_controller():
    """Return the BLAS thread controller, made once (it scans the loaded libraries: ~0.1 s)."""
    global _CONTROLLER
    if _CONTROLLER is None:
        from threadpoolctl import ThreadpoolController

        _CONTROLLER = ThreadpoolController()
    return _CONTROLLER


def _psd_solve(S: np.ndarray, b: np.ndarray, norms: np.ndarray, rtol: float):
    """Solve ``S x = b`` for a symmetric PSD ``S``; return ``(x, null_basis)``.

    Columns are scaled to unit diagonal first (so a count of 3 and a distance of 3000
    compare fairly), eigenvalues below ``rtol * max`` are treated as zero. ``x`` is *a*
    solution (the caller projects out the null space); ``null_basis`` spans the null space
    of ``S`` in the original (unscaled) coordinates. ``norms[j]`` is the squared norm of
    the column before elimination: a diagonal that cancelled down to ``1e-12 * norms`` is
    numerically zero.
    """
    r = S.shape[0]
    diag = np.diag(S).copy()
    active = diag > 1e-12 * np.maximum(norms, np.finfo(float).tiny)
    x = np.zeros(r)
    null_vectors = [np.eye(1, r, j).ravel() for j in np.flatnonzero(~active)]
    a = np.flatnonzero(active)
    if a.size:
        d = np.sqrt(diag[a])
        scaled = S[np.ix_(a, a)] / np.outer(d, d)
        if 64 < a.size <= 1000:  # BLAS threads only add contention here (10 ms -> 300 ms)
            with _blas_controller().limit(limits=1, user_api="blas"):
                eigenvalues, vectors = np.linalg.eigh(scaled)
        else:
            eigenvalues, vectors = np.linalg.eigh(scaled)
        keep = eigenvalues > rtol * eigenvalues.max()
        v = vectors[:, keep]
        x[a] = (v @ ((v.T @ (b[a] / d)) / eigenvalues[keep])) / d
        for column in vectors[:, ~keep].T:
            z = np.zeros(r)
            z[a] = column / d
            null_vectors.append(z)
    null_basis = np.column_stack(null_vectors) if null_vectors else np.zeros((r, 0))
    return x, null_basis


def _project_out(w: np.ndarray, Z: np.ndarray) -> np.ndarray:
    """Remove from ``w`` its component in the span of ``Z``'s columns."""
    if Z.shape[1] == 0:
        return w
    q, _ = np.linalg.qr(Z)
    return w - q @ (q.T @ w)


def _rows_of_length(indptr: np.ndarray, k: int, chunk: int | None = None) -> bool:
    """True when every row has ``k`` entries (``indptr == 0, k, 2k, ...``), checked in pieces."""
    if indptr[0] != 0:
        return False
    return all(
        np.all(np.diff(indptr[rows.start : rows.stop + 1]) == k)
        for rows in pieces(indptr.size - 1, chunk)
    )


def _regular_slots(X):
    """Read a CSR matrix as "k entries per row": one-hot blocks and numerical columns.

    ``TripVectorizer`` (and ``DictVectorizer``) on complete training data give every row
    exactly one entry per categorical column plus one per numerical column, in the same
    order. Then the ``k`` columns of ``X.indices.reshape(n, k)`` *are* the category codes:
    no sparse algebra is needed. Returns ``(blocks, numeric)`` with ``blocks`` a list of
    per-row column indices (one-hot, value 1) and ``numeric`` a list of
    ``(column, values)``, or None when ``X`` has another structure.
    """
    n, p = X.shape
    if n == 0 or X.nnz % n:
        return None
    k = X.nnz // n
    if k == 0 or not _rows_of_length(X.indptr, k):
        return None
    indices = X.indices.reshape(n, k)
    data = X.data.reshape(n, k)
    blocks, numeric = [], []
    owner = np.full(p, -1)
    for t in range(k):
        cols = indices[:, t]
        lo, hi = cols.min(), cols.max()
        if lo == hi:
            if owner[lo] != -1:
                return None
            owner[lo] = t
            numeric.append((int(lo), data[:, t].astype(np.float64)))
            continue
        if not np.all(data[:, t] == 1):
            return None
        present = np.flatnonzero(np.bincount(cols, minlength=p))
        if (owner[present] != -1).any():
            return None
        owner[present] = t
        blocks.append(np.ascontiguousarray(cols))  # the matrix's index dtype, int32 mostly
    return blocks, numeric


def _solve_blocks(blocks, numeric, y, p, fit_intercept, rtol):
    """Exact min-norm least squares for one-hot blocks + a few numerical columns.

    Block elimination: the largest one-hot block ``C`` has a diagonal Gram matrix (its
    category counts), so it is eliminated by subtracting group means (the "within"
    transformation of fixed-effects regression). What remains is the Schur complement
    ``S`` for the other columns ``R``, small and dense. Solve it, back-substitute the
    block's coefficients as group means of the residual, then remove the null-space
    components (the all-ones direction of the block, plus any direction ``S`` is singular
    in) to get the minimum-norm solution of the centred problem.

    ``blocks`` is consumed (its arrays are dropped once coded) and per-row arrays are
    updated in place where the arithmetic allows: on a 3-million-row month each array
    is 24 MB, and every one alive at once raises the peak memory.
    """
    n = y.size
    presents = [np.flatnonzero(count(cols, p)) for cols in blocks]
    main = int(np.argmax([c.size for c in presents]))
    lookup = np.full(p, -1, dtype=np.int64)
    c_cols = presents[main]
    lookup[c_cols] = np.arange(c_cols.size)
    g = gather(lookup, blocks[main])
    blocks[main] = None
    q = c_cols.size
    counts = np.bincount(g, minlength=q).astype(np.float64)

    def group_mean(v):
        return np.bincount(g, weights=v, minlength=q) / counts

    others = []  # (global columns, local codes, counts)
    for i, cols in enumerate(blocks):
        if i == main:
            continue
        lookup_i = np.full(p, -1, dtype=np.int64)
        lookup_i[presents[i]] = np.arange(presents[i].size)
        codes = gather(lookup_i, cols)
        blocks[i] = None
        others.append((presents[i], codes, np.bincount(codes).astype(np.float64)))
    num_cols = np.array([c for c, _ in numeric], dtype=np.int64)
    if len(numeric) == 1:  # a view, not a copy
        N = numeric[0][1].reshape(n, 1)
    else:
        N = np.column_stack([v for _, v in numeric]) if numeric else np.zeros((n, 0))
    N_means = np.zeros((q, N.shape[1]))  # group means of the numerical columns
    N_within = np.empty_like(N)
    for j in range(N.shape[1]):
        N_means[:, j] = group_mean(N[:, j])
        for rows in pieces(n):  # N - its group means, without a whole-column temporary
            N_within[rows, j] = N[rows, j] - N_means[g[rows], j]
    y_within = group_mean(y)[g]
    np.subtract(y, y_within, out=y_within)

    sizes_r = [o[0].size for o in others] + [N.shape[1]]
    r = int(sum(sizes_r))
    if r > GRAM_LIMIT:
        return None
    offsets = np.concatenate([[0], np.cumsum(sizes_r)])
    S = np.zeros((r, r))
    rhs = np.zeros(r)
    norms = np.zeros(r)
    cross = []  # crosstab of the main block with each other block (q x q_i)
    for cols_i, codes_i, _ in others:
        qi = cols_i.size
        if q * qi <= 50_000_000:
            A = count_pairs(g, codes_i, q, qi).astype(float)
        else:  # pragma: no cover - two huge blocks: sparse crosstab
            import scipy.sparse as sp

            A = sp.csr_matrix((np.ones(n), (g, codes_i)), shape=(q, qi))
        cross.append(A)
    for i, (cols_i, codes_i, counts_i) in enumerate(others):
        si = slice(offsets[i], offsets[i + 1])
        Ai = cross[i]
        AiD = (Ai.T / counts) if isinstance(Ai, np.ndarray) else Ai.T.multiply(1 / counts)
        for j in range(i, len(others)):
            cols_j, codes_j, counts_j = others[j]
            sj = slice(offsets[j], offsets[j + 1])
            if i == j:
                block = np.diag(counts_i)
            else:
                qj = cols_j.size
                block = count_pairs(codes_i, codes_j, cols_i.size, qj)
            prod = AiD @ cross[j]
            prod = prod.toarray() if hasattr(prod, "toarray") else prod
            S[si, sj] = block - prod
            S[sj, si] = S[si, sj].T
        for t in range(N.shape[1]):
            col = offsets[-2] + t
            S[si, col] = np.bincount(codes_i, weights=N_within[:, t], minlength=cols_i.size)
            S[col, si] = S[si, col]
        rhs[si] = np.bincount(codes_i, weights=y_within, minlength=cols_i.size)
        norms[si] = counts_i
    if N.shape[1]:
        sn = slice(offsets[-2], offsets[-1])
        S[sn, sn] = N_within.T @ N_within
        rhs[sn] = N_within.T @ y_within
        norms[sn] = np.einsum("ij,ij->j", N, N)
    del N_within, y_within  # 48 MB on a 3-million-row month, not needed from here

    theta, null_r = _psd_solve(S, rhs, norms, rtol)

    def rows_of(v):  # R @ v, per row
        out = N @ v[offsets[-2] :] if N.shape[1] else None
        for i, (_, codes_i, _) in enumerate(others):
            part = v[offsets[i] : offsets[i + 1]][codes_i]
            if out is None:
                out = part
            else:
                out += part
        return np.zeros(n) if out is None else out

    r_cols = np.concatenate([o[0] for o in others] + [num_cols]).astype(np.int64)
    w = np.zeros(p)
    residual = rows_of(theta)
    np.subtract(y, residual, out=residual)
    w[c_cols] = group_mean(residual)
    del residual
    w[r_cols] = theta
    null_vectors = []
    if fit_intercept:
        z = np.zeros(p)
        z[c_cols] = 1.0
        null_vectors.append(z)
    if null_r.shape[1]:
        # the block part of each null vector: minus the group means of R @ u
        means_of_r = N_means @ null_r[offsets[-2] :]
        for i, A in enumerate(cross):
            means_of_r = means_of_r + (A @ null_r[offsets[i] : offsets[i + 1]]) / counts[:, None]
        Z_r = np.zeros((p, null_r.shape[1]))
        Z_r[c_cols] = -means_of_r
        Z_r[r_cols] = null_r
        null_vectors.extend(Z_r.T)
    Z = np.column_stack(null_vectors) if null_vectors else np.zeros((p, 0))
    w = _project_out(w, Z)
    if not fit_intercept:
        return w, 0.0
    means = np.zeros(p)
    means[c_cols] = counts / n
    for cols_i, _, counts_i in others:
        means[cols_i] = counts_i / n
    if numeric:
        means[num_cols] = N.mean(axis=0)
    return w, float(y.mean() - means @ w)


def _solve_gram(X, y, fit_intercept, rtol):
    """Exact min-norm least squares from the (centred) Gram matrix, for a few thousand columns."""
    import scipy.sparse as sp

    n = X.shape[0]
    y_mean = y.mean() if fit_intercept else 0.0
    if sp.issparse(X):
        gram = X.T @ X
        gram = gram.toarray() if sp.issparse(gram) else np.asarray(gram)
        norms = np.diag(gram).copy()
        xty = np.asarray(X.T @ y).ravel()
        means = np.asarray(X.mean(axis=0)).ravel() if fit_intercept else np.zeros(X.shape[1])
        gram = gram - n * np.outer(means, means)
        xty = xty - n * means * y_mean
    else:
        X = np.asarray(X, dtype=np.float64)
        norms = np.einsum("ij,ij->j", X, X)
        means = X.mean(axis=0) if fit_intercept else np.zeros(X.shape[1])
        Xc = X - means
        gram, xty = Xc.T @ Xc, Xc.T @ (y - y_mean)
    w, null = _psd_solve(gram, xty, norms, rtol)
    w = _project_out(w, null)
    return w, float(y_mean - means @ w) if fit_intercept else 0.0


def _solve_lstsq(X, y, fit_intercept):
    """Min-norm least squares by SVD (numpy.linalg.lstsq): small dense problems."""
    X = X.toarray() if hasattr(X, "toarray") else np.asarray(X, dtype=np.float64)
    if fit_intercept:
        means, y_mean = X.mean(axis=0), y.mean()
        w = np.linalg.lstsq(X - means, y - y_mean, rcond=None)[0]
        return w, float(y_mean - means @ w)
    return np.linalg.lstsq(X, y, rcond=None)[0], 0.0


def _solve_lsqr(X, y, fit_intercept):
    """Fallback for huge irregular problems: SciPy's lsqr run to convergence."""
    import scipy.sparse as sp
    from scipy.sparse.linalg import LinearOperator, lsqr

    X = sp.csr_matrix(X)
    n, p = X.shape
    means = np.asarray(X.mean(axis=0)).ravel() if fit_intercept else np.zeros(p)
    y_mean = y.mean() if fit_intercept else 0.0
    op = LinearOperator(
        (n, p),
        matvec=lambda v: X @ v - means @ v,
        rmatvec=lambda v: X.T @ v - means * v.sum(),
        dtype=np.float64,
    )
    w = lsqr(op, y - y_mean, atol=1e-14, btol=1e-14, iter_lim=50 * p)[0]
    return w, float(y_mean - means @ w)


#: rows with more entries than this are summed by SciPy (a column-order loop would be slow)
ROW_SUM_ENTRIES = 16


def _row_sums(X, w: np.ndarray) -> np.ndarray | None:
    """``X @ w`` for a CSR matrix with sorted rows: each row's terms added in column order.

    Starts from 0.0 and adds ``data * w[column]`` entry by entry, in pieces of rows; None
    when some row has more than :data:`ROW_SUM_ENTRIES` entries.
    """
    n = X.shape[0]
    lengths = np.diff(X.indptr)
    k = int(lengths.max()) if n else 0
    if k > ROW_SUM_ENTRIES:
        return None
    out = np.zeros(n)
    if X.nnz == k * n:  # k entries on every row
        data, indices = X.data.reshape(n, k), X.indices.reshape(n, k)
        for rows in pieces(n):
            part = out[rows]
            for t in range(k):
                part += data[rows, t] * w[indices[rows, t]]
        return out
    starts = X.indptr[:-1]
    for t in range(k):
        rows = np.flatnonzero(lengths > t)
        at = starts[rows] + t
        out[rows] += X.data[at] * w[X.indices[at]]
    return out


class ExactLinearRegression(RegressorMixin, BaseEstimator):
    """Ordinary least squares, solved exactly: the answer ``LinearRegression`` converges to.

    For the one-hot matrices of the course it exploits their structure: each row has one
    entry per categorical column, so the largest block is eliminated with group means
    (its Gram matrix is diagonal) and only a small dense system is left (one column for
    ``PU_DO + trip_distance``, about 260 for ``PU + DO``). A 3-million-row month fits in
    well under a second, and the result is the minimum-norm least-squares solution of the
    centred problem, i.e. what ``numpy.linalg.lstsq`` and a fully converged ``lsqr`` give.
    Other matrices use the centred Gram matrix (up to a few thousand columns), an SVD
    (small dense input) or, beyond that, ``lsqr`` run to convergence.

    Args:
        fit_intercept: fit an intercept (the course does).
        rtol: eigenvalues of the scaled Gram matrix below ``rtol * largest`` count as zero
            (exact rank deficiency of one-hot blocks shows up around 1e-15).

    Attributes:
        coef_: one coefficient per feature.
        intercept_: the intercept (0.0 without ``fit_intercept``).
        solver_: which method was used (``blocks``, ``gram``, ``lstsq``, ``lsqr``).
    """

    def __init__(self, fit_intercept: bool = True, rtol: float = 1e-10):
        self.fit_intercept = fit_intercept
        self.rtol = rtol

    def fit(self, X, y, sample_weight=None) -> ExactLinearRegression:
        """Fit the least-squares coefficients on ``X`` (sparse or dense) and target ``y``."""
        import scipy.sparse as sp

        if sample_weight is not None:
            raise BadParameterError(
                "ExactLinearRegression does not support sample weights.",
                "Fit without sample_weight, or use sklearn's LinearRegression.",
            )
        y = np.asarray(y, dtype=np.float64).ravel()
        n, p = X.shape
        if y.size != n or n == 0:
            raise BadParameterError(
                f"X has {n} rows but y has {y.size} values.",
                "Pass one target value per row of X (and at least one row).",
            )
        if sp.issparse(X):
            X = X.tocsr()
            if not X.has_sorted_indices:
                X = X.copy()
                X.sort_indices()
            slots = _regular_slots(X)
            if slots is not None and self.fit_slots(*slots, y, p):
                return self
        if n * p <= DENSE_CELLS:
            solution, self.solver_ = _solve_lstsq(X, y, self.fit_intercept), "lstsq"
        elif p <= GRAM_LIMIT:
            solution, self.solver_ = _solve_gram(X, y, self.fit_intercept, self.rtol), "gram"
        else:
            log.warning("ExactLinearRegression: %d columns, no block structure: lsqr", p)
            solution, self.solver_ = _solve_lsqr(X, y, self.fit_intercept), "lsqr"
        self.coef_, self.intercept_ = solution
        self.n_features_in_ = p
        return self

    def fit_slots(self, blocks, numeric, y, n_features: int) -> bool:
        """Fit from the matrix's slots, without the matrix; return False when it cannot.

        ``blocks`` are per-row column indices of the one-hot blocks and ``numeric`` the
        ``(column, values)`` of the other columns, in column order: what
        ``_regular_slots`` reads from a vectorised matrix, and what
        ``TripVectorizer._slots`` gives from the prepared columns before any
        matrix exists. ``fit(X, y)`` goes through here, so both give the same
        coefficients. ``blocks`` is consumed. False (nothing fitted) when there is no
        one-hot block or the dense remainder is too large; then call ``fit(X, y)``.
        """
        y = np.asarray(y, dtype=np.float64).ravel()
        if not blocks or y.size == 0:
            return False
        solution = _solve_blocks(blocks, numeric, y, n_features, self.fit_intercept, self.rtol)
        if solution is None:
            return False
        self.coef_, self.intercept_ = solution
        self.solver_ = "blocks"
        self.n_features_in_ = n_features
        return True

    def predict(self, X) -> np.ndarray:
        """Return ``X @ coef_ + intercept_``.

        For a sparse matrix with a few entries per row (what the vectorisers build), each
        row's terms are added in column order in numpy rather than in SciPy's compiled
        loop, whose rounding can differ by platform (fused multiply-add): so the
        predictions equal, to the last bit, those ``train_and_evaluate`` computes without
        building the matrix (``TripVectorizer._dot``).
        """
        import scipy.sparse as sp

        if not hasattr(self, "coef_"):
            from sklearn.exceptions import NotFittedError

            raise NotFittedError("This ExactLinearRegression is not fitted yet: call fit().")
        if sp.issparse(X):
            X = sp.csr_matrix(X)
            if not X.has_sorted_indices:
                X = X.sorted_indices()
            sums = _row_sums(X, self.coef_)
            if sums is not None:
                return sums + self.intercept_
        return np.asarray(X @ self.coef_).ravel() + self.intercept_

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        return tags


# ------------------------------------------------------------------ models and metrics


#: Ridge's solver tolerance: converged, not scikit-learn's early-stopping default (1e-4)
RIDGE_TOL = 1e-10


def make_model(name: str = "linear", alpha: float | None = None, *, seed: int = 42):
    """Return an unfitted regressor by name: ``linear``, ``lasso`` or ``ridge``.

    ``linear`` is :class:`ExactLinearRegression`; ``lasso`` and ``ridge`` are scikit-learn's,
    with ``alpha`` the strength of the penalty (defaults: 0.01 for Lasso, as in the course,
    1.0 for Ridge). Lasso's L1 penalty pushes most route coefficients to exactly zero;
    Ridge's L2 penalty shrinks them all a little.

    Ridge gets ``tol=1e-10``: on sparse input scikit-learn solves it with conjugate
    gradients whose default tolerance (1e-4) stops far from the answer (on green 2021-01
    with PU_DO: train RMSE 5.65 instead of the converged 5.20), and the stopping point then
    moves with the number of BLAS threads. Converged, it costs about 0.3 s there.

    Raises:
        BadParameterError: for an unknown name or a negative alpha.
    """
    key = str(name).lower()
    if key not in MODELS:
        raise BadParameterError(
            f"Unknown model {name!r}.",
            f"Use one of {', '.join(MODELS)} (e.g. --model lasso --alpha 0.01).",
        )
    if alpha is None:
        alpha = MODELS[key]
    elif key != "linear" and (not isinstance(alpha, (int, float)) or alpha < 0):
        raise BadParameterError(
            f"alpha must be a number >= 0, got {alpha!r}.",
            "Pass e.g. alpha=0.01 (larger means a stronger penalty).",
        )
    if key == "linear":
        return ExactLinearRegression()
    if key == "lasso":
        from sklearn.linear_model import Lasso

        return Lasso(alpha=float(alpha), random_state=seed)
    from sklearn.linear_model import Ridge

    return Ridge(alpha=float(alpha), tol=RIDGE_TOL, random_state=seed)


def rmse(y_true, y_pred) -> float:
    """Root mean squared error, in the target's unit (minutes).

    The course's metric: an error of 2 minutes counts 4 times as much as one of 1 minute, so
    a few badly predicted long rides show clearly. (``mean_squared_error(squared=False)`` is
    gone from scikit-learn 1.9; this is ``root_mean_squared_error``.)
    """
    y_true = np.asarray(y_true, dtype=np.float64).ravel()
    y_pred = np.asarray(y_pred, dtype=np.float64).ravel()
    if y_true.shape != y_pred.shape or y_true.size == 0:
        raise BadParameterError(
            f"rmse needs two non-empty sequences of the same length, got {y_true.size} and "
            f"{y_pred.size}.",
            "Pass the true durations and the predictions for the same rows.",
        )
    return float(np.sqrt(np.mean((y_true - y_pred) ** 2)))


def mean_baseline(y_train, y_eval=None) -> float:
    """RMSE of always predicting the training mean: the number any model must beat.

    Args:
        y_train: training durations (the mean is learned here).
        y_eval: durations to score on (default: the training durations, where the RMSE is
            simply their standard deviation).
    """
    y_train = np.asarray(y_train, dtype=np.float64).ravel()
    target = y_train if y_eval is None else np.asarray(y_eval, dtype=np.float64).ravel()
    return rmse(target, np.full(target.size, y_train.mean()))


# ------------------------------------------------------------------ train and evaluate


@dataclass
class TrainResult:
    """Everything :func:`train_and_evaluate` produced.

    Attributes:
        vectorizer: the fitted :class:`~mlops_kit.model.features.TripVectorizer`.
        model: the fitted regressor.
        metrics: ``train_rows``, ``val_rows``, ``n_features``, ``train_rmse``, ``val_rmse``,
            ``baseline_rmse`` (validation RMSE of the training mean), ``model``, ``alpha``,
            ``synthetic`` and ``seconds`` (reading to last RMSE).
        parameters: the arguments of the run (features, bounds, model, source, rows, seed).
        datasets: ``{"train": {...}, "val": {...}}`` with id, path, synthetic, sha256.
        y_train, y_train_pred, y_val, y_val_pred: durations and predictions (minutes).
        timings: seconds per stage (``read``, ``prepare``, ``vectorize``, ``fit``, ``predict``).
            The validation month is read and prepared on a second thread while the
            training month is fitted, so the stages can add up to more than ``seconds``.
    """

    vectorizer: Any
    model: Any
    metrics: dict[str, Any]
    parameters: dict[str, Any]
    datasets: dict[str, dict[str, Any]]
    y_train: np.ndarray = field(repr=False)
    y_train_pred: np.ndarray = field(repr=False)
    y_val: np.ndarray = field(repr=False)
    y_val_pred: np.ndarray = field(repr=False)
    timings: dict[str, float] = field(default_factory=dict, repr=False)

    def metadata(self) -> dict[str, Any]:
        """The sidecar content for :func:`save_bundle`: datasets, parameters, metrics.

        The datasets' sha256 are computed here (once), not while training: hashing two
        months costs more than fitting the model.
        """
        for info in self.datasets.values():
            path = info.get("path")
            if "sha256" not in info:
                info["sha256"] = file_sha256(path) if path and Path(path).is_file() else None
        return {"datasets": self.datasets, "parameters": self.parameters, "metrics": self.metrics}


def _needed_columns(source_columns: Sequence[str], categorical, numerical) -> list[str]:
    import pandas as pd

    from .features import PU_DO, find_datetime_columns, find_location_columns

    frame = pd.DataFrame(columns=list(source_columns))
    wanted = list(find_datetime_columns(frame))
    if PU_DO in categorical:
        wanted += list(find_location_columns(frame))
    wanted += [c for c in list(categorical) + list(numerical) if c != PU_DO]
    return list(dict.fromkeys(wanted))


def _info(attrs: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "id": attrs.get("dataset"),
        "path": attrs.get("path"),
        "synthetic": bool(attrs.get("synthetic", False)),
        "origin": attrs.get("origin"),
    }


def open_trips(trips, categorical, numerical, *, source: str = "auto", rows=None, seed: int = 42):
    """Return ``(trips, dataset info)``: a DataFrame as given, else the file opened in batches.

    ``trips`` is a dataset id, a parquet path or a DataFrame. A file is opened with
    :func:`mlops_kit.tlc.data.read_trip_batches` for only the columns the features need:
    parquet stores columns apart, so 5 of 19 columns of a 3-million-row month read in a
    fraction of a second.
    """
    import pandas as pd

    from ..tlc.data import _looks_like_path, parse_dataset, read_trip_batches, validate_parquet

    if isinstance(trips, pd.DataFrame):
        return trips, _info(trips.attrs)
    if _looks_like_path(trips):
        names = validate_parquet(Path(trips)).schema_arrow.names
        source_of = trips
    else:
        ds = parse_dataset(trips)
        names = [ds.pickup_column, ds.dropoff_column, *ds.location_columns]
        source_of = ds
    columns = _needed_columns(names, categorical, numerical)
    batches = read_trip_batches(source_of, columns, source=source, rows=rows, seed=seed)
    return batches, _info(batches.attrs)


class _Stopped(Exception):
    """The month's reading was abandoned: the caller is already on its way out."""


class _TimedBatches:
    """Batches that count the seconds spent reading them (the rest is preparing).

    ``stop``, when given and set, ends the reading at the next batch with :class:`_Stopped`:
    a Ctrl-C while the training month is fitted then does not wait for the validation month
    to be read to its end.
    """

    def __init__(self, batches, stop=None):
        self.schema, self.num_rows, self._batches = batches.schema, batches.num_rows, batches
        self.seconds = 0.0
        self._stop = stop

    def __iter__(self):
        iterator = iter(self._batches)
        while True:
            if self._stop is not None and self._stop.is_set():
                raise _Stopped
            start = time.perf_counter()
            try:
                batch = next(iterator)
            except StopIteration:
                self.seconds += time.perf_counter() - start
                return
            self.seconds += time.perf_counter() - start
            yield batch


def _prepare_month(opened, categorical, numerical, min_duration, max_duration, stop=None):
    """A month's PreparedTrips, and the seconds spent reading its batches (0 for a frame)."""
    import pandas as pd

    from .features import prepare_batches

    if isinstance(opened, pd.DataFrame):
        return _frame_as_arrays(opened, categorical, numerical, min_duration, max_duration), 0.0
    timed = _TimedBatches(opened, stop)
    del opened
    month = prepare_batches(
        timed,
        categorical=categorical,
        numerical=numerical,
        min_duration=min_duration,
        max_duration=max_duration,
    )
    _release_arrow_memory()  # what coding the categories took from Arrow (route names)
    return month, timed.seconds


def _frame_as_arrays(df, categorical, numerical, min_duration, max_duration):
    """The DataFrame path of :func:`train_and_evaluate`: prepare_trips, then its columns."""
    from .features import DURATION, PreparedTrips, TripVectorizer, codes_and_names, prepare_trips

    frame = prepare_trips(
        df,
        categorical=categorical,
        numerical=numerical,
        min_duration=min_duration,
        max_duration=max_duration,
    )
    vectorizer = TripVectorizer(categorical, numerical)
    vectorizer._check_frame(frame, categorical + numerical)
    numbers = {c: vectorizer._numbers(frame, c) for c in numerical}
    categories = {c: codes_and_names(frame[c]) for c in categorical}
    duration = frame[DURATION].to_numpy(dtype=np.float64)
    return PreparedTrips(duration, categories, numbers, len(df))


#: rows per matrix when predicting a month piece by piece
PREDICT_ROWS = 1 << 19


def _fit_month(vectorizer, estimator, month, lap) -> np.ndarray:
    """Fit the vectoriser and the model on the training month; return its predictions.

    The exact linear regression is fitted from the vectoriser's slots (the per-row
    columns) and predicts through ``TripVectorizer._dot``, so no matrix is built: its
    numbers are those of ``model.predict(X)`` on the matrix, to the last bit. Other
    models fit on the matrix; predictions of a month come from it :data:`PREDICT_ROWS`
    rows at a time (a row's prediction depends on that row only).
    """
    codes, numbers = vectorizer._check_arrays(month)
    seen = vectorizer._fit_codes(codes)
    del codes
    lap("vectorize")
    if isinstance(estimator, ExactLinearRegression) and estimator.fit_slots(
        *vectorizer._slots(len(month), seen, numbers),
        month.duration,
        len(vectorizer.feature_names_),
    ):
        lap("fit")
        return _predict_rows(vectorizer, estimator, len(month), seen, numbers)
    X = vectorizer._assemble(len(month), seen, numbers)
    lap("vectorize")
    estimator.fit(X, month.duration)
    lap("fit")
    return np.asarray(estimator.predict(X), dtype=np.float64)


def _predict_month(vectorizer, estimator, month) -> np.ndarray:
    """Predict a prepared month with a fitted vectoriser and model, in pieces of rows."""
    codes, numbers = vectorizer._check_arrays(month)
    seen = {c: vectorizer._fitted_columns(c, *pair) for c, pair in codes.items()}
    return _predict_rows(vectorizer, estimator, len(month), seen, numbers)


def _predict_rows(vectorizer, estimator, n, seen, numbers, rows=None) -> np.ndarray:
    if isinstance(estimator, ExactLinearRegression):  # no matrix at all: X @ coef_ directly
        products = vectorizer._dot(n, seen, numbers, estimator.coef_)
        if products is not None:
            return products + estimator.intercept_
    rows = rows or PREDICT_ROWS
    out = np.empty(n, dtype=np.float64)
    for first in range(0, n, rows):
        last = min(n, first + rows)
        part = {c: (codes[first:last], columns) for c, (codes, columns) in seen.items()}
        X = vectorizer._assemble(last - first, part, {c: v[first:last] for c, v in numbers.items()})
        out[first:last] = np.asarray(estimator.predict(X), dtype=np.float64).ravel()
    return out


def _release_arrow_memory() -> None:
    """Give back to the OS the memory Arrow's pool keeps after use (15 MB of peak here)."""
    try:
        import pyarrow as pa

        pa.default_memory_pool().release_unused()
    except (ImportError, AttributeError):  # pragma: no cover - old pyarrow
        pass


def train_and_evaluate(
    train,
    val,
    *,
    categorical: Sequence[str] = ("PU_DO",),
    numerical: Sequence[str] = ("trip_distance",),
    model: str = "linear",
    alpha: float | None = None,
    min_duration: float = 1,
    max_duration: float = 60,
    source: str = "auto",
    rows: int | None = None,
    seed: int = 42,
) -> TrainResult:
    """Train on one month, score on another: the course's whole notebook in one call.

    Finds both months, then reads and prepares the training month (only the needed
    columns, a record batch at a time: :func:`~mlops_kit.model.features.prepare_batches`),
    fits the vectoriser and the model on it and predicts it, while a second thread reads
    and prepares the validation month; the fitted vectoriser then transforms that (a
    category first seen in validation gets zeros, as in production). No month is held
    whole and no matrix is built whole for the exact linear model, which keeps the peak
    memory (and, on a virtual machine, the time spent getting fresh memory) low.
    DataFrames are prepared with :func:`~mlops_kit.model.features.prepare_trips`; both ways
    give the same numbers, to the last bit.

    Args:
        train: training trips: ``"green:2021-01"``, a parquet path or a DataFrame.
        val: validation trips, the same kinds.
        categorical: one-hot columns (``"PU_DO"`` is built from the location IDs).
        numerical: numerical columns.
        model: ``linear``, ``lasso`` or ``ridge``.
        alpha: penalty strength for lasso/ridge (default 0.01 / 1.0).
        min_duration: shortest ride kept (minutes, inclusive).
        max_duration: longest ride kept (minutes, inclusive).
        source: ``auto``, ``real`` or ``synthetic`` (see :func:`mlops_kit.tlc.data.read_trips`).
        rows: synthetic month size, or a seeded sample of a real month.
        seed: seed of synthetic data, sampling and the models.

    Raises:
        KitError: bad data (DataError), a missing column, an unknown model or bad bounds.
    """
    from .features import TripVectorizer, _bounds

    categorical = [categorical] if isinstance(categorical, str) else list(categorical)
    numerical = [numerical] if isinstance(numerical, str) else list(numerical)
    estimator = make_model(model, alpha, seed=seed)
    vectorizer = TripVectorizer(categorical, numerical)
    vectorizer._columns()  # bad feature lists fail before reading
    _bounds(min_duration, max_duration)  # and so do bad bounds
    timings = dict.fromkeys(("read", "prepare", "vectorize", "fit", "predict"), 0.0)
    start = clock = time.perf_counter()

    def lap(stage: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        timings[stage] += now - clock
        clock = now

    from concurrent.futures import ThreadPoolExecutor

    # find (or fetch, or synthesise) both months first, one after the other
    opened, datasets = {}, {}
    for name, trips in (("train", train), ("val", val)):
        opened[name], datasets[name] = open_trips(
            trips, categorical, numerical, source=source, rows=rows, seed=seed
        )
    lap("read")

    def prepare(name, stop=None):
        began = time.perf_counter()
        month, read_seconds = _prepare_month(
            opened.pop(name), categorical, numerical, min_duration, max_duration, stop
        )
        if not len(month):
            raise BadParameterError(
                f"No {name} trips are left after the {min_duration}-{max_duration} minute "
                f"filter ({month.raw_rows} before it).",
                "Check the data and the bounds (min_duration <= duration <= max_duration).",
            )
        return month, read_seconds, time.perf_counter() - began - read_seconds

    stop = threading.Event()  # set when training fails or is interrupted
    with ThreadPoolExecutor(1, thread_name_prefix="mlops-kit-val") as pool:
        # the validation month is read on the other core while the training month is
        # read and fitted on this one (each decodes its batches on its own thread)
        try:
            val_future = pool.submit(prepare, "val", stop)
        except RuntimeError:  # no thread to be had (a sandbox's limits): one after the other
            val_future = None
        try:
            month, read_seconds, _ = prepare("train")
            timings["read"] += read_seconds
            clock += read_seconds
            lap("prepare")
            y_train, y_train_pred = month.duration, _fit_month(vectorizer, estimator, month, lap)
            del month
            lap("predict")
            month, read_seconds, prepare_seconds = (
                val_future.result() if val_future is not None else prepare("val")
            )
        except BaseException:
            # leaving the pool waits for its thread: make it stop at its next batch
            stop.set()
            if val_future is not None:
                val_future.cancel()
            raise
    clock = time.perf_counter()  # the wait, if any, is counted as the validation month's
    # own reading and preparing (which overlap the training's)
    timings["read"] += read_seconds
    timings["prepare"] += prepare_seconds
    y_val, y_val_pred = month.duration, _predict_month(vectorizer, estimator, month)
    del month
    lap("predict")
    metrics = {
        "train_rows": int(y_train.size),
        "val_rows": int(y_val.size),
        "n_features": len(vectorizer.feature_names_),
        "train_rmse": rmse(y_train, y_train_pred),
        "val_rmse": rmse(y_val, y_val_pred),
        "baseline_rmse": mean_baseline(y_train, y_val),
        "model": str(model).lower(),
        "alpha": None if str(model).lower() == "linear" else getattr(estimator, "alpha", None),
        "synthetic": bool(datasets["train"]["synthetic"] or datasets["val"]["synthetic"]),
    }
    lap("predict")
    metrics["seconds"] = time.perf_counter() - start
    parameters = {
        "categorical": categorical,
        "numerical": numerical,
        "model": metrics["model"],
        "alpha": metrics["alpha"],
        "min_duration": min_duration,
        "max_duration": max_duration,
        "source": source,
        "rows": rows,
        "seed": seed,
    }
    predictions = (y_train, y_train_pred, y_val, y_val_pred)
    return TrainResult(
        vectorizer, estimator, metrics, parameters, datasets, *predictions, timings=timings
    )


def predict(vectorizer, model, trips) -> np.ndarray:
    """Predict the duration (minutes) of each ride in ``trips``, rows in order.

    ``trips`` holds the raw columns (location IDs, distance...): the categorical columns
    are turned into strings and ``PU_DO`` is built when the vectoriser uses it. Nothing is
    filtered: a ride to predict has no duration yet.
    """
    from .features import prepare_features

    categorical = getattr(vectorizer, "categorical", ())
    frame = prepare_features(trips, categorical=categorical)
    return np.asarray(model.predict(vectorizer.transform(frame)), dtype=np.float64)


# ------------------------------------------------------------------ the model bundle

#: what the sidecar's ``format`` field says
BUNDLE_FORMAT = "mlops-kit model bundle"
BUNDLE_VERSION = 1


class Bundle(NamedTuple):
    """A loaded model bundle: unpack as ``vectorizer, model, metadata = load_bundle(...)``."""

    vectorizer: Any
    model: Any
    metadata: dict[str, Any]


def sidecar_path(path: str | os.PathLike) -> Path:
    """Return a bundle's JSON sidecar: ``models/lin_reg.bin`` -> ``models/lin_reg.bin.json``."""
    path = Path(path)
    return path.with_name(path.name + ".json")


def library_versions() -> dict[str, str]:
    """The versions a pickle depends on (a pickle from another scikit-learn may not load)."""
    import pandas
    import scipy
    import sklearn

    from .. import __version__

    return {
        "python": platform.python_version(),
        "mlops_kit": __version__,
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "pandas": pandas.__version__,
        "scikit-learn": sklearn.__version__,
    }


def _atomic_write(path: Path, data: bytes) -> None:
    from ..fileio import atomic_write

    atomic_write(path, data, fsync=True)


def save_bundle(
    path: str | os.PathLike,
    vectorizer,
    model,
    metadata: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Save ``(vectorizer, model)`` as the course does, plus a JSON sidecar; return the sidecar.

    The ``.bin`` is exactly the course's ``pickle.dump((dv, model), f_out)``, so the
    course's loading code works on it. The sidecar (``<path>.json``) says what the pickle
    holds and where it came from: the datasets and their sha256, the parameters, the
    metrics, the library versions, and the sha256 of the ``.bin`` itself, so
    :func:`load_bundle` can tell a stale or foreign file. Both files are written atomically
    (temporary file, then rename): an interrupted save never leaves half a model.
    """
    from ..records import to_jsonable

    path = Path(path)
    blob = pickle.dumps((vectorizer, model), protocol=pickle.HIGHEST_PROTOCOL)
    names = getattr(vectorizer, "feature_names_", None)
    sidecar = {
        "format": BUNDLE_FORMAT,
        "version": BUNDLE_VERSION,
        "bin": {"file": path.name, "sha256": hashlib.sha256(blob).hexdigest(), "bytes": len(blob)},
        "vectorizer": type(vectorizer).__name__,
        "model": type(model).__name__,
        "n_features": len(names) if names is not None else None,
        "libraries": library_versions(),
    }
    for key, value in dict(metadata or {}).items():
        sidecar.setdefault(key, value)
    sidecar = to_jsonable(sidecar)
    _atomic_write(path, blob)
    _atomic_write(sidecar_path(path), (json.dumps(sidecar, indent=2) + "\n").encode("utf-8"))
    return sidecar


def load_bundle(path: str | os.PathLike, *, check: bool = True) -> Bundle:
    """Load a bundle saved by :func:`save_bundle`, checking it against its sidecar.

    Args:
        path: the ``.bin`` file.
        check: verify the sidecar (sha256 of the ``.bin``, format, scikit-learn version).
            ``check=False`` loads a bare course pickle without a sidecar.

    Raises:
        ModelBundleError: the file is missing or unreadable, the sidecar is missing or does
            not match (the ``.bin`` was replaced after saving), or it was saved with another
            scikit-learn version. The message says how to fix it.
    """
    path = Path(path)
    if not path.is_file():
        raise ModelBundleError(
            f"No model bundle at {path}.",
            f"Train and save one first: `mlops-kit train --out {path}` (or run notebook 03).",
        )
    metadata: dict[str, Any] = {}
    side = sidecar_path(path)
    if check:
        if not side.is_file():
            raise ModelBundleError(
                f"{path} has no sidecar {side.name}, so nothing says which data, parameters "
                "and library versions produced it.",
                f"Re-save it with mlops_kit.model.save_bundle (`mlops-kit train --out {path}`), "
                "or load it with check=False if you trust the file.",
            )
        try:
            metadata = json.loads(side.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ModelBundleError(
                f"The sidecar {side} is not readable JSON ({exc}).",
                f"Re-save the model (`mlops-kit train --out {path}`).",
            ) from exc
        if metadata.get("format") != BUNDLE_FORMAT:
            raise ModelBundleError(
                f"{side} is not an mlops-kit model sidecar (format={metadata.get('format')!r}).",
                f"Re-save the model (`mlops-kit train --out {path}`).",
            )
        expected = (metadata.get("bin") or {}).get("sha256")
        actual = file_sha256(path)
        if expected != actual:
            raise ModelBundleError(
                f"{path} does not match its sidecar: its sha256 is {actual[:12]}... but "
                f"{side.name} records {str(expected)[:12]}... The .bin was replaced or "
                "changed after it was saved, so the sidecar's data, parameters and metrics "
                "do not describe it.",
                f"Re-train and save both together (`mlops-kit train --out {path}`), or delete "
                "the stale sidecar and load with check=False.",
            )
        saved = (metadata.get("libraries") or {}).get("scikit-learn")
        import sklearn

        if saved and saved.split(".")[:2] != sklearn.__version__.split(".")[:2]:
            raise ModelBundleError(
                f"{path} was saved with scikit-learn {saved}; this environment has "
                f"{sklearn.__version__}. Pickled models are not portable across versions.",
                f"Re-train here (`mlops-kit train --out {path}`) or install scikit-learn=={saved}.",
            )
    try:
        with open(path, "rb") as handle:
            loaded = pickle.load(handle)
    except Exception as exc:  # noqa: BLE001 - any unpickling failure means the same fix
        raise ModelBundleError(
            f"Cannot unpickle {path}: {type(exc).__name__}: {exc}.",
            f"Re-train and save it with this environment (`mlops-kit train --out {path}`).",
        ) from exc
    if not (isinstance(loaded, tuple) and len(loaded) == 2):
        raise ModelBundleError(
            f"{path} holds a {type(loaded).__name__}, not the course's (vectorizer, model) pair.",
            "Save with save_bundle(path, vectorizer, model) or pickle.dump((dv, model), f).",
        )
    vectorizer, model = loaded
    return Bundle(vectorizer, model, metadata)
