"""Exports of a grading run: grades.csv, the class report and one feedback page per student.

* ``grades.csv``: ``submission, status, score``, then per question ``<qid>_value`` and
  ``<qid>_right``, then ``student, max_score, flags, reason``.
* ``report.html``: counts per status, the score distribution, per question the share of
  right answers and a histogram of the options chosen (matplotlib PNGs inlined as
  base64, so the file is self-contained), and a banner when the network could not be cut.
* ``feedback/<student>.html``: the student's answers, the option each maps to and right or
  wrong. The right option of a wrongly answered question is not shown unless ``reveal``.

All files are written atomically (temp file, then ``os.replace``). Everything in them that
came from a submission (values, exception messages, file names) is escaped: HTML-escaped in
the pages, and in grades.csv a cell that begins with ``= + - @`` (or a tab or carriage
return) gets a leading ``'`` so a spreadsheet shows it as text instead of running it as a
formula; plain numbers such as ``-1.5`` stay numbers.
"""

from __future__ import annotations

import base64
import csv
import html
import io
import re
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..pages import html_page
from .options import format_value

if TYPE_CHECKING:  # pragma: no cover
    from .cohorts import Cohort
    from .gradebook import Grade
    from .grading import GradeRun
    from .keys import Key


def _write_text(path: Path, text: str) -> Path:
    from ..fileio import atomic_write

    return atomic_write(path, text)


_PLAIN_NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: Any) -> Any:
    """A value made safe for a spreadsheet: text that could start a formula is quoted."""
    if isinstance(value, (bool, int, float)) or value is None:
        return value
    text = str(value)
    if text.startswith(_FORMULA_START) and not _PLAIN_NUMBER.match(text):
        return "'" + text
    return text


def _csv_number(value: Any) -> Any:
    """Write a whole float as an integer (a count of 76518 rides, a score of 6).

    Answers arrive as floats even when the question asks for a count; ``76518.0`` in a
    spreadsheet reads as a measurement. Other floats keep their full precision.
    """
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        return int(value)
    return value


