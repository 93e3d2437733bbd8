"""The exact least-squares solver: the answer scikit-learn's ``LinearRegression`` converges to.

The course fits ``LinearRegression()`` on the one-hot matrix of ``DictVectorizer``.
scikit-learn fits *sparse* input with SciPy's iterative ``lsqr``, and SciPy 1.9 loosened
lsqr's default tolerance (1e-8 -> 1e-6), so today it stops before it converges and gives
other RMSEs than the course recorded. :class:`ExactLinearRegression` computes the solution
lsqr converges to, exactly.

Why "the solution lsqr converges to" needs care: one-hot columns of a category sum to a
column of ones, the same as the intercept, so many coefficient vectors fit the training
rows equally well. They agree on every training row but not on a validation row whose
category was never seen in training. The *minimum-norm* solution (of the centred problem)
is the one lsqr and ``numpy.linalg.lstsq`` return, so it is the one reproduced here.

For the course's matrices the solver uses their structure (one entry per categorical
column on every row): :func:`matrix_slots` reads that structure from a matrix, and
block elimination (:func:`_solve_blocks`) solves it. Other matrices go to the centred Gram
matrix, an SVD, or lsqr run to convergence.
"""

from __future__ import annotations

import logging

import numpy as np
from sklearn.base import BaseEstimator, RegressorMixin

from ..errors import BadParameterError
from .arrays import count, count_pairs, gather, pieces

log = logging.getLogger(__name__)

#: beyond this many columns outside the largest one-hot block, the dense Gram is too big
GRAM_LIMIT = 4000
#: dense problems up to this many cells are solved by SVD (numpy.linalg.lstsq)
DENSE_CELLS = 4_000_000


_CONTROLLER = None


def _blas_controller():
    """Return the BLAS thread controller, made once (making it scans the loaded libraries)."""
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
        if 64 < a.size <= 1000:  # BLAS threads only add contention at these sizes
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


def matrix_slots(X):
    """Read a CSR matrix (sorted indices) as "k entries per row": one-hot blocks and numbers.

    ``TripVectorizer`` (and ``DictVectorizer``) on complete training data give every row
    exactly one entry per categorical column plus one per numerical column, in the same
    order. Then the ``k`` columns of ``X.indices.reshape(n, k)`` *are* the category codes:
    no sparse algebra is needed. Returns ``(blocks, numeric)`` with ``blocks`` a list of
    per-row column indices (one-hot, value 1) and ``numeric`` a list of
    ``(column, values)``, or None when ``X`` has another structure. This is what
    ``TripVectorizer.slots`` gives without the matrix, and what
    :meth:`ExactLinearRegression.fit_slots` takes.
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
    updated in place where the arithmetic allows: each is month-sized, and every one
    alive at once raises the peak memory.
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
    del N_within, y_within  # two month-sized arrays, not needed from here

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
    ``PU_DO + trip_distance``; the smaller zone block and the distance for ``PU + DO``).
    The result is the minimum-norm least-squares solution of the centred problem, i.e.
    what ``numpy.linalg.lstsq`` and a fully converged ``lsqr`` give.
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
            slots = matrix_slots(X)
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
        :func:`matrix_slots` reads from a vectorised matrix, and what
        ``TripVectorizer.slots`` gives from the prepared columns before any
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
        building the matrix (``TripVectorizer.dot``).
        """
        import scipy.sparse as sp

        self._check_fitted()
        if not sp.issparse(X):
            X = np.asarray(X, dtype=np.float64)
        self._check_width(X)
        if sp.issparse(X):
            X = sp.csr_matrix(X)
            if not X.has_sorted_indices:
                X = X.sorted_indices()
            sums = _row_sums(X, self.coef_)
            if sums is not None:
                return sums + self.intercept_
        return np.asarray(X @ self.coef_).ravel() + self.intercept_

    def _check_fitted(self) -> None:
        if not hasattr(self, "coef_"):
            from sklearn.exceptions import NotFittedError

            raise NotFittedError("This ExactLinearRegression is not fitted yet: call fit().")

    def _check_width(self, X) -> None:
        """Refuse a matrix whose columns are not the ones fitted, in scikit-learn's words.

        A matrix one column short gives numbers that look fine and are wrong (every column
        after the gap meets the next one's coefficient); one column too many would fail
        deep in the arithmetic. scikit-learn's estimators refuse both with this message,
        so the kit's does too.
        """
        if X.ndim != 2:
            raise BadParameterError(
                f"Expected a 2D array (rows x features), got a {X.ndim}D array.",
                "Pass the vectoriser's matrix; for one ride, vectorizer.transform(ride_dict) "
                "or array.reshape(1, -1).",
            )
        expected = getattr(self, "n_features_in_", None)
        if expected is not None and X.shape[1] != expected:
            raise BadParameterError(
                f"X has {X.shape[1]} features, but {type(self).__name__} is expecting "
                f"{expected} features as input.",
                "Transform the data with the vectoriser fitted together with this model "
                "(X_val = vectorizer.transform(val)); a vectoriser fitted again on another "
                "month has other columns.",
            )

    def to_linear_regression(self):
        """Return a scikit-learn ``LinearRegression`` carrying these exact coefficients.

        It is the object the course's code expects (``model.predict(X)`` with scikit-learn
        alone, no mlops-kit installed) and predicts what this model predicts: it gets the
        attributes a ``LinearRegression`` fitted on the vectoriser's sparse matrix has
        (``coef_``, ``intercept_``, ``n_features_in_``; no ``feature_names_in_``, which
        only a DataFrame gives). :func:`~mlops_kit.model.bundle.save_bundle` pickles it.
        """
        from sklearn.linear_model import LinearRegression

        self._check_fitted()
        model = LinearRegression(fit_intercept=self.fit_intercept)
        model.coef_ = np.array(self.coef_, dtype=np.float64)
        model.intercept_ = np.float64(self.intercept_) if self.fit_intercept else 0.0
        model.n_features_in_ = int(getattr(self, "n_features_in_", model.coef_.size))
        return model

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        return tags
