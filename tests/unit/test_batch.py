"""Tests for mlops_kit.execution.batch: grids, fingerprints, the store, the pool, the report.

The fixture notebook ``tests/fixtures/batch/tiny.ipynb`` takes ``x`` (int), ``mode``
(``ok``, ``raise``, ``loop``, ``sleep``, ``kill_runner``), ``seconds`` and ``data_file``,
and records ``doubled``, ``runner_pid``, ``val_rmse_a`` and ``val_rmse_b``.
"""

from __future__ import annotations

import concurrent.futures as cf
import importlib.metadata
import json
import shutil
import sqlite3
import subprocess
import sys
from contextlib import closing
from pathlib import Path

import pandas as pd
import pytest

from mlops_kit.execution.batch import (
    BatchError,
    GridError,
    Job,
    ResultStore,
    expand_grid,
    job_fingerprint,
    job_key,
    load_grid,
    run_batch,
    write_outputs,
)
from mlops_kit.execution.runner import RunResult

FIXTURE = Path(__file__).parents[1] / "fixtures" / "batch" / "tiny.ipynb"
EXAMPLES = Path(__file__).parents[2] / "examples" / "batches"


@pytest.fixture
def notebook(tmp_path) -> Path:
    """A private copy of the fixture notebook (tests may edit its bytes)."""
    folder = tmp_path / "nb"
    folder.mkdir()
    return Path(shutil.copy(FIXTURE, folder / "tiny.ipynb"))


def write_grid(folder: Path, text: str) -> Path:
    path = folder / "grid.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def result(job: Job, status: str = "ok", **kw) -> RunResult:
    return RunResult(
        notebook=str(job.notebook),
        output=str(job.output),
        parameters=dict(job.parameters),
        status=status,
        seconds=kw.pop("seconds", 1.0),
        **kw,
    )


# ------------------------------------------------------------------ grid files


def test_load_grid_zip_crossed_with_grid_plus_fixed(tmp_path, notebook):
    grid_file = write_grid(
        notebook.parent,
        """
notebook: tiny.ipynb          # relative to this file's folder
zip:
  x: [1, 2]
  data_file: [a.csv, b.csv]
grid:
  seconds: [0.0, 0.5, 1.0]
fixed: {mode: sleep}
workers: 3
timeout_cell: 5
timeout_total: 20
output: out/here
""",
    )
    grid = load_grid(grid_file)
    assert grid.notebook == notebook.resolve()
    assert (grid.workers, grid.timeout_cell, grid.timeout_total) == (3, 5.0, 20.0)
    assert grid.varying == ["x", "data_file", "seconds"]
    assert grid.size == 6

    jobs = expand_grid(grid, tmp_path / "out")
    assert len(jobs) == 6
    pairs = {(j.parameters["x"], j.parameters["data_file"]) for j in jobs}
    assert pairs == {(1, "a.csv"), (2, "b.csv")}  # zipped, never crossed
    assert {j.parameters["seconds"] for j in jobs} == {0.0, 0.5, 1.0}
    assert all(j.parameters["mode"] == "sleep" for j in jobs)
    assert all(j.timeout_cell == 5 and j.timeout_total == 20 for j in jobs)
    assert jobs[0].key == "x=1,data_file=a.csv,seconds=0.0"
    assert jobs[0].output == (tmp_path / "out" / f"tiny__{jobs[0].key}.ipynb").resolve()
    assert len({j.output for j in jobs}) == 6
    assert all(j.cwd == notebook.parent.resolve() for j in jobs)  # the notebook's folder
    with_cwd = write_grid(notebook.parent, "notebook: tiny.ipynb\ncwd: work\ngrid: {x: [1]}\n")
    assert expand_grid(load_grid(with_cwd))[0].cwd == notebook.parent / "work"


