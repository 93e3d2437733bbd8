"""Execute one notebook, safely, and say plainly how it went.

This module is the one place where the kit executes a notebook: ``mlops-kit run``,
the batches (:mod:`mlops_kit.execution.batch`) and the homework grader all call
:func:`run_notebook`. It stands on papermill (parameters injected into a cell tagged
``injected-parameters``, per-cell metadata) and nbclient (the kernel conversation), and
adds what they leave to the caller:

- parameters checked against the notebook's ``parameters`` cell *before* a kernel
  starts (unknown names and wrong types are refused, CLI strings coerced):
  :mod:`~mlops_kit.execution.parameters`;
- a per-cell timeout, a whole-run timeout, and one retry of a kernel that failed to start:
  :mod:`~mlops_kit.execution.kernel` runs each attempt;
- a classified outcome instead of an exception (:data:`STATUSES`), with one paragraph
  naming the problem and the fix: :mod:`~mlops_kit.execution.outcome`;
- optional :class:`Limits` for untrusted notebooks (a bubblewrap sandbox with an
  allow-list of folders and no network, a memory cap, an output cap, process and file
  limits), applied by :mod:`mlops_kit.execution.sandbox` around the kernel process:
  :mod:`~mlops_kit.execution.limits`.

Example:
    ::

        from mlops_kit.execution.runner import run_notebook

        result = run_notebook("notebooks/03_train_duration_model.ipynb",
                              {"source": "synthetic"}, "build/03.ipynb",
                              timeout_cell=120)
        result.status    # 'ok'
        result.records   # {'val_rmse': 7.48, ...}

papermill is imported on the first call and stays imported: long-lived worker processes
pay its import cost once.
"""

from __future__ import annotations

import copy
import logging
import os
import shutil
import tempfile
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ..errors import InvalidNotebookError, ParameterError
from ..fileio import atomic_path
from .drift import warning_notes
from .kernel import execute_once, kernel_env, private_dir
from .limits import Limits, check_hide_paths, check_limits, sandbox_notes
from .outcome import (
    STATUSES,
    Where,
    cell_label,
    classify,
    drop_outputs,
    exception_line,
    is_no_such_kernel,
)
from .parameters import (
    declared_in,
    notebook_label,
    notebook_parameters,
    read_notebook,
    validate_parameters,
)

__all__ = [
    "STATUSES",
    "Limits",
    "RunResult",
    "notebook_parameters",
    "run_notebook",
    "validate_parameters",
]

logger = logging.getLogger(__name__)

_KIT_METADATA = "mlops_kit"


@dataclass
class RunResult:
    """What happened when a notebook ran.

    Attributes:
        notebook: the input notebook's path.
        output: where the executed notebook was written (None when not asked or when
            there was nothing to write, e.g. ``bad_parameters``).
        parameters: the parameters injected, after validation and coercion.
        status: one of :data:`STATUSES`.
        seconds: wall time of the whole call.
        error: one paragraph naming the problem and the fix, or None when ``ok``.
        cell: index of the failing (or timed-out) cell in the executed notebook, which
            includes papermill's ``injected-parameters`` cell when parameters were given.
        cell_label: the same cell as Jupyter shows it, ``In [17]`` (its execution count
            in the executed notebook); the kit names cells this way everywhere.
        records: the figures recorded with :func:`mlops_kit.records.record`, also those
            recorded before a failure.
        ename: exception name for ``cell_error`` / ``out_of_memory`` (``ZeroDivisionError``).
        evalue: exception value (``division by zero``).
        notes: remarks that do not change the status, such as a limit that this machine
            could not enforce or a retried kernel start.
        cwd: the working directory the kernel ran in, when it was kept.
    """

    notebook: str
    output: str | None
    parameters: dict[str, Any]
    status: str
    seconds: float
    error: str | None = None
    cell: int | None = None
    cell_label: str | None = None
    records: dict[str, Any] = field(default_factory=dict)
    ename: str | None = None
    evalue: str | None = None
    notes: list[str] = field(default_factory=list)
    cwd: str | None = None

    @property
    def ok(self) -> bool:
        """True when the notebook ran to the end without an error."""
        return self.status == "ok"

    def to_dict(self) -> dict[str, Any]:
        """Return the result as plain JSON values (for ``--json``, SQLite, CSV)."""
        from ..records import to_jsonable

        return to_jsonable(asdict(self))


