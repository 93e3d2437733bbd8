"""Grade a folder of homework submissions safely, in parallel, resumably.

Instructors receive notebooks and form exports from people who may want a better grade.
:func:`grade` treats every file as hostile:

- each notebook runs in the sandbox of :mod:`mlops_kit.execution.sandbox` (bubblewrap: an
  allow-list of read-only folders, its own throw-away working folder, no network, a fresh
  unprivileged uid when the grader is root, memory, process, file and CPU limits), with
  per-cell and total timeouts and an output cap. Where this machine cannot isolate kernels
  grading refuses to start, unless the instructor passes ``unsafe=True`` (``--unsafe``):
  then every notebook grade is flagged ``unsandboxed`` and the report says so;
- the grader itself reads submissions without following links and with size caps
  (:mod:`~mlops_kit.homework.submissions`), and judges every answer and record on its own
  (:mod:`~mlops_kit.homework.scoring`);
- a student is named by the file's path, never by what the file says;
- one output folder serves one run at a time (a lock); a corrupt gradebook gets the fix.

The answers come from the fresh execution, never from outputs saved in the file; when the
saved outputs disagree with the re-execution the submission is flagged ``stale_outputs``.
Every submission ends with one status and never stops the others:

================= ====================================================================
graded            ran to the end and recorded answers
timeout           a cell ran longer than the per-cell limit, or the run its total budget
crashed           a cell raised, or the kernel died (``os._exit``, a C crash, a signal)
out_of_memory     the kernel hit the memory cap
output_too_large  the notebook printed more than the output cap
invalid_notebook  not a readable notebook, too large, a link, or a parameters cell the
                  grader cannot fill
invalid_form      a CSV/JSON form export that cannot be read (or is a link, too large)
no_answers        ran (or was read) but recorded no answer
================= ====================================================================

Points already earned before a crash or a timeout are kept (the status says what
happened). Grades go to the SQLite :class:`~mlops_kit.homework.gradebook.Gradebook` the
moment each is known.
"""

from __future__ import annotations

import contextlib
import hashlib
import re
import shutil
import sys
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .cohorts import HomeworkError, load_cohort
from .gradebook import GRADEBOOK_NAME, Grade, lock_output, open_gradebook
from .keys import Key, load_key, refuse_synthetic
from .scoring import (
    RUNNER_STATUS,
    cut,
    form_grade,
    grade_answers,
    grade_form,
    now,
    run_grade,
    saved_records,
)
from .staging import data_env, explain_missing, months_to_stage, stage
from .submissions import (
    MAX_NOTEBOOK_BYTES,
    Submission,
    SubmissionError,
    find_submissions,
    limit_for,
    read_submission,
)

__all__ = [
    "RUNNER_STATUS",
    "GradeRun",
    "grade",
    "grade_answers",
    "grade_form",
    "list_submissions",
]

#: defaults for untrusted notebooks (the homework needs much address space for pandas +
#: scikit-learn on a month of data)
DEFAULT_MEMORY_MB = 3072
DEFAULT_OUTPUT_BYTES = 5_000_000
#: processes and threads, open files and the largest file a graded kernel may have
DEFAULT_PIDS = 256
DEFAULT_OPEN_FILES = 1024
DEFAULT_FILE_SIZE_MB = 1024


@dataclass
class GradeRun:
    """What :func:`grade` did: the grades of the submissions in the folder, and where.

    Attributes:
        grades: one per submission currently in the folder, in path order.
        graded_now: how many were graded in this run (the rest came from the gradebook).
        out: the output folder (gradebook, grades.csv, report.html, feedback/).
        files: the exported files by name.
        network: ``cut``, ``not_cut`` or ``mixed`` over the notebooks run, None if none ran.
        isolation: how the kernels were isolated, in one line (``NONE`` with ``unsafe``).
        notes: remarks for the report.
    """

    cohort: str
    grades: list[Grade]
    graded_now: int
    out: Path
    files: dict[str, Path] = field(default_factory=dict)
    network: str | None = None
    isolation: str | None = None
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
            "isolation": self.isolation,
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


