"""Grade a folder of homework submissions safely, in parallel, resumably.

Instructors receive notebooks and form exports. :func:`grade` treats every notebook as
untrusted code: each one is copied into its own throw-away working directory and executed
by :func:`mlops_kit.execution.runner.run_notebook` with per-cell and total timeouts and
:class:`~mlops_kit.execution.runner.Limits` (memory cap, output cap, network cut, and the key's,
the gradebook's and the submissions' folders hidden from the kernel). The answers come
from that fresh execution, never from outputs saved in the file; when the saved outputs
disagree with the re-execution the submission is flagged ``stale_outputs``.

Every submission ends with one status and never stops the batch:

============== =====================================================================
graded         ran to the end and recorded answers
timeout        a cell ran longer than the per-cell limit, or the run its total budget
crashed        a cell raised, or the kernel died (``os._exit``, a C crash)
out_of_memory  the kernel hit the memory cap
output_too_large  the notebook printed more than the output cap
invalid_notebook  not a readable notebook (or a parameters cell the grader cannot fill)
invalid_form   a CSV/JSON form export that cannot be read
no_answers     ran (or was read) but recorded no answer
============== =====================================================================

Points already earned before a crash or a timeout are kept (the status says what
happened). Grades go to the SQLite :class:`~mlops_kit.homework.gradebook.Gradebook` the
moment each is known.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import json
import logging
import re
import shutil
import sys
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..fileio import file_sha256
from .cohorts import Cohort, HomeworkError, load_cohort
from .forms import FORM_SUFFIXES, FormError, read_form
from .gradebook import GRADEBOOK_NAME, Grade, Gradebook, QuestionGrade
from .keys import INPUTS_RECORD, Key, answers_from_records, load_key
from .options import VALUE_TOLERANCE, closest_option, to_number

logger = logging.getLogger(__name__)

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

#: defaults for untrusted notebooks (the homework needs ~1.5 GiB of address space
#: for pandas + scikit-learn on a month of data)
DEFAULT_MEMORY_MB = 3072
DEFAULT_OUTPUT_BYTES = 5_000_000


@dataclass
class GradeRun:
    """What :func:`grade` did: the grades of the submissions in the folder, and where.

    Attributes:
        grades: one per submission currently in the folder, in file-name order.
        graded_now: how many were graded in this run (the rest came from the gradebook).
        out: the output folder (gradebook, grades.csv, report.html, feedback/).
        files: the exported files by name.
        network: ``cut``, ``not_cut`` or ``mixed`` over the notebooks run, None if none ran.
        notes: remarks for the report (limits the OS did not enforce, ...).
    """

    cohort: str
    grades: list[Grade]
    graded_now: int
    out: Path
    files: dict[str, Path] = field(default_factory=dict)
    network: str | None = None
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-friendly summary."""
        counts: dict[str, int] = {}
        for g in self.grades:
            counts[g.status] = counts.get(g.status, 0) + 1
        return {
            "cohort": self.cohort,
            "submissions": len(self.grades),
            "graded_now": self.graded_now,
            "statuses": counts,
            "network": self.network,
            "notes": self.notes,
            "files": {k: str(v) for k, v in self.files.items()},
            "grades": [
                {
                    "submission": Path(g.path).name,
                    "student": g.student,
                    "status": g.status,
                    "score": g.score,
                    "max_score": g.max_score,
                    "flags": g.flags,
                    "reason": g.reason,
                }
                for g in self.grades
            ],
        }


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


def grade_answers(cohort: Cohort, key: Key, answers: Mapping[str, Any]) -> list[QuestionGrade]:
    """Grade ``{qid: value}`` against a key: closest option, right or wrong, points.

    A value is right when its closest option is the key's right option; with a plain key,
    a number within :data:`~mlops_kit.homework.options.VALUE_TOLERANCE` of the key's value
    is right too.
    """
    graded = []
    for q in cohort.questions:
        value = answers.get(q.id)
        options = key.options(q.id) or list(q.options)
        match = closest_option(value, options, q.kind)
        right = key.is_right(q.id, match.option)
        key_value = to_number(key.value(q.id), q.kind)
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


def _has_answers(answers: Mapping[str, Any]) -> bool:
    return any(v is not None for v in answers.values())


