r"""Start a kernel (or any command) under limits: memory cap, no network, hidden folders.

The runner puts this launcher in front of the kernel's command line when a notebook
runs with :class:`mlops_kit.execution.runner.Limits`::

    python -m mlops_kit.execution.sandbox --memory-mb 1024 --no-network --hide /srv/key \
        --report /tmp/k/sandbox.json -- python -m ipykernel_launcher -f kernel.json

It applies what the operating system allows, writes a JSON report of what it applied
and what it could not, then replaces itself with the command (``exec``), so the kernel
keeps the launcher's process group and the runner can stop it as usual.

How each limit works (Linux):

- **memory**: ``RLIMIT_AS`` caps the address space; a cell asking for more gets
  ``MemoryError``. Soft and hard limits are both set, so the notebook cannot lift it.
- **network**: a new network namespace has no interface but a loopback that is down,
  so every connection fails, 127.0.0.1 included. The kernel talks to the runner over
  Unix sockets in a folder, which a network namespace does not cut.
- **hidden paths**: in a private mount namespace an empty read-only tmpfs is mounted over
  each hidden folder (a hidden file becomes impossible to open). A new PID
  namespace with its own ``/proc`` stops the kernel from peeking through
  ``/proc/<pid>/root`` of processes outside.
- **read-only** (``--writable DIR``): every other mount is remounted read-only in that
  mount namespace, so the kernel can write only in the given folders (its working
  directory), not in the data cache, the home folder or the gradebook.
- **lifetime**: the kernel gets Linux's parent-death signal (SIGKILL), so a grader killed
  with SIGKILL or by the out-of-memory killer leaves no kernel running behind it.

An unprivileged user gets the namespaces through a user namespace, where the kernel
runs without capabilities (it cannot unmount the covers). Without user namespaces,
root can still create them, but then the kernel is root and could undo the covers: the
report says so. Where nothing works (macOS, Windows, locked-down containers), the
command still runs and the report's ``notes`` say which limit was not enforced, so a
grader can tell its users.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import re
import signal
import sys
from pathlib import Path

# Linux constants from <sched.h> and <sys/mount.h> (Python 3.11 has no os.unshare).
CLONE_NEWNS = 0x00020000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000
MS_RDONLY = 1
MS_NOSUID = 2
MS_NODEV = 4
MS_NOEXEC = 8
MS_REMOUNT = 32
MS_BIND = 4096
MS_REC = 16384
MS_PRIVATE = 1 << 18
PR_SET_PDEATHSIG = 1
PR_SET_NO_NEW_PRIVS = 38


class SandboxError(OSError):
    """A namespace or mount system call failed (caught: the launcher degrades)."""


@functools.cache
def _libc():
    """Return the C library, found once.

    ``find_library`` runs a program (``ldconfig -p``); a program run after
    ``unshare(CLONE_NEWPID)`` would become that namespace's PID 1 and, by exiting, leave
    it unable to fork.
    """
    import ctypes
    import ctypes.util

    return ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True)


def _call(name: str, *args) -> None:
    import ctypes

    libc = _libc()
    if getattr(libc, name)(*args) != 0:
        errno = ctypes.get_errno()
        raise SandboxError(errno, f"{name} failed: {os.strerror(errno)}")


def _unshare(flags: int) -> None:
    _call("unshare", flags)


def _mount(source: str | None, target: str, fstype: str | None, flags: int, data: str | None):
    enc = [None if s is None else s.encode() for s in (source, target, fstype, data)]
    _call("mount", enc[0], enc[1], enc[2], flags, enc[3])


def _prctl(option: int, value: int) -> None:
    _call("prctl", option, value, 0, 0, 0)


def _write(path: str, text: str) -> None:
    with open(path, "w", encoding="ascii") as handle:
        handle.write(text)


def enter_namespaces(*, network: bool, hide: bool, report: dict) -> bool:
    """Move this process into new namespaces for the requested limits.

    Args:
        network: cut the network (new network namespace).
        hide: prepare private mounts for hidden paths and a read-only file system (new
            mount and PID namespaces).
        report: filled with ``applied`` keys and ``notes``.

    Returns:
        True when a new PID namespace was created: the caller must fork, and the child
        (PID 1 in it) continues; mounts must be made in that child.
    """
    base = (CLONE_NEWNET if network else 0) | ((CLONE_NEWNS | CLONE_NEWPID) if hide else 0)
    if not sys.platform.startswith("linux"):
        _cannot(report, network, hide, f"namespaces are Linux-only (this is {sys.platform})")
        return False
    uid, gid = os.geteuid(), os.getegid()
    errors = []
    try:
        _unshare(base | CLONE_NEWUSER)
    except OSError as exc:
        errors.append(f"user namespace: {exc}")
        try:
            _unshare(base)
        except OSError as exc2:
            errors.append(f"namespaces as uid {uid}: {exc2}")
            _cannot(report, network, hide, "; ".join(errors))
            return False
        report["notes"].append(
            "The kernel runs as root inside its namespaces (user namespaces are not "
            f"available: {errors[0]}); a hostile notebook could undo hidden paths. "
            "Run the grader as an unprivileged user where user namespaces are enabled."
        )
    else:
        # Never map root inside: a kernel that is root in its namespace keeps
        # capabilities after exec and could unmount the covers.
        inside_uid = uid if uid != 0 else 65534
        inside_gid = gid if gid != 0 else 65534
        try:
            _write("/proc/self/setgroups", "deny")
            _write("/proc/self/uid_map", f"{inside_uid} {uid} 1")
            _write("/proc/self/gid_map", f"{inside_gid} {gid} 1")
            report["applied"]["user_namespace"] = True
        except OSError as exc:  # the namespaces exist; the kernel runs as 'nobody'
            report["notes"].append(f"The user namespace has no uid map ({exc}).")
    if network:
        report["applied"]["network"] = "cut"
    return hide


def _cannot(report: dict, network: bool, hide: bool, why: str) -> None:
    if network:
        report["notes"].append(f"The network was NOT cut for this kernel: {why}.")
    if hide:
        report["notes"].append(
            f"Hidden paths were NOT hidden (and the file system NOT made read-only) "
            f"for this kernel: {why}."
        )


_LOCKED_OPTIONS = {
    "nosuid": MS_NOSUID,
    "nodev": MS_NODEV,
    "noexec": MS_NOEXEC,
    "noatime": 1024,
    "nodiratime": 2048,
    "relatime": 1 << 21,
    "strictatime": 1 << 24,
}


def _unescape(field: str) -> str:
    r"""Decode mountinfo's octal escapes (``\040`` is a space)."""
    return re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), field)


