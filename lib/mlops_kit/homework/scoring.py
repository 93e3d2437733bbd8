"""Turn one submission into a :class:`~mlops_kit.homework.gradebook.Grade`: answers, points, flags.

:mod:`mlops_kit.homework.grading` runs the notebooks; this module judges what came back,
and a form's answers, without running anything. Everything it reads is hostile data:

- every answer is checked on its own (:func:`~mlops_kit.homework.options.answer_problem`):
  NaN, infinities, absurd magnitudes, 4,001-digit integers, text, containers are invalid,
  score nothing and flag the grade ``invalid_answer``; the valid answers still count;
- a record the kernel displayed that is not ``{name, value}`` is dropped and the grade
  flagged ``bad_records``;
- the student is whoever the file's path says; a name a form claims is only noted;
- texts that reach the reports (exception messages, notes) are cut to a readable length.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .cohorts import Cohort
from .forms import FormError, parse_form_bytes
from .gradebook import Grade, QuestionGrade
from .keys import INPUTS_RECORD, Key, answers_from_records, value_tolerance
from .options import VALUE_TOLERANCE, closest_option, format_value, to_number
from .submissions import SubmissionError, limit_for, read_submission, student_of

#: runner status -> submission status
RUNNER_STATUS = {
    "ok": "graded",
    "cell_error": "crashed",
    "kernel_died": "crashed",
    "timeout": "timeout",
    "out_of_memory": "out_of_memory",
    "output_too_large": "output_too_large",
    "invalid_notebook": "invalid_notebook",
    "bad_parameters": "invalid_notebook",
}

#: a reason longer than this is cut (an exception message is the notebook's to choose)
MAX_REASON = 1500


def now() -> str:
    """The current UTC time, as the gradebook stores it."""
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


def cut(text: str | None, limit: int = MAX_REASON) -> str | None:
    """``text`` cut to ``limit`` characters (None stays None)."""
    if text is None or len(text) <= limit:
        return text
    return text[: limit - 20] + " [... cut by grader]"


def grade_answers(cohort: Cohort, key: Key, answers: Mapping[str, Any]) -> list[QuestionGrade]:
    """Grade ``{qid: value}`` against a key: closest option, right or wrong, points.

    A value is right when its closest option is the key's right option and it is not far
    from every option (:data:`~mlops_kit.homework.options.FAR_GAPS`); with a plain key, a
    number within :data:`~mlops_kit.homework.options.VALUE_TOLERANCE` of the key's value
    is right too. A question without options (2022's dropped records) is graded by its
    value alone (:func:`~mlops_kit.homework.keys.value_tolerance`). An invalid value
    (not a finite number) maps to no option and is never right.
    """
    graded = []
    for q in cohort.questions:
        value = answers.get(q.id)
        if isinstance(value, Mapping) and isinstance(value.get("invalid"), str):
            # what answer() records for a number with no plain form (np.longdouble)
            name = value["invalid"][:40]
            warning = (f"invalid answer: {name} is not a finite number"
                       if name in ("nan", "inf", "-inf") else
                       f"invalid answer: a {name} is not a plain number")  # fmt: skip
            graded.append(QuestionGrade(q.id, None, None, False, 0.0, [warning]))
            continue
        options = key.options(q.id) or list(q.options)
        match = closest_option(value, options, q.kind)
        key_value = to_number(key.value(q.id), q.kind)
        if not options:
            right = (
                match.number is not None
                and key_value is not None
                and abs(match.number - key_value) <= value_tolerance(q.kind)
            )
        else:
            right = match.option is not None and not match.far and key.is_right(q.id, match.option)
            if not right and match.number is not None and key_value is not None:
                right = abs(match.number - key_value) <= VALUE_TOLERANCE
        graded.append(
            QuestionGrade(
                qid=q.id,
                value=match.value,
                option=match.option,
                right=bool(right),
                points=q.points if right else 0.0,
                warnings=list(match.warnings),
            )
        )
    return graded


def has_answers(answers: Mapping[str, Any]) -> bool:
    """True when at least one answer is not None."""
    return any(v is not None for v in answers.values())


def invalid_flag(answers: list[QuestionGrade]) -> list[str]:
    """``["invalid_answer"]`` when some answer was invalid, else ``[]``."""
    bad = any(w.startswith("invalid answer") for a in answers for w in a.warnings)
    return ["invalid_answer"] if bad else []


def saved_records(data: bytes, problems: list[str] | None = None) -> dict[str, Any]:
    """The records saved in a submitted notebook's outputs (``{}`` when unreadable)."""
    from ..records import records_from_nb

    try:
        return records_from_nb(json.loads(data.decode("utf-8")), problems)
    except Exception:  # noqa: BLE001 - an unreadable file simply has no saved outputs
        return {}


def stale(
    cohort: Cohort, saved: Mapping[str, Any], fresh: Mapping[str, Any]
) -> tuple[list[str], str | None]:
    """Compare answers saved in the file with the re-execution's; return (qids, note)."""
    saved_answers = answers_from_records(saved)
    if not has_answers(saved_answers):
        return [], None
    saved_inputs, fresh_inputs = saved.get(INPUTS_RECORD), fresh.get(INPUTS_RECORD)
    if saved_inputs and fresh_inputs and saved_inputs != fresh_inputs:
        return [], (
            "the outputs saved in the file come from other data files than the grader's, "
            "so they were not compared"
        )
    fresh_answers = answers_from_records(fresh)
    differ = []
    for q in cohort.questions:
        if q.id not in saved_answers:
            continue
        a = to_number(saved_answers.get(q.id), q.kind)
        b = to_number(fresh_answers.get(q.id), q.kind)
        if a is None and b is None:
            continue
        if a is None or b is None or abs(a - b) > max(1e-9, 1e-9 * abs(b)):
            differ.append(q.id)
    if not differ:
        return [], None
    detail = ", ".join(
        f"{qid} saved {_short(saved_answers.get(qid))} vs re-run {_short(fresh_answers.get(qid))}"
        for qid in differ
    )
    return differ, f"saved outputs disagree with the re-execution ({detail})"


def _short(value: Any) -> str:
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) > 10**30:
        return "a huge integer"
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def form_grade(
    data: bytes, *, where: str, student: str, cohort: Cohort, key: Key, base: dict
) -> Grade:
    """Grade one form export from its bytes (no code runs)."""
    try:
        form = parse_form_bytes(data, where)
    except FormError as exc:
        return Grade(
            student=student,
            status="invalid_form",
            reason=cut(str(exc)),
            score=0.0,
            finished=now(),
            seconds=0.0,
            **base,
        )
    known = set(cohort.ids)
    unknown = sorted(set(form.answers) - known)
    answers = grade_answers(cohort, key, form.answers)
    has = has_answers({k: v for k, v in form.answers.items() if k in known})
    reasons = []
    if unknown:
        shown = ", ".join(unknown[:10]) + (" ..." if len(unknown) > 10 else "")
        reasons.append(f"ignored unknown questions: {shown}")
    if form.student and form.student.strip().lower() != student.lower():
        reasons.append(
            f"the form names the student {form.student!r} (ignored: the file is {student}'s)"
        )
    if not has:
        reasons.append("the form holds no answer to any question")
    return Grade(
        student=student,
        status="graded" if has else "no_answers",
        reason=cut("; ".join(reasons)) or None,
        score=float(sum(a.points for a in answers)) if has else 0.0,
        flags=invalid_flag(answers) if has else [],
        finished=now(),
        seconds=0.0,
        answers=answers if has else [],
        **base,
    )


