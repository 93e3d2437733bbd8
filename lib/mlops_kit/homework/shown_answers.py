"""Read the answers a learner's notebook shows, when it does not call ``answer()``.

In the course, learners write their homework notebook as they like and type the figures
into the course's form; their notebooks never call the kit's ``answer()``. A person
grading such a notebook reads it the way it is written: under the heading of each
question (``## Q1. Downloading the data``, ``# Question 3``, ``### 5. What's the RMSE on
train?``, ``#### Dropping outliers``), the figure the last output of that part shows; or a
line the learner printed as ``Q4: 515``. :func:`shown_answers` does the same on the
*re-executed* notebook, so the figures are the ones its code computes now:

1. a printed line ``Q<n>: <number>`` (also ``Q<n> =``, ``Question <n>:``) answers
   question ``q<n>``;
2. otherwise the notebook is cut into parts at each marker of a question: a markdown
   heading or first line naming ``Q<n>``/``Question <n>``, a heading starting with the
   question's number (``## 2.``), a heading sharing a word with the question's title or
   its ``headings`` in ``questions.yaml`` (``Dropping outliers``, ``Validation``), or a
   code cell opening with such a comment (``# Q3``). A part's answer is the last number
   of the last one-line output of its code cells (a printed line, or a one-line result
   such as ``7.6492`` or ``(73908, 515)``); tables, plots, warnings and shell commands
   (``!wget``) are not read.

Every answer says which cell it came from, named as Jupyter shows it (``In [7]``), so a
grade read this way can be checked by a person. A question with no marker in the
notebook is not answered: nothing is guessed from unmarked cells.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from .cohorts import Cohort

_NUMBER = re.compile(r"-?\d{1,3}(?:,\d{3})+(?:\.\d+)?|-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?")
_QUESTION = re.compile(r"\bQ(?:uestion)?\s*#?\s*(\d{1,2})(?!\d)", re.I)
_NUMBERED_HEADING = re.compile(r"^#+\s*(\d{1,2})(?:\s*[.):](?!\d)|\s|$)")
_LABELLED = re.compile(r"^\s*Q(?:uestion)?\s*(\d{1,2})\s*[:=)-]\s*(.*)$", re.I)
_WORD = re.compile(r"[a-z]+")
# words too common in headings to name a question
_STOP = {"data", "from", "into", "many", "model", "that", "the", "this", "what", "with", "your"}


@dataclass(frozen=True)
class ShownAnswer:
    """One answer read from a notebook's outputs.

    Attributes:
        qid: the question.
        value: the number read.
        cell: the cell it was read from, as Jupyter shows it (``In [7]``).
        text: the output line it was read from.
    """

    qid: str
    value: float
    cell: str
    text: str


def _stems(text: str) -> set[str]:
    return {w[:5] for w in _WORD.findall(text.lower()) if len(w) >= 4 and w not in _STOP}


def _number(text: str, last: bool = True) -> float | None:
    found = _NUMBER.findall(text)
    if not found:
        return None
    return float((found[-1] if last else found[0]).replace(",", ""))


def cell_label(cell: Mapping[str, Any], index: int) -> str:
    """Return a cell's name as Jupyter shows it: ``In [n]``, else its place from 1."""
    count = cell.get("execution_count")
    return f"In [{count}]" if count is not None else f"cell {index + 1}"


class _Markers:
    """Which question a markdown or comment line names, for one cohort."""

    def __init__(self, cohort: Cohort):
        self.ids = set(cohort.ids)
        self.titles = []
        for q in cohort.questions:
            self.titles.append((q.id, _stems(" ".join((q.title, *q.headings)))))

    def by_number(self, number: str) -> str | None:
        qid = f"q{int(number)}"
        return qid if qid in self.ids else None

    def of_line(self, line: str, heading: bool) -> str | None:
        match = _QUESTION.search(line)
        if match and self.by_number(match.group(1)):
            return self.by_number(match.group(1))
        if not heading:
            return None
        match = _NUMBERED_HEADING.match(line)
        if match and self.by_number(match.group(1)):
            return self.by_number(match.group(1))
        words = _stems(line)
        named = [qid for qid, stems in self.titles if stems & words]
        return named[0] if len(named) == 1 else None

    def of_markdown(self, source: str) -> str | None:
        lines = [line.strip() for line in source.splitlines() if line.strip()]
        for i, line in enumerate(lines):
            heading = line.startswith("#")
            if heading or i == 0:
                found = self.of_line(line if heading else f"# {line}", heading=True)
                if found:
                    return found
        return None

    def of_code(self, source: str) -> str | None:
        first = next((line.strip() for line in source.splitlines() if line.strip()), "")
        return self.of_line(first, heading=False) if first.startswith("#") else None


def _is_shell(source: str) -> bool:
    first = next((line.strip() for line in source.splitlines() if line.strip()), "")
    return first.startswith(("!", "%%bash", "%%sh", "%%capture"))


def _output_lines(cell: Mapping[str, Any]) -> list[str]:
    """The one-line outputs of a code cell a person would read as a figure."""
    lines: list[str] = []
    for out in cell.get("outputs") or []:
        kind = out.get("output_type")
        if kind == "stream" and out.get("name") == "stdout":
            text = out.get("text", "")
            text = "".join(text) if isinstance(text, list) else str(text)
            lines += [line for line in text.splitlines() if line.strip()]
        elif kind in ("execute_result", "display_data"):
            text = (out.get("data") or {}).get("text/plain", "")
            text = "".join(text) if isinstance(text, list) else str(text)
            if text.strip() and "\n" not in text.strip():
                lines.append(text.strip())
    return lines


def shown_answers(nb: Mapping[str, Any], cohort: Cohort) -> dict[str, ShownAnswer]:
    """Return ``{qid: ShownAnswer}`` read from an executed notebook's outputs (see above)."""
    markers = _Markers(cohort)
    labelled: dict[str, ShownAnswer] = {}
    by_part: dict[str, ShownAnswer] = {}
    current: str | None = None
    for index, cell in enumerate(nb.get("cells") or []):
        source = cell.get("source", "")
        source = "".join(source) if isinstance(source, list) else str(source)
        if cell.get("cell_type") == "markdown":
            current = markers.of_markdown(source) or current
            continue
        if cell.get("cell_type") != "code":
            continue
        current = markers.of_code(source) or current
        if _is_shell(source):
            continue
        label = cell_label(cell, index)
        for line in _output_lines(cell):
            match = _LABELLED.match(line)
            if match and markers.by_number(match.group(1)):
                value = _number(match.group(2), last=False)
                if value is not None:
                    qid = markers.by_number(match.group(1))
                    labelled[qid] = ShownAnswer(qid, value, label, line)
                continue
            value = _number(line)
            if current is not None and value is not None:
                by_part[current] = ShownAnswer(current, value, label, line)
    return {**by_part, **labelled}
