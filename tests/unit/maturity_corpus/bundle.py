"""Repositories reduced to the files the maturity scan reads, kept as one text file each.

Each ``<slug>/files.txt`` holds a public repository's files that can carry evidence
(Python, notebooks' code cells, CI and other YAML, Dockerfiles, Makefiles, scripts,
Terraform, Grafana dashboards) as plain text; dependency files, lock files and committed
MLflow stores, which the scan only looks at by name, are kept empty. To stay small, Python
files lose their comments and docstrings (blanked, so lines keep their numbers), notebooks
keep only the code cells that import or log something, Grafana dashboards only their panel
titles, and files are cut at ``MAX_TEXT`` characters. Files whose absence changes no
project's level or met requirements may be left out (``--prune``): large files that give
no evidence, or whose evidence another file already gives. A bundle rather than a
tree, so the corpus's workflows, tests and code are never linted, collected by pytest or
scanned as part of this repository.

Format: a header line ``# <repository>@<commit>``, then for each file a line
``=== <path>`` followed by its text; a content line that starts with ``=== `` is written
with a leading backslash.

Make a bundle from a checkout (a maintainer's step, not run by the tests)::

    python tests/unit/maturity_corpus/bundle.py SRC_DIR OUT_FILE owner/name COMMIT [--prune]
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from mlops_kit.lessons.maturity.scan import SKIP_DIRS

MAX_TEXT = 30_000  # characters kept of one file; the scan's evidence sits well before that
_SKIP = SKIP_DIRS  # the folders the scan never enters
_PLACEHOLDERS = (
    "requirements",
    "pyproject.toml",
    "Pipfile",
    "poetry.lock",
    "uv.lock",
    "setup.cfg",
    "mlflow.db",
    "MLproject",
)
_TEXT_SUFFIXES = (".py", ".yml", ".yaml", ".tf", ".sh", ".bash", ".dockerfile")
_TEXT_NAMES = ("Dockerfile", "Makefile", "makefile", "justfile", "Jenkinsfile")


def _cut(text: str) -> str:
    if len(text) <= MAX_TEXT:
        return text
    return text[: text.rfind("\n", 0, MAX_TEXT) + 1]


_NOTEBOOK_WORDS = ("import", "mlflow", "wandb", "register", "log_", ".log(", "Experiment")


def _python(text: str) -> str:
    """Blank comment lines and docstrings (the scan reads neither); lines keep their numbers."""
    import ast

    lines = text.splitlines()
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError, RecursionError):
        return _cut(text)
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if not isinstance(body, list) or not body:
            continue
        first = body[0]
        if (
            isinstance(first, ast.Expr)
            and isinstance(first.value, ast.Constant)
            and isinstance(first.value.value, str)
            and first.end_lineno
        ):
            indent = lines[first.lineno - 1][: first.col_offset]
            lines[first.lineno - 1] = indent + '""'
            for number in range(first.lineno, first.end_lineno):
                lines[number] = ""
    kept = ["" if line.lstrip().startswith("#") else line for line in lines]
    return _cut("\n".join(kept) + "\n")


def _notebook(text: str) -> str | None:
    try:
        cells = json.loads(text).get("cells", [])
    except (json.JSONDecodeError, AttributeError):
        return None
    kept = []
    for cell in cells:
        if cell.get("cell_type") == "code":
            source = cell.get("source", "")
            source = "".join(source) if isinstance(source, list) else str(source)
            if not any(word in source for word in _NOTEBOOK_WORDS):
                continue
            kept.append({"cell_type": "code", "metadata": {}, "outputs": [], "source": source})
    reduced = {"cells": kept, "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    while len(json.dumps(reduced, indent=0)) > MAX_TEXT and kept:
        kept.pop()
    return json.dumps(reduced, indent=0) + "\n"


def _json(text: str) -> str | None:
    try:
        data = json.loads(text)
    except json.JSONDecodeError:
        return None
    if isinstance(data, dict) and "panels" in data:
        panels = [{"title": p.get("title", "")} for p in data["panels"] if isinstance(p, dict)]
        return json.dumps({"title": data.get("title", ""), "panels": panels}, indent=1) + "\n"
    if isinstance(data, dict) and "StartAt" in data:
        return _cut(text)
    return None


def reduce_file(rel: str, data: bytes) -> str | None:
    """Return what the corpus keeps of one file, or None to leave it out."""
    name = rel.rsplit("/", 1)[-1]
    if name.startswith(_PLACEHOLDERS):
        return ""
    text = data.decode("utf-8", errors="replace")
    if name.endswith(".ipynb"):
        return _notebook(text) if text else ""
    if name.endswith(".json"):
        return _json(text)
    if name.endswith((".ts", ".js")):
        return _cut(text) if "aws-cdk" in text else None
    if name.endswith(".py"):
        return _python(text)
    if name.endswith(_TEXT_SUFFIXES) or name.startswith(_TEXT_NAMES):
        return _cut(text)
    return None


def reduced_files(src: Path) -> dict[str, str]:
    """Return ``{path: kept text}`` of the checkout at ``src`` (see the module docstring)."""
    files: dict[str, str] = {}
    for folder, dirnames, filenames in os.walk(src):
        here = Path(folder)
        dirnames[:] = sorted(d for d in dirnames if d not in _SKIP)
        if "mlruns" in dirnames:
            dirnames.remove("mlruns")
            files[(here / "mlruns" / "0" / "meta.yaml").relative_to(src).as_posix()] = ""
        for name in sorted(filenames):
            rel = (here / name).relative_to(src).as_posix()
            kept = reduce_file(rel, (here / name).read_bytes())
            if kept is not None:
                files[rel] = kept
    return files


def _verdict(files: dict[str, str]) -> tuple:
    import tempfile

    from mlops_kit.lessons.maturity import scan

    with tempfile.TemporaryDirectory() as folder:
        for rel, text in files.items():
            target = Path(folder) / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8")
        result = scan(folder)
    return tuple(
        (p.path, p.level, tuple(tuple(r.id for r, _ in c.met) for c in p.levels))
        for p in result.projects
    ), {e.path for p in result.projects for e in p.evidence}


def prune(files: dict[str, str], smallest: int = 800, redundant: int = 3000) -> dict[str, str]:
    """Leave out files whose absence changes no project's level or met requirements.

    Files of ``smallest`` characters or more that give no evidence, and files of
    ``redundant`` characters or more whose evidence repeats what other files show.
    """
    verdict, used = _verdict(files)
    candidates = sorted(
        (rel for rel, text in files.items() if len(text) >= smallest),
        key=lambda rel: -len(files[rel]),
    )
    for rel in candidates:
        if rel in used and len(files[rel]) < redundant:
            continue
        trial = {k: v for k, v in files.items() if k != rel}
        if _verdict(trial)[0] == verdict:
            files = trial
    return files


def make_bundle(src: Path, repository: str, commit: str, *, pruned: bool = False) -> str:
    """Return the bundle text of the checkout at ``src``."""
    files = reduced_files(src)
    if pruned:
        files = prune(files)
    parts = [f"# {repository}@{commit}\n"]
    for rel in sorted(files):
        body = "".join(
            ("\\" + line if line.startswith("=== ") else line)
            for line in files[rel].splitlines(keepends=True)
        )
        if body and not body.endswith("\n"):
            body += "\n"
        parts.append(f"=== {rel}\n{body}")
    return "".join(parts)


def read_bundle(path: Path) -> tuple[str, dict[str, str]]:
    """Return ``(repository@commit, {path: text})`` of a bundle file."""
    header, files, current, lines = "", {}, None, []
    for line in path.read_text(encoding="utf-8").splitlines(keepends=True):
        if not header and line.startswith("# "):
            header = line[2:].strip()
        elif line.startswith("=== "):
            if current is not None:
                files[current] = "".join(lines)
            current, lines = line[4:].rstrip("\n"), []
        elif current is not None:
            lines.append(line[1:] if line.startswith("\\=== ") else line)
    if current is not None:
        files[current] = "".join(lines)
    return header, files


def unpack(path: Path, dest: Path) -> Path:
    """Write a bundle's files under ``dest`` and return ``dest``."""
    _, files = read_bundle(path)
    for rel, text in files.items():
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
    return dest


if __name__ == "__main__":
    source, out, repo, sha = sys.argv[1:5]
    text = make_bundle(Path(source), repo, sha, pruned="--prune" in sys.argv)
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    Path(out).write_text(text, encoding="utf-8")
