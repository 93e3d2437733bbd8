"""Tests of mlops_kit.execution.runner on real kernels and the fixture notebooks.

Per-cell timeouts are kept to a few seconds so the suite stays fast; no test asserts on
timings except "returned before any kernel could have started" for refused parameters,
which is checked by the absence of a kernel process, not by the clock.
"""

from __future__ import annotations

import json
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from mlops_kit.errors import BadParameterError, InvalidNotebookError, UnknownParameterError
from mlops_kit.execution.runner import (
    STATUSES,
    Limits,
    RunResult,
    notebook_parameters,
    run_notebook,
    validate_parameters,
)

from .tiny_notebooks import write_notebook

pytestmark = pytest.mark.runner

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "notebooks"


def fx(name: str) -> Path:
    # The two broken fixtures end in .ipynb.bad so `make lint` (nbstripout on *.ipynb)
    # does not choke on them; the runner does not care about the suffix.
    path = FIXTURES / f"{name}.ipynb"
    return path if path.exists() else FIXTURES / f"{name}.ipynb.bad"


# ----------------------------------------------------------------------------- parameters


def test_notebook_parameters_reads_names_types_defaults_and_help():
    params = notebook_parameters(fx("ok"))
    assert list(params) == ["n", "alpha", "label", "months", "verbose"]
    assert {name: p["type"] for name, p in params.items()} == {
        "n": "int",
        "alpha": "float",
        "label": "str",
        "months": "list",
        "verbose": "bool",
    }
    assert params["n"]["default"] == 3
    assert params["months"]["default"] == ["2021-01", "2021-02"]
    assert params["n"]["help"] == "how many squares to sum"


def test_notebook_parameters_annotation_wins_over_default():
    nb = json.loads(fx("ok").read_text())
    nb["cells"][1]["source"] = "x: float = 1  # annotated\nmystery = make()  # not a literal\n"
    params = notebook_parameters(nb)
    assert params["x"]["type"] == "float"
    assert params["mystery"]["type"] is None


@pytest.mark.parametrize("name", ["invalid_json", "not_a_notebook"])
def test_notebook_parameters_refuses_malformed_notebooks(name):
    with pytest.raises(InvalidNotebookError) as info:
        notebook_parameters(fx(name))
    assert "Fix:" in str(info.value)


def test_notebook_parameters_missing_file():
    with pytest.raises(InvalidNotebookError, match="does not exist"):
        notebook_parameters(FIXTURES / "nope.ipynb")


def test_validate_parameters_refuses_unknown_names_listing_valid_ones():
    with pytest.raises(UnknownParameterError) as info:
        validate_parameters(fx("ok"), {"nn": 1})
    message = str(info.value)
    assert "'nn'" in message
    assert "n (default 3)" in message and "alpha (default 0.5)" in message


def test_validate_parameters_without_parameters_cell_explains_tagging():
    with pytest.raises(UnknownParameterError, match="tag its first code cell"):
        validate_parameters(fx("no_parameters"), {"x": 1})


@pytest.mark.parametrize(
    "params",
    [{"n": "abc"}, {"n": 1.5}, {"n": True}, {"alpha": "x"}, {"verbose": 1}, {"months": "a"}],
)
def test_validate_parameters_refuses_wrong_types(params):
    with pytest.raises(BadParameterError) as info:
        validate_parameters(fx("ok"), params)
    assert repr(next(iter(params))) in str(info.value)


def test_validate_parameters_accepts_right_types_and_widens_int_to_float():
    got = validate_parameters(fx("ok"), {"n": 5, "alpha": 2, "months": ("a",), "verbose": True})
    assert got == {"n": 5, "alpha": 2.0, "months": ["a"], "verbose": True}
    assert isinstance(got["alpha"], float)


@pytest.mark.parametrize(
    ("name", "text", "expected"),
    [
        ("n", "3", 3),
        ("alpha", "1e-3", 0.001),
        ("label", "3", "3"),
        ("months", "[a, b]", ["a", "b"]),
        ("months", '["2021-03"]', ["2021-03"]),
        ("verbose", "true", True),
        ("verbose", "No", False),
    ],
)
def test_validate_parameters_coerces_cli_strings(name, text, expected):
    assert validate_parameters(fx("ok"), {name: text}, coerce_strings=True) == {name: expected}


@pytest.mark.parametrize(("name", "text"), [("n", "abc"), ("verbose", "maybe"), ("months", "[a")])
def test_validate_parameters_refuses_bad_cli_strings(name, text):
    with pytest.raises(BadParameterError):
        validate_parameters(fx("ok"), {name: text}, coerce_strings=True)


