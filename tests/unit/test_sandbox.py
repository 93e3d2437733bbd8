"""Tests of the sandbox launcher (mlops_kit.execution.sandbox) and of the runner's Limits.

The launcher is exercised in subprocesses (it changes namespaces of the process it runs
in). Where this machine cannot make namespaces, the tests assert the honest fallback
(a note saying the limit was not enforced) instead of the limit itself; which case
applies is decided with util-linux's ``unshare``, independently of the kit's code.
"""

from __future__ import annotations

import json
import os
import shutil
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

pytestmark = pytest.mark.runner

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "notebooks"
PY = sys.executable


def fx(name: str) -> Path:
    return FIXTURES / f"{name}.ipynb"


def _os_allows(*flags: str) -> bool:
    if not sys.platform.startswith("linux") or shutil.which("unshare") is None:
        return False
    done = subprocess.run(["unshare", *flags, "true"], capture_output=True)
    return done.returncode == 0


NAMESPACES = _os_allows("--user", "--net", "--mount", "--pid", "--fork", "--mount-proc")


def launch(tmp_path: Path, *options: str, code: str) -> tuple[subprocess.CompletedProcess, dict]:
    report = tmp_path / "report.json"
    done = subprocess.run(
        [
            PY,
            "-m",
            "mlops_kit.execution.sandbox",
            "--report",
            str(report),
            *options,
            "--",
            PY,
            "-c",
            code,
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    text = report.read_text() if report.exists() else ""
    data = json.loads(text) if text else {}  # empty when the launcher ran nothing
    return done, data


@pytest.fixture
def server():
    """A 127.0.0.1 TCP server that answers 'hello' to every connection."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(8)
    stop = threading.Event()

    def serve():
        while not stop.is_set():
            try:
                conn, _ = srv.accept()
            except OSError:
                return
            with conn:
                conn.sendall(b"hello")

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield srv.getsockname()[1]
    stop.set()
    srv.close()


@pytest.fixture
def secret(tmp_path):
    folder = tmp_path / "key"
    folder.mkdir()
    (folder / "answers.txt").write_text("THE KEY")
    return folder


# ----------------------------------------------------------------------------- launcher


def test_launcher_runs_the_command_and_passes_its_exit_code(tmp_path):
    done, report = launch(tmp_path, code="import sys; print('hi'); sys.exit(7)")
    assert done.returncode == 7
    assert done.stdout == "hi\n"
    assert report["notes"] == []


def test_launcher_memory_cap_gives_memory_error(tmp_path):
    code = "b = bytearray(600 * 1024 * 1024)"
    done, report = launch(tmp_path, "--memory-mb", "300", code=code)
    assert done.returncode == 1 and "MemoryError" in done.stderr
    assert report["applied"]["memory_mb"] == 300
    free, _ = launch(tmp_path, code=code)
    assert free.returncode == 0  # the same allocation without the cap works


def test_launcher_cuts_network_loopback_included(tmp_path, server):
    code = (
        "import socket\n"
        f"print(socket.create_connection(('127.0.0.1', {server}), timeout=3).recv(5).decode())"
    )
    allowed, _ = launch(tmp_path, code=code)
    assert allowed.stdout.strip() == "hello"
    cut, report = launch(tmp_path, "--no-network", code=code)
    if NAMESPACES:
        assert cut.returncode != 0, cut.stdout
        assert "hello" not in cut.stdout and "OSError" in cut.stderr
        assert report["applied"]["network"] == "cut"
    else:
        assert any("NOT cut" in note for note in report["notes"])


def test_launcher_hides_folders_and_files(tmp_path, secret):
    single = tmp_path / "gradebook.sqlite"
    single.write_text("grades")
    code = (
        "import os, sys\n"
        f"print(sorted(os.listdir({str(secret)!r})))\n"
        "for path, mode in ["
        f"({str(secret / 'new.txt')!r}, 'w'), ({str(single)!r}, 'r'), ({str(single)!r}, 'a')]:\n"
        "    try:\n"
        "        open(path, mode)\n"
        "        print('opened', path, mode)\n"
        "    except OSError as exc:\n"
        "        print('refused', type(exc).__name__)\n"
        "print(os.listdir('/proc/1/root' + " + repr(str(secret)) + "))\n"
    )
    done, report = launch(tmp_path, "--hide", str(secret), "--hide", str(single), code=code)
    if not NAMESPACES:
        assert any("NOT hidden" in note for note in report["notes"])
        return
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == "[]"  # the folder looks empty
    assert all(line.startswith("refused") for line in lines[1:4]), lines
    assert lines[4] == "[]"  # /proc/1 is the sandboxed process itself, not the host's init
    assert report["applied"]["hidden"] == [str(secret), str(single)]
    # nothing leaked to the host: the files are still there, unchanged
    assert (secret / "answers.txt").read_text() == "THE KEY"
    assert not (secret / "new.txt").exists()
    assert single.read_text() == "grades"


def test_launcher_process_cannot_undo_the_cover(tmp_path, secret):
    if not NAMESPACES or shutil.which("umount") is None:
        pytest.skip("needs namespaces and umount")
    code = (
        "import os, subprocess\n"
        f"subprocess.run(['umount', {str(secret)!r}], capture_output=True)\n"
        f"print(os.listdir({str(secret)!r}))"
    )
    done, _ = launch(tmp_path, "--hide", str(secret), code=code)
    assert done.stdout.strip() == "[]"


def test_launcher_without_namespaces_says_so(tmp_path):
    # Pretend to be macOS: the command must still run, with honest notes.
    code = (
        "import sys; sys.platform = 'darwin'\n"
        "from mlops_kit.execution import sandbox\n"
        f"sys.exit(sandbox.main(['--report', {str(tmp_path / 'r.json')!r}, '--no-network', "
        f"'--hide', {str(tmp_path)!r}, '--', {PY!r}, '-c', 'print(42)']))"
    )
    done = subprocess.run([PY, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.stdout.strip() == "42"
    notes = json.loads((tmp_path / "r.json").read_text())["notes"]
    assert any("network was NOT cut" in n for n in notes)
    assert any("NOT hidden" in n for n in notes)


def test_launcher_mirrors_a_fatal_signal(tmp_path):
    done, _ = launch(tmp_path, code="import os, signal; os.kill(os.getpid(), signal.SIGKILL)")
    assert done.returncode == -9


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


def _children(pid: int) -> list[int]:
    procs = [int(p.name) for p in Path("/proc").iterdir() if p.name.isdigit()]
    return [child for child in procs if _stat(child)[1:2] == [str(pid)]]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="parent-death signal: Linux")
@pytest.mark.parametrize("way", ["exec", "fork"])
def test_launched_command_dies_with_the_process_that_started_it(tmp_path, way):
    """A grader killed with SIGKILL must not leave its kernels running (a loop burns a core).

    A stand-in for the batch worker starts the launcher the way jupyter_client starts a
    kernel (its own session), then is SIGKILLed: the launched command must be gone within
    seconds. ``--memory-mb`` alone makes the launcher exec the command; a hidden path
    makes it fork the command into a new PID namespace (where this machine has them).
    """
    if way == "exec":
        options = ["--memory-mb", "512"]
    else:
        if not NAMESPACES:
            pytest.skip("this machine cannot make namespaces: the launcher does not fork")
        (tmp_path / "hidden").mkdir()
        options = ["--no-network", "--hide", str(tmp_path / "hidden")]
    report_path = tmp_path / "r.json"
    launcher = [PY, "-m", "mlops_kit.execution.sandbox", "--report", str(report_path), *options]
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
        while time.monotonic() < deadline and not launched:
            if report_path.exists() and report_path.read_text():
                pid = json.loads(report_path.read_text())["pid"]
                launched = [pid, *_children(pid)]  # the command itself, or launcher + child
            time.sleep(0.05)
        assert launched and all(_alive(pid) for pid in launched)
        assert len(launched) == (1 if way == "exec" else 2)
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
@pytest.mark.parametrize("hide", [False, True])
def test_launcher_runs_nothing_when_its_starter_is_already_gone(tmp_path, hide):
    # --parent names a process that is not the launcher's parent: as if it had died
    options = ["--parent", "1", *(["--hide", str(tmp_path)] if hide and NAMESPACES else [])]
    done, _ = launch(tmp_path, *options, code="print('ran')")
    assert done.returncode == 1 and "ran" not in done.stdout
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


def test_network_cut_inside_the_kernel(server):
    cut = run_notebook(fx("connects"), {"port": server}, limits=Limits(network=False))
    allowed = run_notebook(fx("connects"), {"port": server}, limits=Limits(network=True))
    assert allowed.records["reply"] == "hello"
    assert cut.status == "ok", cut.error
    if NAMESPACES:
        assert cut.records["reply"].startswith("ERROR"), cut.records
        assert cut.notes == []
    else:
        assert cut.records["reply"] == "hello"
        assert any("NOT cut" in note for note in cut.notes)


def test_hidden_key_cannot_be_read_from_the_kernel(secret, tmp_path):
    key = secret / "answers.txt"
    seen = run_notebook(fx("reads_file"), {"path": str(key)}, cwd=tmp_path / "w")
    assert seen.records["text"] == "THE KEY"  # the fixture does read it when not hidden
    hidden = run_notebook(
        fx("reads_file"), {"path": str(key)}, cwd=tmp_path / "w", limits=Limits(hide_paths=[secret])
    )
    if NAMESPACES:
        assert hidden.records["text"].startswith("ERROR")
        assert hidden.status == "cell_error"  # the fixture's last cell reads it unguarded
    else:
        assert any("NOT hidden" in note for note in hidden.notes)


def test_hide_paths_refuses_to_hide_the_working_directory(tmp_path):
    with pytest.raises(KitError, match="working directory"):
        run_notebook(fx("ok"), cwd=tmp_path / "w", limits=Limits(hide_paths=[tmp_path]))


def test_all_limits_together_on_an_honest_notebook(secret, server, tmp_path):
    limits = Limits(memory_mb=1024, output_bytes=1_000_000, network=False, hide_paths=[secret])
    result = run_notebook(fx("ok"), {"n": 4}, tmp_path / "o.ipynb", limits=limits)
    assert result.status == "ok", result.error
    assert result.records["total"] == 14


def test_read_only_lets_the_kernel_write_only_in_its_folder(tmp_path):
    outside = tmp_path / "outside.txt"
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
        "record('inside', attempt('inside.txt'))\n"
        "with tempfile.NamedTemporaryFile() as scratch:\n"
        "    record('tmp', 'ok')\n"
    )
    work = tmp_path / "work"
    free = run_notebook(nb, cwd=work, timeout_cell=30)
    assert free.records["outside"] == "wrote"  # the notebook does write when allowed
    outside.unlink()
    locked = run_notebook(nb, cwd=work, limits=Limits(read_only=True), timeout_cell=30)
    assert locked.status == "ok", locked.error
    assert locked.records["inside"] == "wrote" and locked.records["tmp"] == "ok"
    if NAMESPACES:
        assert locked.records["outside"] == "OSError"
        assert not outside.exists()
        assert locked.notes == []
    else:
        assert any("read-only" in note for note in locked.notes)


def test_launcher_read_only_except_writable(tmp_path):
    code = (
        "for path in ["
        f"{str(tmp_path / 'w' / 'a.txt')!r}, {str(tmp_path / 'b.txt')!r}]:\n"
        "    try:\n"
        "        open(path, 'w').write('x')\n"
        "        print('wrote')\n"
        "    except OSError as exc:\n"
        "        print(exc.errno)\n"
    )
    (tmp_path / "w").mkdir()
    done, report = launch(tmp_path, "--writable", str(tmp_path / "w"), code=code)
    if not NAMESPACES:
        assert any("read-only" in note for note in report["notes"])
        return
    assert done.stdout.split() == ["wrote", "30"]  # 30 = EROFS
    assert report["applied"]["read_only"]["failed"] == 0
