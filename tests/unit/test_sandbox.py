"""Tests of the sandbox launcher (mlops_kit.execution.sandbox) and of the runner's Limits.

The launcher is exercised in subprocesses, as the runner starts it. Isolation needs
bubblewrap and user namespaces: where this machine lacks them the isolation tests skip, and
the tests of the refusal (a clear error naming the fix) run instead. CI installs bubblewrap
(``make test`` checks for it), so there they all run.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from mlops_kit.errors import KitError
from mlops_kit.execution.runner import Limits, run_notebook
from mlops_kit.execution.sandbox import isolation_available

pytestmark = pytest.mark.runner

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "notebooks"
PY = sys.executable
ISOLATION = isolation_available()
needs_isolation = pytest.mark.skipif(
    not ISOLATION["available"], reason=f"no sandbox here: {ISOLATION['problem']}"
)


def fx(name: str) -> Path:
    return FIXTURES / f"{name}.ipynb"


def launch(tmp_path: Path, *options: str, code: str, work: Path | None = None):
    """Run ``python -c code`` through the launcher; return (process, report)."""
    report = tmp_path / "report.json"
    work = work or tmp_path / "work"
    work.mkdir(exist_ok=True)
    argv = [PY, "-m", "mlops_kit.execution.sandbox", "--report", str(report)]
    argv += ["--work", str(work), *options, "--", PY, "-c", code]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=120)
    text = report.read_text() if report.exists() else ""
    return done, (json.loads(text) if text else {})


def said(report: dict) -> list[str]:
    """The lines the sandboxed command printed (the launcher keeps them in the report)."""
    return (report.get("stderr_tail") or "").splitlines()


@pytest.fixture
def server():
    """A 127.0.0.1 TCP server that answers 'hello' to every connection."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(8)

    def serve():
        while True:
            try:
                conn, _ = srv.accept()
            except OSError:
                return
            with conn:
                conn.sendall(b"hello")

    threading.Thread(target=serve, daemon=True).start()
    yield srv.getsockname()[1]
    srv.close()


@pytest.fixture
def secret(tmp_path):
    folder = tmp_path / "key"
    folder.mkdir()
    (folder / "answers.txt").write_text("THE KEY")
    return folder


# ----------------------------------------------------------------------------- launcher


@needs_isolation
def test_launcher_passes_the_exit_code_and_keeps_the_output_off_the_terminal(tmp_path):
    done, report = launch(tmp_path, code="import sys; print('hi'); sys.exit(7)")
    assert done.returncode == 7
    assert done.stdout == "" and said(report) == ["hi"]
    assert report["monitor"]["exit"] == 7
    assert report["applied"]["isolation"] == "bubblewrap"


@needs_isolation
def test_the_kernel_sees_an_allow_list_only(tmp_path, secret):
    code = (
        "import os, sys, tempfile\n"
        "print(sorted(os.listdir('/')))\n"
        f"print(os.path.exists({str(secret)!r}))\n"
        "print(sorted(os.listdir('/tmp')), os.environ['HOME'], tempfile.gettempdir())\n"
        "print(os.path.exists(sys.prefix), os.path.exists('/usr/lib'))\n"
    )
    done, report = launch(tmp_path, code=code)
    assert done.returncode == 0, report
    top, hidden, tmp, python = said(report)
    # The system folders, plus the top folder of whatever the sandbox must mount to run Python
    # and the notebook: the interpreter, the project checkout and the grading folder. Where the
    # checkout lives differs between machines (/work, /home/runner, /check/...).
    mounted = {Path(p).resolve().parts[1] for p in (sys.prefix, sys.base_prefix, tmp_path,
                                                     Path(__file__).resolve())}  # fmt: skip
    system = {"bin", "dev", "etc", "home", "lib", "lib32", "lib64", "libx32", "proc", "root",
              "run", "sbin", "tmp", "usr", "var", "opt", "srv", "mnt"}  # fmt: skip
    assert set(eval(top)) <= system | mounted
    assert hidden == "False"  # the key folder is simply not there
    assert python == "True True"
    assert "/home/sandbox /tmp" in tmp


