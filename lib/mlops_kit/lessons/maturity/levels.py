"""The five levels of the MLOps maturity model, as data.

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
