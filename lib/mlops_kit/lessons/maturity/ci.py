"""CI/CD configurations read as what they run: steps, their folders and their triggers.

Each system keeps its pipeline in its own YAML (GitHub Actions, GitLab CI, Azure Pipelines
wherever the files live, CircleCI, Bitbucket Pipelines, Google Cloud Build, AWS CodeBuild)
or in a Groovy ``Jenkinsfile``. :func:`read_pipeline` turns one into a :class:`Pipeline`:
the shell commands and actions it runs with their lines and working folders, and what
starts it (a push or pull request, a schedule, a person, another pipeline finishing).
:func:`pipeline_evidence` then asks :class:`~.commands.Follower` what each command does
(following ``make``, scripts and job files) and turns that into evidence: tests run on
every change are CI (level 1), a job that trains is a training pipeline (level 2), an
image push or a deploy command is an automated deployment (level 3), training on a
schedule is retraining and a deployment started by a training pipeline is promotion
(level 4). Words in comments, step names and ``echo`` lines are never evidence.
"""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass, field

from .commands import Action, Follower, logical_lines, short
from .evidence import Evidence
from .yamlnodes import YList, YMap, load_documents, text_of

_PUSH_ACTION_RE = re.compile(r"docker/build-push-action|Docker@\d", re.IGNORECASE)
_DEPLOY_ACTION_RE = re.compile(
    r"deploy-cloudrun|webapps-deploy|ecs-deploy|k8s-deploy|functions-action|aws-lambda-deploy"
    r"|sagemaker|AzureWebApp|AzureFunctionApp|AzureRmWebAppDeployment|KubernetesManifest"
    r"|HelmDeploy|appleboy/ssh-action|serverless",
    re.IGNORECASE,
)
_DOCS_ACTION_RE = re.compile(r"pages", re.IGNORECASE)
_AZURE_DIR_RE = re.compile(r"(^|/)(\.pipelines|\.azure-pipelines|\.azuredevops|azure-pipelines)/")
_VAR_RE = re.compile(r"\$\((Build\.SourcesDirectory|System\.DefaultWorkingDirectory)\)/?")
_GITLAB_RESERVED = {
    "stages",
    "variables",
    "include",
    "default",
    "workflow",
    "image",
    "services",
    "before_script",
    "after_script",
    "cache",
    "pages",
}
AUTOMATIC = {"push", "pull_request", "unknown", "pipeline"}


@dataclass(frozen=True)
class Command:
    """One shell command of a pipeline, where it is written and the folder it runs in."""

    line: int
    command: str
    cwd: str


@dataclass
class Pipeline:
    """One CI/CD configuration file."""

    path: str
    system: str
    line: int = 1
    triggers: set[str] = field(default_factory=set)
    crons: list[str] = field(default_factory=list)
    scopes: list[str] = field(default_factory=list)
    commands: list[Command] = field(default_factory=list)
    # line, what the action is (with its command), cwd, the text written on that line
    actions: list[tuple[int, str, str, str]] = field(default_factory=list)
    templates: list[str] = field(default_factory=list)
    after: list[str] = field(default_factory=list)  # pipelines whose completion starts it

    def started(self) -> str:
        """What starts the pipeline, in words."""
        words = {
            "push": "on push",
            "pull_request": "on pull requests",
            "schedule": "on a schedule",
            "manual": "by hand",
            "pipeline": "when another pipeline completes",
            "tag": "on a release",
            "unknown": "by its trigger",
        }
        return ", ".join(words[t] for t in sorted(self.triggers) if t in words) or "never"


def system_of(rel: str, doc: object) -> str | None:
    """Name the CI system a file belongs to, or None when it is not a CI configuration."""
    name = posixpath.basename(rel)
    if rel.startswith(".github/workflows/") and name.endswith((".yml", ".yaml")):
        return "GitHub Actions"
    if name == ".gitlab-ci.yml":
        return "GitLab CI"
    if rel.endswith(".circleci/config.yml"):
        return "CircleCI"
    if name == "bitbucket-pipelines.yml":
        return "Bitbucket Pipelines"
    if name.startswith("Jenkinsfile"):
        return "Jenkins"
    if re.match(r"cloudbuild.*\.ya?ml$", name):
        return "Cloud Build"
    if re.match(r"buildspec.*\.ya?ml$", name):
        return "AWS CodeBuild"
    if not isinstance(doc, YMap):
        return None
    named = name.startswith("azure-pipelines") or _AZURE_DIR_RE.search(rel)
    shaped = any(key in doc for key in ("trigger", "pr", "pool", "resources", "schedules"))
    if (named or shaped) and any(key in doc for key in ("steps", "jobs", "stages")):
        return "Azure Pipelines"
    return None


