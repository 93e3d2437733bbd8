r"""Run a kernel you do not trust in a bubblewrap sandbox: an allow-list, a fresh user, no way out.

The runner puts this launcher in front of a kernel's command line when a notebook runs with
:class:`mlops_kit.execution.runner.Limits` (the homework grader always does)::

    python -m mlops_kit.execution.sandbox --work /tmp/job --rw /tmp/k/s1 --ro /data \
        --memory-mb 3072 --report /tmp/k/s1.json -- python -m ipykernel_launcher -f ...

The policy (issue 13), and how it is met:

- **Never host root.** A grader running as root starts each kernel as a fresh unprivileged
  uid of its own (:data:`UID_BASE` plus the launcher's pid: no two running kernels share
  one, so they cannot signal or starve each other), with no groups, no capabilities and
  ``no_new_privs``. An ordinary user's kernels run as that user inside a user namespace
  (bubblewrap makes it), which hides the user's files with everything else.
- **An allow-list.** bubblewrap starts from an empty root and the kernel sees only: the
  system (``/usr``, ``/etc``, ``/bin``...) and the Python installation read-only, the data
  folders it is given read-only (``--ro``), its work folder and its socket folder writable
  (``--rw``), and private, size-capped ``/tmp``, ``/var/tmp``, ``/run``, ``/dev/shm`` and
  HOME. Not the grader's temporary folder (where multiprocessing keeps its fork server's
  socket), not other kernels' folders, the key, the submissions or the output folder.
  ``--hide`` covers a path even inside an allowed folder.
- **No channel out.** Its own network (loopback only), PID, IPC and UTS namespaces; no Unix
  socket of the host is on a visible path; nested user namespaces are disabled; a new
  session (no terminal to inject keys into); its stdout and stderr go to this launcher,
  which keeps the last lines for the report, never to the grader's terminal.
- **Limits and an honest end.** :mod:`mlops_kit.execution.monitor` runs as PID 1 inside:
  memory, processes, open files, file size and CPU time limits, a memory watch over all the
  notebook's processes, and an account of how the kernel ended (signal or exit code, and
  whether the memory cap was hit), which this launcher writes into ``--report``.
- **Nothing left running.** This launcher dies with the process that started it
  (``--parent``), bubblewrap with this launcher, the sandbox with bubblewrap.

When the grader is root and the Python installation sits in a folder the kernel's uid may
not enter (``/root/.pyenv``, say), the launcher first binds that folder to a reachable
place in a private mount namespace of its own ("staging"): the kernel sees it where it was,
read-only, and nothing else of ``/root``.

Without bubblewrap (macOS, Windows, containers without user namespaces)
:func:`isolation_available` says why and how to fix it; the grader then refuses to run
unless told ``--unsafe``, and with ``--isolation none`` this launcher applies only the
limits, and the report says the kernel was not isolated.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

from ..errors import KitError
from . import monitor
from .bwrap import (
    TMP_MB,
    SandboxUnavailableError,
    bwrap_args,
    bwrap_path,
    bwrap_version,
    check_plan,
    inside,
    outermost,
    python_paths,
    reachable,
)

__all__ = ["SandboxUnavailableError", "isolation_available", "main", "require_isolation"]

#: a running kernel's uid, when the grader is root, is this plus its launcher's pid; the
#: range 0x70000000-0x7FFDFFFF is unallocated in the Linux conventions (systemd's UID docs)
UID_BASE = 0x70000000
CLONE_NEWNS = 0x00020000
MS_BIND, MS_REC, MS_PRIVATE = 4096, 16384, 1 << 18
PR_SET_PDEATHSIG, PR_SET_DUMPABLE, PR_SET_NO_NEW_PRIVS = 1, 4, 38
_STDERR_TAIL = 4000
INSTALL_FIX = (
    "Install bubblewrap (Debian/Ubuntu: sudo apt-get install bubblewrap; Fedora: sudo dnf "
    "install bubblewrap; it needs Linux with user namespaces), or pass --unsafe to grade "
    "without isolation on a machine and a class you trust."
)


def _libc():
    import ctypes

    return ctypes.CDLL(None, use_errno=True)


def _check(result: int, what: str) -> None:
    if result != 0:
        import ctypes

        errno = ctypes.get_errno()
        raise OSError(errno, f"{what}: {os.strerror(errno)}")


def _prctl(option: int, value: int) -> None:
    _check(_libc().prctl(option, value, 0, 0, 0), "prctl")


# --------------------------------------------------------------------------- the launcher


def _walk(path: str) -> list[str]:
    """``path`` and everything below it, links not followed."""
    found = [path]
    if os.path.isdir(path) and not os.path.islink(path):
        for folder, dirs, files in os.walk(path):
            found += [os.path.join(folder, name) for name in dirs + files]
    return found


def _lend(path: str, uid: int) -> dict[str, tuple[int, int]]:
    """Give a folder and what it holds to ``uid`` for the run; return the owners to restore."""
    owners = {}
    for entry in _walk(path):
        try:
            info = os.lstat(entry)
            owners[entry] = (info.st_uid, info.st_gid)
            os.chown(entry, uid, uid, follow_symlinks=False)
        except OSError:
            pass
    return owners


def _give_back(path: str, owners: dict[str, tuple[int, int]]) -> None:
    """Restore each file's owner; files the kernel made go to the folder's owner.

    Runs after the sandbox is gone (its PID namespace ended with its first process), so
    nothing changes the tree meanwhile; links are changed themselves, never followed.
    """
    default = owners.get(path, (0, 0))
    for entry in _walk(path):
        uid, gid = owners.get(entry, default)
        try:
            os.chown(entry, uid, gid, follow_symlinks=False)
        except OSError:
            pass


def _stage(paths: list[str], stage: str) -> dict[str, str]:
    """In a private mount namespace, bind each path under ``stage``; return path -> staged.

    Run as root before dropping to the kernel's uid: root may enter every folder, the uid
    then reaches the staged copies through ``stage`` (mode 0711). The binds exist only in
    this process's namespace (and bubblewrap's, made from it).
    """
    libc = _libc()
    _check(libc.unshare(CLONE_NEWNS), "unshare(CLONE_NEWNS)")
    _check(libc.mount(None, b"/", None, MS_REC | MS_PRIVATE, None), "mount --make-rprivate /")
    staged = {}
    for index, path in enumerate(paths):
        target = os.path.join(stage, str(index))
        if os.path.isdir(path):
            os.mkdir(target, 0o755)
        else:
            open(target, "w").close()  # noqa: SIM115 - a mount point
        flags = MS_BIND | MS_REC
        _check(libc.mount(path.encode(), target.encode(), None, flags, None), f"bind {path}")
        staged[path] = target
    return staged


def _drop_to(uid: int) -> None:
    """Become ``uid`` (group too), with no supplementary groups and no capabilities."""
    os.setgroups([])
    os.setresgid(uid, uid, uid)
    os.setresuid(uid, uid, uid)
    _prctl(PR_SET_DUMPABLE, 1)  # bubblewrap writes its own /proc/self/uid_map


def _sandbox_child(args: argparse.Namespace, command: list[str], plan: dict, fds: dict) -> None:
    """In the forked child: stage, drop privileges, then exec bubblewrap (never returns)."""
    try:
        os.dup2(fds["out"], 1)
        os.dup2(fds["out"], 2)
        staged = _stage(plan["stage"], plan["stage_dir"]) if plan["stage"] else {}
        options = bwrap_args(  # before the uid change: it looks at paths only root may reach
            read_only=[(staged.get(p, p), p) for p in plan["ro"]],
            writable=[(staged.get(p, p), p) for p in plan["rw"]],
            hidden=plan["hidden"],
            work=plan["work"],
            network=args.network,
            tmp_mb=args.tmp_mb,
            uid=plan["uid"],
            home=plan["home"],
        )
        if plan["drop"]:
            _drop_to(plan["uid"])
        _prctl(PR_SET_PDEATHSIG, signal.SIGKILL)  # after the uid change, which clears it
        if os.getppid() != plan["launcher"]:
            os._exit(1)
        _prctl(PR_SET_NO_NEW_PRIVS, 1)
        inner = [sys.executable, "-I", monitor.__file__, "--status-fd", str(fds["status"])]
        for name in ("memory_mb", "pids", "files", "file_size_mb", "cpu_seconds"):
            value = getattr(args, name)
            if value:
                inner += [f"--{name.replace('_', '-')}", str(value)]
        argv = [plan["bwrap"], *options, "--", *inner, "--", *command]
        os.execv(plan["bwrap"], argv)
    except BaseException as exc:  # noqa: BLE001 - say it on the captured stderr, then end
        try:
            os.write(2, f"mlops-kit sandbox: {type(exc).__name__}: {exc}\n".encode())
        finally:
            os._exit(126)


def _collect(child: int, out_fd: int, status_fd: int) -> tuple[int, bytes, bytes]:
    """Read the child's output (keeping the tail) and status until both end; reap it."""
    import selectors

    tail = b""
    status = b""
    with selectors.DefaultSelector() as sel:
        sel.register(out_fd, selectors.EVENT_READ, "out")
        sel.register(status_fd, selectors.EVENT_READ, "status")
        open_fds = 2
        while open_fds:
            for key, _ in sel.select():
                data = os.read(key.fd, 65536)
                if not data:
                    sel.unregister(key.fd)
                    os.close(key.fd)
                    open_fds -= 1
                elif key.data == "out":
                    tail = (tail + data)[-_STDERR_TAIL:]
                elif len(status) < 65536:
                    status += data
    _, code = os.waitpid(child, 0)
    return code, tail, status


