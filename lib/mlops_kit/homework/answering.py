"""``answer()``: what a learner calls at the end of each homework cell.

``answer("q3", share_kept)`` does two things:

1. it *records* the value in the executed notebook (``record("answer:q3", value)``), which
   is where ``mlops-kit homework check`` and the instructors' grader read it from;
2. it *shows* the option the value maps to, as the course's form asks (the closest one),
   with a warning when the choice is shaky. It never says whether the option is right:
   that is what ``mlops-kit homework check`` is for.

The cohort comes from the ``cohort`` variable of the notebook's parameters cell (or the
``cohort=`` argument), so the same call works in every cohort's notebook.
"""

from __future__ import annotations

import inspect
import math
import os
from collections.abc import Mapping
from typing import Any

from ..records import record, to_jsonable
from .keys import ANSWER_PREFIX, INPUTS_RECORD, SYNTHETIC_RECORD


def _caller_cohort(depth: int = 2) -> str | None:
    frame = inspect.currentframe()
    try:
        for _ in range(depth):
            frame = frame.f_back if frame is not None else None
        if frame is not None and "cohort" in frame.f_globals:
            return str(frame.f_globals["cohort"])
    finally:
        del frame
    return os.environ.get("MLOPS_KIT_COHORT") or None


#: the inputs noted by the last record_inputs() call in this process (None: not called)
_last_inputs: dict[str, str] | None = None


def _options(cohort: str, qid: str) -> tuple[list[str], str] | None:
    """Return ``(options, kind)`` for a question, or None when they cannot be had.

    Course cohorts list their options in questions.yaml; generated cohorts keep them in
    the shipped key. Nothing here may fail a learner's cell: any problem returns None.
    """
    try:
        from .cohorts import load_cohort
        from .keys import shipped_key

        co = load_cohort(cohort)
        q = co.question(qid)
        if q.options or q.by_value:
            return list(q.options), q.kind
        key = shipped_key(co)
        # generated options belong to the data the key was made on: on other data
        # (synthetic months, say) they would mislead, so none are shown
        fits = _last_inputs is None or _last_inputs == key.inputs if key else False
        if key is not None and qid in key.ids and fits:
            return key.options(qid), q.kind
    except Exception:  # noqa: BLE001 - showing options is a courtesy, recording is the job
        return None
    return None


def describe_answer(qid: str, value: Any, cohort: str | None) -> str:
    """Return the line ``answer()`` shows: the value, the closest option, any warnings."""
    from .options import closest_option, format_value

    if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 10**60:
        text = "a huge integer"
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        text = format_value(value)  # 4 decimals: enough to see the option; full value stored
    else:
        text = repr(value)
    shown = f"{qid}: {text if len(text) <= 80 else text[:77] + '...'}"
    if value is None:
        return f"{shown} (no answer yet: replace None with your result)"
    found = _options(cohort, qid) if cohort else None
    if found is None:
        return f"{shown} recorded"
    if not found[0]:
        return f"{shown} recorded (asked without options: graded by its value)"
    options, kind = found
    match = closest_option(value, options, kind)
    if match.option is None:
        line = f"{shown} recorded, maps to no option"
    elif match.far:
        line = f"{shown} recorded, maps to no option (options: {' / '.join(options)})"
    else:
        line = f"{shown} -> option {match.option} (options: {' / '.join(options)})"
    for warning in match.warnings:
        line += f"\n  warning: {warning}"
    return line


def _check_question(qid: Any, cohort: str | None) -> None:
    """Refuse a question id the cohort does not have (``"Q1"``, ``"q7"``), naming the ids.

    Where the cohort's questions cannot be read (no homework folder, as in a graded
    kernel), the id is recorded as given and the grader ignores an unknown one.
    """
    from .cohorts import HomeworkError, load_cohort

    if not cohort:
        return
    try:
        co = load_cohort(cohort)
    except HomeworkError:
        return
    if qid not in co.ids:
        raise HomeworkError(
            f"answer({qid!r}, ...): cohort {co.name} has no question {qid!r}.",
            f"Use one of {', '.join(co.ids)} (lower case), e.g. answer({co.ids[0]!r}, value).",
        )


