"""The module-1 homework of every cohort: answers, keys, self-check and safe grading.

Learners call :func:`answer` in their notebook and check themselves with
``mlops-kit homework check``; instructors make a key with ``mlops-kit homework key`` and
grade a folder of submissions with ``mlops-kit homework grade``. See homework/README.md.

Importing this package is light: the runner, pandas and matplotlib load only when a
function that needs them is called.
"""

from __future__ import annotations

from typing import Any

from .answering import answer, describe_answer, record_inputs
from .cohorts import Cohort, HomeworkError, Question, UnknownCohortError, list_cohorts, load_cohort
from .keys import AnswerKeyError, Key, build_key, hash_key, load_key, make_key
from .options import OptionMatch, closest_option

__all__ = [
    "AnswerKeyError",
    "Cohort",
    "HomeworkError",
    "Key",
    "OptionMatch",
    "Question",
    "UnknownCohortError",
    "answer",
    "build_key",
    "check",
    "closest_option",
    "describe_answer",
    "grade",
    "hash_key",
    "list_cohorts",
    "load_cohort",
    "load_key",
    "make_key",
    "record_inputs",
]


def check(*args: Any, **kwargs: Any):
    """Run a learner's notebook and check its answers (see :func:`.check.check`)."""
    from .check import check as _check

    return _check(*args, **kwargs)


def grade(*args: Any, **kwargs: Any):
    """Grade a folder of submissions (see :func:`.grading.grade`)."""
    from .grading import grade as _grade

    return _grade(*args, **kwargs)