def _cwd(base: str, value: object) -> str:
    text = _VAR_RE.sub("", text_of(value)).strip().strip("'\"")
    if not text or text.startswith("$"):
        return base
    text = text.split("$(", 1)[0].rstrip("/")
    return posixpath.normpath(posixpath.join(base, text)).lstrip("./") if text else base


def _add_script(pipeline: Pipeline, value: object, cwd: str) -> None:
    """Add the commands of a ``run:``/``script:`` value (text or list of lines)."""
    items = value if isinstance(value, list) else [value]
    for item in items:
        if not isinstance(item, str):
            continue
        first = item.line + 1 if getattr(item, "block", False) else item.line
        here = cwd
        for line, command in logical_lines(item, first):
            move = re.match(r"^cd\s+(\S+)$", command)
            if move:
                here = _cwd(here, move.group(1))
                continue
            pipeline.commands.append(Command(line, command, here))


def _github(pipeline: Pipeline, doc: YMap) -> None:
    on = doc.get("on", doc.get("true"))
    pipeline.line = doc.line_of("on") if "on" in doc else doc.line
    events = on if isinstance(on, (YMap, YList)) else [on] if isinstance(on, str) else []
    mapping = {
        "push": "push",
        "pull_request": "pull_request",
        "pull_request_target": "pull_request",
        "merge_group": "pull_request",
        "schedule": "schedule",
        "workflow_dispatch": "manual",
        "repository_dispatch": "manual",
        "workflow_run": "pipeline",
        "release": "tag",
    }
    if isinstance(on, YMap) and isinstance(on.get("workflow_run"), YMap):
        pipeline.after += [str(w) for w in on["workflow_run"].get("workflows") or []]
    for event in events:
        pipeline.triggers.add(mapping.get(str(event), "unknown"))
    if isinstance(on, YMap):
        for item in on.get("schedule") or []:
            if isinstance(item, YMap) and isinstance(item.get("cron"), str):
                pipeline.crons.append(str(item["cron"]))
        for event in ("push", "pull_request"):
            paths = on.get(event).get("paths") if isinstance(on.get(event), YMap) else None
            for pattern in paths or []:
                fixed = str(pattern).split("*", 1)[0].rstrip("/")
                if fixed and not fixed.startswith("!"):
                    pipeline.scopes.append(fixed)
    top = _cwd("", (doc.get("defaults") or YMap()).get("run", YMap()).get("working-directory"))
    for job in (doc.get("jobs") or YMap()).values():
        if not isinstance(job, YMap):
            continue
        defaults = job.get("defaults")
        run = defaults.get("run") if isinstance(defaults, YMap) else None
        base = _cwd(top, run.get("working-directory")) if isinstance(run, YMap) else top
        for step in job.get("steps") or []:
            if not isinstance(step, YMap):
                continue
            cwd = _cwd(base, step.get("working-directory"))
            if "run" in step:
                _add_script(pipeline, step["run"], cwd)
            if isinstance(step.get("uses"), str):
                with_ = step.get("with")
                pushes = isinstance(with_, YMap) and str(with_.get("push", "")).lower() == "true"
                name = str(step["uses"]) + (" (push: true)" if pushes else "")
                literal = f"uses: {step['uses']}"
                pipeline.actions.append((step.line_of("uses"), name, cwd, literal))


def _azure_steps(pipeline: Pipeline, steps: object, cwd: str) -> None:
    for step in steps if isinstance(steps, list) else []:
        if not isinstance(step, YMap):
            continue
        here = _cwd(cwd, step.get("workingDirectory"))
        for key in ("script", "bash", "powershell", "pwsh"):
            if key in step:
                _add_script(pipeline, step[key], here)
        if isinstance(step.get("template"), str):
            pipeline.templates.append(str(step["template"]))
        task = step.get("task")
        if isinstance(task, str):
            inputs = step.get("inputs") if isinstance(step.get("inputs"), YMap) else YMap()
            here = _cwd(here, inputs.get("workingDirectory"))
            for key in ("inlineScript", "script", "Inline"):
                if isinstance(inputs.get(key), str):
                    _add_script(pipeline, inputs[key], here)
            if isinstance(inputs.get("scriptPath"), str):
                path = _VAR_RE.sub("", str(inputs["scriptPath"]))
                pipeline.commands.append(Command(step.line_of("task"), f"bash {path}", ""))
            command = text_of(inputs.get("command")) or text_of(inputs.get("action"))
            name = f"{task} {command}".strip()
            pipeline.actions.append((step.line_of("task"), name, here, f"task: {task}"))


