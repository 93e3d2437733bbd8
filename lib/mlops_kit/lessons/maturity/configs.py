"""Evidence from configuration files: containers, orchestrator deployments, monitoring, IaC.

A YAML, JSON, Terraform or Dockerfile does something only when a tool reads it, and each
tool has its own shape; the rules here read that shape, not the words around it:

- Dockerfiles and Compose files are containers; a Compose service running Grafana or
  Prometheus, a Grafana dashboard with panels and a Prometheus scrape config are monitoring;
- a Prefect deployment (``prefect.yaml`` or a Prefect 2 ``*-deployment.yaml``), a Mage
  pipeline (``pipelines/*/metadata.yaml``), a DVC stage, an Azure ML pipeline job or an AWS
  Step Functions state machine that trains is a training pipeline; one with a schedule (a
  cron, an interval, a Mage time trigger, an Azure ML schedule) is retraining;
- a serverless function with an HTTP event, a KServe or Seldon resource, a BentoML bundle,
  a Lambda, Cloud Run, Cloud Function or SageMaker endpoint in Terraform, CloudFormation
  or the AWS CDK serves the model; ``mlflow models serve`` in a Dockerfile does too;
- a committed ``mlflow.db`` is (weak) evidence that runs were tracked.

Whether training is involved is asked of the flow's own file when it can be found
(``ctx.trains``), else of the names in the configuration.
"""

from __future__ import annotations

import json
import posixpath
import re
from collections.abc import Callable
from dataclasses import dataclass

from .evidence import Evidence
from .yamlnodes import YList, YMap, load_documents, load_mapping, text_of

TRAIN_WORD_RE = re.compile(r"train", re.IGNORECASE)  # train, training, retrain, trainer
_COMPOSE_RE = re.compile(r"^(docker-)?compose([.-][\w.-]+)?\.ya?ml$")
_MONITOR_IMAGE_RE = re.compile(r"(^|/)(grafana|prometheus|evidently)[\w-]*(:|$)")
_SERVE_CMD_RE = re.compile(
    r"mlflow\s+models\s+serve|bentoml\s+serve|torchserve\s|tensorflow_model_server"
)
_TF_SERVING_RE = re.compile(
    r'^[ \t]*resource\s+"(aws_lambda_function|aws_sagemaker_endpoint|google_cloud_run_service'
    r"|google_cloud_run_v2_service|google_cloudfunctions2?_function|azurerm_linux_web_app"
    r'|azurerm_container_app|aws_ecs_service|aws_apprunner_service|kubernetes_deployment)"',
    re.MULTILINE,
)
_CFN_SERVING_RE = re.compile(
    r"^[ \t]*Type:\s*['\"]?AWS::(Serverless::Function|Lambda::Function|SageMaker::Endpoint)",
    re.MULTILINE,
)
_CDK_LAMBDA_RE = re.compile(r"new\s+\w+\.(DockerImageFunction|Function)\s*\(")
_CDK_API_RE = re.compile(r"new\s+\w+\.(LambdaIntegration|LambdaRestApi|HttpApi|RestApi)\s*\(")
_CDK_STATE_MACHINE_RE = re.compile(r"new\s+\w+\.StateMachine\s*\(")
_NULL = {"", "null", "none", "~"}


@dataclass
class Context:
    """What the configuration rules may ask about the rest of the tree."""

    trains: Callable[[str], bool]  # does this .py file train?
    python_files: list[str]  # every .py file, to resolve entrypoints given as odd paths


def _line_of(text: str, pattern: re.Pattern) -> int:
    match = pattern.search(text)
    return text.count("\n", 0, match.start()) + 1 if match else 1


