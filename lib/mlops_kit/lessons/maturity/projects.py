"""Which folders of a repository are projects of their own, and which are parts of one.

A learner's capstone keeps its parts in folders (``training/``, ``deployment/``,
``monitoring/``), each with its own requirements or Dockerfile: they are one project and
their evidence adds up. A course repository, or a learner's homework repository, holds
many unrelated projects side by side (``01-intro/``, ``02-experiment-tracking/``,
``cohorts/2023/03-orchestration/``, ``hw1/``, ``week-02/``): pooling their evidence would
credit one module's CI to another module's model. The rule, as a person reading the tree
would apply it: a folder named like a member of a collection (a leading number, a year,
``week-2``, ``hw3``, ``homework``, ``module_4``...) or sitting in a folder that holds a
collection (``homeworks/``, ``examples/``, ``cohorts/``...) starts a project of its own;
every other folder is part of the project above it. A folder with its own dependency file,
Dockerfile, Makefile or pipeline definition is listed as a *part* of its project, so a
report can say what the project is made of.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterable

_COLLECTION_RE = re.compile(
    r"^(\d+([-_. ]|$)|(19|20)\d\d$|(week|wk|module|mod|lesson|chapter|lab|exercise|ex|day|hw"
    r"|homework|assignment|cohort|part|unit|session|sprint|project|task)[-_ ]?\d+)",
    re.IGNORECASE,
)
_CONTAINERS = {
    "homework",
    "homeworks",
    "cohorts",
    "exercises",
    "labs",
    "examples",
    "samples",
    "tutorials",
    "lessons",
    "weeks",
    "assignments",
    "courses",
    "projects",
}
_MARKER_RE = re.compile(
    r"^(requirements[\w.-]*\.txt|pyproject\.toml|setup\.py|setup\.cfg|Pipfile|environment\.ya?ml"
    r"|poetry\.lock|uv\.lock|Makefile|justfile|prefect\.yaml|dvc\.yaml|MLproject|bentofile\.yaml"
    r"|Dockerfile[\w.-]*|[\w.-]+\.dockerfile|(docker-)?compose[\w.-]*\.ya?ml)$"
)


def starts_project(folder: str) -> bool:
    """True when ``folder`` (relative, ``/``-separated) is a project of its own."""
    name = posixpath.basename(folder)
    parent = posixpath.basename(posixpath.dirname(folder))
    return bool(
        _COLLECTION_RE.match(name) or name.lower() in _CONTAINERS or parent.lower() in _CONTAINERS
    )


def is_marker(name: str) -> bool:
    """True for a file that makes its folder a part worth naming (dependencies, images...)."""
    return bool(_MARKER_RE.match(name))


def project_roots(files: Iterable[str]) -> list[str]:
    """Return the folders that start a project (``"."`` for the root), outermost first."""
    roots = {"."}
    for rel in files:
        folder = posixpath.dirname(rel)
        while folder:
            if starts_project(folder):
                roots.add(folder)
            folder = posixpath.dirname(folder)
    return sorted(roots, key=lambda f: (0 if f == "." else f.count("/") + 1, f))


def owner(path: str, roots: list[str]) -> str:
    """Return the project root that ``path`` (a file or a folder) belongs to."""
    best = "."
    for root in roots:
        if root != "." and (path == root or path.startswith(root + "/")):
            if best == "." or len(root) > len(best):
                best = root
    return best


def parts(files: Iterable[str], roots: list[str]) -> dict[str, list[str]]:
    """Return project root -> the folders inside it that hold a marker file.

    A saved MLflow model (a folder with an ``MLmodel`` file and its own requirements) is an
    artifact, not a part.
    """
    files = list(files)
    models = {posixpath.dirname(rel) for rel in files if posixpath.basename(rel) == "MLmodel"}
    found: dict[str, set[str]] = {}
    for rel in files:
        if is_marker(posixpath.basename(rel)) and posixpath.dirname(rel) not in models:
            folder = posixpath.dirname(rel) or "."
            found.setdefault(owner(folder, roots), set()).add(folder)
    return {root: sorted(folders) for root, folders in found.items()}