def _azure(pipeline: Pipeline, doc: YMap) -> None:
    trigger = doc.get("trigger")
    pr = doc.get("pr")
    pipeline.line = doc.line_of("trigger") if "trigger" in doc else doc.line
    if trigger is None or str(trigger) != "none":
        pipeline.triggers.add("push")
    if pr is not None and str(pr) != "none":
        pipeline.triggers.add("pull_request")
    for item in doc.get("schedules") or []:
        if isinstance(item, YMap) and isinstance(item.get("cron"), str):
            pipeline.triggers.add("schedule")
            pipeline.crons.append(str(item["cron"]))
    resources = doc.get("resources")
    for item in (resources.get("pipelines") or []) if isinstance(resources, YMap) else []:
        if isinstance(item, YMap) and "trigger" in item:
            pipeline.triggers.add("pipeline")
            pipeline.after.append(text_of(item.get("source")) or text_of(item.get("pipeline")))
    if isinstance(trigger, YMap) and isinstance(trigger.get("paths"), YMap):
        for pattern in trigger["paths"].get("include") or []:
            fixed = str(pattern).split("*", 1)[0].rstrip("/")
            if fixed:
                pipeline.scopes.append(fixed)

    def walk(node: object) -> None:
        if isinstance(node, YList):
            for item in node:
                walk(item)
        elif isinstance(node, YMap):
            if isinstance(node.get("template"), str) and "steps" not in node:
                pipeline.templates.append(str(node["template"]))
            _azure_steps(pipeline, node.get("steps"), "")
            for key in ("stages", "jobs"):
                walk(node.get(key))

    walk(doc)


def _gitlab(pipeline: Pipeline, doc: YMap) -> None:
    pipeline.triggers.add("push")
    for name, job in doc.items():
        if name in _GITLAB_RESERVED or name.startswith(".") or not isinstance(job, YMap):
            continue
        rules = f"{text_of(job.get('only'))} {job.get('rules', '')}"
        if "schedule" in rules:
            pipeline.triggers.add("schedule")
        for key in ("before_script", "script"):
            if key in job:
                _add_script(pipeline, job[key], "")


def _simple(pipeline: Pipeline, doc: YMap) -> None:
    """CircleCI, Bitbucket, Cloud Build and CodeBuild: find their command lists."""
    pipeline.triggers.add("unknown")

    def walk(node: object, depth: int = 0) -> None:
        if depth > 12:
            return
        if isinstance(node, YList):
            for item in node:
                walk(item, depth + 1)
            return
        if not isinstance(node, YMap):
            return
        if pipeline.system == "Cloud Build" and isinstance(node.get("args"), YList):
            builder = str(node.get("entrypoint") or str(node.get("name", "")).rsplit("/", 1)[-1])
            words = " ".join(str(a) for a in node["args"] if isinstance(a, str))
            # a Cloud Build step names its builder and arguments apart: point at the arguments
            first = node["args"][0] if node["args"] else node
            pipeline.commands.append(Command(first.line, f"{builder} {words}", ""))
        for key in ("run", "script", "commands", "command"):
            value = node.get(key)
            if isinstance(value, (str, YList)):
                _add_script(pipeline, value, "")
        if isinstance(node.get("cron"), str):
            pipeline.triggers.add("schedule")
            pipeline.crons.append(str(node["cron"]))
        for key, value in node.items():
            if key not in ("run", "script", "commands", "command") or isinstance(value, YMap):
                walk(value, depth + 1)

    walk(doc)


_JENKINS_SH_RE = re.compile(r"\bsh\s*\(?\s*(?:script:\s*)?('''|\"\"\"|'|\")(.*?)\1", re.DOTALL)


def _jenkins(pipeline: Pipeline, text: str) -> None:
    pipeline.triggers.add("unknown")
    if re.search(r"\bcron\s*\(", text):
        pipeline.triggers.add("schedule")
    for match in _JENKINS_SH_RE.finditer(text):
        first = text.count("\n", 0, match.start(2)) + 1
        _add_script(pipeline, _Line(match.group(2), first), "")


class _Line(str):
    def __new__(cls, text: str, line: int) -> _Line:
        value = super().__new__(cls, text)
        value.line = line  # type: ignore[attr-defined]
        return value


