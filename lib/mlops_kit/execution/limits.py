"""The limits an untrusted notebook runs under, and how the runner hands them to the sandbox.

:class:`Limits` is what a grader asks for (a memory cap, an output cap, no network, hidden
folders, a read-only file system). The runner checks them before a kernel starts
(:func:`check_limits`, :func:`check_hide_paths`), puts the launcher of
:mod:`mlops_kit.execution.sandbox` in front of the kernel's command line
(:func:`launcher_argv`), and turns the launcher's report into notes on the result
(:func:`sandbox_notes`): a limit this machine could not enforce is said, never hidden.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import KitError


@dataclass(frozen=True)
class Limits:
    """Limits applied to the kernel process when executing a notebook you do not trust.

    A kernel that must not see or reach what it should not (the network cut, hidden paths,
    a read-only file system, or ``isolate=True``) runs in the bubblewrap sandbox of
    :mod:`mlops_kit.execution.sandbox`: an allow-list of read-only folders, only its working
    folder writable, its own namespaces, and a fresh unprivileged uid when the caller is
    root. Where this machine cannot isolate it, :func:`mlops_kit.execution.runner.run_notebook`
    refuses to start it (:class:`~mlops_kit.execution.sandbox.SandboxUnavailableError`)
    rather than run it exposed; ``isolate=False`` runs it with the limits only.

    Attributes:
        memory_mb: memory cap of the kernel in MiB: its address space (``RLIMIT_AS``) and
            the resident memory of all its processes together. A notebook that hits it gets
            ``MemoryError`` or is killed: status ``out_of_memory``. Leave room for the
            imports: pandas and scikit-learn reserve much address space.
        output_bytes: cap on the size of everything the notebook outputs (text, images,
            tracebacks), counted while it runs. Crossing it stops the run with
            ``output_too_large`` and the huge output is not saved.
        network: False cuts the kernel off every network, the host's loopback included.
        hide_paths: folders (or files) the kernel must not read, such as a homework key
            or a gradebook. Outside the allow-list nothing is visible anyway; these are
            covered even inside an allowed folder (the data folder, say).
        read_only: True makes everything but the kernel's working directory read-only
            (always so in the sandbox; kept for callers that ask for it by name).
        isolate: True runs the kernel in the sandbox, False never; None (default) decides
            from the fields above.
        read_paths: more folders the kernel may read (the data folder given as
            ``MLOPS_KIT_DATA_DIR`` and the kit's cache are added by the runner).
        pids: processes and threads the kernel may have at once (``RLIMIT_NPROC``,
            counted inside its own user namespace).
        open_files: open files per process (``RLIMIT_NOFILE``).
        file_size_mb: the largest file the kernel may write (``RLIMIT_FSIZE``).
        cpu_seconds: CPU time per process (``RLIMIT_CPU``), a backstop to the timeouts.
    """

    memory_mb: int | None = None
    output_bytes: int | None = None
    network: bool = True
    hide_paths: tuple[str | os.PathLike, ...] = ()
    read_only: bool = False
    isolate: bool | None = None
    read_paths: tuple[str | os.PathLike, ...] = ()
    pids: int | None = None
    open_files: int | None = None
    file_size_mb: int | None = None
    cpu_seconds: int | None = None

    @property
    def needs_isolation(self) -> bool:
        """True when the kernel runs in the sandbox."""
        if self.isolate is not None:
            return self.isolate
        return not self.network or bool(self.hide_paths) or self.read_only

    @property
    def needs_sandbox(self) -> bool:
        """True when the kernel process itself must be started through the launcher."""
        caps = (self.memory_mb, self.pids, self.open_files, self.file_size_mb, self.cpu_seconds)
        return self.needs_isolation or any(caps)


def check_limits(limits: Any) -> None:
    """Refuse a ``limits`` argument that is not a sensible :class:`Limits` (programming errors).

    Raises:
        TypeError: not a :class:`Limits`.
        ValueError: a cap that is not positive.
    """
    if not isinstance(limits, Limits):
        raise TypeError(
            f"limits must be a mlops_kit.execution.runner.Limits, got {type(limits).__name__}"
        )
    if limits.memory_mb is not None and limits.memory_mb <= 0:
        raise ValueError(f"Limits.memory_mb must be positive, got {limits.memory_mb!r}")
    for name in ("output_bytes", "pids", "open_files", "file_size_mb", "cpu_seconds"):
        value = getattr(limits, name)
        if value is not None and (isinstance(value, bool) or value <= 0):
            raise ValueError(f"Limits.{name} must be positive, got {value!r}")
    if limits.isolate is False and (not limits.network or limits.hide_paths or limits.read_only):
        raise ValueError(
            "Limits(isolate=False) cannot also cut the network, hide paths or make the file "
            "system read-only: those need the sandbox."
        )


def check_hide_paths(limits: Limits, run_dir: Path, private: Path) -> list[str]:
    """Resolve ``hide_paths`` and refuse one that would hide what the kernel needs."""
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


def launcher_argv(
    limits: Limits,
    *,
    hidden: list[str],
    work: Path,
    sockets: Path,
    read_paths: list[str],
    report: Path,
) -> list[str]:
    """The sandbox launcher's command line, to be put in front of the kernel's.

    Args:
        limits: what to apply.
        hidden: resolved paths to cover.
        work: the kernel's working folder (writable).
        sockets: the folder of its connection file and Unix sockets (writable).
        read_paths: folders to show read-only (data, cache), besides ``limits.read_paths``.
        report: where the launcher writes what it applied and how the kernel ended.
    """
    argv = [sys.executable, "-m", "mlops_kit.execution.sandbox", "--report", str(report)]
    argv += ["--parent", str(os.getpid())]  # this process starts the kernel: die with it
    if not limits.needs_isolation:
        argv += ["--isolation", "none"]
    else:
        argv += ["--work", str(work), "--rw", str(sockets)]
        for folder in [*read_paths, *map(str, limits.read_paths)]:
            argv += ["--ro", folder]
        for path in hidden:
            argv += ["--hide", path]
        if limits.network:
            argv.append("--network")
    for name in ("memory_mb", "pids", "open_files", "file_size_mb", "cpu_seconds"):
        value = getattr(limits, name)
        if value:
            flag = "--files" if name == "open_files" else "--" + name.replace("_", "-")
            argv += [flag, str(int(value))]
    return [*argv, "--"]


def sandbox_notes(limits: Limits, report: Mapping[str, Any], started: bool) -> list[str]:
    """What the sandbox said about this kernel (a limit not applied, no isolation), as notes."""
    if not limits.needs_sandbox or not started:
        return []
    if os.name != "posix":
        return [f"Only the output cap is enforced on {sys.platform}: the other limits need Linux."]
    if not report:
        return ["The sandbox launcher left no report: the limits may not have been applied."]
    return [str(note) for note in report.get("notes", [])]
