"""Write files so that a crash never leaves half of one behind.

Every file the kit produces (data, models, notebooks, reports, keys, configs) is written to a
temporary file in the same folder and renamed over the target only when complete:
``os.replace`` is atomic on one file system, so readers see the old file or the new one,
never a mix. ``tempfile.mkstemp`` creates owner-only files; finished files get the usual
permissions (``0666`` less the umask) unless a mode is asked for (``0600`` for SSH config).
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def current_umask() -> int:
    """Return the process umask without changing it (``os.umask`` would, racing threads)."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    return 0o022


def publish_mode(path: str | os.PathLike, mode: int | None = None) -> None:
    """Give a finished temp file ``mode``, or the usual permissions when None."""
    os.chmod(path, (0o666 & ~current_umask()) if mode is None else mode)


@contextmanager
def atomic_path(
    path: str | os.PathLike, *, mode: int | None = None, suffix: str = ".tmp"
) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it over ``path`` when the block succeeds.

    The block writes the temporary file however it likes (``pq.write_table``,
    ``fig.savefig``, ``open``). On an exception the temporary file is removed and the target
    is left as it was.

    Example:
        >>> with atomic_path("build/report.html") as tmp:  # doctest: +SKIP
        ...     tmp.write_text(html)
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=suffix, dir=target.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        publish_mode(tmp, mode)
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


def atomic_write(
    path: str | os.PathLike,
    data: bytes | str,
    *,
    mode: int | None = None,
    fsync: bool = False,
    encoding: str = "utf-8",
) -> Path:
    """Write ``data`` (bytes, or text in ``encoding``) to ``path`` atomically; return the path."""
    payload = data.encode(encoding) if isinstance(data, str) else data
    with atomic_path(path, mode=mode) as tmp:
        with open(tmp, "wb") as handle:
            handle.write(payload)
            if fsync:
                handle.flush()
                os.fsync(handle.fileno())
    return Path(path)


def file_sha256(path: str | os.PathLike, chunk_size: int = 1 << 20) -> str:
    """Return the hex sha256 of a file's bytes, read in chunks (a big parquet never sits whole).

    The kit's one way to name a file's content: data provenance (compare with a published
    checksum), batch fingerprints, model sidecars and gradebook rows all call it.
    """
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(chunk_size), b""):
            digest.update(block)
    return digest.hexdigest()