@needs_isolation
def test_root_s_kernel_runs_as_a_fresh_unprivileged_user(tmp_path):
    if os.geteuid() != 0:
        pytest.skip("the uid change is for a grader running as root")
    private = tmp_path / "work" / "root-only.txt"
    (tmp_path / "work").mkdir()
    private.write_text("secret")
    private.chmod(0o600)
    os.chown(private, 0, 0)
    code = (
        "import os\n"
        "print(os.getuid(), os.getgid(), os.getgroups())\n"
        "print(open('/proc/self/status').read().split('CapEff:')[1].split()[0])\n"
        "try:\n    open('root-only.txt').read(); print('read')\n"
        "except OSError as e: print(e.errno)\n"
        "try:\n    open('/etc/shadow').read(); print('read')\nexcept OSError as e: print(e.errno)\n"
    )
    done, report = launch(tmp_path, code=code)
    ids, caps, own, shadow = said(report)
    uid = report["applied"]["uid"]
    assert uid >= 0x70000000 and ids.split()[0] == str(uid)
    assert caps == "0000000000000000"
    # its own folder is given to it for the run, the files in it too: 0600 stays readable
    # to it, and ownership comes back to root afterwards
    assert own == "read" and os.stat(private).st_uid == 0
    assert shadow == "13"  # EACCES: not root on the host


@needs_isolation
def test_launcher_memory_cap_gives_memory_error(tmp_path):
    code = "b = bytearray(600 * 1024 * 1024)"
    done, report = launch(tmp_path, "--memory-mb", "300", code=code)
    assert done.returncode == 1 and "MemoryError" in report["stderr_tail"]
    free, _ = launch(tmp_path, code=code)
    assert free.returncode == 0  # the same allocation without the cap works


@needs_isolation
def test_memory_spread_over_forked_processes_hits_the_cap(tmp_path):
    code = (
        "import os, time\n"
        "for _ in range(6):\n"
        "    if os.fork() == 0:\n"
        "        b = bytearray(200 * 1024 * 1024); time.sleep(30); os._exit(0)\n"
        "time.sleep(30)\n"
    )
    started = time.monotonic()
    done, report = launch(tmp_path, "--memory-mb", "500", code=code)
    assert report["monitor"]["memory_cap_hit"] is True
    assert done.returncode == -signal.SIGKILL and time.monotonic() - started < 25


@needs_isolation
def test_launcher_cuts_the_network_loopback_included(tmp_path, server):
    code = (
        "import socket\n"
        "try:\n"
        f"    conn = socket.create_connection(('127.0.0.1', {server}), timeout=3)\n"
        "    print(conn.recv(5).decode())\n"
        "except OSError as exc:\n    print('refused', exc.errno)\n"
    )
    cut, report = launch(tmp_path, code=code)
    assert said(report)[0].startswith("refused"), report
    allowed, report = launch(tmp_path, "--network", code=code)
    assert said(report) == ["hello"]


@needs_isolation
def test_hidden_paths_are_covered_even_inside_an_allowed_folder(tmp_path, secret):
    code = (
        "import os\n"
        f"print(sorted(os.listdir({str(secret)!r})))\n"
        "try:\n"
        f"    open({str(secret / 'answers.txt')!r}); print('opened')\n"
        "except OSError as exc:\n    print('refused', type(exc).__name__)\n"
    )
    shown, report = launch(tmp_path, "--ro", str(secret), code=code)
    assert said(report) == ["['answers.txt']", "opened"]
    done, report = launch(tmp_path, "--ro", str(secret), "--hide", str(secret), code=code)
    assert said(report) == ["[]", "refused FileNotFoundError"]


@needs_isolation
def test_only_the_work_folder_is_writable_and_tmp_is_private(tmp_path):
    (tmp_path / "data").mkdir()
    code = (
        "import os\n"
        f"for path in ['mine.txt', '/tmp/t.txt', {str(tmp_path / 'data' / 'x.txt')!r}, '/x']:\n"
        "    try:\n        open(path, 'w').write('x'); print('wrote')\n"
        "    except OSError as exc:\n        print(exc.errno)\n"
    )
    done, report = launch(tmp_path, "--ro", str(tmp_path / "data"), code=code)
    assert said(report) == ["wrote", "wrote", "30", "30"]  # 30: read-only file system
    assert (tmp_path / "work" / "mine.txt").exists()
    assert not Path("/tmp/t.txt").exists() and not (tmp_path / "data" / "x.txt").exists()


