"""The grade pages show what a person reads: rounded values, and why an answer has no option."""

from __future__ import annotations

import pytest

from mlops_kit.homework.gradebook import QuestionGrade
from mlops_kit.homework.reports import _bucket


@pytest.mark.parametrize(
    ("answer", "bar"),
    [
        (None, "not answered"),
        (QuestionGrade("q2", None, None, False, 0.0, ["no answer given"]), "not answered"),
        (QuestionGrade("q2", "abc", None, False, 0.0, ["invalid answer: a str"]), "invalid"),
        (
            QuestionGrade("q2", 19.93, "59.34", False, 0.0, ["19.93 is far from every option"]),
            "far from all",
        ),
        (QuestionGrade("q2", 59.3386, "59.34", True, 1.0, []), "59.34"),
    ],
)
def test_an_answer_counts_in_its_option_or_in_why_it_has_none(answer, bar):
    # a far answer maps to its nearest option in name only: the chart must not count it there
    assert _bucket(answer) == bar
