"""Self-check for learners: run your notebook headless and see which answers are right.

:func:`check` executes the learner's notebook through the runner (the same way the
grader will), reads the answers recorded with ``answer()``, maps each to its closest
option and says right or wrong against a key:

1. the key given with ``key=`` (``--key``), when there is one;
2. else the salted-hash key shipped in ``homework/<cohort>/key.json``, when it was
   computed on the same data files the notebook read (same sha256);
3. else a key computed now by running ``solution.ipynb`` on the same data (synthetic
   data, another month's file ...). The result says which one was used.
"""

from __future__ import annotations

import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from .cohorts import HomeworkError, load_cohort
from .keys import (
    INPUTS_RECORD,
    SYNTHETIC_RECORD,
    Key,
    answers_from_records,
    inputs_fit,
    load_key,
    make_key,
    shipped_key,
    solution_parameters,
)


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
        key_source: ``given``, ``shipped`` or ``computed``.
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
            verdict = {True: "RIGHT", False: "WRONG", None: "-"}[r.right]
            if r.value is None:
                verdict = "not answered"
            value = "" if r.value is None else repr(r.value)
            if isinstance(r.value, float):
                value = f"{r.value:.6g}"
            option = r.option or "-"
            lines.append(f"  {r.qid}  {verdict:<12} value {value:<22} option {option}")
            lines += [f"        warning: {w}" for w in r.warnings if w != "no answer given"]
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
        cohort: the cohort; by default the notebook's ``cohort`` parameter.
        key: a key file or :class:`Key` to check against (default: see the module doc).
        source: data source passed to the notebook (``auto``, ``real``, ``synthetic``).
        rows: synthetic rows per month (0: default) / real sample size (0: whole month).
        seed: seed of the synthetic data.
        timeout_cell: seconds a cell may run.
        timeout_total: seconds the notebook may run.
        output: also keep the executed notebook there.

    Returns:
        A :class:`CheckResult`.
    """
    from ..execution.runner import run_notebook
    from .grading import grade_answers

    path = Path(notebook)
    name = cohort or _notebook_cohort(path)
    if not name:
        raise HomeworkError(
            f"Cannot tell which cohort {path} belongs to (no cohort parameter).",
            "Pass --cohort (2022, 2023, 2024, 2025 or practice).",
        )
    co = load_cohort(name)
    params = {}
    if path.is_file():
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

    chosen: Key | None = None
    key_source = None
    if key is not None:
        chosen, key_source = load_key(key, co.name), "given"
        note = f"the key given ({'synthetic' if chosen.synthetic else 'real'} data)"
        if inputs and chosen.inputs and not inputs_fit(chosen, inputs, synthetic):
            note += "; WARNING: it was computed on other data files than your notebook read"
    else:
        shipped = shipped_key(co)
        if shipped is not None and inputs_fit(shipped, inputs, synthetic):
            chosen, key_source = shipped, "shipped"
            note = "the shipped self-check key (salted hashes), computed on the same files"
        elif answers:
            computed = make_key(
                co,
                source=source if not synthetic else "synthetic",
                rows=rows,
                seed=seed,
                timeout_cell=timeout_cell,
                timeout_total=timeout_total,
            )
            chosen, key_source = load_key(computed), "computed"
            kind = "SYNTHETIC data" if computed["synthetic"] else "the same real files"
            why = "no shipped key" if shipped is None else "the shipped key is for other data"
            note = f"computed now by running solution.ipynb on {kind} ({why})"
        else:
            note = "none needed: no answers were recorded"
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
        rows_out = [CheckRow(q.id, q.title, None, None, None) for q in co.questions]
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
