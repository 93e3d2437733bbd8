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

    Each limit degrades honestly: when the operating system does not allow it (no Linux
    namespaces, for instance), the run still happens and :attr:`RunResult.notes` says
    what could not be enforced, so a grader can report it.

    Attributes:
        memory_mb: address-space cap of the kernel in MiB (``RLIMIT_AS``). A notebook that
            hits it gets ``MemoryError`` or is killed: status ``out_of_memory``. Leave
            room for the imports: pandas and scikit-learn reserve much address space.
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
    if limits.output_bytes is not None and limits.output_bytes <= 0:
        raise ValueError(f"Limits.output_bytes must be positive, got {limits.output_bytes!r}")


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
    limits: Limits, hidden: list[str], writable: list[str], report: Path
) -> list[str]:
    """The sandbox launcher's command line, to be put in front of the kernel's."""
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


def sandbox_notes(limits: Limits, report: Mapping[str, Any], started: bool) -> list[str]:
    """What the sandbox could not enforce on this machine, as notes for the result."""
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
