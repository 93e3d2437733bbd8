"""Execute one notebook, safely, and say plainly how it went.

This module is the one place where the kit executes a notebook: ``mlops-kit run``,
the batches (:mod:`mlops_kit.execution.batch`) and the homework grader all call
:func:`run_notebook`. It stands on papermill (parameters injected into a cell tagged
``injected-parameters``, per-cell metadata) and nbclient (the kernel conversation), and
adds what they leave to the caller:

- parameters checked against the notebook's ``parameters`` cell *before* a kernel
  starts (unknown names and wrong types are refused, CLI strings coerced);
- a per-cell timeout and a whole-run timeout;
- a classified outcome instead of an exception: ``ok``, ``cell_error``, ``timeout``,
  ``kernel_died``, ``invalid_notebook``, ``bad_parameters``, ``out_of_memory``,
  ``output_too_large``;
- kernels that start at the same moment never race for TCP ports: each kernel talks
  over Unix sockets in its own private folder (papermill issue 511);
- optional :class:`Limits` for untrusted notebooks (memory cap, output cap, no network,
  hidden folders, a read-only file system outside the working directory), applied by
  :mod:`mlops_kit.execution.sandbox` around the kernel process.

Example:
    ::

        from mlops_kit.execution.runner import run_notebook

        result = run_notebook("notebooks/03_train_duration_model.ipynb",
                              {"source": "synthetic"}, "build/03.ipynb",
                              timeout_cell=120)
        result.status    # 'ok'
        result.records   # {'val_rmse': 7.48, ...}

papermill is imported on the first call and stays imported: long-lived worker processes
pay its import cost (about a second, mostly nbformat's schema machinery) only once.
"""

from __future__ import annotations

import ast
import copy
import json
import logging
import math
import os
import shutil
import signal
import sys
import tempfile
import threading
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ..errors import (
    BadParameterError,
    InvalidNotebookError,
    KitError,
    ParameterError,
    UnknownParameterError,
)

logger = logging.getLogger(__name__)

STATUSES = (
    "ok",
    "cell_error",
    "timeout",
    "kernel_died",
    "invalid_notebook",
    "bad_parameters",
    "out_of_memory",
    "output_too_large",
)
"""Every status a :class:`RunResult` can carry."""

_KIT_METADATA = "mlops_kit"
# How a kernel dies when it runs out of memory (getattr: Windows lacks most of them).
_SIGNALS_UNDER_MEMORY_CAP = {
    getattr(signal, name)
    for name in ("SIGKILL", "SIGSEGV", "SIGABRT", "SIGBUS")
    if hasattr(signal, name)
}
# Unix sockets in a private folder: no TCP port to race for. Windows keeps TCP.
_TRANSPORT = "ipc" if os.name == "posix" else "tcp"

# nbclient logs every timeout and dead kernel at ERROR level; the runner reports them in
# the RunResult instead, so its messages go to a logger nobody listens to.
_QUIET = logging.Logger("mlops_kit.execution.runner.nbclient", level=logging.CRITICAL)


# --------------------------------------------------------------------------- limits


@dataclass(frozen=True)
class Limits:
    """Limits applied to the kernel process when executing a notebook you do not trust.

    Each limit degrades honestly: when the operating system does not allow it (no Linux
    namespaces, for instance), the run still happens and :attr:`RunResult.notes` says
    what could not be enforced, so a grader can report it.

    Attributes:
        memory_mb: address-space cap of the kernel in MiB (``RLIMIT_AS``). A notebook that
            hits it gets ``MemoryError`` or is killed: status ``out_of_memory``. Leave
            room for the imports (pandas + scikit-learn need about 1 GiB of address space).
        output_bytes: cap on the size of everything the notebook outputs (text, images,
            tracebacks), counted while it runs. Crossing it stops the run with
            ``output_too_large`` and the huge output is not saved.
        network: False cuts the kernel off every network, loopback included (a new
            Linux network namespace). The kernel still talks to the runner over Unix
            sockets, which a network namespace does not cut.
        hide_paths: folders (or files) the kernel must not read, such as a homework key
            or a gradebook: inside the kernel folders appear empty and read-only, files
            cannot be opened.
        read_only: True makes the whole file system read-only for the kernel except its
            working directory (``/dev`` aside), so a hostile notebook cannot change the
            data cache, the home folder or anything else outside its folder. The kernel's
            ``TMPDIR`` and ``MPLCONFIGDIR`` then point to a private scratch folder.
    """

    memory_mb: int | None = None
    output_bytes: int | None = None
    network: bool = True
    hide_paths: tuple[str | os.PathLike, ...] = ()
    read_only: bool = False

    @property
    def needs_sandbox(self) -> bool:
        """True when the kernel process itself must be started through the sandbox."""
        return bool(self.memory_mb) or not self.network or bool(self.hide_paths) or self.read_only


