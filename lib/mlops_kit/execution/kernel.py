"""The kernel: started with private sockets, its environment, one execution of a notebook.

The runner (:mod:`mlops_kit.execution.runner`) calls :func:`execute_once` for each attempt
at running a notebook; this module holds what happens between "start a kernel" and "the
kernel is gone":

- :func:`kernel_classes` builds (once) a kernel manager that may put the sandbox launcher in
  front of the kernel's command line, and a papermill notebook client that tracks the
  current cell, counts output bytes against a cap, and remembers the failing cell's reply;
- each kernel talks over Unix sockets in a private folder (:func:`private_dir`), so kernels
  started at the same moment never race for TCP ports (papermill issue 511);
- :func:`kernel_env` gives the kernel the caller's cache and data folders and matplotlib's
  inline backend, and keeps IPython's files out of the home folder;
- a watchdog kills the kernel's process group when the run's deadline passes
  (:func:`kill_kernel`), the backstop for hangs outside a cell.

What happened is returned as an :class:`Attempt`, which :mod:`~mlops_kit.execution.outcome`
turns into a status and a paragraph.
"""

from __future__ import annotations

import json
import logging
import math
import os
import shutil
import signal
import tempfile
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .limits import Limits, launcher_argv

# Unix sockets in a private folder: no TCP port to race for. Windows keeps TCP.
TRANSPORT = "ipc" if os.name == "posix" else "tcp"

# nbclient logs every timeout and dead kernel at ERROR level; the runner reports them in
# the RunResult instead, so its messages go to a logger nobody listens to.
_QUIET = logging.Logger("mlops_kit.execution.kernel.nbclient", level=logging.CRITICAL)


_CLASSES: dict[str, type] = {}
_CLASSES_LOCK = threading.Lock()


def kernel_classes() -> tuple[type, type]:
    """Build (once) the kernel manager and notebook client classes; imports are heavy."""
    with _CLASSES_LOCK:
        if not _CLASSES:
            _CLASSES.update(_build_classes())
    return _CLASSES["km"], _CLASSES["client"]


def _build_classes() -> dict[str, type]:
    from jupyter_client.manager import AsyncKernelManager
    from papermill.clientwrap import PapermillNotebookClient
    from traitlets import Int, List, Unicode

    class KitKernelManager(AsyncKernelManager):
        """A kernel manager that may prefix the kernel's argv with the sandbox launcher."""

        launcher = List(Unicode(), default_value=[])
        max_message = Int(0)  # bytes; 0: no cap

        def client(self, **kwargs):
            kc = super().client(**kwargs)
            if self.max_message:
                # A notebook cannot make the runner allocate a gigabyte with one display:
                # ZeroMQ drops a larger message before anyone holds it in memory.
                import zmq

                kc.context.setsockopt(zmq.MAXMSGSIZE, self.max_message)
            return kc

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
                self.kit_output_bytes += message_size(msg)
                if self.kit_output_bytes > self.kit_output_cap:
                    self.kit_output_exceeded_cell = cell_index
                    kill_kernel(self.km)
                    return None
            return super().process_message(msg, cell, cell_index)

    return {"km": KitKernelManager, "client": KitNotebookClient}


def message_size(msg: Mapping) -> int:
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


def kill_kernel(km: Any) -> None:
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


def private_dir() -> Path:
    """A short private folder for the kernel's sockets (Unix socket paths max ~100 chars)."""
    base = tempfile.gettempdir()
    if len(base) > 60 and os.path.isdir("/tmp"):
        base = "/tmp"
    return Path(tempfile.mkdtemp(prefix="mlops-kit-k-", dir=base))


_CAPPED_THREADS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")