def read_pipeline(rel: str, text: str) -> Pipeline | None:
    """Return the pipeline a CI file defines, or None when ``rel`` is not a CI file."""
    if posixpath.basename(rel).startswith("Jenkinsfile"):
        pipeline = Pipeline(rel, "Jenkins")
        _jenkins(pipeline, text)
        return pipeline
    docs = load_documents(text)
    doc = docs[0] if docs else None
    system = system_of(rel, doc)
    if system is None or not isinstance(doc, YMap):
        return None
    pipeline = Pipeline(rel, system)
    if system == "GitHub Actions":
        _github(pipeline, doc)
    elif system == "Azure Pipelines":
        _azure(pipeline, doc)
    elif system == "GitLab CI":
        _gitlab(pipeline, doc)
    else:
        _simple(pipeline, doc)
    return pipeline


def _action_category(name: str) -> str | None:
    """What a ``uses:`` action or an Azure ``task:`` does (documentation pages are no release)."""
    low = name.lower()
    if "pages" in low or re.search(r"\b(delete|uninstall|destroy|remove)\b", low):
        return None
    if _PUSH_ACTION_RE.search(name):
        return "push" if "push" in low.split("@", 1)[-1] else None
    if _DEPLOY_ACTION_RE.search(name) or re.search(r"(terraform\w*|kubernetes)@\d+ apply", low):
        return "deploy"
    return None


def pipeline_evidence(
    pipeline: Pipeline, follower: Follower, templates: dict[str, Pipeline]
) -> list[tuple[Evidence, str]]:
    """Return ``(evidence, scope folder)`` for what one pipeline does (see module docstring)."""
    found: list[tuple[Evidence, str]] = []
    scope = pipeline.scopes[0] if len(set(pipeline.scopes)) == 1 else ""
    if not scope:  # a pipeline is about the project its steps work in
        folders = [c.cwd for c in pipeline.commands if c.cwd]
        folders += [cwd for _, _, cwd, _ in pipeline.actions if cwd]
        if folders:
            top = [f.split("/") for f in folders]
            common = posixpath.commonprefix(top)
            scope = "/".join(common) or max(set(folders), key=folders.count)
    started = pipeline.started()
    info = f"{pipeline.system}, runs {started}"
    found.append((Evidence("ci_config", pipeline.path, pipeline.line, info), scope))
    actions: list[Action] = []
    for command in pipeline.commands:
        actions += follower.actions(pipeline.path, command.line, command.command, command.cwd)
    for line, name, cwd, literal in pipeline.actions:
        category = _action_category(name)
        if category:
            actions.append(Action(category, pipeline.path, line, literal, cwd))
    for ref in pipeline.templates:
        rel = posixpath.normpath(
            posixpath.join(posixpath.dirname(pipeline.path), ref.split("@")[0])
        )
        included = templates.get(rel)
        if included is not None:
            for command in included.commands:
                actions += follower.actions(
                    included.path, command.line, command.command, command.cwd
                )
    automatic = bool(pipeline.triggers & AUTOMATIC)
    for action in actions:
        where = scope if action.path == pipeline.path and not action.cwd else action.cwd
        by = "" if action.path == pipeline.path else f", run by {pipeline.path}"
        what = f"`{short(action.command)}`"
        if action.category == "test":
            detail = f"runs tests {started}: {what}{by}"
            found.append((Evidence("ci", action.path, action.line, detail, not automatic), where))
        elif action.category in ("push", "deploy"):
            verb = "pushes an image" if action.category == "push" else "deploys"
            detail = f"{pipeline.system} {verb} ({started}): {what}{by}"
            found.append((Evidence("deployment", action.path, action.line, detail), where))
            if "pipeline" in pipeline.triggers:
                source = " or ".join(f"'{name}'" for name in pipeline.after) or "another pipeline"
                detail = f"deploys when {source} completes: {what}{by}"
                trained = any("train" in name.lower() for name in pipeline.after)
                promo = Evidence("promotion", action.path, action.line, detail, not trained)
                found.append((promo, where))
        elif action.category == "train":
            detail = f"{pipeline.system} trains ({started}): {what}{by}"
            found.append((Evidence("pipeline", action.path, action.line, detail), where))
            if "schedule" in pipeline.triggers:
                crons = ", ".join(pipeline.crons) or "a schedule"
                detail = f"trains on a schedule ({crons}): {what}{by}"
                found.append((Evidence("retraining", action.path, action.line, detail), where))
    return found
