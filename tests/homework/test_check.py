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
    assert "SYNTHETIC" in result.key_note
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
    assert result.score == 6


@pytest.mark.realdata
@pytest.mark.parametrize("cohort", ["2022", "2023", "2024", "2025"])
def test_course_keys_equal_the_published_answers(cohort, real_file):
    co = load_cohort(cohort)
    for dataset in co.datasets.values():
        service, month = dataset.split(":")
        real_file(f"{service}_tripdata_{month}.parquet")
    key = make_key(cohort, source="real", timeout_cell=900)
    assert key["synthetic"] is False
    assert {q: e["option"] for q, e in key["answers"].items()} == {
        q.id: q.answer for q in co.questions
    }