def matplotlib_scratch(folder: Path) -> str:
    """A writable matplotlib folder seeded with the user's font cache.

    Under ``read_only`` the usual folder cannot be written, and matplotlib would then
    rebuild its font list on every run; copying the small cache avoids that.
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


#: what an isolated kernel keeps of the caller's environment (names, or prefixes ending
#: in ``_``/``*``): the locale, the search path, thread caps, the kit's own settings. The
#: rest (tokens, keys, agent sockets, the caller's HOME and TMPDIR) never reaches it.
ENV_KEPT = (
    "PATH", "LANG", "LANGUAGE", "LC_*", "TZ", "TERM", "NO_COLOR",
    "PYTHONHASHSEED", "PYTHONDONTWRITEBYTECODE", "PYTHONIOENCODING", "PYTHONUTF8",
    "PYDEVD_DISABLE_FILE_VALIDATION", "JUPYTER_PREFER_ENV_PATH", "MPLBACKEND",
    "MLOPS_KIT_*", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
    "MALLOC_ARENA_MAX",
)  # fmt: skip


def _kept(name: str) -> bool:
    return any(
        name.startswith(pattern[:-1]) if pattern.endswith("*") else name == pattern
        for pattern in ENV_KEPT
    )


def kernel_env(
    env: Mapping[str, str] | None, private: Path, limits: Limits | None = None
) -> dict[str, str]:
    """Return the kernel's environment: the caller's, the kit's folders, ``env`` on top.

    The kernel gets ``MLOPS_KIT_CACHE_DIR`` (the caller's cache, so runs in other folders
    share downloads), ``MLOPS_KIT_DATA_DIR`` when set, matplotlib's inline backend and an
    IPython folder beside its sockets; under a memory cap, fewer threads and malloc arenas.
    An isolated kernel (see :class:`~mlops_kit.execution.limits.Limits`) gets only the
    :data:`ENV_KEPT` part of the caller's environment; the sandbox sets its HOME and TMPDIR.
    """
    from ..config import cache_dir, data_dir

    isolated = limits is not None and limits.needs_isolation
    environ = {k: v for k, v in os.environ.items() if not isolated or _kept(k)}
    environ["MLOPS_KIT_CACHE_DIR"] = str(Path(cache_dir()).expanduser().resolve())
    data = data_dir()
    if data is not None:
        environ["MLOPS_KIT_DATA_DIR"] = str(data.resolve())
    # Figures must land in the notebook as outputs: the inline backend, whatever the caller
    # uses (make and the tests export MPLBACKEND=Agg for their own processes).
    environ["MPLBACKEND"] = INLINE_BACKEND
    environ["PYDEVD_DISABLE_FILE_VALIDATION"] = "1"
    # IPython's profile folder: beside the sockets, or in the sandbox's private /tmp.
    environ["IPYTHONDIR"] = "/tmp/ipython" if isolated else str(private / "ipython")
    if limits is not None and limits.read_only and not isolated:
        scratch = private / "tmp"
        scratch.mkdir(exist_ok=True)
        environ["TMPDIR"] = str(scratch)
        environ["MPLCONFIGDIR"] = matplotlib_scratch(scratch / "matplotlib")
    if limits is not None and limits.memory_mb:
        # The cap counts address space: every BLAS thread and malloc arena reserves some.
        environ.setdefault("MALLOC_ARENA_MAX", "2")
        for name in _CAPPED_THREADS:
            environ.setdefault(name, "1")
    environ.update({str(k): str(v) for k, v in (env or {}).items()})
    return environ


def _shown_folders(environ: Mapping[str, str], run_dir: Path) -> list[str]:
    """The kit's data and cache folders an isolated kernel may read (existing, outside its own)."""
    shown = []
    for name in ("MLOPS_KIT_DATA_DIR", "MLOPS_KIT_CACHE_DIR"):
        value = environ.get(name)
        if not value:
            continue
        path = Path(value).expanduser().resolve()
        if path.is_dir() and run_dir != path and run_dir not in path.parents:
            shown.append(str(path))
    return shown


def _read_report(path: Path | None) -> dict[str, Any]:
    if path is None:
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


@dataclass
class Attempt:
    """What one kernel start + execution produced, before classification."""

    nb: Any
    client: Any
    km: Any
    exc: BaseException | None
    started: bool
    total_deadline_hit: bool
    sandbox_report: dict[str, Any]
    sandbox_end: dict[str, Any] = None  # the launcher's report after the kernel ended


def execute_once(
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
) -> Attempt:
    """Start one kernel, run every cell, shut it down; return what happened."""
    from jupyter_core.utils import run_sync
    from papermill.engines import NotebookExecutionManager
    from papermill.execute import prepare_notebook_metadata, remove_error_markers
    from papermill.parameterize import parameterize_notebook

    km_class, client_class = kernel_classes()
    if params:
        nb = parameterize_notebook(nb, params, kernel_name=kernel_name)
    nb = prepare_notebook_metadata(nb, nb_name, None)
    nb = remove_error_markers(nb)

    # One socket folder per attempt: a half-started kernel leaves nothing to trip over.
    sockets = Path(tempfile.mkdtemp(prefix="s", dir=private))
    report = private / f"{sockets.name}-sandbox.json"
    where = {"transport": "ipc", "ip": str(sockets / "k")} if TRANSPORT == "ipc" else {}
    km = km_class(kernel_name=kernel_name, connection_file=str(sockets / "kernel.json"), **where)
    if limits.output_bytes:
        # one message past this is refused by ZeroMQ before the runner holds it in memory
        km.max_message = max(4 * int(limits.output_bytes), 1 << 24)
    if limits.needs_sandbox and os.name == "posix":
        km.launcher = launcher_argv(
            limits,
            hidden=hidden,
            work=run_dir,
            sockets=sockets,
            read_paths=_shown_folders(kernel_env, run_dir),
            report=report,
        )
        if limits.needs_isolation and "MPLCONFIGDIR" not in kernel_env:
            # a writable matplotlib folder the kernel can see, seeded with the font cache
            kernel_env = {**kernel_env, "MPLCONFIGDIR": matplotlib_scratch(sockets / "mpl")}

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
            kill_kernel(km)

        # nbclient's own per-cell deadline normally ends the run first; the watchdog is
        # the backstop for hangs outside a cell (start-up, a flood of output).
        watchdog = threading.Timer(max(0.0, deadline - time.monotonic()) + 5.0, fire)
        watchdog.daemon = True
        watchdog.start()

    exc: BaseException | None = None
    nb_man.notebook_start()
    try:
        client.execute(cleanup_kc=True, env=kernel_env, cwd=str(run_dir))
    except Exception as error:  # classified by outcome.classify, never raised
        exc = error
    finally:
        if watchdog is not None:
            watchdog.cancel()
        process = getattr(km, "kit_process", None)
        if process is not None and process.poll() is None:
            # nbclient normally shuts the kernel down; this catches a failed start.
            kill_kernel(km)
            try:
                process.wait(timeout=5)
                run_sync(km._async_cleanup_resources)()
            except Exception:  # pragma: no cover - best effort after a failed start
                pass
        nb_man.cleanup_pbar()
        nb_man.notebook_complete()

    hit = watchdog_fired.is_set() or (deadline is not None and time.monotonic() >= deadline - 0.05)
    return Attempt(
        nb=nb_man.nb,
        client=client,
        km=km,
        exc=exc,
        started=client.kit_kernel_ready,
        total_deadline_hit=hit,
        sandbox_report=client.kit_sandbox_report,
        sandbox_end=_read_report(report if limits.needs_sandbox else None),
    )
