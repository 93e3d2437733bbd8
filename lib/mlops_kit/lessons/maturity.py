"""The MLOps maturity model: five levels, a self-assessment, and a scan of a project.

The course's first module places a team on the five levels of Microsoft's "MLOps maturity
model" (Azure Architecture Center; called "Machine Learning operations maturity model" until
its 2025 revision, whose wording the traits below follow). The levels measure how much of
the path from a notebook to a model that maintains itself is automated:

====  ===============================  =================================================
 0    No MLOps                         everything by hand, one person, no tracking
 1    DevOps but no MLOps              code has tests and CI; models are still hand-made
 2    Automated training               training is a tracked, repeatable pipeline
 3    Automated model deployment       a CI/CD pipeline releases models with tests
 4    Full MLOps automated operations  production metrics trigger retraining by themselves
====  ===============================  =================================================

The course itself aims at level 2 and parts of level 3: tracked experiments, training
that runs again with one command, several ways to deploy, and monitoring that shows
problems (``01-intro/07-maturity-model.md`` in DataTalksClub/mlops-zoomcamp). Not every
project needs level 4: a proof of concept can stay at level 0.

This module holds that model as data (:data:`LEVELS`, restated in our own words), a
self-assessment (:data:`QUESTIONS`, :func:`assess`, :func:`plot_assessment`) and
:func:`scan`, which estimates a project's level from evidence in its files (tests, CI
workflows, ``import mlflow``, registry calls, deploy scripts, monitoring configs...) and
lists every piece of evidence it used, so a learner can check the verdict.

A level counts only when every level below it is reached too: a project with a model
registry but no tests is still at level 0, and the report says what to add first.
"""

from __future__ import annotations

import ast
import json
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import BadParameterError, KitError, UnknownParameterError
from .course import MODULES, PRINCIPLES, Principle

__all__ = [
    "LEVELS",
    "PRINCIPLES",
    "QUESTIONS",
    "REQUIREMENTS",
    "EVIDENCE_KINDS",
    "Level",
    "Question",
    "Assessment",
    "Requirement",
    "Evidence",
    "ScanResult",
    "assess",
    "load_answers",
    "coerce_answers",
    "plot_assessment",
    "scan",
    "levels_table",
    "write_demo_project",
    "LEARNER_AFTER_MODULE_1",
    "principles_by_level",
    "UnknownQuestionError",
    "BadAnswerError",
    "ScanPathError",
]


class UnknownQuestionError(UnknownParameterError):
    """An answer names a question id that the self-assessment does not ask."""


class BadAnswerError(BadParameterError):
    """An answer is not yes/no (a bool)."""


class ScanPathError(KitError):
    """The path given to :func:`scan` is not a readable folder."""


# --------------------------------------------------------------------------------------
# The five levels
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Level:
    """One level of the maturity model, with its characteristics in four areas.

    Attributes:
        number: 0 to 4.
        name: the level's name in the model.
        summary: what it feels like to work at this level, in one sentence.
        technology: the technical capabilities that mark the level.
        people: how data scientists, data engineers and software engineers work together.
        model_creation: how data is gathered and models are trained and tracked.
        model_release: how a trained model reaches production.
        application_integration: how the model is tested and wired into the application.
    """

    number: int
    name: str
    summary: str
    technology: tuple[str, ...]
    people: tuple[str, ...]
    model_creation: tuple[str, ...]
    model_release: tuple[str, ...]
    application_integration: tuple[str, ...]


