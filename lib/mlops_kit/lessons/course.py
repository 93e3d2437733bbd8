"""The course map and the principles of MLOps, as data the notebooks and the CLI share.

Two tables live here:

* :data:`COURSE_MAP`: the road from a notebook that trains one model to a system that
  keeps a model healthy in production, step by step, each with the MLOps Zoomcamp
  module that teaches it and, where the kit has one, the library call that does it.
  It follows the course's own overview (``01-intro/06-course-overview.md`` in
  DataTalksClub/mlops-zoomcamp): module 1 sets up the project and a baseline model, 2 adds
  tracking and model management, 3 turns the notebook into a script and a pipeline, 4
  serves the model in batch, online and streaming modes, 5 monitors it, 6 adds tests, code
  quality, infrastructure as code and CI/CD. Tools that changed between cohorts say so.
* :data:`PRINCIPLES` and :data:`COMPONENTS`: the nine principles and the technical
  components of MLOps named by Kreuzberger, Kühl and Hirschl in "Machine Learning
  Operations (MLOps): Overview, Definition, and Architecture" (IEEE Access, 2023;
  arXiv 2205.02302, 2022), restated in our own words. Each principle is mapped to the
  course module that teaches it and to the level of the maturity model
  (:mod:`mlops_kit.lessons.maturity`) where it first shows up.

Everything is plain frozen dataclasses, so a notebook can turn a table into a DataFrame
with :func:`course_map_table` / :func:`principles_table` and a test can check the links.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

#: the MLOps Zoomcamp modules, by number
MODULES: dict[int, str] = {
    1: "Introduction",
    2: "Experiment tracking and model management",
    3: "Orchestration and ML pipelines",
    4: "Model deployment",
    5: "Model monitoring",
    6: "Best practices",
}

#: the three stages of an ML project the course's first lesson names
STAGES = ("design", "train", "operate")


@dataclass(frozen=True)
class Step:
    """One step on the course map.

    Attributes:
        id: a short stable key (``"vectorize"``).
        name: the step in the course's words.
        stage: ``design``, ``train`` or ``operate``.
        module: the MLOps Zoomcamp module that teaches it.
        what: one sentence on what the step does for the taxi model.
        tools: the tools the course uses for it.
        kit_call: the mlops-kit call that does it here, or None when the kit leaves it to
            a later module's tools.
    """

    id: str
    name: str
    stage: str
    module: int
    what: str
    tools: str
    kit_call: str | None = None


COURSE_MAP: tuple[Step, ...] = (
    Step(
        "need_ml",
        "Decide whether ML is needed at all",
        "design",
        1,
        "Compare simple rules (mean duration per pickup zone, distance at an average speed) "
        "with a model before building one.",
        "pandas",
        "mlops_kit.model.baselines.fit_zone_mean / fit_speed",
    ),
    Step(
        "load",
        "Load the trips",
        "train",
        1,
        "Read a month of TLC trip records (or seeded synthetic ones when offline).",
        "pandas, pyarrow",
        "mlops_kit.tlc.read_trips",
    ),
    Step(
        "prepare",
        "Prepare: duration, outliers, features",
        "train",
        1,
        "Compute the ride duration in minutes, keep rides of 1-60 minutes, build PU_DO.",
        "pandas",
        "mlops_kit.model.features.prepare_trips",
    ),
    Step(
        "vectorize",
        "Vectorize",
        "train",
        1,
        "One-hot encode the zones and keep the numeric columns as a sparse matrix.",
        "scikit-learn DictVectorizer",
        "mlops_kit.model.vectorizer.TripVectorizer",
    ),
    Step(
        "train",
        "Train and evaluate",
        "train",
        1,
        "Fit a linear model on one month and measure its RMSE on the next.",
        "scikit-learn, Jupyter",
        "mlops_kit.model.training.train_and_evaluate",
    ),
    Step(
        "save",
        "Save the model",
        "train",
        1,
        "Write the vectorizer and the model together, with a sidecar naming the data.",
        "pickle",
        "mlops_kit.model.bundle.save_bundle",
    ),
    Step(
        "tracking",
        "Track experiments",
        "train",
        2,
        "Log each run's parameters, metrics and artifacts to compare them later.",
        "MLflow",
        None,
    ),
    Step(
        "registry",
        "Register models",
        "train",
        2,
        "Keep versions of the model and mark the one to serve (aliases and tags; "
        "stages such as Staging and Production before MLflow 2.9).",
        "MLflow model registry",
        None,
    ),
    Step(
        "script",
        "Turn the notebook into a script",
        "train",
        3,
        "Move the notebook's cells into a training script that takes the month as a "
        "parameter, so training runs again without opening a notebook (the kit's "
        "`mlops-kit train` is such a script).",
        "Python, argparse",
        None,
    ),
    Step(
        "orchestration",
        "Orchestrate the training pipeline",
        "train",
        3,
        "Run the script's steps as a pipeline of tasks that an orchestrator schedules and watches.",
        "Prefect (2022-2023 cohorts), Mage (2024), the learner's choice (2025)",
        None,
    ),
    Step(
        "web_service",
        "Deploy as a web service",
        "operate",
        4,
        "Serve predictions over HTTP from a container.",
        "Flask, Docker",
        None,
    ),
    Step(
        "batch",
        "Deploy as a batch job",
        "operate",
        4,
        "Score a whole month of rides at once and write the predictions to a file.",
        "pandas, Prefect or Mage",
        None,
    ),
    Step(
        "stream",
        "Deploy as a streaming service",
        "operate",
        4,
        "Score each ride as an event arrives on a stream.",
        "AWS Kinesis, Lambda",
        None,
    ),
    Step(
        "monitoring",
        "Monitor the model",
        "operate",
        5,
        "Watch the input data and the predictions for drift and quality drops.",
        "Evidently, PostgreSQL, Grafana (2022 cohort: Prometheus too)",
        None,
    ),
    Step(
        "best_practices",
        "Best practices",
        "operate",
        6,
        "Unit and integration tests, linting, Makefiles, infrastructure as code and CI/CD.",
        "pytest, GitHub Actions, Terraform",
        "mlops_kit.lessons.maturity.scan",
    ),
)


@dataclass(frozen=True)
class Principle:
    """One principle of MLOps (Kreuzberger, Kühl & Hirschl), in our words.

    Attributes:
        id: ``P1`` .. ``P9`` as in the paper.
        name: the principle's short name.
        meaning: what it asks of a project, in one or two sentences.
        module: the course module that teaches it.
        level: the maturity level (1-4) where it first shows up: the lowest level of the
            self-assessment questions that cite it (a test keeps the two in step).
        taxi_example: what it means for the taxi duration model.
    """

    id: str
    name: str
    meaning: str
    module: int
    level: int
    taxi_example: str


PRINCIPLES: tuple[Principle, ...] = (
    Principle(
        "P1",
        "CI/CD automation",
        "Building, testing, delivering and deploying happen automatically on every "
        "change, so feedback on a broken step comes fast and releases stop being manual.",
        6,
        1,
        "A push runs the tests and, when they pass, ships the new duration model.",
    ),
    Principle(
        "P2",
        "Workflow orchestration",
        "The tasks of an ML pipeline run in the order their dependencies require, as a "
        "directed acyclic graph that a tool schedules and runs.",
        3,
        2,
        "download -> prepare -> vectorize -> train -> evaluate runs as one scheduled flow.",
    ),
    Principle(
        "P3",
        "Reproducibility",
        "An experiment can be run again and give the same result: same code, same data, "
        "same environment, same seeds.",
        2,
        2,
        "Pinned packages, the month's file and the seed give the same RMSE on any machine.",
    ),
    Principle(
        "P4",
        "Versioning",
        "Data, trained models and code are all versioned, so any result can be traced "
        "back and any earlier state restored.",
        2,
        2,
        "The registry keeps each model version with the months and the commit behind it.",
    ),
    Principle(
        "P5",
        "Collaboration",
        "Data scientists, data engineers and software engineers work on shared code, "
        "data and models instead of handing files over a wall.",
        6,
        3,
        "The scoring code the engineers deploy is the same library the notebook calls.",
    ),
    Principle(
        "P6",
        "Continuous ML training and evaluation",
        "Models are retrained on new data as a routine, and each new model is evaluated "
        "before it replaces the old one.",
        3,
        2,
        "Each new month retrains the model and checks its RMSE on the month after.",
    ),
    Principle(
        "P7",
        "ML metadata tracking and logging",
        "Every run records what went in and what came out: parameters, data versions, "
        "metrics, artifacts and lineage.",
        2,
        2,
        "Each training run logs its months, features, alpha and RMSE to MLflow.",
    ),
    Principle(
        "P8",
        "Continuous monitoring",
        "Data, model, code, infrastructure and serving performance are assessed "
        "periodically, to catch drift, quality drops and failures.",
        5,
        1,
        "A dashboard shows the service's latency, then (from level 3) the drifted columns.",
    ),
    Principle(
        "P9",
        "Feedback loops",
        "What is learned in production and in evaluation flows back into development "
        "and can start a new training run.",
        5,
        4,
        "Drift above a threshold triggers the training flow on the latest month.",
    ),
)


@dataclass(frozen=True)
class Component:
    """One technical component of an MLOps system (Kreuzberger et al.).

    Attributes:
        id: ``C1`` .. ``C9`` as in the paper.
        name: the component.
        principles: the principles it implements.
        module: the course module that introduces it, or None when the course does not.
        tools: examples of tools, the course's first.
    """

    id: str
    name: str
    principles: tuple[str, ...]
    module: int | None
    tools: str


COMPONENTS: tuple[Component, ...] = (
    Component("C1", "CI/CD component", ("P1", "P6", "P9"), 6, "GitHub Actions, Jenkins"),
    Component("C2", "Source code repository", ("P4", "P5"), 1, "git, GitHub, GitLab"),
    Component(
        "C3", "Workflow orchestration component", ("P2", "P3", "P6"), 3, "Mage, Prefect, Airflow"
    ),
    Component("C4", "Feature store system", ("P3", "P4"), None, "Feast"),
    Component("C5", "Model training infrastructure", ("P6",), 1, "a VM, Codespaces, Kubernetes"),
    Component("C6", "Model registry", ("P3", "P4"), 2, "MLflow model registry"),
    Component("C7", "ML metadata stores", ("P4", "P7"), 2, "MLflow tracking"),
    Component("C8", "Model serving component", ("P1",), 4, "Flask + Docker, AWS Lambda"),
    Component("C9", "Monitoring component", ("P8", "P9"), 5, "Evidently, Grafana"),
)


def principle(principle_id: str) -> Principle:
    """Return the principle with id ``P1`` .. ``P9`` (case-insensitive).

    Raises:
        UnknownParameterError: for any other id, listing the valid ones.
    """
    wanted = principle_id.strip().upper()
    for item in PRINCIPLES:
        if item.id == wanted:
            return item
    from ..errors import UnknownParameterError

    raise UnknownParameterError(
        f"No MLOps principle is called {principle_id!r}.",
        f"Use one of {', '.join(p.id for p in PRINCIPLES)}.",
    )


def steps_for_module(module: int) -> list[Step]:
    """Return the course-map steps that a module teaches, in course order."""
    return [step for step in COURSE_MAP if step.module == module]


def course_map_table():
    """Return the course map as a DataFrame (one row per step) for a notebook to show."""
    import pandas as pd

    rows = []
    for step in COURSE_MAP:
        row = asdict(step)
        row["module_name"] = MODULES[step.module]
        row["kit_call"] = step.kit_call or "-"
        rows.append(row)
    columns = ["stage", "name", "module", "module_name", "tools", "kit_call", "what"]
    return pd.DataFrame(rows, columns=["id", *columns]).set_index("id")


def principles_table():
    """Return the principles as a DataFrame with the module and maturity level of each."""
    import pandas as pd

    rows = []
    for item in PRINCIPLES:
        row = asdict(item)
        row["module_name"] = MODULES[item.module]
        row["components"] = ", ".join(c.id for c in COMPONENTS if item.id in c.principles)
        rows.append(row)
    columns = ["name", "module", "module_name", "level", "components", "meaning", "taxi_example"]
    return pd.DataFrame(rows, columns=["id", *columns]).set_index("id")
