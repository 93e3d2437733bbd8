r"""The kernel's parent: resource limits, a memory watch, and an honest account of its end.

The sandbox launcher (:mod:`mlops_kit.execution.sandbox`) runs this file as the first
process inside the sandbox (PID 1 of the kernel's PID namespace), by path and with only the
standard library, so nothing of the kit needs importing before the kernel starts::

    python -I .../monitor.py --status-fd 3 --memory-mb 3072 --pids 256 -- python -m ...

Unsandboxed (``--unsafe``), the launcher calls :func:`run` in its own process instead.

What it does:

- **limits** on the kernel, set in the forked child before ``exec`` so that they count
  inside the kernel's own user namespace: address space (``RLIMIT_AS``), processes and
  threads (``RLIMIT_NPROC``), open files, file size, CPU seconds, no core files;
- **a memory watch**: every tenth of a second it adds up the resident memory of every
  process it can see; past the memory cap it kills them all (a notebook that forks could
  otherwise use the cap once per process). It also notes the kernel's peak address space;
- **an account of the end**: exit code or signal, peak memory, and whether the memory cap
  was hit, written as one JSON line to ``--status-fd``. The runner reports
  ``out_of_memory`` only when the cap was hit, so a kernel killed by its own code
  (``os.kill``, ``os.closerange``) is reported as what it was;
- **nothing left behind**: when the kernel ends, every other process in the namespace is
  killed.

As PID 1 it is immune to signals sent from inside its namespace (Linux delivers only those
it handles, and it handles none), and it is not dumpable, so the kernel, which runs as the
same user, can neither kill nor trace it.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import time

try:
    import resource
except ImportError:  # Windows: the module still imports (the launcher says why it cannot run)
    resource = None

PR_SET_PDEATHSIG = 1
PR_SET_DUMPABLE = 4
#: seconds between two looks at the processes' memory
POLL_SECONDS = 0.1
#: the kernel died by a signal with its address space this close to the cap: memory
NEAR_CAP = 0.9


def _prctl(option: int, value: int) -> None:
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(option, value, 0, 0, 0)
    except (OSError, AttributeError):  # not Linux
        pass


def limits_for(args: argparse.Namespace) -> list[tuple[int, int]]:
    """The (resource, value) pairs to apply in the kernel's process."""
    if resource is None:
        return []
    mib = 1024 * 1024
    wanted = [(resource.RLIMIT_CORE, 0)]
    if args.memory_mb:
        wanted.append((resource.RLIMIT_AS, int(args.memory_mb) * mib))
    if args.pids and hasattr(resource, "RLIMIT_NPROC"):
        wanted.append((resource.RLIMIT_NPROC, int(args.pids)))
    if args.files:
        wanted.append((resource.RLIMIT_NOFILE, int(args.files)))
    if args.file_size_mb:
        wanted.append((resource.RLIMIT_FSIZE, int(args.file_size_mb) * mib))
    if args.cpu_seconds:
        wanted.append((resource.RLIMIT_CPU, int(args.cpu_seconds)))
    return wanted


def _apply_limits(wanted: list[tuple[int, int]]) -> None:
    for kind, value in wanted:
        _soft, hard = resource.getrlimit(kind)
        if hard != resource.RLIM_INFINITY:
            value = min(value, hard)
        resource.setrlimit(kind, (value, value))


def _status_kb(pid: int, field: str) -> int:
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as handle:
            for line in handle:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return 0


def _watched(exclude: int, group: int | None) -> list[str]:
    """The pids (as text) of the processes whose memory counts."""
    try:
        names = os.listdir("/proc")
    except OSError:
        return []
    found = []
    for name in names:
        if not name.isdigit() or int(name) == exclude:
            continue
        if group is not None:
            try:
                with open(f"/proc/{name}/stat", encoding="ascii", errors="replace") as handle:
                    if int(handle.read().rsplit(")", 1)[1].split()[2]) != group:
                        continue
            except (OSError, ValueError, IndexError):
                continue
        found.append(name)
    return found


def resident_kb(exclude: int, group: int | None = None) -> int:
    """Memory (KiB) held by every process visible in /proc but ``exclude``.

    With ``group``, only the processes of that process group (the kernel and its children
    when this monitor is not PID 1 of a namespace of its own). Resident sizes are added up
    first, which is cheap but counts the pages forked processes share once per process;
    only when that sum passes the cap does :func:`proportional_kb` count them once.
    """
    page_kb = os.sysconf("SC_PAGE_SIZE") // 1024
    total = 0
    for name in _watched(exclude, group):
        try:
            with open(f"/proc/{name}/statm", encoding="ascii") as handle:
                total += int(handle.read().split()[1]) * page_kb
        except (OSError, ValueError, IndexError):
            continue
    return total


def proportional_kb(exclude: int, group: int | None = None) -> int:
    """Like :func:`resident_kb`, each shared page split among its sharers (``Pss``)."""
    total = 0
    for name in _watched(exclude, group):
        try:
            with open(f"/proc/{name}/smaps_rollup", encoding="ascii") as handle:
                for line in handle:
                    if line.startswith("Pss:"):
                        total += int(line.split()[1])
                        break
        except (OSError, ValueError, IndexError):
            continue
    return total