LEVELS: tuple[Level, ...] = (
    Level(
        0,
        "No MLOps",
        "The model's life cycle is hard to manage: each release hurts, teams work apart and "
        "nobody sees how the model behaves once it is deployed.",
        technology=(
            "builds and deployments by hand",
            "model and application tested by hand",
            "no central record of model performance",
            "training started by hand",
        ),
        people=(
            "data scientists, data engineers and software engineers work in silos",
            "software engineers receive a model file from someone else",
        ),
        model_creation=(
            "data collected by hand",
            "compute probably not managed",
            "experiments not tracked in any reliable way",
            "the result is one model file handed over with its inputs and outputs",
        ),
        model_release=(
            "a manual process",
            "the scoring script is written late, outside version control",
            "the data scientist or data engineer releases alone",
        ),
        application_integration=(
            "depends on the data scientist's know-how",
            "every release is manual",
        ),
    ),
    Level(
        1,
        "DevOps but no MLOps",
        "Application releases are automated, but every new model still needs the data team, "
        "results are hard to reproduce and production feedback is thin.",
        technology=(
            "automated builds",
            "automated tests for the application code",
            "code under version control",
        ),
        people=(
            "the three roles still work in silos",
            "software engineers receive a model file from someone else",
        ),
        model_creation=(
            "a data pipeline gathers data automatically",
            "compute may or may not be managed",
            "experiments not tracked in any reliable way",
            "the result is still one model file handed over",
        ),
        model_release=(
            "a manual process",
            "the scoring script is probably under version control",
            "handed over to software engineers",
        ),
        application_integration=(
            "basic integration tests for the model",
            "still depends on the data scientist's know-how",
            "application releases are automated",
            "application code has unit tests",
        ),
    ),
    Level(
        2,
        "Automated training",
        "Training runs in a managed, traceable environment, so a model is easy to "
        "reproduce; releases are still manual but cause little friction.",
        technology=(
            "automated model training",
            "central tracking of training runs and their metrics",
            "model management (versions of trained models)",
            "recurring training on a schedule or an event",
            "a managed feature store",
            "training environments defined and managed as code",
        ),
        people=(
            "data scientists and data engineers turn experiment code into repeatable jobs",
            "software engineers still receive the model from others",
        ),
        model_creation=(
            "a data pipeline gathers data automatically",
            "compute is managed",
            "experiment results are tracked",
            "training code and trained models are both versioned",
        ),
        model_release=(
            "a manual release",
            "the scoring script is versioned and tested",
            "the software engineering team manages releases",
        ),
        application_integration=(
            "basic integration tests for the model",
            "still depends on the data scientist's know-how",
            "application code has unit tests",
        ),
    ),
    Level(
        3,
        "Automated model deployment",
        "Releases are automatic and low-friction, every deployment can be traced back to "
        "its data, and the whole chain train > test > production is managed.",
        technology=(
            "A/B testing of model performance built into deployment",
            "automated tests for all code",
            "central tracking of training performance",
            "artifacts promoted between environments through a registry",
        ),
        people=(
            "data scientists and data engineers turn experiments into repeatable jobs",
            "data engineers manage inputs and outputs with both other roles",
            "software engineers automate how the model enters the application",
        ),
        model_creation=(
            "a data pipeline gathers data automatically",
            "compute is managed",
            "experiment results are tracked",
            "training code and trained models are both versioned",
        ),
        model_release=(
            "an automatic release",
            "the scoring script is versioned and tested",
            "a CI/CD pipeline manages the release",
        ),
        application_integration=(
            "unit and integration tests for every model release",
            "less dependence on the data scientist's know-how",
            "application code has unit and integration tests",
        ),
    ),
    Level(
        4,
        "Full MLOps automated operations",
        "The whole system is automated and easy to watch; production tells the team how to "
        "improve and can retrain and promote a better model by itself, close to zero downtime.",
        technology=(
            "automated training and testing of models",
            "detailed, central metrics from the deployed model",
            "retraining triggered automatically by drift or regression signals",
            "models promoted automatically by policy",
            "the health and freshness of computed features monitored",
        ),
        people=(
            "data scientists also work with software engineers to pick the data markers to watch",
            "data engineers manage inputs and outputs with both other roles",
            "software engineers also implement the collection of post-deployment metrics",
        ),
        model_creation=(
            "a data pipeline gathers data automatically",
            "retraining is triggered automatically by production metrics",
            "compute is managed",
            "experiment results are tracked",
            "training code and trained models are both versioned",
        ),
        model_release=(
            "an automatic release",
            "the scoring script is versioned and tested",
            "a CI/CD pipeline manages the release",
        ),
        application_integration=(
            "unit and integration tests for every model release",
            "less dependence on the data scientist's know-how",
            "application code has unit and integration tests",
        ),
    ),
)

#: the four areas the model describes for each level, as (attribute, heading)
AREAS = (
    ("people", "People"),
    ("model_creation", "Model creation"),
    ("model_release", "Model release"),
    ("application_integration", "Application integration"),
)


def level(number: int) -> Level:
    """Return level ``number`` (0-4).

    Raises:
        BadParameterError: for any other number.
    """
    if isinstance(number, bool) or not isinstance(number, int) or not 0 <= number < len(LEVELS):
        raise BadParameterError(
            f"There is no maturity level {number!r}.", "Use a whole number from 0 to 4."
        )
    return LEVELS[number]


def levels_table(detail: bool = True):
    """Return the five levels as a DataFrame (one row per level) for a notebook.

    Args:
        detail: also include the four areas (people, model creation, release,
            application integration), each as a ``;``-separated cell.
    """
    import pandas as pd

    rows = []
    for item in LEVELS:
        row = {"level": item.number, "name": item.name, "summary": item.summary}
        row["technology"] = "; ".join(item.technology)
        if detail:
            for attr, heading in AREAS:
                row[heading] = "; ".join(getattr(item, attr))
        rows.append(row)
    return pd.DataFrame(rows).set_index("level")


def principles_by_level() -> dict[int, list[Principle]]:
    """Return the MLOps principles grouped by the maturity level where each first shows up."""
    grouped: dict[int, list[Principle]] = {item.number: [] for item in LEVELS}
    for item in PRINCIPLES:
        grouped[item.level].append(item)
    return grouped


# --------------------------------------------------------------------------------------
# Self-assessment
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Question:
    """A yes/no question whose "yes" is evidence for one level.

    Attributes:
        id: the key used in an answers dict or YAML file.
        text: the question.
        level: the level (1-4) the answer is evidence for.
        principle: the MLOps principle (``P1`` .. ``P9``) behind it.
        todo: what to do to answer "yes", for the "missing for the next level" list.
    """

    id: str
    text: str
    level: int
    principle: str
    todo: str