# --------------------------------------------------------------------------- result


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


# --------------------------------------------------------------------------- parameters


def _load_notebook(notebook: str | os.PathLike | Mapping):
    """Read and validate a notebook into an nbformat v4 node with papermill's metadata."""
    import nbformat

    if isinstance(notebook, Mapping):
        name = "<notebook object>"
        text = json.dumps(notebook)
    else:
        name = str(notebook)
        try:
            text = Path(notebook).read_text(encoding="utf-8")
        except FileNotFoundError as exc:
            raise InvalidNotebookError(
                f"The notebook {name} does not exist.",
                "Check the path (relative paths start from the current folder).",
            ) from exc
        except (OSError, UnicodeDecodeError) as exc:
            raise InvalidNotebookError(
                f"The notebook {name} cannot be read: {exc}.",
                "Pass a readable .ipynb file saved by Jupyter.",
            ) from exc
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidNotebookError(
            f"{name} is not a notebook: it is not valid JSON ({exc.msg} at line {exc.lineno}, "
            f"column {exc.colno}); the file may be truncated or was edited by hand.",
            "Restore it from version control or re-save it from Jupyter.",
        ) from exc
    problem = None
    if not isinstance(raw, dict) or "cells" not in raw or "nbformat" not in raw:
        problem = "it is JSON, but not a Jupyter notebook (no 'cells' and 'nbformat' keys)"
    else:
        try:
            nb = nbformat.reads(text, as_version=4)
            upgraded = nbformat.v4.upgrade(nb)
            nb = upgraded if upgraded is not None else nb
            nbformat.validate(nb)
        except Exception as exc:  # nbformat raises several unrelated types here
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            problem = f"it does not follow the notebook format ({first})"
    if problem:
        raise InvalidNotebookError(
            f"{name} is not a valid notebook: {problem}.",
            "Open and re-save it in Jupyter, or restore it from version control.",
        )
    nb.metadata.setdefault(
        "papermill",
        {"default_parameters": {}, "parameters": {}, "environment_variables": {}},
    )
    for cell in nb.cells:
        cell.metadata.setdefault("tags", [])
        cell.metadata.setdefault("papermill", {})
    return nb


def _literal(source: str) -> tuple[bool, Any]:
    try:
        return True, ast.literal_eval(source)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return False, None


_TYPE_NAMES = {"int", "float", "str", "bool", "list", "tuple", "dict"}


def _infer_type(annotation: str, default_source: str) -> str | None:
    """Return the parameter's type name from its annotation, else from its default."""
    if annotation and annotation != "None":
        base = annotation.split("[", 1)[0].strip().lower()
        base = {"list": "list", "typing.list": "list", "dict": "dict"}.get(base, base)
        return base if base in _TYPE_NAMES else None
    ok, value = _literal(default_source)
    if not ok or value is None:
        return None
    return type(value).__name__ if type(value).__name__ in _TYPE_NAMES else None


def notebook_parameters(notebook: str | os.PathLike | Mapping) -> dict[str, dict[str, Any]]:
    """Return the parameters a notebook declares in its cell tagged ``parameters``.

    Papermill's own inspection finds the names, the source of each default and the
    comment after it; this adds the inferred type (from an annotation such as
    ``alpha: float = 0.1`` or else from the default's literal value) and the default as
    a Python value when it is a literal.

    Args:
        notebook: path of an ``.ipynb`` (or a loaded notebook).

    Returns:
        ``{name: {"name", "type", "default", "default_source", "help"}}`` in cell order;
        ``type`` is ``int``, ``float``, ``str``, ``bool``, ``list``, ``tuple``, ``dict``
        or None when unknown (any value is then accepted).

    Raises:
        InvalidNotebookError: when the file is not a readable, valid notebook.
    """
    return _declared(_load_notebook(notebook))


def _declared(nb: Any) -> dict[str, dict[str, Any]]:
    """The declared parameters of a loaded notebook (see :func:`notebook_parameters`)."""
    from papermill.inspection import _infer_parameters

    declared: dict[str, dict[str, Any]] = {}
    for p in _infer_parameters(nb):
        ok, value = _literal(p.default)
        declared[p.name] = {
            "name": p.name,
            "type": _infer_type(p.inferred_type_name, p.default),
            "default": value if ok else None,
            "default_source": p.default,
            "help": p.help,
        }
    return declared


_TRUE = {"true", "yes", "1", "on"}
_FALSE = {"false", "no", "0", "off"}


