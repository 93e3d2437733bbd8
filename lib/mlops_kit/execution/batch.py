"""Run many notebooks well: a worker pool, resumable results, parameter grids and reports.

papermill executes one notebook. An instructor runs the training notebook over every month
of a year, or one notebook per student submission. This module is the kit's batch layer
over :func:`mlops_kit.execution.runner.run_notebook`:

- :func:`run_batch` runs :class:`Job` objects on long-lived worker processes, which import
  papermill once (a papermill CLI call spends about a second importing before any kernel
  starts). One bad job never stops the others; a job whose kernel failed to start is tried
  once more; a progress bar shows on a terminal, one plain line per finished job elsewhere.
- :class:`ResultStore` keeps each result in SQLite as soon as it arrives, keyed by a
  fingerprint of the notebook's bytes, the parameters, the input files they name and the
  kit's own code. Kill a batch midway and run it again: only the jobs left (or changed) run.
- Any :class:`concurrent.futures.Executor` can run the jobs instead of the local pool, so a
  Dask cluster (``distributed.Client(address).get_executor()``) scales the same batch out.
- :func:`load_grid` and :func:`expand_grid` turn a YAML grid file into jobs, and
  :func:`write_outputs` writes ``results.csv``, ``results.parquet`` and ``report.html``.

Example:
    >>> from mlops_kit.execution.batch import load_grid, expand_grid, run_batch, ResultStore
    >>> grid = load_grid("examples/batches/train_small.yaml")      # doctest: +SKIP
    >>> jobs = expand_grid(grid)                                     # doctest: +SKIP
    >>> results = run_batch(jobs, workers=2,
    ...                     store=ResultStore(grid.output / "batch.sqlite"))  # doctest: +SKIP
"""

from __future__ import annotations

import base64
import concurrent.futures as cf
import contextlib
import dataclasses
import fnmatch
import functools
import hashlib
import html
import io
import itertools
import json
import logging
import os
import re
import sqlite3
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import KitError
from ..fileio import file_sha256
from ..pages import html_page

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

    from .runner import RunResult

logger = logging.getLogger(__name__)

#: the SQLite file :func:`default_store_path` names inside a batch's output folder
STORE_NAME = "batch.sqlite"

#: stored results with these statuses are run again on a re-run: they depend on the
#: machine (a kernel that died, a slow disk, a memory limit) more than on the notebook
RERUN_STATUSES = frozenset({"kernel_died", "timeout", "out_of_memory"})

#: statuses that never produce an executed notebook (refused before a kernel started)
NO_OUTPUT_STATUSES = frozenset({"bad_parameters", "invalid_notebook"})

#: keys a grid file may hold
GRID_KEYS = (
    "notebook",
    "zip",
    "grid",
    "fixed",
    "workers",
    "timeout_cell",
    "timeout_total",
    "output",
    "cwd",
    "report",
)

_DATASET_ID = re.compile(r"^(yellow|green|fhv|fhvhv):(\d{4})-(\d{2})$")

#: parameter names that say "the notebook writes here" (model_path, output_dir, save_to...):
#: their files are results, not inputs, and must not change the fingerprint
_OUTPUT_NAME = re.compile(r"(^|_)(out|output|outputs|save|model)(_|$)")


class GridError(KitError):
    """A grid file that cannot be turned into jobs (unknown key, unequal lists, ...)."""


class BatchError(KitError):
    """A batch that cannot start (no jobs, duplicate outputs, missing scheduler package)."""


# --------------------------------------------------------------------------------------
# Jobs
# --------------------------------------------------------------------------------------


@dataclasses.dataclass
class Job:
    """One notebook execution: what :func:`~.runner.run_notebook` needs, plus a key.

    Attributes:
        notebook: the source ``.ipynb``.
        parameters: values injected into the notebook's ``parameters`` cell.
        output: where the executed notebook is written.
        cwd: the working directory of the kernel (None: the runner's default).
        timeout_cell: seconds one cell may run before the job is a ``timeout``.
        timeout_total: seconds the whole notebook may run.
        limits: a :class:`mlops_kit.execution.runner.Limits` for untrusted notebooks, or None.
        kernel: a kernel name (None: the notebook's own, normally ``python3``).
        env: extra environment variables for the kernel.
        key: a short readable id, unique within a batch (defaults to the output's stem).
    """

    notebook: str | Path
    parameters: dict[str, Any] = dataclasses.field(default_factory=dict)
    output: str | Path | None = None
    cwd: str | Path | None = None
    timeout_cell: float = 600
    timeout_total: float = 1800
    limits: Any = None
    kernel: str | None = None
    env: dict[str, str] | None = None
    key: str | None = None

    def __post_init__(self):
        self.parameters = dict(self.parameters or {})
        if self.key is None:
            stem = Path(self.output).stem if self.output else Path(self.notebook).stem
            self.key = stem

    @property
    def id(self) -> str:
        """The job's key (an alias, as graders call it)."""
        return str(self.key)


def _dataset_files(value: str) -> list[Path]:
    """Return the local files a dataset id such as ``green:2021-01`` could be read from.

    Only folders already on disk are looked at (``MLOPS_KIT_DATA_DIR``, then the cache);
    nothing is downloaded: a fingerprint must not cost a network call.
    """
    match = _DATASET_ID.match(value)
    if not match:
        return []
    from .. import config

    service, year, month = match.groups()
    name = f"{service}_tripdata_{year}-{month}.parquet"
    folders = [config.data_dir(), config.cache_dir()]
    return [folder / name for folder in folders if folder is not None]


def input_files(job: Job) -> dict[str, Path]:
    """Return the input files a job's parameters name, by parameter (``name`` or ``name[i]``).

    A string parameter counts as an input when it resolves to an existing file, relative to
    the job's ``cwd`` (else the current folder), or when it is a dataset id whose parquet is
    already in ``MLOPS_KIT_DATA_DIR`` or the cache. Lists are looked through element by
    element. Editing such a file changes the job's fingerprint, so a re-run executes it.
    Parameters named like outputs (``model_path``, ``output_dir``, ``save_as``, ``*_out``)
    are skipped: the notebook writes those files, so they change with every run.
    """
    base = Path(job.cwd) if job.cwd else Path.cwd()
    found: dict[str, Path] = {}

    def visit(label: str, value: Any) -> None:
        if isinstance(value, (list, tuple)):
            for index, item in enumerate(value):
                visit(f"{label}[{index}]", item)
            return
        if not isinstance(value, str) or not value or len(value) > 4096 or "\n" in value:
            return
        for candidate in [Path(value).expanduser(), *_dataset_files(value)]:
            path = candidate if candidate.is_absolute() else base / candidate
            try:
                if path.is_file():
                    found[label] = path
                    return
            except OSError:
                continue

    for name, value in sorted(job.parameters.items()):
        if not _OUTPUT_NAME.search(name.lower()):
            visit(name, value)
    return found


