"""mlops_kit.model.arrays: the piecewise helpers give numpy's own results."""

import numpy as np
import pytest

from mlops_kit.model.arrays import count, count_pairs, gather, pieces


def test_pieces_cover_the_rows_once():
    assert pieces(0) == []
    covered = np.concatenate([np.arange(10)[s] for s in pieces(10, rows=3)])
    np.testing.assert_array_equal(covered, np.arange(10))


@pytest.mark.parametrize("dtype", [np.int32, np.int64])
def test_count_gather_and_pairs_equal_numpy(dtype, monkeypatch):
    import mlops_kit.model.arrays as arrays

    monkeypatch.setattr(arrays, "PIECE_ROWS", 7)  # many pieces, one short
    rng = np.random.default_rng(0)
    a = rng.integers(0, 11, 100).astype(dtype)
    b = rng.integers(0, 5, 100).astype(dtype)
    lookup = rng.normal(size=11)
    np.testing.assert_array_equal(count(a, 13), np.bincount(a, minlength=13))
    np.testing.assert_array_equal(gather(lookup, a), lookup[a])
    expected = np.bincount(a.astype(np.int64) * 5 + b, minlength=55).reshape(11, 5)
    np.testing.assert_array_equal(count_pairs(a, b, 11, 5), expected)
