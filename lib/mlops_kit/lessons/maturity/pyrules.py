"""Evidence from Python files and notebooks: which facts (see :mod:`.pyfacts`) mean what.

Each rule looks for an *action*: a test function, a call that logs to a tracker or
registers a model, a decorator that makes a function an orchestrator's flow, a route that
serves predictions, a call that computes drift, a schedule on a training pipeline, an
``if`` on drift that starts training. Importing a library is not an action and proves
nothing on its own. Test files only ever count as tests (a test that mocks
``register_model`` is not a registry), and notebooks only for tracking and the registry:
a notebook is run by a person, so it is never a pipeline, a service or a monitor.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from .evidence import Evidence
from .pyfacts import Call, Facts

_TRAIN_CALL_RE = re.compile(r"(^|[._])(re)?train|trainer|(^|\.)fit$", re.IGNORECASE)
_TRAIN_SCRIPT_RE = re.compile(r"train\w*\.py\b", re.IGNORECASE)
_TRAIN_WORD_RE = re.compile(r"\b(re)?train(ing|s)?\b", re.IGNORECASE)
_TRACKERS = ("mlflow", "wandb", "neptune", "comet_ml", "clearml", "azureml", "dvclive")
_TRACKING_CALLS = frozenset(
    {
        "log_metric",
        "log_metrics",
        "log_param",
        "log_params",
        "log_artifact",
        "log_artifacts",
        "log_model",
        "autolog",
        "start_run",
        "log",
        "init",
        "init_run",
        "Experiment",
        "MLflowLoggerCallback",
        "WandbLoggerCallback",
        "setup_mlflow",
    }
)
_REGISTRY_CALLS = frozenset(
    {
        "register_model",
        "create_registered_model",
        "create_model_version",
        "transition_model_version_stage",
        "set_registered_model_alias",
        "get_model_version_by_alias",
        "get_latest_versions",
        "search_model_versions",
        "link_model",
        "link_artifact",
        "use_model",
        "RegisterModel",
        "create_model_package",
        "create_model_package_group",
    }
)
_REGISTRY_LIBS = ("mlflow", "azureml", "azure", "wandb", "sagemaker", "zenml", "google", "boto3")
_PROMOTION_CALLS = frozenset({"transition_model_version_stage", "set_registered_model_alias"})
_MONITORING_LIBS = (
    "evidently",
    "whylogs",
    "nannyml",
    "alibi_detect",
    "deepchecks",
    "prometheus_client",
    "prometheus_fastapi_instrumentator",
    "whylabs_client",
)
_MEASURE_RE = re.compile(
    r"Report|TestSuite|Drift|Preset|Metric|log|profile|Counter|Gauge|Histogram|Summary"
    r"|start_http_server|Instrumentator|detect|calculate|compute|run",
)
_WEB_LIBS = ("fastapi", "flask", "starlette", "sanic", "aiohttp", "litestar", "quart")
_ROUTE_WORDS = frozenset({"get", "post", "put", "route", "api_route", "websocket"})
_MODEL_USE_RE = re.compile(r"predict|load_model|inference|score", re.IGNORECASE)
_DEPLOY_CALLS = frozenset(
    {
        "deploy_model",
        "update_function_code",
        "create_endpoint",
        "update_endpoint",
        "begin_create_or_update",
    }
)
_SCHEDULE_KEYWORDS = ("cron", "interval", "rrule", "schedule", "schedules", "schedule_interval")
_SCHEDULE_CALLS = frozenset(
    {
        "CronSchedule",
        "IntervalSchedule",
        "RRuleSchedule",
        "Cron",
        "Interval",
        "JobSchedule",
        "RecurrenceTrigger",
        "CronTrigger",
        "ScheduleRecurrence",
    }
)
_ORCHESTRATORS = ("prefect", "airflow", "zenml", "dagster", "kfp", "azureml", "azure", "sagemaker")
_START_TRAINING_RE = re.compile(r"train|run_deployment|run_pipeline|trigger|submit", re.I)
_TEST_FILE_RE = re.compile(r"(^test_.*|.*_test)\.py$")


@dataclass
class PythonInfo:
    """What one Python file contributes, for the rules that look across files."""

    evidence: list[Evidence] = field(default_factory=list)
    trains: bool = False
    orchestrated: bool = False  # defines flows, tasks or pipeline steps
    promotions: list[Call] = field(default_factory=list)
    modules: set[str] = field(default_factory=set)


def is_test_file(rel: str) -> bool:
    """True for ``test_*.py``, ``*_test.py`` and ``conftest.py``."""
    name = rel.rsplit("/", 1)[-1]
    return bool(_TEST_FILE_RE.match(name)) or name == "conftest.py"


def _short(text: str, limit: int = 70) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def trains(facts: Facts) -> bool:
    """True when the code trains a model, or names a training step or script.

    That is: it calls ``fit``, ``train`` or a ``train_*`` function, defines one, or names a
    training step or script in a string (``"Train Model"``, ``"python train.py"``).
    Variable names alone (``sources_directory_train``) do not count.
    """
    return (
        any(_TRAIN_CALL_RE.search(c.name) or _TRAIN_CALL_RE.search(c.resolved) for c in facts.calls)
        or any(_TRAIN_CALL_RE.search(name) for name in facts.defs)
        or any(_names_training(text) for text, _ in facts.strings)
        or any(
            _TRAIN_CALL_RE.search(str(value))
            for call in facts.calls
            for key, value in call.keywords.items()
            if key in {"name", "task_id", "step_name", "display_name", "tags", "flow_name"}
        )
    )


def _names_training(text: str) -> bool:
    """A string that names a training script or step: ``"train.py"``, ``"Train Model"``.

    A data path such as ``"data/train.csv"`` does not: only text with a space (a step name,
    a command, a message) or a Python script name counts.
    """
    if _TRAIN_SCRIPT_RE.search(text):
        return True
    return " " in text.strip() and bool(_TRAIN_WORD_RE.search(text))


def orchestration(facts: Facts) -> list[tuple[str, str, int]]:
    """Return ``(tool, name, line)`` for each flow, DAG or pipeline the code defines."""
    found = []
    # the route that predicts first, then any other
    decorators = sorted(
        facts.decorators, key=lambda d: (not _MODEL_USE_RE.search(d[1]), not d[0].endswith("post"))
    )
    for origin, name, line in decorators:
        root, last = origin.split(".", 1)[0], origin.rsplit(".", 1)[-1]
        if root == "prefect" and last == "flow":
            found.append(("Prefect flow", name, line))
        elif root == "zenml" and last == "pipeline":
            found.append(("ZenML pipeline", name, line))
        elif root == "kfp" and last == "pipeline":
            found.append(("Kubeflow pipeline", name, line))
        elif root == "azure" and last == "pipeline":
            found.append(("Azure ML pipeline", name, line))
        elif root == "dagster" and last in {"job", "graph", "asset"}:
            found.append((f"Dagster {last}", name, line))
        elif root == "flytekit" and last == "workflow":
            found.append(("Flyte workflow", name, line))
        elif root == "airflow" and last == "dag":
            found.append(("Airflow DAG", name, line))
    for cls, base, line in facts.bases:
        if base.startswith("metaflow") and base.endswith("FlowSpec"):
            found.append(("Metaflow flow", cls, line))
        elif base.startswith("luigi") and base.endswith("Task"):
            found.append(("Luigi task", cls, line))
    for call in facts.calls:
        if call.resolved.startswith("airflow") and call.last == "DAG":
            found.append(("Airflow DAG", "DAG", call.line))
        elif call.resolved.startswith("azureml.pipeline") and call.last == "Pipeline":
            found.append(("Azure ML pipeline", "Pipeline", call.line))
        elif call.resolved.startswith("sagemaker.workflow") and call.last == "Pipeline":
            found.append(("SageMaker pipeline", "Pipeline", call.line))
        elif call.resolved.startswith("kedro.pipeline") and call.last in {"Pipeline", "pipeline"}:
            found.append(("Kedro pipeline", "pipeline", call.line))
    return sorted(found, key=lambda item: item[2])


def _has_steps(facts: Facts) -> bool:
    """True when functions are an orchestrator's tasks or steps (or flows)."""
    return any(
        origin.split(".", 1)[0] in _ORCHESTRATORS + ("flytekit", "mage_ai")
        and origin.rsplit(".", 1)[-1] in {"task", "step", "flow", "pipeline", "op", "asset"}
        for origin, _, _ in facts.decorators
    )