def library_digest(root: str | Path | None = None) -> str:
    """Return a sha256 of the kit's Python sources (``mlops_kit``'s ``.py`` files by default).

    Notebooks call the library, so a result computed by one version of it is not the result
    of another: the digest is part of every job's fingerprint, and upgrading or editing the
    kit makes a re-run execute every job again instead of reusing stale results. Files are
    taken in a fixed order with their paths, so moving code between modules counts too.

    Args:
        root: a package folder to digest instead (the tests pass a copy).
    """
    folder = Path(root) if root is not None else Path(__file__).parent
    return _sources_digest(str(folder.resolve()))


@functools.cache
def _sources_digest(folder: str) -> str:
    base = Path(folder)
    digest = hashlib.sha256()
    for path in sorted(base.rglob("*.py")):
        digest.update(path.relative_to(base).as_posix().encode() + b"\0")
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def _canonical_json(value: Any) -> str:
    from ..records import to_jsonable

    return json.dumps(to_jsonable(value), sort_keys=True, separators=(",", ":"))


def job_fingerprint(job: Job, file_hash: Callable[[Path], str] | None = None) -> str:
    """Return the sha256 that identifies a job's work: notebook, parameters, inputs, library.

    Two runs with the same fingerprint compute the same thing, so a stored result can be
    reused. The job's key is included, so two jobs of a batch never share a row, and so is
    :func:`library_digest`, so a changed kit runs everything again. Timeouts, workers and
    output paths are not part of it: changing them does not make a finished result wrong.

    Args:
        job: the job.
        file_hash: a function returning the sha256 of a file (the store passes a cached
            one so large data files are hashed once); defaults to reading the file.
    """
    hash_file = file_hash or file_sha256
    notebook = Path(job.notebook)
    try:
        notebook_sha = file_sha256(notebook)
    except OSError:
        notebook_sha = f"missing:{notebook}"
    inputs = {name: hash_file(path) for name, path in input_files(job).items()}
    payload = {
        "notebook": notebook_sha,
        "parameters": json.loads(_canonical_json(job.parameters)),
        "inputs": inputs,
        "kernel": job.kernel,
        "key": job.key,
        "library": library_digest(),
    }
    return hashlib.sha256(_canonical_json(payload).encode()).hexdigest()


# --------------------------------------------------------------------------------------
# The result store
# --------------------------------------------------------------------------------------


def default_store_path(output_dir: str | Path) -> Path:
    """Return where a batch writing into ``output_dir`` keeps its results database."""
    return Path(output_dir) / STORE_NAME


class ResultStore:
    """Results of finished jobs in one SQLite file, written as each job finishes.

    The database runs in WAL mode and commits every result on its own, so killing the
    batch (Ctrl-C, SIGKILL, a closed laptop) loses nothing that had finished. A row is keyed
    by the job's fingerprint (:func:`job_fingerprint`); ``run_id`` says which run wrote it.

    Args:
        path: the ``.sqlite`` file (created with its folder when missing).
    """

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # the batch's main thread is the only writer; results arrive there
        self._db = sqlite3.connect(str(self.path), timeout=30, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(
            """
            CREATE TABLE IF NOT EXISTS results (
                fingerprint TEXT PRIMARY KEY,
                key TEXT NOT NULL,
                notebook TEXT NOT NULL,
                output TEXT,
                status TEXT NOT NULL,
                seconds REAL,
                result TEXT NOT NULL,
                run_id TEXT NOT NULL,
                finished_at REAL NOT NULL
            );
            CREATE TABLE IF NOT EXISTS runs (
                run_id TEXT PRIMARY KEY,
                started_at REAL NOT NULL,
                jobs INTEGER NOT NULL
            );
            CREATE TABLE IF NOT EXISTS file_hashes (
                path TEXT PRIMARY KEY,
                size INTEGER NOT NULL,
                mtime_ns INTEGER NOT NULL,
                sha256 TEXT NOT NULL
            );
            """
        )
        self._db.commit()
        self.last_run_id: str | None = None

    def __enter__(self) -> ResultStore:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        """Close the database (results are already committed)."""
        self._db.close()

    def begin_run(self, jobs: int) -> str:
        """Record the start of a run and return its id (stored with each result it writes)."""
        run_id = uuid.uuid4().hex[:12]
        with self._db:
            self._db.execute("INSERT INTO runs VALUES (?, ?, ?)", (run_id, time.time(), jobs))
        self.last_run_id = run_id
        return run_id

    def file_sha256(self, path: Path) -> str:
        """Return a file's sha256, reusing the stored one while its size and mtime match."""
        path = Path(path).resolve()
        stat = path.stat()
        row = self._db.execute(
            "SELECT size, mtime_ns, sha256 FROM file_hashes WHERE path = ?", (str(path),)
        ).fetchone()
        if row and row[0] == stat.st_size and row[1] == stat.st_mtime_ns:
            return row[2]
        digest = file_sha256(path)
        with self._db:
            self._db.execute(
                "INSERT OR REPLACE INTO file_hashes VALUES (?, ?, ?, ?)",
                (str(path), stat.st_size, stat.st_mtime_ns, digest),
            )
        return digest

    def fingerprint(self, job: Job) -> str:
        """Return :func:`job_fingerprint` with input files hashed through this store's cache."""
        return job_fingerprint(job, self.file_sha256)

    def get(self, fingerprint: str) -> dict[str, Any] | None:
        """Return the stored result (``RunResult.to_dict()`` form) of a fingerprint, or None."""
        row = self._db.execute(
            "SELECT result FROM results WHERE fingerprint = ?", (fingerprint,)
        ).fetchone()
        return json.loads(row[0]) if row else None

    def put(self, fingerprint: str, job: Job, result: RunResult, run_id: str) -> None:
        """Store one finished result and commit at once."""
        data = _result_dict(result)
        with self._db:
            self._db.execute(
                "INSERT OR REPLACE INTO results VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    fingerprint,
                    str(job.key),
                    str(job.notebook),
                    None if job.output is None else str(job.output),
                    data.get("status", ""),
                    data.get("seconds"),
                    json.dumps(data),  # records keep the order they were made in
                    run_id,
                    time.time(),
                ),
            )

    def rows(self, run_id: str | None = None) -> list[dict[str, Any]]:
        """Return stored rows (key, status, seconds, run_id, ...), optionally of one run."""
        query = "SELECT fingerprint, key, notebook, output, status, seconds, run_id FROM results"
        args: tuple = ()
        if run_id is not None:
            query += " WHERE run_id = ?"
            args = (run_id,)
        cursor = self._db.execute(query + " ORDER BY finished_at", args)
        names = [d[0] for d in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]

    def reusable(self, fingerprint: str, job: Job) -> dict[str, Any] | None:
        """Return the stored result a re-run may reuse for this job, or None to run it.

        A result is reused when its status does not depend on the machine
        (:data:`RERUN_STATUSES` are run again) and its executed notebook still exists.
        """
        stored = self.get(fingerprint)
        if stored is None or stored.get("status") in RERUN_STATUSES:
            return None
        if stored.get("status") not in NO_OUTPUT_STATUSES and job.output is not None:
            if not Path(job.output).is_file():
                return None
        return stored


