import pytest

from mlops_kit.homework import answer, describe_answer
from mlops_kit.records import MIME_TYPE


def test_answer_prints_the_closest_option_and_returns_the_value(capsys):
    np = pytest.importorskip("numpy")
    stored = answer("q5", np.float64(7.6427), cohort="2024")
    out = capsys.readouterr().out
    assert stored == pytest.approx(7.6427) and type(stored) is float
    assert "q5: 7.6427 -> option 7.64" in out
    assert "3.64 / 7.64 / 11.64 / 16.64" in out
    assert "RIGHT" not in out.upper().replace("RIGHT-", "")  # never says right or wrong


cohort = "2023"  # what a notebook's parameters cell defines; answer() reads it


def test_answer_reads_the_cohort_from_the_callers_globals(capsys):
    answer("q2", 46.4)
    assert "option 46.45 (options: 41.45 / 46.45" in capsys.readouterr().out


def test_answer_warns_about_shaky_choices(capsys):
    answer("q3", 93.5, cohort="2024")
    out = capsys.readouterr().out
    assert "percentage" in out and "halfway" in out


def test_unanswered_and_unknown_cohorts_still_record(capsys):
    assert answer("q1", None, cohort="2024") is None
    assert "no answer yet" in capsys.readouterr().out
    assert describe_answer("q1", 3, "no-such-cohort") == "q1: 3 recorded"


def test_practice_options_come_from_the_shipped_key(monkeypatch):
    from mlops_kit.homework import answering, load_cohort
    from mlops_kit.homework.keys import shipped_key

    monkeypatch.setattr(answering, "_last_inputs", None)
    assert "-> option 20 (options:" in describe_answer("q1", 20, "practice")
    # on the very files the key was made on: shown; on other data: not shown
    monkeypatch.setattr(answering, "_last_inputs", shipped_key(load_cohort("practice")).inputs)
    assert "-> option 20" in describe_answer("q1", 20, "practice")
    monkeypatch.setattr(answering, "_last_inputs", {"synthetic/x.parquet": "0"})
    assert describe_answer("q1", 20, "practice") == "q1: 20 recorded"


def test_answer_refuses_objects_with_no_number():
    with pytest.raises(TypeError, match="takes a number"):
        answer("q1", object(), cohort="2024")


def test_answer_records_in_a_kernel(monkeypatch):
    shown = []

    class Shell:
        kernel = object()

    import IPython
    import IPython.display

    monkeypatch.setattr(IPython, "get_ipython", lambda: Shell())
    monkeypatch.setattr(IPython.display, "display", lambda obj, raw: shown.append(obj))
    answer("q4", 515, cohort="2024")
    assert shown[0][MIME_TYPE] == {"name": "answer:q4", "value": 515}


def test_a_question_id_the_cohort_lacks_is_refused_with_the_ids():
    from mlops_kit.homework import HomeworkError

    for wrong in ("Q1", "q7", "question1"):
        with pytest.raises(HomeworkError, match="Use one of q1, q2, q3, q4, q5, q6"):
            answer(wrong, 19, cohort="2024")
    with pytest.raises(HomeworkError, match="dropped"):
        answer("q7", 19, cohort="2022")  # 2022's ids include its unnumbered question


def test_far_answers_map_to_no_option_and_by_value_ones_say_so(capsys):
    answer("q2", 19.93, cohort="2024")  # the mean given for the standard deviation
    out = capsys.readouterr().out
    assert "maps to no option" in out and "far from every option" in out
    assert "-> option" not in out
    answer("dropped", 44286, cohort="2022")
    assert "graded by its value" in capsys.readouterr().out


@pytest.mark.parametrize("value, shown", [(float("nan"), "nan"), ("numpy-inf", "inf"),
                                          (float("-inf"), "-inf")])  # fmt: skip
def test_nan_and_infinity_are_invalid_answers_not_missing_ones(value, shown, capsys):
    import numpy as np

    from mlops_kit.homework import load_cohort
    from mlops_kit.homework.keys import build_key, load_key
    from mlops_kit.homework.scoring import grade_answers, invalid_flag

    value = np.float64("inf") if value == "numpy-inf" else value
    stored = answer("q2", value, cohort="2024")
    assert stored == {"invalid": shown}
    out = capsys.readouterr().out
    assert f"q2: invalid answer: {shown} is not a number" in out and "replace None" not in out
    co = load_cohort("2024")
    right = {"q1": 19, "q2": 42.6, "q3": 0.98, "q4": 515, "q5": 7.6, "q6": 7.8}
    key = load_key(build_key("2024", right, synthetic=False), "2024")
    graded = {g.qid: g for g in grade_answers(co, key, {"q1": 19, "q2": stored})}
    assert graded["q2"].points == 0 and "not a finite number" in graded["q2"].warnings[0]
    assert invalid_flag(list(graded.values())) == ["invalid_answer"]


def test_answer_shows_the_value_rounded_and_stores_it_whole(capsys):
    stored = answer("q2", 42.594487553802, cohort="2024")
    assert stored == 42.594487553802
    assert "q2: 42.5945 -> option 42.59" in capsys.readouterr().out
    assert describe_answer("q1", 1154112, "no-such-cohort") == "q1: 1,154,112 recorded"
