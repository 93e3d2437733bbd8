"""The grader stages the key's months where learners read them, and serves their TLC URLs."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import nbformat
import pandas as pd
import pytest

from mlops_kit.homework import build_key, load_cohort, load_key
from mlops_kit.homework.staging import explain_missing, key_files, stage
from mlops_kit.homework.tlc_mirror import tlc_name

JAN = "green_tripdata_2021-01.parquet"
FEB = "green_tripdata_2021-02.parquet"
URLS = [
    f"https://d37ci6vzurychx.cloudfront.net/trip-data/{JAN}",
    f"https://nyc-tlc.s3.amazonaws.com/trip+data/{JAN}",  # the 2022 cohort's host
    f"https://s3.amazonaws.com/nyc-tlc/trip+data/{JAN}",
]


@pytest.fixture
def month(tmp_path):
    """A small parquet standing in for a staged month (3 rows)."""
    path = tmp_path / "source" / JAN
    path.parent.mkdir()
    pd.DataFrame({"PULocationID": [1, 2, 3]}).to_parquet(path)
    return path


def _python(staging, code: str) -> subprocess.CompletedProcess:
    env = {**os.environ, **staging.env}
    return subprocess.run(
        [sys.executable, "-c", code], cwd=staging.cwd, env=env, capture_output=True, text=True
    )


def _shell(staging, command: str) -> subprocess.CompletedProcess:
    env = {**os.environ, **staging.env}
    return subprocess.run(
        command, shell=True, cwd=staging.cwd, env=env, capture_output=True, text=True
    )


def test_tlc_urls_of_every_host_name_the_file():
    assert [tlc_name(u) for u in URLS] == [JAN] * 3
    assert tlc_name("https://example.com/green_tripdata_2021-01.parquet") is None
    assert tlc_name(f"https://d37ci6vzurychx.cloudfront.net/trip-data/{JAN}.bak") is None


def test_the_months_are_where_learners_read_them(tmp_path, month):
    staging = stage(tmp_path / "job", {JAN: month})
    assert staging.cwd == (tmp_path / "job" / "work").resolve()
    for place in (JAN, f"./data/{JAN}", f"../data/{JAN}", f"~/data/{JAN}"):
        code = "import os, pandas as pd\n"
        code += f"print(len(pd.read_parquet(os.path.expanduser({place!r}))))"
        result = _python(staging, code)
        assert result.stdout.strip() == "3", (place, result.stderr[-500:])


@pytest.mark.parametrize("url", URLS)
def test_read_parquet_of_a_tlc_url_reads_the_staged_file(tmp_path, month, url):
    staging = stage(tmp_path / "job", {JAN: month})
    code = f"import pandas as pd; print(len(pd.read_parquet({url!r})))"
    result = _python(staging, code)
    assert result.stdout.strip() == "3", result.stderr[-800:]


def test_urlretrieve_of_a_tlc_url_saves_the_staged_file(tmp_path, month):
    staging = stage(tmp_path / "job", {JAN: month})
    code = (
        "import urllib.request, pandas as pd\n"
        f"urllib.request.urlretrieve({URLS[0]!r}, 'mine.parquet')\n"
        "print(len(pd.read_parquet('mine.parquet')))"
    )
    assert _python(staging, code).stdout.strip() == "3"


def test_a_url_the_grader_cannot_serve_says_what_was_staged(tmp_path, month):
    staging = stage(tmp_path / "job", {JAN: month})
    missing = f"https://d37ci6vzurychx.cloudfront.net/trip-data/{FEB}"
    code = (
        "import pandas as pd\n"
        f"for url in [{missing!r}, 'http://127.0.0.1:9/x.parquet']:\n"
        "    try:\n        pd.read_parquet(url)\n"
        "    except Exception as exc:\n        print(type(exc).__name__, exc)"
    )
    lines = _python(staging, code).stdout.strip().splitlines()
    assert len(lines) == 2
    assert all(line.startswith("URLError") for line in lines)
    assert all("no network while grading" in line and JAN in line for line in lines)
    assert missing in lines[0] and "127.0.0.1:9" in lines[1]


def test_wget_and_curl_find_the_month_already_there(tmp_path, month):
    staging = stage(tmp_path / "job", {JAN: month})
    result = _shell(
        staging,
        f"wget {URLS[0]} && wget -P data {URLS[1]} && wget -O jan21.parquet {URLS[0]} "
        f"&& curl -sS {URLS[1]} > piped.parquet && curl -o got/it.parquet --create-dirs {URLS[2]}",
    )
    assert result.returncode == 0, result.stderr
    assert "already there, staged by the grader" in result.stdout
    for name in (JAN, f"data/{JAN}", "jan21.parquet", "piped.parquet", "got/it.parquet"):
        assert len(pd.read_parquet(staging.cwd / name)) == 3, name
    failed = _shell(staging, f"wget https://d37ci6vzurychx.cloudfront.net/trip-data/{FEB}")
    assert failed.returncode == 4 and "no network while grading" in failed.stderr


def test_staged_months_are_links_outside_the_working_folder(tmp_path, month):
    staging = stage(tmp_path / "job", {JAN: month})
    for link in (staging.cwd / JAN, staging.cwd / "data" / JAN, staging.cwd.parent / "data" / JAN):
        assert link.is_symlink() and link.resolve() == month.resolve()
    # the hooks live outside the working folder too (read-only for a sandboxed kernel)
    hooks = staging.cwd.parent / ".grader"
    assert staging.env["PATH"].split(os.pathsep)[0] == str(hooks / "bin")
    assert json.loads(staging.env["MLOPS_KIT_TLC_MIRROR"]) == {JAN: str(month.resolve())}
    assert staging.env["HOME"] == str(staging.cwd)
    assert staging.read_paths == (str(staging.cwd.parent), str(month.parent.resolve()))


def test_key_files_stage_only_the_files_the_key_was_computed_on(tmp_path, month, monkeypatch):
    from mlops_kit.fileio import file_sha256

    monkeypatch.setenv("MLOPS_KIT_DATA_DIR", str(month.parent))
    monkeypatch.setenv("MLOPS_KIT_OFFLINE", "1")
    co = load_cohort("practice")
    answers = {"q1": 20, "q2": 59.3, "q3": 0.97, "q4": 506, "q5": 9.78, "q6": 10.47}
    right = load_key(build_key(co, answers, synthetic=False, inputs={JAN: file_sha256(month)}))
    files, skipped = key_files(co, right)
    assert files == {JAN: month.resolve()}
    assert skipped == [f"{FEB} is not on this machine"]
    other = load_key(build_key(co, answers, synthetic=False, inputs={JAN: "0" * 64}))
    files, skipped = key_files(co, other)
    assert files == {} and "not the file the key was computed on" in skipped[0]
    synthetic = load_key(build_key(co, answers, synthetic=True))
    assert key_files(co, synthetic)[0] == {}


def test_a_path_the_grader_cannot_provide_is_named(tmp_path, month):
    staging = stage(tmp_path / "job", {JAN: month})
    message = explain_missing(
        "FileNotFoundError",
        "[Errno 2] No such file or directory: '../input/trips/green_tripdata_2021-01.parquet'",
        staging,
    )
    assert message.startswith("the notebook read ../input/trips/green_tripdata_2021-01.parquet")
    assert f"the grader staged {JAN}" in message and "../data/" in message
    assert explain_missing("ValueError", "bad value", staging) is None
    assert explain_missing("OSError", "disk full", staging) is None


@pytest.mark.homework
def test_a_sandboxed_kernel_reads_every_place_with_the_network_cut(tmp_path, month):
    """A learner-style notebook in a graded kernel: the places, the URL and !wget."""
    from mlops_kit.execution.runner import Limits, run_notebook

    staging = stage(tmp_path / "job", {JAN: month})
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3"}
    nb.cells = [
        nbformat.v4.new_code_cell(f"!wget {URLS[0]}"),
        nbformat.v4.new_code_cell(
            "import os, pandas as pd\n"
            f"sizes = [len(pd.read_parquet(os.path.expanduser(p))) for p in "
            f"[{JAN!r}, './data/{JAN}', '../data/{JAN}', '~/data/{JAN}', {URLS[1]!r}]]\n"
            "print(sizes)"
        ),
        nbformat.v4.new_code_cell(f"pd.read_parquet('../../data/{JAN}')"),
    ]
    path = tmp_path / "learner.ipynb"
    nbformat.write(nb, path)
    out = tmp_path / "executed.ipynb"
    result = run_notebook(
        path,
        {},
        out,
        cwd=staging.cwd,
        env=staging.env,
        limits=Limits(network=False, read_only=True, read_paths=staging.read_paths),
        timeout_cell=60,
    )
    executed = nbformat.read(out, as_version=4)
    printed = "".join(o.get("text", "") for o in executed.cells[1].outputs)
    assert "[3, 3, 3, 3, 3]" in printed
    assert "already there, staged by the grader" in "".join(
        o.get("text", "") for o in executed.cells[0].outputs
    )
    assert result.status == "cell_error" and result.ename == "FileNotFoundError"
    message = explain_missing(result.ename, result.evalue, staging)
    assert f"../../data/{JAN}" in message and "the grader staged" in message