# --------------------------------------------------------------------------------------
# Results: the runner's type, built lazily
# --------------------------------------------------------------------------------------


def _result_dict(result: Any) -> dict[str, Any]:
    from ..records import to_jsonable

    data = result.to_dict() if hasattr(result, "to_dict") else dataclasses.asdict(result)
    return to_jsonable(data)


def _result_from_dict(data: Mapping[str, Any]) -> RunResult:
    from .runner import RunResult

    names = {f.name for f in dataclasses.fields(RunResult)}
    return RunResult(**{k: v for k, v in data.items() if k in names})


def _failed_result(job: Job, status: str, error: str, seconds: float = 0.0) -> RunResult:
    """Build a RunResult for a job the runner could not report on itself."""
    return _result_from_dict(
        {
            "notebook": str(job.notebook),
            "output": None if job.output is None else str(job.output),
            "parameters": job.parameters,
            "status": status,
            "seconds": seconds,
            "error": error,
            "cell": None,
            "records": {},
        }
    )


def kernel_failed_to_start(result: Any) -> bool:
    """Return True when a result says the kernel died before running any cell.

    That is the signature of the port race papermill is known for under parallel runs
    (papermill issue 511): worth one more try, unlike a kernel that died mid-notebook.
    """
    if getattr(result, "status", None) != "kernel_died":
        return False
    text = (getattr(result, "error", None) or "").lower()
    if "no kernel named" in text:  # a missing kernelspec does not appear on a second try
        return False
    if getattr(result, "cell", None) is None:
        return True
    return any(s in text for s in ("address already in use", "failed to start", "didn't respond"))


# --------------------------------------------------------------------------------------
# Worker side
# --------------------------------------------------------------------------------------


def _watch_parent(parent: int) -> None:  # pragma: no cover - runs in worker processes
    while True:
        time.sleep(1.0)
        if os.getppid() != parent:
            os._exit(1)


def _worker_init(environ: dict[str, str], cwd: str) -> None:  # pragma: no cover - in workers
    """Prepare a pool worker: the caller's environment and folder, papermill imported once.

    Workers are forked from a server process started with the first pool, so they carry its
    environment and working folder, not the caller's current ones: both are copied here.
    The import is what a papermill CLI call pays on every notebook; a worker pays it once
    (usually never: the fork server already imported it). The watcher thread ends a worker
    orphaned by a killed batch.
    """
    threading.Thread(target=_watch_parent, args=(os.getppid(),), daemon=True).start()
    os.environ.clear()
    os.environ.update(environ)
    try:
        os.chdir(cwd)
    except OSError:
        pass
    try:
        import papermill  # noqa: F401

        from . import runner  # noqa: F401
    except Exception:  # the job itself reports the problem with a clear status
        pass


def execute_job(job: Job) -> RunResult:
    """Run one job with :func:`mlops_kit.execution.runner.run_notebook` (what each worker calls).

    Never raises for a notebook's fault: the runner classifies the outcome, and anything
    it did not foresee becomes a ``kernel_died`` result carrying the exception.
    """
    from .runner import run_notebook

    started = time.monotonic()
    try:
        return run_notebook(
            job.notebook,
            job.parameters,
            job.output,
            cwd=job.cwd,
            timeout_cell=job.timeout_cell,
            timeout_total=job.timeout_total,
            kernel=job.kernel,
            limits=job.limits,
            env=job.env,
        )
    except KitError as exc:
        return _failed_result(job, "bad_parameters", str(exc), time.monotonic() - started)
    except Exception as exc:  # noqa: BLE001 - isolate the job, report what happened
        return _failed_result(
            job,
            "kernel_died",
            f"The runner failed outside the notebook: {type(exc).__name__}: {exc}. "
            "Fix: run this one job alone with mlops-kit to see the full traceback.",
            time.monotonic() - started,
        )


# --------------------------------------------------------------------------------------
# The batch loop
# --------------------------------------------------------------------------------------


#: modules the fork server imports once, so every worker it forks starts with them loaded
_PRELOAD = (
    "mlops_kit.execution.batch",
    "mlops_kit.execution.runner",
    "mlops_kit.records",
    "papermill",
    "nbclient",
)


def start_workers_early() -> None:
    """Start the fork server now, so its imports overlap with the caller's own work.

    The first pool of a process starts a server that imports papermill (seconds on a busy
    machine) and forks every worker from it. The CLI calls this before reading the grid,
    which needs papermill too: both imports then run at the same time on two cores.
    """
    import multiprocessing

    if "forkserver" not in multiprocessing.get_all_start_methods():  # pragma: no cover
        return
    from multiprocessing import forkserver

    multiprocessing.get_context("forkserver").set_forkserver_preload(list(_PRELOAD))
    forkserver.ensure_running()


@contextlib.contextmanager
def _main_file_hidden_if_missing() -> Iterator[None]:
    """Hide ``__main__.__file__`` while workers start, when it names no file.

    A new worker re-runs the caller's main script from its path, so a batch started by a
    script fed on standard input (``python - < script.py``, whose ``__file__`` is
    ``<stdin>``) had every worker die at start-up. Workers need only this module, never
    the caller's script, so they are started as if from an interactive session.
    """
    main = sys.modules.get("__main__")
    path = getattr(main, "__file__", None)
    if main is None or path is None or Path(path).is_file():
        yield
        return
    del main.__file__
    try:
        yield
    finally:
        main.__file__ = path


def _make_pool(workers: int) -> cf.ProcessPoolExecutor:
    import multiprocessing

    # forkserver: workers are forked from a clean server process that imported the runner
    # once, never from the (possibly multi-threaded) caller; spawn where it is missing
    methods = multiprocessing.get_all_start_methods()
    if "forkserver" in methods:
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(list(_PRELOAD))
    else:  # pragma: no cover - Windows, macOS builds without forkserver
        context = multiprocessing.get_context("spawn")
    return cf.ProcessPoolExecutor(
        max_workers=workers,
        mp_context=context,
        initializer=_worker_init,
        initargs=(dict(os.environ), os.getcwd()),
    )


