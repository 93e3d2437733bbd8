"""What a Python file or a notebook does, read from its syntax tree (never executed).

:func:`python_facts` parses source with :mod:`ast` and records, with line numbers, what the
evidence rules (:mod:`.pyrules`) ask about: the calls made (each resolved through the
file's imports, so ``Report(...)`` after ``from evidently import Report`` reads as
``evidently.Report``), the decorators on functions, keyword arguments, string constants,
the names used, and ``if`` statements whose test speaks of drift. A string or a comment
that merely *mentions* ``import mlflow`` is not an import, which is the point of reading
the tree rather than the text. :func:`notebook_facts` does the same for a notebook's code
cells, with IPython magics and shell escapes blanked out.
"""

from __future__ import annotations

import ast
import json
import re
from dataclasses import dataclass, field

_IMPORT_LINE_RE = re.compile(r"^\s*(?:import|from)\s+([A-Za-z_][\w.]*)", re.MULTILINE)


@dataclass(frozen=True)
class Call:
    """One call: ``name`` as written (``client.register_model``), ``resolved`` through imports."""

    name: str
    resolved: str
    line: int
    keywords: dict[str, object]
    text: str

    @property
    def last(self) -> str:
        """The called function's own name (``register_model``)."""
        return self.name.rsplit(".", 1)[-1]


@dataclass
class Facts:
    """What one Python source does (see the module docstring)."""

    imports: dict[str, int] = field(default_factory=dict)  # module root -> line
    modules: set[str] = field(default_factory=set)  # full dotted modules imported
    origins: dict[str, str] = field(default_factory=dict)  # local name -> dotted origin
    calls: list[Call] = field(default_factory=list)
    decorators: list[tuple[str, str, int]] = field(default_factory=list)  # origin, def, line
    defs: dict[str, int] = field(default_factory=dict)
    bases: list[tuple[str, str, int]] = field(default_factory=list)  # class, base, line
    strings: list[tuple[str, int]] = field(default_factory=list)
    names: set[str] = field(default_factory=set)
    drift_ifs: list[tuple[int, list[str]]] = field(default_factory=list)  # line, calls inside
    parsed: bool = True

    def uses(self, root: str) -> bool:
        """True when the source imports module ``root`` (``mlflow``, ``evidently``...).

        A library re-exported by a project module (``from project.config import mlflow``)
        counts too.
        """
        return root in self.imports or any(o.endswith("." + root) for o in self.origins.values())

    def calls_into(self, *roots: str) -> list[Call]:
        """Return the calls whose resolved name starts with one of the module ``roots``."""
        return [c for c in self.calls if c.resolved.split(".", 1)[0] in roots]

    def calls_named(self, *names: str) -> list[Call]:
        """Return the calls whose own name is one of ``names``."""
        wanted = set(names)
        return [c for c in self.calls if c.last in wanted]

    def mentions(self, pattern: re.Pattern) -> bool:
        """True when a name, a defined function or a string constant matches ``pattern``."""
        return (
            any(pattern.search(n) for n in self.names)
            or any(pattern.search(n) for n in self.defs)
            or any(pattern.search(s) for s, _ in self.strings)
        )


def _dotted(node: ast.AST) -> str:
    """``a.b.c`` for a chain of attributes on a name; calls in the chain read as ``x()``."""
    parts = []
    while True:
        if isinstance(node, ast.Attribute):
            parts.append(node.attr)
            node = node.value
        elif isinstance(node, ast.Name):
            parts.append(node.id)
            break
        elif isinstance(node, ast.Call):
            parts.append(_dotted(node.func) + "()")
            break
        else:
            parts.append("?")
            break
    return ".".join(reversed(parts))


def _resolve(name: str, origins: dict[str, str]) -> str:
    head, _, rest = name.partition(".")
    head = head.removesuffix("()")
    if head in origins:
        return origins[head] + ("." + rest if rest else "")
    return name


def _literal(node: ast.AST) -> object:
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, (ast.List, ast.Tuple)):
        return [_literal(item) for item in node.elts]
    if isinstance(node, ast.Call):
        return _dotted(node.func) + "()"
    if isinstance(node, (ast.Name, ast.Attribute)):
        return _dotted(node)
    return None


