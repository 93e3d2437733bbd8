"""The vectoriser: one-hot categories plus numerical columns, as ``DictVectorizer`` builds them.

The course vectorises with ``DictVectorizer().fit_transform(df[cols].to_dict(
orient="records"))``. :class:`TripVectorizer` gives the same feature names, order and
sparse matrix straight from the columns (integer codes, no Python dict per row), with
32-bit sparse indices, which scikit-learn 1.9's ``Lasso`` requires.

It has two faces:

- the scikit-learn one the notebooks use: ``fit``/``transform`` on a prepared DataFrame;
- the streaming one :func:`~mlops_kit.model.training.train_and_evaluate` uses on a month
  prepared in record batches (:class:`~mlops_kit.model.streaming.PreparedTrips`):
  :meth:`TripVectorizer.fit_encode` / :meth:`TripVectorizer.encode` give an
  :class:`EncodedTrips` (each row's matrix column per category, and the numbers), from
  which :meth:`TripVectorizer.matrix` builds the matrix, :meth:`TripVectorizer.slots` gives
  what the exact solver needs to fit without the matrix, and :meth:`TripVectorizer.dot`
  computes ``X @ coef`` without it.

Both faces go through the same code once the categories are ``(codes, names)`` pairs, so
they give the same matrix.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin

from ..errors import BadParameterError, MissingColumnsError
from .arrays import count, gather, pieces
from .categories import codes_and_names
from .features import DEFAULT_CATEGORICAL, DEFAULT_NUMERICAL, require_columns

if TYPE_CHECKING:
    from .streaming import PreparedTrips


def feature_columns(categorical, numerical) -> tuple[list[str], list[str]]:
    """Return the categorical and numerical column lists, checked.

    A single column name may be given as a string. At least one column must be asked for,
    and no column may be both categorical and numerical.

    Raises:
        BadParameterError: when both lists are empty, or they share a column.
    """
    categorical = [categorical] if isinstance(categorical, str) else categorical
    numerical = [numerical] if isinstance(numerical, str) else numerical
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


def check_numerical(series: pd.Series, column: str) -> None:
    """Raise :class:`BadParameterError` unless ``series`` holds numbers (or booleans).

    A numerical feature is used as it is, one matrix column; text there is a column that
    belongs under ``categorical``.
    """
    if not (
        pd.api.types.is_numeric_dtype(series.dtype) or pd.api.types.is_bool_dtype(series.dtype)
    ):
        raise BadParameterError(
            f"The numerical column {column!r} holds {series.dtype} values, not numbers.",
            "List it under categorical= instead, or convert it with pd.to_numeric.",
        )


@dataclass
class EncodedTrips:
    """A month as a fitted vectoriser sees it: what its matrix is made of, before the matrix.

    Made by :meth:`TripVectorizer.fit_encode` (the training month) or
    :meth:`TripVectorizer.encode` (any month, with the fitted columns); read by
    :meth:`TripVectorizer.matrix`, :meth:`TripVectorizer.slots` and :meth:`TripVectorizer.dot`.

    Attributes:
        rows: the number of rows (rides).
        categories: categorical column -> ``(codes, columns)``: row i has category
            ``codes[i]``, whose matrix column is ``columns[codes[i]]`` (-1: a category
            unseen at fit, which gets no entry).
        numbers: numerical column -> float64 values, one per row.
    """

    rows: int
    categories: dict[str, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)
    numbers: dict[str, np.ndarray] = field(default_factory=dict)

    def __len__(self) -> int:
        return self.rows

    def piece(self, first: int, last: int) -> EncodedTrips:
        """Rows ``first`` to ``last`` (excluded): views, no copy."""
        last = min(last, self.rows)
        return EncodedTrips(
            max(last - first, 0),
            {c: (codes[first:last], columns) for c, (codes, columns) in self.categories.items()},
            {c: values[first:last] for c, values in self.numbers.items()},
        )


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
        return feature_columns(self.categorical, self.numerical)

    @staticmethod
    def _check_frame(X, columns: list[str]) -> pd.DataFrame:
        if _records(X) is not None:
            raise BadParameterError(
                "TripVectorizer learns its columns from a pandas DataFrame of trips, not from "
                "dicts (transform accepts dicts, as DictVectorizer does).",
                "Fit on the prepared trips (vectorizer.fit(train_df), or "
                "vectorizer.fit(pd.DataFrame(records))), or fit the course's "
                "DictVectorizer().fit_transform(records) on the dicts.",
            )
        if not isinstance(X, pd.DataFrame):
            raise BadParameterError(
                f"TripVectorizer takes a pandas DataFrame of trips (or, to transform, a dict "
                f"or a list of dicts as DictVectorizer does), got {type(X).__name__}.",
                "Pass the prepared trips, e.g. vectorizer.fit_transform(train_df), or "
                "records: vectorizer.transform(val_df[columns].to_dict(orient='records')).",
            )
        require_columns(X, columns, "the vectoriser was asked to use")
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
        check_numerical(X[column], column)
        return X[column].to_numpy(dtype=np.float64, na_value=np.nan)

    # -- sklearn API
    def fit(self, X: pd.DataFrame, y=None) -> TripVectorizer:
        """Learn the feature names: every category seen in ``X`` plus the numerical columns."""
        self._fit(X)
        return self

    def _fit(self, X: pd.DataFrame) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        categorical, numerical = self._columns()
        X = self._check_frame(X, categorical + numerical)
        for column in numerical:
            check_numerical(X[column], column)
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

    def transform(self, X):
        """Return the sparse CSR matrix of ``X`` (rows in order, unseen categories as zeros).

        ``X`` is a DataFrame of prepared trips, or what ``DictVectorizer.transform`` takes:
        a dict (one ride) or a list of dicts, which give exactly DictVectorizer's matrix
        (a string value ``v`` of key ``c`` is the feature ``c=v``, a number is the feature
        ``c``; keys and values the fit never saw are left out). So the course's
        ``dv.transform({"PU_DO": "43_151", "trip_distance": 1.2})`` works here too.
        """
        self._check_fitted()
        records = _records(X)
        if records is not None:
            return self._transform_records(records)
        return self._transform(X, None)

    def _transform_records(self, records: list[Mapping]):
        """DictVectorizer's matrix of the records, with the kit's index dtype and order."""
        import scipy.sparse as sp

        matrix = sp.csr_matrix(self.to_dict_vectorizer().transform(records))
        itype = _index_dtype(matrix.shape[0], 1, max(matrix.nnz, matrix.shape[1]))
        matrix = sp.csr_matrix(
            (matrix.data, matrix.indices.astype(itype), matrix.indptr.astype(itype)),
            shape=matrix.shape,
        )
        matrix.sort_indices()
        return _sparse_interface(matrix)

    def to_dict_vectorizer(self):
        """Return the fitted scikit-learn ``DictVectorizer`` this vectoriser equals.

        Its ``feature_names_`` and ``vocabulary_`` are this vectoriser's (float64 values,
        ``=`` between a column and its category, sparse, sorted names), so
        ``dv.transform(df[columns].to_dict(orient="records"))`` gives the matrix
        ``transform(df)`` gives, when the categorical columns hold strings as the course
        makes them. It needs only scikit-learn to load and run: this is what
        :func:`~mlops_kit.model.bundle.save_bundle` pickles for the course's module-4 code.
        """
        from sklearn.feature_extraction import DictVectorizer

        self._check_fitted()
        dv = DictVectorizer(dtype=np.float64, separator="=", sparse=True, sort=True)
        dv.feature_names_ = list(self.feature_names_)
        dv.vocabulary_ = self.vocabulary_
        return dv

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

    # -- the streaming face: a month prepared in batches, encoded, then used without a matrix
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

    def fit_encode(self, trips: PreparedTrips) -> EncodedTrips:
        """Fit on a month prepared by :func:`~mlops_kit.model.streaming.prepare_batches`.

        Learns the same feature names as ``fit`` on the equivalent DataFrame and returns the
        month encoded with them (every row has every category: none is unseen).

        Raises:
            MissingColumnsError: when ``trips`` lacks a column the vectoriser uses.
        """
        codes, numbers = self._check_arrays(trips)
        return EncodedTrips(len(trips), self._fit_codes(codes), numbers)

    def encode(self, trips: PreparedTrips) -> EncodedTrips:
        """Encode a prepared month with the fitted columns (unseen categories get -1)."""
        self._check_fitted()
        codes, numbers = self._check_arrays(trips)
        seen = {c: self._fitted_columns(c, *pair) for c, pair in codes.items()}
        return EncodedTrips(len(trips), seen, numbers)

    def matrix(self, encoded: EncodedTrips):
        """The sparse CSR matrix of an encoded month: what ``transform`` returns for it."""
        return self._assemble(encoded.rows, encoded.categories, encoded.numbers)

    def fit_transform_arrays(self, trips: PreparedTrips):
        """``fit_transform`` for a month prepared by :func:`prepare_batches`.

        The same names and matrix as ``fit_transform`` on the equivalent DataFrame: both
        go through the same code once the categories are ``(codes, names)`` pairs.
        """
        return self.matrix(self.fit_encode(trips))

    def transform_arrays(self, trips: PreparedTrips):
        """``transform`` for a month prepared by :func:`prepare_batches`."""
        return self.matrix(self.encode(trips))

    def slots(self, encoded: EncodedTrips):
        """``(blocks, numeric)`` of the month's matrix, without building the matrix.

        What :func:`mlops_kit.model.solver.matrix_slots` reads back from the matrix, in the
        same order, and what :meth:`~mlops_kit.model.solver.ExactLinearRegression.fit_slots`
        fits from: per-row column indices (the matrix's index dtype) of each one-hot block,
        and ``(column, values)`` for the slots that hold one column on every row
        (numerical columns, and a category column with a single category, whose values
        are ones). A linear model fitted from these never needs the training matrix.
        Only for a month from :meth:`fit_encode`, where every row has every slot.
        """
        n, seen, numbers = encoded.rows, encoded.categories, encoded.numbers
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

    def dot(self, encoded: EncodedTrips, coef: np.ndarray) -> np.ndarray | None:
        """``X @ coef`` for the month's matrix ``X``, without building it.

        Each row's terms are added in column order, starting from 0.0, exactly as
        :meth:`mlops_kit.model.solver.ExactLinearRegression.predict` adds them for the
        matrix, so the two agree to the last bit: a category's term is its coefficient (a
        category unseen at fit adds 0.0, as its missing entry adds nothing), a numerical
        column's is value times coefficient. None when the columns of different blocks
        interleave (then only the matrix knows each row's order).
        """
        n, seen, numbers = encoded.rows, encoded.categories, encoded.numbers
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


def _records(X) -> list[Mapping] | None:
    """``X`` as a list of dicts when it is what DictVectorizer takes (a dict, dicts), else None.

    An iterator is read into a list first (DictVectorizer takes any iterable of dicts).
    """
    if isinstance(X, Mapping):
        return [X]
    if isinstance(X, Iterator):
        X = list(X)
    if isinstance(X, (list, tuple)) and X and all(isinstance(row, Mapping) for row in X):
        return list(X)
    return None


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