QUESTIONS: tuple[Question, ...] = (
    # level 1: DevOps but no MLOps
    Question(
        "code_in_git",
        "Is all the project's code (notebooks, scripts) under version control such as git?",
        1,
        "P4",
        "put the notebooks and scripts in a git repository",
    ),
    Question(
        "data_by_script",
        "Is the training data fetched by a script or pipeline rather than by hand?",
        1,
        "P3",
        "download the months with a script (mlops-kit data fetch) instead of by hand",
    ),
    Question(
        "unit_tests",
        "Does the code have automated tests that anyone can run (pytest)?",
        1,
        "P1",
        "move the notebook's logic into functions and test them with pytest",
    ),
    Question(
        "ci_builds",
        "Do the tests and builds run automatically on every push (CI)?",
        1,
        "P1",
        "add a CI workflow (e.g. GitHub Actions) that runs the tests on every push",
    ),
    # level 2: automated training
    Question(
        "experiment_tracking",
        "Are training runs logged centrally with parameters, metrics and artifacts (MLflow)?",
        2,
        "P7",
        "log every training run to an experiment tracker such as MLflow (module 2)",
    ),
    Question(
        "training_pipeline",
        "Can the model be retrained with one command or pipeline run, without a notebook?",
        2,
        "P2",
        "turn training into a parametrized pipeline an orchestrator runs (module 3)",
    ),
    Question(
        "models_versioned",
        "Are trained models versioned and kept with the code and data that made them?",
        2,
        "P4",
        "store each model with its version, its data months and its commit",
    ),
    Question(
        "reproducible_env",
        "Is the training environment pinned (lock file, conda env, container)?",
        2,
        "P3",
        "pin the environment (environment.yml, a lock file or a Docker image)",
    ),
    Question(
        "recurring_training",
        "Does training run again by itself, on a schedule or when a new month of data lands?",
        2,
        "P6",
        "schedule the training pipeline in the orchestrator, e.g. once a month (module 3)",
    ),
    # level 3: automated model deployment
    Question(
        "model_registry",
        "Are models promoted through a registry (an alias or stage marks the served one), "
        "not copied as files?",
        3,
        "P4",
        "register models and promote them through a model registry (module 2)",
    ),
    Question(
        "automated_release",
        "Does a CI/CD pipeline deploy a new model without manual steps?",
        3,
        "P1",
        "let a CD pipeline build and deploy the model service (modules 4 and 6)",
    ),
    Question(
        "release_tests",
        "Does every model release run unit and integration tests before it goes live?",
        3,
        "P1",
        "add integration tests of the model service to the release pipeline (module 6)",
    ),
    Question(
        "shared_scoring_code",
        "Do data scientists and engineers share one scoring code base (no re-implementation)?",
        3,
        "P5",
        "package the scoring code so the notebook and the service import the same functions",
    ),
    # level 4: full MLOps automated operations
    Question(
        "production_monitoring",
        "Are the deployed model's inputs and predictions monitored for drift and quality?",
        4,
        "P8",
        "monitor inputs and predictions for drift with a tool such as Evidently (module 5)",
    ),
    Question(
        "service_metrics",
        "Does the deployed service send its metrics to dashboards and alerts?",
        4,
        "P8",
        "send the service's metrics to a dashboard with alerts, e.g. Grafana (module 5)",
    ),
    Question(
        "automatic_retraining",
        "Does drift or a quality drop trigger retraining automatically?",
        4,
        "P9",
        "let a monitoring alert start the training pipeline (modules 3 and 5)",
    ),
    Question(
        "automatic_promotion",
        "Are retrained models evaluated and promoted automatically by a policy?",
        4,
        "P6",
        "promote a retrained model only when it beats the current one on fresh data",
    ),
)

_QUESTIONS_BY_ID = {q.id: q for q in QUESTIONS}


def questions_for_level(number: int) -> list[Question]:
    """Return the questions that are evidence for one level, in order."""
    return [q for q in QUESTIONS if q.level == number]


