import json

import pytest

from mlops_kit.cli import main
from mlops_kit.homework import check, load_cohort, make_key

from . import builders
from .conftest import ROWS


def _check(path, key_path=None, **kw):
    return check(
        path, "practice", key=key_path, source="synthetic", rows=ROWS, timeout_cell=120, **kw
    )


def test_check_on_the_solution_is_all_right(tmp_path, practice_key_path):
    path = builders.write(builders.solution(), tmp_path / "solution.ipynb")
    result = _check(path, practice_key_path)
    assert result.status == "ok", result.error
    assert result.key_source == "given"
    assert [r.right for r in result.rows] == [True] * 6
    assert result.score == 6 and "6 / 6 right" in result.render()


def test_check_flags_exactly_the_two_wrong_answers(tmp_path, practice_key, practice_key_path):
    co = load_cohort("practice")
    wrong = {q: builders.wrong_value(practice_key, q, co.question(q).kind) for q in ("q2", "q5")}
    nb = builders.with_answers(builders.solution(), wrong)
    path = builders.write(nb, tmp_path / "learner.ipynb")
    result = _check(path, practice_key_path)
    assert result.status == "ok", result.error
    assert {r.qid: r.right for r in result.rows} == {
        "q1": True, "q2": False, "q3": True, "q4": True, "q5": False, "q6": True,
    }  # fmt: skip
    text = result.render()
    assert text.count("WRONG") == 2 and "4 / 6 right" in text


def test_check_json_reports_values_options_and_verdicts(
    tmp_path, practice_key, practice_key_path, capsys
):
    co = load_cohort("practice")
    wrong = {q: builders.wrong_value(practice_key, q, co.question(q).kind) for q in ("q3", "q6")}
    path = builders.write(
        builders.with_answers(builders.solution(), wrong), tmp_path / "learner.ipynb"
    )
    code = main(
        [
            "homework", "check", str(path), "--key", str(practice_key_path),
            "--source", "synthetic", "--rows", str(ROWS), "--timeout-cell", "120", "--json",
        ]
    )  # fmt: skip
    out = json.loads(capsys.readouterr().out)
    assert code == 1
    assert out["cohort"] == "practice"  # read from the notebook's parameters cell
    verdicts = {r["qid"]: r["right"] for r in out["rows"]}
    assert verdicts == {"q1": True, "q2": True, "q3": False, "q4": True, "q5": True, "q6": False}
    by_q = {r["qid"]: r for r in out["rows"]}
    assert by_q["q3"]["value"] == pytest.approx(wrong["q3"])
    assert by_q["q3"]["option"] != practice_key["answers"]["q3"]["option"]
    assert out["score"] == 4


def test_check_computes_a_key_when_the_shipped_one_does_not_fit(tmp_path):
    # synthetic data never fits the key shipped for the real green files
    path = builders.write(builders.solution(), tmp_path / "solution.ipynb")
    result = _check(path)
    assert result.key_source == "computed"
    assert "same synthetic months" in result.key_note and "not the course's" in result.key_note
    assert result.score == 6


def test_the_learner_template_runs_and_has_no_answers(tmp_path):
    path = load_cohort("practice").path("homework.ipynb")
    result = _check(path)
    assert result.status == "ok", result.error
    assert all(r.value is None and r.right is None for r in result.rows)
    assert "not answered" in result.render()


@pytest.mark.realdata
def test_shipped_practice_key_checks_the_solution_on_the_real_files(real_file, monkeypatch):
    real_file("green_tripdata_2021-01.parquet")
    real_file("green_tripdata_2021-02.parquet")
    path = load_cohort("practice").path("solution.ipynb")
    result = check(path, "practice", source="real", timeout_cell=300)
    assert result.key_source == "shipped", result.key_note
    assert "same sha256" in result.key_note
    # never "computed now on the same real files (the shipped key is for other data)"
    assert "computed now" not in result.key_note and "other data" not in result.key_note
    assert result.score == 6


