"""A tiny demo project whose files evidence a chosen maturity level (for notebook 04).

Each level adds, on top of the levels below, the files a real project of that level would
have, written the way the scan reads them (what they do, not what they are called).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from .levels import level

_NOTEBOOK = json.dumps(
    {
        "cells": [
            {
                "cell_type": "code",
                "metadata": {},
                "outputs": [],
                "execution_count": None,
                "source": "import pandas as pd\nfrom sklearn.linear_model import LinearRegression",
            }
        ],
        "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3"}},
        "nbformat": 4,
        "nbformat_minor": 5,
    },
    indent=1,
)

#: the files of the demo project, by the level whose evidence they add
_DEMO_FILES: dict[int, dict[str, str]] = {
    0: {"notebooks/duration-prediction.ipynb": _NOTEBOOK + "\n"},
    1: {
        "tests/test_prepare.py": "def test_duration_is_in_minutes():\n    assert 90 / 60 == 1.5\n",
        ".github/workflows/tests.yml": "name: tests\non: [push, pull_request]\njobs:\n"
        "  unit:\n    runs-on: ubuntu-latest\n    steps:\n      - uses: actions/checkout@v4\n"
        "      - run: make test\n",
        "Makefile": "test:\n\tpytest tests\n",
    },
    2: {
        "pipeline/train_flow.py": "import mlflow\nfrom prefect import flow, task\n"
        "from sklearn.linear_model import LinearRegression\n\n\n@task\n"
        "def train(month: str):\n    with mlflow.start_run():\n"
        "        model = LinearRegression().fit([[0.0], [1.0]], [0.0, 1.0])\n"
        '        mlflow.log_param("month", month)\n'
        '        mlflow.sklearn.log_model(model, "model", registered_model_name="taxi-duration")'
        '\n\n\n@flow\ndef train_duration_model(month: str = "2021-01"):\n    train(month)\n',
    },
    3: {
        "service/predict.py": "import mlflow\nfrom fastapi import FastAPI\n\napp = FastAPI()\n"
        'model = mlflow.pyfunc.load_model("models:/taxi-duration@champion")\n\n\n'
        '@app.post("/predict")\ndef predict(ride: dict) -> dict:\n'
        '    return {"duration": float(model.predict([[ride["trip_distance"]]])[0])}\n',
        "service/Dockerfile": "FROM python:3.11-slim\nCOPY predict.py .\n"
        'CMD ["uvicorn", "predict:app", "--host", "0.0.0.0"]\n',
        ".github/workflows/deploy.yml": "name: deploy\non:\n  push:\n    branches: [main]\n"
        "jobs:\n  release:\n    runs-on: ubuntu-latest\n    steps:\n"
        "      - uses: actions/checkout@v4\n"
        "      - run: docker build -t ghcr.io/you/taxi-duration service\n"
        "      - run: docker push ghcr.io/you/taxi-duration\n",
        "monitoring/drift.py": "from evidently import Report\n"
        "from evidently.presets import DataDriftPreset\n\n\n"
        "def drift_report(reference, current):\n"
        "    return Report([DataDriftPreset()]).run(reference_data=reference, "
        "current_data=current)\n",
    },
    4: {
        "prefect.yaml": "name: taxi-duration\ndeployments:\n  - name: monthly-training\n"
        "    entrypoint: pipeline/train_flow.py:train_duration_model\n"
        '    schedules:\n      - cron: "0 6 2 * *"\n',
        "pipeline/promote.py": "from mlflow import MlflowClient\nfrom prefect import task\n\n\n"
        "@task\ndef promote_if_better(version: str, rmse: float, champion_rmse: float) -> bool:\n"
        "    if rmse >= champion_rmse:\n        return False\n"
        '    MlflowClient().set_registered_model_alias("taxi-duration", "champion", version)\n'
        "    return True\n",
    },
}


def write_demo_project(folder: str | os.PathLike, number: int) -> Path:
    """Write a tiny project whose files evidence maturity level ``number`` (for demos).

    Each level adds files on top of the levels below: a notebook (0); a test, a CI
    workflow that runs it through ``make test`` (1); a Prefect training flow that logs to
    MLflow and registers the model (2); a FastAPI service of the registered model, a
    workflow that builds and pushes its image, an Evidently drift report (3); a monthly
    schedule of the training flow and a task that promotes a better model (4). Existing
    files of the same names are overwritten.

    Returns:
        The folder.

    Raises:
        BadParameterError: when ``number`` is not a level (0-4).
    """
    level(number)  # validates
    root = Path(folder)
    for step in range(number + 1):
        for rel, text in _DEMO_FILES[step].items():
            path = root / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
    return root
