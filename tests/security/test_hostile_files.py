"""What the grader reads from a submission is hostile data: each trick, alone, without kernels."""

from __future__ import annotations

import json
import os

import pytest

from mlops_kit.homework import build_key, load_cohort, load_key
from mlops_kit.homework.forms import FormError, parse_form_text, read_form
from mlops_kit.homework.grading import grade, grade_form
from mlops_kit.homework.reports import csv_cell
from mlops_kit.homework.submissions import (
    MAX_FORM_BYTES,
    SubmissionError,
    find_submissions,
    read_submission,
)
from mlops_kit.records import MIME_TYPE, records_from_nb

pytestmark = pytest.mark.unit

KEY = build_key(
    "2024",
    {"q1": 19, "q2": 42.594, "q3": 0.9812, "q4": 515, "q5": 7.649, "q6": 7.811},
    synthetic=False,
)


@pytest.mark.parametrize(
    ("text", "suffix"),
    [
        ("question,value\nq1," + "9" * 4001 + "\nq2,42.59\n", ".csv"),
        ('{"q1": ' + "7" * 5000 + ', "q2": 42.59}', ".json"),
        ('{"q1": 1e999999, "q2": 42.59}', ".json"),
        ('{"q1": NaN, "q2": 42.59}', ".json"),
        ('{"q1": Infinity, "q2": 42.59}', ".json"),
        ('{"q1": -1e308, "q2": 42.59}', ".json"),
        ('{"q1": [[[[1]]]], "q2": 42.59}', ".json"),
        ('{"q1": "inf", "q2": 42.59}', ".json"),
        ("question,value\nq1,nan\nq2,42.59\n", ".csv"),
    ],
)
def test_absurd_numbers_are_invalid_answers_and_the_rest_counts(tmp_path, text, suffix):
    path = tmp_path / f"ana{suffix}"
    path.write_text(text)
    g = grade_form(path, tmp_path, load_cohort("2024"), load_key(KEY), "k")
    assert (g.status, g.score) == ("graded", 1.0), g
    assert "invalid_answer" in g.flags
    q1 = g.answer("q1")
    assert q1.option is None and not q1.right and q1.warnings[0].startswith("invalid answer")
    assert len(json.dumps(q1.value)) < 100  # never a 4,001-digit value in the gradebook


def test_deeply_nested_json_is_an_invalid_form_not_a_crash(tmp_path):
    path = tmp_path / "deep.json"
    path.write_text('{"q1": ' + "[" * 100_000 + "]" * 100_000 + "}")
    g = grade_form(path, tmp_path, load_cohort("2024"), load_key(KEY), "k")
    assert g.status == "invalid_form" and "not valid JSON" in g.reason


def test_a_form_names_no_one_but_its_file(tmp_path):
    form = parse_form_text('{"student": "=cmd|calc", "answers": {"q1": 19}}', ".json")
    assert form.student == "=cmd|calc"  # claimed: shown only
    path = tmp_path / "bo.json"
    path.write_text('{"student": "ana", "q1": 19}')
    g = grade_form(path, tmp_path, load_cohort("2024"), load_key(KEY), "k")
    assert g.student == "bo" and "'ana'" in g.reason


def test_links_fifos_and_huge_files_are_refused_before_reading(tmp_path):
    subs = tmp_path / "subs"
    subs.mkdir()
    secret = tmp_path / "key.json"
    secret.write_text(json.dumps(KEY))
    os.symlink(secret, subs / "link.json")
    os.symlink(tmp_path, subs / "folder-link")  # a linked folder is not walked
    os.mkfifo(subs / "pipe.csv")
    (subs / "huge.json").write_bytes(b"{" + b" " * (MAX_FORM_BYTES + 10) + b"}")
    found = {s.relative: s for s in find_submissions(subs)}
    assert set(found) == {"huge.json", "link.json", "pipe.csv"}
    assert "symbolic link" in found["link.json"].problem
    assert "not a regular file" in found["pipe.csv"].problem
    with pytest.raises(SubmissionError, match="over the grader's limit"):
        read_submission(subs / "huge.json", MAX_FORM_BYTES)
    with pytest.raises(SubmissionError, match="symbolic link"):
        read_submission(subs / "link.json", MAX_FORM_BYTES)
    with pytest.raises(FormError):
        read_form(subs / "link.json")
    run = grade(subs, "2024", KEY, tmp_path / "out", progress=False)
    rows = {os.path.basename(g.path): g for g in run.grades}
    assert {n: g.status for n, g in rows.items()} == {
        "huge.json": "invalid_form",
        "link.json": "invalid_form",
        "pipe.csv": "invalid_form",
    }
    shown = (tmp_path / "out" / "grades.csv").read_text()
    assert "42.594" not in shown and "515" not in shown  # nothing of the key came through


@pytest.mark.parametrize(
    ("cell", "safe"),
    [
        ('=HYPERLINK("http://x")', '\'=HYPERLINK("http://x")'),
        ("+cmd", "'+cmd"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tx", "'\tx"),
        ("-1.5", "-1.5"),
        ("1e-3", "1e-3"),
        ("ana", "ana"),
        (-2.5, -2.5),
    ],
)
def test_grades_csv_cells_cannot_be_formulas(cell, safe):
    assert csv_cell(cell) == safe


def test_records_are_validated_one_by_one():
    def display(item):
        return {"output_type": "display_data", "data": {MIME_TYPE: item}}

    nb = {"cells": [{"cell_type": "code", "outputs": [
        display({"name": "answer:q1", "value": 19}),
        display({"value": 3}),
        display({"name": 5, "value": 3}),
        display("not json"),
        display('{"name": "answer:q2", "value": 42.6}'),
        display({"name": "x" * 1000, "value": 1}),
        {"output_type": "stream", "text": "hi"},
        "not an output",
    ]}, "junk"]}  # fmt: skip
    problems: list[str] = []
    assert records_from_nb(nb, problems) == {"answer:q1": 19, "answer:q2": 42.6}
    assert len(problems) == 4
    assert records_from_nb({"cells": "nope"}) == {}


def test_answer_with_a_number_that_has_no_plain_form_is_recorded_invalid(capsys):
    np = pytest.importorskip("numpy")
    from mlops_kit.homework import answer

    stored = answer("q1", np.longdouble(19), cohort="2024")
    assert stored == {"invalid": "longdouble"}
    assert "invalid answer" in capsys.readouterr().out
    assert answer("q1", 10**4000, cohort="2024") == 10**4000  # kept; the grader flags it
    assert "a huge integer" in capsys.readouterr().out


def test_the_plain_key_is_readable_by_its_owner_only(practice_key_path):
    # written by `make_key` (the session's key), with the umask of an ordinary 0022
    assert practice_key_path.stat().st_mode & 0o777 == 0o600