def _coerce_string(name: str, value: str, kind: str | None) -> Any:
    """Turn a CLI string into the declared type (raises ValueError when it cannot)."""
    text = value.strip()
    if kind == "int":
        return int(text)
    if kind == "float":
        return float(text)
    if kind == "bool":
        if text.lower() in _TRUE:
            return True
        if text.lower() in _FALSE:
            return False
        raise ValueError(f"{value!r} is not true/false")
    if kind in {"list", "tuple", "dict"}:
        import yaml

        loaded = yaml.safe_load(text)  # JSON and YAML flow style: [a, b], {k: v}
        if kind == "tuple" and isinstance(loaded, list):
            loaded = tuple(loaded)
        return loaded
    return value


def _check_type(name: str, value: Any, kind: str | None) -> Any:
    """Return the value (ints widened to float) or raise ValueError naming the type."""
    if kind is None:
        return value
    if kind == "int":
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError
        return value
    if kind == "float":
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ValueError
        return float(value)
    if kind == "bool":
        if not isinstance(value, bool):
            raise ValueError
        return value
    if kind == "str":
        if not isinstance(value, str):
            raise ValueError
        return value
    if kind in {"list", "tuple"}:
        if not isinstance(value, (list, tuple)):
            raise ValueError
        return list(value) if kind == "list" else tuple(value)
    if kind == "dict":
        if not isinstance(value, Mapping):
            raise ValueError
        return dict(value)
    return value


def validate_parameters(
    notebook: str | os.PathLike | Mapping,
    parameters: Mapping[str, Any] | None,
    *,
    coerce_strings: bool = False,
    declared: Mapping[str, Mapping[str, Any]] | None = None,
) -> dict[str, Any]:
    """Check parameters against the notebook's declared ones, before any kernel starts.

    papermill only warns about a name the notebook does not declare and injects any
    value; a typo then silently runs the default. The kit refuses both.

    Args:
        notebook: the notebook whose ``parameters`` cell declares the names.
        parameters: the values to inject (None means none).
        coerce_strings: convert strings to the declared type, as the CLI's
            ``-p NAME VALUE`` gives strings: ``"3"`` for an int, ``"0.1"`` for a float,
            ``"true"``/``"no"`` for a bool, ``"[a, b]"`` or JSON for a list or dict.
        declared: the result of :func:`notebook_parameters` when already known.

    Returns:
        The parameters with coerced values, in the caller's order.

    Raises:
        UnknownParameterError: a name the notebook does not declare (lists valid ones).
        BadParameterError: a value of the wrong type.
        InvalidNotebookError: the notebook itself is malformed.
    """
    declared = notebook_parameters(notebook) if declared is None else declared
    checked: dict[str, Any] = {}
    for name, value in (parameters or {}).items():
        if name not in declared:
            if declared:
                valid = "; ".join(
                    f"{p['name']} (default {p['default_source']})" for p in declared.values()
                )
                fix = f"Use one of the declared names: {valid}."
            else:
                fix = (
                    "This notebook declares no parameters: tag its first code cell "
                    "'parameters' and assign each name a default there."
                )
            raise UnknownParameterError(
                f"The notebook {_nb_name(notebook)} has no parameter named {name!r}.", fix
            )
        kind = declared[name]["type"]
        original = value
        try:
            if coerce_strings and isinstance(value, str) and kind not in (None, "str"):
                value = _coerce_string(name, value, kind)
            checked[name] = _check_type(name, value, kind)
        except (ValueError, TypeError, ArithmeticError):
            raise BadParameterError(
                f"Parameter {name!r} of {_nb_name(notebook)} expects {_a(kind)} "
                f"(default {declared[name]['default_source']}), got {original!r} "
                f"({type(original).__name__}).",
                f"Pass {_a(kind)} value for {name}"
                + (
                    ", e.g. -p {name} {default}.".format(
                        name=name, default=declared[name]["default_source"]
                    )
                    if coerce_strings
                    else "."
                ),
            ) from None
        except Exception as exc:  # a YAML syntax error while coercing a list
            raise BadParameterError(
                f"Parameter {name!r} of {_nb_name(notebook)} expects {_a(kind)}; "
                f"{original!r} cannot be read as one ({type(exc).__name__}).",
                f"Write it as JSON, e.g. -p {name} '{declared[name]['default_source']}'.",
            ) from None
    return checked


def _a(kind: str | None) -> str:
    return f"an {kind}" if kind and kind[0] in "aeiou" else f"a {kind}"


def _nb_name(notebook: Any) -> str:
    return "<notebook object>" if isinstance(notebook, Mapping) else str(notebook)


# --------------------------------------------------------------------------- kernel plumbing

_CLASSES: dict[str, type] = {}
_CLASSES_LOCK = threading.Lock()


def _classes() -> tuple[type, type]:
    """Build (once) the kernel manager and notebook client classes; imports are heavy."""
    with _CLASSES_LOCK:
        if not _CLASSES:
            _CLASSES.update(_build_classes())
    return _CLASSES["km"], _CLASSES["client"]