def grades_csv_text(grades: list[Grade], cohort: Cohort) -> str:
    """Return grades.csv as text (one row per submission)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    header = ["submission", "status", "score"]
    for qid in cohort.ids:
        header += [f"{qid}_value", f"{qid}_right"]
    header += ["student", "max_score", "flags", "reason"]
    writer.writerow(header)
    for g in grades:
        row: list[Any] = [Path(g.path).name, g.status, _csv_number(g.score)]
        for qid in cohort.ids:
            a = g.answer(qid)
            value = "" if a is None or a.value is None else _csv_number(a.value)
            row += [value, bool(a and a.right)]
        row += [g.student, _csv_number(g.max_score), ";".join(g.flags), g.reason or ""]
        writer.writerow([csv_cell(cell) for cell in row])
    return buffer.getvalue()


def _png(fig) -> str:
    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=90, bbox_inches="tight")
    plt.close(fig)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def _img(data: str, alt: str) -> str:
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{data}">'


def class_report_html(run: GradeRun, cohort: Cohort, key: Key) -> str:
    """Return the class report: statuses, score distribution, per-question results."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    grades = run.grades
    body = [
        f"<p>{len(grades)} submissions, cohort {html.escape(cohort.name)}; key: "
        f"{_KEY_SOURCE[key.source]}{' (salted hashes)' if key.hashed else ''}.</p>"
    ]
    if key.synthetic:
        body.append(f'<p class="warn">{_SYNTHETIC}</p>')
    if getattr(run, "isolation", None):
        warn = run.isolation.startswith("NONE")
        body.append(
            f'<p class="{"warn" if warn else "muted"}"><b>Isolation:</b> '
            f"{html.escape(run.isolation)}.</p>"
        )
    if run.network in ("not_cut", "mixed"):
        body.append(
            '<p class="warn"><b>The network was not cut</b> for '
            f"{'some' if run.network == 'mixed' else 'the'} notebooks: "
            "they could reach the internet while they ran.</p>"
        )
    elif run.network == "cut":
        body.append('<p class="muted">Network: cut for every notebook that ran.</p>')
    for note in run.notes:
        if "network" not in note.lower():
            body.append(f'<p class="warn">{html.escape(note)}</p>')
    counts = Counter(g.status for g in grades)
    body.append("<h2>Statuses</h2><table><tr><th>status</th><th>submissions</th></tr>")
    body += [f"<tr><td>{html.escape(s)}</td><td>{n}</td></tr>" for s, n in counts.most_common()]
    body.append("</table>")

    scored = [g for g in grades if g.kind == "form" or g.status not in ("invalid_notebook",)]
    if scored:
        fig, ax = plt.subplots(figsize=(6, 3))
        bins = [x - 0.5 for x in range(int(cohort.max_score) + 2)]
        ax.hist([g.score for g in scored], bins=bins, color="#4c72b0", edgecolor="white")
        ax.set_xlabel("score")
        ax.set_ylabel("submissions")
        ax.set_title("Score distribution")
        body.append("<h2>Scores</h2>" + _img(_png(fig), "score distribution"))

    body.append("<h2>Questions</h2>")
    answered = [g for g in grades if g.answers]
    shares = []
    for q in cohort.questions:
        rights = [bool(g.answer(q.id) and g.answer(q.id).right) for g in answered]
        shares.append(sum(rights) / len(rights) if rights else 0.0)
    if answered:
        fig, ax = plt.subplots(figsize=(6, 3))
        ax.bar(cohort.ids, shares, color="#55a868")
        ax.set_ylim(0, 1)
        ax.set_ylabel("share right")
        ax.set_title("Share of right answers per question")
        body.append(_img(_png(fig), "share right per question"))
    body.append(
        "<table><tr><th>question</th><th>share right</th><th>answers</th><th>"
        "options chosen</th></tr>"
    )
    for q, share in zip(cohort.questions, shares, strict=True):
        options = key.options(q.id) or list(q.options)
        chosen = Counter(_bucket(g.answer(q.id)) for g in answered)
        fig, ax = plt.subplots(figsize=(4, 2.2))
        labels = options + [b for b in _NO_OPTION if chosen.get(b)]
        right = key.right_option(q.id)  # None for a hashed key
        colors = [
            "#55a868" if o == right else "#bbbbbb" if o in _NO_OPTION else "#8172b2" for o in labels
        ]
        ax.bar(range(len(labels)), [chosen.get(o, 0) for o in labels], color=colors)
        ax.set_xticks(range(len(labels)), labels, rotation=30, fontsize=8)
        ax.set_title(f"{q.id}: options chosen (right one in green)", fontsize=9)
        ax.yaxis.get_major_locator().set_params(integer=True)
        body.append(
            f"<tr><td><b>{q.id}</b> {html.escape(q.title)}</td><td>{share:.0%}</td>"
            f"<td>{sum(n for b, n in chosen.items() if b != 'not answered')}</td>"
            f"<td>{_img(_png(fig), q.id + ' histogram')}</td></tr>"
        )
    body.append("</table>")

    body.append(
        "<h2>Submissions</h2><table><tr><th>submission</th><th>student</th><th>status</th>"
        "<th>score</th><th>flags</th><th>reason</th></tr>"
    )
    for g in grades:
        body.append(
            f"<tr><td>{html.escape(Path(g.path).name)}</td><td>{html.escape(g.student)}</td>"
            f"<td>{html.escape(g.status)}</td><td>{g.score:g} / {g.max_score:g}</td>"
            f"<td>{html.escape(', '.join(g.flags))}</td>"
            f"<td>{html.escape(g.reason or '')}</td></tr>"
        )
    body.append("</table>")
    return html_page(f"Homework {cohort.name}: class report", "".join(body))