@pytest.mark.realdata
@pytest.mark.parametrize("cohort", ["2022", "2023", "2024", "2025"])
def test_course_keys_equal_the_published_answers(cohort, real_file):
    co = load_cohort(cohort)
    for dataset in co.datasets.values():
        service, month = dataset.split(":")
        real_file(f"{service}_tripdata_{month}.parquet")
    key = make_key(cohort, source="real", timeout_cell=900)
    assert key["synthetic"] is False and key["source"] == "computed"
    assert key["disagreements"] == []
    assert {q: e["option"] for q, e in key["answers"].items() if e["options"]} == {
        q.id: q.answer for q in co.questions if not q.by_value
    }


# ------------------------------------------------------------ a self-check that tells the truth


def test_a_missing_notebook_is_a_clear_error(tmp_path):
    from mlops_kit.homework import HomeworkError

    with pytest.raises(HomeworkError, match="No notebook at .*nowhere.ipynb"):
        check(tmp_path / "nowhere.ipynb")
    with pytest.raises(HomeworkError, match="No notebook at"):
        check(tmp_path / "nowhere.ipynb", "2024")


def test_a_cohort_that_contradicts_the_notebook_is_refused(tmp_path):
    from mlops_kit.homework import HomeworkError

    path = builders.write(builders.solution(), tmp_path / "practice.ipynb")
    with pytest.raises(HomeworkError, match="--cohort 2024 contradicts .*'practice'"):
        check(path, "2024")
    assert main(["homework", "check", str(path), "--cohort", "2024"]) != 0


def test_a_course_cohort_on_synthetic_data_gets_no_verdict(tmp_path):
    """Offline, the 2024 notebook's values are not mapped onto the course's options."""
    path = builders.write(builders.solution("2024"), tmp_path / "solution.ipynb")
    result = check(path, source="synthetic", rows=ROWS, timeout_cell=120)
    assert result.status == "ok", result.error
    assert result.key_source is None
    assert "your data is not the course's: no options apply" in result.key_note
    assert all(r.value is not None and r.right is None and r.option is None for r in result.rows)
    text = result.render()
    assert "no verdict" in text and "RIGHT" not in text and "WRONG" not in text


def test_a_notebook_that_does_not_say_what_it_read_gets_no_verdict(tmp_path):
    nb = builders.solution()
    for cell in nb.cells:
        cell.source = cell.source.replace("record_inputs(jan, feb)", "")
    path = builders.write(nb, tmp_path / "learner.ipynb")
    result = _check(path)
    assert result.key_source is None and "did not record which data files" in result.key_note


@pytest.mark.realdata
def test_course_notebook_on_the_real_months_is_judged_by_the_published_answers(real_file, tmp_path):
    """A course-like cohort on the real green months: the published answers are the key."""
    real_file("green_tripdata_2021-01.parquet")
    real_file("green_tripdata_2021-02.parquet")
    fixed = {  # the course's way: fixed options, a published answer (q4's is wrong on purpose)
        "q1": (["19", "20", "21"], "20"),
        "q2": (["49.34", "59.34", "69.34"], "59.34"),
        "q3": (["91%", "94%", "97%"], "97%"),
        "q4": (["306", "406", "506"], "406"),
        "q5": (["5.78", "9.78", "13.78"], "9.78"),
        "q6": (["10.47", "14.47", "18.47"], "10.47"),
    }
    folder = builders.course_like_cohort(tmp_path / "course-like", fixed)
    result = check(folder / "solution.ipynb", folder, source="real", timeout_cell=300)
    assert result.key_source == "published", result.key_note
    assert {r.qid: r.right for r in result.rows} == {
        "q1": True, "q2": True, "q3": True, "q4": False, "q5": True, "q6": True,
    }  # fmt: skip
    # the same notebook on synthetic months: no verdict, not the published options
    other = check(folder / "solution.ipynb", folder, source="synthetic", rows=ROWS)
    assert other.key_source is None and all(r.right is None for r in other.rows)