_NUMPY_REPR = re.compile(r"np\.(?:float|int|uint)\d*\(([-+0-9.eE]+)\)")


def _tidy(text: str) -> str:
    """Show ``np.float64(19.9278960506)`` (numpy 2's repr) as the number, rounded."""
    return _NUMPY_REPR.sub(lambda m: format_value(float(m[1])), text)


def _for_student(error: str | None, result: Any) -> str | None:
    """The runner's paragraph as the student reads it: their notebook, not the grader's copy.

    The runner names the executed copy in the instructor's output folder; on a feedback
    page that path means nothing, so it becomes "your notebook".
    """
    if not error:
        return error
    output = getattr(result, "output", None)
    if output:
        error = error.replace(f"the executed notebook {output}", "your notebook")
        error = error.replace(str(output), "your notebook")
    return error.replace("and run it again", "and submit it again")


def run_grade(
    result: Any,
    *,
    saved: Mapping[str, Any],
    record_problems: list[str],
    cohort: Cohort,
    key: Key,
    base: dict,
    student: str,
    isolated: bool,
    network_requested: bool,
    executed: bytes | None = None,
    missing: str | None = None,
) -> Grade:
    """Turn one runner result into a :class:`Grade` (pure).

    A notebook that calls no ``answer()`` (a learner's own, written for the course's form)
    is graded on the answers its executed outputs show under its own headings
    (:mod:`~mlops_kit.homework.shown_answers`), flagged ``answers_from_outputs`` with each
    answer's cell named; with neither, the status is ``no_answers``.

    Args:
        result: the :class:`~mlops_kit.execution.runner.RunResult` (or alike).
        saved: the records saved in the submitted file (for ``stale_outputs``).
        record_problems: records of the executed notebook that were dropped.
        cohort: the cohort's questions.
        key: the key to grade against.
        student: who submitted it (from the file's path).
        base: the fields every grade of this submission shares (submission, key_id...).
        isolated: the kernel ran sandboxed (False: ``--unsafe``, flagged ``unsandboxed``).
        network_requested: the instructor left the network on.
        executed: the executed notebook's bytes (for answers shown in its outputs).
        missing: the grader's message when the run failed reading data it could not
            stage (:func:`~mlops_kit.homework.staging.explain_missing`).
    """
    status = RUNNER_STATUS.get(getattr(result, "status", ""), "crashed")
    records = getattr(result, "records", None)
    records = dict(records) if isinstance(records, Mapping) else {}
    fresh = answers_from_records(records)
    flags: list[str] = []
    reasons: list[str] = []
    shown = {} if has_answers(fresh) else _shown(executed, cohort)
    if status != "graded":
        if missing:
            # The runner's own advice for a missing file (run it from another folder) does
            # not apply to a graded notebook: say what the grader provides instead.
            label = getattr(result, "cell_label", None) or "a cell"
            reasons.append(
                f"{label} raised {getattr(result, 'ename', None)}: {missing}. Fix: read the "
                "month from one of those places, under its TLC file name, and submit again"
            )
        else:
            reasons.append(_for_student(getattr(result, "error", None), result)
                           or f"runner status {result.status}")  # fmt: skip
    elif not has_answers(fresh) and not shown:
        status = "no_answers"
        reasons.append(
            "The notebook ran to the end but shows no answer: it calls no answer('q1', value) "
            "and names no question (Q1, ## 1., a question's title) above a printed figure."
        )
    if shown:
        fresh = {qid: a.value for qid, a in shown.items()}
        flags.append("answers_from_outputs")
        where = ", ".join(f"{qid} {a.cell}" for qid, a in shown.items())
        reasons.append(
            f"no answer() calls: answers read from the outputs under the notebook's own "
            f"headings ({where})"
        )
    answers = grade_answers(cohort, key, fresh) if has_answers(fresh) else []
    for a in answers:
        if a.qid in shown:
            a.warnings.append(f"read from {shown[a.qid].cell}: {_tidy(shown[a.qid].text)[:80]}")
    flags += invalid_flag(answers)
    if record_problems:
        flags.append("bad_records")
        reasons.append(f"{len(record_problems)} malformed record(s) ignored ({record_problems[0]})")
    if answers:
        differ, note = stale(cohort, saved, records)
        if differ:
            flags.append("stale_outputs")
        if note:
            reasons.append(note)
        run_inputs = records.get(INPUTS_RECORD)
        if isinstance(run_inputs, Mapping) and key.inputs and dict(run_inputs) != key.inputs:
            flags.append("other_data")
            reasons.append(
                "the notebook read other data files than the key was computed on; its "
                "answers cannot match (make the key where the grader's data is)"
            )
    network = "not_cut" if (network_requested or not isolated) else "cut"
    if not isolated:
        flags.append("unsandboxed")
    return Grade(
        student=student,
        status=status,
        reason=cut(_as_sentences(reasons)) or None,
        score=float(sum(a.points for a in answers)),
        flags=flags,
        network=network,
        finished=now(),
        seconds=getattr(result, "seconds", None),
        answers=answers,
        **base,
    )


