"""What a shell command does, and the files it hands the work to (Makefiles, scripts).

CI steps, Makefile recipes and shell scripts are all shell commands. :func:`classify`
names what one command line does: runs tests, builds and pushes an image, deploys, trains,
or publishes documentation (which is not a model release). Lines that only ``echo`` are
skipped, so a placeholder step that prints "deploying..." deploys nothing.
:class:`Follower` goes one step further: when a command runs ``make test``, ``bash
run.sh``, ``python train.py`` or submits a job whose YAML names an ``entrypoint``, it
reads that file and classifies what *it* runs, so the evidence points at the line that
does the work, wherever it lives. Nothing is ever executed.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Callable
from dataclasses import dataclass

TEST_RE = re.compile(
    r"\b(pytest|py\.test|tox|nox)\b|-m\s+(pytest|unittest)\b|\bcoverage\s+run\b|\bnpm\s+test\b"
)
PUSH_RE = re.compile(
    r"\bdocker\s+(image\s+)?push\b|\bbuildx\s+build\b.*--push|\bgcloud\s+builds\s+submit\b"
    r"|\baz\s+acr\s+build\b|\bskopeo\s+copy\b"
)
DEPLOY_RE = re.compile(
    r"\bterraform\s+apply\b|\bkubectl\s+(apply|set\s+image|rollout\s+restart|create)\b"
    r"|\bhelm\s+(upgrade|install)\b|\b(serverless|sls)\s+deploy\b|\bsam\s+deploy\b"
    r"|\bcdk\s+deploy\b|\baws\s+lambda\s+(update-function-code|update-function-configuration"
    r"|create-function)\b|\baws\s+ecs\s+update-service\b"
    r"|\baws\s+sagemaker\s+(create|update)-endpoint\b|\bgcloud\s+(run|functions|app)\s+deploy\b"
    r"|\bgcloud\s+ai\s+endpoints\s+deploy-model\b|\baz\s+ml\s+model\s+deploy\b"
    r"|\baz\s+ml\s+online-(deployment|endpoint)\s+(create|update)\b|\baz\s+webapp\s+"
    r"|\baz\s+containerapp\s+(create|update)\b|\bfly(ctl)?\s+deploy\b|\beb\s+deploy\b"
    r"|\bheroku\s+container:release\b|\banyscale\s+service\s+(rollout|deploy)\b"
    r"|\bbentoml\s+deploy(ment)?\b|\bmlflow\s+deployments\s+create\b"
)
TRAIN_CMD_RE = re.compile(
    r"\bpython[\d.]*\s+(-m\s+)?\S*train\S*|\bdvc\s+repro\b|\baz\s+ml\s+job\s+create\b"
)
DOCS_RE = re.compile(r"\bmkdocs\s+gh-deploy\b|\bsphinx-build\b|\bghp-import\b")
SKIP_RE = re.compile(
    r"^(echo|printf|#|:|true$|export\s+\w+=|set\s+-)"
    r"|^(sudo\s+)?(pip3?|python[\d.]*\s+-m\s+pip|uv\s+(pip|add|sync)|poetry\s+(add|install)"
    r"|pipenv\s+install|conda|mamba|apt(-get)?|brew|yum)\b"
)
SCRIPT_RE = re.compile(r"^(?:bash|sh|source|\.)\s+(\S+)|^(\./\S+|\S+\.sh)\b")
MAKE_RE = re.compile(r"\bmake\s+((?:-C\s+\S+\s+)?(?:[\w.-]+\s*)+)")
PYFILE_RE = re.compile(r"\bpython[\d.]*\s+(?:-u\s+)?(\S+\.py)\b|\bpython[\d.]*\s+-m\s+([\w.]+)")
_CD_RE = re.compile(r"^cd\s+(.+?)\s*$")
_SELF_DIR_RE = re.compile(r"\"?\$\(dirname\s+\"?\$0\"?\)\"?|\$\{BASH_SOURCE%/\*\}")
YAML_ARG_RE = re.compile(r"(\S+\.ya?ml)\b")

#: what each category of command counts as
CATEGORIES = ("test", "push", "deploy", "train", "docs")


@dataclass(frozen=True)
class Action:
    """One command line that does something: where it is, what it does, in which folder."""

    category: str
    path: str
    line: int
    command: str
    cwd: str


def logical_lines(text: str, first_line: int) -> list[tuple[int, str]]:
    """Split shell text into commands (continuation lines joined, ``&&`` split), with lines."""
    result: list[tuple[int, str]] = []
    pending, start = "", first_line
    for offset, raw in enumerate(text.splitlines()):
        line = raw.strip()
        if not pending:
            start = first_line + offset
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        whole = (pending + line).strip()
        pending = ""
        for part in re.split(r"&&|\|\||;", whole):
            part = part.strip()
            if part:
                result.append((start, part))
    return result


def classify(command: str) -> list[str]:
    """Return the categories (see :data:`CATEGORIES`) of one command line."""
    if SKIP_RE.match(command):
        return []
    found = []
    if DOCS_RE.search(command):
        return ["docs"]
    if TEST_RE.search(command):
        found.append("test")
    if PUSH_RE.search(command):
        found.append("push")
    if DEPLOY_RE.search(command):
        found.append("deploy")
    if TRAIN_CMD_RE.search(command):
        found.append("train")
    return found


def short(command: str, limit: int = 60) -> str:
    """The command on one line, cut to ``limit`` characters."""
    text = " ".join(command.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


_MAKE_ASSIGN_RE = re.compile(r"^([A-Za-z_][\w]*)\s*[:?+]?=\s*(.*)$")
_MAKE_TARGET_RE = re.compile(r"^([A-Za-z0-9_./%-]+(?:\s+[A-Za-z0-9_./%-]+)*)\s*:(?!=)\s*(.*)$")


def parse_makefile(text: str) -> dict[str, tuple[list[str], list[tuple[int, str]]]]:
    """Return ``target -> (prerequisites, [(line, recipe command)])`` of a Makefile.

    Simple variables are expanded (``PYTEST := poetry run pytest`` then ``$(PYTEST)``), so a
    recipe reads as the command it runs.
    """
    variables: dict[str, str] = {}
    targets: dict[str, tuple[list[str], list[tuple[int, str]]]] = {}
    current: list[str] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        if raw.startswith("\t") and current:
            command = raw.strip().lstrip("@-+")
            for name, value in variables.items():
                command = command.replace(f"$({name})", value).replace(f"${{{name}}}", value)
            for target in current:
                targets[target][1].append((number, command))
            continue
        stripped = raw.split("#", 1)[0].rstrip()
        assign = _MAKE_ASSIGN_RE.match(stripped)
        if assign and ":" not in assign.group(1):
            variables[assign.group(1)] = assign.group(2).strip()
            current = []
            continue
        target = _MAKE_TARGET_RE.match(stripped)
        if target and not stripped.startswith((".", "\t")):
            current = target.group(1).split()
            for name in current:
                targets.setdefault(name, ([], []))[0].extend(target.group(2).split())
        elif stripped:
            current = []
    return targets


class Follower:
    """Classify commands and follow them into the files they run (see the module docstring).

    Args:
        read: returns the text of a file by its path relative to the scanned root, or None.
        trains: tells whether a Python file (relative path) trains a model.
    """

    def __init__(self, read: Callable[[str], str | None], trains: Callable[[str], bool]) -> None:
        self.read = read
        self.trains = trains

    def _find(self, name: str, *folders: str) -> str | None:
        for folder in folders:
            rel = posixpath.normpath(posixpath.join(folder, name)) if folder else name
            rel = rel.lstrip("/")
            if not rel.startswith("..") and self.read(rel) is not None:
                return rel
        return None

    def actions(self, path: str, line: int, command: str, cwd: str, depth: int = 0) -> list[Action]:
        """Return what ``command`` (at ``path:line``, run in ``cwd``) does, following files."""
        if SKIP_RE.match(command):
            return []
        found = [Action(c, path, line, command, cwd) for c in classify(command)]
        if depth >= 3:
            return found
        here = posixpath.dirname(path)
        make = MAKE_RE.search(command)
        if make:
            found += self._make(make.group(1), cwd, depth)
        script = SCRIPT_RE.match(command)
        if script:
            name = script.group(1) or script.group(2)
            rel = self._find(name, cwd, here, "")
            if rel and (rel.endswith((".sh", ".bash")) or "." not in posixpath.basename(rel)):
                found += self._ran(path, line, command, cwd, rel)
                found += self._script(rel, cwd, depth)
        pyfile = PYFILE_RE.search(command)
        if pyfile:
            target = pyfile.group(1) or pyfile.group(2).replace(".", "/") + ".py"
            rel = self._find(target, cwd, here, "")
            if rel:
                found += self._ran(path, line, command, cwd, rel)
                if self.trains(rel) and "train" not in {a.category for a in found}:
                    found.append(Action("train", path, line, command, cwd))
        for match in YAML_ARG_RE.finditer(command):
            rel = self._find(match.group(1), cwd, here, "")
            if rel:
                found += self._entrypoint(rel, cwd, depth)
        return found

    def _ran(self, path: str, line: int, command: str, cwd: str, rel: str) -> list[Action]:
        """A script or module kept with the tests (``integration_tests/run.sh``) is a test."""
        if "test" in rel.lower() and not TEST_RE.search(command):
            return [Action("test", path, line, command, cwd)]
        return []

    def _make(self, args: str, cwd: str, depth: int) -> list[Action]:
        words = args.split()
        folder = cwd
        if words[:1] == ["-C"] and len(words) > 1:
            folder = posixpath.normpath(posixpath.join(cwd, words[1])).lstrip("./")
            words = words[2:]
        rel = self._find("Makefile", folder) or self._find("makefile", folder)
        if rel is None:
            return []
        targets = parse_makefile(self.read(rel) or "")
        found: list[Action] = []
        todo, seen = [w for w in words if not w.startswith("-")], set()
        while todo and len(seen) < 20:
            name = todo.pop(0)
            if name in seen or name not in targets:
                continue
            seen.add(name)
            prerequisites, recipe = targets[name]
            todo.extend(prerequisites)
            for number, command in recipe:
                found += self.actions(rel, number, command, posixpath.dirname(rel), depth + 1)
        return found

    def _script(self, rel: str, cwd: str, depth: int) -> list[Action]:
        """What a shell script runs; it starts in the caller's folder and follows its ``cd``."""
        text = self.read(rel) or ""
        own = posixpath.dirname(rel)
        found: list[Action] = []
        for number, command in logical_lines(text, 1):
            move = _CD_RE.match(command)
            if move:
                target = _SELF_DIR_RE.sub(own or ".", move.group(1).strip("'\""))
                cwd = posixpath.normpath(posixpath.join(cwd, target)).lstrip("./")
                cwd = "" if cwd in (".", "..") or cwd.startswith("../") else cwd
                continue
            found += self.actions(rel, number, command, cwd, depth + 1)
        return found

    def _entrypoint(self, rel: str, cwd: str, depth: int) -> list[Action]:
        from .yamlnodes import YMap, load_mapping

        doc = load_mapping(self.read(rel) or "")
        if not isinstance(doc, YMap):
            return []
        found: list[Action] = []
        for key in ("entrypoint", "command", "script"):
            value = doc.get(key)
            if isinstance(value, str):
                for number, command in logical_lines(value, value.line):
                    found += self.actions(rel, number, command, cwd, depth + 1)
        return found