def _mounts() -> list[tuple[str, set[str]]]:
    """(mount point, per-mount options) for every mount this process sees."""
    found = []
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        fields = line.split()
        found.append((_unescape(fields[4]), set(fields[5].split(","))))
    return found


def _inside(path: str, folder: str) -> bool:
    return path == folder or path.startswith(folder.rstrip("/") + "/")


def make_read_only(writable: list[str], report: dict) -> None:
    """Remount every file system read-only except the ``writable`` folders.

    Each writable folder is first bind-mounted onto itself, so it becomes a mount of its
    own that stays writable when the mount holding it turns read-only. ``/proc``,
    ``/sys`` and ``/dev`` (``/dev/shm`` is where multiprocessing keeps its semaphores)
    are left as they are.
    """
    failed = []
    for folder in writable:
        try:
            _mount(folder, folder, None, MS_BIND | MS_REC, None)
        except OSError as exc:
            failed.append(f"{folder} ({exc})")
    for point, options in _mounts():
        if "ro" in options or any(_inside(point, w) for w in writable):
            continue
        if any(_inside(point, pseudo) for pseudo in ("/proc", "/sys", "/dev")):
            continue
        # Flags the mount already has must be repeated, or a user namespace refuses.
        flags = MS_REMOUNT | MS_BIND | MS_RDONLY
        for name, bit in _LOCKED_OPTIONS.items():
            if name in options:
                flags |= bit
        try:
            _mount(None, point, None, flags, None)
        except OSError as exc:
            failed.append(f"{point} ({exc})")
    if failed:
        report["notes"].append(
            "These stayed writable for the kernel: " + ", ".join(failed[:10]) + "."
        )
    report["applied"]["read_only"] = {"writable": writable, "failed": len(failed)}
    # The working directory was entered before the binds: enter it again through them.
    os.chdir(os.getcwd())