def _as_sentences(parts: list[str]) -> str:
    """Join the reasons of a grade into one paragraph of sentences (each capitalised, ended)."""
    sentences = []
    for part in (p.strip() for p in parts if p and p.strip()):
        part = part[0].upper() + part[1:]
        sentences.append(part if part.endswith((".", "!", "?")) else part + ".")
    return " ".join(sentences)


def export_grades(path: Path, cohort: Cohort, key: Key, key_id: str) -> list[tuple[Any, Grade]]:
    """Grade every row of a class export as its own student; return ``(submission, grade)``.

    Each row is a form named by its identity cell. Its ``submission`` hash covers the row
    alone, so a later export with new rows regrades only those. A student named on several
    rows gets each row graded and flagged ``duplicate_student``.

    Raises:
        HomeworkError: the export cannot be read (not a file, a link, too large, no identity
            or question column): the instructor's file, so the run stops.
    """
    from .forms import MAX_EXPORT_BYTES, parse_class_export
    from .submissions import Submission

    try:
        data = read_submission(path, MAX_EXPORT_BYTES)
    except SubmissionError as exc:
        raise FormError(exc.problem, exc.fix) from exc
    export = parse_class_export(data, cohort, where=path.name)
    started = now()
    found = []
    for row in export.rows:
        relative = f"{path.name}#line{row.line}"
        content = json.dumps([row.student, row.answers], sort_keys=True, default=str)
        sha = hashlib.sha256(content.encode("utf-8")).hexdigest()
        answers = grade_answers(cohort, key, row.answers)
        has = has_answers(row.answers)
        flags, reasons = invalid_flag(answers) if has else [], [f"row {row.line} of {path.name}"]
        if row.duplicate_of:
            flags.append("duplicate_student")
            others = ", ".join(str(n) for n in row.duplicate_of)
            reasons.append(f"{row.student} is also named on line(s) {others} of the export")
        if not has:
            reasons.append("the row holds no answer to any question")
        grade = Grade(
            submission=sha, key_id=key_id, student=row.student, path=f"{path}#line{row.line}",
            kind="form", status="graded" if has else "no_answers", reason=cut("; ".join(reasons)),
            score=float(sum(a.points for a in answers)) if has else 0.0, max_score=cohort.max_score,
            flags=flags, started=started, finished=now(), seconds=0.0,
            answers=answers if has else [],
        )  # fmt: skip
        sub = Submission(path=path, relative=relative, student=row.student, kind="form")
        found.append((sub, grade))
    return found