# ----------------------------------------------------------------------------- statuses


def test_bad_parameters_start_no_kernel(tmp_path, monkeypatch):
    import mlops_kit.execution.runner as runner

    def no_kernel(*args, **kwargs):  # pragma: no cover - called only on a regression
        raise AssertionError("a kernel was started for refused parameters")

    monkeypatch.setattr(runner, "execute_once", no_kernel)
    result = run_notebook(fx("ok"), {"n": "abc"}, tmp_path / "out.ipynb")
    assert result.status == "bad_parameters"
    assert "expects an int" in result.error
    assert not (tmp_path / "out.ipynb").exists()
    unknown = run_notebook(fx("ok"), {"typo": 1})
    assert unknown.status == "bad_parameters"
    assert "typo" in unknown.error


@pytest.mark.parametrize("name", ["invalid_json", "not_a_notebook"])
def test_invalid_notebook_status(name):
    result = run_notebook(fx(name))
    assert result.status == "invalid_notebook"
    assert "Fix:" in result.error
    assert result.output is None


def test_ok_run_injects_parameters_and_returns_records(tmp_path):
    out = tmp_path / "sub" / "ok.ipynb"
    result = run_notebook(
        fx("ok"),
        {"n": "4", "months": "[x, y]", "verbose": "true"},
        out,
        coerce_strings=True,
        timeout_cell=30,
    )
    assert result.status == "ok", result.error
    assert result.error is None and result.cell is None
    assert result.records["total"] == 0 + 1 + 4 + 9
    assert result.records["months"] == ["x", "y"]
    assert result.records["types"] == ["int", "float", "str", "list", "bool"]
    assert result.parameters == {"n": 4, "months": ["x", "y"], "verbose": True}
    saved = json.loads(out.read_text())
    tags = [c["metadata"].get("tags", []) for c in saved["cells"]]
    assert ["injected-parameters"] in tags
    assert saved["metadata"]["papermill"]["parameters"]["n"] == 4
    assert saved["metadata"]["mlops_kit"]["status"] == "ok"
    assert not list(out.parent.glob(".*.tmp"))  # the atomic write left no temp file
    as_dict = result.to_dict()
    assert as_dict["status"] == "ok"
    json.dumps(as_dict)


def test_cell_error_names_cell_and_exception_and_keeps_output(tmp_path):
    out = tmp_path / "raises.ipynb"
    result = run_notebook(fx("raises"), None, out, timeout_cell=30)
    assert result.status == "cell_error"
    assert (result.ename, result.evalue) == ("ZeroDivisionError", "division by zero")
    saved = json.loads(out.read_text())
    assert "1 / divisor" in "".join(saved["cells"][result.cell]["source"])
    assert saved["cells"][result.cell]["metadata"]["papermill"]["status"] == "failed"
    assert result.records == {"before": 1}  # recorded before the failure
    assert "ZeroDivisionError" in result.error
    # the cell as Jupyter shows it: the executed copy's execution count, not an index
    count = saved["cells"][result.cell]["execution_count"]
    assert result.cell_label == f"In [{count}]" and f"In [{count}]" in result.error
    assert str(out) in result.error  # the notebook to open
    assert saved["metadata"]["mlops_kit"]["cell_label"] == result.cell_label


def test_per_cell_timeout_hits_the_looping_cell(tmp_path):
    result = run_notebook(fx("infinite_loop"), None, tmp_path / "o.ipynb", timeout_cell=2)
    assert result.status == "timeout"
    saved = json.loads((tmp_path / "o.ipynb").read_text())
    assert "while True" in "".join(saved["cells"][result.cell]["source"])
    assert "per-cell limit of 2 s" in result.error
    count = saved["cells"][result.cell]["execution_count"]
    assert count and f"stopped at In [{count}]" in result.error
    assert result.cell_label == f"In [{count}]"


def test_the_failing_cell_is_named_as_jupyter_shows_it_with_the_line_that_raised(tmp_path):
    path = write_notebook(
        tmp_path / "fails.ipynb",
        "x = 1",
        "y = 2\nz = x / (y - 2)",
        parameters="n = 1  # a number",
        title="# a test notebook",
    )
    out = tmp_path / "out" / "fails.ipynb"
    result = run_notebook(path, {"n": 2}, out, timeout_cell=30)  # injects a cell
    assert result.status == "cell_error"
    saved = json.loads(out.read_text())
    cell = saved["cells"][result.cell]
    # markdown, parameters, injected parameters, x = 1, the failing cell: index 4, In [4]
    assert (result.cell, cell["execution_count"]) == (4, 4)
    assert result.cell_label == "In [4]"
    assert result.error.startswith("In [4] (line 2: `z = x / (y - 2)`) raised ZeroDivisionError")
    assert f"the executed notebook {out}" in result.error
    assert result.error.count("Fix:") == 1