class _Progress:
    """A tqdm bar on a terminal, one line per finished job elsewhere, or a callback."""

    def __init__(self, total: int, progress: Any):
        self.total = total
        self.done = 0
        self.callback = progress if callable(progress) else None
        on_tty = sys.stderr.isatty()
        self.bar = None
        self.lines = False
        if progress is True or (progress is None and on_tty):
            from tqdm.auto import tqdm

            self.bar = tqdm(total=total, unit="nb", desc="batch", disable=None, file=sys.stderr)
        elif progress is None:
            self.lines = True

    def update(self, job: Job, result: Any, reused: bool = False) -> None:
        self.done += 1
        status = getattr(result, "status", "?")
        seconds = getattr(result, "seconds", 0.0) or 0.0
        note = " (stored)" if reused else ""
        line = f"[{self.done}/{self.total}] {status:<16} {seconds:6.1f}s  {job.key}{note}"
        logger.info(line)
        if self.bar is not None:
            self.bar.set_postfix_str(f"{job.key}: {status}", refresh=False)
            self.bar.update(1)
        elif self.lines:
            print(line, file=sys.stderr, flush=True)
        if self.callback is not None:
            self.callback(job, result)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def _absolute(job: Job) -> Job:
    """Return the job with absolute paths: workers (local or remote) may not share our cwd."""
    if not isinstance(job, Job):
        return job

    def full(path: str | Path | None) -> Path | None:
        return None if path is None else Path(path).expanduser().resolve()

    return dataclasses.replace(
        job, notebook=full(job.notebook), output=full(job.output), cwd=full(job.cwd)
    )


def _check_jobs(jobs: Sequence[Job]) -> None:
    keys: dict[str, int] = {}
    outputs: dict[str, int] = {}
    for index, job in enumerate(jobs):
        if not isinstance(job, Job):
            raise BatchError(
                f"Job {index} is a {type(job).__name__}, not a mlops_kit.execution.batch.Job.",
                "Build jobs with Job(notebook, parameters, output) or expand_grid(grid).",
            )
        if job.key in keys:
            raise BatchError(
                f"Jobs {keys[job.key]} and {index} share the key {job.key!r}.",
                "Give every job a unique key (or a unique output path).",
            )
        keys[str(job.key)] = index
        if job.output is not None:
            out = str(Path(job.output).resolve())
            if out in outputs:
                raise BatchError(
                    f"Jobs {outputs[out]} and {index} write the same output {job.output}.",
                    "Give every job its own output path.",
                )
            outputs[out] = index


def run_batch(
    jobs: Iterable[Job],
    workers: int = 2,
    executor: cf.Executor | None = None,
    store: ResultStore | str | Path | None = None,
    progress: bool | Callable[[Job, Any], None] | None = None,
    retries_on_kernel_start: int = 1,
) -> list[RunResult]:
    """Run jobs in parallel and return one :class:`~.runner.RunResult` per job, in order.

    Args:
        jobs: the :class:`Job` objects (keys and outputs unique).
        workers: size of the local process pool (ignored when ``executor`` is given).
        executor: any :class:`concurrent.futures.Executor` to run the jobs instead, such as
            ``distributed.Client(address).get_executor()`` (the paths must be visible from
            its workers). It is not shut down here.
        store: a :class:`ResultStore` (or a path to one): results are stored as they finish
            and a job whose fingerprint already has a reusable result is not run again.
        progress: None for a bar on a terminal and a line per job otherwise; True for the
            bar; False for silence; or a function called with ``(job, result)`` per job.
        retries_on_kernel_start: extra attempts for a job whose kernel failed to start (or
            whose executor lost it, such as a Dask worker that went away).

    Returns:
        The results, in the order of ``jobs`` (reused ones rebuilt from the store).

    Raises:
        BatchError: when two jobs share a key or an output path.
    """
    jobs = [_absolute(job) for job in jobs]
    _check_jobs(jobs)
    own_store = isinstance(store, (str, Path))
    result_store = ResultStore(store) if own_store else store
    results: list[Any] = [None] * len(jobs)
    bar = _Progress(len(jobs), progress)
    try:
        fingerprints: list[str | None] = [None] * len(jobs)
        todo: list[int] = []
        run_id = ""
        if result_store is not None:
            run_id = result_store.begin_run(len(jobs))
            for index, job in enumerate(jobs):
                fingerprints[index] = result_store.fingerprint(job)
                reused = _reused_result(result_store, fingerprints[index], job)
                if reused is None:
                    todo.append(index)
                else:
                    results[index] = reused
                    bar.update(job, reused, reused=True)
        else:
            todo = list(range(len(jobs)))

        def finish(index: int, result: Any) -> None:
            results[index] = result
            if result_store is not None:
                result_store.put(fingerprints[index], jobs[index], result, run_id)
            bar.update(jobs[index], result)

        if todo:
            _run_pending(jobs, todo, workers, executor, retries_on_kernel_start, finish)
    finally:
        bar.close()
        if own_store:
            result_store.close()
    return results


def _reused_result(store: ResultStore, fingerprint: str, job: Job) -> RunResult | None:
    """Return the stored result to reuse for a job, marked as such in its notes, or None."""
    stored = store.reusable(fingerprint, job)
    if stored is None:
        return None
    try:
        result = _result_from_dict(stored)
    except TypeError:  # stored by an older kit whose RunResult had other fields: run again
        return None
    notes = getattr(result, "notes", None)
    if isinstance(notes, list):
        notes.append(
            f"Result reused from {store.path.name}: notebook, parameters and inputs unchanged."
        )
    return result


