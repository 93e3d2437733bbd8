"""A notebook's parameters: read its ``parameters`` cell, check values before a kernel starts.

This module is the kit's one parser of a notebook's parameters cell. ``mlops-kit run``, the
runner, the batch grids and the homework all learn what a notebook accepts from
:func:`notebook_parameters` (or, on an already loaded notebook, :func:`declared_in`):

- the names come from the first cell tagged ``parameters``, one top-level assignment each
  (``alpha = 0.01  # penalty strength``), as papermill reads them when it injects values;
- each name's type comes from its annotation (``alpha: float = 1``) or else from the
  default's literal value, and its help from the comment at the end of the line;
- :func:`validate_parameters` refuses a name the notebook does not declare and a value of
  the wrong type, and converts the strings a command line gives (``-p n 3``).

The parser uses :mod:`ast` and :mod:`tokenize` only: reading a grid of jobs does not import
papermill or nbformat, which the worker processes import anyway. :func:`read_notebook`
validates a whole notebook with nbformat for the runner.
"""

from __future__ import annotations

import ast
import io
import json
import os
import re
import tokenize
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..errors import BadParameterError, InvalidNotebookError, UnknownParameterError

TYPE_NAMES = frozenset({"int", "float", "str", "bool", "list", "tuple", "dict"})
"""The types a parameter can be checked against; any other declared type accepts any value."""

_TYPE_COMMENT = re.compile(r"^\s*type:\s*(?P<type>\S*)\s*(?P<help>.*)$")
_TRUE = {"true", "yes", "1", "on"}
_FALSE = {"false", "no", "0", "off"}


def notebook_label(notebook: Any) -> str:
    """Return how messages name a notebook: its path, or ``<notebook object>`` for a dict."""
    return "<notebook object>" if isinstance(notebook, Mapping) else str(notebook)


def read_notebook(notebook: str | os.PathLike | Mapping):
    """Read and validate a notebook into an nbformat v4 node with papermill's metadata.

    Raises:
        InvalidNotebookError: a missing or unreadable file, invalid JSON, or JSON that does
            not follow the notebook format.
    """
    import nbformat

    if isinstance(notebook, Mapping):
        name = "<notebook object>"
        text = json.dumps(notebook)
    else:
        name = str(notebook)
        try:
            text = Path(notebook).read_text(encoding="utf-8")
        except FileNotFoundError as exc:
            raise InvalidNotebookError(
                f"The notebook {name} does not exist.",
                "Check the path (relative paths start from the current folder).",
            ) from exc
        except (OSError, UnicodeDecodeError) as exc:
            raise InvalidNotebookError(
                f"The notebook {name} cannot be read: {exc}.",
                "Pass a readable .ipynb file saved by Jupyter.",
            ) from exc
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidNotebookError(
            f"{name} is not a notebook: it is not valid JSON ({exc.msg} at line {exc.lineno}, "
            f"column {exc.colno}); the file may be truncated or was edited by hand.",
            "Restore it from version control or re-save it from Jupyter.",
        ) from exc
    problem = None
    if not isinstance(raw, dict) or "cells" not in raw or "nbformat" not in raw:
        problem = "it is JSON, but not a Jupyter notebook (no 'cells' and 'nbformat' keys)"
    else:
        try:
            nb = nbformat.reads(text, as_version=4)
            upgraded = nbformat.v4.upgrade(nb)
            nb = upgraded if upgraded is not None else nb
            nbformat.validate(nb)
        except Exception as exc:  # nbformat raises several unrelated types here
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            problem = f"it does not follow the notebook format ({first})"
    if problem:
        raise InvalidNotebookError(
            f"{name} is not a valid notebook: {problem}.",
            "Open and re-save it in Jupyter, or restore it from version control.",
        )
    nb.metadata.setdefault(
        "papermill",
        {"default_parameters": {}, "parameters": {}, "environment_variables": {}},
    )
    for cell in nb.cells:
        cell.metadata.setdefault("tags", [])
        cell.metadata.setdefault("papermill", {})
    return nb


# --------------------------------------------------------------------------- the parser


def _literal(source: str) -> tuple[bool, Any]:
    try:
        return True, ast.literal_eval(source)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return False, None


def infer_type(annotation: str | None, default_source: str) -> str | None:
    """Return a parameter's type name from its annotation, else from its default's value."""
    if annotation and annotation != "None":
        base = annotation.split("[", 1)[0].strip().lower()
        base = {"typing.list": "list"}.get(base, base)
        return base if base in TYPE_NAMES else None
    ok, value = _literal(default_source)
    if not ok or value is None:
        return None
    return type(value).__name__ if type(value).__name__ in TYPE_NAMES else None