def test_notebook_path_falls_back_to_cwd(tmp_path, notebook, monkeypatch):
    grids = tmp_path / "grids"
    grids.mkdir()
    grid_file = write_grid(grids, "notebook: nb/tiny.ipynb\ngrid: {x: [1]}\n")
    monkeypatch.chdir(tmp_path)
    assert load_grid(grid_file).notebook == notebook.resolve()


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ("grid: {x: [1]}\nworkerz: 2\n", ["unknown key", "workerz", "timeout_cell"]),
        ("zip: {x: [1, 2], mode: [ok]}\n", ["equal lengths", "x has 2", "mode has 1"]),
        ("grid: {x: 3}\n", ["grid.x", "non-empty list", "fixed"]),
        ("grid: {x: []}\n", ["grid.x", "non-empty list"]),
        ("grid: {x: [1]}\nfixed: {x: 2}\n", ["both grid and fixed"]),
        ("grid: {alpha: [1]}\n", ["alpha", "declares x, mode, seconds, data_file"]),
        ("grid: {x: [1]}\nworkers: 0\n", ["workers", "positive"]),
        ("grid: [1, 2]\n", ["mapping"]),
    ],
)
def test_bad_grids_are_refused_with_the_fix(notebook, body, words):
    grid_file = write_grid(notebook.parent, "notebook: tiny.ipynb\n" + body)
    with pytest.raises(GridError) as info:
        load_grid(grid_file)
    message = str(info.value)
    for word in words:
        assert word in message
    assert "Fix:" in message


@pytest.mark.parametrize(
    "path", [FIXTURE, *sorted((Path(__file__).parents[2] / "notebooks").glob("*.ipynb"))]
)
def test_declared_names_match_the_runner(path):
    from mlops_kit.execution.batch import declared_parameters
    from mlops_kit.execution.runner import notebook_parameters

    assert declared_parameters(path) == list(notebook_parameters(path))


def test_reading_a_grid_does_not_import_papermill(notebook):
    grid_file = write_grid(notebook.parent, "notebook: tiny.ipynb\ngrid: {x: [1, 2]}\n")
    code = (
        "import sys; from mlops_kit.execution.batch import load_grid, expand_grid; "
        f"expand_grid(load_grid({str(grid_file)!r})); print('papermill' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"  # the workers import it; the main process need not


def test_missing_notebook_and_bad_yaml(tmp_path):
    with pytest.raises(GridError, match="not found"):
        load_grid(write_grid(tmp_path, "notebook: nowhere.ipynb\n"))
    with pytest.raises(GridError, match="not valid YAML"):
        load_grid(write_grid(tmp_path, "notebook: [unclosed\n"))
    with pytest.raises(GridError, match="Cannot read"):
        load_grid(tmp_path / "absent.yaml")


@pytest.mark.parametrize(("name", "size"), [("train_small.yaml", 4), ("train_green_2021.yaml", 6)])
def test_example_grids_are_valid(name, size, tmp_path):
    grid = load_grid(EXAMPLES / name)  # checks every name against the training notebook
    assert grid.size == size
    jobs = expand_grid(grid, tmp_path)
    assert all(job.parameters["source"] == "synthetic" for job in jobs)  # offline by default
    assert len({job.parameters["train_dataset"] for job in jobs}) == size // len(
        grid.grid.get("alpha", [1])
    )


def test_job_key_is_readable_and_file_safe():
    key = job_key(
        {"train_dataset": "green:2021-01", "models": ["linear", "lasso"]},
        ["train_dataset", "models"],
    )
    assert key == "train_dataset=green-2021-01,models=linear+lasso"
    long = job_key({"p": "x" * 200}, ["p"])
    assert len(long) < 60 and "/" not in long


# ------------------------------------------------------------------ fingerprints and store