def _tests(rel: str, facts: Facts) -> list[Evidence]:
    tests = sorted(
        (line, name)
        for name, line in facts.defs.items()
        if name.startswith("test") or (name.startswith("Test") and name[4:5].isupper())
    )
    if not tests:
        return []
    line, name = tests[0]
    more = f" and {len(tests) - 1} more" if len(tests) > 1 else ""
    return [Evidence("tests", rel, line, f"defines {name}(){more}")]


def _tracking(rel: str, facts: Facts, where: str = "") -> list[Evidence]:
    if not any(facts.uses(t) for t in _TRACKERS) and not facts.uses("ray"):
        return []
    for call in facts.calls:
        root = call.resolved.split(".", 1)[0]
        if call.keywords.get("disable") is True:
            continue  # autolog(disable=True) turns tracking off
        if call.last in _TRACKING_CALLS and (root in _TRACKERS or root == "ray"):
            if call.last in {"log", "init"} and root not in {"wandb", "clearml"}:
                continue
            if call.last == "Experiment" and root != "comet_ml":
                continue
            return [Evidence("tracking", rel, 0 if where else call.line, _did(call, where))]
        if call.last in {"log_metric", "log_metrics", "log_param", "log_params"} or (
            facts.uses("azureml") and call.name.endswith(("run.log", "run.log_list", "run.log_row"))
        ):
            return [Evidence("tracking", rel, 0 if where else call.line, _did(call, where))]
    return []