def _resolve(rel: str, entrypoint: str, ctx: Context) -> str | None:
    """Find the file of a ``path/to/flow.py:function`` entrypoint, however it was written."""
    name = entrypoint.split(":", 1)[0].strip()
    if not name.endswith(".py"):
        return None
    folder = posixpath.dirname(rel)
    for candidate in (posixpath.join(folder, name), name):
        candidate = posixpath.normpath(candidate).lstrip("./")
        if candidate in ctx.python_files:
            return candidate
    tail = name.lstrip("/").split("/")
    for size in range(min(len(tail), 3), 0, -1):  # an absolute path from the author's machine
        suffix = "/".join(tail[-size:])
        hits = [p for p in ctx.python_files if p == suffix or p.endswith("/" + suffix)]
        if len(hits) == 1:
            return hits[0]
    return None


def _trains(rel: str, entry: str, words: str, ctx: Context) -> bool:
    target = _resolve(rel, entry, ctx) if entry else None
    if target is not None:
        return ctx.trains(target)
    return bool(TRAIN_WORD_RE.search(words))


def _schedule(item: YMap) -> tuple[int, str] | None:
    """Return ``(line, what)`` of an active cron, interval or rrule of a deployment."""
    candidates = []
    for key in ("schedule", "schedules"):
        value = item.get(key)
        if isinstance(value, YMap):
            candidates.append(value)
        elif isinstance(value, YList):
            candidates += [entry for entry in value if isinstance(entry, YMap)]
    candidates.append(item)
    for candidate in candidates:
        if text_of(candidate.get("active")).lower() == "false":
            continue
        for inner in ("cron", "interval", "rrule"):
            value = text_of(candidate.get(inner)).strip()
            if value.lower() not in _NULL:
                return candidate.line_of(inner), f"{inner}: {value}"
    return None


def _prefect(rel: str, doc: YMap, ctx: Context) -> list[Evidence]:
    found = []
    if "deployments" in doc:
        items = [d for d in doc.get("deployments") or [] if isinstance(d, YMap)]
    elif "entrypoint" in doc and ("flow_name" in doc or "work_queue_name" in doc):
        items = [doc]
    else:
        return []
    for item in items:
        entry = text_of(item.get("entrypoint"))
        words = " ".join(text_of(item.get(k)) for k in ("name", "flow_name", "entrypoint"))
        if not _trains(rel, entry, words, ctx):
            continue
        line = item.line_of("entrypoint")
        found.append(
            Evidence("pipeline", rel, line, f"Prefect deployment of a training flow {entry}")
        )
        schedule = _schedule(item)
        if schedule:
            detail = f"Prefect runs the training flow on a schedule ({schedule[1]})"
            found.append(Evidence("retraining", rel, schedule[0], detail))
    return found


def _mage_trains(metadata: YMap) -> bool:
    blocks = metadata.get("blocks") or []
    names = " ".join(
        text_of(b.get("uuid")) + " " + text_of(b.get("name")) for b in blocks if isinstance(b, YMap)
    )
    return bool(TRAIN_WORD_RE.search(names + " " + text_of(metadata.get("uuid"))))


def _mage(rel: str, doc: YMap, read: Callable[[str], str | None]) -> list[Evidence]:
    name = posixpath.basename(rel)
    if name == "metadata.yaml" and "blocks" in doc and "/pipelines/" in f"/{rel}":
        if _mage_trains(doc):
            uuid = text_of(doc.get("uuid")) or posixpath.basename(posixpath.dirname(rel))
            return [
                Evidence("pipeline", rel, doc.line_of("blocks"), f"Mage pipeline '{uuid}' trains")
            ]
    if name == "triggers.yaml" and isinstance(doc.get("triggers"), YList):
        metadata = load_mapping(read(posixpath.join(posixpath.dirname(rel), "metadata.yaml")) or "")
        if metadata is None or not _mage_trains(metadata):
            return []
        for trigger in doc["triggers"]:
            if not isinstance(trigger, YMap):
                continue
            kind = text_of(trigger.get("schedule_type"))
            interval = text_of(trigger.get("schedule_interval"))
            status = text_of(trigger.get("status")) or "active"
            if kind == "time" and interval.lower() not in _NULL and status == "active":
                detail = f"Mage trigger runs the training pipeline {interval}"
                return [Evidence("retraining", rel, trigger.line_of("schedule_interval"), detail)]
    return []


