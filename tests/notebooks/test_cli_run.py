"""`mlops-kit run` and the plain papermill CLI on the kit's notebooks."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from mlops_kit.cli import main
from mlops_kit.records import read_records

ROOT = Path(__file__).resolve().parents[2]
MATURITY = ROOT / "notebooks" / "04_maturity_model.ipynb"
TRAIN = ROOT / "notebooks" / "03_train_duration_model.ipynb"


def test_run_refuses_an_unknown_parameter_before_any_kernel(tmp_path, capsys):
    start = time.perf_counter()
    code = main(["run", str(TRAIN), "-p", "train_datset", "green:2021-03", "--out", str(tmp_path)])
    elapsed = time.perf_counter() - start
    err = capsys.readouterr().err
    assert code != 0
    assert "train_datset" in err and "train_dataset" in err  # names the bad one and valid ones
    assert not (tmp_path / "notebooks").exists()
    assert elapsed < 30  # generous: proves no notebook was executed


def test_run_writes_executed_notebook_html_and_index(tmp_path, capsys):
    code = main(["run", str(MATURITY), "--out", str(tmp_path), "--json"])
    assert code == 0, capsys.readouterr()
    assert (tmp_path / "notebooks" / MATURITY.name).is_file()
    assert (tmp_path / "notebooks" / f"{MATURITY.stem}.html").is_file()
    index = (tmp_path / "index.html").read_text()
    assert MATURITY.name in index and "ok" in index
    assert read_records(tmp_path / "notebooks" / MATURITY.name)


def test_papermill_cli_runs_a_notebook_directly(tmp_path):
    out = tmp_path / "out.ipynb"
    papermill = Path(sys.executable).parent / "papermill"
    subprocess.run(
        [
            str(papermill),
            str(TRAIN),
            str(out),
            "-p",
            "source",
            "synthetic",
            "-p",
            "train_dataset",
            "green:2021-03",
            "-p",
            "val_dataset",
            "green:2021-04",
            "--cwd",
            str(tmp_path),
        ],
        check=True,
        capture_output=True,
        timeout=600,
    )
    records = read_records(out)
    assert records["synthetic"] is True
    assert records["train_rows"] > 0


def test_run_cli_defaults_come_from_the_library():
    import inspect

    from mlops_kit.cli import build_parser
    from mlops_kit.execution.notebook_site import run_all

    args = build_parser().parse_args(["run"])
    signature = inspect.signature(run_all).parameters
    assert args.out == signature["out"].default
    assert args.workers == signature["workers"].default
    assert args.timeout_cell == signature["timeout_cell"].default
    assert args.timeout_total == signature["timeout_total"].default
