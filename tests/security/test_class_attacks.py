"""A class with attackers among honest learners, graded by a grader of the test's own.

One grading run (two workers, as root when the tests run as root, as CI does) is shared by
the tests of this module; each test checks one promise of issue 13 against it. The same
class is graded again as an ordinary user where this machine allows one to be made, and a
few attacks are run once unsandboxed (``--unsafe``) to prove that they do work when
nothing stops them, so the tests that say "it failed" can fail.
"""

from __future__ import annotations

import contextlib
import csv
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from mlops_kit.records import read_records

from . import builders
from .conftest import (
    PY,
    SECRET_ENV,
    install_key,
    run_grader,
    short_tmp,
    tree,
    wait_for_no_processes,
)

pytestmark = pytest.mark.homework


def _prepare(root: Path, key_path: Path) -> dict:
    for name in ("keys", "canary", "private", "subs"):
        (root / name).mkdir(parents=True, exist_ok=True)
    (root / "canary" / "keep.txt").write_text("untouched")
    secret = root / "private" / "root-only.txt"
    secret.write_text("ROOT ONLY")
    secret.chmod(0o600)
    key = install_key(root, key_path)
    tmp = short_tmp(root)  # the kernels' sockets then live among the folders attacked
    subs, out = root / "subs", root / "out"
    expect = builders.write_class(root, subs, key, out)
    return {"root": root, "tmp": tmp, "key": key, "subs": subs, "out": out, "expect": expect}


def _grade_class(setup: dict, prefix=()) -> dict:
    root = setup["root"]
    watched = ("subs", "keys", "canary", "private")  # (HOME is the grader's own to write)
    before = {name: tree(root / name) for name in watched}
    done, summary = run_grader(root, setup["subs"], setup["key"], setup["out"], prefix=prefix)
    after = {name: tree(root / name) for name in watched}
    left = wait_for_no_processes(str(root)) + wait_for_no_processes(str(setup["tmp"]))
    return {**setup, "done": done, "summary": summary, "before": before, "after": after,
            "left": left}  # fmt: skip


@pytest.fixture(scope="module")
def graded(tmp_path_factory, practice_key_path, isolation):
    setup = _prepare(tmp_path_factory.mktemp("class"), practice_key_path)
    yield _grade_class(setup)
    shutil.rmtree(setup["tmp"], ignore_errors=True)


def _rows(graded: dict) -> dict[str, dict]:
    assert graded["summary"] is not None, graded["done"].stderr[-3000:]
    return {row["submission"]: row for row in graded["summary"]["grades"]}


def _records(graded: dict, name: str) -> dict:
    stem = name.rsplit(".", 1)[0]
    found = list((graded["out"] / "executed").glob(f"{stem}-*.ipynb"))
    assert found, f"no executed notebook for {name}"
    return read_records(found[0])


def check_class(graded: dict) -> None:
    """Every promise of issue 13 that one grading run of the class can show."""
    rows = _rows(graded)
    expect = graded["expect"]
    # the grader finished, with one row per submission and the statuses and scores due
    assert graded["done"].returncode == 0, graded["done"].stderr[-3000:]
    assert set(rows) == set(expect)
    for name, want in expect.items():
        row = rows[name]
        got = (row["status"], row["score"])
        assert got == (want["status"], want["score"]), (name, row)
        assert want.get("flags", set()) <= set(row["flags"]), (name, row)
        if "in_reason" in want:
            assert want["in_reason"] in (row["reason"] or ""), (name, row)
        if "not_in_reason" in want:
            assert want["not_in_reason"] not in (row["reason"] or "").lower(), (name, row)
        if "student" in want:
            assert row["student"] == want["student"], (name, row)
    assert "bubblewrap" in graded["summary"]["isolation"]
    # nothing outside the jobs' folders changed, no marker of an escape, nothing left running
    assert graded["after"] == graded["before"]
    assert not (graded["root"] / "canary" / "PWNED-forkserver.txt").exists()
    assert not graded["left"], "processes of the grader outlived it"


def test_every_attack_fails_and_the_honest_learners_keep_full_marks(graded):
    check_class(graded)