def _azureml(rel: str, doc: YMap) -> list[Evidence]:
    if "azureml" not in text_of(doc.get("$schema")).lower():
        return []
    kind = text_of(doc.get("type"))
    words = json.dumps(doc)
    if kind == "pipeline" and TRAIN_WORD_RE.search(words):
        return [Evidence("pipeline", rel, doc.line_of("jobs"), "Azure ML pipeline job that trains")]
    if ("trigger" in doc or kind == "schedule") and TRAIN_WORD_RE.search(words):
        return [
            Evidence("retraining", rel, doc.line_of("trigger"), "Azure ML schedule of training")
        ]
    return []


def _compose(rel: str, doc: YMap) -> list[Evidence]:
    services = doc.get("services")
    found = [Evidence("container", rel, doc.line_of("services"), "Compose file")]
    if not isinstance(services, YMap):
        return found
    for name, service in services.items():
        if not isinstance(service, YMap):
            continue
        image = text_of(service.get("image"))
        if image and _MONITOR_IMAGE_RE.search(image.lower()):
            detail = f"Compose service '{name}' runs {image}"
            found.append(Evidence("monitoring", rel, service.line_of("image"), detail))
        command = text_of(service.get("command"))
        if _SERVE_CMD_RE.search(command):
            detail = f"Compose service '{name}' serves the model: {command[:50]}"
            found.append(Evidence("serving", rel, service.line_of("command"), detail))
    return found


def _yaml(rel: str, text: str, ctx: Context, read: Callable[[str], str | None]) -> list[Evidence]:
    name = posixpath.basename(rel)
    docs = load_documents(text)
    doc = docs[0] if docs else None
    if _COMPOSE_RE.match(name):
        return _compose(rel, doc) if isinstance(doc, YMap) else []
    found: list[Evidence] = []
    for item in docs:
        if not isinstance(item, YMap):
            continue
        kind = text_of(item.get("kind"))
        if kind in {"InferenceService", "SeldonDeployment"}:
            found.append(Evidence("serving", rel, item.line_of("kind"), f"Kubernetes {kind}"))
    if not isinstance(doc, YMap):
        return found
    found += _prefect(rel, doc, ctx) + _mage(rel, doc, read) + _azureml(rel, doc)
    if name in {"serverless.yml", "serverless.yaml"} and re.search(r"\bhttp(Api)?:", text):
        found.append(
            Evidence(
                "serving",
                rel,
                _line_of(text, re.compile(r"http")),
                "Serverless Framework function with an HTTP event",
            )
        )
    elif _CFN_SERVING_RE.search(text):
        match = _CFN_SERVING_RE.search(text)
        detail = f"CloudFormation AWS::{match.group(1)} (whether it serves the model is not shown)"
        found.append(Evidence("serving", rel, _line_of(text, _CFN_SERVING_RE), detail, weak=True))
    if name == "bentofile.yaml" and "service" in doc:
        found.append(
            Evidence(
                "serving",
                rel,
                doc.line_of("service"),
                f"BentoML bundle of {text_of(doc['service'])}",
            )
        )
    if name == "dvc.yaml" and isinstance(doc.get("stages"), YMap):
        for stage, spec in doc["stages"].items():
            command = text_of(spec.get("cmd")) if isinstance(spec, YMap) else ""
            if TRAIN_WORD_RE.search(f"{stage} {command}"):
                detail = f"DVC pipeline stage '{stage}' runs `{command[:50]}`"
                found.append(Evidence("pipeline", rel, doc["stages"].line_of(stage), detail))
                break
    if name.startswith("prometheus") and "scrape_configs" in doc:
        found.append(
            Evidence("monitoring", rel, doc.line_of("scrape_configs"), "Prometheus scrape config")
        )
    if text_of(doc.get("appInsightsEnabled")).lower() == "true":
        detail = "Application Insights watches the deployed service (appInsightsEnabled)"
        found.append(Evidence("monitoring", rel, doc.line_of("appInsightsEnabled"), detail))
    if "grafana" in rel.lower() and ("datasources" in doc or "providers" in doc):
        key = "datasources" if "datasources" in doc else "providers"
        found.append(Evidence("monitoring", rel, doc.line_of(key), f"Grafana {key} provisioning"))
    return found


