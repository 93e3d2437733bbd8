"""Golden-notebook comparison: normalise what is volatile, diff the rest with pytest-notebook.

Executed notebooks carry things that change on every run or machine: execution counts,
papermill's timings, random cell ids, kernel paths, temp folders, memory addresses,
progress bars and the last digits of floating point sums. They are normalised (or ignored
by path) before the diff; everything else, every printed number and table, must match.

Plots (``image/png``) are not compared pixel by pixel: PNG bytes change with matplotlib and
font versions while the figure stays the same. Instead the notebooks ``record()`` the
numbers they plot, and records are outputs, so those are compared.
"""

from __future__ import annotations

import copy
import re
import sys
from pathlib import Path

import nbformat
from pytest_notebook.diffing import diff_notebooks, diff_to_string, filter_diff

ROOT = Path(__file__).resolve().parents[2]
GOLDENS = ROOT / "tests" / "goldens"

#: diff paths that never matter (pytest-notebook's star syntax)
IGNORE = (
    "/metadata",
    "/cells/*/id",
    "/cells/*/metadata",
    "/cells/*/execution_count",
    "/cells/*/outputs/*/execution_count",
    "/cells/*/outputs/*/traceback",
    "/cells/*/outputs/*/data/image/png",
    "/cells/*/outputs/*/data/image/svg+xml",
    "/cells/*/outputs/*/metadata",
)

_FLOAT_TAIL = re.compile(r"(?<![\w.])(-?\d+\.\d{4})\d+")


def _replacements() -> list[tuple[re.Pattern, str]]:
    prefixes = sorted({str(ROOT), sys.prefix, str(Path.home())}, key=len, reverse=True)
    subs = [(re.compile(re.escape(p)), "<ROOT>") for p in prefixes if len(p) > 1]
    subs += [
        (re.compile(r"/tmp/[^\s'\"<>)]*"), "<TMP>"),
        (re.compile(r"0x[0-9a-fA-F]{6,}"), "0xADDR"),
        (re.compile(r"\d+%\|[^|\n]*\|[^\n\r]*"), "<PROGRESS>"),
        (re.compile(r"ipykernel_\d+"), "ipykernel_PID"),
        (_FLOAT_TAIL, r"\1"),
    ]
    return subs


def _clean(text: str, subs) -> str:
    for pattern, repl in subs:
        text = pattern.sub(repl, text)
    # a carriage return redraws a line (progress bars): keep the last state only
    return "\n".join(line.rsplit("\r", 1)[-1] for line in text.split("\n"))


def normalise(nb) -> nbformat.NotebookNode:
    """Return a copy of ``nb`` with volatile text replaced by stable placeholders."""
    nb = copy.deepcopy(nb)
    subs = _replacements()
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        for out in cell.get("outputs", []):
            if "text" in out:
                out["text"] = _clean(
                    "".join(out["text"]) if isinstance(out["text"], list) else out["text"], subs
                )
            if "evalue" in out:
                out["evalue"] = _clean(out["evalue"], subs)
            for mime, value in list(out.get("data", {}).items()):
                if mime.startswith("text/") or mime.endswith("+json") or mime.endswith("/json"):
                    if isinstance(value, str):
                        out["data"][mime] = _clean(value, subs)
                    elif isinstance(value, list):
                        out["data"][mime] = _clean("".join(value), subs)
    return nb


def compare(golden, fresh) -> str:
    """Return a readable diff of the two notebooks after normalising (empty when equal)."""
    a, b = normalise(golden), normalise(fresh)
    diff = filter_diff(diff_notebooks(a, b), set(IGNORE))
    if not diff:
        return ""
    return diff_to_string(a, diff, use_color=False)


def scrub_timings(nb) -> nbformat.NotebookNode:
    """Drop per-run timestamps and durations, so a refreshed golden only shows real changes."""
    nb = copy.deepcopy(nb)
    for key in ("start_time", "end_time", "duration"):
        nb.metadata.get("papermill", {}).pop(key, None)
    for cell in nb.cells:
        if "injected-parameters" in cell.metadata.get("tags", []):
            cell["id"] = "injected-parameters"  # papermill draws a random id each run
        cell.metadata.pop("execution", None)
        for key in ("start_time", "end_time", "duration"):
            cell.metadata.get("papermill", {}).pop(key, None)
    return nb