def _collect_imports(tree: ast.AST, facts: Facts) -> None:
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                facts.imports.setdefault(alias.name.split(".")[0], node.lineno)
                facts.modules.add(alias.name)
                local = alias.asname or alias.name.split(".")[0]
                facts.origins[local] = alias.name if alias.asname else local
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            facts.imports.setdefault(node.module.split(".")[0], node.lineno)
            facts.modules.add(node.module)
            for alias in node.names:
                facts.origins[alias.asname or alias.name] = f"{node.module}.{alias.name}"
        elif isinstance(node, ast.ImportFrom) and node.level:
            # a relative import names a sibling module; keep its name for cross-file rules
            module = node.module or ""
            facts.modules.add("." * node.level + module)
            for alias in node.names:
                facts.origins.setdefault(alias.asname or alias.name, f".{module}.{alias.name}")


def python_facts(source: str) -> Facts:
    """Return the :class:`Facts` of Python ``source``; unparsable code keeps its imports only."""
    facts = Facts()
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        facts.parsed = False
        for match in _IMPORT_LINE_RE.finditer(source):
            line = source.count("\n", 0, match.start()) + 1
            facts.imports.setdefault(match.group(1).split(".")[0], line)
            facts.modules.add(match.group(1))
        return facts
    _collect_imports(tree, facts)
    lines = source.splitlines()
    try:
        nodes = list(ast.walk(tree))
    except RecursionError:
        facts.parsed = False
        return facts
    for node in nodes:
        if isinstance(node, ast.Call):
            name = _dotted(node.func)
            keywords = {k.arg: _literal(k.value) for k in node.keywords if k.arg}
            text = lines[node.lineno - 1].strip() if 0 < node.lineno <= len(lines) else ""
            facts.calls.append(
                Call(name, _resolve(name, facts.origins), node.lineno, keywords, text)
            )
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            facts.defs.setdefault(node.name, node.lineno)
            for decorator in node.decorator_list:
                target = decorator.func if isinstance(decorator, ast.Call) else decorator
                origin = _resolve(_dotted(target), facts.origins)
                facts.decorators.append((origin, node.name, decorator.lineno))
            if isinstance(node, ast.ClassDef):
                for base in node.bases:
                    origin = _resolve(_dotted(base), facts.origins)
                    facts.bases.append((node.name, origin, node.lineno))
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            facts.strings.append((node.value, node.lineno))
        elif isinstance(node, ast.Name):
            facts.names.add(node.id)
        elif isinstance(node, ast.Attribute):
            facts.names.add(node.attr)
        elif isinstance(node, ast.If) and _speaks_of_drift(node.test):
            inside = [
                _dotted(sub.func)
                for child in node.body
                for sub in ast.walk(child)
                if isinstance(sub, ast.Call)
            ]
            facts.drift_ifs.append((node.lineno, inside))
    return facts


_DRIFT_RE = re.compile(r"drift|degrad|regress", re.IGNORECASE)


def _speaks_of_drift(test: ast.AST) -> bool:
    for node in ast.walk(test):
        if isinstance(node, ast.Name) and _DRIFT_RE.search(node.id):
            return True
        if isinstance(node, ast.Attribute) and _DRIFT_RE.search(node.attr):
            return True
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            if _DRIFT_RE.search(node.value):
                return True
    return False


def notebook_facts(text: str) -> list[tuple[int, Facts]] | None:
    """Return the facts of each code cell of a notebook (numbered from 1), None if not JSON.

    IPython magics (``%pip``) and shell escapes (``!wget``) are not Python: their lines are
    blanked so the rest of the cell still parses. Each cell is parsed on its own, so one
    broken cell does not hide the others.
    """
    try:
        notebook = json.loads(text)
        cells = [c for c in notebook.get("cells", []) if c.get("cell_type") == "code"]
    except (json.JSONDecodeError, AttributeError, TypeError):
        return None
    result = []
    for number, cell in enumerate(cells, start=1):
        source = cell.get("source", "")
        source = "".join(source) if isinstance(source, list) else str(source)
        lines = [
            "" if line.lstrip().startswith(("%", "!")) else line for line in source.splitlines()
        ]
        result.append((number, python_facts("\n".join(lines))))
    # a cell uses what earlier cells imported: share the imports and resolve calls again
    imports: dict[str, int] = {}
    origins: dict[str, str] = {}
    for _, facts in result:
        imports.update({k: 0 for k in facts.imports})
        origins.update(facts.origins)
    for _, facts in result:
        facts.imports = {**imports, **facts.imports}
        facts.origins = {**origins, **facts.origins}
        facts.calls = [
            Call(c.name, _resolve(c.name, facts.origins), c.line, c.keywords, c.text)
            for c in facts.calls
        ]
    return result
