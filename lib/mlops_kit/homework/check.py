"""Self-check for learners: run your notebook headless and see which answers are right.

:func:`check` executes the learner's notebook through the runner (the same way the
grader will), reads the answers recorded with ``answer()``, maps each to its closest
option and says right or wrong against the key of the data the notebook actually read
(``record_inputs`` notes each file's sha256):

1. the key given with ``key=`` (``--key``), when there is one (with a warning when it was
   computed on other files than the notebook read);
2. else the salted-hash key shipped in ``homework/<cohort>/key.json``, when it was
   computed on the very files the notebook read (same sha256);
3. else, for a course cohort whose notebook read the course's real months whole, the
   course's published answers;
4. else, for the practice cohort, a key computed now by running ``solution.ipynb`` on the
   same files, used only when its files' sha256 equal the notebook's;
5. else no verdict: the values are shown with "your data is not the course's: no options
   apply" (the options belong to the real months; a value computed on synthetic data
   mapped onto them would mean nothing).

The result says which key was used and why, from the facts (file names and sha256).
"""

from __future__ import annotations

import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from .cohorts import Cohort, HomeworkError, load_cohort
from .keys import (
    INPUTS_RECORD,
    SYNTHETIC_RECORD,
    Key,
    answers_from_records,
    inputs_fit,
    load_key,
    make_key,
    published_key,
    shipped_key,
    solution_parameters,
)
from .options import format_value

#: what a learner reads when no key belongs to the data their notebook read
NOT_THE_COURSES = "your data is not the course's: no options apply"


@dataclass
class CheckRow:
    """One question of a self-check."""

    qid: str
    title: str
    value: Any
    option: str | None
    right: bool | None
    warnings: list[str] = field(default_factory=list)


