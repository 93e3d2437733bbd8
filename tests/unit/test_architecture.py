"""The package's layout is the architecture: layers import one way, no cycles, small modules.

docs/ARCHITECTURE.md draws the layers; these tests read every module of ``lib/mlops_kit``
with :mod:`ast` (imports inside functions count, ``if TYPE_CHECKING:`` blocks do not) and
fail on an import that crosses a layer the wrong way, on any cycle, and on a module too long
to hold in mind that does not say why.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

LIB = Path(__file__).resolve().parents[2] / "lib"
PACKAGE = LIB / "mlops_kit"

CORE = {"errors", "config", "fileio", "records", "pages"}
# layer -> the layers it may import (besides itself and the core)
ALLOWED = {
    "core": set(),
    "tlc": set(),
    "model": {"tlc"},
    "lessons": {"tlc"},
    "execution": set(),
    "homework": {"tlc", "model", "execution"},
    "cli": {"tlc", "model", "lessons", "execution", "homework"},
    "root": {"cli"},  # mlops_kit/__main__
}
MAX_LOOSE = 8
MAX_LINES = 600
LONG_MARKER = "This module is long because"


def module_name(path: Path, lib: Path = LIB) -> str:
    parts = list(path.relative_to(lib).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def layer(module: str) -> str:
    parts = module.split(".")
    if module == "mlops_kit.__main__":
        return "root"
    if len(parts) == 1 or parts[1] in CORE:  # the package itself holds only __version__
        return "core"
    return parts[1]


def _type_checking_blocks(tree: ast.AST) -> set[int]:
    """Line numbers of statements under ``if TYPE_CHECKING:`` (not part of the runtime graph)."""
    skip: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If):
            test = node.test
            name = getattr(test, "id", None) or getattr(test, "attr", None)
            if name == "TYPE_CHECKING":
                for child in node.body:
                    for sub in ast.walk(child):
                        if hasattr(sub, "lineno"):
                            skip.add(sub.lineno)
    return skip


def imports_of(path: Path, modules: set[str], lib: Path = LIB) -> dict[str, int]:
    """Return ``{imported kit module: line}`` for one file, relative imports resolved."""
    name = module_name(path, lib)
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skip = _type_checking_blocks(tree)
    found: dict[str, int] = {}

    def add(target: str, line: int) -> None:
        # the deepest kit module that the dotted name names
        while target and target not in modules:
            target = target.rpartition(".")[0]
        if target and target != name:
            found.setdefault(target, line)

    for node in ast.walk(tree):
        if getattr(node, "lineno", None) in skip:
            continue
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "mlops_kit":
                    add(alias.name, node.lineno)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target.split(".")[0] != "mlops_kit":
                continue
            for alias in node.names:
                full = f"{target}.{alias.name}"
                add(full if full in modules else target, node.lineno)
    return found


def graph() -> dict[str, dict[str, int]]:
    files = sorted(PACKAGE.rglob("*.py"))
    modules = {module_name(p) for p in files}
    return {module_name(p): imports_of(p, modules) for p in files}


def test_layers_import_one_way():
    wrong = []
    for module, targets in graph().items():
        mine = layer(module)
        for target, line in targets.items():
            theirs = layer(target)
            if theirs in {mine, "core"} and not (mine == "core" and theirs != "core"):
                continue
            if theirs not in ALLOWED[mine]:
                wrong.append(f"{module} (line {line}) imports {target}: {mine} -> {theirs}")
    assert not wrong, "imports against docs/ARCHITECTURE.md:\n" + "\n".join(wrong)


def test_nothing_imports_the_cli():
    users = [
        m
        for m, targets in graph().items()
        if layer(m) not in {"cli", "root"} and any(layer(t) == "cli" for t in targets)
    ]
    assert not users


def find_cycle(edges: dict[str, set[str]]) -> list[str] | None:
    """Return one import cycle as a list of modules, or None (iterative DFS, colours)."""
    colour = dict.fromkeys(edges, 0)
    for start in edges:
        if colour[start]:
            continue
        stack = [(start, iter(sorted(edges[start])))]
        path = [start]
        colour[start] = 1
        while stack:
            node, children = stack[-1]
            child = next(children, None)
            if child is None:
                colour[node] = 2
                stack.pop()
                path.pop()
                continue
            if colour.get(child, 2) == 1:
                return path[path.index(child) :] + [child]
            if colour.get(child) == 0:
                colour[child] = 1
                path.append(child)
                stack.append((child, iter(sorted(edges[child]))))
    return None


def test_no_import_cycles():
    edges = {m: set(t) for m, t in graph().items()}
    cycle = find_cycle(edges)
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


def test_the_cycle_finder_finds_a_cycle():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_layer_rule_catches_a_wrong_import(tmp_path):
    # the checker itself must be able to fail: a tlc module importing model is reported
    fake = tmp_path / "mlops_kit" / "tlc"
    fake.mkdir(parents=True)
    (fake / "bad.py").write_text("def f():\n    from ..model import training\n")
    modules = {"mlops_kit.model.training", "mlops_kit.tlc.bad"}
    targets = imports_of(fake / "bad.py", modules, lib=tmp_path)
    assert targets == {"mlops_kit.model.training": 2}
    assert layer("mlops_kit.model.training") not in ALLOWED[layer("mlops_kit.tlc.bad")]


def test_few_loose_modules_at_the_top():
    loose = sorted(p.name for p in PACKAGE.glob("*.py") if p.name not in {"__init__.py"})
    assert len(loose) <= MAX_LOOSE, loose


def test_modules_fit_in_a_reader_s_head():
    long = []
    for path in sorted(PACKAGE.rglob("*.py")):
        text = path.read_text(encoding="utf-8")
        if text.count("\n") > MAX_LINES:
            doc = ast.get_docstring(ast.parse(text)) or ""
            if LONG_MARKER not in doc:
                long.append(f"{path.relative_to(LIB)}: {text.count(chr(10))} lines")
    assert not long, f"over {MAX_LINES} lines without '{LONG_MARKER} ...' in the docstring: {long}"


def test_no_module_reaches_into_another_s_private_names():
    offenders = []
    files = sorted(PACKAGE.rglob("*.py"))
    modules = {module_name(p) for p in files}
    for path in files:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.level:
                for alias in node.names:
                    if alias.name.startswith("_") and not alias.name.startswith("__"):
                        offenders.append(f"{path.relative_to(LIB)}:{node.lineno} {alias.name}")
    assert modules and not offenders, offenders


def test_every_subpackage_says_what_lives_there():
    missing = [
        str(init.relative_to(LIB))
        for init in PACKAGE.rglob("__init__.py")
        if len(ast.get_docstring(ast.parse(init.read_text(encoding="utf-8"))) or "") < 80
    ]
    assert not missing


def _kit_error_classes() -> set[str]:
    import importlib
    import pkgutil

    import mlops_kit
    from mlops_kit.errors import KitError

    for info in pkgutil.walk_packages(mlops_kit.__path__, "mlops_kit."):
        if info.name.endswith("__main__"):
            continue
        importlib.import_module(info.name)
    found, todo = set(), [KitError]
    while todo:
        cls = todo.pop()
        if cls.__module__.startswith("mlops_kit"):
            found.add(cls.__name__)
        todo.extend(cls.__subclasses__())
    return found


def test_errors_module_lists_every_kit_error():
    import mlops_kit.errors

    doc = mlops_kit.errors.__doc__
    missing = sorted(name for name in _kit_error_classes() if f"``{name}``" not in doc)
    assert not missing, f"add these to mlops_kit/errors.py's list: {missing}"