def _json(rel: str, text: str) -> list[Evidence]:
    head = text.lstrip()[:1]
    if head != "{":
        return []
    try:
        data = json.loads(text)
    except (json.JSONDecodeError, RecursionError):
        return []
    if not isinstance(data, dict):
        return []
    if "panels" in data and ("grafana" in rel.lower() or "dashboard" in rel.lower()):
        title = str(data.get("title") or posixpath.basename(rel))
        return [
            Evidence(
                "monitoring", rel, 1, f"Grafana dashboard '{title}' ({len(data['panels'])} panels)"
            )
        ]
    if "StartAt" in data and "States" in data and TRAIN_WORD_RE.search(json.dumps(data["States"])):
        return [Evidence("pipeline", rel, 1, "AWS Step Functions state machine that trains")]
    return []


def _script_like(rel: str, text: str) -> list[Evidence]:
    name = posixpath.basename(rel)
    found: list[Evidence] = []
    if name.startswith("Dockerfile") or name.endswith(".dockerfile"):
        found.append(
            Evidence(
                "container",
                rel,
                _line_of(text, re.compile(r"^[ \t]*FROM\b", re.M | re.I)),
                "Dockerfile",
            )
        )
        serve = re.compile(r"^[ \t]*(CMD|ENTRYPOINT)\b.*(" + _SERVE_CMD_RE.pattern + ")", re.M)
        if serve.search(text):
            found.append(
                Evidence("serving", rel, _line_of(text, serve), "the image serves the model")
            )
    elif name.endswith(".tf"):
        for match in _TF_SERVING_RE.finditer(text):
            line = text.count("\n", 0, match.start()) + 1
            detail = (
                f"Terraform defines {match.group(1)} (whether it serves the model is not shown)"
            )
            found.append(Evidence("serving", rel, line, detail, weak=True))
            break
    elif name.endswith((".ts", ".js")) and ("aws-cdk" in text or "@aws-cdk" in text):
        if _CDK_LAMBDA_RE.search(text) and _CDK_API_RE.search(text):
            detail = "AWS CDK defines a Lambda behind API Gateway"
            found.append(Evidence("serving", rel, _line_of(text, _CDK_API_RE), detail))
        if _CDK_STATE_MACHINE_RE.search(text) and TRAIN_WORD_RE.search(text):
            detail = "AWS CDK defines a Step Functions state machine that trains"
            found.append(Evidence("pipeline", rel, _line_of(text, _CDK_STATE_MACHINE_RE), detail))
    return found


def config_evidence(
    rel: str, text: str, ctx: Context, read: Callable[[str], str | None]
) -> list[Evidence]:
    """Return the evidence in one configuration file (see the module docstring)."""
    lower = rel.lower()
    if lower.endswith((".yml", ".yaml")):
        return _yaml(rel, text, ctx, read)
    if lower.endswith(".json"):
        return _json(rel, text)
    return _script_like(rel, text)


def is_config(rel: str) -> bool:
    """True for the files :func:`config_evidence` reads."""
    name = posixpath.basename(rel)
    lower = name.lower()
    return (
        lower.endswith((".yml", ".yaml", ".tf"))
        or name.startswith("Dockerfile")
        or lower.endswith(".dockerfile")
        or (lower.endswith(".json") and not lower.endswith(("package.json", "package-lock.json")))
        or (lower.endswith((".ts", ".js")) and not lower.endswith(".d.ts"))
    )
