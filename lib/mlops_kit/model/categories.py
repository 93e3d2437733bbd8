"""Categorical columns as ``(codes, names)``: one small integer per row, each name once.

The course turns location IDs into strings (``df[col].astype(str)``) so that
``DictVectorizer`` one-hot encodes them. Building one Python string per row is the slow
part of that, so the kit reads a categorical column as a pair instead: ``codes`` (row i's
category number) and ``names`` (the categories as strings, as ``astype(str)`` writes them),
with ``names[codes[i]]`` row i's value. The DataFrame path (:mod:`.features`), the streaming
path (:mod:`.streaming`) and the vectoriser (:mod:`.vectorizer`) all code categories with
the functions here, which is why they agree row for row.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .arrays import count, gather


def _code_dtype(categories: int):
    """Codes as int32 (half the memory), int64 beyond 2**31 categories.

    numpy copies an int32 index to int64 before indexing with it, so month-sized
    gathers and counts with codes go through :mod:`mlops_kit.model.arrays`, in pieces.
    """
    return np.int32 if categories < 2**31 else np.int64


def int_codes(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Factorise integers: (codes, sorted unique values); a bincount when the range is small."""
    if values.size == 0:
        return np.zeros(0, dtype=np.int32), values[:0].astype(np.int64)
    low, high = int(values.min()), int(values.max())
    if high - low < 10_000_000:
        # small non-negative values index the lookup directly (one pass fewer)
        low = min(low, 0) if high < 10_000_000 else low
        shifted = values if low == 0 else values.astype(np.int64, copy=False) - low
        present = np.flatnonzero(count(shifted, high - low + 1))
        lookup = np.full(high - low + 1, -1, dtype=_code_dtype(present.size))
        lookup[present] = np.arange(present.size)
        return gather(lookup, shifted), present + low
    uniques, codes = np.unique(values, return_inverse=True)
    return codes.astype(_code_dtype(uniques.size)), uniques.astype(np.int64)


def category_names(uniques) -> np.ndarray:
    """Category names as an object array of Python strings, as ``astype(str)`` writes them."""
    if isinstance(uniques, (pd.Index, pd.Series, pd.api.extensions.ExtensionArray)):
        if pd.api.types.is_string_dtype(uniques.dtype):
            return np.asarray(uniques.to_numpy(dtype=object, na_value=None), dtype=object)
        uniques = np.asarray(uniques, dtype=object)
    if isinstance(uniques, np.ndarray) and uniques.dtype.kind in "iu":
        return uniques.astype(str).astype(object)
    return np.array([str(v) for v in uniques], dtype=object)


def codes_and_names(series: pd.Series, *, fill: object = None) -> tuple[np.ndarray, np.ndarray]:
    """Return ``(codes, names)``: each row's category number and the categories as strings.

    This is how the kit reads a categorical column without building a string per row:
    integers are factorised with a bincount, a ``Categorical`` gives its codes, strings go
    through :func:`pandas.factorize`. Integral floats (FHV location IDs are floats because of
    missing values) are named as integers (``"132"``, not ``"132.0"``).

    Args:
        series: the column.
        fill: the value for missing entries; when None, missing entries get code -1.

    Returns:
        ``codes`` (int64, -1 for missing) and ``names`` (object array of str), where
        ``names[codes[i]]`` is row i's category.
    """
    if isinstance(series.dtype, pd.CategoricalDtype):
        cats = series.cat.categories
        codes = series.cat.codes.to_numpy().astype(np.int64)
        names = category_names(cats)
        if fill is not None and (codes < 0).any():
            names = np.append(names, str(fill))
            codes = np.where(codes < 0, names.size - 1, codes)
            names, inverse = np.unique(names, return_inverse=True)
            codes = inverse[codes]
        return codes, names
    numpy_ints = isinstance(series.dtype, np.dtype) and series.dtype.kind in "iu"
    if fill is not None and not numpy_ints and series.isna().any():
        series = series.fillna(fill)
    dtype = series.dtype
    if pd.api.types.is_bool_dtype(dtype):
        values = series.to_numpy()
        codes, uniques = np.unique(values, return_inverse=True)
        return uniques.astype(np.int64), category_names(codes)
    if pd.api.types.is_integer_dtype(dtype) and (numpy_ints or not series.isna().any()):
        codes, uniques = int_codes(series.to_numpy(dtype=np.int64))
        return codes, category_names(uniques)
    if pd.api.types.is_float_dtype(dtype):
        values = series.to_numpy(dtype=np.float64, na_value=np.nan)
        finite = np.isfinite(values)
        if finite.all() and np.array_equal(values, np.round(values)):
            codes, uniques = int_codes(values.astype(np.int64))
            return codes, category_names(uniques)
    codes, uniques = pd.factorize(series, use_na_sentinel=True)
    return codes.astype(np.int64), category_names(uniques)


def join_names(left: np.ndarray, right: np.ndarray, sep: str) -> pd.Index:
    """Return ``left[i] + sep + right[i]`` for arrays of str, as a string Index.

    Arrow's element-wise join builds the strings in one compiled pass, where an f-string
    per pair would call Python once for each.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    joined = pc.binary_join_element_wise(
        pa.array(left, type=pa.string()), pa.array(right, type=pa.string()), sep
    )
    return pd.Index(joined.to_pandas(), dtype="str")


def pair_codes(pickup, dropoff) -> tuple[np.ndarray, pd.Index]:
    """Combine two ``(codes, names)`` pairs into the codes and names of ``"<PU>_<DO>"``.

    Row i's pair is number ``pickup_codes[i] * len(dropoff_names) + dropoff_codes[i]``;
    those numbers are factorised, and only the distinct pairs (the routes, far fewer than
    the rows) are joined into strings.
    """
    (pu_codes, pu_names), (do_codes, do_names) = pickup, dropoff
    del pickup, dropoff  # a caller that passes fresh pairs lets them go as soon as used
    key = np.multiply(pu_codes, max(do_names.size, 1), dtype=np.int64)
    del pu_codes
    key += do_codes
    del do_codes
    codes, pairs = int_codes(key)
    del key
    names = join_names(pu_names[pairs // do_names.size], do_names[pairs % do_names.size], "_")
    return codes, names