def _build_classes() -> dict[str, type]:
    from jupyter_client.manager import AsyncKernelManager
    from papermill.clientwrap import PapermillNotebookClient
    from traitlets import List, Unicode

    class KitKernelManager(AsyncKernelManager):
        """A kernel manager that may prefix the kernel's argv with the sandbox launcher."""

        launcher = List(Unicode(), default_value=[])

        def format_kernel_cmd(self, extra_arguments=None):
            cmd = super().format_kernel_cmd(extra_arguments)
            return [*self.launcher, *cmd] if self.launcher else cmd

        async def _async_launch_kernel(self, kernel_cmd, **kw):
            await super()._async_launch_kernel(kernel_cmd, **kw)
            # Keep the process: its exit status tells a crash from a memory kill.
            self.kit_process = self.provisioner.process

    class KitNotebookClient(PapermillNotebookClient):
        """papermill's client plus the current cell, an output cap and a kill switch."""

        def __init__(self, nb_man, *, output_cap=None, sandbox_report=None, **kw):
            super().__init__(nb_man, **kw)
            self.kit_report_path = sandbox_report
            self.kit_sandbox_report = {}
            self.kit_current_cell = None
            self.kit_kernel_ready = False
            self.kit_output_cap = output_cap
            self.kit_output_bytes = 0
            self.kit_output_exceeded_cell = None
            self.on_cell_execute = self._kit_on_cell_execute
            self.on_notebook_start = self._kit_on_notebook_start
            self.kit_cell_error = None
            self.on_cell_error = self._kit_on_cell_error

        def _kit_on_cell_error(self, cell, cell_index, execute_reply):
            # The reply names the exception even when its iopub 'error' output is lost
            # (a kernel short of memory may drop it).
            content = (execute_reply or {}).get("content", {})
            if self.kit_cell_error is None:
                self.kit_cell_error = (cell_index, content.get("ename"), content.get("evalue"))

        def _kit_on_cell_execute(self, cell, cell_index):
            self.kit_current_cell = cell_index

        def _kit_on_notebook_start(self, notebook):
            self.kit_kernel_ready = True
            # Read the sandbox report now, before the notebook's code could rewrite it.
            if self.kit_report_path is not None:
                try:
                    self.kit_sandbox_report = json.loads(
                        Path(self.kit_report_path).read_text(encoding="utf-8")
                    )
                except (OSError, ValueError):
                    self.kit_sandbox_report = {}

        def process_message(self, msg, cell, cell_index):
            if self.kit_output_exceeded_cell is not None:
                return None  # the kernel is being killed: drop whatever still arrives
            if self.kit_output_cap is not None:
                self.kit_output_bytes += _message_size(msg)
                if self.kit_output_bytes > self.kit_output_cap:
                    self.kit_output_exceeded_cell = cell_index
                    _kill_kernel(self.km)
                    return None
            return super().process_message(msg, cell, cell_index)

    return {"km": KitKernelManager, "client": KitNotebookClient}


def _message_size(msg: Mapping) -> int:
    """Bytes of user-visible output in one kernel message (0 for status messages)."""
    kind = msg.get("msg_type")
    content = msg.get("content") or {}
    if kind == "stream":
        return len(content.get("text", "").encode("utf-8", "replace"))
    if kind in {"display_data", "execute_result", "update_display_data"}:
        total = 0
        for value in (content.get("data") or {}).values():
            text = value if isinstance(value, str) else json.dumps(value)
            total += len(text.encode("utf-8", "replace"))
        return total
    if kind == "error":
        return sum(len(line.encode("utf-8", "replace")) for line in content.get("traceback", []))
    return 0


def _kill_kernel(km: Any) -> None:
    """SIGKILL the kernel's process group (safe from any thread; ignores a dead kernel)."""
    provisioner = getattr(km, "provisioner", None)
    process = getattr(km, "kit_process", None) or getattr(provisioner, "process", None)
    pgid = getattr(provisioner, "pgid", None)
    try:
        if pgid and hasattr(os, "killpg"):
            os.killpg(pgid, signal.SIGKILL)
        elif process is not None:
            process.kill()
    except (ProcessLookupError, PermissionError, OSError):
        pass


def _private_dir() -> Path:
    """A short private folder for the kernel's sockets (Unix socket paths max ~100 chars)."""
    base = tempfile.gettempdir()
    if len(base) > 60 and os.path.isdir("/tmp"):
        base = "/tmp"
    return Path(tempfile.mkdtemp(prefix="mlops-kit-k-", dir=base))


_CAPPED_THREADS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")