def _run_pending(
    jobs: Sequence[Job],
    todo: list[int],
    workers: int,
    executor: cf.Executor | None,
    retries: int,
    finish: Callable[[int, Any], None],
) -> None:
    """Submit the pending jobs, collect results as they finish, retry and recover.

    The local pool gets at most ``workers`` jobs at a time, so when a worker process dies
    (the whole pool breaks with it) the lost jobs are known. They are then run one at a time:
    the one that breaks the pool alone is reported as ``kernel_died``, the others run
    normally. An external executor gets every job at once and schedules them itself.
    """
    from collections import deque
    from concurrent.futures.process import BrokenProcessPool

    own_pool = executor is None
    workers = max(1, min(workers, len(todo)))
    pool = _make_pool(workers) if own_pool else executor
    limit = workers if own_pool else len(todo)
    queue = deque(todo)
    suspects: deque[int] = deque()
    attempts = dict.fromkeys(todo, 0)
    pending: dict[cf.Future, int] = {}

    def submit(index: int) -> None:
        attempts[index] += 1
        with _main_file_hidden_if_missing():  # the pool may start a worker now
            pending[pool.submit(execute_job, jobs[index])] = index

    def fill() -> None:
        while True:
            if suspects:  # isolate suspects: one alone in the pool
                if pending:
                    return
                submit(suspects.popleft())
                return
            if not queue or len(pending) >= limit:
                return
            submit(queue.popleft())

    try:
        fill()
        while pending:
            done, _ = cf.wait(list(pending), return_when=cf.FIRST_COMPLETED)
            lost: list[int] = []
            for future in done:
                index = pending.pop(future)
                try:
                    result = future.result()
                except Exception as exc:  # noqa: BLE001 - an executor-side failure
                    if own_pool and isinstance(exc, BrokenProcessPool):
                        lost.append(index)
                        continue
                    result = _failed_result(
                        jobs[index],
                        "kernel_died",
                        f"The executor could not run the job: {type(exc).__name__}: {exc}. "
                        "Fix: check the workers' logs (for Dask, the dashboard) and re-run.",
                    )
                if kernel_failed_to_start(result) and attempts[index] <= retries:
                    logger.warning("kernel of %s failed to start; trying again", jobs[index].key)
                    queue.appendleft(index)
                    continue
                finish(index, result)
            if lost:
                # a worker process died (killed, out of memory) and the pool with it
                lost += [pending.pop(f) for f in list(pending)]
                pool.shutdown(wait=False, cancel_futures=True)
                pool = _make_pool(workers)
                if len(lost) == 1:  # it ran alone: it is the one that kills its worker
                    finish(lost[0], _worker_died(jobs[lost[0]]))
                else:
                    suspects.extend(sorted(lost))
            fill()
    except BaseException:  # Ctrl-C, or a bug: stop now, finished results are already stored
        for future in pending:
            future.cancel()
        if own_pool:
            _terminate(pool)
        raise
    finally:
        if own_pool:
            pool.shutdown(wait=True, cancel_futures=True)


def _terminate(pool: cf.ProcessPoolExecutor) -> None:
    """Stop a pool's workers at once instead of waiting for their notebooks to end.

    Their kernels notice that their parent is gone and exit (ipykernel polls for it).
    """
    for process in list((getattr(pool, "_processes", None) or {}).values()):
        try:
            process.terminate()
        except (OSError, ValueError, AttributeError):
            pass


def _worker_died(job: Job) -> RunResult:
    return _failed_result(
        job,
        "kernel_died",
        "The worker process running this notebook died (killed or out of memory). "
        "Fix: run it alone to see whether it exhausts memory, then re-run the batch.",
    )


# --------------------------------------------------------------------------------------
# Grid files
# --------------------------------------------------------------------------------------


@dataclasses.dataclass
class Grid:
    """A parsed grid file: what to run, over which parameters, and where to write.

    Attributes:
        path: the grid file.
        notebook: the resolved notebook path.
        zip: lists of equal length paired element by element.
        grid: lists crossed with each other and with the zip.
        fixed: parameters the same for every job.
        workers: the pool size.
        timeout_cell: seconds one cell may run.
        timeout_total: seconds a whole notebook may run.
        output: the output folder (relative to the current folder unless absolute).
        cwd: the kernels' working directory, or None for the runner's default.
        report: ``metric`` (a record name or pattern such as ``val_rmse_*``) and ``x``
            (the parameter on the plot's x axis) for ``report.html``.
    """

    path: Path
    notebook: Path
    zip: dict[str, list] = dataclasses.field(default_factory=dict)
    grid: dict[str, list] = dataclasses.field(default_factory=dict)
    fixed: dict[str, Any] = dataclasses.field(default_factory=dict)
    workers: int = 2
    timeout_cell: float = 600
    timeout_total: float = 1800
    output: Path = Path("build/batches")
    cwd: Path | None = None
    report: dict[str, str] = dataclasses.field(default_factory=dict)

    @property
    def varying(self) -> list[str]:
        """The parameters that change from job to job (zip first, then grid)."""
        return [*self.zip, *self.grid]

    @property
    def size(self) -> int:
        """The number of jobs the grid expands to."""
        n = len(next(iter(self.zip.values()))) if self.zip else 1
        for values in self.grid.values():
            n *= len(values)
        return n


def _resolve_notebook(value: Any, grid_path: Path) -> Path:
    if not isinstance(value, str) or not value.strip():
        raise GridError(
            f"{grid_path}: 'notebook' must name a .ipynb file.",
            "Add a line such as 'notebook: notebooks/03_train_duration_model.ipynb'.",
        )
    candidate = Path(value).expanduser()
    places = (
        [candidate]
        if candidate.is_absolute()
        else [grid_path.parent / candidate, Path.cwd() / candidate]
    )
    for place in places:
        if place.is_file():
            return place.resolve()
    raise GridError(
        f"{grid_path}: the notebook {value} was not found (looked in "
        f"{', '.join(str(p) for p in places)}).",
        "Give the path relative to the grid file's folder or to the current folder.",
    )


def _mapping(data: Mapping, name: str, grid_path: Path) -> dict[str, Any]:
    value = data.get(name)
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise GridError(
            f"{grid_path}: '{name}' must be a mapping of parameter names to values, "
            f"got {type(value).__name__}.",
            f"Write it as '{name}: {{alpha: [0.1, 1.0]}}' or as indented 'name: value' lines.",
        )
    return {str(k): v for k, v in value.items()}


def _number(data: Mapping, name: str, default: float, grid_path: Path, kind=float):
    value = data.get(name, default)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
        raise GridError(
            f"{grid_path}: '{name}' must be a positive number, got {value!r}.",
            f"Set '{name}: {default}' or another positive number.",
        )
    return kind(value)