def _did(call: Call, where: str) -> str:
    return f"calls {_short(call.text or call.name + '()')}" + (f" ({where})" if where else "")


def _registry(rel: str, facts: Facts, where: str = "") -> list[Evidence]:
    def line(number: int) -> int:  # a notebook's evidence points at a cell, not a line
        return 0 if where else number

    if not any(facts.uses(lib) for lib in _REGISTRY_LIBS):
        return []
    for call in facts.calls:
        if "registered_model_name" in call.keywords:
            detail = f"logs and registers the model (registered_model_name=): {_did(call, where)}"
            return [Evidence("registry", rel, line(call.line), detail)]
        library = call.resolved.split(".", 1)[0] in _REGISTRY_LIBS
        if call.last in _REGISTRY_CALLS and ("." in call.name or library):
            return [Evidence("registry", rel, line(call.line), _did(call, where))]
        if call.last == "register" and "Model" in call.resolved:
            return [Evidence("registry", rel, line(call.line), _did(call, where))]
        if call.name.endswith("models.create_or_update"):
            return [Evidence("registry", rel, line(call.line), _did(call, where))]
    for text, at in facts.strings:
        if text.startswith("models:/"):
            detail = f"loads a registered model {text!r}" + (f" ({where})" if where else "")
            return [Evidence("registry", rel, line(at), detail)]
    picks = [c for c in facts.calls_named("search_runs") if "order_by" in c.keywords]
    if picks and ({"get_run", "artifact_uri", "load_model"} & facts.names):
        detail = "picks the best run's model from the tracker (search_runs order_by=)"
        return [Evidence("registry", rel, line(picks[0].line), detail, weak=True)]
    return []


def _model_use(facts: Facts) -> bool:
    return any(_MODEL_USE_RE.search(c.last) for c in facts.calls) or any(
        c.resolved.startswith(("pickle.load", "joblib.load", "torch.load")) for c in facts.calls
    )


def _serving(rel: str, facts: Facts) -> list[Evidence]:
    # the route that predicts first, then any other
    decorators = sorted(
        facts.decorators, key=lambda d: (not _MODEL_USE_RE.search(d[1]), not d[0].endswith("post"))
    )
    for origin, name, line in decorators:
        root, last = origin.split(".", 1)[0], origin.rsplit(".", 1)[-1]
        if root == "bentoml":
            return [Evidence("serving", rel, line, f"BentoML service: @{origin} {name}")]
        if origin.startswith("ray.serve"):
            return [Evidence("serving", rel, line, f"Ray Serve deployment: @{origin} {name}")]
        if origin.startswith("functions_framework") and _model_use(facts):
            return [Evidence("serving", rel, line, f"Cloud Function: @{origin} {name}")]
        if last in _ROUTE_WORDS and any(facts.uses(w) for w in _WEB_LIBS) and _model_use(facts):
            return [Evidence("serving", rel, line, f"serves predictions: @{origin} {name}()")]
    for name in ("lambda_handler", "handler"):
        if name in facts.defs and _model_use(facts):
            return [Evidence("serving", rel, facts.defs[name], f"Lambda handler {name}()")]
    if {"init", "run"} <= set(facts.defs) and (
        facts.uses("azureml") or facts.calls_named("get_model_path")
    ):
        detail = "Azure ML scoring script (init() and run())"
        return [Evidence("serving", rel, facts.defs["init"], detail)]
    return []


