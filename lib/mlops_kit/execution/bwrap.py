"""What an isolated kernel sees: the allow-list, and bubblewrap's options that build it.

:mod:`mlops_kit.execution.sandbox` (the launcher) asks this module which folders to show a
kernel and how: the system and the Python installation read-only (:func:`python_paths`),
the caller's folders, private size-capped ``/tmp``-like folders and HOME, everything else
absent. :func:`check_plan` refuses a folder to show that would hold what no kernel may see
(a temporary folder with other jobs' sockets, a home, ``/run``); :func:`bwrap_args` turns
the plan into bubblewrap's command line.
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from ..errors import KitError

#: default size cap of each private in-memory folder (/tmp, /var/tmp, /run, /dev/shm, HOME)
TMP_MB = 256
#: where HOME points inside the sandbox when the caller gave none inside a writable folder
SANDBOX_HOME = "/home/sandbox"
_SYSTEM_DIRS = ("/usr", "/etc")
_SYSTEM_LINKS = ("/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")
_PRIVATE_TMP = ("/tmp", "/var/tmp", "/run", "/dev/shm")


class SandboxUnavailableError(KitError):
    """A kernel was to run isolated but this machine cannot isolate it (or the plan is unsafe)."""


def python_paths() -> list[str]:
    """The folders a kernel needs to run this Python and import the kit, resolved.

    The installation prefixes, and the folders that ``.pth`` files of its site-packages add
    (editable installs). For the kit's own editable install only the ``mlops_kit`` package
    folder is given, not the checkout holding it.
    """
    kit = Path(__file__).resolve().parents[1]
    found: list[str] = []
    for raw in (sys.prefix, sys.exec_prefix, sys.base_prefix, sys.base_exec_prefix):
        found.append(str(Path(raw).resolve()))
    found.append(str(Path(sys.executable).resolve().parent.parent))
    import site

    for folder in site.getsitepackages():
        for pth in sorted(Path(folder).glob("*.pth")):
            try:
                lines = pth.read_text(encoding="utf-8", errors="replace").splitlines()
            except OSError:
                continue
            for line in lines:
                line = line.strip()
                if line and not line.startswith(("#", "import")) and os.path.isabs(line):
                    path = Path(line).resolve()
                    if path == kit.parent:
                        path = kit
                    if path.is_dir():
                        found.append(str(path))
    if not any(inside(str(kit), p) for p in found):
        found.append(str(kit))
    return outermost(found)


def inside(path: str, folder: str) -> bool:
    """True when ``path`` is ``folder`` or lies below it (by name; both resolved)."""
    return path == folder or path.startswith(folder.rstrip("/") + "/")


def outermost(paths: list[str]) -> list[str]:
    """Drop duplicates and paths inside another one of the list, keeping the order."""
    kept: list[str] = []
    for path in paths:
        if not any(inside(path, other) for other in paths if other != path) and path not in kept:
            kept.append(path)
    return kept


def forbidden_paths() -> list[str]:
    """Folders no bind may contain: they hold sockets, other jobs, homes and secrets."""
    found = [*_PRIVATE_TMP, "/home", "/root", "/var/run", "/var/lib", "/proc", "/sys", "/dev"]
    found += [tempfile.gettempdir(), _own_home()]
    for name in ("XDG_RUNTIME_DIR", "JUPYTER_RUNTIME_DIR", "TMPDIR"):
        if os.environ.get(name):
            found.append(os.environ[name])
    return sorted({str(Path(p).resolve()) for p in found if p})


def _own_home() -> str:
    """The home folder of the user running this (not $HOME, which a caller may point elsewhere)."""
    try:
        import pwd

        return pwd.getpwuid(os.geteuid()).pw_dir
    except (ImportError, KeyError):
        return os.path.expanduser("~")


def check_plan(read_only: list[str], writable: list[str], hidden: list[str]) -> None:
    """Refuse binds that would show the kernel more than it may see.

    Raises:
        SandboxUnavailableError: a folder to show the kernel is ``/`` or holds the
            temporary folder, a home, ``/run``... or a path to hide is the work folder.
    """
    for path in [*read_only, *writable]:
        for danger in forbidden_paths():
            if inside(danger, path):
                raise SandboxUnavailableError(
                    f"The sandbox was asked to show the kernel {path}, which holds {danger} "
                    "(sockets, other jobs or homes live there).",
                    "Give the kernel only the folders it needs: install Python and keep the "
                    "data outside the temporary folder and the home folders' roots.",
                )
    for path in hidden:
        for need in writable:
            if inside(need, path):
                raise SandboxUnavailableError(
                    f"The sandbox was asked to hide {path}, which holds the kernel's folder "
                    f"{need}; hiding it would stop the kernel.",
                    "Hide only the folders with secrets (the key, the gradebook) and run the "
                    "notebook in a working directory outside them.",
                )


def reachable(path: str, uid: int) -> bool:
    """True when ``uid`` (not the owner) may enter every folder on the way to ``path``."""
    current = Path(path)
    for folder in [*reversed(current.parents)]:
        try:
            info = os.stat(folder)
        except OSError:
            return False
        if info.st_uid != uid and not info.st_mode & 0o001:
            return False
    return True


def bwrap_path() -> str | None:
    """The bubblewrap program on PATH (None when missing or not Linux)."""
    return shutil.which("bwrap") if sys.platform.startswith("linux") else None


def bwrap_args(
    *,
    read_only: list[tuple[str, str]],
    writable: list[tuple[str, str]],
    hidden: list[str],
    work: str,
    network: bool,
    tmp_mb: int,
    uid: int,
    home: str | None,
) -> list[str]:
    """Return bubblewrap's options for one sandbox (sources may be staged copies of paths).

    Args:
        read_only: ``(source on the host, path inside)`` pairs shown read-only.
        writable: ``(source on the host, path inside)`` pairs shown writable.
        hidden: paths covered (empty folder or unreadable file) even inside a bind.
        work: the kernel's working directory (one of the writable paths).
        network: True keeps the host's network (cut by default).
        tmp_mb: size cap of each private in-memory folder.
        uid: the uid inside (the same as outside: no mapping tricks).
        home: HOME inside, or None for a private :data:`SANDBOX_HOME`.
    """
    size = str(int(tmp_mb) * 1024 * 1024)
    args = ["--unshare-all", "--unshare-user", "--disable-userns", "--die-with-parent"]
    args += ["--new-session", "--as-pid-1", "--uid", str(uid), "--gid", str(uid)]
    args += ["--hostname", "sandbox"]
    if network:
        args.append("--share-net")
    for link in _SYSTEM_LINKS:
        if os.path.islink(link):
            args += ["--symlink", os.readlink(link), link]
        elif os.path.isdir(link):
            args += ["--ro-bind", link, link]
    for folder in _SYSTEM_DIRS:
        if os.path.isdir(folder):
            args += ["--ro-bind", folder, folder]
    args += ["--proc", "/proc", "--dev", "/dev"]
    for folder in _PRIVATE_TMP:
        args += ["--size", size, "--tmpfs", folder]
    if home is None:
        args += ["--size", size, "--tmpfs", SANDBOX_HOME]
    for source, target in read_only:
        args += ["--ro-bind", source, target]
    for source, target in writable:
        args += ["--bind", source, target]
    visible = [target for _, target in read_only + writable] + list(_SYSTEM_DIRS)
    for path in hidden:
        if not any(inside(path, folder) for folder in visible):
            continue  # not visible anyway
        if os.path.isdir(path):
            args += ["--size", "4096", "--tmpfs", path, "--remount-ro", path]
        elif os.path.lexists(path):
            args += ["--ro-bind", "/dev/null", path]
    args += ["--remount-ro", "/", "--chdir", work]
    args += ["--setenv", "TMPDIR", "/tmp", "--setenv", "HOME", home or SANDBOX_HOME]
    # ipykernel ends itself when its parent looks gone (parent pid 1): inside, its parent
    # is the monitor, PID 1 of the sandbox; the kernel dies with the launcher instead
    args += ["--unsetenv", "JPY_PARENT_PID"]
    return args


@functools.lru_cache(maxsize=1)
def bwrap_version() -> str | None:
    """Return bubblewrap's version (``0.8.0``), or None when it is missing."""
    path = bwrap_path()
    if path is None:
        return None
    try:
        done = subprocess.run([path, "--version"], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip().rpartition(" ")[2] or None