def test_fingerprint_follows_notebook_parameters_and_input_files(tmp_path, notebook):
    data = tmp_path / "input.csv"
    data.write_text("a,b\n1,2\n")
    job = Job(notebook, {"x": 1, "data_file": str(data)}, tmp_path / "o.ipynb", key="k")
    first = job_fingerprint(job)
    assert job_fingerprint(job) == first
    # timeouts and outputs do not change what the job computes
    same = Job(notebook, dict(job.parameters), tmp_path / "p.ipynb", timeout_cell=1, key="k")
    assert job_fingerprint(same) == first
    assert job_fingerprint(Job(notebook, {"x": 2, "data_file": str(data)}, key="k")) != first
    data.write_text("a,b\n1,3\n")  # the input file changed
    assert job_fingerprint(job) != first
    changed_input = job_fingerprint(job)
    notebook.write_bytes(notebook.read_bytes().replace(b"tiny notebook", b"small notebook"))
    assert job_fingerprint(job) != changed_input


def test_library_digest_follows_the_kits_code(tmp_path):
    from mlops_kit.execution.batch import library_digest
    from mlops_kit.execution.batch.jobs import _sources_digest

    def digest() -> str:
        _sources_digest.cache_clear()  # computed once per process otherwise
        return library_digest(tmp_path)

    (tmp_path / "sub").mkdir()
    (tmp_path / "a.py").write_text("X = 1\n")
    (tmp_path / "sub" / "b.py").write_text("Y = 2\n")
    (tmp_path / "notes.txt").write_text("not code")
    first = digest()
    assert len(first) == 64 and digest() == first
    (tmp_path / "notes.txt").write_text("still not code")
    assert digest() == first
    (tmp_path / "a.py").write_text("X = 2\n")  # an edit
    assert digest() != first
    (tmp_path / "a.py").write_text("X = 1\n")
    assert digest() == first
    (tmp_path / "a.py").rename(tmp_path / "sub" / "a.py")  # the same code, moved
    assert digest() != first


def test_library_digest_covers_the_whole_kit_not_only_the_batch_code():
    import mlops_kit
    from mlops_kit.execution.batch import library_digest
    from mlops_kit.execution.batch.jobs import _sources_digest

    kit = Path(mlops_kit.__file__).parent
    assert library_digest() == _sources_digest(str(kit.resolve()))
    assert library_digest() != _sources_digest(str((kit / "execution").resolve()))


def test_fingerprint_follows_the_library(tmp_path, notebook, monkeypatch):
    import mlops_kit.execution.batch.jobs as jobs

    job = Job(notebook, {"x": 1}, key="k")
    first = job_fingerprint(job)
    monkeypatch.setattr(jobs, "library_digest", lambda root=None: "another kit")
    assert job_fingerprint(job) != first


def test_fingerprint_follows_the_library_versions(notebook, monkeypatch):
    import mlops_kit.execution.batch.jobs as jobs
    from mlops_kit.execution.versions import library_versions

    versions = library_versions()
    for name in ("pandas", "numpy", "scikit-learn", "pyarrow", "papermill"):
        assert versions[name] == importlib.metadata.version(name)
    job = Job(notebook, {"x": 1}, key="k")
    first = job_fingerprint(job)
    upgraded = {**versions, "scikit-learn": "99.0"}
    monkeypatch.setattr(jobs, "library_versions", lambda: upgraded)
    assert job_fingerprint(job) != first


def test_fingerprint_follows_folders_and_dict_values_the_parameters_name(tmp_path, notebook):
    from mlops_kit.execution.batch import input_files

    data = tmp_path / "data"
    data.mkdir()
    (data / "jan.csv").write_text("a\n1\n")
    config = tmp_path / "config.yaml"
    config.write_text("alpha: 1\n")
    job = Job(notebook, {"data_dir": "data", "files": {"cfg": str(config)}}, key="k", cwd=tmp_path)
    assert input_files(job) == {"data_dir": data, "files[cfg]": config}
    first = job_fingerprint(job)
    assert job_fingerprint(job) == first
    (data / "feb.csv").write_text("a\n2\n")  # a new file in the folder
    second = job_fingerprint(job)
    assert second != first
    (data / "feb.csv").write_text("a\n2\n3\n")  # a file in it rewritten
    third = job_fingerprint(job)
    assert third != second
    config.write_text("alpha: 2\n")  # the file named inside a dict
    assert job_fingerprint(job) != third


