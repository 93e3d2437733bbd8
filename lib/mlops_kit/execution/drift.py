"""Library drift: errors the course's code meets on today's libraries, and their fixes.

The course's notebooks were recorded on older releases of scikit-learn, pandas and
seaborn. Run today, some of their cells fail (or, worse, silently do nothing) in ways a
learner cannot decode from the traceback alone. This module is the kit's one table of those
changes (:data:`DRIFTS`): each entry says which error or warning text gives it away, what
changed in which release, and the fix.

The runner applies it to every run: a cell error that matches an entry gets the fix in its
paragraph (:func:`hint_for`), and a warning a cell printed that matches one becomes a note
on the result (:func:`warning_notes`). ``mlops-kit run``, batches and the homework's check
and grade all execute through the runner, so all of them show the same hints.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Drift:
    """One change in a library that breaks the course's code, and the fix.

    Attributes:
        key: a short id (``sklearn-squared``).
        errors: the exception names it applies to (empty: any name, warnings included).
        pattern: a regular expression searched in ``"ename: evalue"`` (or a warning's text).
        change: what changed, in which release.
        fix: what to write instead, as one imperative sentence.
    """

    key: str
    errors: tuple[str, ...]
    pattern: str
    change: str
    fix: str

    def matches(self, ename: str | None, text: str | None) -> bool:
        """True when an error (or warning) named ``ename`` with ``text`` is this change."""
        if self.errors and ename not in self.errors:
            return False
        return re.search(self.pattern, f"{ename or ''}: {text or ''}", re.DOTALL) is not None


DRIFTS: tuple[Drift, ...] = (
    Drift(
        key="sklearn-squared",
        errors=("TypeError",),
        pattern=r"unexpected keyword argument 'squared'",
        change="scikit-learn 1.6 removed the squared argument of mean_squared_error",
        fix="compute the RMSE with root_mean_squared_error(y_true, y_pred) (from "
        "sklearn.metrics import root_mean_squared_error) instead of "
        "mean_squared_error(y_true, y_pred, squared=False)",
    ),
    Drift(
        key="sklearn-int64-indices",
        errors=("ValueError",),
        pattern=r"Only sparse matrices with 32-bit integer indices are accepted",
        change="today's DictVectorizer builds sparse matrices with 64-bit indices, which "
        "scikit-learn's Lasso (and other coordinate-descent models) refuse",
        fix="convert the matrix's indices before fitting (X.indices = X.indices.astype(np.int32); "
        "X.indptr = X.indptr.astype(np.int32), for the training and the validation matrix), "
        "or build X with the kit's TripVectorizer, whose matrices have 32-bit indices",
    ),
    Drift(
        key="seaborn-distplot",
        errors=(),
        pattern=r"has no attribute 'distplot'|`distplot` is a deprecated function",
        change="seaborn deprecated distplot in 0.11 and removes it in 0.14",
        fix="draw the distribution with sns.histplot(values, kde=True, stat='density') or "
        "sns.kdeplot(values) instead of sns.distplot(values)",
    ),
    Drift(
        key="pandas-copy-on-write",
        errors=(),
        pattern=r"ChainedAssignmentError|through chained assignment",
        change="pandas 3 always copies on write: a chained assignment such as "
        "df[col][mask] = value or df[col].fillna(0, inplace=True) changes a copy and "
        "leaves the DataFrame as it was",
        fix="assign in one step with .loc (df.loc[mask, col] = value) or assign the result "
        "back (df[col] = df[col].fillna(0))",
    ),
)


def hint_for(ename: str | None, evalue: str | None) -> Drift | None:
    """Return the drift entry an error matches, or None."""
    for drift in DRIFTS:
        if drift.matches(ename, evalue):
            return drift
    return None


def describe(drift: Drift) -> str:
    """One sentence naming the change, for a paragraph about the error."""
    return f"This is a known change in today's libraries: {drift.change}."


_WARNING = re.compile(r"^\S*:\d+: (?P<name>\w+): (?P<text>.*)$", re.MULTILINE)


def _stderr_warnings(nb: Any) -> Iterator[tuple[int, str, str]]:
    """``(cell index, warning name, text)`` of warnings the cells printed on stderr."""
    for index, cell in enumerate(getattr(nb, "cells", [])):
        for out in cell.get("outputs", []):
            if out.get("output_type") != "stream" or out.get("name") != "stderr":
                continue
            text = out.get("text", "")
            text = "".join(text) if isinstance(text, list) else text
            found = False
            for match in _WARNING.finditer(text):
                found = True
                # the warning's message runs until the next warning line
                yield index, match["name"], text[match.start("text") :]
            if not found and text.strip():
                yield index, "", text


def warning_notes(nb: Any, label: Any) -> list[str]:
    """Notes for the drift warnings an executed notebook printed, one per entry.

    Args:
        nb: the executed notebook.
        label: a function giving a cell's name from its index (``In [5]``).
    """
    notes: dict[str, str] = {}
    for index, name, text in _stderr_warnings(nb):
        for drift in DRIFTS:
            if drift.key not in notes and drift.matches(name or None, text):
                notes[drift.key] = (
                    f"{label(index)} printed a warning: {drift.change}. Fix: {drift.fix}."
                )
    return list(notes.values())
