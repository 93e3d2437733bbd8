"""The self-assessment: yes/no questions, each evidence for one level, and the verdict.

:data:`QUESTIONS` asks about a project level by level, each question resting on one MLOps
principle (P1-P9, :mod:`mlops_kit.lessons.course`). :func:`assess` places a project from
its answers; :func:`load_answers` reads them from a YAML file and :func:`coerce_answers`
from whatever a notebook parameter or the CLI hands over (a dict, YAML/JSON text, a path).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ...errors import BadParameterError, UnknownParameterError
from .levels import LEVELS, reached_level


class UnknownQuestionError(UnknownParameterError):
    """An answer names a question id that the self-assessment does not ask."""


class BadAnswerError(BadParameterError):
    """An answer is not yes/no (a bool)."""


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
        "P1",
        "put the notebooks and scripts in a git repository",
    ),
    Question(
        "data_by_script",
        "Is the training data fetched by a script or pipeline rather than by hand?",
        1,
        "P1",
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
    Question(
        "operation_metrics",
        "Does the running application report operation metrics (requests, latency, errors)?",
        1,
        "P8",
        "collect the service's requests, latency and errors on a dashboard (module 5)",
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
        "model_registry",
        "Are trained models kept as versions in a model registry, each traceable to the run "
        "that made it, rather than copied around as files?",
        2,
        "P4",
        "register models in a model registry (module 2); the lecture calls it worth it once "
        "a team runs two or three models or more",
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
        "automated_release",
        "Does a pipeline take a trained model to production without manual steps "
        "(data preparation > training > deployment)?",
        3,
        "P1",
        "let a CD pipeline build and deploy the model service (modules 4 and 6)",
    ),
    Question(
        "model_api",
        "Is a deployed model an API call, on an ML platform or a service of your own?",
        3,
        "P1",
        "serve the model behind an API: a web service, a serverless function or a "
        "platform endpoint (module 4)",
    ),
    Question(
        "production_monitoring",
        "Does every deployment come with monitoring of the model's inputs and predictions?",
        3,
        "P8",
        "monitor inputs and predictions for drift with a tool such as Evidently (module 5)",
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
        "automatic_retraining",
        "Does drift or a quality drop trigger retraining automatically?",
        4,
        "P9",
        "let a monitoring alert start the training pipeline (modules 3 and 5)",
    ),
    Question(
        "automatic_promotion",
        "Are retrained models evaluated, promoted and deployed automatically by a policy?",
        4,
        "P6",
        "promote a retrained model only when it beats the current one on fresh data, and let "
        "the release pipeline deploy it",
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
    reached = reached_level(met)
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