@dataclass(frozen=True)
class Assessment:
    """The result of :func:`assess`.

    Attributes:
        level: the level reached (0-4): every question of that level and below is "yes".
        missing_for_next: the questions of the next level not yet answered "yes" (empty at 4).
        scores: level -> share of its questions answered "yes" (level 0 has none: 1.0).
        answers: the answers used (question id -> bool); unanswered questions count as no.
        unanswered: ids of questions with no answer.
        blocked_by: questions of lower levels still "no" while a higher level is complete.
    """

    level: int
    missing_for_next: list[Question]
    scores: dict[int, float]
    answers: dict[str, bool]
    unanswered: list[str] = field(default_factory=list)
    blocked_by: list[Question] = field(default_factory=list)

    @property
    def name(self) -> str:
        """The name of the level reached."""
        return LEVELS[self.level].name

    @property
    def next_level(self) -> int | None:
        """The level to work towards, or None at level 4."""
        return self.level + 1 if self.level + 1 < len(LEVELS) else None

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-able summary (what ``mlops-kit maturity --json`` prints)."""
        return {
            "level": self.level,
            "name": self.name,
            "next_level": self.next_level,
            "missing_for_next": [
                {"id": q.id, "question": q.text, "todo": q.todo, "principle": q.principle}
                for q in self.missing_for_next
            ],
            "scores": {str(k): v for k, v in self.scores.items()},
            "answers": dict(self.answers),
            "unanswered": list(self.unanswered),
        }


_YES = {"yes", "y", "true", "1"}
_NO = {"no", "n", "false", "0"}


def _as_bool(question_id: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in _YES | _NO:
        return value.strip().lower() in _YES
    raise BadAnswerError(
        f"The answer to {question_id!r} is {value!r}, which is not yes or no.",
        f"Answer {question_id}: true or {question_id}: false.",
    )


def _check_answers(answers: Mapping[str, Any]) -> dict[str, bool]:
    if not isinstance(answers, Mapping):
        raise BadAnswerError(
            f"Answers must be a mapping of question id to yes/no, got {type(answers).__name__}.",
            'Pass a dict such as {"code_in_git": True, "unit_tests": False}.',
        )
    unknown = sorted(str(k) for k in answers if k not in _QUESTIONS_BY_ID)
    if unknown:
        raise UnknownQuestionError(
            f"The self-assessment has no question {', '.join(map(repr, unknown))}.",
            f"Use only these question ids: {', '.join(q.id for q in QUESTIONS)}.",
        )
    return {key: _as_bool(key, value) for key, value in answers.items()}


def _reached(met: Mapping[int, bool]) -> int:
    """Return the highest level whose requirements, and those of all levels below, are met."""
    reached = 0
    for number in range(1, len(LEVELS)):
        if not met[number]:
            break
        reached = number
    return reached


def assess(answers: Mapping[str, Any]) -> Assessment:
    """Place a project on the maturity model from yes/no answers.

    Args:
        answers: question id -> bool (``"yes"``/``"no"`` strings are accepted too).
            Questions left out count as "no" and are listed in ``unanswered``.

    Returns:
        The :class:`Assessment`: the level reached, what is missing for the next one and
        the share of "yes" per level.

    Raises:
        UnknownQuestionError: for an id that is not in :data:`QUESTIONS` (lists the valid ids).
        BadAnswerError: for an answer that is not yes/no.
    """
    given = _check_answers(answers)
    full = {q.id: given.get(q.id, False) for q in QUESTIONS}
    scores: dict[int, float] = {0: 1.0}
    met: dict[int, bool] = {}
    for number in range(1, len(LEVELS)):
        questions = questions_for_level(number)
        yes = sum(full[q.id] for q in questions)
        scores[number] = yes / len(questions)
        met[number] = yes == len(questions)
    reached = _reached(met)
    nxt = reached + 1
    missing = [q for q in questions_for_level(nxt) if not full[q.id]] if nxt < len(LEVELS) else []
    top_complete = max((n for n, ok in met.items() if ok), default=0)
    blocked = [q for q in QUESTIONS if reached < q.level < top_complete and not full[q.id]]
    return Assessment(
        level=reached,
        missing_for_next=missing,
        scores=scores,
        answers=full,
        unanswered=[q.id for q in QUESTIONS if q.id not in given],
        blocked_by=blocked,
    )


def load_answers(path: str | os.PathLike) -> dict[str, bool]:
    """Read self-assessment answers from a YAML file.

    The file maps question ids to yes/no, either at the top level or under ``answers:``::

        code_in_git: yes
        unit_tests: no

    Raises:
        BadAnswerError: when the file is missing, not YAML, or not such a mapping.
        UnknownQuestionError: for an unknown question id.
    """
    import yaml

    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise BadAnswerError(
            f"The answers file {path} does not exist.",
            "Pass the path of a YAML file such as examples/maturity/answers.yaml.",
        ) from exc
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise BadAnswerError(
            f"Cannot read the answers file {path}: {exc}.",
            "Write it as YAML lines 'question_id: yes' (see examples/maturity/answers.yaml).",
        ) from exc
    if isinstance(data, Mapping) and isinstance(data.get("answers"), Mapping):
        data = data["answers"]
    if data is None:
        data = {}
    if not isinstance(data, Mapping):
        raise BadAnswerError(
            f"The answers file {path} holds a {type(data).__name__}, not a mapping.",
            "Write it as YAML lines 'question_id: yes' (see examples/maturity/answers.yaml).",
        )
    return _check_answers(data)


def coerce_answers(value: Any) -> dict[str, bool]:
    """Return checked answers from a dict, a YAML/JSON string, or the path of a YAML file.

    A notebook parameter set from the command line arrives as text (``papermill -p answers
    '{"unit_tests": true}'``); this accepts that as well as the dict a learner types and
    the answers file the CLI reads.

    Raises:
        BadAnswerError: when the value is none of these, or an answer is not yes/no.
        UnknownQuestionError: for an unknown question id.
    """
    if value is None:
        return {}
    if isinstance(value, Mapping):
        return _check_answers(value)
    if isinstance(value, (str, os.PathLike)):
        text = os.fspath(value)
        if text.strip().lower().endswith((".yaml", ".yml")) or Path(text).is_file():
            return load_answers(text)
        import yaml

        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise BadAnswerError(
                f"Cannot read answers from the text {text!r}: {exc}.",
                'Pass a dict such as {"code_in_git": true} or the path of a YAML file.',
            ) from exc
        if isinstance(data, Mapping):
            return _check_answers(data)
    raise BadAnswerError(
        f"Answers must be a dict of question id -> yes/no, got {value!r}.",
        'Pass a dict such as {"code_in_git": True} or the path of a YAML answers file.',
    )


# --------------------------------------------------------------------------------------
# Chart
# --------------------------------------------------------------------------------------


def plot_assessment(result, ax=None, *, title: str | None = None):
    """Draw the share of each level that is met, with the level reached highlighted.

    Args:
        result: an :class:`Assessment` or a :class:`ScanResult` (anything with ``level``
            and ``scores``).
        ax: a matplotlib Axes to draw on; a new figure when None.
        title: the chart title; a default names the level reached.

    Returns:
        The Axes.
    """
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(8, 4))
    numbers = [item.number for item in LEVELS]
    values = [float(result.scores.get(n, 0.0)) for n in numbers]
    colors = [
        "#2a9d8f" if n == result.level else ("#8ab6d6" if n < result.level else "#d0d0d0")
        for n in numbers
    ]
    bars = ax.bar(numbers, values, color=colors, edgecolor="#444444")
    for bar, value in zip(bars, values, strict=True):
        ax.annotate(
            f"{value:.0%}",
            (bar.get_x() + bar.get_width() / 2, bar.get_height()),
            ha="center",
            va="bottom",
            fontsize=9,
        )
    ax.set_xticks(numbers)
    import textwrap

    ax.set_xticklabels([f"{n}\n{textwrap.fill(LEVELS[n].name, 16)}" for n in numbers], fontsize=8)
    ax.set_ylim(0, 1.15)
    ax.set_ylabel("share of requirements met")
    ax.set_title(title or f"Maturity level reached: {result.level} ({LEVELS[result.level].name})")
    return ax


# --------------------------------------------------------------------------------------
# Scanning a project tree
# --------------------------------------------------------------------------------------

#: what each kind of evidence means, in the order reports list them
EVIDENCE_KINDS: dict[str, str] = {
    "notebook": "Jupyter notebooks (work happens in notebooks)",
    "tests": "automated tests (test modules, a Makefile test target)",
    "ci": "continuous integration config (GitHub Actions, GitLab CI, CI scripts)",
    "container": "containers (Dockerfile, Compose)",
    "tracking": "experiment tracking (MLflow, W&B, an mlruns store)",
    "orchestration": "pipelines and orchestration (Prefect, Airflow, Dagster, Kubeflow, Mage)",
    "registry": "model registry use (register_model, stage transitions, models:/ URIs)",
    "deployment": "deployment automation (CD workflows, deploy scripts, k8s/serverless)",
    "monitoring": "monitoring (Evidently, whylogs, Prometheus, Grafana)",
    "retraining": "retraining triggers (scheduled training, retrain flows)",
}


@dataclass(frozen=True)
class Requirement:
    """What a level needs to see in a project tree: any evidence of one of ``kinds``."""

    id: str
    level: int
    text: str
    kinds: tuple[str, ...]


REQUIREMENTS: tuple[Requirement, ...] = (
    Requirement("tests", 1, "automated tests", ("tests",)),
    Requirement("ci", 1, "CI that runs them on every change", ("ci",)),
    Requirement("tracking", 2, "experiment tracking", ("tracking",)),
    Requirement("pipeline", 2, "a training pipeline run by an orchestrator", ("orchestration",)),
    Requirement("registry", 3, "a model registry", ("registry",)),
    Requirement("deployment", 3, "automated deployment", ("deployment",)),
    Requirement("monitoring", 4, "production monitoring", ("monitoring",)),
    Requirement("retraining", 4, "automatic retraining triggers", ("retraining",)),
)


@dataclass(frozen=True, order=True)
class Evidence:
    """One fact found in a project tree.

    Attributes:
        kind: one of :data:`EVIDENCE_KINDS`.
        path: the file or folder, relative to the scanned root, with ``/`` separators.
        detail: what was seen there (``imports mlflow (line 3)``).
    """

    kind: str
    path: str
    detail: str

    def to_dict(self) -> dict[str, str]:
        """Return the evidence as a plain dict."""
        return {"kind": self.kind, "path": self.path, "detail": self.detail}


@dataclass(frozen=True)
class ScanResult:
    """The result of :func:`scan`.

    Attributes:
        level: the estimated level (0-4).
        evidence: every piece of evidence used, sorted by kind then path.
        scores: level -> share of its requirements met (level 0: 1.0).
        missing_for_next: the requirements of the next level not found.
        files_scanned: how many files were looked at.
        truncated: files read only in part because of the size cap, or files not looked
            at once the file cap was hit (relative paths).
    """

    level: int
    evidence: list[Evidence]
    scores: dict[int, float]
    missing_for_next: list[Requirement]
    files_scanned: int
    truncated: list[str] = field(default_factory=list)

    @property
    def name(self) -> str:
        """The name of the level estimated."""
        return LEVELS[self.level].name

    def kinds(self) -> set[str]:
        """Return the kinds of evidence found."""
        return {item.kind for item in self.evidence}

    def evidence_table(self):
        """Return the evidence as a DataFrame (kind, path, detail)."""
        import pandas as pd

        return pd.DataFrame(
            [item.to_dict() for item in self.evidence], columns=["kind", "path", "detail"]
        )

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-able summary (what ``mlops-kit maturity --scan --json`` prints)."""
        return {
            "level": self.level,
            "name": self.name,
            "scores": {str(k): v for k, v in self.scores.items()},
            "missing_for_next": [{"id": r.id, "text": r.text} for r in self.missing_for_next],
            "evidence": [item.to_dict() for item in self.evidence],
            "files_scanned": self.files_scanned,
            "truncated": list(self.truncated),
        }


