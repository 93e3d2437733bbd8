"""Scale-out: the same jobs on a real Dask cluster (skipped when distributed is missing).

A ``distributed.LocalCluster`` with worker *processes* stands in for a cluster; the jobs
reach it through ``client.get_executor()`` exactly as they would reach a remote one.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

distributed = pytest.importorskip("distributed")

from mlops_kit.cli import main  # noqa: E402
from mlops_kit.execution.batch import Job, ResultStore, run_batch  # noqa: E402

FIXTURE = Path(__file__).parents[1] / "fixtures" / "batch" / "tiny.ipynb"

pytestmark = pytest.mark.runner


@pytest.fixture(scope="module")
def client():
    cluster = distributed.LocalCluster(
        n_workers=2,
        processes=True,
        threads_per_worker=1,
        host="127.0.0.1",
        dashboard_address=None,
    )
    client = distributed.Client(cluster)
    yield client
    client.close()
    cluster.close()


@pytest.fixture
def notebook(tmp_path) -> Path:
    return Path(shutil.copy(FIXTURE, tmp_path / "tiny.ipynb"))


def test_jobs_run_on_the_dask_workers(client, notebook, tmp_path):
    out = tmp_path / "out"
    jobs = [
        Job(notebook, {"x": 1}, out / "a.ipynb", key="a"),
        Job(notebook, {"x": 2, "mode": "raise"}, out / "b.ipynb", key="b"),
        Job(notebook, {"x": 3}, out / "c.ipynb", key="c"),
        Job(notebook, {"x": "abc"}, out / "d.ipynb", key="d"),
    ]
    with ResultStore(out / "batch.sqlite") as store:
        results = run_batch(jobs, executor=client.get_executor(), store=store, progress=False)
        assert len(store.rows(run_id=store.last_run_id)) == 4
    assert [r.status for r in results] == ["ok", "cell_error", "ok", "bad_parameters"]
    # the kernels' parent processes are the Dask workers, not this process
    worker_pids = set(client.run(os.getpid).values())
    assert {results[0].records["runner_pid"], results[2].records["runner_pid"]} <= worker_pids
    assert os.getpid() not in worker_pids
    assert Path(results[0].output).is_file()


def test_cli_scheduler_flag(client, notebook, tmp_path, capsys):
    grid = tmp_path / "grid.yaml"
    grid.write_text(f"notebook: tiny.ipynb\noutput: {tmp_path / 'out'}\ngrid: {{x: [1, 2]}}\n")
    address = client.scheduler.address
    code = main(["batch", str(grid), "--scheduler", address, "--json"])
    report = json.loads(capsys.readouterr().out)
    assert code == 0 and report["counts"] == {"ok": 2}
    assert (tmp_path / "out" / "results.parquet").is_file()


def test_unreachable_scheduler_is_a_clear_error(notebook, tmp_path, capsys):
    grid = tmp_path / "grid.yaml"
    grid.write_text("notebook: tiny.ipynb\ngrid: {x: [1]}\n")
    code = main(["batch", str(grid), "--scheduler", "tcp://127.0.0.1:9", "--output", str(tmp_path)])
    err = capsys.readouterr().err
    assert code == 2 and "Cannot reach the Dask scheduler" in err


@pytest.mark.parametrize("address", ["tcp://127.0.0.1:9", "not-an-address"])
def test_connect_names_the_address_and_the_fix(address):
    from mlops_kit.execution.batch import BatchError, connect

    with pytest.raises(BatchError) as info:
        connect(address, timeout="1s")
    message = str(info.value)
    assert address in message and "Cannot reach the Dask scheduler" in message
    assert "Fix:" in message and "--scheduler" in message


def test_connect_returns_a_client_whose_executor_runs_jobs(client):
    from mlops_kit.execution.batch import connect

    mine = connect(client.scheduler.address)
    try:
        assert mine.get_executor().submit(sum, [1, 2]).result(timeout=60) == 3
    finally:
        mine.close()


def test_the_grader_fails_on_a_bad_scheduler_as_the_batch_does(tmp_path):
    from mlops_kit.execution.batch import BatchError
    from mlops_kit.homework.grading import grade

    root = Path(__file__).parents[2] / "homework" / "practice"
    submissions = tmp_path / "subs"
    submissions.mkdir()
    shutil.copy(root / "homework.ipynb", submissions / "ada.ipynb")
    with pytest.raises(BatchError) as info:
        grade(
            submissions,
            "practice",
            root / "key.json",
            tmp_path / "out",
            scheduler="not-an-address",
            progress=False,
        )
    assert "Cannot reach the Dask scheduler at not-an-address" in str(info.value)
