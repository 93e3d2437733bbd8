"""The maturity scan's rules: evidence from what files do, projects, per-level verdicts.

Small trees written by each test; real repositories are in test_maturity_corpus.py.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mlops_kit.lessons import maturity
from mlops_kit.lessons.maturity import (
    EVIDENCE_KINDS,
    REQUIREMENTS,
    Evidence,
    ScanPathError,
    scan,
    scan_from_evidence,
    write_demo_project,
)
from mlops_kit.lessons.maturity.commands import logical_lines, parse_makefile
from mlops_kit.lessons.maturity.projects import project_roots
from mlops_kit.lessons.maturity.yamlnodes import load_mapping

ROOT = Path(__file__).resolve().parents[2]


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


def found(result) -> set[tuple[str, str]]:
    return {(e.kind, e.where) for e in result.evidence}


# ------------------------------------------------------------------ levels on the demo project


@pytest.mark.parametrize("level", [0, 1, 2, 3, 4])
def test_demo_project_scans_to_its_level(tmp_path, level):
    result = scan(write_demo_project(tmp_path, level))
    assert result.level == level
    assert result.scores[level] == 1.0
    wanted = [r.id for r in REQUIREMENTS if r.level == level + 1]
    assert [r.id for r in result.missing_for_next] == wanted
    if level < 4:
        assert result.scores[level + 1] == 0.0


def test_every_requirement_names_its_evidence(tmp_path):
    result = scan(write_demo_project(tmp_path, 4))
    assert {
        ("tests", "tests/test_prepare.py:1"),
        ("ci", "Makefile:2"),  # the workflow's `make test` runs the recipe's pytest
        ("pipeline", "pipeline/train_flow.py:14"),
        ("tracking", "pipeline/train_flow.py:8"),
        ("registry", "pipeline/train_flow.py:11"),
        ("deployment", ".github/workflows/deploy.yml:11"),
        ("serving", "service/predict.py:8"),
        ("monitoring", "monitoring/drift.py:6"),
        ("retraining", "prefect.yaml:6"),
        ("promotion", "pipeline/promote.py:9"),
        ("notebook", "notebooks/duration-prediction.ipynb"),
    } <= found(result)
    assert result.summary == "Every level is met."
    assert result.confidence == "high"
    assert all(check.complete for check in result.levels)


def test_scan_is_deterministic_and_relative(tmp_path):
    root = write_demo_project(tmp_path, 4)
    first, second = scan(root), scan(root)
    assert first == second
    order = list(EVIDENCE_KINDS)
    assert first.evidence == sorted(
        first.evidence, key=lambda e: (order.index(e.kind), e.path, e.line, e.detail)
    )
    for item in first.evidence:
        assert not item.path.startswith("/") and "\\" not in item.path
        assert str(tmp_path) not in item.detail


def test_levels_above_a_missing_one_are_shown(tmp_path):
    root = write_demo_project(tmp_path, 4)
    (root / "tests" / "test_prepare.py").unlink()
    (root / ".github" / "workflows" / "tests.yml").unlink()
    result = scan(root)
    assert result.level == 0
    assert [check.number for check in result.levels if check.complete] == [2, 3, 4]
    assert result.summary == (
        "Levels 2, 3 and 4 are met, but level 1 needs automated tests; "
        "CI that runs your tests first."
    )


def test_scan_from_evidence_levels():
    items = [
        Evidence("tests", "t.py", 1, "defines test_x()"),
        Evidence("ci", "ci.yml", 3, "runs tests"),
    ]
    assert scan_from_evidence(items).level == 1
    assert scan_from_evidence(items[:1]).level == 0
    assert scan_from_evidence(items).levels[1].missing[0].id == "pipeline"


def test_weak_evidence_lowers_the_confidence(tmp_path):
    write(tmp_path, {"mlruns/0/meta.yaml": "name: Default\n", "mlflow.db": ""})
    result = scan(tmp_path)
    assert {(e.kind, e.where, e.weak) for e in result.evidence} == {
        ("tracking", "mlruns/", True),
        ("tracking", "mlflow.db", True),
    }
    assert (
        result.confidence == "medium" and "experiment tracking" in result.project.confidence_reason
    )


# ------------------------------------------------------------------ words are not actions


def test_strings_comments_and_echo_are_not_evidence(tmp_path):
    write(
        tmp_path,
        {
            "docs_helper.py": (
                "# import mlflow\nEXAMPLE = 'import mlflow\\nmlflow.register_model(uri, name)'\n"
                "PATTERN = 'from evidently import Report'\n"
            ),
            ".github/workflows/cd.yml": (
                "on: push\njobs:\n  deploy:\n    steps:\n"
                "      # deploy the model: docker push my/image\n"
                "      - name: Deploy to production\n"
                "        run: echo 'deploying... docker push my/image'\n"
                "      - run: pip install pytest\n"
                "      - run: terraform plan\n"
                "      - run: mkdocs gh-deploy --force\n"
            ),
        },
    )
    result = scan(tmp_path)
    assert result.kinds() == {"ci_config"}
    assert result.level == 0
    assert result.summary == "Level 1 needs automated tests; CI that runs your tests."


def test_a_test_file_that_mocks_a_registry_is_only_a_test(tmp_path):
    write(
        tmp_path,
        {
            "tests/test_registry.py": (
                "import mlflow\n\n\ndef test_register(monkeypatch):\n"
                "    mlflow.register_model('runs:/1/model', 'x')\n"
            ),
            "tests/test_helpers.py": "X = 1\n",  # no test function: no evidence
        },
    )
    assert found(scan(tmp_path)) == {("tests", "tests/test_registry.py:4")}


def test_autolog_disabled_is_not_tracking(tmp_path):
    write(tmp_path, {"score.py": "import mlflow\nmlflow.autolog(disable=True)\n"})
    assert scan(tmp_path).evidence == []


def test_a_route_that_uses_no_model_is_not_serving(tmp_path):
    write(
        tmp_path,
        {
            "health.py": "from fastapi import FastAPI\napp = FastAPI()\n\n\n"
            "@app.get('/health')\ndef health():\n    return {'ok': True}\n",
            "api.py": "import pickle\nfrom flask import Flask\napp = Flask('x')\n"
            "model = pickle.load(open('m.bin', 'rb'))\n\n\n@app.route('/predict')\n"
            "def predict():\n    return str(model.predict([[1]]))\n",
        },
    )
    assert found(scan(tmp_path)) == {("serving", "api.py:7")}


def test_notebook_cells_with_magics_share_their_imports(tmp_path):
    write(
        tmp_path,
        {
            "nb/track.ipynb": notebook(
                "%pip install mlflow\n!ls\nimport mlflow",
                "mlflow.set_tracking_uri('sqlite:///mlflow.db')\nwith mlflow.start_run():\n"
                "    mlflow.log_metric('rmse', 1.0)",
                "mlflow.sklearn.log_model(lr, 'model', registered_model_name='dur')",
                "def broken(:",
            )
        },
    )
    details = {(e.kind, e.detail) for e in scan(tmp_path).evidence}
    assert ("tracking", "calls with mlflow.start_run(): (code cell 2)") in details
    assert any(k == "registry" and "(code cell 3)" in d for k, d in details)


def test_unparsable_python_still_counts_its_imports_but_not_as_actions(tmp_path):
    write(tmp_path, {"broken.py": "import mlflow\ndef oops(:\n    mlflow.log_metric('a', 1)\n"})
    assert scan(tmp_path).evidence == []


# ------------------------------------------------------------------ CI/CD systems


def test_github_working_directory_paths_and_cd_scope_evidence_to_a_project(tmp_path):
    write(
        tmp_path,
        {
            "01-intro/notebook.ipynb": notebook("import pandas"),
            "06-best-practices/code/tests/test_model.py": "def test_a():\n    assert True\n",
            "06-best-practices/code/Makefile": "unit:\n\tpipenv run pytest tests/\n",
            ".github/workflows/ci.yml": (
                "on:\n  pull_request:\n    paths: ['06-best-practices/code/**']\n"
                "jobs:\n  test:\n    steps:\n      - run: |\n"
                "          cd 06-best-practices/code\n          make unit\n"
            ),
        },
    )
    result = scan(tmp_path)
    assert result.project.path == "06-best-practices"
    assert result.level == 1
    assert ("ci", "06-best-practices/code/Makefile:2") in found(result)
    assert {p.path for p in result.projects} >= {"01-intro", "06-best-practices", "."}


def test_azure_pipelines_anywhere_with_templates_and_a_pipeline_trigger(tmp_path):
    write(
        tmp_path,
        {
            "tests/test_x.py": "def test_x():\n    pass\n",
            ".pipelines/pr.yml": "pr:\n  branches:\n    include: [main]\ntrigger: none\n"
            "steps:\n- template: quality.yml\n",
            ".pipelines/quality.yml": "steps:\n- script: |\n    python -m pytest .\n"
            "  displayName: 'Run unit tests'\n",
            ".pipelines/cd.yml": "trigger: none\nresources:\n  pipelines:\n"
            "  - pipeline: train\n    source: Model-Train-CI\n    trigger:\n"
            "      branches: [main]\nstages:\n- stage: deploy\n  jobs:\n  - job: aci\n"
            "    steps:\n    - task: AzureCLI@1\n      inputs:\n        inlineScript: |\n"
            "          az ml model deploy --name svc --model m:1\n",
        },
    )
    result = scan(tmp_path)
    assert {
        ("ci", ".pipelines/quality.yml:3"),
        ("deployment", ".pipelines/cd.yml:16"),
        ("promotion", ".pipelines/cd.yml:16"),
    } <= found(result)
    promotion = next(e for e in result.evidence if e.kind == "promotion")
    assert "'Model-Train-CI'" in promotion.detail and not promotion.weak


@pytest.mark.parametrize(
    "rel, text, line",
    [
        (".gitlab-ci.yml", "stages: [test]\nunit:\n  stage: test\n  script:\n    - pytest\n", 5),
        (
            ".circleci/config.yml",
            "version: 2.1\njobs:\n  test:\n    steps:\n      - checkout\n"
            "      - run:\n          command: python -m pytest\n",
            7,
        ),
        (
            "Jenkinsfile",
            "pipeline {\n  stages {\n    stage('t') {\n      steps {\n"
            "        sh 'pytest -q'\n      }\n    }\n  }\n}\n",
            5,
        ),
        (
            "bitbucket-pipelines.yml",
            "pipelines:\n  default:\n    - step:\n        script:\n          - tox\n",
            5,
        ),
    ],
)
def test_other_ci_systems_run_tests(tmp_path, rel, text, line):
    write(tmp_path, {rel: text, "test_unit.py": "def test_a():\n    pass\n"})
    result = scan(tmp_path)
    assert ("ci", f"{rel}:{line}") in found(result)
    assert result.level == 1


def test_cloud_build_and_push_action_are_deployments(tmp_path):
    write(
        tmp_path,
        {
            "cloudbuild.yaml": "steps:\n- name: gcr.io/cloud-builders/docker\n"
            "  args: ['push', 'gcr.io/p/app']\n- name: gcr.io/google.com/cloudsdktool/cloud-sdk\n"
            "  entrypoint: gcloud\n  args:\n  - run\n  - deploy\n  - app\n",
            ".github/workflows/cd.yml": "on: push\njobs:\n  b:\n    steps:\n"
            "      - uses: docker/build-push-action@v5\n        with:\n          push: true\n"
            "      - uses: docker/build-push-action@v5\n        with:\n          push: false\n",
        },
    )
    assert {
        ("deployment", "cloudbuild.yaml:3"),
        ("deployment", "cloudbuild.yaml:7"),
        ("deployment", ".github/workflows/cd.yml:5"),
    } == {(k, w) for k, w in found(scan(tmp_path)) if k == "deployment"}


def test_a_scheduled_workflow_that_trains_is_retraining(tmp_path):
    write(
        tmp_path,
        {
            ".github/workflows/nightly.yml": (
                "on:\n  schedule:\n    - cron: '0 3 * * *'\njobs:\n  run:\n"
                "    steps:\n      - run: python train.py --month latest\n"
            ),
            "train.py": "from sklearn.linear_model import LinearRegression\n"
            "LinearRegression().fit([[0]], [0])\n",
        },
    )
    result = scan(tmp_path)
    assert {
        ("pipeline", ".github/workflows/nightly.yml:7"),
        ("retraining", ".github/workflows/nightly.yml:7"),
    } <= found(result)
    retrain = next(e for e in result.evidence if e.kind == "retraining")
    assert "0 3 * * *" in retrain.detail


def test_ci_follows_make_targets_scripts_and_job_entrypoints(tmp_path):
    write(
        tmp_path,
        {
            "Makefile": "PYTEST := poetry run pytest\nci: lint unit\nlint:\n\truff .\n"
            "unit:\n\t$(PYTEST) -q\n",
            "scripts/run.sh": '#!/bin/sh\ncd "$(dirname "$0")/.."\nmake ci\n',
            "jobs/job.yaml": "entrypoint: bash scripts/train.sh\n",
            "scripts/train.sh": "python src/train_model.py\n",
            ".github/workflows/ci.yml": "on: [push]\njobs:\n  t:\n    steps:\n"
            "      - run: bash scripts/run.sh\n      - run: anyscale jobs submit jobs/job.yaml\n",
        },
    )
    result = scan(tmp_path)
    assert ("ci", "Makefile:6") in found(result)
    assert ("pipeline", "scripts/train.sh:1") in found(result)
    ci = next(e for e in result.evidence if e.kind == "ci")
    assert "poetry run pytest -q" in ci.detail and "run by .github/workflows/ci.yml" in ci.detail


# ------------------------------------------------------------------ orchestrators and configs


def test_prefect_2_deployment_yaml_with_a_weekly_cron(tmp_path):
    write(
        tmp_path,
        {
            "flows/train.py": "from prefect import flow\n\n\n@flow\ndef main():\n"
            "    train_model()\n",
            "flows/main-deployment.yaml": "name: weekly\nflow_name: main\n"
            "schedule:\n  cron: 0 0 * * 0\n  timezone: UTC\nentrypoint: train.py:main\n",
            "flows/score-deployment.yaml": "name: s\nflow_name: score\nschedule:\n"
            "  cron: '* * * * *'\nentrypoint: score.py:score\n",
            "flows/score.py": "from prefect import flow\n\n\n@flow\ndef score():\n    pass\n",
        },
    )
    result = scan(tmp_path)
    assert {
        ("pipeline", "flows/main-deployment.yaml:6"),
        ("retraining", "flows/main-deployment.yaml:4"),
    } <= found(result)
    assert not any("score" in e.path for e in result.evidence if e.kind == "retraining")


def test_mage_pipeline_and_time_trigger(tmp_path):
    write(
        tmp_path,
        {
            "mlops/proj/pipelines/train/metadata.yaml": "uuid: train\nblocks:\n"
            "- uuid: ingest\n- uuid: train_sklearn\n",
            "mlops/proj/pipelines/train/triggers.yaml": "triggers:\n- name: monthly\n"
            "  schedule_type: time\n  schedule_interval: '@monthly'\n  status: active\n",
        },
    )
    assert {
        ("pipeline", "mlops/proj/pipelines/train/metadata.yaml:2"),
        ("retraining", "mlops/proj/pipelines/train/triggers.yaml:4"),
    } <= found(scan(tmp_path))


def test_airflow_schedule_and_drift_triggered_training(tmp_path):
    write(
        tmp_path,
        {
            "dags/train.py": "from airflow import DAG\nfrom airflow.operators.bash import "
            "BashOperator\n\nwith DAG('t', schedule_interval='@weekly') as dag:\n"
            "    BashOperator(task_id='train_model', bash_command='python train.py')\n",
            "monitor.py": "from evidently import Report\n\n\ndef check(report, drift_share):\n"
            "    if drift_share > 0.3:\n        run_deployment('train/monthly')\n",
        },
    )
    assert {
        ("pipeline", "dags/train.py:4"),
        ("retraining", "dags/train.py:4"),
        ("retraining", "monitor.py:5"),
    } <= found(scan(tmp_path))


def test_compose_grafana_dashboards_and_the_full_image_name(tmp_path):
    write(
        tmp_path,
        {
            "docker-compose.yaml": "services:\n  grafana:\n    image: grafana/grafana:10.1\n"
            "  app:\n    build: .\n",
            "monitoring/grafana/dashboards/drift.json": json.dumps(
                {"title": "Drift", "panels": [{"title": "share"}]}
            ),
            "monitoring/prometheus.yml": "scrape_configs:\n  - job_name: app\n",
        },
    )
    details = {(e.where, e.detail) for e in scan(tmp_path).evidence if e.kind == "monitoring"}
    assert details == {
        ("docker-compose.yaml:3", "Compose service 'grafana' runs grafana/grafana:10.1"),
        ("monitoring/grafana/dashboards/drift.json:1", "Grafana dashboard 'Drift' (1 panels)"),
        ("monitoring/prometheus.yml:1", "Prometheus scrape config"),
    }


def test_zenml_deployer_step_and_bentoml_service(tmp_path):
    write(
        tmp_path,
        {
            "pipelines/deploy.py": "from zenml import pipeline\nfrom zenml.integrations.bentoml"
            ".steps import bentoml_model_deployer_step\n\n\n@pipeline\ndef deploy():\n"
            "    bentoml_model_deployer_step(bento=None, model_name='m', port=3000)\n",
            "service.py": "import bentoml\n\n\n@bentoml.service\nclass Svc:\n"
            "    @bentoml.api\n    def predict(self, x):\n        return x\n",
        },
    )
    assert {("deployment", "pipelines/deploy.py:7"), ("serving", "service.py:6")} <= found(
        scan(tmp_path)
    )


# ------------------------------------------------------------------ projects and the walk


def test_collections_are_separate_projects_and_parts_are_one():
    files = [
        "01-intro/a.ipynb",
        "cohorts/2023/03-orchestration/prefect/3.2/flow.py",
        "homework/hw1.ipynb",
        "training/requirements.txt",
        "deployment/Dockerfile",
        "infrastructure/modules/lambda/main.tf",
    ]
    assert project_roots(files) == [
        ".",
        "01-intro",
        "cohorts",
        "homework",
        "cohorts/2023",
        "cohorts/2023/03-orchestration",
        "cohorts/2023/03-orchestration/prefect/3.2",
    ]


def test_a_capstone_s_parts_add_up_to_one_project(tmp_path):
    root = write_demo_project(tmp_path, 3)
    write(root, {"service/requirements.txt": "fastapi\n", "pipeline/pyproject.toml": ""})
    result = scan(root)
    assert [p.path for p in result.projects] == ["."]
    assert result.project.parts == (".", "pipeline", "service")
    assert result.level == 3


def test_skipped_folders_are_not_read(tmp_path):
    write(
        tmp_path,
        {
            ".venv/lib/python3.11/site-packages/mlflow/__init__.py": "import mlflow\n",
            "node_modules/x/test_thing.py": "def test_x():\n    pass\n",
            "build/lib/test_train.py": "def test_x():\n    pass\n",
            ".git/hooks/test_hook.py": "def test_x():\n    pass\n",
            "myenv/pyvenv.cfg": "home = /usr/bin\n",
            "myenv/lib/test_env.py": "def test_x():\n    pass\n",
        },
    )
    assert scan(tmp_path).evidence == []


def test_size_cap_bounds_reading(tmp_path):
    filler = "x = 1\n" * 2000
    write(
        tmp_path,
        {
            "head.py": "import mlflow\nmlflow.log_metric('a', 1)\n" + filler,
            "tail.py": filler + "import wandb\nwandb.init()\n",
        },
    )
    result = scan(tmp_path, max_file_bytes=1000)
    assert {e.path for e in result.evidence} == {"head.py"}
    assert result.truncated == ["head.py", "tail.py"]
    assert result.confidence == "low"  # one piece of evidence, files cut
    assert {e.path for e in scan(tmp_path).evidence} == {"head.py", "tail.py"}


def test_file_cap_reports_the_files_not_read(tmp_path):
    write(tmp_path, {f"test_{i}.py": "def test_x():\n    pass\n" for i in range(5)})
    result = scan(tmp_path, max_files=3)
    assert result.files_scanned == 3
    assert len(result.truncated) == 2
    assert len([e for e in result.evidence if e.kind == "tests"]) == 3


def test_scan_rejects_a_missing_folder(tmp_path):
    with pytest.raises(ScanPathError, match="not an existing folder"):
        scan(tmp_path / "missing")
    (tmp_path / "file.txt").write_text("x")
    with pytest.raises(ScanPathError):
        scan(tmp_path / "file.txt")


def test_scan_of_the_kits_own_repo_names_real_lines():
    result = scan(ROOT)
    assert result.level >= 1
    assert {"tests", "ci"} <= result.kinds()
    for item in result.evidence:
        assert (ROOT / item.path.rstrip("/")).exists(), item
    # the scanner's own patterns and the demo project's text are not mistaken for evidence
    assert not any(e.path.startswith("lib/mlops_kit/lessons/maturity") for e in result.evidence)


# ------------------------------------------------------------------ the readers


def test_yaml_keeps_lines_and_reads_on_as_text():
    doc = load_mapping(
        "on:\n  push:\n    branches: [main]\njobs:\n  a:\n    steps:\n"
        "      - run: |\n          pytest\n"
    )
    assert list(doc) == ["on", "jobs"] and doc.line_of("jobs") == 4
    step = doc["jobs"]["a"]["steps"][0]
    assert step["run"].line == 7 and step["run"].block and step["run"] == "pytest\n"
    assert load_mapping("{{ template }}: [") is None


def test_commands_join_continuations_and_split_and_or():
    assert logical_lines("docker build -t x \\\n  . && docker push x\n# note\n", 10) == [
        (10, "docker build -t x  ."),
        (10, "docker push x"),
        (12, "# note"),
    ]
    targets = parse_makefile("BIN = .venv/bin\ntest: deps\n\t$(BIN)/pytest\ndeps:\n\tpip x\n")
    assert targets["test"] == (["deps"], [(3, ".venv/bin/pytest")])


def test_package_exports():
    for name in ("scan", "ScanResult", "ProjectResult", "LevelCheck", "Evidence", "REQUIREMENTS"):
        assert hasattr(maturity, name)