def test_a_missing_relative_file_names_the_folder_the_kernel_ran_in(tmp_path):
    path = write_notebook(tmp_path / "reads.ipynb", "open('data/trips.csv').read()")
    work = tmp_path / "elsewhere"
    result = run_notebook(path, cwd=work, timeout_cell=30)
    assert result.status == "cell_error" and result.ename == "FileNotFoundError"
    assert f"The kernel ran in {work.resolve()}" in result.error
    assert "--cwd" in result.error and str(path.resolve()) in result.error


def test_whole_run_timeout_stops_between_short_cells():
    # every cell fits the per-cell limit; together they do not fit the run's budget
    result = run_notebook(fx("sleeps"), {"seconds": 1.5}, timeout_cell=10, timeout_total=4)
    assert result.status == "timeout"
    assert result.cell is not None and result.cell >= 3  # not the first sleeping cell
    assert "whole run" in result.error


def test_kernel_died_on_os_exit():
    result = run_notebook(fx("os_exit"), {"code": 3}, timeout_cell=30)
    assert result.status == "kernel_died"
    assert "exit code 3" in result.error
    assert result.cell is not None


def test_no_such_kernel_is_kernel_died_with_a_fix():
    result = run_notebook(fx("no_parameters"), kernel="no-such-kernel-xyz", timeout_cell=30)
    assert result.status == "kernel_died"
    assert "no-such-kernel-xyz" in result.error


def test_memory_error_is_out_of_memory():
    nb = json.loads(fx("no_parameters").read_text())
    nb["cells"][1]["source"] = "raise MemoryError('pretend')"
    result = run_notebook(nb, timeout_cell=30)
    assert result.status == "out_of_memory"
    assert result.ename == "MemoryError"


def test_every_status_is_documented():
    assert set(STATUSES) == {
        "ok",
        "cell_error",
        "timeout",
        "kernel_died",
        "invalid_notebook",
        "bad_parameters",
        "out_of_memory",
        "output_too_large",
    }
    assert RunResult.__dataclass_fields__["status"]


# ----------------------------------------------------------------------------- environment


def test_kernel_gets_cache_dir_and_runs_in_a_fresh_temp_dir_removed_after(
    _isolated_cache, tmp_path, monkeypatch
):
    monkeypatch.setenv("MLOPS_KIT_DATA_DIR", str(tmp_path))
    result = run_notebook(
        fx("writes_env"),
        {"names": ["MLOPS_KIT_CACHE_DIR", "MLOPS_KIT_DATA_DIR", "MPLBACKEND", "EXTRA"]},
        env={"EXTRA": "yes"},
        timeout_cell=30,
    )
    assert result.status == "ok", result.error
    env = result.records["env"]
    assert env["MLOPS_KIT_CACHE_DIR"] == str(Path(_isolated_cache).resolve())
    assert env["MLOPS_KIT_DATA_DIR"] == str(tmp_path.resolve())
    assert (
        env["MPLBACKEND"] == "module://matplotlib_inline.backend_inline" and env["EXTRA"] == "yes"
    )
    kernel_cwd = Path(result.records["cwd"])
    assert kernel_cwd.name.startswith("mlops-kit-run-")
    assert not kernel_cwd.exists()  # removed afterwards
    assert result.cwd is None


def test_given_cwd_is_used_and_kept(tmp_path):
    work = tmp_path / "work"
    result = run_notebook(fx("writes_env"), cwd=work, timeout_cell=30)
    assert result.status == "ok", result.error
    assert Path(result.records["cwd"]) == work.resolve()
    assert (work / "made_here.txt").read_text() == "hi"
    assert result.cwd == str(work.resolve())


def test_keep_cwd_keeps_the_temporary_folder():
    result = run_notebook(fx("writes_env"), timeout_cell=30, keep_cwd=True)
    try:
        assert (Path(result.cwd) / "made_here.txt").exists()
    finally:
        import shutil

        shutil.rmtree(result.cwd, ignore_errors=True)