def _write_report(path: str | None, report: dict) -> None:
    if path:
        from ..fileio import atomic_write

        atomic_write(path, json.dumps(report))


def _finish(report: dict, path: str | None, account: dict | None, code: int) -> int:
    """Write the final report, then end as the kernel ended (same signal or exit code)."""
    report["monitor"] = account
    _write_report(path, report)
    sys.stdout.flush()
    sys.stderr.flush()
    sig = (account or {}).get("signal")
    if sig is None and os.WIFSIGNALED(code):
        sig = os.WTERMSIG(code)
    if sig:
        import resource

        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        if sig not in (signal.SIGKILL, signal.SIGSTOP):
            signal.signal(sig, signal.SIG_DFL)
        os.kill(os.getpid(), sig)
    if account is not None and account.get("exit") is not None:
        return int(account["exit"])
    return os.WEXITSTATUS(code) if os.WIFEXITED(code) else 1


def _plan(args: argparse.Namespace) -> dict:
    """Resolve the paths, pick the kernel's uid, decide what must be staged."""
    resolve = lambda p: str(Path(p).expanduser().resolve())  # noqa: E731
    work = resolve(args.work) if args.work else os.getcwd()
    rw = outermost([work, *map(resolve, args.rw)])
    ro = [p for p in outermost([*python_paths(), *map(resolve, args.ro)]) if os.path.exists(p)]
    ro = [p for p in ro if not any(inside(p, w) for w in rw)]
    hidden = [resolve(p) for p in args.hide]
    check_plan(ro, rw, hidden)
    root = os.geteuid() == 0
    uid = UID_BASE + os.getpid() if root else os.geteuid()
    home = os.environ.get("HOME")
    home = home if home and any(inside(resolve(home), w) for w in rw) else None
    stage = [p for p in ro + rw if root and not reachable(p, uid)]
    return {
        "bwrap": bwrap_path(),
        "work": work,
        "ro": ro,
        "rw": rw,
        "hidden": hidden,
        "uid": uid,
        "drop": root,
        "home": home,
        "stage": stage,
        "stage_dir": None,
        "launcher": os.getpid(),
    }


