"""Read form-style submissions: answers typed into a web form, exported as CSV or JSON.

The course collects homework answers with a web form; an export is a table of question ->
value. The kit accepts the shapes such exports take:

* CSV, long: a header ``question,value`` (or ``id,answer``) and one row per question;
* CSV, wide: one header row of question ids (``q1,q2,...``, optionally ``student``) and
  one row of values;
* JSON: ``{"q1": 19, "q2": 42.59}`` or ``{"student": "ana", "answers": {...}}``;
* a **class export** (:func:`parse_class_export`): the course form's own export, one CSV
  with one row per student, a column ``email``/``student``/``name`` naming the row's
  student, one column per question headed by its id (``q1``, ``Q1``) or by its text as the
  form shows it (``Q1. Downloading the data``, ``How many records did you drop?``), and
  any other column (a timestamp, comments) ignored. It is the instructor's file: each row
  is graded as its own student, named by the row; a student named on several rows is
  flagged on each of them.

Values stay as typed (strings such as ``"98%"`` are mapped like option labels later).
An export is hostile data: it is read with a size cap and without following links, numbers
with more digits than any answer has stay text (flagged invalid when graded, never parsed
into a 4,001-digit integer), and a name the form claims is only shown, never trusted.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .cohorts import HomeworkError
from .submissions import FORM_SUFFIXES, MAX_FORM_BYTES, SubmissionError, read_submission

__all__ = [
    "FORM_SUFFIXES",
    "ClassExport",
    "ExportRow",
    "FormAnswers",
    "FormError",
    "parse_class_export",
    "parse_form_bytes",
    "parse_form_text",
    "read_form",
]

#: a number typed with more characters than this stays text (and is flagged invalid)
MAX_NUMBER_TEXT = 40
_QUESTION_HEADERS = ("question", "id", "qid", "question_id")
_VALUE_HEADERS = ("value", "answer", "response")
_STUDENT_HEADERS = ("student", "name", "email")


#: a class export larger than this is refused before it is parsed (a class of thousands)
MAX_EXPORT_BYTES = 20_000_000
#: identity columns of a class export, most specific first
_IDENTITY = ("email", "student", "name")


class FormError(HomeworkError):
    """A form export that cannot be read as question -> value."""


@dataclass(frozen=True)
class FormAnswers:
    """The answers of one form submission.

    Attributes:
        answers: ``{qid: value}`` with ids lower-cased (``Q1`` -> ``q1``).
        student: the name the form claims, or None. Shown to the instructor, never used
            to name a row or a file: the student is whoever the file's path says.
    """

    answers: dict[str, Any]
    student: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def _norm_id(text: Any) -> str:
    return str(text).strip().lower().replace(" ", "")[:40]


def _value(text: Any) -> Any:
    if isinstance(text, str):
        stripped = text.strip()
        if stripped == "":
            return None
        if len(stripped) > MAX_NUMBER_TEXT:
            return stripped  # not parsed: graded as an invalid answer
        try:
            return float(stripped) if any(c in stripped for c in ".eE") else int(stripped)
        except ValueError:
            return stripped
    return text


def _json_number(text: str) -> Any:
    """Read a JSON number (json's hook): an absurdly long one stays text (no 5,000-digit parse)."""
    if len(text) > MAX_NUMBER_TEXT:
        return text
    return float(text) if any(c in text for c in ".eE") else int(text)


def _claimed(value: Any) -> str | None:
    """A claimed name as short plain text, or None."""
    if value is None or isinstance(value, (dict, list)):
        return None
    text = " ".join(str(value).split())[:80]
    return text or None


def parse_form_text(text: str, suffix: str, *, where: str = "form") -> FormAnswers:
    """Parse the text of a form export (``suffix`` ``.csv`` or ``.json``).

    Raises:
        FormError: when the text is not one of the accepted shapes.
    """
    fix = (
        "Export answers as CSV 'question,value' rows, a one-row CSV with q1..q6 headers, "
        'or JSON {"q1": value, ...}.'
    )
    if suffix == ".json":
        try:
            data = json.loads(text, parse_int=_json_number, parse_float=_json_number)
        except (ValueError, RecursionError) as exc:  # JSONDecodeError is a ValueError
            raise FormError(f"{where} is not valid JSON ({str(exc)[:200]}).", fix) from exc
        if not isinstance(data, Mapping):
            raise FormError(f"{where} holds a JSON {type(data).__name__}, not an object.", fix)
        student = _claimed(data.get("student") or data.get("name") or data.get("email"))
        answers = data.get("answers", data)
        if not isinstance(answers, Mapping):
            raise FormError(f"{where}: 'answers' is not an object.", fix)
        table = {
            _norm_id(k): _value(v)
            for k, v in answers.items()
            if _norm_id(k) not in (*_STUDENT_HEADERS, "answers")
        }
        return FormAnswers(table, student)
    if suffix == ".csv":
        try:
            rows = list(csv.reader(io.StringIO(text)))
        except csv.Error as exc:
            raise FormError(f"{where} is not a readable CSV ({exc}).", fix) from exc
        rows = [r for r in rows if r]  # blank lines; a row of empty cells is kept
        if len(rows) < 2:
            raise FormError(f"{where} has no answer rows.", fix)
        header = [_norm_id(h) for h in rows[0]]
        q_col = next((header.index(h) for h in _QUESTION_HEADERS if h in header), None)
        v_col = next((header.index(h) for h in _VALUE_HEADERS if h in header), None)
        s_col = next((header.index(h) for h in _STUDENT_HEADERS if h in header), None)
        if q_col is not None and v_col is not None:
            table = {}
            student = None
            for row in rows[1:]:
                if not any(cell.strip() for cell in row):
                    continue
                if max(q_col, v_col) >= len(row):
                    raise FormError(f"{where}: row {row} lacks a question or value.", fix)
                table[_norm_id(row[q_col])] = _value(row[v_col])
                if s_col is not None and s_col < len(row) and row[s_col].strip():
                    student = _claimed(row[s_col])
            return FormAnswers(table, student)
        if len(rows) != 2:
            raise FormError(
                f"{where} has {len(rows) - 1} rows under a header without question/value.",
                fix,
            )
        values = rows[1]
        table = {
            h: _value(values[i]) if i < len(values) else None
            for i, h in enumerate(header)
            if h not in _STUDENT_HEADERS
        }
        student = _claimed(values[s_col]) if s_col is not None and s_col < len(values) else None
        return FormAnswers(table, student)
    raise FormError(f"{where}: unknown form type {suffix!r}.", fix)


def read_form(path: str | Path) -> FormAnswers:
    """Read a form export file (CSV or JSON) into :class:`FormAnswers`.

    The file is read without following a link and refused above
    :data:`~mlops_kit.homework.submissions.MAX_FORM_BYTES`.

    Raises:
        FormError: unreadable file, a link, too large, or an unknown shape.
    """
    path = Path(path)
    try:
        data = read_submission(path, MAX_FORM_BYTES)
    except SubmissionError as exc:
        raise FormError(exc.problem, exc.fix) from exc
    return parse_form_bytes(data, str(path))


def parse_form_bytes(data: bytes, where: str) -> FormAnswers:
    """Parse a form export's bytes (UTF-8, with or without a BOM); ``where`` names the file.

    Raises:
        FormError: not UTF-8 text, or an unknown shape.
    """
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise FormError(
            f"Cannot read the form file {where}: it is not UTF-8 text ({exc.reason}).",
            "Save the export as UTF-8 text.",
        ) from exc
    return parse_form_text(text, Path(where).suffix.lower(), where=where)


# --------------------------------------------------------------------------- class export


@dataclass(frozen=True)
class ExportRow:
    """One student's row of a class export.

    Attributes:
        line: the row's line in the file (the header is line 1).
        student: the row's identity (its email, student or name cell).
        answers: ``{qid: value}`` for the question columns (values as typed).
        duplicate_of: the other lines naming the same student (empty when unique).
    """

    line: int
    student: str
    answers: dict[str, Any]
    duplicate_of: tuple[int, ...] = ()


@dataclass(frozen=True)
class ClassExport:
    """A parsed class export.

    Attributes:
        rows: the students' rows, in file order (rows without an identity are left out
            and listed in ``unnamed``).
        identity: the header of the column naming the students.
        columns: ``{qid: header}`` of the question columns found.
        ignored: the headers of the other columns.
        unnamed: the lines of rows with answers but no identity.
    """

    rows: list[ExportRow]
    identity: str
    columns: dict[str, str]
    ignored: list[str]
    unnamed: list[int] = field(default_factory=list)

    @property
    def duplicates(self) -> dict[str, list[int]]:
        """Return ``{student: lines}`` of the students named on more than one row."""
        found: dict[str, list[int]] = {}
        for row in self.rows:
            if row.duplicate_of:
                found.setdefault(row.student, []).append(row.line)
        return found


def _words(text: Any) -> str:
    return " ".join("".join(c if c.isalnum() else " " for c in str(text).lower()).split())


def _question_of(header: str, cohort: Any) -> str | None:
    """The question a column header names: its id, ``Q<n>``, its title or its text."""
    words = _words(header)
    if not words:
        return None
    ids = {q.id.lower(): q.id for q in cohort.questions}
    compact = words.replace(" ", "")
    if compact in ids:
        return ids[compact]
    first = words.split()[0]
    for prefix in ("question", "q"):
        if first.startswith(prefix) and first[len(prefix) :].isdigit():
            return ids.get(f"q{int(first[len(prefix) :])}")
        if first == prefix and len(words.split()) > 1 and words.split()[1].isdigit():
            return ids.get(f"q{int(words.split()[1])}")
    for q in cohort.questions:
        title, text = _words(q.title), _words(q.text)
        if words in (title, text) or (len(words) >= 12 and words in text):
            return q.id
    return None


def parse_class_export(data: bytes, cohort: Any, *, where: str = "class export") -> ClassExport:
    """Parse the course form's class export (see the module docstring) for ``cohort``.

    Raises:
        FormError: not UTF-8 CSV, no identity column, no question column, no row.
    """
    fix = (
        "Export the form's responses as CSV: one row per student, a column email (or "
        "student, name), one column per question headed q1..q6 or by the question's text."
    )
    if len(data) > MAX_EXPORT_BYTES:
        raise FormError(f"{where} is {len(data):,} bytes, over {MAX_EXPORT_BYTES:,}.", fix)
    try:
        rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    except (UnicodeDecodeError, csv.Error) as exc:
        raise FormError(f"{where} is not a readable UTF-8 CSV ({exc}).", fix) from exc
    if not rows:
        raise FormError(f"{where} is empty.", fix)
    header = [str(h).strip() for h in rows[0]]
    identity = next(
        (i for name in _IDENTITY for i, h in enumerate(header) if name in _words(h)), None
    )
    if identity is None:
        raise FormError(f"{where} has no column naming the students ({', '.join(header)}).", fix)
    columns: dict[str, int] = {}
    for i, h in enumerate(header):
        qid = _question_of(h, cohort) if i != identity else None
        if qid is not None and qid not in columns:
            columns[qid] = i
    if not columns:
        raise FormError(f"{where} has no column naming a question of cohort {cohort.name}.", fix)
    parsed: list[ExportRow] = []
    unnamed: list[int] = []
    for line, row in enumerate(rows[1:], start=2):
        cells = [c.strip() for c in row]
        if not any(cells):
            continue
        answers = {qid: _value(cells[i]) if i < len(cells) else None for qid, i in columns.items()}
        student = _claimed(cells[identity]) if identity < len(cells) else None
        if not student:
            unnamed.append(line)
            continue
        parsed.append(ExportRow(line, student, answers))
    if not parsed:
        raise FormError(f"{where} has no row naming a student.", fix)
    lines: dict[str, list[int]] = {}
    for row in parsed:
        lines.setdefault(row.student.lower(), []).append(row.line)
    parsed = [
        ExportRow(r.line, r.student, r.answers,
                  tuple(n for n in lines[r.student.lower()] if n != r.line))
        for r in parsed
    ]  # fmt: skip
    used = set(columns.values()) | {identity}
    return ClassExport(
        rows=parsed,
        identity=header[identity],
        columns={qid: header[i] for qid, i in columns.items()},
        ignored=[h for i, h in enumerate(header) if i not in used],
        unnamed=unnamed,
    )