def test_the_attackers_found_nothing_to_use(graded):
    key_text = graded["key"].read_text()
    hijack = _records(graded, "a02_hijacker.ipynb")["attack:hijack"]
    assert "executed" not in hijack.values(), hijack
    sent = _records(graded, "a04_forkserver.ipynb")["attack:forkserver"]
    assert not any("pymp" in path or "listener" in path for path in sent), sent
    seen = _records(graded, "a06_reader.ipynb")["attack:reader"]
    leaks = {k: v for k, v in seen.items() if isinstance(v, str) and v.startswith("read:")}
    assert not leaks, leaks
    assert all(v != "written" for v in seen.values()), seen
    for folder, real in (
        (graded["key"].parent, "practice.json"),
        (graded["subs"], "a01_victim.ipynb"),
        (graded["out"], "gradebook.sqlite"),
    ):
        assert real not in str(seen[str(folder)]), seen  # absent, never listed
    shown_root = seen["/root"]  # at most the way to the Python installation, if it is there
    assert shown_root in ("FileNotFoundError", "PermissionError", "listed:") or all(
        Path("/root", name)
        in [Path(sys.prefix).resolve(), *Path(sys.base_prefix).resolve().parents]
        for name in shown_root.split(":", 1)[1].split(",")
    ), shown_root
    assert SECRET_ENV not in seen["env"] and "s3cr3t" not in json.dumps(seen)
    if os.geteuid() == 0:
        assert seen["uid"] != 0
    assert all(entry["value"] not in json.dumps(seen) for entry in _key_answers(key_text))


def _key_answers(key_text: str) -> list[dict]:
    return [{"value": repr(e["value"])} for e in json.loads(key_text)["answers"].values()]


def test_privilege_games_inside_the_sandbox_all_fail(graded):
    done = _records(graded, "a08_escapes.ipynb")["attack:escapes"]
    assert done["unshare_user"] != "ok" and done["mount_tmpfs"] != "ok"
    assert done["ptrace_pid1"] != "ok"
    assert all(not v.startswith("read:") for k, v in done.items() if k.startswith("/proc/1"))
    assert all(done[f"tiocsti_{fd}"] != "typed" for fd in (0, 1, 2))
    assert done["mount"] != "rc 0" and done.get("su") != "rc 0" and done.get("sudo") != "rc 0"
    assert done["forked"] < 256 and "fork_stopped_by" in done  # the process cap held
    assert done["fill big.bin"] == "File too large"
    assert done["fill /tmp/big.bin"] == "No space left on device"


def test_host_settings_cannot_be_written(graded):
    seen = _records(graded, "a06_reader.ipynb")["attack:reader"]
    assert seen["write /proc/sys/kernel/hostname"] != "written"
    assert seen["write /sys/power/state"] != "written"


def test_reports_escape_what_students_wrote_and_name_them_by_their_files(graded):
    out = graded["out"]
    with open(out / "grades.csv", newline="") as handle:
        rows = {r["submission"]: r for r in csv.DictReader(handle)}
    assert rows["f2_formula.csv"]["q1_value"].startswith("'=HYPERLINK")
    for row in rows.values():
        assert not any(str(v).startswith(("=", "+", "@")) for v in row.values()), row
    claimed = (out / "feedback" / "a01_victim.html").read_text()
    assert "6 / 6" in claimed and "f1_claims" not in claimed
    assert (out / "feedback" / "f1_claims.html").exists()
    # the symlinked form pointing at the key was refused, not read: no key path content shown
    refused = rows["f5_link.json"]
    assert refused["status"] == "invalid_form" and refused["q1_value"] == ""


def test_a_second_run_grades_nothing_and_agrees(graded):
    done, summary = run_grader(graded["root"], graded["subs"], graded["key"], graded["out"])
    assert done.returncode == 0, done.stderr[-2000:]
    assert summary["graded_now"] == 0
    first = {r["submission"]: (r["status"], r["score"]) for r in graded["summary"]["grades"]}
    again = {r["submission"]: (r["status"], r["score"]) for r in summary["grades"]}
    assert again == first


# ----------------------------------------------------------------------------- servers