def test_run_writes_nothing_in_home(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    result = run_notebook(fx("ok"), env={"HOME": str(home)}, timeout_cell=30)
    assert result.status == "ok", result.error
    assert list(home.iterdir()) == []


def test_relative_file_read_from_given_cwd(tmp_path):
    (tmp_path / "secret.txt").write_text("visible")
    result = run_notebook(fx("reads_file"), cwd=tmp_path, timeout_cell=30)
    assert result.records["text"] == "visible"


# ----------------------------------------------------------------------------- concurrency


def test_four_kernels_started_at_once_do_not_race(tmp_path):
    barrier = threading.Barrier(4)

    def one(i: int) -> RunResult:
        barrier.wait()
        return run_notebook(fx("ok"), {"n": i}, tmp_path / f"{i}.ipynb", timeout_cell=60)

    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(one, range(4)))
    assert [r.status for r in results] == ["ok"] * 4, [r.error for r in results]
    assert [r.records["total"] for r in results] == [sum(j * j for j in range(i)) for i in range(4)]


def test_bad_arguments_are_programming_errors():
    with pytest.raises(ValueError):
        run_notebook(fx("ok"), timeout_cell=0)
    with pytest.raises(TypeError):
        run_notebook(fx("ok"), limits={"memory_mb": 10})


# ----------------------------------------------------------------------------- kernel start


def _kernelspec(root: Path, name: str, argv: list[str]) -> None:
    folder = root / "kernels" / name
    folder.mkdir(parents=True)
    spec = {"argv": argv, "display_name": name, "language": "python"}
    (folder / "kernel.json").write_text(json.dumps(spec))


def test_kernel_start_failure_is_retried_once_then_succeeds(tmp_path, monkeypatch):
    marker = tmp_path / "failed-once"
    script = tmp_path / "flaky.py"
    script.write_text(
        "import os, sys, pathlib\n"
        f"marker = pathlib.Path({str(marker)!r})\n"
        "if not marker.exists():\n"
        "    marker.write_text('x')\n"
        "    sys.exit(1)  # the first start dies before replying, as a port race would\n"
        "os.execv(sys.executable, [sys.executable, '-m', 'ipykernel_launcher', *sys.argv[1:]])\n"
    )
    _kernelspec(tmp_path, "flaky", [sys.executable, str(script), "-f", "{connection_file}"])
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path))
    result = run_notebook(fx("ok"), kernel="flaky", timeout_cell=30)
    assert result.status == "ok", result.error
    assert marker.exists()
    assert any("retried once" in note for note in result.notes)


def test_kernel_that_never_starts_is_kernel_died_after_one_retry(tmp_path, monkeypatch):
    _kernelspec(tmp_path, "broken", [sys.executable, "-c", "import sys; sys.exit(2)"])
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path))
    result = run_notebook(fx("ok"), kernel="broken", timeout_cell=30)
    assert result.status == "kernel_died"
    assert "failed to start twice" in result.error
    assert any("retried once" in note for note in result.notes)


def test_kernel_hanging_at_start_is_stopped_by_the_run_budget(tmp_path, monkeypatch):
    _kernelspec(tmp_path, "hangs", [sys.executable, "-c", "import time; time.sleep(600)"])
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path))
    result = run_notebook(fx("ok"), kernel="hangs", timeout_total=3)
    assert result.status == "timeout", result.error
    assert "did not start" in result.error


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_timed_out_kernel_process_is_gone():
    nb = json.loads(fx("no_parameters").read_text())
    nb["cells"][1]["source"] = (
        "import os\nfrom mlops_kit.records import record\nrecord('pid', os.getpid())"
    )
    nb["cells"].append({**nb["cells"][1], "id": "loop", "source": "while True:\n    pass"})
    result = run_notebook(nb, timeout_cell=2)
    assert result.status == "timeout"
    assert not _alive(result.records["pid"])


def test_a_kernel_killed_by_its_own_code_is_not_out_of_memory():
    # A SIGKILL the notebook sends itself is what it is, cap or no cap (issue 13): the
    # monitor saw its memory far below the cap, so the status says how it died.
    nb = json.loads(fx("no_parameters").read_text())
    nb["cells"][1]["source"] = "import os, signal\nos.kill(os.getpid(), signal.SIGKILL)"
    capped = run_notebook(nb, limits=Limits(memory_mb=1024), timeout_cell=30)
    assert capped.status == "kernel_died", capped.error
    assert "SIGKILL" in capped.error and "1024 MiB it did not reach" in capped.error
    uncapped = run_notebook(nb, timeout_cell=30)
    assert uncapped.status == "kernel_died"
    assert "SIGKILL" in uncapped.error