#: folders never entered: environments, dependencies, VCS internals, build output, caches
SKIP_DIRS = frozenset(
    {
        ".git",
        ".hg",
        ".svn",
        ".venv",
        "venv",
        "env",
        "node_modules",
        "build",
        "dist",
        "site-packages",
        "__pycache__",
        ".ipynb_checkpoints",
        ".pytest_cache",
        ".ruff_cache",
        ".mypy_cache",
        ".tox",
        ".nox",
        ".cache",
    }
)

#: bytes read at most from one file (the start of it)
MAX_FILE_BYTES = 1_000_000
#: files looked at at most in one scan
MAX_FILES = 20_000

_TRACKING_MODULES = ("mlflow", "wandb", "neptune", "comet_ml", "clearml")
_ORCHESTRATION_MODULES = (
    "prefect",
    "airflow",
    "dagster",
    "kfp",
    "mage_ai",
    "zenml",
    "metaflow",
    "luigi",
    "flytekit",
)
_MONITORING_MODULES = (
    "evidently",
    "whylogs",
    "prometheus_client",
    "nannyml",
    "alibi_detect",
    "deepchecks",
)
_REGISTRY_CALLS = frozenset(
    {
        "register_model",
        "create_registered_model",
        "create_model_version",
        "transition_model_version_stage",
        "set_registered_model_alias",
    }
)
_SCHEDULE_KEYWORDS = frozenset({"cron", "schedule", "schedule_interval", "interval", "rrule"})
_SCHEDULE_CALLS = frozenset({"CronSchedule", "IntervalSchedule", "RRuleSchedule", "Cron"})