def hide_paths(
    paths: list[str], report: dict, *, new_proc: bool, writable: list[str] | None = None
) -> None:
    """Cover each path with an empty read-only mount (inside the new mount namespace).

    With ``writable`` (a list, possibly empty of nothing but the working directory), the
    rest of the file system is also made read-only (:func:`make_read_only`).
    """
    try:
        _mount(None, "/", None, MS_REC | MS_PRIVATE, None)  # nothing leaks to the host
    except OSError as exc:
        report["notes"].append(
            f"Hidden paths were NOT hidden (nor the file system made read-only): private "
            f"mounts failed ({exc})."
        )
        return
    if new_proc:
        try:
            _mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, None)
            report["applied"]["private_proc"] = True
        except OSError as exc:
            report["notes"].append(
                f"/proc could not be remounted ({exc}): a hostile notebook may still "
                "reach hidden paths through /proc/<pid>/root of outside processes."
            )
    hidden = []
    for raw in paths:
        path = Path(raw)
        try:
            if path.is_dir():
                _mount(
                    "tmpfs",
                    str(path),
                    "tmpfs",
                    MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC,
                    "size=4k,mode=0555",
                )
            elif path.exists():
                # /dev/null on a nodev mount: every open fails, for reading and writing.
                _mount("/dev/null", str(path), None, MS_BIND, None)
                flags = MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NODEV | MS_NOSUID | MS_NOEXEC
                _mount(None, str(path), None, flags, None)
            else:
                continue  # nothing there to hide
            hidden.append(str(path))
        except OSError as exc:
            report["notes"].append(f"{path} was NOT hidden: {exc}.")
    report["applied"]["hidden"] = hidden
    if writable is not None:
        make_read_only(writable, report)


def limit_memory(memory_mb: int, report: dict) -> None:
    """Cap the address space of this process (and what it execs) at ``memory_mb`` MiB."""
    try:
        import resource
    except ImportError:  # Windows
        report["notes"].append("The memory cap was NOT applied: no resource module here.")
        return
    size = int(memory_mb) * 1024 * 1024
    try:
        resource.setrlimit(resource.RLIMIT_AS, (size, size))
        report["applied"]["memory_mb"] = int(memory_mb)
    except (ValueError, OSError) as exc:
        report["notes"].append(f"The memory cap was NOT applied: {exc}.")


def die_with_starter(starter: int, report: dict) -> bool:
    """Ask Linux to SIGKILL this process when the process that started it dies.

    A grader killed with SIGKILL (or by the out-of-memory killer) cannot stop its kernels,
    and a kernel started in its own session, as jupyter_client starts them, is not in the
    group the grader's killer signals: a notebook stuck in a loop would burn a core until
    someone finds it. The parent-death signal survives ``exec``, so the kernel inherits it.
    Linux sends it when the *thread* that started the launcher ends; the runner starts
    kernels from the thread that runs the notebook, which outlives the kernel.

    Args:
        starter: the pid of the process that started the launcher (``--parent``, else the
            parent at start-up).
        report: gets ``applied["dies_with_starter"]`` when the signal is set.

    Returns:
        False when the starter is already gone (the caller should exit), True otherwise.
    """
    try:
        _prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):  # not Linux: nothing to set
        return True
    report["applied"]["dies_with_starter"] = True
    return os.getppid() == starter  # it may have died before the signal was set


def _starter_gone(starter: int) -> int:
    print(
        f"mlops_kit.execution.sandbox: the process that started it (pid {starter}) is gone, so the "
        "command was not run (nobody would read its results).",
        file=sys.stderr,
    )
    return 1