def _not_finite(value: Any) -> str | None:
    """Return ``"nan"``, ``"inf"`` or ``"-inf"`` for a non-finite number, else None."""
    if value is None or isinstance(value, (bool, str, int)) or not hasattr(value, "__float__"):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError, OverflowError):
        return None
    if math.isnan(number):
        return "nan"
    return None if math.isfinite(number) else ("inf" if number > 0 else "-inf")


def answer(qid: str, value: Any, *, cohort: str | None = None) -> Any:
    """Record your answer to question ``qid`` and show the option it maps to.

    Args:
        qid: the question id, ``"q1"`` ... ``"q6"``.
        value: your result as a number (a share as a fraction: 0.98, not 98).
        cohort: the cohort; by default the ``cohort`` variable of your notebook.

    Returns:
        The value as stored (numpy numbers become plain Python numbers).

    Raises:
        HomeworkError: ``qid`` is not a question of the cohort (the message lists them).

    Example:
        >>> answer("q1", 19, cohort="2024")   # doctest: +SKIP
        q1: 19 -> option 19 (options: 16 / 17 / 18 / 19)
    """
    cohort = cohort or _caller_cohort()
    _check_question(qid, cohort)
    odd = _not_finite(value)
    if odd is not None:  # NaN or infinity: recorded as invalid, never as "no answer yet"
        stored = {"invalid": odd}
        record(f"{ANSWER_PREFIX}{qid}", stored, show=False)
        cause = ("NaN usually comes from missing values (a mean of an empty column, a "
                 "division 0/0)" if odd == "nan" else "infinity usually comes from a "
                 "division by zero")  # fmt: skip
        print(f"{qid}: invalid answer: {odd} is not a number the grader can mark; {cause}: "
              "check the cell that computed it")  # fmt: skip
        return stored
    try:
        stored = to_jsonable(value)
    except (TypeError, ValueError, RecursionError):
        if not hasattr(value, "__float__"):
            raise TypeError(
                f"answer({qid!r}, ...) takes a number; got a {type(value).__name__}. "
                "Pass the figure the question asks for, e.g. df.shape[1] or an RMSE."
            ) from None
        # a number with no plain form (np.longdouble, Decimal): recorded as invalid, so the
        # rest of the notebook still runs and the grader flags this one answer
        stored = {"invalid": type(value).__name__}
        record(f"{ANSWER_PREFIX}{qid}", stored, show=False)
        print(
            f"{qid}: invalid answer: a {type(value).__name__} is not a plain number; "
            f"pass float(value) instead"
        )
        return stored
    record(f"{ANSWER_PREFIX}{qid}", stored, show=False)
    print(describe_answer(qid, stored, cohort))
    return stored


def input_fingerprints(*frames: Any) -> dict[str, str]:
    """Return ``{file name: sha256}`` of the files the given DataFrames were read from.

    The kit's ``read_trips`` notes the file in ``df.attrs["path"]``; synthetic months are
    files too (seeded, so the same seed gives the same bytes).
    """
    from ..fileio import file_sha256

    found: dict[str, str] = {}
    for df in frames:
        attrs: Mapping[str, Any] = getattr(df, "attrs", {}) or {}
        path = attrs.get("path")
        if not path:
            continue
        name = os.path.basename(str(path))
        if attrs.get("synthetic"):
            name = f"synthetic/{name}"
        try:
            found[name] = file_sha256(path)
        except OSError:
            found[name] = "unreadable"
    return found


def record_inputs(*frames: Any) -> dict[str, str]:
    """Record which data files the homework ran on (for ``check`` to pick a fitting key).

    Call it once after reading the months, e.g. ``record_inputs(df_train, df_val)``.
    """
    global _last_inputs
    inputs = input_fingerprints(*frames)
    _last_inputs = dict(inputs)
    synthetic = any(bool(getattr(df, "attrs", {}).get("synthetic")) for df in frames)
    record(INPUTS_RECORD, inputs, show=False)
    record(SYNTHETIC_RECORD, synthetic, show=False)
    kind = "synthetic (seeded) data" if synthetic else "real TLC files"
    print(f"data: {kind}: {', '.join(inputs) or 'unknown'}")
    return inputs