def _shown(executed: bytes | None, cohort: Cohort) -> dict[str, Any]:
    """The answers an executed notebook shows in its outputs (``{}`` when unreadable)."""
    from .shown_answers import shown_answers

    if not executed:
        return {}
    try:
        return shown_answers(json.loads(executed.decode("utf-8")), cohort)
    except Exception:  # noqa: BLE001 - hostile or broken output: no answer shown
        return {}


def grade_form(
    path: str | Path, folder: str | Path, cohort: Cohort, key: Key, key_id: str
) -> Grade:
    """Grade one form export in ``folder`` (no code runs; the file is read as hostile data)."""
    path, folder = Path(path), Path(folder)
    relative = path.relative_to(folder).as_posix()
    student = student_of(relative)
    started = now()
    base = {"key_id": key_id, "path": str(path), "kind": "form",
            "max_score": cohort.max_score, "started": started}  # fmt: skip
    try:
        data = read_submission(path, limit_for("form"))
    except SubmissionError as exc:
        return Grade(student=student, status="invalid_form", reason=cut(str(exc)), score=0.0,
                     flags=["refused"], finished=started, seconds=0.0,
                     submission=hashlib.sha256(str(exc).encode()).hexdigest(), **base)  # fmt: skip
    sha = hashlib.sha256(data).hexdigest()
    return form_grade(data, where=relative, student=student, cohort=cohort, key=key,
                      base={"submission": sha, **base})  # fmt: skip