def declared_parameters(notebook: str | Path) -> list[str]:
    """Return the names a notebook declares in its cell tagged ``parameters``, in order.

    This reads the cell with :mod:`json` and :mod:`ast` only: importing papermill costs the
    batch's main process seconds (nbformat's schema machinery) that its workers pay anyway,
    and each job's values are checked again, types included, by
    :func:`mlops_kit.execution.runner.validate_parameters` before its kernel starts. Cells that
    :mod:`ast` cannot parse (IPython magics) fall back to
    :func:`mlops_kit.execution.runner.notebook_parameters`.

    Raises:
        GridError: when the notebook is not readable JSON.
    """
    import ast

    path = Path(notebook)
    try:
        nb = json.loads(path.read_text(encoding="utf-8"))
        cells = nb["cells"]
    except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError) as exc:
        raise GridError(
            f"{path} is not a readable Jupyter notebook ({exc}).",
            "Point 'notebook:' at a valid .ipynb (open it in Jupyter to check).",
        ) from exc
    names: list[str] = []
    for cell in cells:
        tags = (cell.get("metadata") or {}).get("tags") or []
        if cell.get("cell_type") != "code" or "parameters" not in tags:
            continue
        source = cell.get("source") or ""
        source = "".join(source) if isinstance(source, list) else source
        try:
            tree = ast.parse(source)
        except SyntaxError:
            from .runner import notebook_parameters

            return list(notebook_parameters(path))
        for node in tree.body:
            targets = (
                node.targets
                if isinstance(node, ast.Assign)
                else [node.target]
                if isinstance(node, ast.AnnAssign)
                else []
            )
            names += [t.id for t in targets if isinstance(t, ast.Name) and t.id not in names]
    return names


def load_grid(path: str | Path, *, check_parameters: bool = True) -> Grid:
    """Read and validate a grid file; nothing runs, no kernel starts.

    Refused with a :class:`GridError` that names the fix: unknown top-level keys, a
    ``zip`` whose lists differ in length, a ``grid`` entry that is not a non-empty list, a
    name given twice, and (with ``check_parameters``) a parameter the notebook does not
    declare in its ``parameters`` cell, listing the ones it does.

    Args:
        path: the YAML file (see ``examples/batches/``).
        check_parameters: compare names with the notebook's ``parameters`` cell.
    """
    import yaml

    grid_path = Path(path)
    try:
        text = grid_path.read_text(encoding="utf-8")
    except OSError as exc:
        raise GridError(
            f"Cannot read the grid file {grid_path}: {exc.strerror or exc}.",
            "Check the path (examples live in examples/batches/).",
        ) from exc
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise GridError(
            f"{grid_path} is not valid YAML: {exc}.",
            "Fix the indentation or quoting at the line shown.",
        ) from exc
    if not isinstance(data, Mapping):
        raise GridError(
            f"{grid_path} must hold a YAML mapping (notebook:, grid:, ...), "
            f"got {type(data).__name__}.",
            "Start from one of the files in examples/batches/.",
        )
    unknown = sorted(set(map(str, data)) - set(GRID_KEYS))
    if unknown:
        raise GridError(
            f"{grid_path}: unknown key(s) {', '.join(unknown)}.",
            f"Use only {', '.join(GRID_KEYS)}; notebook parameters go under zip, grid or fixed.",
        )
    notebook = _resolve_notebook(data.get("notebook"), grid_path)
    zipped = _mapping(data, "zip", grid_path)
    crossed = _mapping(data, "grid", grid_path)
    fixed = _mapping(data, "fixed", grid_path)
    report = _mapping(data, "report", grid_path)

    for section, values in (("zip", zipped), ("grid", crossed)):
        for name, value in values.items():
            if not isinstance(value, list) or not value:
                raise GridError(
                    f"{grid_path}: {section}.{name} must be a non-empty list, got {value!r}.",
                    f"Write '{name}: [{value!r}]', or move a single value to 'fixed'.",
                )
    lengths = {name: len(values) for name, values in zipped.items()}
    if len(set(lengths.values())) > 1:
        shown = ", ".join(f"{name} has {n}" for name, n in lengths.items())
        raise GridError(
            f"{grid_path}: the zip lists must have equal lengths ({shown}).",
            "Give every list under zip the same number of values; put lists to be "
            "crossed under grid instead.",
        )
    seen: dict[str, str] = {}
    for section, values in (("zip", zipped), ("grid", crossed), ("fixed", fixed)):
        for name in values:
            if name in seen:
                raise GridError(
                    f"{grid_path}: the parameter {name} is given under both "
                    f"{seen[name]} and {section}.",
                    "Keep each parameter in one section.",
                )
            seen[name] = section

    if check_parameters and seen:
        declared = declared_parameters(notebook)
        strangers = [name for name in seen if name not in declared]
        if strangers:
            raise GridError(
                f"{grid_path}: {notebook.name} does not declare the parameter(s) "
                f"{', '.join(strangers)}; it declares {', '.join(declared) or 'none'}.",
                "Fix the spelling or add the name to the notebook's parameters cell.",
            )

    cwd = data.get("cwd")
    if cwd is not None:
        cwd = Path(cwd)
        cwd = cwd if cwd.is_absolute() else (grid_path.parent / cwd)
    output = data.get("output") or f"build/batches/{grid_path.stem}"
    metric = report.get("metric")
    if metric is not None and not isinstance(metric, str):
        raise GridError(
            f"{grid_path}: report.metric must be a record name or pattern, got {metric!r}.",
            "Write for example 'report: {metric: \"val_rmse_*\", x: train_dataset}'.",
        )
    return Grid(
        path=grid_path,
        notebook=notebook,
        zip=zipped,
        grid=crossed,
        fixed=fixed,
        workers=_number(data, "workers", 2, grid_path, int),
        timeout_cell=_number(data, "timeout_cell", 600, grid_path),
        timeout_total=_number(data, "timeout_total", 1800, grid_path),
        output=Path(output),
        cwd=cwd,
        report={str(k): str(v) for k, v in report.items()},
    )


def _slug(value: Any, limit: int = 40) -> str:
    if isinstance(value, (list, tuple)):
        text = "+".join(str(v) for v in value)
    else:
        text = str(value)
    text = re.sub(r"[^A-Za-z0-9.+-]+", "-", text).strip("-.") or "x"
    if len(text) > limit:
        text = text[: limit - 9] + "-" + hashlib.sha1(text.encode()).hexdigest()[:8]
    return text


def job_key(parameters: Mapping[str, Any], varying: Sequence[str]) -> str:
    """Return a readable, file-name-safe key from the parameters that vary in a batch.

    ``{"train_dataset": "green:2021-01", "alpha": 0.01}`` gives
    ``train_dataset=green-2021-01,alpha=0.01``.
    """
    parts = [f"{name}={_slug(parameters[name])}" for name in varying if name in parameters]
    return ",".join(parts) or "job"


