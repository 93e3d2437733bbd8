"""The scan: estimate a project's maturity level from evidence in its files.

:func:`scan` walks a project and collects :class:`Evidence` (tests, CI workflows,
``import mlflow``, registry calls, deploy scripts, monitoring configs...), each naming the
file it was found in, so a learner can check the verdict. :data:`REQUIREMENTS` says which
kinds of evidence each level needs.
"""

from __future__ import annotations

import ast
import json
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ...errors import KitError
from .levels import LEVELS, reached_level


class ScanPathError(KitError):
    """The path given to :func:`scan` is not a readable folder."""


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
    Requirement("registry", 2, "a model registry", ("registry",)),
    Requirement("deployment", 3, "automated deployment", ("deployment",)),
    Requirement("monitoring", 3, "monitoring of the deployed model", ("monitoring",)),
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
    reached = reached_level(met)
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