def feedback_html(grade: Grade, cohort: Cohort, key: Key, *, reveal: bool = False) -> str:
    """Return one student's feedback page.

    The right option of a question answered wrongly is shown only with ``reveal`` (and
    only a plain key knows it).
    """
    body = [
        f"<p>Submission <code>{html.escape(Path(grade.path).name)}</code>: "
        f"<b>{html.escape(grade.status)}</b>, score <b>{grade.score:g} / "
        f"{grade.max_score:g}</b>.</p>"
    ]
    if key.synthetic:
        body.append(f'<p class="warn">{_SYNTHETIC}</p>')
    if grade.reason:
        body.append(f'<p class="warn">{html.escape(grade.reason)}</p>')
    if "stale_outputs" in grade.flags:
        body.append(
            '<p class="warn">The outputs saved in your notebook do not match what it '
            "computes when run again: the grade uses the fresh run. Restart the kernel and "
            "run all cells before submitting.</p>"
        )
    body.append(
        "<table><tr><th>question</th><th>your value</th><th>option</th><th>result</th>"
        + ("<th>right option</th>" if reveal else "")
        + "<th>notes</th></tr>"
    )
    for q in cohort.questions:
        a = grade.answer(q.id)
        value = "" if a is None or a.value is None else html.escape(format_value(a.value))
        option = "" if a is None or a.option is None else html.escape(a.option)
        right = bool(a and a.right)
        result = '<span class="right">right</span>' if right else '<span class="wrong">wrong</span>'
        if a is None or a.value is None:
            result = '<span class="wrong">not answered</span>'
        cells = f"<td><b>{q.id}</b> {html.escape(q.title)}</td><td>{value}</td><td>{option}</td>"
        cells += f"<td>{result}</td>"
        if reveal:
            shown = key.right_option(q.id) if not right else option
            if not (key.options(q.id) or q.options) and key.value(q.id) is not None:
                shown = f"{key.value(q.id):,}"  # a question graded by value
            cells += f"<td>{html.escape(shown or 'n/a (hashed key)')}</td>"
        notes = "; ".join(a.warnings) if a is not None else ""
        cells += f"<td>{html.escape(notes)}</td>"
        body.append(f"<tr>{cells}</tr>")
    body.append("</table>")
    if not reveal:
        again = ("check again with <code>mlops-kit homework check</code>"
                 if grade.kind == "notebook" else "submit your answers again")  # fmt: skip
        body.append(
            '<p class="muted">Wrong answers do not show the right option: redo the step and '
            f"{again}.</p>"
        )
    return html_page(f"Homework {cohort.name}: feedback for {grade.student}", "".join(body))


#: the bars of an options chart that are no option (grey): never right
_NO_OPTION = ("far from all", "invalid", "not answered")


def _bucket(answer: Any) -> str:
    """The bar an answer counts in: its option, or why it has none (see ``_NO_OPTION``)."""
    if answer is None or answer.value is None:
        return "not answered"
    if answer.option is None:
        return "invalid"
    if any("far from every option" in w for w in answer.warnings):
        return "far from all"
    return answer.option


#: how each key source is named in the reports
_KEY_SOURCE = {
    "published": "the course's published answers",
    "computed": "computed on the real data",
    "synthetic": "computed on SYNTHETIC data",
}
_SYNTHETIC = (
    "<b>Graded with a key computed on synthetic data</b>: its right answers are not the "
    "course's (a rehearsal of the grading, not a grade)."
)


def _safe_name(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text).strip("._") or "student"


def write_reports(run: GradeRun, cohort: Cohort, key: Key, *, reveal: bool = False) -> dict:
    """Write grades.csv, report.html and feedback/*.html into ``run.out``; return paths."""
    out = Path(run.out)
    files = {
        "grades.csv": _write_text(out / "grades.csv", grades_csv_text(run.grades, cohort)),
        "report.html": _write_text(out / "report.html", class_report_html(run, cohort, key)),
    }
    used: set[str] = set()
    for g in run.grades:
        name = _safe_name(g.student)
        if name in used:
            name = f"{name}-{g.submission[:8]}"
        used.add(name)
        files[f"feedback/{name}.html"] = _write_text(
            out / "feedback" / f"{name}.html", feedback_html(g, cohort, key, reveal=reveal)
        )
    return files