def expand_grid(
    grid: Grid, output: str | Path | None = None, *, extra: Mapping[str, Any] | None = None
) -> list[Job]:
    """Turn a grid into jobs: the zip paired, crossed with the grid lists, plus the fixed values.

    Each executed notebook is written to ``<output>/<notebook stem>__<key>.ipynb`` where the
    key names the varying parameters (:func:`job_key`), so the folder reads like the grid.

    Args:
        grid: from :func:`load_grid`.
        output: the output folder (default: ``grid.output``).
        extra: parameters added to every job (after ``fixed``).
    """
    out = Path(output if output is not None else grid.output).resolve()
    zip_rows: list[dict[str, Any]] = [{}]
    if grid.zip:
        names = list(grid.zip)
        zip_rows = [
            dict(zip(names, values, strict=True)) for values in zip(*grid.zip.values(), strict=True)
        ]
    grid_names = list(grid.grid)
    jobs: list[Job] = []
    used: set[str] = set()
    for zip_row in zip_rows:
        for values in itertools.product(*grid.grid.values()):
            parameters = {**zip_row, **dict(zip(grid_names, values, strict=True))}
            parameters.update(grid.fixed)
            parameters.update(extra or {})
            key = job_key(parameters, grid.varying)
            if key in used:  # two values that slug the same way ("a b" and "a-b")
                key = f"{key},{len(jobs)}"
            used.add(key)
            jobs.append(
                Job(
                    notebook=grid.notebook,
                    parameters=parameters,
                    output=out / f"{grid.notebook.stem}__{key}.ipynb",
                    cwd=grid.cwd,
                    timeout_cell=grid.timeout_cell,
                    timeout_total=grid.timeout_total,
                    key=key,
                )
            )
    return jobs


# --------------------------------------------------------------------------------------
# Tables and the report
# --------------------------------------------------------------------------------------


def _cell(value: Any) -> Any:
    """Keep scalars; store lists and dicts as JSON text (parquet needs one type a column)."""
    if isinstance(value, (list, tuple, dict)):
        return json.dumps(value, sort_keys=True)
    return value


def _uniform_columns(frame: pd.DataFrame) -> pd.DataFrame:
    """Give each column one type: numbers stay numbers, a mix with text becomes text.

    A grid may mix types in one parameter (``x: [1, "abc"]`` to test a bad value); parquet
    stores one type per column, so such a column is written as strings.
    """
    for column in frame.columns:
        if frame[column].dtype != object:
            continue
        kinds = {
            "number" if isinstance(v, (int, float)) and not isinstance(v, bool) else type(v)
            for v in frame[column]
            if v is not None and not (isinstance(v, float) and v != v)
        }
        if len(kinds) > 1:
            frame[column] = [None if v is None else str(v) for v in frame[column]]
    return frame


def results_frame(jobs: Sequence[Job], results: Sequence[Any]) -> pd.DataFrame:
    """Return one row per job: key, a column per parameter, status, seconds, error, records.

    A record whose name clashes with a parameter or a status column is prefixed ``record_``.
    ``frame.attrs["records"]`` lists the record columns.
    """
    import pandas as pd

    rows = []
    record_columns: dict[str, None] = {}
    for job, result in zip(jobs, results, strict=True):
        data = _result_dict(result) if result is not None else {}
        row: dict[str, Any] = {"key": job.key}
        row.update({name: _cell(value) for name, value in job.parameters.items()})
        row["status"] = data.get("status", "not_run")
        row["seconds"] = data.get("seconds")
        row["error"] = data.get("error")
        row["cell"] = data.get("cell")
        row["output"] = None if job.output is None else str(job.output)
        for name, value in (data.get("records") or {}).items():
            column = f"record_{name}" if name in row else name
            row[column] = _cell(value)
            record_columns[column] = None
        rows.append(row)
    frame = _uniform_columns(pd.DataFrame(rows))
    for column in ("seconds",):
        if column in frame:
            frame[column] = pd.to_numeric(frame[column], errors="coerce")
    if "cell" in frame:
        frame["cell"] = frame["cell"].astype("Int64")
    frame.attrs["records"] = list(record_columns)
    return frame


def _atomic_write(path: Path, write: Callable[[Path], None]) -> None:
    """Write through ``write(temp_path)`` in the same folder, then rename over ``path``."""
    from ..fileio import atomic_path

    with atomic_path(path) as tmp:
        write(tmp)


def _metric_columns(frame: pd.DataFrame, records: Sequence[str], pattern: str | None) -> list[str]:
    """Pick the record columns of the report's plot: a pattern, else the main validation metric."""
    import pandas as pd

    numeric = [
        c
        for c in records
        if c in frame
        and frame[c].dtype != bool
        and pd.to_numeric(frame[c], errors="coerce").notna().any()
    ]
    if pattern:
        return [c for c in numeric if fnmatch.fnmatchcase(c, pattern)]
    metrics = ("rmse", "mae", "mse", "loss", "score", "accuracy", "error", "r2")
    ranked = (
        [c for c in numeric if "val" in c and any(m in c for m in metrics)]
        or [c for c in numeric if any(m in c for m in metrics)]
        or numeric
    )
    if not ranked:
        return []
    first = ranked[0]
    prefix = first.rsplit("_", 1)[0] + "_" if "_" in first else first
    family = [c for c in numeric if c.startswith(prefix)]
    return family if len(family) > 1 else [first]


def plot_layout(
    frame: pd.DataFrame,
    varying: Sequence[str],
    records: Sequence[str],
    metric: str | None = None,
    x: str | None = None,
) -> tuple[str, list[str], list[str]] | None:
    """Decide the report's plot: ``(x, line parameters, metric columns)``, or None.

    The metric columns are the records matching ``metric`` (default: the main validation
    metric and its family, such as ``val_rmse_linear``, ``val_rmse_lasso``...). Lines are
    split by the varying parameters other than ``x``, except those zipped with it (one
    value per value of ``x``, like the validation month of a training month).
    """
    ok = frame[frame["status"] == "ok"] if "status" in frame else frame
    columns = _metric_columns(ok, records, metric)
    if ok.empty or not columns:
        return None
    x = x if x in ok else (varying[0] if varying else "key")
    others: list[str] = []
    for name in varying:
        if name == x or name not in ok:
            continue
        by = [x, *others]
        if (ok.groupby(by, dropna=False)[name].nunique(dropna=False) > 1).any():
            others.append(name)  # not already fixed by x and the lines so far
    return x, others, columns