def test_servers_of_the_host_are_out_of_reach(tmp_path, practice_key_path, isolation):
    """Unix sockets (in the grader's runtime folder and TMPDIR), an abstract socket, TCP, UDP."""
    import socket
    import threading

    from tests.homework import builders as hw

    from . import attacks

    root = tmp_path
    for name in ("keys", "subs", "run", "tmp"):
        (root / name).mkdir(exist_ok=True)
    key = install_key(root, practice_key_path)
    listeners = []

    def serve(sock, kind):
        listeners.append(sock)

        def loop():
            while True:
                try:
                    if kind == "dgram":
                        data, addr = sock.recvfrom(16)
                        sock.sendto(b"hello", addr)
                        continue
                    conn, _ = sock.accept()
                    conn.sendall(b"hello")
                    conn.close()
                except OSError:
                    return

        threading.Thread(target=loop, daemon=True).start()

    unix_paths = [str(root / "run" / "bus.sock"), str(root / "tmp" / "agent.sock")]
    for path in unix_paths:
        s = socket.socket(socket.AF_UNIX)
        s.bind(path)
        s.listen(4)
        serve(s, "stream")
    abstract = f"mlops-kit-test-{os.getpid()}"
    s = socket.socket(socket.AF_UNIX)
    s.bind("\0" + abstract)
    s.listen(4)
    serve(s, "stream")
    tcp = socket.socket()
    tcp.bind(("127.0.0.1", 0))
    tcp.listen(4)
    serve(tcp, "stream")
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp.bind(("127.0.0.1", 0))
    serve(udp, "dgram")
    cell = attacks.servers(unix_paths, abstract, tcp.getsockname()[1], udp.getsockname()[1])
    hw.write(hw.insert_code(hw.solution(), cell), root / "subs" / "caller.ipynb")
    try:
        done, summary = run_grader(root, root / "subs", key, root / "out")
    finally:
        for sock in listeners:
            sock.close()
    assert done.returncode == 0, done.stderr[-3000:]
    assert summary["grades"][0]["score"] == 6.0
    executed = next((root / "out" / "executed").glob("caller-*.ipynb"))
    got = read_records(executed)["attack:servers"]
    assert "hello" not in got.values(), got
    assert got["dns"] != "resolved"


# ----------------------------------------------------------------------------- controls


def test_unsandboxed_the_same_attacks_do_work(tmp_path, practice_key_path):
    """The control: with --unsafe the fork-server and hijack attacks succeed on this grader.

    Without this, a test asserting that an attack failed could pass because the attack was
    broken. The grader attacked is the test's own, in its own scratch folder.
    """
    from tests.homework import builders as hw

    from . import attacks

    root = tmp_path
    for name in ("keys", "canary", "subs"):
        (root / name).mkdir()
    key = install_key(root, practice_key_path)
    tmp = short_tmp(root)  # so the kernels' sockets, unsandboxed, are under the test's TMPDIR
    roots = [str(tmp), str(root / "run")]
    marker = root / "canary" / "PWNED-forkserver.txt"
    sol = hw.solution()
    hw.write(hw.insert_code(sol, attacks.sleep(15)), root / "subs" / "a1_victim.ipynb")
    hijack = attacks.hijack(roots, builders.BAD_VALUE)
    hw.write(hw.insert_code(sol, hijack), root / "subs" / "a2_hijacker.ipynb")
    forkserver = attacks.forkserver(roots, marker, key)
    hw.write(hw.insert_code(sol, forkserver), root / "subs" / "a3_forkserver.ipynb")
    try:
        done, summary = run_grader(
            root, root / "subs", key, root / "out", "--unsafe", no_bwrap=True
        )
        wait_for_no_processes(str(root))
        wait_for_no_processes(str(tmp))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    assert done.returncode == 0, done.stderr[-3000:]
    rows = {r["submission"]: r for r in summary["grades"]}
    assert summary["isolation"].startswith("NONE")
    assert all("unsandboxed" in r["flags"] for r in rows.values())
    assert rows["a1_victim.ipynb"]["score"] < 6.0, rows  # hijacked
    assert marker.exists() and marker.read_text() == key.read_text()  # key stolen