def list_submissions(folder: str | Path) -> list[Path]:
    """Return the paths of a folder's submissions (notebooks and form exports), sorted.

    Links and special files are listed too: :func:`grade` refuses them by name.
    """
    return [s.path for s in find_submissions(folder)]


def _job_key(relative: str, sha: str) -> str:
    """A unique, file-name-safe key for a submission's job and working directory."""
    stem = relative.rsplit(".", 1)[0]
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", stem).strip("._")[:60] + f"-{sha[:10]}"


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
    if scratch is None and note.is_file() and not note.is_symlink():
        noted = Path(note.read_text(encoding="utf-8").strip())
        if noted.name.startswith(_SCRATCH_PREFIX) and noted.parent == Path(tempfile.gettempdir()):
            scratch = noted
    if scratch is not None:
        shutil.rmtree(scratch, ignore_errors=True)
    note.unlink(missing_ok=True)


def _hide_list(entries: list[tuple[Path, Path | None]]) -> list[str]:
    """Paths to cover in the kernels even inside an allowed folder: each folder, or its file.

    A folder holding what every kernel needs (the Python installation, the system's
    temporary folder with the kernels' working directories) cannot be covered; then only
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


def _isolation(unsafe: bool) -> tuple[bool, str]:
    """(isolated, one line for the report); raise when kernels cannot be isolated."""
    from ..execution.sandbox import isolation_available

    info = isolation_available()
    if info["available"]:
        return True, info["describe"]
    if unsafe:
        return False, (
            f"NONE: --unsafe was given and {info['problem']}; every notebook ran as the "
            "grader's user, able to read the key and the other submissions"
        )
    raise HomeworkError(
        f"Grading runs the students' code, and this machine cannot isolate it: "
        f"{info['problem']}. Unisolated, a notebook could read the key, change other "
        "students' grades and reach the network.",
        f"{info['fix']}",
    )


def grade(
    submissions: str | Path,
    cohort: str | Path | Any,
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
    unsafe: bool = False,
    allow_synthetic_key: bool = False,
) -> GradeRun:
    """Grade every submission in a folder; write the gradebook, grades.csv and reports.

    Args:
        submissions: the folder of ``.ipynb``, ``.csv`` and ``.json`` files, or one CSV
            file: the course form's class export, each row graded as its own student
            (:func:`~mlops_kit.homework.forms.parse_class_export`).
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
        network: True leaves the kernels online (default: cut).
        regrade: grade every submission again, even unchanged ones.
        progress: as in :func:`mlops_kit.execution.batch.run_batch`.
        on_grade: called with each :class:`Grade` as soon as it is stored.
        unsafe: run the notebooks even where this machine cannot isolate them (each grade
            is flagged ``unsandboxed``). Never on a class you do not trust.
        allow_synthetic_key: accept a key computed on synthetic data (refused otherwise);
            every grade is then flagged ``synthetic_key`` and every page says so.

    Returns:
        A :class:`GradeRun`.

    Raises:
        HomeworkError: no isolation (without ``unsafe``), ``out`` locked, a corrupt gradebook,
            a missing folder, an unreadable export, a synthetic key, no month offline.
    """
    co = load_cohort(cohort)
    k = load_key(key, co.name)
    refuse_synthetic(k, allow=allow_synthetic_key)
    folder = Path(submissions).resolve()
    found = [] if folder.is_file() else find_submissions(folder)
    notebooks = any(sub.kind == "notebook" and not sub.problem for sub in found)
    staged = months_to_stage(co, k, network=network) if notebooks else {}
    out = Path(out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    if folder.is_file():
        return _grade_export(folder, co, k, out, reveal=reveal, regrade=regrade,
                             on_grade=on_grade)  # fmt: skip
    with lock_output(out), open_gradebook(out / GRADEBOOK_NAME) as book:
        state = _Run(co, k, folder, out, book, network=network, regrade=regrade, unsafe=unsafe,
                     staged=staged)  # fmt: skip
        state.on_grade = on_grade
        hide: list[tuple[Path, Path | None]] = [(out, out / GRADEBOOK_NAME), (folder, None)]
        if isinstance(key, (str, Path)):
            hide.insert(0, (Path(key).resolve().parent, Path(key).resolve()))
        state.hidden = tuple(_hide_list(hide))
        state.limits_args = {
            "memory_mb": memory_mb,
            "output_bytes": output_bytes,
            "pids": DEFAULT_PIDS,
            "open_files": DEFAULT_OPEN_FILES,
            "file_size_mb": DEFAULT_FILE_SIZE_MB,
            "cpu_seconds": int(2 * timeout_total + 60),
        }
        state.timeouts = (timeout_cell, timeout_total)
        _drop_scratch(out, None)  # what a grader killed midway left behind
        try:
            for sub in found:  # first the hashes, so copies are known before grading
                state.hash(sub)
            for sub in found:
                state.prepare(sub)
            if state.jobs:
                state.run_jobs(workers=workers, executor=executor, scheduler=scheduler,
                               progress=progress)  # fmt: skip
        finally:
            _drop_scratch(out, state.scratch)
    return _finish(state, found, reveal)


def _grade_export(path: Path, co, k: Key, out: Path, *, reveal: bool, regrade: bool,
                  on_grade: Callable[[Grade], None] | None) -> GradeRun:  # fmt: skip
    """Grade a class export: each row as its own student (no code runs)."""
    from .scoring import export_grades

    with lock_output(out), open_gradebook(out / GRADEBOOK_NAME) as book:
        state = _Run(co, k, path.parent, out, book, network=False, regrade=regrade, unsafe=False)
        state.on_grade = on_grade
        rows = export_grades(path, co, k, state.key_id)
        for sub, g in rows:
            stored = None if regrade else book.get(g.submission, state.key_id, g.path)
            if stored is None:
                state.store(sub, g)
            else:
                state.grades[sub.relative] = stored
    return _finish(state, [sub for sub, _ in rows], reveal)


def _finish(state: _Run, found: list[Submission], reveal: bool) -> GradeRun:
    from .reports import write_reports

    ordered = [state.grades[s.relative] for s in found if s.relative in state.grades]
    states = {g.network for g in ordered if g.kind == "notebook" and g.network}
    network_state = None if not states else (states.pop() if len(states) == 1 else "mixed")
    run = GradeRun(state.cohort.name, ordered, state.graded_now, state.out, network=network_state)
    run.isolation = state.isolation
    if state.key.synthetic:
        run.notes.append("Graded with a key computed on SYNTHETIC data (--allow-synthetic-key): "
                         "its right answers are not the course's.")  # fmt: skip
    if state.isolated is False:
        run.notes.append(
            f"Kernels were NOT isolated ({state.isolation}). Treat every grade of this run "
            "as unverified: any notebook could have read the key or changed other files."
        )
    elif network_state in ("not_cut", "mixed"):
        run.notes.append("The network was left on (--allow-network) for the notebooks.")
    run.files = write_reports(run, state.cohort, state.key, reveal=reveal)
    return run


class _Run:
    """One grading run's state: what is stored, what still runs, and how to store results."""

    def __init__(self, cohort, key, folder, out, book, *, network, regrade, unsafe, staged=None):
        self.cohort, self.key, self.folder, self.out, self.book = cohort, key, folder, out, book
        self.key_id = key.fingerprint()
        self.network, self.regrade, self.unsafe = network, regrade, unsafe
        self.grades: dict[str, Grade] = {}
        self.graded_now = 0
        self.on_grade: Callable[[Grade], None] | None = None
        self.jobs: list[Any] = []
        self.pending: dict[str, tuple[Submission, str, str, Path, dict]] = {}
        self.scratch: Path | None = None
        self.isolated: bool | None = None
        self.isolation: str | None = None
        self.hidden: tuple[str, ...] = ()
        self.limits_args: dict[str, Any] = {}
        self.timeouts = (120.0, 900.0)
        self.staged: dict[str, Path] = dict(staged or {})  # the key's months to show kernels
        self.twins: dict[str, list[str]] = {}

    def base(self, sub: Submission, sha: str, started: str) -> dict[str, Any]:
        return {
            "submission": sha,
            "key_id": self.key_id,
            "path": str(sub.path),
            "kind": sub.kind,
            "max_score": self.cohort.max_score,
            "started": started,
        }

    def mark_twin(self, sub: Submission, g: Grade) -> None:
        others = [t for t in self.twins.get(g.submission, []) if t != sub.relative]
        if others and "identical_copy" not in g.flags:
            g.flags.append("identical_copy")
            note = f"byte-for-byte identical to {', '.join(others[:5])}"
            g.reason = f"{g.reason}; {note}" if g.reason else note

    def store(self, sub: Submission, g: Grade) -> None:
        if self.key.synthetic and "synthetic_key" not in g.flags:
            g.flags.append("synthetic_key")  # its right answers are not the course's
        self.mark_twin(sub, g)
        self.book.put(g)
        self.grades[sub.relative] = g
        self.graded_now += 1
        if self.on_grade is not None:
            self.on_grade(g)

    def refuse(self, sub: Submission, why: str, sha: str, flag: str) -> None:
        status = "invalid_notebook" if sub.kind == "notebook" else "invalid_form"
        started = now()
        g = Grade(student=sub.student, status=status, reason=cut(why), score=0.0, flags=[flag],
                  finished=started, seconds=0.0, **self.base(sub, sha, started))  # fmt: skip
        stored = None if self.regrade else self.book.get(sha, self.key_id, str(sub.path))
        if stored is None or stored.status != status or stored.reason != g.reason:
            self.store(sub, g)
        else:
            self.grades[sub.relative] = stored

    def hash(self, sub: Submission) -> None:
        """Note the sha256 of a readable submission, to flag byte-for-byte copies."""
        if not sub.problem:
            with contextlib.suppress(SubmissionError):
                sha = hashlib.sha256(read_submission(sub.path, limit_for(sub.kind))).hexdigest()
                self.twins.setdefault(sha, []).append(sub.relative)

    def prepare(self, sub: Submission) -> None:
        """Read one submission; grade it now (form, refusal) or queue its notebook."""
        if sub.problem:
            sha = hashlib.sha256(sub.problem.encode()).hexdigest()
            self.refuse(sub, sub.problem, sha, "refused")
            return
        try:
            data = read_submission(sub.path, limit_for(sub.kind))
        except SubmissionError as exc:
            self.refuse(sub, str(exc), hashlib.sha256(str(exc).encode()).hexdigest(), "refused")
            return
        sha = hashlib.sha256(data).hexdigest()
        stored = None if self.regrade else self.book.get(sha, self.key_id, str(sub.path))
        if stored is not None:
            self.mark_twin(sub, stored)  # a copy may have arrived since it was graded
            self.grades[sub.relative] = stored
            return
        started = now()
        try:
            if sub.kind == "form":
                g = form_grade(data, where=sub.relative, student=sub.student,
                               cohort=self.cohort, key=self.key,
                               base=self.base(sub, sha, started))  # fmt: skip
                self.store(sub, g)
            else:
                self.queue(sub, data, sha, started)
        except HomeworkError:
            raise  # the run itself cannot go on (no isolation)
        except Exception as exc:  # noqa: BLE001 - one submission's failure is its own status
            self.crashed(sub, sha, started, exc)

    def crashed(self, sub: Submission, sha: str, started: str, exc: BaseException) -> None:
        why = f"the grader could not process this file: {type(exc).__name__}: {exc}"
        g = Grade(student=sub.student, status="crashed" if sub.kind == "notebook" else
                  "invalid_form", reason=cut(why), score=0.0, flags=["grader_error"],
                  finished=now(), seconds=0.0, **self.base(sub, sha, started))  # fmt: skip
        self.store(sub, g)

    def queue(self, sub: Submission, data: bytes, sha: str, started: str) -> None:
        from ..execution.batch import Job
        from ..execution.runner import Limits, notebook_parameters

        if self.isolated is None:
            self.isolated, self.isolation = _isolation(self.unsafe)
        if self.scratch is None:
            self.scratch = _new_scratch(self.out)
        job_key = _job_key(sub.relative, sha)
        workdir = self.scratch / job_key
        workdir.mkdir()
        notebook = workdir / "submission.ipynb"
        notebook.write_bytes(data)  # the grader's own copy: never the student's path again
        try:
            declared = notebook_parameters(notebook)
        except Exception as exc:  # noqa: BLE001 - any unreadable notebook
            shutil.rmtree(workdir, ignore_errors=True)
            g = Grade(student=sub.student, status="invalid_notebook", reason=cut(str(exc)),
                      score=0.0, finished=now(), seconds=0.0,
                      **self.base(sub, sha, started))  # fmt: skip
            self.store(sub, g)
            return
        staging = stage(workdir, self.staged)  # the key's months where learners look
        cwd = staging.cwd
        if self.isolated:
            limits = Limits(network=self.network, hide_paths=self.hidden, read_only=True,
                            isolate=True, read_paths=staging.read_paths,
                            **self.limits_args)  # fmt: skip
        else:
            limits = Limits(isolate=False, **self.limits_args)
        env = {
            **data_env(self.cohort, self.staged),
            **staging.env,
            "MLOPS_KIT_CACHE_DIR": str(cwd / ".cache"),
            "MPLCONFIGDIR": str(cwd / ".matplotlib"),
            "MLOPS_KIT_OFFLINE": "1",
            "MLOPS_KIT_HOMEWORK_DIR": str(cwd / ".no-homework"),
        }
        params = {n: v for n, v in self.key.parameters.items() if n in declared}
        self.jobs.append(
            Job(
                notebook=notebook,
                parameters=params,
                output=self.out / "executed" / f"{job_key}.ipynb",
                cwd=cwd,
                timeout_cell=self.timeouts[0],
                timeout_total=self.timeouts[1],
                limits=limits,
                env=env,
                key=job_key,
                kernel="python3",  # never a kernel the notebook's metadata names
            )
        )
        saved: dict = saved_records(data)
        self.pending[job_key] = (sub, sha, started, workdir, saved, staging)

    def finished(self, job: Any, result: Any) -> Grade:
        sub, sha, started, workdir, saved, staging = self.pending[str(job.key)]
        try:
            problems: list[str] = []
            executed: bytes | None = None
            output = getattr(result, "output", None)
            if output:
                with contextlib.suppress(SubmissionError):
                    executed = read_submission(output, MAX_NOTEBOOK_BYTES * 2)
                    saved_records(executed, problems)
            missing = explain_missing(getattr(result, "ename", None),
                                      getattr(result, "evalue", None), staging)  # fmt: skip
            g = run_grade(result, saved=saved, record_problems=problems, cohort=self.cohort,
                          key=self.key, base=self.base(sub, sha, started), student=sub.student,
                          isolated=bool(self.isolated), network_requested=self.network,
                          executed=executed, missing=missing)  # fmt: skip
            self.store(sub, g)
        except Exception as exc:  # noqa: BLE001 - one submission's failure is its own status
            self.crashed(sub, sha, started, exc)
            g = self.grades[sub.relative]
        finally:
            shutil.rmtree(workdir, ignore_errors=True)
        return g

    def run_jobs(self, *, workers: int, executor: Any, scheduler: str | None, progress) -> None:
        from ..execution.batch import connect, run_batch

        (self.out / "executed").mkdir(exist_ok=True)
        client = None
        relay = None
        if scheduler and executor is None:
            client = connect(scheduler)
            executor = client.get_executor()
        try:
            relay = _Relay(self.finished, progress, len(self.jobs))
            run_batch(self.jobs, workers=workers, executor=executor, progress=relay)
        finally:
            if relay is not None:
                relay.close()
            if client is not None:
                client.close()


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
            name = "".join(c if c.isprintable() else "?" for c in Path(g.path).name)
            line = f"{g.status:<16} {g.score:g}/{g.max_score:g}  {name}"  # no escape codes
            print(line, file=sys.stderr, flush=True)

    def close(self) -> None:
        """Close the bar."""
        self.bar.close()
