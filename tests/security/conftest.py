"""Fixtures of the security tier: a grader of its own per test, and ways to watch it.

Every attack here is aimed at the test's own grader only: the grader runs as a subprocess
whose TMPDIR, HOME, XDG_RUNTIME_DIR and Jupyter runtime folder are inside the test's
scratch folder, so the sockets, kernels and files an attack looks for are that grader's.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.homework.conftest import practice_key, practice_key_path  # noqa: F401 - fixtures

PY = sys.executable
#: an environment variable of the grader that no kernel may see
SECRET_ENV = "GRADER_API_TOKEN"


@pytest.fixture(scope="session")
def isolation():
    """Skip where this machine cannot sandbox kernels (the refusal is tested elsewhere)."""
    from mlops_kit.execution.sandbox import isolation_available

    info = isolation_available()
    if not info["available"]:
        pytest.skip(f"no sandbox on this machine: {info['problem']}")
    return info


def grader_env(scratch: Path, no_bwrap: bool = False) -> dict[str, str]:
    """The grader's environment: every runtime folder inside ``scratch``.

    ``no_bwrap`` gives it a PATH without bubblewrap: a machine that cannot sandbox. A
    ``tmp`` link in ``scratch`` (see :func:`short_tmp`) is followed, so TMPDIR can be short.
    """
    env = dict(os.environ)
    if no_bwrap:
        env["PATH"] = str(Path(PY).parent)
    for name, sub in (("TMPDIR", "tmp"), ("HOME", "home"), ("XDG_RUNTIME_DIR", "run")):
        (scratch / sub).mkdir(parents=True, exist_ok=True)
        env[name] = str((scratch / sub).resolve())
    env["JUPYTER_RUNTIME_DIR"] = str(scratch / "run" / "jupyter")
    env[SECRET_ENV] = "s3cr3t-token"
    env["PYTHONUNBUFFERED"] = "1"
    return env


def grade_command(subs: Path, key: Path, out: Path, *extra: str) -> list[str]:
    return [
        PY, "-m", "mlops_kit", "homework", "grade", str(subs), "--cohort", "practice",
        "--key", str(key), "--out", str(out), "--json", "--workers", "2",
        "--timeout-cell", "60", "--timeout-total", "240", "--memory-mb", "2500",
        "--allow-synthetic-key", *extra,
    ]  # fmt: skip


def run_grader(
    scratch: Path, subs: Path, key: Path, out: Path, *extra: str, prefix=(), no_bwrap=False
):
    """Grade in a subprocess; return (completed process, its JSON summary or None)."""
    done = subprocess.run(
        [*prefix, *grade_command(subs, key, out, *extra)],
        env=grader_env(scratch, no_bwrap),
        capture_output=True,
        text=True,
        timeout=900,
        cwd=scratch,
    )
    try:
        summary = json.loads(done.stdout)
    except ValueError:
        summary = None
    return done, summary


def short_tmp(scratch: Path) -> Path:
    """Make ``scratch/tmp`` a link to a short folder of its own under /tmp; return it.

    The runner keeps kernels' sockets under TMPDIR only when its path is short (Unix socket
    paths are limited), else under /tmp: a short TMPDIR keeps them among the test's files.
    """
    import tempfile

    folder = Path(tempfile.mkdtemp(prefix="mk-", dir="/tmp"))
    (scratch / "tmp").symlink_to(folder)
    return folder


def tree(root: Path, skip: tuple[str, ...] = ()) -> dict[str, str]:
    """sha256 (or link target) of everything under ``root``: proof that nothing changed."""
    found = {}
    for path in sorted(root.rglob("*")):
        rel = str(path.relative_to(root))
        if any(rel.startswith(s) for s in skip):
            continue
        if path.is_symlink():
            found[rel] = "-> " + os.readlink(path)
        elif path.is_file():
            found[rel] = hashlib.sha256(path.read_bytes()).hexdigest()
        elif path.is_dir():
            found[rel] = "dir"
        else:
            found[rel] = "special"
    return found


def processes_naming(marker: str) -> list[int]:
    """Pids whose command line or environment names ``marker`` (this test's processes aside)."""
    mine = {os.getpid()}
    pid = os.getpid()
    while pid > 1:  # and our ancestors
        try:
            pid = int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            break
        mine.add(pid)
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) in mine:
            continue
        try:
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
            if state in ("Z", "X"):
                continue
            blob = (entry / "cmdline").read_bytes() + (entry / "environ").read_bytes()
        except OSError:
            continue
        if marker.encode() in blob:
            found.append(int(entry.name))
    return found


def wait_for_no_processes(marker: str, seconds: float = 15.0) -> list[int]:
    """Processes naming ``marker`` still alive after ``seconds`` (then killed, and returned)."""
    deadline = time.monotonic() + seconds
    while (left := processes_naming(marker)) and time.monotonic() < deadline:
        time.sleep(0.2)
    for pid in left:
        try:
            os.kill(pid, 9)
        except OSError:
            pass
    return left


def install_key(scratch: Path, key_path: Path) -> Path:
    """Copy the session's plain key into ``scratch/keys`` (0600), as an instructor keeps it."""
    (scratch / "keys").mkdir(exist_ok=True)
    target = scratch / "keys" / "practice.json"
    shutil.copyfile(key_path, target)
    target.chmod(0o600)
    return target
