"""Month-sized arrays, worked on in pieces of rows so that temporaries stay small.

Every column of a month is millions of values, and memory a process has not touched
before costs time to get (``benchmarks/bench_fresh_memory.py`` measures how much). numpy
adds hidden whole-array temporaries: bincount and fancy indexing first copy an int32 index
to int64. These helpers do the same work in pieces of :data:`PIECE_ROWS` rows, so those
copies stay piece-sized, and give exactly the same results (counts are integers; gathers
and elementwise steps are row by row).
"""

from __future__ import annotations

import numpy as np

#: rows per piece: small enough for a float64 piece to stay within the CPU caches' reach
PIECE_ROWS = 1 << 18


def pieces(n: int, rows: int | None = None) -> list[slice]:
    """Slices of ``rows`` rows (default :data:`PIECE_ROWS`) covering ``range(n)``."""
    rows = rows or PIECE_ROWS
    return [slice(first, min(n, first + rows)) for first in range(0, n, rows)]


def count(codes: np.ndarray, size: int) -> np.ndarray:
    """``np.bincount(codes, minlength=size)`` (int64), in pieces."""
    total = np.zeros(size, dtype=np.int64)
    for rows in pieces(codes.size):
        total += np.bincount(codes[rows], minlength=size)
    return total


def count_pairs(a: np.ndarray, b: np.ndarray, size_a: int, size_b: int) -> np.ndarray:
    """The ``size_a x size_b`` crosstab of two code arrays (int64), in pieces."""
    total = np.zeros(size_a * size_b, dtype=np.int64)
    for rows in pieces(a.size):
        key = a[rows].astype(np.int64) * size_b
        key += b[rows]
        total += np.bincount(key, minlength=size_a * size_b)
    return total.reshape(size_a, size_b)


def gather(lookup: np.ndarray, index: np.ndarray) -> np.ndarray:
    """``lookup[index]``, in pieces."""
    out = np.empty(index.size, dtype=lookup.dtype)
    for rows in pieces(index.size):
        out[rows] = lookup[index[rows]]
    return out