def list_submissions(folder: str | Path) -> list[Path]:
    """Return the submission files of a folder: notebooks and form exports, sorted.

    Hidden files and Jupyter checkpoint folders are skipped; sub-folders are searched
    (one folder per student works too).
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise HomeworkError(
            f"The submissions folder {folder} does not exist.",
            "Pass the folder holding the students' .ipynb / .csv / .json files.",
        )
    found = []
    for path in sorted(folder.rglob("*")):
        rel = path.relative_to(folder)
        if any(part.startswith(".") or part == ".ipynb_checkpoints" for part in rel.parts):
            continue
        if path.is_file() and path.suffix.lower() in (".ipynb", *FORM_SUFFIXES):
            found.append(path)
    return found


def _student_of(path: Path, folder: Path) -> str:
    rel = path.relative_to(folder)
    return rel.parts[0] if len(rel.parts) > 1 else path.stem


def _job_key(path: Path, folder: Path, sha: str) -> str:
    """A unique, file-name-safe key for a submission's job and working directory."""
    rel = str(path.relative_to(folder).with_suffix(""))
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", rel).strip("._")[:60] + f"-{sha[:10]}"


def _saved_records(path: Path) -> dict[str, Any]:
    from ..records import records_from_nb

    try:
        return records_from_nb(json.loads(path.read_text(encoding="utf-8")))
    except Exception:  # noqa: BLE001 - an unreadable file simply has no saved outputs
        return {}


def _stale(
    cohort: Cohort, saved: Mapping[str, Any], fresh: Mapping[str, Any]
) -> tuple[list[str], str | None]:
    """Compare answers saved in the file with the re-execution's; return (qids, note)."""
    saved_answers = answers_from_records(saved)
    if not _has_answers(saved_answers):
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
        f"{qid} saved {saved_answers.get(qid)!r} vs re-run {fresh_answers.get(qid)!r}"
        for qid in differ
    )
    return differ, f"saved outputs disagree with the re-execution ({detail})"


def _data_env(cohort: Cohort, key: Key) -> dict[str, str]:
    """Point the kernels at the real files the key was made on, when they are on disk.

    Kernels run with their own (empty) cache, so files the instructor downloaded into the
    kit's cache are shown to them as ``MLOPS_KIT_DATA_DIR`` (read-only for them).
    """
    if key.synthetic:
        return {}
    from ..errors import KitError
    from ..tlc import resolve

    folders = set()
    for dataset in cohort.datasets.values():
        try:
            found = resolve(dataset, source="real")
        except KitError:
            return {}
        if not found.exists:
            return {}
        folders.add(found.path.resolve().parent)
    return {"MLOPS_KIT_DATA_DIR": str(folders.pop())} if len(folders) == 1 else {}


def _network_state(limits_network: bool, notes: list[str]) -> str | None:
    if limits_network:
        return None
    if any("network was not cut" in n.lower() for n in notes):
        return "not_cut"
    return "cut"


def grade_form(path: Path, folder: Path, cohort: Cohort, key: Key, key_id: str) -> Grade:
    """Grade one form export (no code runs)."""
    sha = file_sha256(path)
    started = _now()
    student = _student_of(path, folder)
    base = dict(
        submission=sha,
        key_id=key_id,
        path=str(path),
        kind="form",
        max_score=cohort.max_score,
        started=started,
    )
    try:
        form = read_form(path)
    except FormError as exc:
        return Grade(
            student=student,
            status="invalid_form",
            reason=str(exc),
            score=0.0,
            finished=_now(),
            seconds=0.0,
            **base,
        )
    unknown = sorted(set(form.answers) - set(cohort.ids))
    answers = grade_answers(cohort, key, form.answers)
    has = _has_answers({k: v for k, v in form.answers.items() if k in cohort.ids})
    reason = f"ignored unknown questions: {', '.join(unknown)}" if unknown else None
    return Grade(
        student=form.student or student,
        status="graded" if has else "no_answers",
        reason=reason if has else (reason or "the form holds no answer to any question"),
        score=float(sum(a.points for a in answers)) if has else 0.0,
        finished=_now(),
        seconds=0.0,
        answers=answers if has else [],
        **base,
    )