def _matplotlib_scratch(folder: Path) -> str:
    """A writable matplotlib folder seeded with the user's font cache.

    Under ``read_only`` the usual folder cannot be written, and matplotlib would then
    rebuild its font list on every run (seconds); copying the small cache avoids that.
    """
    folder.mkdir(parents=True, exist_ok=True)
    base = os.environ.get("MPLCONFIGDIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "matplotlib"
    )
    try:
        for cache in Path(base).glob("fontlist-*.json"):
            shutil.copy2(cache, folder / cache.name)
    except OSError:
        pass
    return str(folder)


INLINE_BACKEND = "module://matplotlib_inline.backend_inline"


def _kernel_env(
    env: Mapping[str, str] | None, private: Path, limits: Limits | None = None
) -> dict[str, str]:
    from ..config import cache_dir, data_dir

    kernel_env = dict(os.environ)
    kernel_env["MLOPS_KIT_CACHE_DIR"] = str(Path(cache_dir()).expanduser().resolve())
    data = data_dir()
    if data is not None:
        kernel_env["MLOPS_KIT_DATA_DIR"] = str(data.resolve())
    # Figures must land in the notebook as outputs: the inline backend, whatever the caller
    # uses (make and the tests export MPLBACKEND=Agg for their own processes).
    kernel_env["MPLBACKEND"] = INLINE_BACKEND
    kernel_env["PYDEVD_DISABLE_FILE_VALIDATION"] = "1"
    # IPython's profile folder lives with the sockets, so a run writes nothing in ~.
    kernel_env["IPYTHONDIR"] = str(private / "ipython")
    if limits is not None and limits.read_only:
        scratch = private / "tmp"
        scratch.mkdir(exist_ok=True)
        kernel_env["TMPDIR"] = str(scratch)
        kernel_env["MPLCONFIGDIR"] = _matplotlib_scratch(scratch / "matplotlib")
    if limits is not None and limits.memory_mb:
        # The cap counts address space: every BLAS thread and malloc arena reserves some.
        kernel_env.setdefault("MALLOC_ARENA_MAX", "2")
        for name in _CAPPED_THREADS:
            kernel_env.setdefault(name, "1")
    kernel_env.update({str(k): str(v) for k, v in (env or {}).items()})
    return kernel_env


# --------------------------------------------------------------------------- run