def _kill_all_but_me(own_namespace: bool, child: int) -> None:
    """Kill the kernel and, as PID 1 of its namespace, every process in it."""
    try:
        if own_namespace:
            os.kill(-1, signal.SIGKILL)  # from PID 1: every process of the namespace
        else:
            os.killpg(child, signal.SIGKILL)
    except OSError:
        pass


def _start(command: list[str], wanted: list[tuple[int, int]], keep_fds: tuple[int, ...]) -> int:
    child = os.fork()
    if child:
        return child
    try:  # the kernel: its own process group, the limits, nothing but stdio open
        os.setpgid(0, 0)
        _prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGPIPE):
            signal.signal(sig, signal.SIG_DFL)
        _apply_limits(wanted)
        _close_but(keep_fds)
        os.execvp(command[0], command)
    except BaseException as exc:  # noqa: BLE001 - report and never return into the parent's code
        try:
            os.write(2, f"mlops-kit sandbox: cannot start {command[0]!r}: {exc}\n".encode())
        finally:
            os._exit(127)
    return 0  # pragma: no cover - unreachable


def _close_but(keep: tuple[int, ...]) -> None:
    low = 3
    for fd in sorted(keep):
        os.closerange(low, fd)
        low = fd + 1
    os.closerange(low, 65536)


def run(
    command: list[str],
    args: argparse.Namespace,
    *,
    own_namespace: bool,
    keep_fds: tuple[int, ...] = (),
) -> dict:
    """Start ``command`` under the limits, watch it until it ends, return its account.

    Args:
        command: the kernel's command line.
        args: the parsed options (``memory_mb``, ``pids``, ``files``, ``file_size_mb``,
            ``cpu_seconds``).
        own_namespace: True when this process is PID 1 of a namespace of its own (the
            sandbox): then every process it sees is the notebook's and is watched and
            ended with it. False (unsandboxed): only the kernel is watched.
        keep_fds: descriptors the kernel keeps besides stdin, stdout and stderr.

    Returns:
        ``{"exit": int | None, "signal": int | None, "vm_peak_kb", "rss_peak_kb",
        "memory_mb", "memory_cap_hit": bool, "limits": {...}}``.
    """
    wanted = limits_for(args)
    cap_kb = int(args.memory_mb) * 1024 if args.memory_mb else None
    child = _start(command, wanted, keep_fds)
    account = {
        "exit": None,
        "signal": None,
        "vm_peak_kb": 0,
        "rss_peak_kb": 0,
        "memory_mb": args.memory_mb,
        "memory_cap_hit": False,
        "limits": {str(k): v for k, v in wanted},
    }
    status = None
    while status is None:
        time.sleep(POLL_SECONDS)
        account["vm_peak_kb"] = max(account["vm_peak_kb"], _status_kb(child, "VmPeak"))
        group = None if own_namespace else child
        rss = resident_kb(os.getpid(), group)
        if cap_kb and rss > cap_kb:  # shared pages counted once per sharer: count them once
            rss = proportional_kb(os.getpid(), group)
        account["rss_peak_kb"] = max(account["rss_peak_kb"], rss)
        if cap_kb and rss > cap_kb:
            account["memory_cap_hit"] = True
            _kill_all_but_me(own_namespace, child)
        while True:  # reap every child (PID 1 inherits the orphans), note the kernel's end
            try:
                pid, code = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                break
            if pid == 0:
                break
            if pid == child:
                status = code
    _kill_all_but_me(own_namespace, child)
    if os.WIFSIGNALED(status):
        account["signal"] = os.WTERMSIG(status)
        near = cap_kb and account["vm_peak_kb"] >= NEAR_CAP * cap_kb
        if near and account["signal"] in (signal.SIGKILL, signal.SIGSEGV, signal.SIGABRT):
            account["memory_cap_hit"] = True
    else:
        account["exit"] = os.WEXITSTATUS(status)
    return account


def build_parser() -> argparse.ArgumentParser:
    """The monitor's options (what the launcher passes)."""
    parser = argparse.ArgumentParser(prog="monitor.py", description=__doc__.split("\n")[0])
    parser.add_argument("--status-fd", type=int, default=None)
    parser.add_argument("--memory-mb", type=int, default=None)
    parser.add_argument("--pids", type=int, default=None)
    parser.add_argument("--files", type=int, default=None)
    parser.add_argument("--file-size-mb", type=int, default=None)
    parser.add_argument("--cpu-seconds", type=int, default=None)
    parser.add_argument("command", nargs=argparse.REMAINDER)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run as PID 1 of the sandbox: limits, watch, account on ``--status-fd``, same exit."""
    args = build_parser().parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        print("monitor.py: give the command after --", file=sys.stderr)
        return 2
    _prctl(PR_SET_DUMPABLE, 0)  # the kernel (same user) cannot trace or read this process
    signal.signal(signal.SIGINT, signal.SIG_DFL)  # as PID 1: ignored from inside
    account = run(command, args, own_namespace=os.getpid() == 1)
    if args.status_fd is not None:
        try:
            os.write(args.status_fd, (json.dumps(account) + "\n").encode())
            os.close(args.status_fd)
        except OSError:
            pass
    if account["signal"]:
        return 128 + account["signal"]
    return account["exit"] or 0


if __name__ == "__main__":
    sys.exit(main())