def _start_janitor(child: int, owners: dict, stage_dir: str | None, close: tuple) -> None:
    """Fork a process that, once this launcher and the sandbox are gone, tidies up after them.

    The runner ends a kernel by killing this launcher's process group with SIGKILL, so the
    launcher itself cannot give its folders back (their files belong to the kernel's uid for
    the run) nor remove its staging folder. The janitor leaves the group (a session of its
    own), waits for the launcher to end (its pipe closes) and for the sandbox to end, does
    both, and exits.
    """
    import select

    alive_r, alive_w = os.pipe()
    try:
        sandbox = os.pidfd_open(child)
    except (AttributeError, OSError):
        sandbox = None
    if os.fork():
        os.close(alive_r)
        if sandbox is not None:
            os.close(sandbox)
        os.set_inheritable(alive_w, False)  # held until this launcher ends, by no one else
        return
    try:
        os.setsid()
        os.close(alive_w)
        for fd in close:
            os.close(fd)
        os.read(alive_r, 1)  # returns when the launcher has ended
        if sandbox is not None:
            select.select([sandbox], [], [], 60)
        for path, lent in owners.items():
            _give_back(path, lent)
        if stage_dir:
            shutil.rmtree(stage_dir, ignore_errors=True)
    finally:
        os._exit(0)