def test_grading_refuses_to_run_unsandboxed_without_unsafe(tmp_path, practice_key_path):
    from tests.homework import builders as hw

    (tmp_path / "keys").mkdir()
    key = install_key(tmp_path, practice_key_path)
    hw.write(hw.solution(), tmp_path / "subs" / "ana.ipynb")
    fake_bin = tmp_path / "bin"
    fake_bin.mkdir()
    os.symlink(PY, fake_bin / "python")
    env_path = f"{fake_bin}"  # a PATH without bwrap
    done = subprocess.run(
        [PY, "-m", "mlops_kit", "homework", "grade", str(tmp_path / "subs"), "--cohort",
         "practice", "--key", str(key), "--out", str(tmp_path / "out"), "--allow-synthetic-key"],
        env={**os.environ, "PATH": env_path}, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode != 0
    assert "cannot isolate" in done.stderr and "--unsafe" in done.stderr
    assert "Traceback" not in done.stderr


# ----------------------------------------------------------------------------- ordinary user


@contextlib.contextmanager
def _ordinary_user():
    """A throw-away ordinary user (its passwd entry), removed afterwards; or a skip."""
    if os.geteuid() != 0 or shutil.which("useradd") is None or shutil.which("setpriv") is None:
        pytest.skip("making an ordinary user needs root, useradd and setpriv")
    import pwd

    name = f"mlopsks{os.getpid() % 100000}"
    made = subprocess.run(["useradd", "--no-create-home", "--shell", "/usr/sbin/nologin", name],
                          capture_output=True, text=True)  # fmt: skip
    if made.returncode != 0:
        pytest.skip(f"useradd failed: {made.stderr.strip()}")
    try:
        yield pwd.getpwnam(name)
    finally:
        subprocess.run(["userdel", name], capture_output=True)


@pytest.fixture(scope="module")
def learner_account():
    """An ordinary user who can run the kit's Python, or a skip saying why not."""
    with _ordinary_user() as entry:
        probe = subprocess.run(
            ["setpriv", f"--reuid={entry.pw_uid}", f"--regid={entry.pw_gid}", "--clear-groups",
             PY, "-c", "import subprocess, sys; subprocess.run([sys.executable, '-c', "
             "'import mlops_kit, ipykernel'], check=True)"],
            capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        if probe.returncode != 0:
            last = (probe.stderr.strip().splitlines() or [""])[-1]
            pytest.skip(
                "an ordinary user cannot run this Python here (its installation is in a "
                f"folder only root may enter): {last[-200:]}"
            )
        yield entry


def test_the_class_graded_as_an_ordinary_user(tmp_path_factory, practice_key_path, isolation,
                                              learner_account):  # fmt: skip
    root = tmp_path_factory.mktemp("user-class")
    setup = _prepare(root, practice_key_path)
    uid, gid = learner_account.pw_uid, learner_account.pw_gid
    for path in [root, *root.rglob("*")]:
        if path.name != "root-only.txt":
            os.chown(path, uid, gid, follow_symlinks=False)
    for folder in [root, *root.parents]:  # let the user reach its scratch folder
        if str(folder) in ("/", "/tmp"):
            break
        folder.chmod(folder.stat().st_mode | 0o001)
    prefix = ["setpriv", f"--reuid={uid}", f"--regid={gid}", "--clear-groups"]
    os.chown(setup["tmp"], uid, gid)
    try:
        graded = _grade_class(setup, prefix=prefix)
        check_class(graded)
    finally:
        shutil.rmtree(setup["tmp"], ignore_errors=True)


def test_the_sandbox_as_an_ordinary_user_hides_the_user_s_own_files(tmp_path, learner_system):
    """The launcher run by an ordinary user (the system's Python, which any user may run):
    its kernel is that user in a user namespace, and sees none of the user's files."""
    uid, gid, python = learner_system
    home = tmp_path / "home"
    work = tmp_path / "work"
    for folder in (home, work):
        folder.mkdir()
        os.chown(folder, uid, gid)
    (home / "notes.txt").write_text("the user's own file")
    os.chown(home / "notes.txt", uid, gid)
    for folder in [tmp_path, *tmp_path.parents]:
        if str(folder) in ("/", "/tmp"):
            break
        folder.chmod(folder.stat().st_mode | 0o001)
    code = (
        "import os, socket\n"
        f"print(os.getuid(), os.path.exists({str(home / 'notes.txt')!r}))\n"
        "open('mine.txt', 'w').write('x')\n"
        "try:\n    socket.create_connection(('1.1.1.1', 53), timeout=2); print('online')\n"
        "except OSError:\n    print('offline')\n"
    )
    report = work / "report.json"
    lib = Path(__file__).resolve().parents[2] / "lib"
    done = subprocess.run(
        ["setpriv", f"--reuid={uid}", f"--regid={gid}", "--clear-groups",
         "env", f"PYTHONPATH={lib}", f"HOME={home}",
         python, "-m", "mlops_kit.execution.sandbox", "--work", str(work), "--report",
         str(report), "--", python, "-c", code],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    data = json.loads(report.read_text())
    assert data["applied"]["dropped_root"] is False and data["applied"]["uid"] == uid
    assert data["stderr_tail"].split() == [str(uid), "False", "offline"]
    assert (work / "mine.txt").exists() and (work / "mine.txt").stat().st_uid == uid


@pytest.fixture
def learner_system():
    """(uid, gid, python): an ordinary user and the system's Python it may run, or a skip."""
    python = "/usr/bin/python3"
    if not os.access(python, os.X_OK) or shutil.which("bwrap") is None:
        pytest.skip("needs the system's python3 and bubblewrap")
    with _ordinary_user() as entry:
        uid, gid = entry.pw_uid, entry.pw_gid
        probe = subprocess.run(
            ["setpriv", f"--reuid={uid}", f"--regid={gid}", "--clear-groups", python, "-c", "1"],
            capture_output=True, text=True,
        )  # fmt: skip
        if probe.returncode != 0:
            pytest.skip(f"the user cannot run {python}: {probe.stderr.strip()[-200:]}")
        yield uid, gid, python
