"""`mlops-kit run` and the plain papermill CLI on the kit's notebooks."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from mlops_kit.cli import main
from mlops_kit.records import read_records

from ..unit.tiny_notebooks import write_notebook

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


def _reads_beside(folder: Path) -> Path:
    (folder / "data").mkdir(parents=True)
    (folder / "data" / "trips.csv").write_text("a,b\n1,2\n")
    code = "from mlops_kit.records import record\nrecord('text', open('data/trips.csv').read())"
    return write_notebook(folder / "course.ipynb", code, title="# reads ./data")


def test_run_executes_a_notebook_in_its_own_folder_and_cwd_chooses_another(tmp_path, capsys):
    notebook = _reads_beside(tmp_path / "course")
    out = tmp_path / "build"
    code = main(["run", str(notebook), "--out", str(out), "--json"])
    assert code == 0, capsys.readouterr()
    executed = out / "notebooks" / "course.ipynb"
    assert read_records(executed)["text"] == "a,b\n1,2\n"
    assert not (out / "work").exists()  # outputs go to --out, the kernel ran beside the notebook

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    code = main(["run", str(notebook), "--out", str(out), "--cwd", str(elsewhere)])
    text = capsys.readouterr().out
    assert code == 1
    assert "In [1] (line 2:" in text and "FileNotFoundError" in text
    assert str(executed.resolve()) in text and str(elsewhere.resolve()) in text


def _site_runs(synthetic_03: bool | None) -> list:
    from mlops_kit.execution.notebook_site import NotebookRun

    records = {} if synthetic_03 is None else {"synthetic": synthetic_03, "val_rmse_linear": 7.5}
    return [
        NotebookRun("01_intro_mlops.ipynb", "ok", 3.0, {}, {"train_rows": 10}),
        NotebookRun("03_train_duration_model.ipynb", "ok", 9.0, {}, records),
    ]


def test_index_banner_says_real_data_and_the_folder(tmp_path, monkeypatch):
    from mlops_kit.execution.notebook_site import index_html

    monkeypatch.setenv("MLOPS_KIT_DATA_DIR", str(tmp_path))
    page = index_html(_site_runs(False))
    banner = page.split("class='banner'>", 1)[1].split("</div>", 1)[0]
    assert "real TLC trip records" in banner and str(tmp_path) in banner
    assert "synthetic" not in banner
    import pandas
    import sklearn

    assert f"pandas {pandas.__version__}" in banner
    assert f"scikit-learn {sklearn.__version__}" in banner


def test_index_banner_says_synthetic_and_how_to_get_real_data(monkeypatch):
    from mlops_kit.execution.notebook_site import index_html

    monkeypatch.delenv("MLOPS_KIT_DATA_DIR", raising=False)
    banner = index_html(_site_runs(True)).split("class='banner'>", 1)[1].split("</div>", 1)[0]
    assert banner.count("synthetic") >= 1 and "not real trips" in banner
    assert "MLOPS_KIT_DATA_DIR is not set" in banner and "real TLC trip records" not in banner
    unknown = index_html(_site_runs(None))
    assert "no notebook recorded which data it read" in unknown


def test_run_s_last_lines_say_the_data_the_page_and_what_next(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("MLOPS_KIT_DATA_DIR", raising=False)
    notebook = _reads_beside(tmp_path / "course")
    code = main(["run", str(notebook), "--out", str(tmp_path / "build")])
    lines = capsys.readouterr().out.strip().splitlines()
    assert code == 0
    assert lines[-3].startswith("data: no notebook recorded")
    assert lines[-2].startswith("libraries: python ")
    assert str(tmp_path / "build" / "index.html") in lines[-1]
    assert lines[-1].endswith("next: make lab (the notebooks in JupyterLab)")


def test_a_parameter_goes_to_the_notebooks_that_declare_it(tmp_path):
    from mlops_kit.errors import UnknownParameterError
    from mlops_kit.execution.notebook_site import run_all

    takes = write_notebook(tmp_path / "a.ipynb", "print(source)", parameters="source = 'x'  # s")
    ignores = write_notebook(tmp_path / "b.ipynb", "print('no parameters')")
    runs = run_all([takes, ignores], {"source": "synthetic"}, tmp_path / "build", progress=False)
    assert [r.status for r in runs] == ["ok", "ok"], [r.error for r in runs]
    assert [r.parameters for r in runs] == [{"source": "synthetic"}, {}]
    with pytest.raises(UnknownParameterError, match="No notebook of this run") as info:
        run_all([takes, ignores], {"sorce": "synthetic"}, tmp_path / "build2")
    assert "a.ipynb: source" in str(info.value)
    assert not (tmp_path / "build2").exists()
