"""One output folder serves one run at a time: a lock held while a run writes there.

Two batches writing into one folder would mix their results (the store, the executed
notebooks, the report); two graders would grade into one gradebook. :func:`hold_folder`
takes an exclusive ``flock`` on ``FOLDER/.mlops-kit.lock`` for as long as the run lasts and
writes there who holds it (pid, command, start time), so a second run is refused with a
paragraph naming the holder. The operating system drops a ``flock`` when its process ends,
however it ends (Ctrl-C, SIGKILL, a crash): a lock can never be left stale, and a run
started after a killed one simply takes the folder.

Within one process the lock is re-entrant: :func:`~mlops_kit.execution.batch.grid.run_grid`
holds its output folder and the :func:`~mlops_kit.execution.batch.pool.run_batch` it calls
takes the same folder again without waiting for itself. Where ``fcntl`` does not exist
(Windows), folders are not locked.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

from .jobs import BatchError

try:  # pragma: no cover - the import is the platform test
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

#: the lock file's name inside a locked folder
LOCK_NAME = ".mlops-kit.lock"

_HELD: dict[str, list[int]] = {}  # folder -> [file descriptor, depth]
_GUARD = threading.Lock()


def _holder(fd: int) -> str:
    """Who holds the lock, as the holder wrote it in the file."""
    try:
        os.lseek(fd, 0, os.SEEK_SET)
        data = json.loads(os.read(fd, 4096).decode("utf-8") or "{}")
        started = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(float(data["started"])))
        return f"pid {int(data['pid'])}, `{data['command']}`, since {started}"
    except (OSError, ValueError, KeyError, TypeError):
        return "a process that has not written its name yet"


def _acquire(folder: Path, purpose: str) -> int:
    folder.mkdir(parents=True, exist_ok=True)
    fd = os.open(folder / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = _holder(fd)
        os.close(fd)
        raise BatchError(
            f"The folder {folder} is in use by another run of the kit ({holder}). One "
            f"output folder serves one run at a time, so this {purpose} was not started: "
            "two runs writing there would mix their results.",
            "Wait for the other run to finish (or stop it), or give this one another "
            "folder (--output DIR for mlops-kit batch, --out DIR for mlops-kit run and "
            "homework grade).",
        ) from None
    except BaseException:
        os.close(fd)
        raise
    command = " ".join([Path(sys.argv[0]).name, *sys.argv[1:]]) if sys.argv else purpose
    record = {"pid": os.getpid(), "command": command or purpose, "started": time.time()}
    os.ftruncate(fd, 0)
    os.pwrite(fd, json.dumps(record).encode("utf-8"), 0)
    return fd


@contextlib.contextmanager
def hold_folder(folder: str | os.PathLike, *, purpose: str = "run") -> Iterator[Path]:
    """Hold ``folder`` (created if missing) for this run; refuse when another process holds it.

    Args:
        folder: the output folder.
        purpose: what is starting (``batch``, ``run``...), named in the refusal.

    Raises:
        BatchError: another process holds the folder; the message names it and the fix.
    """
    path = Path(folder).expanduser().resolve()
    if fcntl is None:  # pragma: no cover - Windows
        path.mkdir(parents=True, exist_ok=True)
        yield path
        return
    key = str(path)
    with _GUARD:
        if key in _HELD:
            _HELD[key][1] += 1
        else:
            _HELD[key] = [_acquire(path, purpose), 1]
    try:
        yield path
    finally:
        with _GUARD:
            entry = _HELD[key]
            entry[1] -= 1
            if entry[1] == 0:
                del _HELD[key]
                os.close(entry[0])  # closing the last descriptor drops the flock