def grade_run(
    result: Any,
    *,
    path: Path,
    folder: Path,
    sha: str,
    cohort: Cohort,
    key: Key,
    key_id: str,
    started: str,
    network_requested: bool,
) -> Grade:
    """Turn one runner result into a :class:`Grade` (pure apart from reading the file)."""
    status = RUNNER_STATUS.get(getattr(result, "status", ""), "crashed")
    records = dict(getattr(result, "records", None) or {})
    fresh = answers_from_records(records)
    notes = list(getattr(result, "notes", None) or [])
    flags: list[str] = []
    reasons: list[str] = []
    if status != "graded":
        reasons.append(getattr(result, "error", None) or f"runner status {result.status}")
    elif not _has_answers(fresh):
        status = "no_answers"
        reasons.append(
            "The notebook ran to the end but recorded no answer: call answer('q1', value) "
            "for each question."
        )
    answers = grade_answers(cohort, key, fresh) if _has_answers(fresh) else []
    if answers:
        stale, note = _stale(cohort, _saved_records(path), records)
        if stale:
            flags.append("stale_outputs")
        if note:
            reasons.append(note)
        run_inputs = records.get(INPUTS_RECORD)
        if run_inputs is not None and key.inputs and dict(run_inputs) != key.inputs:
            flags.append("other_data")
            reasons.append(
                "the notebook read other data files than the key was computed on; its "
                "answers cannot match (make the key where the grader's data is)"
            )
    network = _network_state(network_requested, notes)
    if network == "not_cut":
        flags.append("network_not_cut")
    if any("not hidden" in n.lower() for n in notes):
        flags.append("paths_not_hidden")
        reasons.append("the key and gradebook folders could NOT be hidden from this kernel")
    if any("memory cap was not applied" in n.lower() for n in notes):
        flags.append("memory_not_capped")
    return Grade(
        submission=sha,
        key_id=key_id,
        student=_student_of(path, folder),
        path=str(path),
        kind="notebook",
        status=status,
        reason="; ".join(r for r in reasons if r) or None,
        score=float(sum(a.points for a in answers)),
        max_score=cohort.max_score,
        flags=flags,
        network=network,
        started=started,
        finished=_now(),
        seconds=getattr(result, "seconds", None),
        answers=answers,
    )


_SCRATCH_NOTE = "scratch-folder.txt"
_SCRATCH_PREFIX = "mlops-kit-grade-"


def _new_scratch(out: Path) -> Path:
    """Make the folder holding this run's working directories and note it in ``out``.

    The note lets the next run remove what a grader killed midway left behind.
    """
    scratch = Path(tempfile.mkdtemp(prefix=_SCRATCH_PREFIX))
    (out / _SCRATCH_NOTE).write_text(str(scratch), encoding="utf-8")
    return scratch


def _drop_scratch(out: Path, scratch: Path | None) -> None:
    """Remove this run's scratch folder, or (``scratch`` None) the one a killed run left."""
    note = out / _SCRATCH_NOTE
    if scratch is None and note.is_file():
        noted = Path(note.read_text(encoding="utf-8").strip())
        if noted.name.startswith(_SCRATCH_PREFIX) and noted.parent == Path(tempfile.gettempdir()):
            scratch = noted
    if scratch is not None:
        shutil.rmtree(scratch, ignore_errors=True)
    note.unlink(missing_ok=True)


def _hide_list(entries: list[tuple[Path, Path | None]]) -> list[str]:
    """Paths to hide from the kernels: each folder, or its fallback file when it cannot be.

    A folder holding what every kernel needs (the Python installation, the system's
    temporary folder with the kernels' working directories) cannot be hidden; then only
    the fallback file (the key itself, the gradebook file) is.
    """
    needed = {
        Path(sys.prefix).resolve(),
        Path(sys.base_prefix).resolve(),
        Path(tempfile.gettempdir()).resolve(),
    }
    hidden: list[str] = []
    for folder, fallback in entries:
        folder = folder.resolve()
        target: Path | None = folder
        if any(n == folder or folder in n.parents for n in needed):
            target = fallback.resolve() if fallback is not None else None
        if target is not None and str(target) not in hidden:
            hidden.append(str(target))
    return hidden