def test_files_the_notebook_writes_are_not_inputs(tmp_path, notebook):
    from mlops_kit.execution.batch import input_files

    model = tmp_path / "model.bin"
    model.write_bytes(b"weights")
    data = tmp_path / "train.csv"
    data.write_text("a\n1\n")
    job = Job(notebook, {"model_path": str(model), "train": [str(data)]}, key="k")
    assert input_files(job) == {"train[0]": data}
    first = job_fingerprint(job)
    model.write_bytes(b"new weights")  # what a run of the notebook does
    assert job_fingerprint(job) == first


def test_dataset_ids_hash_the_local_parquet(tmp_path, notebook, monkeypatch):
    data_dir = tmp_path / "tlc"
    data_dir.mkdir()
    monkeypatch.setenv("MLOPS_KIT_DATA_DIR", str(data_dir))
    job = Job(notebook, {"data_file": "green:2021-01"}, key="k")
    before = job_fingerprint(job)
    (data_dir / "green_tripdata_2021-01.parquet").write_bytes(b"pretend parquet")
    assert job_fingerprint(job) != before


def test_store_is_wal_and_keeps_results(tmp_path, notebook):
    path = tmp_path / "out" / "batch.sqlite"
    job = Job(notebook, {"x": 1}, tmp_path / "out" / "a.ipynb", key="a")
    with ResultStore(path) as store:
        run_id = store.begin_run(1)
        fp = store.fingerprint(job)
        assert store.get(fp) is None
        store.put(fp, job, result(job, records={"doubled": 2}), run_id)
    with closing(sqlite3.connect(path)) as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    with ResultStore(path) as store:
        assert store.get(fp)["records"] == {"doubled": 2}
        assert [r["key"] for r in store.rows(run_id=run_id)] == ["a"]
        # the executed notebook is gone: run it again
        assert store.reusable(fp, job) is None
        Path(job.output).write_text("{}")
        assert store.reusable(fp, job)["status"] == "ok"


@pytest.mark.parametrize(
    ("status", "reused"),
    [
        ("ok", True),
        ("cell_error", True),
        ("bad_parameters", True),
        ("timeout", False),
        ("kernel_died", False),
    ],
)
def test_machine_dependent_failures_run_again(tmp_path, notebook, status, reused):
    job = Job(notebook, {"x": 1}, tmp_path / "a.ipynb", key="a")
    Path(job.output).write_text("{}")
    with ResultStore(tmp_path / "s.sqlite") as store:
        fp = store.fingerprint(job)
        store.put(fp, job, result(job, status), store.begin_run(1))
        assert (store.reusable(fp, job) is not None) is reused


def test_store_reuses_file_hashes_until_the_file_changes(tmp_path):
    data = tmp_path / "big.bin"
    data.write_bytes(b"1" * 1000)
    with ResultStore(tmp_path / "s.sqlite") as store:
        first = store.file_sha256(data)
        with store._db:  # poison the cache: proves the second call reads it
            store._db.execute("UPDATE file_hashes SET sha256 = 'cached'")
        assert store.file_sha256(data) == "cached"
        data.write_bytes(b"2" * 1001)
        assert store.file_sha256(data) not in {"cached", first}


# ------------------------------------------------------------------ the batch loop (no kernel)