@needs_isolation
def test_launcher_mirrors_a_fatal_signal_and_survives_a_kill_of_its_parent(tmp_path):
    done, report = launch(tmp_path, code="import os, signal; os.kill(os.getpid(), signal.SIGKILL)")
    assert done.returncode == -9 and report["monitor"]["signal"] == 9
    assert report["monitor"]["memory_cap_hit"] is False
    code = "import os, signal; os.kill(os.getppid(), signal.SIGKILL); print('still here')"
    done, report = launch(tmp_path, code=code)
    assert done.returncode == 0 and said(report) == ["still here"]


def test_check_plan_refuses_to_show_a_folder_holding_tmp_or_a_home():
    from mlops_kit.execution.bwrap import SandboxUnavailableError, check_plan

    for folder in ("/", "/home", os.path.expanduser("~")):
        with pytest.raises(SandboxUnavailableError, match="holds"):
            check_plan([folder], ["/tmp/work"], [])
    with pytest.raises(SandboxUnavailableError, match="hide"):
        check_plan([], ["/tmp/work/job"], ["/tmp/work"])
    check_plan(["/usr"], ["/tmp/work/job"], ["/tmp/key"])  # fine


def test_without_bubblewrap_isolation_is_unavailable_with_a_fix(tmp_path):
    code = (
        "import os, json\n"
        "os.environ['PATH'] = '/nonexistent'\n"
        "from mlops_kit.execution.sandbox import isolation_available\n"
        "print(json.dumps(isolation_available()))\n"
    )
    done = subprocess.run([PY, "-c", code], capture_output=True, text=True, timeout=60)
    info = json.loads(done.stdout)
    assert info["available"] is False and "bubblewrap" in info["problem"]
    assert "apt-get install bubblewrap" in info["fix"] and "--unsafe" in info["fix"]


def test_isolation_none_applies_only_the_limits_and_says_so(tmp_path):
    code = "import os; print(os.getuid()); b = bytearray(600 * 1024 * 1024)"
    done, report = launch(tmp_path, "--isolation", "none", "--memory-mb", "300", code=code)
    assert done.returncode == 1 and "MemoryError" in done.stderr
    assert done.stdout.strip() == str(os.getuid())
    assert report["applied"]["isolation"] == "none"
    assert any("NOT isolated" in note for note in report["notes"])