def run_notebook(
    notebook: str | os.PathLike,
    parameters: Mapping[str, Any] | None = None,
    output: str | os.PathLike | None = None,
    *,
    cwd: str | os.PathLike | None = None,
    timeout_cell: float | None = 600,
    timeout_total: float | None = 1800,
    kernel: str | None = None,
    limits: Limits | None = None,
    env: Mapping[str, str] | None = None,
    progress: bool = False,
    coerce_strings: bool = False,
    keep_cwd: bool = False,
) -> RunResult:
    """Execute a notebook with papermill and classify the outcome; never raises for a failure.

    Args:
        notebook: the ``.ipynb`` to run.
        parameters: values for the names of its ``parameters`` cell (validated first).
        output: where to write the executed notebook (atomically; also on failure, so the
            traceback can be read). None writes nothing.
        cwd: the kernel's working directory (created if missing, kept). None runs in a
            fresh temporary folder, removed afterwards unless ``keep_cwd``.
        timeout_cell: seconds one cell may run (None: no limit).
        timeout_total: seconds the whole run may take, kernel start included.
        kernel: kernel name; default the notebook's kernelspec, else ``python3``.
        limits: :class:`Limits` for untrusted notebooks.
        env: extra environment variables for the kernel. The kernel also gets
            ``MLOPS_KIT_CACHE_DIR`` (the caller's cache, so runs in temporary folders
            share downloads), ``MLOPS_KIT_DATA_DIR`` when set, and matplotlib's inline
            backend (figures become outputs even when the caller exports ``MPLBACKEND=Agg``).
        progress: show papermill's cell progress bar (silent when not a terminal).
        coerce_strings: convert string parameters to the declared types (CLI input).
        keep_cwd: keep the temporary working directory (its path is in ``result.cwd``).

    Returns:
        A :class:`RunResult`; its ``status`` says what happened.

    Raises:
        ValueError, TypeError: for programming errors (bad timeouts, bad ``limits``).
        SandboxUnavailableError: ``limits`` ask for isolation this machine cannot give
            (see :func:`mlops_kit.execution.sandbox.isolation_available`).
    """
    started = time.monotonic()
    limits = limits or Limits()
    _check_arguments(timeout_cell, timeout_total, limits)
    nb_name = notebook_label(notebook)
    if not isinstance(notebook, Mapping):
        notebook = Path(notebook).expanduser().resolve()
        nb_name = str(notebook)
    out_path = Path(output).expanduser().resolve() if output is not None else None
    params = dict(parameters or {})

    def finish(status: str, **kw: Any) -> RunResult:
        return RunResult(
            notebook=nb_name,
            output=kw.pop("output", None),
            parameters=kw.pop("parameters", params),
            status=status,
            seconds=round(time.monotonic() - started, 3),
            **kw,
        )

    # 1. Everything that can be refused without a kernel.
    try:
        nb = read_notebook(notebook)
        declared = declared_in(nb)
    except InvalidNotebookError as exc:
        return finish("invalid_notebook", error=str(exc))
    try:
        params = validate_parameters(
            nb_name, params, coerce_strings=coerce_strings, declared=declared
        )
    except ParameterError as exc:
        return finish("bad_parameters", error=str(exc))

    # 2. Isolation, working directory, private socket folder, limits.
    if limits.needs_isolation:
        from .sandbox import require_isolation

        require_isolation()  # never run a kernel that was to be isolated unisolated
    temp_cwd = cwd is None
    run_dir = (
        Path(tempfile.mkdtemp(prefix="mlops-kit-run-"))
        if temp_cwd
        else Path(cwd).expanduser().resolve()
    )
    run_dir.mkdir(parents=True, exist_ok=True)
    private = private_dir()
    notes: list[str] = []
    try:
        hidden = check_hide_paths(limits, run_dir, private)
        environ = kernel_env(env, private, limits)
        deadline = started + timeout_total if timeout_total else None
        kernel_name = kernel or nb.metadata.get("kernelspec", {}).get("name") or "python3"

        attempt = None
        for attempt_no in (1, 2):
            fresh = copy.deepcopy(nb)
            attempt = execute_once(
                fresh,
                params,
                nb_name=nb_name,
                run_dir=run_dir,
                private=private,
                kernel_name=kernel_name,
                kernel_env=environ,
                timeout_cell=timeout_cell,
                deadline=deadline,
                limits=limits,
                hidden=hidden,
                progress=progress,
            )
            if attempt.started or attempt.exc is None or attempt_no == 2:
                break
            if is_no_such_kernel(attempt.exc) or (deadline and time.monotonic() >= deadline):
                break
            notes.append(
                f"The kernel failed to start ({exception_line(attempt.exc)}); retried once."
            )
            logger.info("kernel start failed for %s, retrying: %s", nb_name, attempt.exc)

        notes.extend(sandbox_notes(limits, attempt.sandbox_report, attempt.started))
        place = Where(
            notebook=str(out_path) if out_path is not None else nb_name,
            executed=out_path is not None,
            cwd=str(run_dir),
        )
        status, info = classify(attempt, limits, timeout_cell, timeout_total, place)
        executed = attempt.nb
        if status == "output_too_large":
            drop_outputs(executed, info.get("cell"), limits.output_bytes)
        if info.get("cell") is not None:
            info["cell_label"] = cell_label(executed, info["cell"])
        executed.metadata[_KIT_METADATA] = {
            "status": status,
            "error": info.get("error"),
            "cell": info.get("cell"),
            "cell_label": info.get("cell_label"),
        }
        from ..records import records_from_nb

        records = records_from_nb(executed)
        written = None
        if out_path is not None:
            import nbformat

            with atomic_path(out_path) as tmp:
                nbformat.write(executed, str(tmp), version=4)
            written = str(out_path)
        notes.extend(info.pop("notes", []))
        notes.extend(warning_notes(executed, lambda index: cell_label(executed, index)))
        return finish(
            status,
            output=written,
            records=records,
            notes=notes,
            cwd=str(run_dir) if (keep_cwd or not temp_cwd) else None,
            **info,
        )
    finally:
        shutil.rmtree(private, ignore_errors=True)
        if temp_cwd and not keep_cwd:
            shutil.rmtree(run_dir, ignore_errors=True)


def _check_arguments(timeout_cell: Any, timeout_total: Any, limits: Any) -> None:
    for name, value in (("timeout_cell", timeout_cell), ("timeout_total", timeout_total)):
        if value is not None and (isinstance(value, bool) or not value > 0):
            raise ValueError(f"{name} must be a positive number of seconds or None, got {value!r}")
    check_limits(limits)
