import pytest

from mlops_kit.homework import build_key, load_cohort, load_key
from mlops_kit.homework.forms import FormError, parse_form_text, read_form
from mlops_kit.homework.gradebook import Grade, Gradebook, QuestionGrade
from mlops_kit.homework.grading import grade_answers, grade_form


def test_long_and_wide_csv_and_json_forms():
    long = parse_form_text("question,value\nQ1,19\nq2, 42.6\nq3,98%\n", ".csv")
    assert long.answers == {"q1": 19, "q2": 42.6, "q3": "98%"}
    wide = parse_form_text("student,q1,q2\nana,19,\n", ".csv")
    assert wide.student == "ana" and wide.answers == {"q1": 19, "q2": None}
    nested = parse_form_text('{"student": "bo", "answers": {"q1": 18}}', ".json")
    assert (nested.student, nested.answers) == ("bo", {"q1": 18})
    flat = parse_form_text('{"q1": 18, "email": "x@y"}', ".json")
    assert (flat.student, flat.answers) == ("x@y", {"q1": 18})


@pytest.mark.parametrize(
    ("text", "suffix"),
    [("[1, 2]", ".json"), ("{", ".json"), ("just one line\n", ".csv"), ("a,b\n1,2\n3,4\n", ".csv")],
)
def test_unreadable_forms_raise_form_error(text, suffix):
    with pytest.raises(FormError, match="Fix:"):
        parse_form_text(text, suffix)


KEY = build_key(
    "2024",
    {"q1": 19, "q2": 42.594, "q3": 0.9812, "q4": 515, "q5": 7.649, "q6": 7.811},
    synthetic=False,
)


def test_grade_answers_by_option_and_value_tolerance():
    co = load_cohort("2024")
    got = grade_answers(
        co, load_key(KEY), {"q1": "19", "q2": 32.6, "q3": 0.98, "q5": 7.65, "q6": None}
    )
    assert [(g.qid, g.right) for g in got] == [
        ("q1", True), ("q2", False), ("q3", True), ("q4", False), ("q5", True), ("q6", False),
    ]  # fmt: skip
    assert sum(g.points for g in got) == 3


def test_far_from_every_option_is_wrong_whatever_option_is_nearest():
    """The issue's cases: 19.93 (the mean) for the std, -1 and inf for a low right option."""
    from mlops_kit.homework import build_key

    practice = load_cohort("practice")
    values = {"q1": 20, "q2": 59.3386, "q3": 0.9659, "q4": 506, "q5": 9.7756, "q6": 10.4737}
    key = load_key(build_key(practice, values, synthetic=False))
    assert key.right_option("q2") == "59.34" and key.options("q2")[0] == "59.34"
    got = {g.qid: g for g in grade_answers(practice, key, {"q2": 19.93, "q5": 9.79})}
    assert got["q2"].option == "59.34" and not got["q2"].right  # nearest, but far
    assert any("far from every option" in w for w in got["q2"].warnings)
    assert got["q5"].right  # near is fine
    for hostile in (-1, float("inf"), float("-inf"), float("nan"), -1e308):
        got = {g.qid: g for g in grade_answers(practice, key, {"q2": hostile})}
        assert not got["q2"].right, hostile


def test_a_question_without_options_is_graded_by_value():
    from mlops_kit.homework.keys import published_key

    co = load_cohort("2022")
    key = load_key(published_key(co))
    for value, right in ((44286, True), ("44,286", True), (44286.4, True), (44285, False),
                         (None, False), ("many", False)):  # fmt: skip
        got = {g.qid: g for g in grade_answers(co, key, {"dropped": value})}
        assert got["dropped"].right is right, value
        assert got["dropped"].option is None


def test_grade_form_statuses(tmp_path):
    co, key = load_cohort("2024"), load_key(KEY)
    (tmp_path / "ok.json").write_text('{"q1": 19, "q9": 1}')
    (tmp_path / "empty.csv").write_text("q1,q2\n,\n")
    (tmp_path / "bad.json").write_text("{")
    ok = grade_form(tmp_path / "ok.json", tmp_path, co, key, "k")
    assert (ok.status, ok.score) == ("graded", 1.0) and "q9" in ok.reason
    assert grade_form(tmp_path / "empty.csv", tmp_path, co, key, "k").status == "no_answers"
    assert grade_form(tmp_path / "bad.json", tmp_path, co, key, "k").status == "invalid_form"
    assert read_form(tmp_path / "ok.json").answers["q1"] == 19