def plot_png(
    frame: pd.DataFrame,
    varying: Sequence[str],
    records: Sequence[str],
    metric: str | None = None,
    x: str | None = None,
) -> bytes | None:
    """Plot the main figure across the grid; return PNG bytes, or None with nothing to plot.

    One line per metric column and per value of the line parameters, against ``x``
    (see :func:`plot_layout`).
    """
    layout = plot_layout(frame, varying, records, metric, x)
    if layout is None:
        return None
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt
    import pandas as pd

    x, others, columns = layout
    ok = frame[frame["status"] == "ok"] if "status" in frame else frame
    prefix = os.path.commonprefix(columns) if len(columns) > 1 else ""
    figure, axes = plt.subplots(figsize=(10, 4.5), dpi=100)
    order = list(dict.fromkeys(ok[x].astype(str)))
    positions = {value: i for i, value in enumerate(order)}
    groups = ok.groupby(others, sort=False, dropna=False) if others else [((), ok)]
    for combo, part in groups:
        combo = combo if isinstance(combo, tuple) else (combo,)
        label_rest = ", ".join(f"{n}={v}" for n, v in zip(others, combo, strict=True))
        for column in columns:
            values = pd.to_numeric(part[column], errors="coerce")
            xs = [positions[v] for v in part[x].astype(str)]
            name = column[len(prefix) :] or column
            label = ", ".join(s for s in (name, label_rest) if s)
            axes.plot(xs, values, marker="o", label=label)
    axes.set_xticks(range(len(order)))
    axes.set_xticklabels(order, rotation=30, ha="right")
    axes.set_xlabel(x)
    axes.set_ylabel(prefix.rstrip("_") or columns[0])
    axes.set_title(f"{prefix.rstrip('_') or columns[0]} across the grid")
    axes.grid(alpha=0.3)
    if len(columns) > 1 or others:
        axes.legend(fontsize="small", loc="upper left", bbox_to_anchor=(1.01, 1.0))
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    plt.close(figure)
    return buffer.getvalue()


def status_counts(results: Sequence[Any]) -> dict[str, int]:
    """Return how many results have each status (``ok`` first)."""
    counts: dict[str, int] = {}
    for result in results:
        status = getattr(result, "status", None) or "not_run"
        counts[status] = counts.get(status, 0) + 1
    return dict(sorted(counts.items(), key=lambda kv: (kv[0] != "ok", kv[0])))


def render_report(
    frame: pd.DataFrame,
    *,
    title: str,
    counts: Mapping[str, int],
    png: bytes | None,
) -> str:
    """Return a self-contained HTML page: the status counts, the plot and the table."""
    summary = ", ".join(f"{n} {status}" for status, n in counts.items())
    image = (
        f'<img alt="main figure across the grid" src="data:image/png;base64,'
        f'{base64.b64encode(png).decode()}">'
        if png
        else "<p>No numeric record to plot (no job finished ok, or none recorded).</p>"
    )
    table = frame.to_html(index=False, na_rep="", escape=True, classes="results", border=0)
    body = (
        f"<p>{len(frame)} jobs: {html.escape(summary)}.</p>\n{image}\n"
        f"<h2>Results</h2>\n<div class='scroll'>{table}</div>"
    )
    return html_page(title, body, style="table.results{font-size:.85em}")


def _relative(path: str | None, folder: Path) -> str | None:
    """Return ``path`` relative to ``folder`` when inside it, so the tables travel with it."""
    if path is None:
        return None
    try:
        return str(Path(path).resolve().relative_to(folder.resolve()))
    except ValueError:
        return path


def write_outputs(
    output_dir: str | Path,
    jobs: Sequence[Job],
    results: Sequence[Any],
    *,
    varying: Sequence[str] | None = None,
    report: Mapping[str, str] | None = None,
    title: str = "Batch results",
) -> dict[str, Path]:
    """Write ``results.csv``, ``results.parquet`` and ``report.html`` atomically.

    Output paths inside ``output_dir`` are written relative to it, so the folder can be
    moved or shared as a whole.

    Args:
        output_dir: the batch's output folder.
        jobs: the jobs, in order.
        results: their results, in the same order.
        varying: the parameters that change across the batch (the plot's axes and lines);
            default: every parameter with more than one value.
        report: ``metric`` and ``x`` for the plot (see :class:`Grid`).
        title: the report's heading.

    Returns:
        The written paths by name (``csv``, ``parquet``, ``html``).
    """
    out = Path(output_dir)
    frame = results_frame(jobs, results)
    frame["output"] = [_relative(path, out) for path in frame["output"]]
    if varying is None:
        names = list(dict.fromkeys(n for job in jobs for n in job.parameters))
        varying = [n for n in names if n in frame and frame[n].astype(str).nunique() > 1]
    record_names = frame.attrs.get("records", [])
    report = dict(report or {})
    png = plot_png(frame, list(varying), record_names, report.get("metric"), report.get("x"))
    paths = {
        "csv": out / "results.csv",
        "parquet": out / "results.parquet",
        "html": out / "report.html",
    }
    _atomic_write(paths["csv"], lambda p: frame.to_csv(p, index=False))
    _atomic_write(paths["parquet"], lambda p: frame.to_parquet(p, index=False))
    page = render_report(frame, title=title, counts=status_counts(results), png=png)
    _atomic_write(paths["html"], lambda p: p.write_text(page, encoding="utf-8"))
    return paths


def run_grid(
    grid: Grid,
    *,
    output: str | Path | None = None,
    workers: int | None = None,
    executor: cf.Executor | None = None,
    force: bool = False,
    progress: Any = None,
) -> tuple[list[Job], list[RunResult], dict[str, Path], ResultStore]:
    """Expand a grid, run it resumably, write the tables and the report (what the CLI does).

    Args:
        grid: from :func:`load_grid`.
        output: the output folder (default: ``grid.output``).
        workers: the pool size (default: ``grid.workers``).
        executor: run on this executor instead of a local pool (a Dask client's).
        force: forget stored results and run every job again.
        progress: see :func:`run_batch`.

    Returns:
        The jobs, their results, the written files and the (closed) store, whose
        ``last_run_id`` names the rows this run wrote.
    """
    out = Path(output if output is not None else grid.output)
    jobs = expand_grid(grid, out)
    if not jobs:
        raise BatchError(f"{grid.path} expands to no job.", "Give at least one value per list.")
    out.mkdir(parents=True, exist_ok=True)
    store_path = default_store_path(out)
    if force and store_path.exists():
        with ResultStore(store_path) as old:
            with old._db:
                old._db.execute("DELETE FROM results")
    store = ResultStore(store_path)
    try:
        results = run_batch(
            jobs,
            workers=workers or grid.workers,
            executor=executor,
            store=store,
            progress=progress,
        )
    finally:
        store.close()
    paths = write_outputs(
        out,
        jobs,
        results,
        varying=grid.varying,
        report=grid.report,
        title=f"Batch {grid.path.name}: {grid.notebook.name}",
    )
    return jobs, results, paths, store