def _stat(pid: int) -> list[str]:
    """Fields of /proc/PID/stat after the command name: [state, ppid, ...], or []."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return []


def _alive(pid: int) -> bool:
    """True while ``pid`` runs (a zombie waiting for its reaper counts as gone)."""
    fields = _stat(pid)
    return bool(fields) and fields[0] not in ("Z", "X")


def _descendants(pid: int) -> list[int]:
    procs = {int(p.name): _stat(int(p.name)) for p in Path("/proc").iterdir() if p.name.isdigit()}
    found, frontier = [], [pid]
    while frontier:
        parent = frontier.pop()
        kids = [c for c, fields in procs.items() if fields[1:2] == [str(parent)]]
        found += kids
        frontier += kids
    return found


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="parent-death signal: Linux")
@pytest.mark.parametrize("isolation", ["bwrap", "none"])
def test_launched_command_dies_with_the_process_that_started_it(tmp_path, isolation):
    """A grader killed with SIGKILL must not leave its kernels running (a loop burns a core).

    A stand-in for the batch worker starts the launcher the way jupyter_client starts a
    kernel (its own session), then is SIGKILLed: the launcher, bubblewrap, the monitor and
    the command must all be gone within seconds.
    """
    if isolation == "bwrap" and not ISOLATION["available"]:
        pytest.skip("no sandbox here")
    report_path = tmp_path / "r.json"
    (tmp_path / "work").mkdir()
    launcher = [PY, "-m", "mlops_kit.execution.sandbox", "--report", str(report_path)]
    launcher += ["--isolation", isolation, "--work", str(tmp_path / "work")]
    command = [PY, "-c", "import time; time.sleep(120)"]
    worker = (
        "import subprocess, time\n"
        f"subprocess.Popen({[*launcher, '--', *command]!r}, start_new_session=True)\n"
        "time.sleep(120)\n"
    )
    stand_in = subprocess.Popen([PY, "-c", worker])
    launched: list[int] = []
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and len(launched) < 2:
            if report_path.exists() and report_path.read_text():
                pid = json.loads(report_path.read_text())["pid"]
                launched = [pid, *_descendants(pid)]
            time.sleep(0.1)
        time.sleep(1)
        launched = [launched[0], *_descendants(launched[0])]
        assert all(_alive(pid) for pid in launched) and len(launched) >= 2
    finally:
        stand_in.kill()
        stand_in.wait(10)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and any(_alive(pid) for pid in launched):
        time.sleep(0.05)
    survivors = [pid for pid in launched if _alive(pid)]
    for pid in survivors:
        os.kill(pid, signal.SIGKILL)
    assert not survivors, "the launched command outlived the process that started it"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="parent-death signal: Linux")
def test_launcher_runs_nothing_when_its_starter_is_already_gone(tmp_path):
    # --parent names a process that is not the launcher's parent: as if it had died
    done, report = launch(tmp_path, "--parent", "1", code="print('ran')")
    assert done.returncode == 1 and "ran" not in done.stdout + str(report)
    assert "is gone" in done.stderr


def test_launcher_needs_a_command():
    done = subprocess.run(
        [PY, "-m", "mlops_kit.execution.sandbox", "--"], capture_output=True, text=True
    )
    assert done.returncode == 2 and "command" in done.stderr


# ----------------------------------------------------------------------------- via run_notebook


def test_memory_bomb_is_out_of_memory(tmp_path):
    result = run_notebook(
        fx("memory_bomb"), None, tmp_path / "o.ipynb", limits=Limits(memory_mb=700), timeout_cell=30
    )
    assert result.status == "out_of_memory", result.error
    assert "700 MiB" in result.error
    saved = json.loads((tmp_path / "o.ipynb").read_text())
    assert "bytearray" in "".join(saved["cells"][result.cell]["source"])


def test_memory_cap_leaves_room_for_a_normal_notebook():
    result = run_notebook(fx("ok"), limits=Limits(memory_mb=700), timeout_cell=30)
    assert result.status == "ok", result.error
    assert result.records["total"] == 5


def test_huge_output_is_stopped_and_not_saved(tmp_path):
    out = tmp_path / "o.ipynb"
    result = run_notebook(
        fx("huge_output"), None, out, limits=Limits(output_bytes=50_000), timeout_cell=60
    )
    assert result.status == "output_too_large", result.error
    saved = out.read_text()
    assert len(saved) < 60_000
    assert "spam spam" not in saved
    assert "a small output" in saved  # earlier cells keep their output
    assert json.loads(saved)["metadata"]["mlops_kit"]["status"] == "output_too_large"


def test_output_cap_not_hit_by_small_output():
    result = run_notebook(fx("ok"), limits=Limits(output_bytes=50_000), timeout_cell=30)
    assert result.status == "ok", result.error


@needs_isolation
def test_network_cut_inside_the_kernel(server):
    cut = run_notebook(fx("connects"), {"port": server}, limits=Limits(network=False))
    allowed = run_notebook(fx("connects"), {"port": server}, limits=Limits(network=True))
    assert allowed.records["reply"] == "hello"
    assert cut.status == "ok", cut.error
    assert cut.records["reply"].startswith("ERROR"), cut.records
    assert cut.notes == []


@needs_isolation
def test_hidden_key_cannot_be_read_from_the_kernel(secret, tmp_path):
    key = secret / "answers.txt"
    seen = run_notebook(fx("reads_file"), {"path": str(key)}, cwd=tmp_path / "w")
    assert seen.records["text"] == "THE KEY"  # the fixture does read it when not hidden
    hidden = run_notebook(
        fx("reads_file"), {"path": str(key)}, cwd=tmp_path / "w", limits=Limits(hide_paths=[secret])
    )
    assert hidden.records["text"].startswith("ERROR")
    assert hidden.status == "cell_error"  # the fixture's last cell reads it unguarded


def test_isolation_this_machine_cannot_give_is_refused_not_skipped(monkeypatch):
    from mlops_kit.execution import sandbox

    missing = {"available": False, "problem": "bubblewrap (bwrap) is not installed",
               "fix": sandbox.INSTALL_FIX}  # fmt: skip
    monkeypatch.setattr(sandbox, "isolation_available", lambda: missing)
    with pytest.raises(sandbox.SandboxUnavailableError, match="cannot be isolated"):
        run_notebook(fx("ok"), limits=Limits(network=False))


def test_hide_paths_refuses_to_hide_the_working_directory(tmp_path):
    with pytest.raises(KitError, match="working directory"):
        run_notebook(fx("ok"), cwd=tmp_path / "w", limits=Limits(hide_paths=[tmp_path]))


@needs_isolation
def test_all_limits_together_on_an_honest_notebook(secret, server, tmp_path):
    limits = Limits(
        memory_mb=1024, output_bytes=1_000_000, network=False, hide_paths=[secret],
        pids=128, open_files=512, file_size_mb=64, cpu_seconds=120,
    )  # fmt: skip
    result = run_notebook(fx("ok"), {"n": 4}, tmp_path / "o.ipynb", limits=limits)
    assert result.status == "ok", result.error
    assert result.records["total"] == 14


@needs_isolation
def test_read_only_lets_the_kernel_write_only_in_its_folder(tmp_path):
    shown = tmp_path / "data"
    shown.mkdir()
    outside, beside = shown / "outside.txt", tmp_path / "beside.txt"
    nb = json.loads(fx("no_parameters").read_text())
    nb["cells"][1]["source"] = (
        "import tempfile\n"
        "from mlops_kit.records import record\n"
        "def attempt(path):\n"
        "    try:\n"
        "        open(path, 'w').write('x')\n"
        "        return 'wrote'\n"
        "    except OSError as exc:\n"
        "        return type(exc).__name__\n"
        f"record('outside', attempt({str(outside)!r}))\n"
        f"record('beside', attempt({str(beside)!r}))\n"
        "record('inside', attempt('inside.txt'))\n"
        "with tempfile.NamedTemporaryFile() as scratch:\n"
        "    record('tmp', 'ok')\n"
    )
    work = tmp_path / "work"
    free = run_notebook(nb, cwd=work, timeout_cell=30)
    assert free.records["outside"] == "wrote"  # the notebook does write when allowed
    outside.unlink()
    beside.unlink()
    limits = Limits(read_only=True, read_paths=(shown,))
    locked = run_notebook(nb, cwd=work, limits=limits, timeout_cell=30)
    assert locked.status == "ok", locked.error
    assert locked.records["inside"] == "wrote" and locked.records["tmp"] == "ok"
    assert locked.records["outside"] == "OSError"  # a folder shown read-only
    # beside its folder, under /tmp, it writes into its own private /tmp: not the host's
    assert not outside.exists() and not beside.exists()
    assert (work / "inside.txt").exists()
    assert locked.notes == []


@needs_isolation
def test_the_work_folder_is_given_back_after_the_kernel_is_killed(tmp_path):
    """The runner ends kernels with SIGKILL; the lent folder still returns to its owner."""
    if os.geteuid() != 0:
        pytest.skip("folders are lent to another uid only when the grader is root")
    work = tmp_path / "work"
    work.mkdir()
    (work / "mine.txt").write_text("x")
    nb = json.loads(fx("no_parameters").read_text())
    nb["cells"][1]["source"] = "open('made.txt', 'w').write('y')"
    stages = set(Path("/tmp").glob("mlops-kit-stage-*"))
    result = run_notebook(nb, cwd=work, limits=Limits(read_only=True), timeout_cell=30)
    assert result.status == "ok", result.error
    deadline = time.monotonic() + 10
    owners = {}
    while time.monotonic() < deadline:
        owners = {p.name: p.stat().st_uid for p in [work, *work.iterdir()]}
        if set(owners.values()) == {0}:
            break
        time.sleep(0.1)
    assert owners == {"work": 0, "mine.txt": 0, "made.txt": 0}
    assert set(Path("/tmp").glob("mlops-kit-stage-*")) <= stages  # staging removed