def _run_bwrap(args: argparse.Namespace, command: list[str], report: dict) -> int:
    plan = _plan(args)
    if plan["bwrap"] is None:
        report["notes"].append("bubblewrap is not installed: nothing was run.")
        _write_report(args.report, report)
        print(f"mlops_kit.execution.sandbox: bubblewrap is missing. {INSTALL_FIX}", file=sys.stderr)
        return 126
    owners = {}
    if plan["drop"]:  # its own folders are lent to the kernel's uid for the run
        owners = {path: _lend(path, plan["uid"]) for path in plan["rw"]}
    if plan["stage"]:
        plan["stage_dir"] = tempfile.mkdtemp(prefix="mlops-kit-stage-", dir="/tmp")
        os.chmod(plan["stage_dir"], 0o711)
    report["applied"].update(
        isolation="bubblewrap",
        bwrap_version=bwrap_version(),
        uid=plan["uid"],
        dropped_root=plan["drop"],
        network="shared" if args.network else "cut",
        read_only=plan["ro"],
        writable=plan["rw"],
        hidden=plan["hidden"],
        staged=plan["stage"],
    )
    _write_report(args.report, report)
    out_r, out_w = os.pipe()
    status_r, status_w = os.pipe()
    os.set_inheritable(status_w, True)
    child = os.fork()
    if child == 0:
        os.close(out_r)
        os.close(status_r)
        _sandbox_child(args, command, plan, {"out": out_w, "status": status_w})
    os.close(out_w)
    os.close(status_w)
    if owners or plan["stage_dir"]:
        _start_janitor(child, owners, plan["stage_dir"], (out_r, status_r))
    code, tail, status = _collect(child, out_r, status_r)
    report["stderr_tail"] = tail.decode("utf-8", "replace")
    try:
        account = json.loads(status.decode("utf-8").splitlines()[0]) if status else None
    except (ValueError, IndexError):
        account = None
    if account is None:
        report["notes"].append(
            "The sandbox ended before its monitor could report (bubblewrap failed to start, "
            "or the sandbox was killed): see stderr_tail."
        )
    return _finish(report, args.report, account, code)


def _run_unisolated(args: argparse.Namespace, command: list[str], report: dict) -> int:
    report["applied"]["isolation"] = "none"
    report["notes"].append(
        "The kernel was NOT isolated (--isolation none): it ran as the grader's user, could "
        "read and write what the grader can, and reach the network. Only the limits applied."
    )
    try:
        _prctl(PR_SET_NO_NEW_PRIVS, 1)
    except (OSError, AttributeError):  # not Linux
        pass
    _write_report(args.report, report)
    account = monitor.run(command, args, own_namespace=False)
    return _finish(report, args.report, account, 0)


