"""The five levels of the MLOps maturity model, as data.

The course's lecture (:data:`LECTURE_URL`) teaches Microsoft's five-level model
(:data:`MICROSOFT_URL`) with a few placements of its own, which the kit follows; where the
two sources differ is said once, in :data:`SOURCES_NOTE`.

:data:`LEVELS` holds each level's name, a one-sentence summary, its technology and its
traits in four areas (:data:`AREAS`: people, model creation, model release, application
integration), restated in our own words. :func:`levels_table` turns them into a DataFrame
for a notebook; :func:`principles_by_level` groups the MLOps principles by the level where
each first shows up; :func:`reached_level` is the rule both the self-assessment and the
scan apply: a level counts only when every level below it is reached too.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from ...errors import BadParameterError
from ..course import PRINCIPLES, Principle


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


#: the course's lecture on the maturity model (MLOps Zoomcamp, module 1, video 1.5)
LECTURE_URL = "https://www.youtube.com/watch?v=XwTH8BDGzYk"
#: Microsoft's page that the lecture follows (Azure Architecture Center)
MICROSOFT_URL = "https://learn.microsoft.com/azure/architecture/ai-ml/guide/mlops-maturity-model"
#: where the kit's placements depart from Microsoft's page, and why
SOURCES_NOTE = (
    "The kit follows the lecture's placements. The lecture puts a model registry at "
    "level 2, an ML platform that serves models behind an API call and monitoring (as part "
    "of deployment) at level 3, and operation metrics already at level 1. Microsoft's page "
    "keeps the deployed model's metrics at level 4 and says 'model management' at level 2; "
    "its revised wording also adds what the lecture predates: managed feature stores and "
    "scheduled or event-driven training jobs at level 2, artifacts promoted across "
    "workspaces through registries at level 3, policy-based promotion and feature-freshness "
    "monitoring at level 4."
)

LEVELS: tuple[Level, ...] = (
    Level(
        0,
        "No MLOps",
        "The model's life cycle is hard to manage: everything is done by hand in notebooks, "
        "each release hurts and nobody sees how the model behaves once it is deployed. Good "
        "enough for a proof of concept.",
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
        "Application releases are automated, tested and watched through operation metrics, "
        "but none of it knows about ML: no experiment tracking, results are hard to "
        "reproduce and every new model still needs the data team.",
        technology=(
            "automated builds and releases (CI/CD)",
            "unit and integration tests for the application code",
            "code under version control",
            "operation metrics of the running application (requests, latency, errors)",
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
        "Training is a tracked pipeline that runs again without a notebook, so a model is "
        "easy to reproduce; releases are still manual but cause little friction.",
        technology=(
            "a training pipeline instead of notebook cells",
            "experiment tracking: every training run and its metrics in one place",
            "a model registry (worth it once a team runs two or three models or more)",
            "training run again on a schedule or an event",
            "training environments defined and managed as code",
        ),
        people=(
            "data scientists work with engineers in the same team to turn experiments "
            "into repeatable jobs",
            "software engineers still receive the model from others",
        ),
        model_creation=(
            "a data pipeline gathers data automatically",
            "compute is managed",
            "experiment results are tracked",
            "training code and trained models are both versioned",
        ),
        model_release=(
            "a manual release, with little friction",
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
        "Deploying a model is easy and automatic: data preparation, training and "
        "deployment form one pipeline, a deployed model is an API call on an ML platform, "
        "and monitoring comes with every deployment.",
        technology=(
            "a pipeline deploys the model: data preparation > training > deployment",
            "an ML platform where a deployed model is an API call",
            "monitoring of the deployed model as part of deployment",
            "A/B testing of model performance (the course does not cover it)",
            "automated tests for all code",
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
        "Everything above works together without a person: production metrics start "
        "retraining, and a better model is evaluated, promoted and deployed by itself, close "
        "to zero downtime.",
        technology=(
            "automated training and deployment combined",
            "retraining triggered by a schedule or by drift and quality signals",
            "retrained models promoted by a policy and deployed automatically",
            "detailed, central metrics from the deployed model",
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


def reached_level(met: Mapping[int, bool]) -> int:
    """Return the highest level whose requirements, and those of all levels below, are met.

    Args:
        met: level (1-4) -> whether everything that level asks for is there.
    """
    reached = 0
    for number in range(1, len(LEVELS)):
        if not met[number]:
            break
        reached = number
    return reached
