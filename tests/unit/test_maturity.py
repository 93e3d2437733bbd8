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
    Evidence,
    ScanPathError,
    UnknownQuestionError,
    assess,
    load_answers,
    plot_assessment,
    scan,
    scan_from_evidence,
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


# ------------------------------------------------------------------ scan fixtures


def write(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def notebook(*cells: str) -> str:
    return json.dumps(
        {
            "cells": [
                {"cell_type": "code", "source": src, "metadata": {}, "outputs": []} for src in cells
            ],
            "metadata": {},
            "nbformat": 4,
            "nbformat_minor": 5,
        }
    )


LEVEL_FILES: list[dict[str, str]] = [
    {  # 0: a notebook and a pickled model
        "duration-prediction.ipynb": notebook(
            "import pandas as pd\nfrom sklearn.linear_model import LinearRegression",
            "df = pd.read_parquet('green_tripdata_2021-01.parquet')",
        ),
        "models/lin_reg.bin": "not really a pickle",
    },
    {  # 1: tests and CI
        "tests/test_features.py": "def test_duration():\n    assert 1 + 1 == 2\n",
        ".github/workflows/ci.yml": (
            "name: ci\non: [push]\njobs:\n  test:\n    runs-on: ubuntu-latest\n"
            "    steps:\n      - run: pytest\n"
        ),
        "Makefile": "test:\n\tpytest tests\n\nquality_checks:\n\tblack .\n",
    },
    {  # 2: tracking, a training flow and a registry
        "orchestration/train_flow.py": (
            "import mlflow\nfrom prefect import flow, task\n\n\n@task\n"
            "def train_model(X, y):\n    with mlflow.start_run():\n"
            "        mlflow.log_metric('rmse', 1.0)\n\n\n"
            "@flow\ndef main():\n    train_model(1, 2)\n"
        ),
        "registry/promote.py": (
            "from mlflow.tracking import MlflowClient\n\nclient = MlflowClient()\n"
            "client.transition_model_version_stage(name='dur', version=2, stage='Production')\n"
        ),
    },
    {  # 3: automated deployment and monitoring
        "deployment/Dockerfile": "FROM python:3.11-slim\nCOPY predict.py .\n",
        ".github/workflows/cd-deploy.yml": (
            "name: cd\non:\n  push:\n    branches: [main]\njobs:\n  release:\n"
            "    steps:\n      - name: Deploy the model service\n"
            "        run: ./scripts/release.sh\n"
        ),
        "monitoring/metrics.py": (
            "from evidently import Report\nfrom evidently.presets import DataDriftPreset\n"
        ),
        "monitoring/config/grafana_datasources.yaml": "apiVersion: 1\n",
        "monitoring/grafana/dashboards/drift.json": "{}\n",
    },
    {  # 4: retraining on drift
        "monitoring/retrain_on_drift.py": (
            "def retrain_if_drifted(share):\n    if share > 0.3:\n        return True\n"
        ),
    },
]


def make_level_tree(root: Path, level: int) -> Path:
    for files in LEVEL_FILES[: level + 1]:
        write(root, files)
    return root


@pytest.mark.parametrize("level", [0, 1, 2, 3, 4])
def test_scan_fixture_tree_per_level(tmp_path, level):
    result = scan(make_level_tree(tmp_path, level))
    assert result.level == level
    expected = {
        0: {"notebook"},
        1: {"tests", "ci"},
        2: {"tracking", "orchestration", "registry"},
        3: {"deployment", "container", "monitoring"},
        4: {"retraining"},
    }
    wanted = set().union(*(expected[n] for n in range(level + 1)))
    assert wanted <= result.kinds()
    if level < 4:
        assert result.missing_for_next
        assert all(r.level == level + 1 for r in result.missing_for_next)
        assert result.scores[level + 1] == 0.0
    else:
        assert result.missing_for_next == []


def test_scan_names_each_piece_of_evidence(tmp_path):
    result = scan(make_level_tree(tmp_path, 4))
    found = {(e.kind, e.path) for e in result.evidence}
    assert ("notebook", "duration-prediction.ipynb") in found
    assert ("tests", "tests/test_features.py") in found
    assert ("tests", "Makefile") in found
    assert ("ci", ".github/workflows/ci.yml") in found
    assert ("tracking", "orchestration/train_flow.py") in found
    assert ("orchestration", "orchestration/train_flow.py") in found
    assert ("registry", "registry/promote.py") in found
    assert ("deployment", ".github/workflows/cd-deploy.yml") in found
    assert ("container", "deployment/Dockerfile") in found
    assert ("monitoring", "monitoring/metrics.py") in found
    assert ("monitoring", "monitoring/grafana/dashboards/drift.json") in found
    assert ("retraining", "monitoring/retrain_on_drift.py") in found
    details = {e.detail for e in result.evidence}
    assert "imports mlflow (line 1)" in details
    assert "calls transition_model_version_stage() (line 4)" in details
    assert "Makefile target 'test'" in details
    # nothing else slipped in: the CI workflow does not deploy, the quality target is no test
    assert ("deployment", ".github/workflows/ci.yml") not in found
    assert not any(e.detail == "Makefile target 'quality_checks'" for e in result.evidence)


def test_scan_is_deterministic_and_relative(tmp_path):
    root = make_level_tree(tmp_path, 4)
    first, second = scan(root), scan(root)
    assert first == second
    order = list(maturity.EVIDENCE_KINDS)
    assert first.evidence == sorted(
        first.evidence, key=lambda e: (order.index(e.kind), e.path, e.detail)
    )
    for item in first.evidence:
        assert not item.path.startswith("/") and "\\" not in item.path
        assert str(tmp_path) not in item.detail


def test_higher_evidence_without_the_basics_stays_at_level_zero(tmp_path):
    write(tmp_path, LEVEL_FILES[2])
    write(tmp_path, LEVEL_FILES[3])
    write(tmp_path, LEVEL_FILES[4])
    result = scan(tmp_path)
    assert result.level == 0
    assert result.scores[2] == result.scores[3] == result.scores[4] == 1.0
    # the CD workflow is CI too, so only the tests are missing
    assert [r.id for r in result.missing_for_next] == ["tests"]


def test_strings_and_comments_are_not_evidence(tmp_path):
    write(
        tmp_path,
        {
            "docs_helper.py": (
                "# import mlflow\nEXAMPLE = 'import mlflow\\nmlflow.register_model(uri, name)'\n"
                "PATTERN = 'from evidently import Report'\n"
            ),
        },
    )
    result = scan(tmp_path)
    assert result.evidence == []
    assert result.level == 0


def test_notebook_cells_with_magics_are_read(tmp_path):
    write(
        tmp_path,
        {
            "nb/track.ipynb": notebook(
                "%pip install mlflow\n!ls",
                "import mlflow\nmlflow.set_tracking_uri('sqlite:///mlflow.db')",
                "mlflow.sklearn.log_model(lr, 'model', registered_model_name='dur')",
            )
        },
    )
    result = scan(tmp_path)
    details = {(e.kind, e.detail) for e in result.evidence}
    assert ("tracking", "imports mlflow (code cell 2)") in details
    assert ("registry", "logs with registered_model_name= (code cell 3)") in details


def test_skipped_folders_are_not_read(tmp_path):
    write(
        tmp_path,
        {
            ".venv/lib/python3.11/site-packages/mlflow/__init__.py": "import mlflow\n",
            "node_modules/x/test_thing.py": "import evidently\n",
            "build/lib/train.py": "import prefect\n",
            ".git/hooks/test_hook.py": "import wandb\n",
            "myenv/pyvenv.cfg": "home = /usr/bin\n",
            "myenv/lib/test_env.py": "import airflow\n",
        },
    )
    result = scan(tmp_path)
    assert result.evidence == []


def test_mlruns_store_is_tracking_evidence(tmp_path):
    write(tmp_path, {"mlruns/0/meta.yaml": "name: Default\n"})
    result = scan(tmp_path)
    assert result.evidence == [Evidence("tracking", "mlruns/", "MLflow run store (mlruns)")]


def test_size_cap_bounds_reading(tmp_path):
    filler = "x = 1\n" * 2000
    write(
        tmp_path,
        {"head.py": "import mlflow\n" + filler, "tail.py": filler + "import wandb\n"},
    )
    result = scan(tmp_path, max_file_bytes=1000)
    details = {(e.path, e.detail) for e in result.evidence}
    assert ("head.py", "imports mlflow (line 1)") in details
    assert not any(path == "tail.py" for path, _ in details)
    assert result.truncated == ["head.py", "tail.py"]
    full = scan(tmp_path)
    assert any(e.path == "tail.py" for e in full.evidence)


def test_file_cap_reports_the_files_not_read(tmp_path):
    write(tmp_path, {f"test_{i}.py": "" for i in range(5)})
    result = scan(tmp_path, max_files=3)
    assert result.files_scanned == 3
    assert len(result.truncated) == 2
    assert len([e for e in result.evidence if e.kind == "tests"]) == 3


def test_deployment_and_retraining_configs(tmp_path):
    write(
        tmp_path,
        {
            "k8s/service.yaml": "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: dur\n",
            "infra/main.tf": 'resource "aws_lambda_function" "predict" {\n}\n',
            "scripts/deploy.sh": "#!/bin/sh\n",
            "docker-compose.yaml": "services:\n  grafana:\n    image: grafana/grafana:10\n",
            ".github/workflows/nightly.yml": (
                "on:\n  schedule:\n    - cron: '0 3 * * *'\njobs:\n  run:\n"
                "    steps:\n      - run: python train.py\n"
            ),
            "flows/train_pipeline.py": (
                "from prefect import flow\n\n@flow\ndef train():\n    pass\n\n"
                "train.serve(name='monthly', cron='0 0 1 * *')\n"
            ),
        },
    )
    found = {(e.kind, e.path) for e in scan(tmp_path).evidence}
    assert ("deployment", "k8s/service.yaml") in found
    assert ("deployment", "infra/main.tf") in found
    assert ("deployment", "scripts/deploy.sh") in found
    assert ("container", "docker-compose.yaml") in found
    assert ("monitoring", "docker-compose.yaml") in found
    assert ("retraining", ".github/workflows/nightly.yml") in found
    assert ("retraining", "flows/train_pipeline.py") in found


def test_scan_rejects_a_missing_folder(tmp_path):
    with pytest.raises(ScanPathError, match="not an existing folder"):
        scan(tmp_path / "missing")
    (tmp_path / "file.txt").write_text("x")
    with pytest.raises(ScanPathError):
        scan(tmp_path / "file.txt")


def test_scan_from_evidence_levels():
    items = [Evidence("tests", "t.py", "test module"), Evidence("ci", "ci.yml", "workflow")]
    assert scan_from_evidence(items).level == 1
    assert scan_from_evidence(items[:1]).level == 0


def test_scan_of_the_kits_own_repo_names_its_evidence():
    result = scan(ROOT)
    assert result.level >= 1
    kinds = result.kinds()
    assert {"tests", "ci"} <= kinds
    assert any(e.path == "tests/unit/test_maturity.py" for e in result.evidence)
    for item in result.evidence:
        assert (ROOT / item.path.rstrip("/")).exists(), item
    # the kit's own fixtures and patterns (strings in this file and in maturity.py) are not
    # mistaken for experiment tracking or a registry
    assert not any(e.path.startswith("lib/mlops_kit/maturity") for e in result.evidence)
    assert not any(
        e.path == "tests/unit/test_maturity.py" and e.kind != "tests" for e in result.evidence
    )


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


def test_cli_scan_lists_every_piece_of_evidence(tmp_path, capsys):
    root = make_level_tree(tmp_path / "proj", 2)
    assert main(["maturity", "--scan", str(root), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)["scan"]
    assert data["level"] == 2
    assert len(data["evidence"]) == len(scan(root).evidence)
    assert main(["maturity", "--scan", str(root)]) == 0
    out = capsys.readouterr().out
    assert "estimated level 2 (Automated training)" in out
    for item in scan(root).evidence:
        assert f"{item.path}: {item.detail}" in out


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


def test_unparsable_python_falls_back_to_import_lines(tmp_path):
    write(
        tmp_path,
        {
            "broken.py": "import mlflow\ndef oops(:\n",
            "deep.py": "x = " + "(" * 5000 + "1" + ")" * 5000 + "\nimport wandb\n",
        },
    )
    details = {(e.path, e.detail) for e in scan(tmp_path).evidence}
    assert ("broken.py", "imports mlflow (line 1)") in details
    assert ("deep.py", "imports wandb (line 2)") in details


def test_cli_questions_and_levels_json(capsys):
    assert main(["maturity", "--questions"]) == 0
    out = capsys.readouterr().out
    assert all(f"{q.id}: {q.text}" in out for q in QUESTIONS)
    assert main(["maturity", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert [lv["level"] for lv in data["levels"]] == [0, 1, 2, 3, 4]
    assert data["levels"][4]["model_creation"] == list(LEVELS[4].model_creation)