@dataclass
class _Attempt:
    """What one kernel start + execution produced, before classification."""

    nb: Any
    client: Any
    km: Any
    exc: BaseException | None
    started: bool
    total_deadline_hit: bool
    sandbox_report: dict[str, Any]


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
    """
    started = time.monotonic()
    limits = limits or Limits()
    _check_arguments(timeout_cell, timeout_total, limits)
    nb_name = _nb_name(notebook)
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
        nb = _load_notebook(notebook)
        declared = _declared(nb)
    except InvalidNotebookError as exc:
        return finish("invalid_notebook", error=str(exc))
    try:
        params = validate_parameters(
            nb_name, params, coerce_strings=coerce_strings, declared=declared
        )
    except ParameterError as exc:
        return finish("bad_parameters", error=str(exc))

    # 2. Working directory, private socket folder, limits.
    temp_cwd = cwd is None
    run_dir = (
        Path(tempfile.mkdtemp(prefix="mlops-kit-run-"))
        if temp_cwd
        else Path(cwd).expanduser().resolve()
    )
    run_dir.mkdir(parents=True, exist_ok=True)
    private = _private_dir()
    notes: list[str] = []
    try:
        hidden = _check_hide_paths(limits, run_dir, private, out_path)
        kernel_env = _kernel_env(env, private, limits)
        deadline = started + timeout_total if timeout_total else None
        kernel_name = kernel or nb.metadata.get("kernelspec", {}).get("name") or "python3"

        attempt = None
        for attempt_no in (1, 2):
            fresh = copy.deepcopy(nb)
            attempt = _execute(
                fresh,
                params,
                nb_name=nb_name,
                run_dir=run_dir,
                private=private,
                kernel_name=kernel_name,
                kernel_env=kernel_env,
                timeout_cell=timeout_cell,
                deadline=deadline,
                limits=limits,
                hidden=hidden,
                progress=progress,
            )
            if attempt.started or attempt.exc is None or attempt_no == 2:
                break
            if _is_no_such_kernel(attempt.exc) or (deadline and time.monotonic() >= deadline):
                break
            notes.append(f"The kernel failed to start ({_short(attempt.exc)}); retried once.")
            logger.info("kernel start failed for %s, retrying: %s", nb_name, attempt.exc)

        notes.extend(_sandbox_notes(limits, attempt.sandbox_report, attempt.started))
        status, info = _classify(attempt, limits, timeout_cell, timeout_total)
        executed = attempt.nb
        if status == "output_too_large":
            _drop_outputs(executed, info.get("cell"), limits.output_bytes)
        executed.metadata[_KIT_METADATA] = {
            "status": status,
            "error": info.get("error"),
            "cell": info.get("cell"),
        }
        from ..records import records_from_nb

        records = records_from_nb(executed)
        written = None
        if out_path is not None:
            _write_notebook_atomic(executed, out_path)
            written = str(out_path)
        notes.extend(info.pop("notes", []))
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
    if not isinstance(limits, Limits):
        raise TypeError(
            f"limits must be a mlops_kit.execution.runner.Limits, got {type(limits).__name__}"
        )
    if limits.memory_mb is not None and limits.memory_mb <= 0:
        raise ValueError(f"Limits.memory_mb must be positive, got {limits.memory_mb!r}")
    if limits.output_bytes is not None and limits.output_bytes <= 0:
        raise ValueError(f"Limits.output_bytes must be positive, got {limits.output_bytes!r}")


def _check_hide_paths(
    limits: Limits, run_dir: Path, private: Path, out_path: Path | None
) -> list[str]:
    """Resolve hide_paths and refuse one that would hide what the kernel needs."""
    hidden = []
    needed = {
        "the run's working directory": run_dir,
        "the kernel's socket folder": private,
        "the Python installation": Path(sys.prefix).resolve(),
        "the base Python installation": Path(sys.base_prefix).resolve(),
    }
    for raw in limits.hide_paths:
        path = Path(raw).expanduser().resolve()
        for what, need in needed.items():
            if need == path or path in need.parents:
                raise KitError(
                    f"Limits.hide_paths contains {path}, which holds {what} ({need}); "
                    "hiding it would stop the kernel from running.",
                    "Hide only the folders with secrets (the key, the gradebook) and run "
                    "the notebook in a working directory outside them.",
                )
        hidden.append(str(path))
    return hidden


def _is_no_such_kernel(exc: BaseException) -> bool:
    return type(exc).__name__ == "NoSuchKernel"


def _short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__


def _execute(
    nb: Any,
    params: dict[str, Any],
    *,
    nb_name: str,
    run_dir: Path,
    private: Path,
    kernel_name: str,
    kernel_env: dict[str, str],
    timeout_cell: float | None,
    deadline: float | None,
    limits: Limits,
    hidden: list[str],
    progress: bool,
) -> _Attempt:
    """Start one kernel, run every cell, shut it down; return what happened."""
    from jupyter_core.utils import run_sync
    from papermill.engines import NotebookExecutionManager
    from papermill.execute import prepare_notebook_metadata, remove_error_markers
    from papermill.parameterize import parameterize_notebook

    km_class, client_class = _classes()
    if params:
        nb = parameterize_notebook(nb, params, kernel_name=kernel_name)
    nb = prepare_notebook_metadata(nb, nb_name, None)
    nb = remove_error_markers(nb)

    # One socket folder per attempt: a half-started kernel leaves nothing to trip over.
    sockets = Path(tempfile.mkdtemp(prefix="s", dir=private))
    report = private / f"{sockets.name}-sandbox.json"
    where = {"transport": "ipc", "ip": str(sockets / "k")} if _TRANSPORT == "ipc" else {}
    km = km_class(kernel_name=kernel_name, connection_file=str(sockets / "kernel.json"), **where)
    if limits.needs_sandbox and os.name == "posix":
        # The kernel writes its sockets and scratch files in `private`, so it stays writable.
        writable = [str(run_dir), str(private)] if limits.read_only else []
        km.launcher = _launcher_argv(limits, hidden, writable, report)

    def cell_timeout(cell: Any) -> float | None:
        budget = [t for t in (timeout_cell,) if t]
        if deadline is not None:
            budget.append(max(0.5, deadline - time.monotonic()))
        return min(budget) if budget else None

    startup = 60
    if deadline is not None:
        startup = max(1, min(startup, math.ceil(deadline - time.monotonic())))

    nb_man = NotebookExecutionManager(
        nb,
        output_path=None,
        progress_bar={"disable": None, "desc": Path(nb_name).name} if progress else False,
        log_output=False,
        autosave_cell_every=0,
    )
    client = client_class(
        nb_man,
        km=km,
        output_cap=limits.output_bytes,
        sandbox_report=report if limits.needs_sandbox else None,
        timeout_func=cell_timeout,
        startup_timeout=startup,
        kernel_name=kernel_name,
        log=_QUIET,
        log_output=False,
        shutdown_kernel="immediate",
        resources={"metadata": {"path": str(run_dir)}},
    )

    watchdog_fired = threading.Event()
    watchdog = None
    if deadline is not None:

        def fire() -> None:
            watchdog_fired.set()
            _kill_kernel(km)

        # nbclient's own per-cell deadline normally ends the run first; the watchdog is
        # the backstop for hangs outside a cell (start-up, a flood of output).
        watchdog = threading.Timer(max(0.0, deadline - time.monotonic()) + 5.0, fire)
        watchdog.daemon = True
        watchdog.start()

    exc: BaseException | None = None
    nb_man.notebook_start()
    try:
        client.execute(cleanup_kc=True, env=kernel_env, cwd=str(run_dir))
    except Exception as error:  # classified by _classify, never raised to the caller
        exc = error
    finally:
        if watchdog is not None:
            watchdog.cancel()
        process = getattr(km, "kit_process", None)
        if process is not None and process.poll() is None:
            # nbclient normally shuts the kernel down; this catches a failed start.
            _kill_kernel(km)
            try:
                process.wait(timeout=5)
                run_sync(km._async_cleanup_resources)()
            except Exception:  # pragma: no cover - best effort after a failed start
                pass
        nb_man.cleanup_pbar()
        nb_man.notebook_complete()

    hit = watchdog_fired.is_set() or (deadline is not None and time.monotonic() >= deadline - 0.05)
    return _Attempt(
        nb=nb_man.nb,
        client=client,
        km=km,
        exc=exc,
        started=client.kit_kernel_ready,
        total_deadline_hit=hit,
        sandbox_report=client.kit_sandbox_report,
    )


def _launcher_argv(
    limits: Limits, hidden: list[str], writable: list[str], report: Path
) -> list[str]:
    argv = [sys.executable, "-m", "mlops_kit.execution.sandbox", "--report", str(report)]
    argv += ["--parent", str(os.getpid())]  # this process starts the kernel: die with it
    for folder in writable:
        argv += ["--writable", folder]
    if limits.memory_mb:
        argv += ["--memory-mb", str(int(limits.memory_mb))]
    if not limits.network:
        argv += ["--no-network"]
    for path in hidden:
        argv += ["--hide", path]
    return [*argv, "--"]


def _sandbox_notes(limits: Limits, report: Mapping[str, Any], started: bool) -> list[str]:
    if not limits.needs_sandbox or not started:
        return []
    if os.name != "posix":
        return [
            f"Only the output cap is enforced on {sys.platform}: the memory cap, the network "
            "cut, hidden paths and the read-only file system need Linux."
        ]
    if not report:
        return ["The sandbox launcher left no report: the limits may not have been applied."]
    return [str(note) for note in report.get("notes", [])]


def _cell_source(nb: Any, index: int | None) -> str:
    if index is None or index >= len(nb.cells):
        return ""
    lines = [line for line in nb.cells[index].source.splitlines() if line.strip()]
    return lines[0].strip()[:80] if lines else ""


def _clean_exit(ename: str | None, evalue: str | None) -> bool:
    return ename == "SystemExit" and evalue in ("", "0", "None", None)


def _early_exit(nb: Any, client: Any) -> int | None:
    """Index of a cell that ended the run with ``sys.exit(0)`` (papermill counts it as ok)."""
    if client.kit_cell_error is not None and _clean_exit(*client.kit_cell_error[1:]):
        return client.kit_cell_error[0]
    for index, cell in enumerate(nb.cells):
        for out in cell.get("outputs", []):
            if out.get("output_type") == "error" and out.get("ename") == "SystemExit":
                return index
    return None


def _failure(nb: Any, client: Any) -> tuple[int, str | None, str | None] | None:
    """The first failing cell: (index, ename, evalue), from outputs, reply or metadata."""
    for index, cell in enumerate(nb.cells):
        for out in cell.get("outputs", []):
            if out.get("output_type") == "error" and not _clean_exit(
                out.get("ename"), out.get("evalue")
            ):
                return index, out.get("ename"), out.get("evalue")
    if client.kit_cell_error is not None:
        return None if _clean_exit(*client.kit_cell_error[1:]) else client.kit_cell_error
    for index, cell in enumerate(nb.cells):
        if cell.metadata.get("papermill", {}).get("exception") is True:
            return index, "CellExecutionError", "the cell failed without an error message"
    return None


def _classify(
    attempt: _Attempt, limits: Limits, timeout_cell: float | None, timeout_total: float | None
) -> tuple[str, dict[str, Any]]:
    """Map what happened to a status, a paragraph, the cell and the exception."""
    nb, client, exc = attempt.nb, attempt.client, attempt.exc
    current = client.kit_current_cell
    where = f"cell {current} (`{_cell_source(nb, current)}`)" if current is not None else "start-up"

    if client.kit_output_exceeded_cell is not None:
        index = client.kit_output_exceeded_cell
        return "output_too_large", {
            "cell": index,
            "error": (
                f"Cell {index} (`{_cell_source(nb, index)}`) pushed the notebook's output past "
                f"the cap of {limits.output_bytes:,} bytes, so the run was stopped and that "
                "cell's output was left out of the saved notebook. Fix: print summaries "
                "(df.head(), shapes, a few numbers) instead of whole tables or loops of prints."
            ),
        }

    name = type(exc).__name__ if exc is not None else None
    if exc is None or name == "CellExecutionError":
        failure = _failure(nb, client)
        if failure is not None:
            return _cell_error(nb, *failure, limits)
        if exc is None:
            stopped = _early_exit(nb, client)
            if stopped is None:
                return "ok", {}
            return "ok", {
                "notes": [
                    f"The notebook stopped itself with sys.exit(0) in cell {stopped}; "
                    "the cells after it did not run."
                ]
            }
    if name == "CellTimeoutError" or (attempt.total_deadline_hit and attempt.started):
        if attempt.total_deadline_hit:
            what = f"the whole run took more than its {timeout_total:g} s budget"
            fix = "give the run a larger timeout_total or make the notebook faster"
        else:
            what = f"it ran longer than the per-cell limit of {timeout_cell:g} s"
            fix = "look for an endless loop or a slow step, or raise timeout_cell"
        return "timeout", {
            "cell": current,
            "error": f"The notebook was stopped in {where}: {what}. Fix: {fix}.",
        }
    if not attempt.started:
        if attempt.total_deadline_hit:
            return "timeout", {
                "error": (
                    f"The kernel did not start within the run's {timeout_total:g} s budget. "
                    "Fix: raise timeout_total, or check the machine is not overloaded."
                )
            }
        hint = (
            f"install the kernel or pass kernel= (no kernel named {attempt.km.kernel_name!r})"
            if _is_no_such_kernel(exc)
            else "check that ipykernel is installed in this environment "
            "(`python -m ipykernel_launcher --help`) and that the machine has free memory"
        )
        return "kernel_died", {
            "error": f"The kernel failed to start twice ({_short(exc)}). Fix: {hint}.",
        }

    # The kernel died mid-run: a crash, os._exit, or the memory cap.
    process = getattr(attempt.km, "kit_process", None)
    code = process.poll() if process is not None else None
    if limits.memory_mb and code is not None and code < 0 and -code in _SIGNALS_UNDER_MEMORY_CAP:
        return "out_of_memory", {
            "cell": current,
            "error": (
                f"The kernel was killed by {_signal_name(-code)} in {where} while "
                f"capped at {limits.memory_mb} MiB of memory. Fix: use less memory (read "
                "fewer columns or rows, free big objects) or ask for a larger memory cap."
            ),
        }
    how = (
        f"exit code {code}"
        if code is not None and code >= 0
        else (f"signal {_signal_name(-code)}" if code is not None else _short(exc))
    )
    return "kernel_died", {
        "cell": current,
        "error": (
            f"The kernel died in {where} ({how}). A notebook that calls os._exit or "
            "sys.exit with an error code, crashes a C extension, or is killed by the "
            "system for using too much memory ends like this. Fix: open the output "
            "notebook to see the last output, then run that cell alone in Jupyter."
        ),
    }


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


def _cell_error(
    nb: Any, index: int, ename: str | None, evalue: str | None, limits: Limits
) -> tuple[str, dict[str, Any]]:
    source = _cell_source(nb, index)
    if ename == "MemoryError":
        cap = f" (capped at {limits.memory_mb} MiB)" if limits.memory_mb else ""
        return "out_of_memory", {
            "cell": index,
            "ename": ename,
            "evalue": evalue,
            "error": (
                f"Cell {index} (`{source}`) ran out of memory{cap}: MemoryError. Fix: use "
                "less memory (read fewer columns or rows, avoid copies of big frames)."
            ),
        }
    return "cell_error", {
        "cell": index,
        "ename": ename,
        "evalue": evalue,
        "error": (
            f"Cell {index} (`{source}`) raised {ename}: {evalue}. Fix: open the executed "
            "notebook at that cell to read the traceback, correct the code or the "
            "parameters, and run it again."
        ),
    }


def _drop_outputs(nb: Any, index: int | None, cap: int | None) -> None:
    """Replace the outputs of the cell that crossed the output cap with a short note."""
    import nbformat

    if index is None or index >= len(nb.cells):
        return
    nb.cells[index].outputs = [
        nbformat.v4.new_output(
            "stream",
            name="stderr",
            text=f"[mlops-kit] output removed: the run crossed the output cap of {cap:,} bytes\n",
        )
    ]


def _write_notebook_atomic(nb: Any, path: Path) -> None:
    """Write the executed notebook to a temporary file beside ``path``, then rename it."""
    import nbformat

    from ..fileio import atomic_path

    with atomic_path(path) as tmp, open(tmp, "w", encoding="utf-8") as handle:
        nbformat.write(nb, handle, version=4)


def __getattr__(name: str) -> Any:
    """Re-export the batch API lazily: ``from mlops_kit.execution.runner import run_batch, Job``."""
    if name in {"run_batch", "Job", "load_grid", "expand_grid", "ResultStore"}:
        from . import batch

        return getattr(batch, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