_CI_FILES = {
    ".gitlab-ci.yml": "GitLab CI pipeline",
    "Jenkinsfile": "Jenkins pipeline",
    "azure-pipelines.yml": "Azure Pipelines config",
    "bitbucket-pipelines.yml": "Bitbucket Pipelines config",
    ".travis.yml": "Travis CI config",
}
_COMPOSE_RE = re.compile(r"^(docker-)?compose([.-][\w.-]+)?\.ya?ml$")
_MAKE_TARGET_RE = re.compile(r"^([A-Za-z0-9_.-]+)\s*:(?!=)", re.MULTILINE)
_YAML_SUFFIXES = (".yml", ".yaml")
_DEPLOY_WORD_RE = re.compile(r"\bdeploy", re.IGNORECASE)
_SCHEDULE_RE = re.compile(r"^\s*schedule\s*:", re.MULTILINE)
_CRON_RE = re.compile(r"\bcron\b", re.IGNORECASE)
_TRAIN_RE = re.compile(r"train", re.IGNORECASE)
_K8S_KIND_RE = re.compile(
    r"^kind:\s*(Deployment|StatefulSet|InferenceService|Service|CronJob|Job)\s*$", re.MULTILINE
)
_K8S_API_RE = re.compile(r"^apiVersion:\s*\S+", re.MULTILINE)
_CLOUDFORMATION_RE = re.compile(r"AWS::(Serverless::Function|Lambda::Function|ECS::Service)")
_TF_RESOURCE_RE = re.compile(
    r'resource\s+"(aws_lambda_function|aws_ecs_service|aws_kinesis_stream|'
    r"aws_sagemaker_endpoint|google_cloud_run_service|google_cloud_run_v2_service|"
    r'kubernetes_deployment|azurerm_container_app)"'
)
_MONITORING_IMAGE_RE = re.compile(r"image:\s*['\"]?(grafana/grafana|prom/prometheus)\S*")
_IMPORT_LINE_RE = re.compile(r"^\s*\"?\s*(?:import|from)\s+([A-Za-z_][\w]*)", re.MULTILINE)


def _first_line(pattern: re.Pattern, text: str) -> tuple[int, str] | None:
    match = pattern.search(text)
    if match is None:
        return None
    number = text.count("\n", 0, match.start()) + 1
    line = text.splitlines()[number - 1].strip() if text else ""
    return number, (line[:60] + "...") if len(line) > 63 else line


class _PythonFacts:
    """What the AST of some Python code says: imports, calls, keywords, defined names."""

    def __init__(self) -> None:
        self.imports: dict[str, int] = {}
        self.calls: dict[str, int] = {}
        self.keywords: dict[str, int] = {}
        self.defs: dict[str, int] = {}
        self.registry_uris: dict[str, int] = {}

    def add_source(self, source: str) -> bool:
        """Parse ``source``; return False when it is not valid Python (regex fallback)."""
        try:
            tree = ast.parse(source)
        except (SyntaxError, ValueError, RecursionError, MemoryError):
            for match in _IMPORT_LINE_RE.finditer(source):
                line = source.count("\n", 0, match.start()) + 1
                self.imports.setdefault(match.group(1), line)
            return False
        for node in ast.walk(tree):
            line = getattr(node, "lineno", 0)
            if isinstance(node, ast.Import):
                for alias in node.names:
                    self.imports.setdefault(alias.name.split(".")[0], line)
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                self.imports.setdefault(node.module.split(".")[0], line)
            elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                self.defs.setdefault(node.name, line)
            elif isinstance(node, ast.Call):
                func = node.func
                name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
                if name:
                    self.calls.setdefault(name, line)
                for keyword in node.keywords:
                    if keyword.arg:
                        self.keywords.setdefault(keyword.arg, line)
                if name == "load_model" and node.args:
                    first = node.args[0]
                    if isinstance(first, ast.Constant) and str(first.value).startswith("models:/"):
                        self.registry_uris.setdefault(str(first.value), line)
        return True


def _python_evidence(rel: str, facts: _PythonFacts, where: str) -> list[Evidence]:
    """Turn the facts of one Python file or notebook into evidence."""
    found: list[Evidence] = []

    def at(line: int) -> str:
        return f"{where} {line}" if where == "line" else where

    for kind, modules in (
        ("tracking", _TRACKING_MODULES),
        ("orchestration", _ORCHESTRATION_MODULES),
        ("monitoring", _MONITORING_MODULES),
    ):
        for module in modules:
            if module in facts.imports:
                found.append(Evidence(kind, rel, f"imports {module} ({at(facts.imports[module])})"))
    for call in sorted(_REGISTRY_CALLS & set(facts.calls)):
        found.append(Evidence("registry", rel, f"calls {call}() ({at(facts.calls[call])})"))
    if "registered_model_name" in facts.keywords:
        line = facts.keywords["registered_model_name"]
        found.append(Evidence("registry", rel, f"logs with registered_model_name= ({at(line)})"))
    for uri, line in sorted(facts.registry_uris.items()):
        found.append(Evidence("registry", rel, f"loads {uri} from the registry ({at(line)})"))
    for name, line in sorted(facts.defs.items()):
        if "retrain" in name.lower() and not name.startswith("test"):
            found.append(Evidence("retraining", rel, f"defines {name}() ({at(line)})"))
    orchestrated = any(m in facts.imports for m in _ORCHESTRATION_MODULES)
    trains = any("train" in name.lower() for name in facts.defs) or "train" in rel.lower()
    if orchestrated and trains:
        scheduled = sorted(
            [(line, f"{k}=") for k, line in facts.keywords.items() if k in _SCHEDULE_KEYWORDS]
            + [(line, f"{c}()") for c, line in facts.calls.items() if c in _SCHEDULE_CALLS]
        )
        if scheduled:
            line, what = scheduled[0]
            found.append(
                Evidence(
                    "retraining", rel, f"schedules a training pipeline with {what} ({at(line)})"
                )
            )
    return found


def _notebook_facts(text: str) -> list[tuple[int, _PythonFacts]]:
    """Return the facts of each code cell of a notebook's JSON (cell number from 1)."""
    try:
        nb = json.loads(text)
        cells = [c for c in nb.get("cells", []) if c.get("cell_type") == "code"]
    except (json.JSONDecodeError, AttributeError, TypeError):
        facts = _PythonFacts()
        facts.add_source(text)  # regex fallback on the raw JSON
        return [(0, facts)]
    result = []
    for number, cell in enumerate(cells, start=1):
        source = cell.get("source", "")
        source = "".join(source) if isinstance(source, list) else str(source)
        # IPython magics and shell escapes are not Python
        lines = [
            "" if line.lstrip().startswith(("%", "!")) else line for line in source.splitlines()
        ]
        facts = _PythonFacts()
        facts.add_source("\n".join(lines))
        result.append((number, facts))
    return result


