"""A grader's life: killed midway it leaves nothing running; one run per output folder;
a corrupt gradebook or an unwritable output folder is one paragraph, not a traceback."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import nbformat
import pytest

from tests.homework import builders as hw

from .conftest import (
    PY,
    grade_command,
    grader_env,
    install_key,
    processes_naming,
    wait_for_no_processes,
)

pytestmark = pytest.mark.homework


def _sleeper(path: Path) -> Path:
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell("n = 0", metadata={"tags": ["parameters"]}),
        nbformat.v4.new_code_cell("import time\ntime.sleep(300)"),
    ]
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    return hw.write(nb, path)


def _wait_for_kernels(marker: str, count: int, seconds: float = 120) -> list[int]:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        kernels = [
            pid for pid in processes_naming(marker)
            if b"ipykernel_launcher" in Path(f"/proc/{pid}/cmdline").read_bytes()
        ]  # fmt: skip
        if len(kernels) >= count:
            return kernels
        time.sleep(0.3)
    return []


def _kill_main_only(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGKILL)  # the main process alone, as the OOM killer would
    proc.wait(30)


def test_a_killed_grader_leaves_nothing_running(tmp_path, practice_key_path, isolation):
    key = install_key(tmp_path, practice_key_path)
    subs = tmp_path / "subs"
    sol = hw.solution()
    for i in range(3):
        hw.write(hw.insert_code(sol, f"import time\ntime.sleep(300)  # {i}"), subs / f"s{i}.ipynb")
    proc = subprocess.Popen(
        grade_command(subs, key, tmp_path / "out"),
        env=grader_env(tmp_path),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        kernels = _wait_for_kernels(str(tmp_path), 2)
        assert kernels, "the grader started no kernel"
        before = processes_naming(str(tmp_path))
        assert len(before) > len(kernels)  # fork server, workers, launchers, monitors too
    finally:
        _kill_main_only(proc)
    left = wait_for_no_processes(str(tmp_path), 20)
    assert not left, f"processes outlived the killed grader: {left}"


def test_a_killed_batch_leaves_nothing_running(tmp_path):
    notebook = _sleeper(tmp_path / "sleeper.ipynb")
    grid = tmp_path / "grid.yaml"
    grid.write_text(
        f"notebook: {notebook}\ngrid:\n  n: [1, 2]\nworkers: 2\noutput: {tmp_path}/out\n"
    )
    proc = subprocess.Popen(
        [PY, "-m", "mlops_kit", "batch", str(grid)],
        env=grader_env(tmp_path),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        assert _wait_for_kernels(str(tmp_path), 2), "the batch started no kernel"
    finally:
        _kill_main_only(proc)
    left = wait_for_no_processes(str(tmp_path), 20)
    assert not left, f"processes outlived the killed batch: {left}"


def test_one_run_per_output_folder(tmp_path, practice_key_path, isolation):
    key = install_key(tmp_path, practice_key_path)
    subs = tmp_path / "subs"
    hw.write(hw.insert_code(hw.solution(), "import time\ntime.sleep(300)"), subs / "slow.ipynb")
    out = tmp_path / "out"
    first = subprocess.Popen(
        grade_command(subs, key, out),
        env=grader_env(tmp_path),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        assert _wait_for_kernels(str(tmp_path), 1)
        second = subprocess.run(
            grade_command(subs, key, out), env=grader_env(tmp_path), capture_output=True,
            text=True, timeout=300,
        )  # fmt: skip
        assert second.returncode != 0
        assert "Another grading run is writing to" in second.stderr
        assert str(first.pid) in second.stderr and "Traceback" not in second.stderr
    finally:
        os.killpg(first.pid, signal.SIGKILL)
        first.wait(30)
        wait_for_no_processes(str(tmp_path), 20)
    # the dead run's lock is taken over: a form-only folder grades at once
    (subs / "slow.ipynb").unlink()
    hw.form_json(subs / "ana.json", {"q1": 1})
    again = subprocess.run(grade_command(subs, key, out), env=grader_env(tmp_path),
                           capture_output=True, text=True, timeout=300)  # fmt: skip
    assert again.returncode == 0, again.stderr


def test_a_corrupt_gradebook_is_one_paragraph(tmp_path, practice_key_path):
    key = install_key(tmp_path, practice_key_path)
    subs = tmp_path / "subs"
    subs.mkdir()
    hw.form_json(subs / "ana.json", {"q1": 1})
    out = tmp_path / "out"
    out.mkdir()
    (out / "gradebook.sqlite").write_bytes(b"this is not a database" * 100)
    done = subprocess.run(grade_command(subs, key, out), env=grader_env(tmp_path),
                          capture_output=True, text=True, timeout=300)  # fmt: skip
    assert done.returncode != 0 and "Traceback" not in done.stderr
    assert "not a readable SQLite database" in done.stderr and "Move it aside" in done.stderr
    (out / "gradebook.sqlite").rename(out / "gradebook.sqlite.bad")
    done = subprocess.run(grade_command(subs, key, out), env=grader_env(tmp_path),
                          capture_output=True, text=True, timeout=300)  # fmt: skip
    assert done.returncode == 0, done.stderr
    if os.geteuid() == 0:
        return  # root writes anywhere: the unwritable case needs an ordinary user
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    done = subprocess.run(grade_command(subs, key, locked / "out"), env=grader_env(tmp_path),
                          capture_output=True, text=True, timeout=300)  # fmt: skip
    assert done.returncode != 0 and "Traceback" not in done.stderr