def test_gradebook_round_trip_and_replace(tmp_path):
    grade = Grade(
        submission="abc", key_id="k", student="ana", path="ana.ipynb", kind="notebook",
        status="graded", reason=None, score=1.0, max_score=6.0, flags=["stale_outputs"],
        network="cut", answers=[QuestionGrade("q1", 19, "19", True, 1.0, ["w"])],
    )  # fmt: skip
    with Gradebook(tmp_path / "g.sqlite") as book:
        book.put(grade)
        grade.score = 2.0
        book.put(grade)  # replaced, not duplicated
        assert len(book) == 1
    with Gradebook(tmp_path / "g.sqlite") as book:
        back = book.get("abc", "k")
        assert back.score == 2.0 and back.flags == ["stale_outputs"]
        assert back.answers == grade.answers
        assert book.get("abc", "other-key") is None


class FakeResult:
    def __init__(self, status, records, notes=(), error=None):
        self.status, self.records, self.notes, self.error = status, records, list(notes), error
        self.seconds = 1.0


def _run_grade(tmp_path, result, network=False, isolated=True, problems=()):
    from mlops_kit.homework.scoring import run_grade

    base = {"submission": "s", "key_id": "k", "path": str(tmp_path / "ana.ipynb"),
            "kind": "notebook", "max_score": 6.0, "started": "t"}  # fmt: skip
    return run_grade(
        result, saved={}, record_problems=list(problems), cohort=load_cohort("2024"),
        key=load_key(KEY), base=base, student="ana", isolated=isolated,
        network_requested=network,
    )  # fmt: skip


def test_grade_run_maps_runner_statuses_and_keeps_partial_points(tmp_path):
    ok = _run_grade(tmp_path, FakeResult("ok", {"answer:q1": 19, "answer:q2": 42.6}))
    assert (ok.status, ok.score, ok.network) == ("graded", 2.0, "cut")
    empty = _run_grade(tmp_path, FakeResult("ok", {"answer:q1": None}))
    assert empty.status == "no_answers" and "answer(" in empty.reason
    died = _run_grade(tmp_path, FakeResult("kernel_died", {"answer:q1": 19}, error="died"))
    assert (died.status, died.score, died.reason) == ("crashed", 1.0, "Died.")
    for runner, ours in [
        ("timeout", "timeout"),
        ("out_of_memory", "out_of_memory"),
        ("output_too_large", "output_too_large"),
        ("bad_parameters", "invalid_notebook"),
        ("cell_error", "crashed"),
    ]:
        assert _run_grade(tmp_path, FakeResult(runner, {}, error="x")).status == ours


def test_unsandboxed_runs_and_an_open_network_are_flagged_and_reported(tmp_path):
    from mlops_kit.homework.grading import GradeRun
    from mlops_kit.homework.reports import class_report_html

    g = _run_grade(tmp_path, FakeResult("ok", {"answer:q1": 19}), isolated=False)
    assert g.network == "not_cut" and "unsandboxed" in g.flags
    run = GradeRun("2024", [g], 1, tmp_path, network="not_cut", isolation="NONE: --unsafe")
    html = class_report_html(run, load_cohort("2024"), load_key(KEY))
    assert "The network was not cut" in html and "Isolation:</b> NONE" in html
    allowed = _run_grade(tmp_path, FakeResult("ok", {"answer:q1": 19}), network=True)
    assert allowed.network == "not_cut" and "unsandboxed" not in allowed.flags


def test_invalid_answers_and_bad_records_are_flagged_and_the_valid_ones_count(tmp_path):
    records = {
        "answer:q1": 19,
        "answer:q2": float("inf"),
        "answer:q3": 10**4000,
        "answer:q4": {"invalid": "longdouble"},
        "answer:q5": -1e308,
        "answer:q6": "nan",
    }
    g = _run_grade(tmp_path, FakeResult("ok", records), problems=["a record in cell 3 was ignored"])
    assert (g.status, g.score) == ("graded", 1.0)
    assert {"invalid_answer", "bad_records"} <= set(g.flags)
    for qid in ("q2", "q3", "q4", "q5", "q6"):
        a = g.answer(qid)
        assert a.option is None and not a.right and a.warnings[0].startswith("invalid answer")
    assert g.answer("q3").value is None  # a 4,001-digit integer is not kept


