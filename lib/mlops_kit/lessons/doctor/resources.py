"""The ``disk``, ``memory`` and ``cpus`` checks: is the machine big enough for the course?

The thresholds follow the course's own VM (a 30 GB disk, a 4-CPU, 16 GB instance) and the
homework's month of trips read with the course's code (see ``benchmarks/README.md`` for the
figures). Too little is a WARN, except a disk so full that nothing fits, which is a FAIL.
Each check takes the measuring function as a keyword, so tests fake the machine.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ... import config
from .verdict import FAIL, OK, WARN, Check

#: the course sizes its VM with a 30 GB disk
MIN_DISK_GB = 30.0
#: below this there is no room for an environment and a month of trips
CRITICAL_DISK_GB = 1.0
#: the homework month (3 M rows) read with the course's code, plus Jupyter
MIN_MEMORY_GB = 6.0
MIN_CPUS = 2


def _existing_parent(path: Path) -> Path:
    path = path.expanduser().absolute()
    for folder in (path, *path.parents):
        if folder.exists():
            return folder
    return Path(path.anchor or "/")


def check_disk(
    *,
    path: str | Path | None = None,
    disk_usage: Callable[[str], Any] = shutil.disk_usage,
    min_gb: float = MIN_DISK_GB,
) -> Check:
    """Free disk where the kit keeps its data (the course sizes its VM at 30 GB)."""
    if path is None:
        path = config.cache_dir()
    where = _existing_parent(Path(path))
    free_gb = disk_usage(str(where)).free / 1024**3
    data = {"path": str(where), "free_gb": round(free_gb, 1)}
    if free_gb < CRITICAL_DISK_GB:
        status = FAIL
    elif free_gb < min_gb:
        status = WARN
    else:
        return Check("disk", OK, f"{free_gb:.1f} GB free at {where}", data=data)
    return Check(
        "disk",
        status,
        f"only {free_gb:.1f} GB free at {where}; the course asks for {min_gb:g} GB.",
        f"Free some space, or give the machine (a cloud VM's volume) at least {min_gb:g} GB.",
        data,
    )


def total_memory_bytes() -> int | None:
    """Return the memory this process may use (a container's limit when lower), or None."""
    total = None
    try:
        import psutil

        total = int(psutil.virtual_memory().total)
    except Exception:
        try:
            pages, size = os.sysconf("SC_PHYS_PAGES"), os.sysconf("SC_PAGE_SIZE")
            total = int(pages) * int(size)
        except (ValueError, OSError, AttributeError):
            total = None
    for limit_file in ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"):
        try:
            text = Path(limit_file).read_text().strip()
        except OSError:
            continue
        if text.isdigit() and (total is None or int(text) < total):
            total = int(text)
    return total


def check_memory(
    *,
    total_bytes: Callable[[], int | None] = total_memory_bytes,
    min_gb: float = MIN_MEMORY_GB,
) -> Check:
    """Total memory: enough for the homework's month read with the course's code, and Jupyter."""
    total = total_bytes()
    if total is None:
        return Check(
            "memory",
            WARN,
            "could not measure the memory of this machine.",
            f"Make sure it has at least {min_gb:g} GB (the homework month needs about 4.2 GB).",
        )
    gb = total / 1024**3
    data = {"total_gb": round(gb, 1)}
    if gb >= min_gb:
        return Check("memory", OK, f"{gb:.1f} GB of memory", data=data)
    return Check(
        "memory",
        WARN,
        f"{gb:.1f} GB of memory, below the {min_gb:g} GB the course's homework month needs.",
        "Use a bigger machine (the course's VM has 16 GB) or sample rows (`rows=` in read_trips).",
        data,
    )


def available_cpus() -> int | None:
    """Return the CPUs this process may run on, or None when unknown."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count()


def check_cpus(
    *, cpus: Callable[[], int | None] = available_cpus, minimum: int = MIN_CPUS
) -> Check:
    """CPUs: one works, but Jupyter, Docker and a training run compete for it."""
    count = cpus()
    if count is None:
        return Check("cpus", WARN, "could not count the CPUs.", f"Use at least {minimum} CPUs.")
    data = {"cpus": count}
    if count >= minimum:
        return Check("cpus", OK, f"{count} CPUs", data=data)
    return Check(
        "cpus",
        WARN,
        f"{count} CPU, below the {minimum} the course's setup expects.",
        f"Use a machine (or VM / codespace type) with at least {minimum} CPUs.",
        data,
    )