def _parameters_source(nb: Mapping) -> str | None:
    """The source of the first cell tagged ``parameters`` (None when there is none)."""
    for cell in nb.get("cells") or []:
        if not isinstance(cell, Mapping):
            continue
        if "parameters" in ((cell.get("metadata") or {}).get("tags") or []):
            if cell.get("cell_type") != "code":
                return None
            source = cell.get("source") or ""
            return "".join(source) if isinstance(source, list) else source
    return None


def _comments(source: str) -> dict[int, tuple[int, str]]:
    """``{line: (column, text after '#')}`` for every comment the tokenizer finds."""
    found: dict[int, tuple[int, str]] = {}
    try:
        for token in tokenize.generate_tokens(io.StringIO(source).readline):
            if token.type == tokenize.COMMENT:
                found[token.start[0]] = (token.start[1], token.string[1:])
    except (tokenize.TokenError, SyntaxError):
        pass
    return found


def _without_magics(source: str) -> str:
    """Blank IPython-only lines (``%magic``, ``!shell``) so :mod:`ast` can read the rest."""
    return "\n".join(
        "" if line.lstrip().startswith(("%", "!")) else line for line in source.splitlines()
    )


def _parse(text: str) -> list[ast.stmt] | None:
    try:
        return ast.parse(text).body
    except SyntaxError:
        return None


def _statements(source: str) -> list[tuple[ast.stmt, str]]:
    """Return ``(statement, the source its positions refer to)`` for the cell's statements.

    A cell :mod:`ast` cannot read as a whole is read line by line, so one bad line does not
    hide the others (papermill reads the cell line by line too).
    """
    for text in (source, _without_magics(source)):
        nodes = _parse(text)
        if nodes is not None:
            return [(node, text) for node in nodes]
    return [(node, line) for line in source.splitlines() for node in _parse(line) or []]


def _flat(segment: str) -> str:
    """A value written over several lines, on one line, comments removed (as papermill does)."""
    lines = segment.splitlines()
    if len(lines) <= 1:
        return segment.strip()
    comments = _comments(segment)
    return "".join(
        (line[: comments[number][0]] if number in comments else line).strip()
        for number, line in enumerate(lines, start=1)
    )


def declared_in(nb: Mapping) -> dict[str, dict[str, Any]]:
    """Return the parameters declared by a loaded notebook (nbformat node or plain JSON dict).

    See :func:`notebook_parameters` for the shape of the result. Only top-level assignments
    of one name with a value count (``a = b = 1`` and ``a, b = 1, 2`` do not), in cell
    order; a name assigned twice keeps its first place and its last value.
    """
    source = _parameters_source(nb)
    if not source:
        return {}
    declared: dict[str, dict[str, Any]] = {}
    comments: dict[str, dict[int, tuple[int, str]]] = {}
    for node, text in _statements(source):
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            target, annotation_node = node.targets[0], None
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            target, annotation_node = node.target, node.annotation
        else:
            continue
        if not isinstance(target, ast.Name):
            continue
        default = _flat(ast.get_source_segment(text, node.value) or "")
        annotation = None
        if isinstance(annotation_node, ast.Constant) and isinstance(annotation_node.value, str):
            annotation = annotation_node.value
        elif annotation_node is not None:
            annotation = ast.get_source_segment(text, annotation_node)
        help_text = ""
        if text not in comments:
            comments[text] = _comments(text)
        comment = comments[text].get(node.end_lineno)
        if comment is not None and comment[0] >= (node.end_col_offset or 0):
            help_text = comment[1].strip()
            typed = _TYPE_COMMENT.match(help_text)
            if typed:
                annotation = annotation or typed["type"] or None
                help_text = typed["help"].strip()
        ok, value = _literal(default)
        declared[target.id] = {
            "name": target.id,
            "type": infer_type(annotation, default),
            "default": value if ok else None,
            "default_source": default,
            "help": help_text,
        }
    return declared


def notebook_parameters(notebook: str | os.PathLike | Mapping) -> dict[str, dict[str, Any]]:
    """Return the parameters a notebook declares in its cell tagged ``parameters``.

    Args:
        notebook: path of an ``.ipynb`` (or a loaded notebook).

    Returns:
        ``{name: {"name", "type", "default", "default_source", "help"}}`` in cell order;
        ``type`` is ``int``, ``float``, ``str``, ``bool``, ``list``, ``tuple``, ``dict``
        (from an annotation such as ``alpha: float = 0.1``, else from the default's literal
        value) or None when unknown (any value is then accepted); ``default`` is the
        default as a Python value when it is a literal; ``help`` is the line's comment.

    Raises:
        InvalidNotebookError: when the file is not a readable, valid notebook.
    """
    return declared_in(read_notebook(notebook))