def build_parser() -> argparse.ArgumentParser:
    """The launcher's command line (what the runner passes)."""
    parser = argparse.ArgumentParser(
        prog="python -m mlops_kit.execution.sandbox",
        description="Run a command (a Jupyter kernel) in a bubblewrap sandbox: an allow-list "
        "of read-only folders, its own writable folders, no network, a fresh unprivileged "
        "uid when started by root, and limits.",
        epilog="example: python -m mlops_kit.execution.sandbox --work /tmp/job --memory-mb "
        "1024 -- python -c 'print(1)'",
    )
    add = parser.add_argument
    add("--isolation", choices=("bwrap", "none"), default="bwrap", help="none: limits only")
    add("--work", default=None, help="the kernel's working folder (writable; default: cwd)")
    add("--rw", action="append", default=[], metavar="PATH", help="another writable folder")
    add("--ro", action="append", default=[], metavar="PATH", help="a read-only folder to show")
    add("--hide", action="append", default=[], metavar="PATH", help="cover this path")
    add("--network", action="store_true", help="keep the host's network (cut by default)")
    add("--memory-mb", type=int, default=None, help="address-space and resident memory cap")
    add("--pids", type=int, default=None, help="processes and threads the kernel may have")
    add("--files", type=int, default=None, help="open files per process")
    add("--file-size-mb", type=int, default=None, help="largest file it may write")
    add("--cpu-seconds", type=int, default=None, help="CPU time per process")
    add("--tmp-mb", type=int, default=TMP_MB, help="size of each private /tmp-like folder")
    add("--report", default=None, help="write what was applied, and how it ended, here (JSON)")
    add("--parent", type=int, default=None, metavar="PID", help="die with this process")
    add("command", nargs=argparse.REMAINDER, help="-- then the command")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Apply the policy, run the command, report, and end as it ended."""
    args = build_parser().parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        build_parser().error("give the command to run after --")
    report: dict = {"applied": {}, "notes": [], "pid": os.getpid()}
    starter = args.parent if args.parent is not None else os.getppid()
    try:
        _prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):
        pass
    if os.getppid() != starter:
        print(f"mlops_kit.execution.sandbox: its starter (pid {starter}) is gone.", file=sys.stderr)
        return 1
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the kernel is interrupted by messages
    try:
        if args.isolation == "none":
            return _run_unisolated(args, command, report)
        return _run_bwrap(args, command, report)
    except (KitError, OSError) as exc:
        report["notes"].append(f"The sandbox could not be set up: {exc}")
        _write_report(args.report, report)
        print(f"mlops_kit.execution.sandbox: {exc}", file=sys.stderr)
        return 126


# --------------------------------------------------------------------------- availability


@functools.lru_cache(maxsize=1)
def isolation_available() -> dict:
    """Say whether kernels can be isolated here, how, and if not why and what to do.

    It runs a tiny command through the whole sandbox (a fresh uid, staging, bubblewrap) once
    per process. ``mlops-kit doctor`` and the grader show the result.

    Returns:
        ``{"available": bool, "kind": "bubblewrap" | None, "version", "kernel_user",
        "describe": one line for reports, "problem": str | None, "fix": str | None}``.
    """
    info: dict = {"available": False, "kind": None, "version": None, "kernel_user": None}
    info.update(problem=None, fix=None, describe="no isolation")
    if not sys.platform.startswith("linux"):
        info["problem"] = f"kernels can be isolated on Linux only (this is {sys.platform})"
        info["fix"] = "Grade on Linux with bubblewrap, or pass --unsafe (no isolation)."
        return info
    if bwrap_path() is None:
        info["problem"] = "bubblewrap (bwrap) is not installed"
        info["fix"] = INSTALL_FIX
        return info
    info["kind"], info["version"] = "bubblewrap", bwrap_version()
    with tempfile.TemporaryDirectory(prefix="mlops-kit-probe-") as work:
        report = os.path.join(work, "report.json")
        job = os.path.join(work, "job")
        os.mkdir(job)
        probe = [sys.executable, "-m", "mlops_kit.execution.sandbox", "--work", job]
        probe += ["--report", report, "--", sys.executable, "-I", "-c", "print(1)"]
        try:
            done = subprocess.run(probe, capture_output=True, text=True, timeout=60)
            data = json.loads(Path(report).read_text()) if os.path.exists(report) else {}
        except (OSError, ValueError, subprocess.SubprocessError) as exc:
            done, data = None, {"notes": [str(exc)]}
    account = data.get("monitor") or {}
    if done is None or done.returncode != 0 or account.get("exit") != 0:
        why = (data.get("stderr_tail") or "").strip() or "; ".join(data.get("notes", []))
        info["problem"] = f"bubblewrap is installed but a test sandbox failed: {why[-600:]}"
        info["fix"] = (
            "Enable unprivileged user namespaces (sysctl user.max_user_namespaces=15000; "
            "Ubuntu 24.04: allow bwrap in AppArmor; Docker: run the grader outside the "
            "container or with a seccomp profile allowing user namespaces), or pass --unsafe."
        )
        return info
    root = data.get("applied", {}).get("dropped_root")
    info["available"] = True
    info["kernel_user"] = (
        "a fresh unprivileged uid per kernel (the grader is root)"
        if root
        else "the grader's own uid, in a user namespace that hides the user's files"
    )
    info["describe"] = (
        f"bubblewrap {info['version']}: each kernel in its own namespaces (no network, "
        f"private /tmp, read-only system, only its own folder writable), as {info['kernel_user']}"
    )
    return info


def require_isolation() -> dict:
    """Return :func:`isolation_available`'s answer, or raise when kernels cannot be isolated.

    Raises:
        SandboxUnavailableError: naming what is missing and how to fix it.
    """
    info = isolation_available()
    if not info["available"]:
        raise SandboxUnavailableError(
            f"A notebook you do not trust cannot be isolated on this machine: {info['problem']}.",
            info["fix"],
        )
    return info


if __name__ == "__main__":
    sys.exit(main())