def test_a_kernel_that_hits_its_memory_cap_is_out_of_memory():
    # memory held in forked children: no MemoryError anywhere, the monitor stops them all
    nb = json.loads(fx("no_parameters").read_text())
    nb["cells"][1]["source"] = (
        "import os, time\n"
        "for _ in range(8):\n"
        "    if os.fork() == 0:\n"
        "        b = bytearray(150 * 1024 * 1024); time.sleep(60); os._exit(0)\n"
        "time.sleep(60)\n"
    )
    capped = run_notebook(nb, limits=Limits(memory_mb=600), timeout_cell=40)
    assert capped.status == "out_of_memory", capped.error
    assert "memory cap of 600 MiB" in capped.error


# ----------------------------------------------------------------------------- processes


def _run_in_process(i: int) -> tuple[str, int | None]:
    result = run_notebook(fx("ok"), {"n": i}, timeout_cell=60)
    return result.status, result.records.get("total")


def test_four_processes_starting_kernels_at_once():
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["mlops_kit.execution.runner", "papermill", "nbclient"])
    with ProcessPoolExecutor(4, mp_context=context) as pool:
        list(pool.map(abs, range(4)))  # start the workers first, so the runs overlap
        results = list(pool.map(_run_in_process, range(4)))
    assert results == [("ok", sum(j * j for j in range(i))) for i in range(4)]


def test_sys_exit_zero_is_ok_with_a_note_and_nonzero_is_cell_error():
    nb = json.loads(fx("no_parameters").read_text())
    nb["cells"][1]["source"] = "import sys\nsys.exit(0)"
    nb["cells"].append({**nb["cells"][1], "id": "after", "source": "print('after')"})
    stopped = run_notebook(nb, timeout_cell=30)
    assert stopped.status == "ok", stopped.error
    assert any("sys.exit(0) at In [1]" in note for note in stopped.notes)
    nb["cells"][1]["source"] = "import sys\nsys.exit(3)"
    failed = run_notebook(nb, timeout_cell=30)
    assert failed.status == "cell_error"
    assert failed.ename == "SystemExit"


def test_failure_found_even_when_the_error_output_was_lost():
    from types import SimpleNamespace

    import nbformat

    from mlops_kit.execution.outcome import first_failure as _failure

    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x") for _ in range(3)])
    for cell in nb.cells:
        cell.metadata["papermill"] = {"exception": False}
    client = SimpleNamespace(kit_cell_error=None)
    assert _failure(nb, client) is None
    nb.cells[2].metadata["papermill"]["exception"] = True  # papermill saw it fail...
    assert _failure(nb, client)[0] == 2  # ...with neither an output nor a reply
    client.kit_cell_error = (2, "MemoryError", "")  # the execute reply named it
    assert _failure(nb, client) == (2, "MemoryError", "")
    client.kit_cell_error = (2, "SystemExit", "0")  # sys.exit(0) is not a failure
    assert _failure(nb, client) is None


def _fails_with(tmp_path: Path, ename: str, *cells: str):
    """Run a notebook of ``cells`` that must stop with ``ename``; return the RunResult."""
    path = write_notebook(tmp_path / "fails.ipynb", *cells)
    result = run_notebook(path, {}, tmp_path / "out" / "fails.ipynb", timeout_cell=60)
    assert result.status == "cell_error" and result.ename == ename, result.error
    return result


def test_a_chained_error_quotes_the_learners_line_not_the_librarys(tmp_path):
    """pandas' KeyError is raised from get_loc's: the traceback shows pandas' line first."""
    result = _fails_with(
        tmp_path,
        "KeyError",
        "import pandas as pd\n\ndef pick(df):\n    return df['duration']",
        "df = pd.DataFrame({'trip_distance': [1.0]})\n\nx = pick(df)",
    )
    # the failing cell's own line, not pandas' `return self._engine.get_loc(...)` nor the
    # line of pick() in the cell before (another In [n])
    assert f"{result.cell_label} (line 3: `x = pick(df)`) raised KeyError" in result.error
    assert "get_loc" not in result.error.split("raised")[0]


def test_an_error_that_carries_its_own_fix_gets_no_second_one(tmp_path):
    """The kit's errors end with 'Fix: ...'; the runner only adds where the traceback is."""
    result = _fails_with(
        tmp_path,
        "HomeworkError",
        "from mlops_kit.homework import answer",
        "answer('q7', 19, cohort='2024')",
    )
    assert result.error.count("Fix:") == 1, result.error
    assert "Use one of q1, q2" in result.error and "The traceback is in" in result.error