def _workflow_evidence(rel: str, text: str, label: str) -> list[Evidence]:
    found = [Evidence("ci", rel, label)]
    deploy = _first_line(_DEPLOY_WORD_RE, text)
    if deploy:
        found.append(Evidence("deployment", rel, f"CD step: line {deploy[0]}: {deploy[1]}"))
    if _SCHEDULE_RE.search(text) and _CRON_RE.search(text):
        train = _first_line(_TRAIN_RE, text)
        if train:
            found.append(
                Evidence(
                    "retraining",
                    rel,
                    f"scheduled (cron) workflow that trains: line {train[0]}: {train[1]}",
                )
            )
    return found


def _read_head(path: Path, limit: int) -> tuple[str, bool]:
    with open(path, "rb") as handle:
        data = handle.read(limit + 1)
    return data[:limit].decode("utf-8", errors="replace"), len(data) > limit


def _file_evidence(path: Path, rel: str, max_bytes: int) -> tuple[list[Evidence], bool]:
    """Return the evidence in one file and whether it was read only in part."""
    name = path.name
    parts = rel.split("/")
    suffix = path.suffix.lower()
    found: list[Evidence] = []
    text: str | None = None
    cut = False

    def read() -> str:
        nonlocal text, cut
        if text is None:
            try:
                text, cut = _read_head(path, max_bytes)
            except OSError:
                text = ""
        return text

    # notebooks and tests
    if suffix == ".ipynb":
        found.append(Evidence("notebook", rel, "Jupyter notebook"))
        for number, facts in _notebook_facts(read()):
            where = f"code cell {number}" if number else "raw text"
            found.extend(_python_evidence(rel, facts, where))
    elif suffix == ".py":
        if (name.startswith("test_") or name.endswith("_test.py")) and name != "test_.py":
            found.append(Evidence("tests", rel, "test module"))
        facts = _PythonFacts()
        facts.add_source(read())
        found.extend(_python_evidence(rel, facts, "line"))
    # CI
    if len(parts) == 3 and parts[:2] == [".github", "workflows"] and suffix in _YAML_SUFFIXES:
        found.extend(_workflow_evidence(rel, read(), "GitHub Actions workflow"))
    elif rel in _CI_FILES:
        found.extend(_workflow_evidence(rel, read(), _CI_FILES[rel]))
    elif rel == ".circleci/config.yml":
        found.extend(_workflow_evidence(rel, read(), "CircleCI config"))
    elif len(parts) == 2 and parts[0] == ".ci":
        found.append(Evidence("ci", rel, "CI entry script"))
    # Makefile targets
    if name in {"Makefile", "makefile", "GNUmakefile"} or suffix == ".mk":
        targets = _MAKE_TARGET_RE.findall(read())
        for target in dict.fromkeys(targets):
            if target.lower().startswith("test"):
                found.append(Evidence("tests", rel, f"Makefile target '{target}'"))
            elif target.lower().startswith("deploy"):
                found.append(Evidence("deployment", rel, f"Makefile target '{target}'"))
            elif "retrain" in target.lower():
                found.append(Evidence("retraining", rel, f"Makefile target '{target}'"))
    # containers
    if name.startswith("Dockerfile") or suffix == ".dockerfile":
        found.append(Evidence("container", rel, "Dockerfile"))
    elif _COMPOSE_RE.match(name):
        found.append(Evidence("container", rel, "Compose file"))
        for image in sorted(set(_MONITORING_IMAGE_RE.findall(read()))):
            found.append(Evidence("monitoring", rel, f"Compose service image {image[0]}"))
    # tracking, orchestration and monitoring configs
    if name == "MLproject":
        found.append(Evidence("tracking", rel, "MLflow project file"))
    elif name == "mlflow.db":
        found.append(Evidence("tracking", rel, "MLflow backend store (SQLite)"))
    elif name in {"prefect.yaml", "dagster.yaml", "io_config.yaml", "airflow.cfg"}:
        tool = {"prefect.yaml": "Prefect", "dagster.yaml": "Dagster", "airflow.cfg": "Airflow"}
        found.append(Evidence("orchestration", rel, f"{tool.get(name, 'Mage')} project config"))
    elif name in {"prometheus.yml", "prometheus.yaml"}:
        found.append(Evidence("monitoring", rel, "Prometheus config"))
    elif "grafana" in [p.lower() for p in parts[:-1]] and suffix in (*_YAML_SUFFIXES, ".json"):
        found.append(Evidence("monitoring", rel, "Grafana config"))
    # deployment
    stem = name.lower()
    if name in {"serverless.yml", "serverless.yaml"}:
        found.append(Evidence("deployment", rel, "Serverless Framework config"))
    elif stem.startswith("deploy") and suffix in {".sh", ".py", ".ps1", ""}:
        found.append(Evidence("deployment", rel, "deploy script"))
    elif suffix == ".tf":
        for resource in sorted(set(_TF_RESOURCE_RE.findall(read()))):
            found.append(Evidence("deployment", rel, f"Terraform resource {resource}"))
    elif suffix in _YAML_SUFFIXES and parts[0] not in {".github", ".gitlab"}:
        body = read()
        kind = _K8S_KIND_RE.search(body)
        if kind and _K8S_API_RE.search(body):
            found.append(Evidence("deployment", rel, f"Kubernetes manifest ({kind.group(1)})"))
        cloud = _CLOUDFORMATION_RE.search(body)
        if cloud:
            found.append(Evidence("deployment", rel, f"CloudFormation/SAM {cloud.group(0)}"))
    return found, cut


def _is_venv(folder: Path) -> bool:
    return (folder / "pyvenv.cfg").is_file()


