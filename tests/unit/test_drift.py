"""The library-drift hints: each entry reproduced for real in a tiny notebook run by the runner.

Every entry of :data:`mlops_kit.execution.drift.DRIFTS` is the course's code meeting today's
libraries. The notebooks below execute that code on the installed releases (through
:func:`~mlops_kit.execution.batch.run_batch`, as ``mlops-kit run``, batches and grading do)
and the tests check the paragraph or the note carries the entry's fix.

seaborn 0.13 only warns about ``distplot`` (0.14 removes it): the warning is reproduced for
real (a note, and an error when warnings are errors); the AttributeError that 0.14 will
raise is checked on the message Python itself gives for a module without that name.
pandas 3's copy-on-write likewise warns (the assignment silently does nothing), so it is
reproduced as a warning and, with warnings as errors, as a real cell error.
"""

from __future__ import annotations

import types
from pathlib import Path

import pytest

from mlops_kit.execution.batch import Job, run_batch
from mlops_kit.execution.drift import DRIFTS, hint_for

from .tiny_notebooks import write_notebook

pytestmark = pytest.mark.runner

AS_ERRORS = "import warnings\nwarnings.simplefilter('error')\n"
LASSO = (
    "from sklearn.feature_extraction import DictVectorizer\n"
    "from sklearn.linear_model import Lasso\n"
    "dicts = [{'PU_DO': '43_151', 'trip_distance': 1.2}, {'PU_DO': '1_2', 'trip_distance': 3.0}]\n"
    "X = DictVectorizer().fit_transform(dicts)\n"
    "Lasso(alpha=0.01).fit(X, [5.0, 9.0])"
)
SQUARED = (
    "from sklearn.metrics import mean_squared_error\n"
    "mean_squared_error([1.0, 2.0], [2.0, 2.0], squared=False)"
)
DISTPLOT = "import seaborn as sns\nsns.distplot([1.0, 2.0, 2.5, 3.0])"
CHAINED = (
    "import pandas as pd\n"
    "df = pd.DataFrame({'duration': [1.0, None], 'PULocationID': [1, 2]})\n"
    "df['duration'].fillna(0, inplace=True)\n"
    "df['duration'][df['PULocationID'] > 1] = 5"
)

# case -> (code, status, drift key, where the fix must show: "error" or "notes")
CASES = {
    "squared": (SQUARED, "cell_error", "sklearn-squared", "error"),
    "lasso": (LASSO, "cell_error", "sklearn-int64-indices", "error"),
    "distplot warns": (DISTPLOT, "ok", "seaborn-distplot", "notes"),
    "distplot as error": (AS_ERRORS + DISTPLOT, "cell_error", "seaborn-distplot", "error"),
    "chained warns": (CHAINED, "ok", "pandas-copy-on-write", "notes"),
    "chained as error": (AS_ERRORS + CHAINED, "cell_error", "pandas-copy-on-write", "error"),
    "unrelated error": ("import math\nmath.sqrt('x')", "cell_error", None, "error"),
}


def _notebook(path: Path, code: str) -> Path:
    return write_notebook(path, "import matplotlib", code)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    folder = tmp_path_factory.mktemp("drift")
    names = list(CASES)
    jobs = [
        Job(
            _notebook(folder / f"case{i}.ipynb", CASES[name][0]),
            output=folder / "out" / f"case{i}.ipynb",
            timeout_cell=120,
            key=f"case{i}",
        )
        for i, name in enumerate(names)
    ]
    results = run_batch(jobs, workers=2, progress=False)
    return dict(zip(names, results, strict=True))


def _drift(key: str):
    return next(d for d in DRIFTS if d.key == key)


@pytest.mark.parametrize("case", list(CASES))
def test_the_course_code_meets_the_fix(runs, case):
    _, status, key, where = CASES[case]
    result = runs[case]
    assert result.status == status, result.error
    if key is None:  # an error no entry knows: the generic fix, no drift sentence
        assert "known change" not in result.error and "Fix: open the executed notebook" in (
            result.error
        )
        return
    drift = _drift(key)
    if where == "error":
        assert drift.fix in result.error and drift.change in result.error
        assert result.cell_label == "In [2]" and result.error.startswith("In [2] (line")
        assert result.error.count("Fix:") == 1
        assert "report a minimal reproducer" not in result.error  # library advice cut off
    else:
        assert any(drift.fix in note and note.startswith("In [2]") for note in result.notes)


def test_every_entry_has_a_real_case():
    assert {key for _, _, key, _ in CASES.values() if key} == {d.key for d in DRIFTS}


def test_seaborn_0_14_attribute_error_matches_on_python_s_own_message():
    module = types.ModuleType("seaborn")
    with pytest.raises(AttributeError) as info:
        module.distplot  # noqa: B018 - what `sns.distplot` raises once seaborn drops it
    assert hint_for("AttributeError", str(info.value)).key == "seaborn-distplot"
    assert hint_for("AttributeError", "module 'seaborn' has no attribute 'histplot'") is None


def test_matchers_look_at_the_exception_name():
    assert hint_for("ValueError", "got an unexpected keyword argument 'squared'") is None
    assert hint_for("TypeError", "got an unexpected keyword argument 'squared'") is not None


def test_run_cli_prints_the_fix(tmp_path, capsys):
    from mlops_kit.cli import main

    path = _notebook(tmp_path / "course.ipynb", SQUARED)
    code = main(["run", str(path), "--out", str(tmp_path / "build")])
    out = capsys.readouterr().out
    assert code == 1
    assert "root_mean_squared_error" in out and "In [2]" in out