def test_stale_outputs_are_compared_only_on_the_same_data(tmp_path):
    from mlops_kit.homework.scoring import stale as _stale

    co = load_cohort("2024")
    fresh = {"answer:q1": 18, "answer:q2": 42.6, "homework:inputs": {"a": "1"}}
    saved = {"answer:q1": 19, "answer:q2": 42.6, "homework:inputs": {"a": "1"}}
    differ, note = _stale(co, saved, fresh)
    assert differ == ["q1"] and "q1 saved 19 vs re-run 18" in note
    other = {**saved, "homework:inputs": {"a": "2"}}
    differ, note = _stale(co, other, fresh)
    assert differ == [] and "not compared" in note
    assert _stale(co, {}, fresh) == ([], None)


def test_folders_that_hold_what_kernels_need_are_narrowed_to_the_secret_file(tmp_path):
    import sys
    import tempfile
    from pathlib import Path

    from mlops_kit.homework.grading import _hide_list

    venv_parent = Path(sys.prefix).resolve().parent
    key = venv_parent / "key.json"
    tmp_root = Path(tempfile.gettempdir()).resolve()
    hidden = _hide_list(
        [(venv_parent, key), (tmp_path / "out", tmp_path / "out" / "g.sqlite"), (tmp_root, None)]
    )
    assert hidden == [str(key), str((tmp_path / "out").resolve())]


def test_a_students_reason_names_their_notebook_not_the_graders_copy(tmp_path):
    copy = tmp_path / "out" / "executed" / "job-1.ipynb"
    result = FakeResult("cell_error", {"answer:q1": 19}, error=(
        f"In [3] (line 2: `df['x']`) raised KeyError: 'x'. Fix: open the executed notebook "
        f"{copy} at In [3] to read the traceback, correct the code or the parameters, and "
        "run it again."))  # fmt: skip
    result.output = str(copy)
    g = _run_grade(tmp_path, result)
    assert str(tmp_path) not in g.reason
    assert "Fix: open your notebook at In [3]" in g.reason and "submit it again" in g.reason


def test_numbers_a_notebook_showed_as_numpy_reprs_read_as_numbers():
    from mlops_kit.homework.scoring import _tidy

    assert _tidy("np.float64(19.927896050602474)") == "19.9279"
    assert _tidy("(np.int64(73908), 21)") == "(73,908, 21)"
    assert _tidy("RMSE 7.64") == "RMSE 7.64"


def test_a_form_students_page_does_not_send_them_to_the_notebook_checker(tmp_path):
    from mlops_kit.homework.reports import feedback_html
    from mlops_kit.homework.scoring import form_grade

    co, key = load_cohort("2024"), load_key(KEY)
    base = {"submission": "s", "key_id": "k", "path": str(tmp_path / "ana.json"),
            "kind": "form", "max_score": 6.0, "started": "t"}  # fmt: skip
    g = form_grade(b'{"q1": 16}', where="ana.json", student="ana", cohort=co, key=key,
                   base=base)  # fmt: skip
    page = feedback_html(g, co, key)
    assert "homework check" not in page and "submit your answers again" in page
    g.kind = "notebook"
    assert "mlops-kit homework check" in feedback_html(g, co, key)


def test_grades_csv_writes_whole_numbers_as_integers_and_keeps_fractions():
    from mlops_kit.homework.reports import grades_csv_text

    answers = [QuestionGrade("q1", 76518.0, "76518", True, 1.0, []),
               QuestionGrade("q2", 42.5945, "42.59", True, 1.0, [])]  # fmt: skip
    grade = Grade(
        submission="abc", key_id="k", student="ana", path="ana.ipynb", kind="notebook",
        status="graded", reason=None, score=2.0, max_score=6.0, flags=[],
        network="cut", answers=answers,
    )  # fmt: skip
    text = grades_csv_text([grade], load_cohort("2024"))
    row = dict(zip(*[line.split(",") for line in text.splitlines()], strict=True))
    assert (row["score"], row["max_score"]) == ("2", "6")
    assert (row["q1_value"], row["q2_value"]) == ("76518", "42.5945")