@dataclass
class CheckResult:
    """What ``mlops-kit homework check`` prints.

    Attributes:
        cohort: the cohort checked against.
        notebook: the learner's notebook.
        status: the runner's status (``ok``, ``cell_error``, ``timeout`` ...).
        error: the runner's paragraph when not ``ok``.
        key_source: ``given``, ``shipped``, ``published``, ``computed`` or None (no key
            fits the data the notebook read: values without a verdict).
        key_note: one sentence on the key (which data it was computed on).
        rows: one per question.
    """

    cohort: str
    notebook: str
    status: str
    error: str | None
    key_source: str | None
    key_note: str
    synthetic: bool | None
    rows: list[CheckRow]

    @property
    def score(self) -> int:
        """Return the number of right answers."""
        return sum(1 for r in self.rows if r.right)

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-friendly dict."""
        data = asdict(self)
        data["score"] = self.score
        data["questions"] = len(self.rows)
        return data

    def render(self) -> str:
        """Return the text a learner sees."""
        lines = [f"homework {self.cohort}: {self.notebook}"]
        if self.status != "ok":
            lines.append(f"the notebook did not run to the end ({self.status}): {self.error}")
        lines.append(f"key: {self.key_note}")
        for r in self.rows:
            verdict = {True: "RIGHT", False: "WRONG", None: "no verdict"}[r.right]
            if r.value is None:
                verdict = "not answered"
            value = "" if r.value is None else format_value(r.value)
            option = r.option or "-"
            lines.append(f"  {r.qid}  {verdict:<12} value {value:<22} option {option}")
            lines += [f"        warning: {w}" for w in r.warnings if w != "no answer given"]
        if self.key_source is None and any(r.value is not None for r in self.rows):
            lines.append(f"no verdict: {NOT_THE_COURSES}")
        else:
            lines.append(f"{self.score} / {len(self.rows)} right")
        return "\n".join(lines)


def _notebook_cohort(notebook: Path) -> str | None:
    from ..execution.runner import notebook_parameters

    try:
        declared = notebook_parameters(notebook)
    except Exception:  # noqa: BLE001 - the run reports an unreadable notebook
        return None
    entry = declared.get("cohort") or {}
    default = entry.get("default") if isinstance(entry, dict) else None
    return str(default).strip("'\"") if default else None


def _which_cohort(path: Path, cohort: str | Path | None) -> Cohort:
    """Return the cohort to check against; refuse a missing notebook or a contradiction."""
    if not path.is_file():
        raise HomeworkError(
            f"No notebook at {path}.",
            "Check the path (for example homework/practice/homework.ipynb).",
        )
    declared = _notebook_cohort(path)
    name = cohort or declared
    if not name:
        raise HomeworkError(
            f"Cannot tell which cohort {path} belongs to (no cohort parameter).",
            "Pass --cohort (2022, 2023, 2024, 2025 or practice).",
        )
    co = load_cohort(name)
    if declared and co.name != declared:
        raise HomeworkError(
            f"--cohort {co.name} contradicts the notebook's own parameters (cohort = "
            f"{declared!r} in {path}): its questions and data are those of {declared}.",
            f"Drop --cohort, or pass --cohort {declared}; to do the {co.name} homework, "
            f"start from homework/{co.name}/homework.ipynb.",
        )
    return co


def _course_files(co: Cohort) -> set[str]:
    from ..tlc import parse_dataset

    return {parse_dataset(d).file_name for d in co.datasets.values()}


def _choose_key(
    co: Cohort,
    given: str | Path | Key | None,
    inputs: dict[str, Any] | None,
    synthetic: bool | None,
    params: dict[str, Any],
    make: Any,
) -> tuple[Key | None, str | None, str]:
    """Return ``(key, source, note)``: the key of the data the notebook read, or none."""
    if given is not None:
        chosen = load_key(given, co.name)
        note = f"the key given ({chosen.source} answers)"
        if inputs and chosen.inputs and not inputs_fit(chosen, inputs, synthetic):
            note += "; WARNING: it was computed on other data files than your notebook read"
        return chosen, "given", note
    if not inputs:
        return (
            None,
            None,
            (
                "none: your notebook did not record which data files it read (keep the "
                f"record_inputs(jan, feb) call of the template); {NOT_THE_COURSES}"
            ),
        )
    read = ", ".join(sorted(inputs))
    shipped = shipped_key(co)
    if shipped is not None and inputs_fit(shipped, inputs, synthetic):
        return (
            shipped,
            "shipped",
            (
                f"the shipped self-check key (salted hashes), computed on the very files your "
                f"notebook read ({read}: same sha256)"
            ),
        )
    whole = not params.get("rows")
    if co.published and not synthetic and set(inputs) == _course_files(co) and whole:
        return (
            load_key(published_key(co)),
            "published",
            (f"the course's published answers: your notebook read the course's months ({read})"),
        )
    if co.generated:
        computed = load_key(make())
        if computed.inputs == dict(inputs):
            kind = "synthetic months" if computed.synthetic else "files"
            return (
                computed,
                "computed",
                (
                    f"computed now by running solution.ipynb on the same {kind} ({read}: same "
                    "sha256); the options are generated around its answers"
                    + (", not the course's" if computed.synthetic else "")
                ),
            )
    kind = "synthetic months" if synthetic else "other files than the course's"
    return None, None, f"none: your notebook read {kind} ({read}); {NOT_THE_COURSES}"


def check(
    notebook: str | Path,
    cohort: str | None = None,
    *,
    key: str | Path | Key | None = None,
    source: str = "auto",
    rows: int = 0,
    seed: int = 42,
    timeout_cell: float = 600,
    timeout_total: float = 1800,
    output: str | Path | None = None,
) -> CheckResult:
    """Execute a learner's notebook headless and check its answers.

    Args:
        notebook: the learner's ``homework.ipynb``.
        cohort: the cohort; by default the notebook's ``cohort`` parameter (a different
            one is refused: the notebook's questions and data are its own cohort's).
        key: a key file or :class:`Key` to check against (default: see the module doc).
        source: data source passed to the notebook (``auto``, ``real``, ``synthetic``).
        rows: synthetic rows per month (0: default) / real sample size (0: whole month).
        seed: seed of the synthetic data.
        timeout_cell: seconds a cell may run.
        timeout_total: seconds the notebook may run.
        output: also keep the executed notebook there.

    Returns:
        A :class:`CheckResult`.

    Raises:
        HomeworkError: no notebook at that path, no cohort, or a contradicting cohort.
    """
    from ..execution.runner import run_notebook
    from .grading import grade_answers

    path = Path(notebook)
    co = _which_cohort(path, cohort)
    params = solution_parameters(path, source=source, rows=rows, seed=seed)
    with tempfile.TemporaryDirectory(prefix="mlops-kit-check-") as cwd:
        result = run_notebook(
            path,
            params,
            output,
            cwd=cwd,
            timeout_cell=timeout_cell,
            timeout_total=timeout_total,
        )
    records = result.records or {}
    answers = answers_from_records(records)
    inputs = records.get(INPUTS_RECORD)
    synthetic = records.get(SYNTHETIC_RECORD)

    def make() -> dict[str, Any]:
        return make_key(
            co,
            source="synthetic" if synthetic else "real",
            rows=rows,
            seed=seed,
            timeout_cell=timeout_cell,
            timeout_total=timeout_total,
        )

    if key is None and not answers:
        chosen, key_source, note = None, None, "none needed: no answers were recorded"
    else:
        chosen, key_source, note = _choose_key(co, key, inputs, synthetic, params, make)
    if chosen is not None:
        graded = grade_answers(co, chosen, answers)
        rows_out = [
            CheckRow(
                g.qid,
                co.question(g.qid).title,
                g.value,
                g.option,
                None if g.value is None else g.right,
                g.warnings,
            )
            for g in graded
        ]
    else:
        rows_out = [CheckRow(q.id, q.title, answers.get(q.id), None, None) for q in co.questions]
    return CheckResult(
        cohort=co.name,
        notebook=str(path),
        status=result.status,
        error=result.error,
        key_source=key_source,
        key_note=note,
        synthetic=None if synthetic is None else bool(synthetic),
        rows=rows_out,
    )
