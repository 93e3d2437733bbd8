"""The scan: estimate a repository's maturity level from what its files do.

:func:`scan` walks a project tree (never entering ``.git``, virtual environments,
``node_modules``, build output or caches), reads the files that can hold evidence, and
hands each to the module that knows its kind: Python files and notebooks to
:mod:`.pyrules`, CI/CD configurations to :mod:`.ci` (which follows their ``make`` targets,
scripts and job files through :mod:`.commands`), other configurations to :mod:`.configs`.
Nothing is executed. It then finds the projects in the tree (:mod:`.projects`), judges
each from its own evidence (:func:`.evidence.judge`) and reports the repository as its
best-supported project, listing the others.

The verdict is an estimate: it sees what is in the files, not what a team does. Every
piece of evidence names the file and line that does what it says, so a learner can check.
"""

from __future__ import annotations

import os
import posixpath
from collections.abc import Iterable
from pathlib import Path

from ...errors import KitError
from . import projects as proj
from .ci import Pipeline, pipeline_evidence, read_pipeline
from .commands import Follower
from .configs import Context, config_evidence, is_config
from .evidence import Evidence, ScanResult, best_project, judge
from .pyfacts import Facts, notebook_facts, python_facts
from .pyrules import PythonInfo, notebook_evidence, python_info, trains


class ScanPathError(KitError):
    """The path given to :func:`scan` is not a readable folder."""


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
        ".terraform",
        "mlartifacts",
    }
)

#: bytes read at most from one file (the start of it)
MAX_FILE_BYTES = 1_000_000
#: files looked at at most in one scan
MAX_FILES = 20_000


class _Tree:
    """The files of the scanned folder, read once each, at most ``limit`` bytes."""

    def __init__(self, root: Path, files: list[str], limit: int) -> None:
        self.root = root
        self.files = files
        self.known = set(files)
        self.limit = limit
        self.texts: dict[str, str | None] = {}
        self.cut: set[str] = set()
        self.facts: dict[str, Facts] = {}

    def read(self, rel: str) -> str | None:
        if rel not in self.known:
            return None
        if rel not in self.texts:
            try:
                with open(self.root / rel, "rb") as handle:
                    data = handle.read(self.limit + 1)
            except OSError:
                data = b""
            if len(data) > self.limit:
                self.cut.add(rel)
            self.texts[rel] = data[: self.limit].decode("utf-8", errors="replace")
        return self.texts[rel]

    def python(self, rel: str) -> Facts:
        if rel not in self.facts:
            self.facts[rel] = python_facts(self.read(rel) or "")
        return self.facts[rel]

    def trains(self, rel: str) -> bool:
        return rel.endswith(".py") and trains(self.python(rel))


def _walk(root: Path, max_files: int) -> tuple[list[str], list[str], list[Evidence]]:
    """Return the files to look at, those left out by the file cap, and folder evidence."""
    files: list[str] = []
    left_out: list[str] = []
    found: list[Evidence] = []
    for folder, dirnames, filenames in os.walk(root):
        here = Path(folder)
        rel_folder = here.relative_to(root).as_posix()
        keep = []
        for name in sorted(dirnames):
            rel = name if rel_folder == "." else f"{rel_folder}/{name}"
            if name in SKIP_DIRS or name.endswith(".egg-info"):
                continue
            if (here / name / "pyvenv.cfg").is_file():
                continue
            if name == "mlruns":
                detail = "a committed MLflow run store: runs were tracked"
                found.append(Evidence("tracking", rel + "/", 0, detail, weak=True))
                continue
            keep.append(name)
        dirnames[:] = keep
        for name in sorted(filenames):
            rel = name if rel_folder == "." else f"{rel_folder}/{name}"
            if not (here / name).is_file():
                continue
            if len(files) >= max_files:
                left_out.append(rel)
                continue
            files.append(rel)
    return files, left_out, found


def _python_evidence(tree: _Tree) -> list[Evidence]:
    """Evidence of every Python file and notebook, plus promotion across imports."""
    found: list[Evidence] = []
    infos: dict[str, PythonInfo] = {}
    for rel in tree.files:
        if rel.endswith(".py"):
            info = python_info(rel, tree.python(rel))
            infos[rel] = info
            found += info.evidence
        elif rel.endswith(".ipynb"):
            cells = notebook_facts(tree.read(rel) or "")
            found += notebook_evidence(rel, cells or [])
    # a helper that promotes models counts when a pipeline's file imports it
    imported = {m.rsplit(".", 1)[-1] for i in infos.values() if i.orchestrated for m in i.modules}
    for rel, info in infos.items():
        stem = posixpath.basename(rel)[:-3]
        if info.promotions and not info.orchestrated and stem in imported:
            call = info.promotions[0]
            detail = f"promotes the model, called from a pipeline: {call.text[:60]}"
            found.append(Evidence("promotion", rel, call.line, detail))
    return found