class ScriptedExecutor(cf.Executor):
    """Answers each submitted job from a script instead of running it; counts attempts."""

    def __init__(self, script):
        self.script = script  # key -> list of statuses (or exceptions), one per attempt
        self.calls: dict[str, int] = {}

    def submit(self, fn, job):
        n = self.calls.get(job.key, 0)
        self.calls[job.key] = n + 1
        outcome = self.script[job.key][min(n, len(self.script[job.key]) - 1)]
        future = cf.Future()
        if isinstance(outcome, Exception):
            future.set_exception(outcome)
        else:
            status, error = outcome
            future.set_result(result(job, status, error=error))
        return future


def test_retry_once_when_the_kernel_failed_to_start(tmp_path, notebook):
    jobs = [Job(notebook, {"x": i}, tmp_path / f"{k}.ipynb", key=k) for i, k in enumerate("abcd")]
    start_failed = ("kernel_died", "The kernel failed to start twice (Address already in use).")
    executor = ScriptedExecutor(
        {
            "a": [start_failed, ("ok", None)],  # a port race: second try works
            "b": [start_failed, start_failed, ("ok", None)],  # fails twice: reported
            "c": [("kernel_died", "The kernel failed to start twice (no kernel named 'x').")],
            "d": [RuntimeError("worker lost")],  # executor failures: tried again, then reported
        }
    )
    results = run_batch(jobs, executor=executor, progress=False)
    assert [r.status for r in results] == ["ok", "kernel_died", "kernel_died", "kernel_died"]
    assert executor.calls == {"a": 2, "b": 2, "c": 1, "d": 2}
    assert "worker lost" in results[3].error


@pytest.mark.parametrize("workers", [0, -1, 1.5, "2", True])
def test_bad_workers_are_refused_by_the_library(tmp_path, notebook, workers):
    jobs = [Job(notebook, {"x": 1}, tmp_path / "a.ipynb", key="a")]
    with pytest.raises(BatchError, match="workers") as info:
        run_batch(jobs, workers=workers, executor=ScriptedExecutor({"a": [("ok", None)]}))
    assert repr(workers) in str(info.value) and "Fix:" in str(info.value)


def test_duplicate_keys_or_outputs_are_refused(tmp_path, notebook):
    with pytest.raises(BatchError, match="share the key"):
        run_batch([Job(notebook, key="a"), Job(notebook, key="a")], progress=False)
    with pytest.raises(BatchError, match="same output"):
        run_batch([Job(notebook, output=tmp_path / "o.ipynb", key=k) for k in "ab"], progress=False)


def test_progress_lines_when_not_on_a_terminal(tmp_path, notebook, capsys):
    jobs = [Job(notebook, {"x": 1}, tmp_path / "a.ipynb", key="a")]
    run_batch(jobs, executor=ScriptedExecutor({"a": [("ok", None)]}))
    assert "[1/1] ok" in capsys.readouterr().err
    seen = []
    run_batch(
        jobs,
        executor=ScriptedExecutor({"a": [("ok", None)]}),
        progress=lambda j, r: seen.append((j.key, r.status)),
    )
    assert seen == [("a", "ok")]


# ------------------------------------------------------------------ tables and report


