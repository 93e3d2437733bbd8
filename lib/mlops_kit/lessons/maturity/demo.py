"""A tiny demo project whose files evidence a chosen maturity level (for notebook 04)."""

from __future__ import annotations

import json
import os
from pathlib import Path

from .levels import level

#: the files of a small demo project, by the level whose evidence they add
_DEMO_FILES: dict[int, dict[str, str]] = {
    0: {
        "notebooks/duration-prediction.ipynb": json.dumps(
            {
                "cells": [
                    {
                        "cell_type": "code",
                        "metadata": {},
                        "outputs": [],
                        "execution_count": None,
                        "source": "import pandas as pd\n"
                        "from sklearn.linear_model import LinearRegression",
                    }
                ],
                "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3"}},
                "nbformat": 4,
                "nbformat_minor": 5,
            },
            indent=1,
        ),
    },
    1: {
        "tests/test_prepare.py": "def test_duration_is_in_minutes():\n    assert 90 / 60 == 1.5\n",
        ".github/workflows/tests.yml": "name: tests\non: [push]\njobs:\n  unit:\n"
        "    runs-on: ubuntu-latest\n    steps:\n      - run: make test\n",
        "Makefile": "test:\n\tpytest tests\n",
    },
    2: {
        "pipeline/train_flow.py": "import mlflow\nfrom prefect import flow\n\n\n"
        "@flow\ndef train_duration_model(month: str):\n"
        "    with mlflow.start_run():\n        mlflow.log_param('month', month)\n",
        "pipeline/promote.py": "import mlflow\n\n\n"
        "def promote(run_id: str):\n"
        "    mlflow.register_model(f'runs:/{run_id}/model', 'taxi-duration')\n",
    },
    3: {
        "service/Dockerfile": "FROM python:3.11-slim\nCOPY predict.py .\n",
        ".github/workflows/deploy.yml": "name: cd\non:\n  push:\n    branches: [main]\n"
        "jobs:\n  deploy:\n    runs-on: ubuntu-latest\n    steps:\n"
        "      - run: docker build service\n",
        "monitoring/drift.py": "from evidently import Report\n",
        "monitoring/grafana/dashboard.json": "{}\n",
    },
    4: {
        "monitoring/retrain.py": "def retrain_when_drifted(share: float) -> bool:\n"
        "    return share > 0.3\n",
    },
}


def write_demo_project(folder: str | os.PathLike, number: int) -> Path:
    """Write a tiny project whose files evidence maturity level ``number`` (for demos).

    Each level adds the files that evidence it on top of the levels below: a notebook
    (0); a test, a CI workflow and a Makefile test target (1); a tracked training flow and a
    registry call (2); a Dockerfile, a deploy workflow and drift monitoring (3); a
    retraining trigger (4). Existing files of the same names are overwritten.

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