def _ci_evidence(tree: _Tree) -> list[tuple[Evidence, str]]:
    pipelines: dict[str, Pipeline] = {}
    for rel in tree.files:
        name = posixpath.basename(rel)
        if name.endswith((".yml", ".yaml")) or name.startswith("Jenkinsfile"):
            pipeline = read_pipeline(rel, tree.read(rel) or "")
            if pipeline is not None:
                pipelines[rel] = pipeline
    included = set()
    for pipeline in pipelines.values():
        folder = posixpath.dirname(pipeline.path)
        for ref in pipeline.templates:
            included.add(posixpath.normpath(posixpath.join(folder, ref.split("@")[0])))
    follower = Follower(tree.read, tree.trains)
    found: list[tuple[Evidence, str]] = []
    for rel, pipeline in pipelines.items():
        if rel not in included:
            found += pipeline_evidence(pipeline, follower, pipelines)
    return found


def _config_evidence(tree: _Tree) -> list[Evidence]:
    ctx = Context(trains=tree.trains, python_files=[f for f in tree.files if f.endswith(".py")])
    found: list[Evidence] = []
    for rel in tree.files:
        name = posixpath.basename(rel)
        if name == "mlflow.db":
            detail = "a committed MLflow backend store: runs were tracked"
            found.append(Evidence("tracking", rel, 0, detail, weak=True))
        elif is_config(rel):
            found += config_evidence(rel, tree.read(rel) or "", ctx, tree.read)
    return found


def scan(
    path: str | os.PathLike = ".",
    *,
    max_file_bytes: int = MAX_FILE_BYTES,
    max_files: int = MAX_FILES,
) -> ScanResult:
    """Estimate the maturity level of the project(s) in a folder from what the files do.

    See the module docstring for what is read and how; :data:`.evidence.REQUIREMENTS`
    for what each level needs. Python is read through its syntax tree and CI files as the
    commands they run, so a comment or a string that mentions ``mlflow`` or "deploy" is
    not evidence.

    Args:
        path: the folder to scan (a repository or one project).
        max_file_bytes: bytes read at most from each file.
        max_files: files looked at at most; the rest are reported in ``truncated``.

    Returns:
        A :class:`~.evidence.ScanResult`: the best-supported project's verdict (level,
        per-level met and missing, evidence, confidence, summary) and every project found.

    Raises:
        ScanPathError: when ``path`` is not an existing folder.
    """
    root = Path(path)
    if not root.is_dir():
        raise ScanPathError(
            f"Cannot scan {str(path)!r}: it is not an existing folder.",
            "Pass the root folder of a project, e.g. mlops-kit maturity --scan .",
        )
    files, left_out, found = _walk(root, max_files)
    tree = _Tree(root, files, max_file_bytes)
    scoped: list[tuple[Evidence, str]] = [(e, e.path.rstrip("/")) for e in found]
    scoped += [(e, e.path) for e in _python_evidence(tree)]
    scoped += [(e, e.path) for e in _config_evidence(tree)]
    scoped += [(e, scope or e.path) for e, scope in _ci_evidence(tree)]
    return _result(scoped, files, sorted(tree.cut) + left_out)


def _result(
    scoped: Iterable[tuple[Evidence, str]], files: list[str], truncated: list[str]
) -> ScanResult:
    roots = proj.project_roots(files)
    parts = proj.parts(files, roots)
    grouped: dict[str, list[Evidence]] = {root: [] for root in roots}
    for item, scope in scoped:
        grouped[proj.owner(scope, roots)].append(item)
    cut: dict[str, int] = {}
    for rel in truncated:
        owner = proj.owner(rel, roots)
        cut[owner] = cut.get(owner, 0) + 1
    results = [
        judge(root, items, cut.get(root, 0), tuple(parts.get(root, ())))
        for root, items in grouped.items()
        if items or root in parts or root == "."
    ]
    ranked = best_project(results)
    return ScanResult(
        project=ranked[0], projects=tuple(ranked), files_scanned=len(files), truncated=truncated
    )


def scan_from_evidence(evidence: Iterable[Evidence]) -> ScanResult:
    """Return the verdict a list of evidence supports, as one project (for what-ifs, tests)."""
    return _result(((item, item.path) for item in evidence), [], [])