# --------------------------------------------------------------------------- checking values


def _coerce_string(value: str, kind: str | None) -> Any:
    """Turn a CLI string into the declared type (raises ValueError when it cannot)."""
    text = value.strip()
    if kind == "int":
        return int(text)
    if kind == "float":
        return float(text)
    if kind == "bool":
        if text.lower() in _TRUE:
            return True
        if text.lower() in _FALSE:
            return False
        raise ValueError(f"{value!r} is not true/false")
    if kind in {"list", "tuple", "dict"}:
        import yaml

        loaded = yaml.safe_load(text)  # JSON and YAML flow style: [a, b], {k: v}
        if kind == "tuple" and isinstance(loaded, list):
            loaded = tuple(loaded)
        return loaded
    return value


def _check_type(value: Any, kind: str | None) -> Any:
    """Return the value (ints widened to float) or raise ValueError naming the type."""
    if kind is None:
        return value
    if kind == "int":
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError
        return value
    if kind == "float":
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ValueError
        return float(value)
    if kind == "bool":
        if not isinstance(value, bool):
            raise ValueError
        return value
    if kind == "str":
        if not isinstance(value, str):
            raise ValueError
        return value
    if kind in {"list", "tuple"}:
        if not isinstance(value, (list, tuple)):
            raise ValueError
        return list(value) if kind == "list" else tuple(value)
    if kind == "dict":
        if not isinstance(value, Mapping):
            raise ValueError
        return dict(value)
    return value


def _a(kind: str | None) -> str:
    return f"an {kind}" if kind and kind[0] in "aeiou" else f"a {kind}"


def validate_parameters(
    notebook: str | os.PathLike | Mapping,
    parameters: Mapping[str, Any] | None,
    *,
    coerce_strings: bool = False,
    declared: Mapping[str, Mapping[str, Any]] | None = None,
) -> dict[str, Any]:
    """Check parameters against the notebook's declared ones, before any kernel starts.

    papermill only warns about a name the notebook does not declare and injects any
    value; a typo then silently runs the default. The kit refuses both.

    Args:
        notebook: the notebook whose ``parameters`` cell declares the names.
        parameters: the values to inject (None means none).
        coerce_strings: convert strings to the declared type, as the CLI's
            ``-p NAME VALUE`` gives strings: ``"3"`` for an int, ``"0.1"`` for a float,
            ``"true"``/``"no"`` for a bool, ``"[a, b]"`` or JSON for a list or dict.
        declared: the result of :func:`notebook_parameters` when already known.

    Returns:
        The parameters with coerced values, in the caller's order.

    Raises:
        UnknownParameterError: a name the notebook does not declare (lists valid ones).
        BadParameterError: a value of the wrong type.
        InvalidNotebookError: the notebook itself is malformed.
    """
    declared = notebook_parameters(notebook) if declared is None else declared
    label = notebook_label(notebook)
    checked: dict[str, Any] = {}
    for name, value in (parameters or {}).items():
        if name not in declared:
            if declared:
                valid = "; ".join(
                    f"{p['name']} (default {p['default_source']})" for p in declared.values()
                )
                fix = f"Use one of the declared names: {valid}."
            else:
                fix = (
                    "This notebook declares no parameters: tag its first code cell "
                    "'parameters' and assign each name a default there."
                )
            raise UnknownParameterError(
                f"The notebook {label} has no parameter named {name!r}.", fix
            )
        kind = declared[name]["type"]
        original = value
        try:
            if coerce_strings and isinstance(value, str) and kind not in (None, "str"):
                value = _coerce_string(value, kind)
            checked[name] = _check_type(value, kind)
        except (ValueError, TypeError, ArithmeticError):
            raise BadParameterError(
                f"Parameter {name!r} of {label} expects {_a(kind)} "
                f"(default {declared[name]['default_source']}), got {original!r} "
                f"({type(original).__name__}).",
                f"Pass {_a(kind)} value for {name}"
                + (
                    ", e.g. -p {name} {default}.".format(
                        name=name, default=declared[name]["default_source"]
                    )
                    if coerce_strings
                    else "."
                ),
            ) from None
        except Exception as exc:  # a YAML syntax error while coercing a list
            raise BadParameterError(
                f"Parameter {name!r} of {label} expects {_a(kind)}; "
                f"{original!r} cannot be read as one ({type(exc).__name__}).",
                f"Write it as JSON, e.g. -p {name} '{declared[name]['default_source']}'.",
            ) from None
    return checked
