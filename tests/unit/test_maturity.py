"""The maturity model: levels as data, the self-assessment, the evidence scan and the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mlops_kit.cli import main
from mlops_kit.errors import BadParameterError, KitError, UnknownParameterError
from mlops_kit.lessons import maturity
from mlops_kit.lessons.maturity import (
    LEVELS,
    QUESTIONS,
    BadAnswerError,
    UnknownQuestionError,
    assess,
    load_answers,
    plot_assessment,
    scan,
)

ROOT = Path(__file__).resolve().parents[2]


# ------------------------------------------------------------------ levels as data


def test_five_levels_in_order_with_four_areas():
    assert [lv.number for lv in LEVELS] == [0, 1, 2, 3, 4]
    assert [lv.name for lv in LEVELS] == [
        "No MLOps",
        "DevOps but no MLOps",
        "Automated training",
        "Automated model deployment",
        "Full MLOps automated operations",
    ]
    for lv in LEVELS:
        for attr, _ in maturity.AREAS:
            assert getattr(lv, attr), f"level {lv.number} has no {attr}"


def test_levels_table_has_one_row_per_level():
    table = maturity.levels_table()
    assert list(table.index) == [0, 1, 2, 3, 4]
    assert {"name", "People", "Model creation", "Model release"} <= set(table.columns)


def test_level_lookup_rejects_out_of_range():
    assert maturity.level(3).name == "Automated model deployment"
    with pytest.raises(BadParameterError, match="0 to 4"):
        maturity.level(5)


def test_questions_follow_the_lecture_s_placements():
    """The lecture: a registry at level 2; an API, monitoring at 3; operation metrics at 1."""
    placed = {q.id: q.level for q in QUESTIONS}
    assert placed["operation_metrics"] == 1
    assert placed["model_registry"] == 2
    assert placed["model_api"] == 3
    assert placed["production_monitoring"] == 3
    assert placed["automatic_retraining"] == 4
    # level 1 is "hard to reproduce": reproducibility and versioning come with level 2
    assert {q.principle for q in QUESTIONS if q.level == 1} <= {"P1", "P8"}
    assert maturity.MICROSOFT_URL.startswith("https://learn.microsoft.com/")
    assert "level 4" in maturity.SOURCES_NOTE and "level 3" in maturity.SOURCES_NOTE


def test_every_level_above_zero_has_questions_and_principles():
    grouped = maturity.principles_by_level()
    for number in range(1, 5):
        assert maturity.questions_for_level(number)
        assert grouped[number], f"no principle first appears at level {number}"
    assert len({q.id for q in QUESTIONS}) == len(QUESTIONS)


# ------------------------------------------------------------------ self-assessment


def all_yes_up_to(level: int) -> dict[str, bool]:
    return {q.id: q.level <= level for q in QUESTIONS}


@pytest.mark.parametrize("level", [0, 1, 2, 3, 4])
def test_assess_reaches_the_level_of_complete_answers(level):
    result = assess(all_yes_up_to(level))
    assert result.level == level
    assert result.scores[level] == 1.0
    if level < 4:
        assert result.next_level == level + 1
        assert [q.id for q in result.missing_for_next] == [
            q.id for q in maturity.questions_for_level(level + 1)
        ]
        assert result.scores[level + 1] == 0.0
    else:
        assert result.next_level is None
        assert result.missing_for_next == []


def test_assess_needs_every_level_below():
    answers = {q.id: True for q in QUESTIONS}
    answers["ci_builds"] = False  # one level-1 gap under a complete level 4
    result = assess(answers)
    assert result.level == 0
    assert [q.id for q in result.missing_for_next] == ["ci_builds"]
    assert result.scores[4] == 1.0
    assert result.scores[1] == 0.8
    assert [q.id for q in result.blocked_by] == ["ci_builds"]


def test_assess_partial_level_lists_only_the_missing_questions():
    answers = all_yes_up_to(2)
    answers["automated_release"] = True
    result = assess(answers)
    assert result.level == 2
    missing = [q.id for q in result.missing_for_next]
    assert "automated_release" not in missing
    assert missing == ["model_api", "production_monitoring", "release_tests", "shared_scoring_code"]
    assert result.scores[3] == 0.2


def test_unanswered_questions_count_as_no():
    result = assess({"code_in_git": True})
    assert result.level == 0
    assert "unit_tests" in result.unanswered and "code_in_git" not in result.unanswered
    assert result.answers["unit_tests"] is False


def test_unknown_question_lists_the_valid_ids():
    with pytest.raises(UnknownQuestionError) as info:
        assess({"code_in_git": True, "uses_kubernetes": True})
    message = str(info.value)
    assert "uses_kubernetes" in message
    for q in QUESTIONS:
        assert q.id in message
    assert isinstance(info.value, UnknownParameterError)
    assert isinstance(info.value, KitError)


def test_answers_must_be_yes_or_no():
    assert assess({"code_in_git": "yes", "unit_tests": "No"}).answers["code_in_git"] is True
    with pytest.raises(BadAnswerError, match="unit_tests"):
        assess({"unit_tests": 3})
    with pytest.raises(BadAnswerError):
        assess(["code_in_git"])


def test_load_answers_from_yaml(tmp_path):
    flat = tmp_path / "flat.yaml"
    flat.write_text("code_in_git: yes\nunit_tests: no\n")
    assert load_answers(flat) == {"code_in_git": True, "unit_tests": False}
    nested = tmp_path / "nested.yaml"
    nested.write_text("answers:\n  ci_builds: true\n")
    assert load_answers(nested) == {"ci_builds": True}
    empty = tmp_path / "empty.yaml"
    empty.write_text("")
    assert load_answers(empty) == {}


@pytest.mark.parametrize(
    "text, error",
    [
        ("- code_in_git\n", BadAnswerError),
        ("code_in_git: [unclosed\n", BadAnswerError),
        ("cloud_native: yes\n", UnknownQuestionError),
        ("code_in_git: maybe\n", BadAnswerError),
    ],
)
def test_load_answers_rejects_bad_files(tmp_path, text, error):
    path = tmp_path / "answers.yaml"
    path.write_text(text)
    with pytest.raises(error):
        load_answers(path)


def test_load_answers_missing_file(tmp_path):
    with pytest.raises(BadAnswerError, match="does not exist"):
        load_answers(tmp_path / "nope.yaml")


def test_example_answers_file_is_a_learner_after_module_one():
    answers = load_answers(ROOT / "examples" / "maturity" / "answers.yaml")
    assert set(answers) == {q.id for q in QUESTIONS}
    result = assess(answers)
    assert result.level == 0
    assert [q.id for q in result.missing_for_next] == [
        "unit_tests",
        "ci_builds",
        "operation_metrics",
    ]


def test_plot_assessment_highlights_the_reached_level():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    result = assess(all_yes_up_to(2))
    ax = plot_assessment(result)
    heights = [p.get_height() for p in ax.patches]
    assert heights == [1.0, 1.0, 1.0, 0.0, 0.0]
    colors = [p.get_facecolor() for p in ax.patches]
    assert colors[2] != colors[1] and colors[2] != colors[3]
    assert "2" in ax.get_title()
    plt.close(ax.figure)


# the scan has its own test files: test_maturity_scan.py (rules) and test_maturity_corpus.py
# (real repositories against reviewers' labels)


# ------------------------------------------------------------------ CLI


def test_cli_prints_the_five_levels(capsys):
    assert main(["maturity"]) == 0
    out = capsys.readouterr().out
    for lv in LEVELS:
        assert f"Level {lv.number}: {lv.name}" in out


def test_cli_answers_json(tmp_path, capsys):
    path = tmp_path / "a.yaml"
    path.write_text("code_in_git: yes\ndata_by_script: yes\nunit_tests: yes\n")
    assert main(["maturity", "--answers", str(path), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["assessment"]["level"] == 0
    assert [m["id"] for m in data["assessment"]["missing_for_next"]] == [
        "ci_builds",
        "operation_metrics",
    ]


def test_cli_answers_text_and_plot(tmp_path, capsys):
    path = tmp_path / "a.yaml"
    path.write_text("code_in_git: yes\n")
    png = tmp_path / "out" / "chart.png"
    assert main(["maturity", "--answers", str(path), "--plot", str(png)]) == 0
    out = capsys.readouterr().out
    assert "level 0 (No MLOps)" in out and "Missing for level 1" in out and "unit_tests" in out
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert [p.name for p in png.parent.iterdir()] == ["chart.png"]


def test_cli_scan_shows_levels_projects_and_evidence(tmp_path, capsys):
    root = maturity.write_demo_project(tmp_path / "proj", 2)
    assert main(["maturity", "--scan", str(root), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)["scan"]
    assert data["level"] == 2
    assert len(data["evidence"]) == len(scan(root).evidence)
    assert [p["path"] for p in data["projects"]] == ["."]
    assert [lv["level"] for lv in data["levels"]] == [1, 2, 3, 4]
    missing = {m["id"] for m in data["levels"][2]["missing"]}
    assert missing == {"deployment", "serving", "monitoring"}
    assert main(["maturity", "--scan", str(root)]) == 0
    out = capsys.readouterr().out
    assert "level 2 (Automated training)" in out
    assert "Level 2 is met; level 3 needs" in out
    assert "level 3  Automated model deployment" in out and "missing:" in out
    for item in scan(root).evidence:
        assert f"{item.where}: {item.detail}" in out


def test_cli_bad_input_is_one_paragraph_without_traceback(tmp_path, capsys):
    path = tmp_path / "a.yaml"
    path.write_text("uses_kubernetes: yes\n")
    assert main(["maturity", "--answers", str(path)]) == 2
    err = capsys.readouterr().err
    assert "uses_kubernetes" in err and "code_in_git" in err and "Traceback" not in err
    assert main(["maturity", "--plot", str(tmp_path / "x.png")]) == 2
    assert "--plot needs" in capsys.readouterr().err


@pytest.mark.parametrize("level", [0, 1, 2, 3, 4])
def test_demo_project_scans_to_its_level(tmp_path, level):
    result = scan(maturity.write_demo_project(tmp_path, level))
    assert result.level == level
    assert result.scores[level] == 1.0
    wanted = [r.id for r in maturity.REQUIREMENTS if r.level == level + 1]
    assert [r.id for r in result.missing_for_next] == wanted


def test_demo_project_rejects_a_bad_level(tmp_path):
    with pytest.raises(BadParameterError):
        maturity.write_demo_project(tmp_path, 7)
    assert list(tmp_path.iterdir()) == []


def test_notebook_04_starts_from_the_example_learner():
    """Notebook 04's default answers are the "yes" answers of the example file."""
    from mlops_kit.execution.runner import notebook_parameters

    answers = load_answers(ROOT / "examples" / "maturity" / "answers.yaml")
    declared = notebook_parameters(ROOT / "notebooks" / "04_maturity_model.ipynb")
    assert declared["answers"]["default"] == {k: True for k, v in answers.items() if v}