def test_results_tables_and_report(tmp_path, notebook):
    jobs = [
        Job(
            notebook,
            {"x": x, "mode": m, "tags": ["a", "b"]},
            tmp_path / f"{x}{m}.ipynb",
            key=f"{x}{m}",
        )
        for x, m in [(1, "ok"), (2, "ok"), (3, "raise"), ("abc", "ok")]
    ]
    results = [
        result(jobs[0], records={"doubled": 2, "val_rmse_a": 1.0, "val_rmse_b": 2.0}),
        result(jobs[1], records={"doubled": 4, "val_rmse_a": 0.5, "val_rmse_b": 1.0}),
        result(
            jobs[2], "cell_error", error="In [2] raised ValueError.", cell=3, cell_label="In [2]"
        ),
        result(jobs[3], "bad_parameters", error="x expects an int."),
    ]
    paths = write_outputs(tmp_path, jobs, results, varying=["x", "mode"])
    assert sorted(p.name for p in tmp_path.iterdir() if p.is_file()) == [
        "report.html",
        "results.csv",
        "results.parquet",
    ]  # no temporary file left behind
    csv = pd.read_csv(paths["csv"])
    parquet = pd.read_parquet(paths["parquet"])
    assert list(csv["status"]) == ["ok", "ok", "cell_error", "bad_parameters"]
    assert list(parquet["status"]) == list(csv["status"])
    for column in [
        "key",
        "x",
        "mode",
        "tags",
        "status",
        "seconds",
        "error",
        "doubled",
        "val_rmse_a",
    ]:
        assert column in csv.columns and column in parquet.columns
    assert list(parquet["x"]) == ["1", "2", "3", "abc"]  # a mixed column is stored as text
    assert json.loads(parquet["tags"][0]) == ["a", "b"]
    assert parquet["doubled"].tolist()[:2] == [2, 4]
    assert parquet["cell"].tolist()[2] == "In [2]"  # named as the error names it
    assert parquet["output"].tolist()[0] == "1ok.ipynb"  # relative: the folder can move
    page = paths["html"].read_text()
    assert 'src="data:image/png;base64,' in page
    assert "2 ok" in page and "1 cell_error" in page
    # the table scrolls in its own box; errors wrap, named as the runner names the cell
    assert "<div class='scroll results'><table class='results'>" in page
    assert "div.results{max-height:75vh;overflow:auto" in page
    assert "<td class='long'>In [2] raised ValueError.</td>" in page


def test_plot_layout_lines_per_model_and_crossed_parameter():
    from mlops_kit.execution.batch import plot_layout

    frame = pd.DataFrame(
        {
            "train_dataset": ["g:01", "g:01", "g:02", "g:02"],
            "val_dataset": ["g:02", "g:02", "g:03", "g:03"],  # zipped with train_dataset
            "alpha": [0.1, 1.0, 0.1, 1.0],
            "status": ["ok"] * 4,
            "val_rows": [10, 10, 12, 12],
            "train_rmse_linear": [1.0, 1.0, 1.1, 1.1],
            "val_rmse_linear": [2.0, 2.0, 2.1, 2.1],
            "val_rmse_lasso": [2.5, 2.6, 2.7, 2.8],
        }
    )
    records = ["val_rows", "train_rmse_linear", "val_rmse_linear", "val_rmse_lasso"]
    varying = ["train_dataset", "val_dataset", "alpha"]
    assert plot_layout(frame, varying, records) == (
        "train_dataset",
        ["alpha"],
        ["val_rmse_linear", "val_rmse_lasso"],
    )
    assert plot_layout(frame, varying, records, metric="train_*", x="alpha")[1:] == (
        ["train_dataset"],
        ["train_rmse_linear"],
    )


def test_report_without_any_numeric_record_says_so(tmp_path, notebook):
    jobs = [Job(notebook, {"x": 1}, tmp_path / "a.ipynb", key="a")]
    paths = write_outputs(tmp_path, jobs, [result(jobs[0], "cell_error", error="boom")])
    page = paths["html"].read_text()
    assert "No numeric record to plot" in page and "base64" not in page


# ------------------------------------------------------------------ real kernels on the pool


@pytest.mark.runner
def test_mixed_batch_each_failure_gets_its_status(tmp_path, notebook):
    out = tmp_path / "out"
    cases = {
        "ok1": {"x": 1},
        "raises": {"x": 2, "mode": "raise"},
        "loops": {"x": 3, "mode": "loop"},
        "bad": {"x": "abc"},
        "ok2": {"x": 4},
    }
    jobs = [
        Job(notebook, p, out / f"{k}.ipynb", timeout_cell=2, timeout_total=60, key=k)
        for k, p in cases.items()
    ]
    with ResultStore(out / "batch.sqlite") as store:
        results = run_batch(jobs, workers=2, store=store, progress=False)
        stored = {row["key"]: row["status"] for row in store.rows()}
    statuses = {job.key: r.status for job, r in zip(jobs, results, strict=True)}
    assert statuses == {
        "ok1": "ok",
        "raises": "cell_error",
        "loops": "timeout",
        "bad": "bad_parameters",
        "ok2": "ok",
    }
    assert stored == statuses
    assert results[0].records["doubled"] == 2 and results[4].records["doubled"] == 8
    assert "ValueError" in results[1].error
    assert Path(results[1].output).is_file()  # the failing notebook is kept to read