def scan(
    path: str | os.PathLike = ".",
    *,
    max_file_bytes: int = MAX_FILE_BYTES,
    max_files: int = MAX_FILES,
) -> ScanResult:
    """Estimate a project's maturity level from evidence in its files.

    Walks the tree (never entering ``.git``, virtual environments, ``node_modules``,
    ``build`` and caches), reads at most ``max_file_bytes`` of each file that can hold
    evidence, and collects :class:`Evidence`: notebooks; test modules and Makefile test
    targets; CI workflows; Dockerfiles and Compose files; ``mlflow``/``wandb`` imports and
    ``mlruns`` stores; orchestrator imports and configs; registry calls; deploy scripts, CD
    steps and Kubernetes/serverless manifests; monitoring imports and configs; scheduled
    or drift-triggered retraining. Python is read through its syntax tree, so a string
    that merely mentions ``import mlflow`` is not evidence.

    The level is the highest one whose :data:`REQUIREMENTS`, and those of every level
    below, are all met. It is an estimate: it sees what is in the files, not what a team
    does. Read the evidence list to judge it.

    Args:
        path: the project folder.
        max_file_bytes: bytes read at most from each file.
        max_files: files looked at at most; the rest are reported in ``truncated``.

    Raises:
        ScanPathError: when ``path`` is not an existing folder.
    """
    root = Path(path)
    if not root.is_dir():
        raise ScanPathError(
            f"Cannot scan {str(path)!r}: it is not an existing folder.",
            "Pass the root folder of a project, e.g. mlops-kit maturity --scan .",
        )
    evidence: set[Evidence] = set()
    truncated: list[str] = []
    seen = 0
    for folder, dirnames, filenames in os.walk(root):
        here = Path(folder)
        rel_folder = here.relative_to(root).as_posix()
        keep = []
        for name in sorted(dirnames):
            sub = here / name
            rel = name if rel_folder == "." else f"{rel_folder}/{name}"
            if name in SKIP_DIRS or name.endswith(".egg-info") or _is_venv(sub):
                continue
            if name == "mlruns":
                evidence.add(Evidence("tracking", rel + "/", "MLflow run store (mlruns)"))
                continue
            keep.append(name)
        dirnames[:] = keep
        for name in sorted(filenames):
            file_path = here / name
            rel = name if rel_folder == "." else f"{rel_folder}/{name}"
            if not file_path.is_file():
                continue
            if seen >= max_files:
                truncated.append(rel)
                continue
            seen += 1
            found, cut = _file_evidence(file_path, rel, max_file_bytes)
            evidence.update(found)
            if cut:
                truncated.append(rel)
    return _result(sorted(evidence, key=_evidence_order), seen, sorted(truncated))


def _evidence_order(item: Evidence) -> tuple:
    order = list(EVIDENCE_KINDS)
    return (order.index(item.kind) if item.kind in order else len(order), item.path, item.detail)


def _result(evidence: list[Evidence], seen: int, truncated: list[str]) -> ScanResult:
    kinds = {item.kind for item in evidence}
    scores: dict[int, float] = {0: 1.0}
    met: dict[int, bool] = {}
    for number in range(1, len(LEVELS)):
        needed = [r for r in REQUIREMENTS if r.level == number]
        ok = [r for r in needed if kinds & set(r.kinds)]
        scores[number] = len(ok) / len(needed)
        met[number] = len(ok) == len(needed)
    reached = _reached(met)
    missing = [r for r in REQUIREMENTS if r.level == reached + 1 and not kinds & set(r.kinds)]
    return ScanResult(
        level=reached,
        evidence=evidence,
        scores=scores,
        missing_for_next=missing,
        files_scanned=seen,
        truncated=truncated,
    )


def scan_from_evidence(evidence: Iterable[Evidence]) -> ScanResult:
    """Return the level that a list of evidence supports (for what-if questions and tests)."""
    items = sorted(set(evidence), key=_evidence_order)
    return _result(items, 0, [])


def module_for_level(number: int) -> list[str]:
    """Return the names of the course modules that teach what level ``number`` needs."""
    modules = sorted({p.module for p in PRINCIPLES if p.level == number})
    return [f"{m}: {MODULES[m]}" for m in modules]


#: the answers of a plausible learner after module 1 (what notebook 04 starts from):
#: the notebook is in git, the data is fetched by a script and the environment is pinned;
#: there are no tests or CI yet, so the learner is at level 0 and level 1 is next
LEARNER_AFTER_MODULE_1: dict[str, bool] = {
    q.id: q.id in {"code_in_git", "data_by_script", "reproducible_env"} for q in QUESTIONS
}

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
    },
    3: {
        "pipeline/promote.py": "import mlflow\n\n\n"
        "def promote(run_id: str):\n"
        "    mlflow.register_model(f'runs:/{run_id}/model', 'taxi-duration')\n",
        "service/Dockerfile": "FROM python:3.11-slim\nCOPY predict.py .\n",
        ".github/workflows/deploy.yml": "name: cd\non:\n  push:\n    branches: [main]\n"
        "jobs:\n  deploy:\n    runs-on: ubuntu-latest\n    steps:\n"
        "      - run: docker build service\n",
    },
    4: {
        "monitoring/drift.py": "from evidently import Report\n\n\n"
        "def retrain_when_drifted(share: float) -> bool:\n    return share > 0.3\n",
        "monitoring/grafana/dashboard.json": "{}\n",
    },
}


def write_demo_project(folder: str | os.PathLike, number: int) -> Path:
    """Write a tiny project whose files evidence maturity level ``number`` (for demos).

    Each level adds the files that evidence it on top of the levels below: a notebook
    (0); a test, a CI workflow and a Makefile test target (1); a tracked training flow (2);
    a registry call, a Dockerfile and a deploy workflow (3); drift monitoring that
    retrains (4). Existing files of the same names are overwritten.

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
