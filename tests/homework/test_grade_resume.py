"""The grader's safety claims can fail: without limits the attacks work; killed, it resumes."""

import os
import signal
import sqlite3
import subprocess
import sys
import time
from contextlib import closing
from pathlib import Path

import nbformat

from mlops_kit.execution.runner import run_notebook

from . import builders


def test_without_limits_the_attacks_succeed(tmp_path, practice_key_path):
    """The hostile cells of test_grade really find the key and write outside their folder."""
    out, subs, canary = tmp_path / "out", tmp_path / "subs", tmp_path / "canary"
    for folder in (out, subs, canary):
        folder.mkdir()
    (canary / "keep.txt").write_text("untouched")
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell("from mlops_kit.homework import answer"),
        nbformat.v4.new_code_cell(
            builders.key_search_source(practice_key_path, [practice_key_path.parent], {})
        ),
        nbformat.v4.new_code_cell(builders.gradebook_attack_source(out, subs, canary)),
    ]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3"}
    path = builders.write(nb, tmp_path / "attack.ipynb")
    result = run_notebook(path, cwd=tmp_path / "work", timeout_cell=60)
    assert result.status == "ok", result.error
    assert result.records["leak:found"] is True
    assert result.records["attack:attempts"][str(canary / "keep.txt")] == "written"
    assert (canary / "keep.txt").read_text() == "untouchedpwned"


def _cmdlines() -> dict[int, list[str]]:
    found = {}
    for proc_dir in Path("/proc").iterdir():
        if proc_dir.name.isdigit():
            try:
                raw = (proc_dir / "cmdline").read_bytes()
            except OSError:
                continue
            found[int(proc_dir.name)] = raw.decode(errors="replace").split("\0")
    return found


def _sandboxed_kernels(marker: str) -> list[int]:
    """Pids of the sandboxed kernels of graders whose command lines name ``marker``."""
    procs = _cmdlines()
    connection_files = {
        argv[argv.index("-f") + 1]
        for argv in procs.values()
        if marker in " ".join(argv) and "mlops_kit.execution.sandbox" in argv and "-f" in argv
    }
    return [pid for pid, argv in procs.items() if any(f in argv for f in connection_files)]


def _orphans_left(marker: str, wait: float = 10.0) -> list[int]:
    """Kernels of a killed grader still running after ``wait`` seconds (then SIGKILLed).

    The sandbox launcher asks Linux to kill a kernel when the worker that started it dies,
    so none should be left; leftovers are killed so they cannot disturb other tests.
    """
    deadline = time.monotonic() + wait
    while (left := _sandboxed_kernels(marker)) and time.monotonic() < deadline:
        time.sleep(0.1)
    for pid in left:
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass
    return left


def test_a_grader_killed_midway_keeps_what_it_graded(tmp_path, practice_key_path):
    subs, out = tmp_path / "subs", tmp_path / "out"
    sol = builders.solution()
    for i in range(4):  # four distinct files (different bytes), all right
        nb = builders.insert_code(sol, f"# submission {i}")
        builders.write(nb, subs / f"student{i}.ipynb")
    cmd = [
        sys.executable, "-m", "mlops_kit", "homework", "grade", str(subs),
        "--cohort", "practice", "--key", str(practice_key_path), "--out", str(out),
        "--workers", "1", "--timeout-cell", "120", "--memory-mb", "0", "--allow-synthetic-key",
    ]  # fmt: skip
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        start_new_session=True,
    )  # fmt: skip
    book = out / "gradebook.sqlite"
    deadline = time.monotonic() + 240
    kept = 0
    try:
        while time.monotonic() < deadline and proc.poll() is None:
            if book.exists():
                try:
                    with closing(sqlite3.connect(book)) as db:
                        kept = db.execute("SELECT COUNT(*) FROM grades").fetchone()[0]
                except sqlite3.Error:
                    kept = 0
                if kept >= 1:
                    break
            time.sleep(0.2)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)  # the whole grader: pool workers too
        proc.wait()
        orphans = _orphans_left(str(out))
    assert not orphans, "kernels outlived the killed grader"
    scratch = Path((out / "scratch-folder.txt").read_text())
    assert scratch.is_dir()  # a killed grader leaves its scratch folder ...
    assert kept >= 1, "the grader stored nothing before it was killed"
    with closing(sqlite3.connect(book)) as db:
        before = db.execute("SELECT submission, status, score FROM grades").fetchall()
    assert len(before) < 4, "the grader finished before it could be killed"

    from mlops_kit.homework.grading import grade

    run = grade(subs, "practice", practice_key_path, out, workers=2, timeout_cell=120,
                progress=False, allow_synthetic_key=True)  # fmt: skip
    assert run.graded_now == 4 - len(before)
    assert [(g.status, g.score) for g in run.grades] == [("graded", 6.0)] * 4
    assert not scratch.exists()  # ... which the next run removes
    with closing(sqlite3.connect(book)) as db:
        after = set(db.execute("SELECT submission, status, score FROM grades").fetchall())
    assert set(before) <= after and len(after) == 4


def test_grading_on_a_dask_cluster(tmp_path, practice_key_path):
    distributed = __import__("pytest").importorskip("distributed")
    from mlops_kit.homework.grading import grade

    subs = tmp_path / "subs"
    builders.write(builders.solution(), subs / "ana.ipynb")
    (subs / "bo.json").write_text("{}")
    with distributed.LocalCluster(
        n_workers=1, threads_per_worker=1, processes=True, dashboard_address=None
    ) as cluster:
        run = grade(
            subs, "practice", practice_key_path, tmp_path / "out",
            scheduler=cluster.scheduler_address, timeout_cell=120, progress=False,
            allow_synthetic_key=True,
        )  # fmt: skip
    assert [(g.student, g.status, g.score) for g in run.grades] == [
        ("ana", "graded", 6.0),
        ("bo", "no_answers", 0.0),
    ]


@__import__("pytest").mark.realdata
def test_grading_on_the_real_green_files(real_file, tmp_path):
    from mlops_kit.homework import load_cohort, make_key
    from mlops_kit.homework.grading import grade

    real_file("green_tripdata_2021-01.parquet")
    real_file("green_tripdata_2021-02.parquet")
    key_path = tmp_path / "keys" / "practice.json"
    key = make_key("practice", source="real", out=key_path, timeout_cell=300)
    assert key["synthetic"] is False
    co = load_cohort("practice")
    sol = builders.solution()
    subs = tmp_path / "subs"
    builders.write(sol, subs / "ana.ipynb")
    wrong = {q: builders.wrong_value(key, q, co.question(q).kind) for q in ("q1", "q4")}
    builders.write(builders.with_answers(sol, wrong), subs / "bo.ipynb")
    run = grade(subs, "practice", key_path, tmp_path / "out", timeout_cell=300, progress=False)
    assert [(g.student, g.status, g.score, g.flags) for g in run.grades] == [
        ("ana", "graded", 6.0, []),
        ("bo", "graded", 4.0, []),
    ]