def test_a_job_runs_in_its_notebook_s_folder_unless_told(tmp_path, notebook):
    assert Job(notebook).cwd == notebook.parent.resolve()
    assert Job(notebook, cwd=tmp_path).cwd == tmp_path


@pytest.mark.runner
def test_relative_paths_start_from_the_notebook_s_folder(tmp_path, notebook):
    (notebook.parent / "beside.txt").write_text("123")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "beside.txt").write_text("1234567")
    out = tmp_path / "out"
    jobs = [
        Job(notebook, {"data_file": "beside.txt"}, out / "a.ipynb", key="a"),
        Job(notebook, {"data_file": "beside.txt"}, out / "b.ipynb", cwd=elsewhere, key="b"),
    ]
    results = run_batch(jobs, workers=2, progress=False)
    assert [r.records.get("data_bytes") for r in results] == [3, 7], [r.error for r in results]


@pytest.mark.runner
def test_resume_runs_only_what_is_missing_or_changed(tmp_path, notebook):
    out = tmp_path / "out"
    data = tmp_path / "input.txt"
    data.write_text("12345")

    def jobs(x_of_b=2):
        return [
            Job(notebook, {"x": 1}, out / "a.ipynb", key="a"),
            Job(notebook, {"x": x_of_b}, out / "b.ipynb", key="b"),
            Job(notebook, {"x": 3, "data_file": str(data)}, out / "c.ipynb", key="c"),
        ]

    def ran(**kw):
        with ResultStore(out / "batch.sqlite") as store:
            results = run_batch(
                kw.pop("batch", None) or jobs(**kw), workers=2, store=store, progress=False
            )
            assert all(r.status == "ok" for r in results)
            return sorted(row["key"] for row in store.rows(run_id=store.last_run_id)), results

    assert ran()[0] == ["a", "b", "c"]
    keys, results = ran()
    assert keys == []  # nothing changed: every result comes from the store
    assert results[2].records["data_bytes"] == 5
    assert any("reused" in note for note in results[2].notes)
    assert ran(x_of_b=20)[0] == ["b"]  # changed parameters
    data.write_text("1234567")
    keys, results = ran(x_of_b=20)
    assert keys == ["c"] and results[2].records["data_bytes"] == 7  # changed input file
    (out / "a.ipynb").unlink()
    assert ran(x_of_b=20)[0] == ["a"]  # the executed notebook was deleted
    notebook.write_bytes(notebook.read_bytes().replace(b"tiny notebook", b"small notebook"))
    assert ran(x_of_b=20)[0] == ["a", "b", "c"]  # the notebook changed