def grade(
    submissions: str | Path,
    cohort: str | Path | Cohort,
    key: str | Path | Mapping[str, Any] | Key,
    out: str | Path,
    *,
    workers: int = 2,
    executor: Any = None,
    scheduler: str | None = None,
    reveal: bool = False,
    timeout_cell: float = 120,
    timeout_total: float = 900,
    memory_mb: int | None = DEFAULT_MEMORY_MB,
    output_bytes: int | None = DEFAULT_OUTPUT_BYTES,
    network: bool = False,
    regrade: bool = False,
    progress: bool | None = None,
    on_grade: Callable[[Grade], None] | None = None,
) -> GradeRun:
    """Grade every submission in a folder; write the gradebook, grades.csv and reports.

    Args:
        submissions: the folder of ``.ipynb``, ``.csv`` and ``.json`` files.
        cohort: the cohort name (or folder).
        key: the plain key (``mlops-kit homework key``) or a hashed one.
        out: the output folder: ``gradebook.sqlite``, ``grades.csv``, ``report.html``,
            ``feedback/<student>.html``, ``executed/`` notebooks.
        workers: notebooks run in parallel on the local pool.
        executor: any ``concurrent.futures.Executor`` instead of the local pool.
        scheduler: a Dask scheduler address (``tcp://host:8786``) to run on instead.
        reveal: show the right option of wrongly answered questions in feedback pages.
        timeout_cell: seconds one cell may run.
        timeout_total: seconds one notebook may run.
        memory_mb: memory cap of each kernel (None: no cap).
        output_bytes: cap on each notebook's output (None: no cap).
        network: True leaves the kernels online (default: cut where the OS allows).
        regrade: grade every submission again, even unchanged ones.
        progress: as in :func:`mlops_kit.execution.batch.run_batch`.
        on_grade: called with each :class:`Grade` as soon as it is stored.

    Returns:
        A :class:`GradeRun`.
    """
    from ..execution.batch import Job, connect, run_batch
    from ..execution.runner import Limits, notebook_parameters
    from .reports import write_reports

    co = load_cohort(cohort)
    k = load_key(key, co.name)
    key_id = k.fingerprint()
    folder = Path(submissions).resolve()
    files = list_submissions(folder)
    out = Path(out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    hide: list[tuple[Path, Path | None]] = [(out, out / GRADEBOOK_NAME), (folder, None)]
    if isinstance(key, (str, Path)):
        hide.insert(0, (Path(key).resolve().parent, Path(key).resolve()))
    (out / GRADEBOOK_NAME).touch()  # exists before any kernel starts, so it can be hidden
    limit_args: dict[str, Any] = {
        "memory_mb": memory_mb,
        "output_bytes": output_bytes,
        "network": network,
        "hide_paths": tuple(_hide_list(hide)),
    }
    if "read_only" in {f.name for f in dataclasses.fields(Limits)}:
        # the kernel may write only in its own working directory
        limit_args["read_only"] = True
    limits = Limits(**limit_args)
    grades: dict[Path, Grade] = {}
    graded_now = 0
    with Gradebook(out / GRADEBOOK_NAME) as book:
        shas = {path: file_sha256(path) for path in files}
        twins: dict[str, list[str]] = {}
        for path, sha in shas.items():
            twins.setdefault(sha, []).append(path.relative_to(folder).as_posix())

        def mark_twin(path: Path, g: Grade) -> None:
            me = path.relative_to(folder).as_posix()
            others = [t for t in twins.get(g.submission, []) if t != me]
            if others and "identical_copy" not in g.flags:
                g.flags.append("identical_copy")
                note = f"byte-for-byte identical to {', '.join(others)}"
                g.reason = f"{g.reason}; {note}" if g.reason else note

        def store(path: Path, g: Grade) -> None:
            nonlocal graded_now
            mark_twin(path, g)
            book.put(g)
            grades[path] = g
            graded_now += 1
            if on_grade is not None:
                on_grade(g)

        jobs: list[Job] = []
        pending: dict[str, tuple[Path, str, str, Path]] = {}
        scratch: Path | None = None
        data_env = _data_env(co, k)
        _drop_scratch(out, None)  # what a grader killed midway left behind
        for path in files:
            sha = shas[path]
            stored = None if regrade else book.get(sha, key_id, str(path))
            if stored is not None:
                mark_twin(path, stored)  # a copy may have arrived since it was graded
                grades[path] = stored
                continue
            if path.suffix.lower() in FORM_SUFFIXES:
                store(path, grade_form(path, folder, co, k, key_id))
                continue
            started = _now()
            try:
                declared = notebook_parameters(path)
            except Exception as exc:  # noqa: BLE001 - any unreadable notebook
                store(
                    path,
                    Grade(
                        submission=sha,
                        key_id=key_id,
                        student=_student_of(path, folder),
                        path=str(path),
                        kind="notebook",
                        status="invalid_notebook",
                        reason=str(exc),
                        score=0.0,
                        max_score=co.max_score,
                        started=started,
                        finished=_now(),
                        seconds=0.0,
                    ),
                )
                continue
            if scratch is None:
                scratch = _new_scratch(out)
            job_key = _job_key(path, folder, sha)
            workdir = scratch / job_key
            workdir.mkdir()
            notebook = workdir / "submission.ipynb"
            shutil.copyfile(path, notebook)
            params = {n: v for n, v in k.parameters.items() if n in declared}
            env = {
                **data_env,
                "HOME": str(workdir),
                "MLOPS_KIT_CACHE_DIR": str(workdir / ".cache"),
                "MPLCONFIGDIR": str(workdir / ".matplotlib"),
                "MLOPS_KIT_OFFLINE": "1",
                "MLOPS_KIT_HOMEWORK_DIR": str(workdir / ".no-homework"),
            }
            jobs.append(
                Job(
                    notebook=notebook,
                    parameters=params,
                    output=out / "executed" / f"{job_key}.ipynb",
                    cwd=workdir,
                    timeout_cell=timeout_cell,
                    timeout_total=timeout_total,
                    limits=limits,
                    env=env,
                    key=job_key,
                )
            )
            pending[job_key] = (path, sha, started, workdir)

        def finished(job: Job, result: Any) -> Grade:
            path, sha, started, workdir = pending[str(job.key)]
            try:
                g = grade_run(
                    result,
                    path=path,
                    folder=folder,
                    sha=sha,
                    cohort=co,
                    key=k,
                    key_id=key_id,
                    started=started,
                    network_requested=network,
                )
                store(path, g)
            finally:
                shutil.rmtree(workdir, ignore_errors=True)
            return g

        if jobs:
            (out / "executed").mkdir(exist_ok=True)
            client = None
            relay = None
            if scheduler and executor is None:
                client = connect(scheduler)
                executor = client.get_executor()
            try:
                relay = _Relay(finished, progress, len(jobs))
                run_batch(jobs, workers=workers, executor=executor, progress=relay)
            finally:
                if relay is not None:
                    relay.close()
                _drop_scratch(out, scratch)
                if client is not None:
                    client.close()

    ordered = [grades[p] for p in files if p in grades]
    states = {g.network for g in ordered if g.kind == "notebook" and g.network}
    network_state = None if not states else (states.pop() if len(states) == 1 else "mixed")
    run = GradeRun(co.name, ordered, graded_now, out, network=network_state)
    if network_state in ("not_cut", "mixed"):
        run.notes.append(
            "The network could NOT be cut for some kernels on this machine (no Linux network "
            "namespace): those notebooks could reach the internet while they ran."
        )
    if any("paths_not_hidden" in g.flags for g in ordered):
        run.notes.append(
            "The key, gradebook and submissions folders could NOT be hidden from some "
            "kernels on this machine (no Linux mount namespace): see the flagged submissions."
        )
    run.files = write_reports(run, co, k, reveal=reveal)
    return run


class _Relay:
    """Forward each finished job to the grader and show progress.

    A tqdm bar on a terminal (``disable=None``); one line per submission otherwise, unless
    ``progress`` is False.
    """

    def __init__(self, finished: Callable[[Any, Any], Grade], progress: bool | None, total: int):
        from tqdm.auto import tqdm

        self.finished = finished
        self.lines = progress is not False and not sys.stderr.isatty()
        self.bar = tqdm(
            total=total,
            unit="nb",
            desc="grading",
            disable=None if progress is not False else True,
            file=sys.stderr,
        )

    def __call__(self, job: Any, result: Any) -> None:
        g = self.finished(job, result)
        self.bar.update(1)
        if self.lines:
            line = f"{g.status:<16} {g.score:g}/{g.max_score:g}  {Path(g.path).name}"
            print(line, file=sys.stderr, flush=True)

    def close(self) -> None:
        """Close the bar."""
        self.bar.close()