def _wait_and_mirror(child: int) -> int:
    """Wait for the kernel (our child, PID 1 of its namespace) and exit as it did."""
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        # The runner signals the whole process group: the child gets these directly.
        signal.signal(sig, signal.SIG_IGN)
    while True:
        try:
            _, status = os.waitpid(child, 0)
            break
        except InterruptedError:  # pragma: no cover - PEP 475 retries already
            continue
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        # Die of the same signal, so the runner can tell a memory kill from an exit.
        try:
            import resource

            resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        except (ImportError, ValueError, OSError):
            pass
        signal.signal(sig, signal.SIG_DFL)
        os.kill(os.getpid(), sig)
        return 128 + sig  # pragma: no cover - the signal above ends the process
    return os.WEXITSTATUS(status)


def build_parser() -> argparse.ArgumentParser:
    """The launcher's command line (what :func:`mlops_kit.execution.runner` passes)."""
    parser = argparse.ArgumentParser(
        prog="python -m mlops_kit.execution.sandbox",
        description="Run a command (a Jupyter kernel) under a memory cap, without network "
        "and with folders hidden, as far as this operating system allows.",
        epilog="example: python -m mlops_kit.execution.sandbox --memory-mb 512 --no-network "
        "--hide /srv/key -- python -c 'print(1)'",
    )
    parser.add_argument("--memory-mb", type=int, default=None, help="address-space cap (MiB)")
    parser.add_argument("--no-network", action="store_true", help="cut every network")
    parser.add_argument(
        "--hide", action="append", default=[], metavar="PATH", help="folder or file to hide"
    )
    parser.add_argument(
        "--writable",
        action="append",
        default=None,
        metavar="DIR",
        help="make the file system read-only except these folders (repeatable)",
    )
    parser.add_argument("--report", default=None, help="write what was applied here (JSON)")
    parser.add_argument(
        "--parent",
        type=int,
        default=None,
        metavar="PID",
        help="the process that starts the launcher: the command dies with it, and nothing "
        "runs if it is already gone (default: the parent at start-up)",
    )
    parser.add_argument("command", nargs=argparse.REMAINDER, help="-- then the command")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Apply the limits, write the report, then exec the command."""
    args = build_parser().parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        build_parser().error("give the command to run after --")
    report: dict = {"applied": {}, "notes": [], "pid": os.getpid()}
    # the starter may die before this line runs: the runner names itself to close that gap
    starter = args.parent if args.parent is not None else os.getppid()
    # Opened now: once the file system is read-only its folder may not be writable.
    report_file = open(args.report, "w", encoding="utf-8") if args.report else None  # noqa: SIM115
    hide = [str(Path(p).expanduser().resolve()) for p in args.hide]

    writable = None if args.writable is None else [str(Path(p).resolve()) for p in args.writable]
    mounts = bool(hide) or writable is not None
    must_fork = False
    if args.no_network or mounts:
        must_fork = enter_namespaces(network=args.no_network, hide=mounts, report=report)
    # after the namespaces (a change of credentials clears it); kept across the exec, and
    # before a fork it covers the launcher, whose child below dies with it
    if not die_with_starter(starter, report):
        return _starter_gone(starter)
    if must_fork:
        child = os.fork()
        if child:
            return _wait_and_mirror(child)
        # The child: PID 1 of the new namespace; dies with the launcher.
        try:
            _prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
        except OSError:
            pass
        hide_paths(hide, report, new_proc=True, writable=writable)

    if args.memory_mb:
        limit_memory(args.memory_mb, report)
    try:
        _prctl(PR_SET_NO_NEW_PRIVS, 1)  # setuid programs gain nothing from here on
    except (OSError, AttributeError):
        pass
    if report_file is not None:
        with report_file:
            report_file.write(json.dumps(report))
    sys.stdout.flush()
    sys.stderr.flush()
    try:
        os.execvp(command[0], command)
    except OSError as exc:
        print(f"mlops_kit.execution.sandbox: cannot run {command[0]!r}: {exc}", file=sys.stderr)
        return 127
    return 0  # pragma: no cover - exec does not return


if __name__ == "__main__":
    sys.exit(main())