def _deployment(rel: str, facts: Facts) -> list[Evidence]:
    if not _has_steps(facts):
        return []  # a deploy call in a script a person runs is not an automated release
    for call in facts.calls:
        if call.last in _DEPLOY_CALLS or call.last.endswith("_model_deployer_step"):
            return [Evidence("deployment", rel, call.line, f"a pipeline step {_did(call, '')}")]
        if call.last == "deploy" and ("Model" in call.resolved or "instance_type" in call.keywords):
            return [Evidence("deployment", rel, call.line, f"a pipeline step {_did(call, '')}")]
    return []


def _monitoring(rel: str, facts: Facts) -> list[Evidence]:
    for call in facts.calls:
        if call.keywords.get("enable_app_insights") is True:
            detail = f"Application Insights watches the service: {_did(call, '')}"
            return [Evidence("monitoring", rel, call.line, detail)]
    calls = facts.calls_into(*_MONITORING_LIBS)
    if calls:
        calls.sort(key=lambda c: (not _MEASURE_RE.search(c.last), c.line))
        lib = calls[0].resolved.split(".", 1)[0]
        return [Evidence("monitoring", rel, calls[0].line, f"{lib}: {_did(calls[0], '')}")]
    return []


def _scheduled(call: Call) -> str | None:
    for key in _SCHEDULE_KEYWORDS:
        value = call.keywords.get(key, "absent")
        if value not in ("absent", None, "None", False, "", []):
            return f"{key}={value!r}"
    if call.last in _SCHEDULE_CALLS:
        return f"{call.last}()"
    return None


def _retraining(rel: str, facts: Facts, is_training: bool) -> list[Evidence]:
    found = []
    if is_training and any(facts.uses(o) for o in _ORCHESTRATORS):
        for call in facts.calls:
            what = _scheduled(call)
            if what:
                detail = f"runs training on a schedule: {_short(call.text, 50)} ({what})"
                found.append(Evidence("retraining", rel, call.line, detail))
                break
    for line, inside in facts.drift_ifs:
        starts = [name for name in inside if _START_TRAINING_RE.search(name)]
        if starts:
            detail = f"starts {starts[0]}() when drift is detected"
            found.append(Evidence("retraining", rel, line, detail))
            break
    gates = facts.calls_named("ShortCircuitOperator", "BranchPythonOperator")
    drift = re.compile("drift", re.IGNORECASE)
    if gates and facts.mentions(drift) and facts.mentions(re.compile(r"retrain|run_pipeline")):
        detail = f"a drift check gates retraining ({gates[0].last})"
        found.append(Evidence("retraining", rel, gates[0].line, detail))
    return found


def python_info(rel: str, facts: Facts) -> PythonInfo:
    """Return the evidence of one ``.py`` file and what the cross-file rules need."""
    info = PythonInfo(modules=set(facts.modules))
    if is_test_file(rel) or "/tests/" in f"/{rel}":
        info.evidence = _tests(rel, facts) if is_test_file(rel) else []
        return info
    flows = orchestration(facts)
    info.trains = trains(facts)
    info.orchestrated = bool(flows) or _has_steps(facts)
    evidence = _tracking(rel, facts) + _registry(rel, facts)
    if flows and info.trains:
        tool, name, line = flows[0]
        evidence.append(Evidence("pipeline", rel, line, f"defines {tool} {name}, which trains"))
    evidence += _serving(rel, facts) + _deployment(rel, facts) + _monitoring(rel, facts)
    evidence += _retraining(rel, facts, bool(flows) and info.trains)
    info.promotions = facts.calls_named(*_PROMOTION_CALLS)
    if info.promotions and info.orchestrated:
        call = info.promotions[0]
        detail = f"a pipeline step promotes the model: {_did(call, '')}"
        evidence.append(Evidence("promotion", rel, call.line, detail))
    info.evidence = evidence
    return info


def notebook_evidence(rel: str, cells: list[tuple[int, Facts]]) -> list[Evidence]:
    """Return the evidence of a notebook: that it exists, and its tracking and registry."""
    found = [Evidence("notebook", rel, 0, "Jupyter notebook")]
    for rule in (_tracking, _registry):
        for number, facts in cells:
            hits = rule(rel, facts, f"code cell {number}")
            if hits:
                found.extend(hits)
                break
    return found