def test_coerce_answers_accepts_dict_text_and_file(tmp_path):
    assert maturity.coerce_answers(None) == {}
    assert maturity.coerce_answers({"unit_tests": True}) == {"unit_tests": True}
    assert maturity.coerce_answers('{"unit_tests": true, "ci_builds": "no"}') == {
        "unit_tests": True,
        "ci_builds": False,
    }
    path = tmp_path / "a.yaml"
    path.write_text("code_in_git: yes\n")
    assert maturity.coerce_answers(str(path)) == {"code_in_git": True}
    with pytest.raises(BadAnswerError):
        maturity.coerce_answers("just words")
    with pytest.raises(BadAnswerError):
        maturity.coerce_answers(42)
    with pytest.raises(BadAnswerError, match="does not exist"):
        maturity.coerce_answers(str(tmp_path / "missing.yaml"))
    with pytest.raises(UnknownQuestionError):
        maturity.coerce_answers('{"kubernetes": true}')


def test_cli_questions_and_levels_json(capsys):
    assert main(["maturity", "--questions"]) == 0
    out = capsys.readouterr().out
    assert all(f"{q.id}: {q.text}" in out for q in QUESTIONS)
    assert main(["maturity", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert [lv["level"] for lv in data["levels"]] == [0, 1, 2, 3, 4]
    assert data["levels"][4]["model_creation"] == list(LEVELS[4].model_creation)
