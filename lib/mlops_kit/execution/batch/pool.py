"""The batch loop: run jobs on long-lived worker processes (or any executor), resumably.

:func:`run_batch` is what the CLI's ``batch``, ``mlops-kit run`` and the homework grader
call to run many notebooks:

- workers are forked from a server process that imported papermill once
  (:func:`start_workers_early` starts it ahead), so no job pays that import;
- a job is given to a worker only when one is free, so when a worker process dies (and the
  pool with it) the lost jobs are known: they run again one at a time, and the one that
  kills its worker alone is reported as ``kernel_died``;
- a job whose kernel failed to start is tried once more (papermill issue 511's port race);
- with a :class:`~mlops_kit.execution.batch.store.ResultStore`, a job whose fingerprint has
  a reusable result is not run, and every result is stored as it arrives;
- any :class:`concurrent.futures.Executor` (a Dask client's) can take the jobs instead;
- progress is a bar on a terminal, one line per finished job elsewhere, or a callback.
"""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import dataclasses
import logging
import os
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

from ...errors import KitError
from ..runner import RunResult, run_notebook
from .jobs import BatchError, Job, failed_result, kernel_failed_to_start, result_from_dict
from .lock import hold_folder
from .store import ResultStore

logger = logging.getLogger(__name__)


def check_workers(workers: Any) -> int:
    """Return ``workers`` when it is a whole number of at least 1; refuse it otherwise.

    Raises:
        BatchError: naming the value and the fix.
    """
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise BatchError(
            f"workers must be a whole number of at least 1, got {workers!r}.",
            "Pass 2, say (--workers 2 on the command line), or leave it out for the default.",
        )
    return workers


# --------------------------------------------------------------------------- worker side


def _watch_batch(batch: int) -> None:  # pragma: no cover - runs in worker processes
    """End this worker when the batch process (not the fork server, its parent) is gone.

    The fork server outlives a killed batch as long as any worker lives (each holds the
    server's "alive" pipe), and a worker watching only its parent would wait for the server:
    both would stay forever. Watching the batch itself breaks that circle; once the workers
    are gone, the server and multiprocessing's resource tracker end too, and each kernel
    dies with the worker that started it.
    """
    import select

    try:
        handle = os.pidfd_open(batch)
    except (AttributeError, OSError):  # not Linux 5.3+: poll instead
        handle = None
    if handle is not None:
        select.select([handle], [], [])  # readable when the batch process has ended
        os._exit(1)
    while True:
        time.sleep(1.0)
        try:
            os.kill(batch, 0)
        except ProcessLookupError:
            os._exit(1)
        except OSError:
            pass


def _worker_init(environ: dict[str, str], cwd: str, batch: int) -> None:  # pragma: no cover
    """Prepare a pool worker: the caller's environment and folder, papermill imported once.

    Workers are forked from a server process started with the first pool, so they carry its
    environment and working folder, not the caller's current ones: both are copied here.
    The import is what a papermill CLI call pays on every notebook; a worker pays it once
    (usually never: the fork server already imported it). The watcher thread ends a worker
    orphaned by a killed batch (``batch`` is the batch process's pid).
    """
    threading.Thread(target=_watch_batch, args=(batch,), daemon=True).start()
    os.environ.clear()
    os.environ.update(environ)
    try:
        os.chdir(cwd)
    except OSError:
        pass
    try:
        import papermill  # noqa: F401
    except Exception:  # the job itself reports the problem with a clear status
        pass


def execute_job(job: Job) -> RunResult:
    """Run one job with :func:`mlops_kit.execution.runner.run_notebook` (what each worker calls).

    Never raises for a notebook's fault: the runner classifies the outcome, and anything
    it did not foresee becomes a ``kernel_died`` result carrying the exception.
    """
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
        return failed_result(job, "bad_parameters", str(exc), time.monotonic() - started)
    except Exception as exc:  # noqa: BLE001 - isolate the job, report what happened
        return failed_result(
            job,
            "kernel_died",
            f"The runner failed outside the notebook: {type(exc).__name__}: {exc}. "
            "Fix: run this one job alone with mlops-kit to see the full traceback.",
            time.monotonic() - started,
        )


# --------------------------------------------------------------------------- the loop


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

    The first pool of a process starts a server that imports papermill and forks every
    worker from it. :func:`~mlops_kit.execution.batch.grid.run_grid` calls this before
    reading the grid, so the server's imports run while the grid is read and expanded.
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
        initargs=(dict(os.environ), os.getcwd(), os.getpid()),
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
        BatchError: when two jobs share a key or an output path, ``workers`` is not a
            whole number of at least 1, or another process is writing into the folder of
            a job's output (see :func:`~mlops_kit.execution.batch.lock.hold_folder`).
    """
    check_workers(workers)
    jobs = [_absolute(job) for job in jobs]
    _check_jobs(jobs)
    with contextlib.ExitStack() as held:
        # one run at a time writes into a folder (another process is refused)
        for folder in sorted({str(Path(job.output).parent) for job in jobs if job.output}):
            held.enter_context(hold_folder(folder, purpose="batch"))
        own_store = isinstance(store, (str, Path))
        result_store = ResultStore(store) if own_store else store
        return _run_held(
            jobs, workers, executor, result_store, own_store, progress, retries_on_kernel_start
        )


def _run_held(
    jobs: list[Job],
    workers: int,
    executor: cf.Executor | None,
    result_store: ResultStore | None,
    own_store: bool,
    progress: Any,
    retries_on_kernel_start: int,
) -> list[RunResult]:
    """The body of :func:`run_batch`, once the output folders are held."""
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
        result = result_from_dict(stored)
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
                    result = failed_result(
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
    return failed_result(
        job,
        "kernel_died",
        "The worker process running this notebook died (killed or out of memory). "
        "Fix: run it alone to see whether it exhausts memory, then re-run the batch.",
    )