@pytest.mark.runner
def test_a_batch_started_from_a_script_on_standard_input_runs(tmp_path, notebook):
    """``python - < script.py`` names ``<stdin>`` as its main file, which workers cannot run."""
    script = (
        "from mlops_kit.execution.batch import Job, run_batch\n"
        f"jobs = [Job({str(notebook)!r}, {{'x': x}}, {str(tmp_path)!r} + f'/o{{x}}.ipynb', "
        "key=str(x)) for x in (1, 2)]\n"
        "print([r.status for r in run_batch(jobs, workers=2, progress=False)])\n"
    )
    done = subprocess.run(
        [sys.executable, "-"], input=script, capture_output=True, text=True, cwd=tmp_path,
        timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "['ok', 'ok']", done.stderr


def test_a_job_that_kills_its_worker_does_not_take_others_down(tmp_path, notebook):
    out = tmp_path / "out"
    jobs = [
        Job(notebook, {"x": 1}, out / "a.ipynb", key="a"),
        Job(notebook, {"x": 2, "mode": "kill_runner"}, out / "killer.ipynb", key="killer"),
        Job(notebook, {"x": 3, "mode": "sleep", "seconds": 1.0}, out / "c.ipynb", key="c"),
        Job(notebook, {"x": 4}, out / "d.ipynb", key="d"),
    ]
    results = run_batch(jobs, workers=2, progress=False)
    assert [r.status for r in results] == ["ok", "kernel_died", "ok", "ok"]
    assert "worker process" in results[1].error


# ------------------------------------------------------------------ one run per folder

HOLDER = (
    "import sys, time\n"
    "from mlops_kit.execution.batch import hold_folder\n"
    "with hold_folder(sys.argv[1], purpose='test'):\n"
    "    print('holding', flush=True)\n"
    "    time.sleep(120)\n"
)


def _holder(folder: Path) -> subprocess.Popen:
    """Another process holding ``folder``; returns once it holds it."""
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(folder)], stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout.readline().strip() == "holding"
    return proc


def test_a_folder_held_by_another_process_is_refused_until_it_dies(tmp_path, notebook):
    from mlops_kit.execution.batch import LOCK_NAME, hold_folder

    out = tmp_path / "out"
    other = _holder(out)
    try:
        with pytest.raises(BatchError) as info:
            with hold_folder(out, purpose="batch"):
                pass  # pragma: no cover - must not be reached
        message = str(info.value)
        assert str(out.resolve()) in message and f"pid {other.pid}" in message
        assert "Fix:" in message and "--output" in message
        # run_batch (what the grader calls) refuses a job writing into the held folder
        job = Job(notebook, {"x": 1}, out / "a.ipynb", key="a")
        with pytest.raises(BatchError, match="in use by another run"):
            run_batch([job], executor=ScriptedExecutor({"a": [("ok", None)]}), progress=False)
    finally:
        other.kill()  # SIGKILL: no clean-up runs, the lock file stays behind
        other.wait()
    assert (out / LOCK_NAME).is_file()
    with hold_folder(out, purpose="batch"):  # the dead holder's lock is taken over
        pass


def test_a_folder_is_held_again_by_the_same_process(tmp_path):
    from mlops_kit.execution.batch import hold_folder

    with hold_folder(tmp_path, purpose="batch"), hold_folder(tmp_path, purpose="batch"):
        done = subprocess.run(
            [sys.executable, "-c", HOLDER, str(tmp_path)], capture_output=True, text=True
        )
        assert done.returncode != 0 and "in use by another run" in done.stderr
    proc = _holder(tmp_path)  # released when the outer block ended
    proc.kill()
    proc.wait()


def test_a_damaged_store_is_one_paragraph_and_rebuilt_asked(tmp_path, notebook):
    from mlops_kit.execution.batch import ResultStore

    path = tmp_path / "batch.sqlite"
    path.write_bytes(b"this is not a database" * 50)
    with pytest.raises(BatchError) as info:
        ResultStore(path)
    message = str(info.value)
    assert str(path) in message and "--force" in message and "Traceback" not in message
    store, note = ResultStore.rebuilt(path)
    with store:
        job = Job(notebook, {"x": 1}, key="a")
        store.put(store.fingerprint(job), job, result(job), store.begin_run(1))
        assert len(store.rows()) == 1
    assert note and str(tmp_path / "batch.sqlite.broken") in note
    assert (tmp_path / "batch.sqlite.broken").read_bytes().startswith(b"this is not")
    with ResultStore(path) as reopened:  # sound again
        assert [row["key"] for row in reopened.rows()] == ["a"]
