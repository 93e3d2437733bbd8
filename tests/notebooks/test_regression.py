"""Every notebook, executed afresh with papermill, must reproduce its golden copy.

The goldens in tests/goldens/ were made with the parameters below on seeded synthetic data
(offline, so CI with or without the real files gives the same outputs). Refresh them on
purpose with ``make goldens`` and review the diff in git.
"""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest

from .nbcompare import GOLDENS, ROOT, compare, scrub_timings

NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))

#: values the golden runs use for every notebook that declares the name
CI_PARAMETERS = {
    "source": "synthetic",  # never depend on what data a machine has
    "seed": 42,
    "network": False,  # the environment check must not probe the internet
    "show_details": False,  # nor print this machine's disk, memory or versions
    # only the checks whose verdict is the same on every machine that passes make test
    "checks": ["python", "packages", "kernel", "network"],
}


#: Notebook 03 shows scikit-learn's early-stopping LinearRegression() on purpose; where an
#: iterative solver stops depends on the order of floating-point sums, i.e. on the number of
#: BLAS threads. One thread makes the golden runs reproducible (and avoids oversubscribing
#: two cores with two notebooks at once). Dask, imported by other tests, changes these too.
GOLDEN_ENV = {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


def golden_parameters(notebook: Path) -> dict:
    from mlops_kit.execution.runner import notebook_parameters

    declared = notebook_parameters(notebook)
    return {k: v for k, v in CI_PARAMETERS.items() if k in declared}


@pytest.fixture(scope="module")
def executed(tmp_path_factory):
    """Execute all notebooks once (2 at a time) and return their results by name."""
    from mlops_kit.execution.batch import Job, run_batch

    out = tmp_path_factory.mktemp("executed")
    jobs = []
    for nb in NOTEBOOKS:
        work = out / "work" / nb.stem
        work.mkdir(parents=True)
        jobs.append(
            Job(
                notebook=nb,
                parameters=golden_parameters(nb),
                output=out / nb.name,
                cwd=work,
                timeout_cell=300,
                timeout_total=900,
                env=GOLDEN_ENV,
            )
        )
    results = run_batch(jobs, workers=2, progress=False)
    return {nb.stem: r for nb, r in zip(NOTEBOOKS, results, strict=True)}


def test_there_are_notebooks():
    names = [nb.stem for nb in NOTEBOOKS]
    for prefix in ("01_", "02_", "03_", "04_"):
        assert any(n.startswith(prefix) for n in names), f"missing notebook {prefix}*"


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_matches_golden(notebook, executed, update_goldens):
    result = executed[notebook.stem]
    assert result.status == "ok", f"{notebook.name} did not run: {result.error}"
    fresh = nbformat.read(result.output, as_version=4)
    golden_path = GOLDENS / notebook.name
    if update_goldens:
        GOLDENS.mkdir(parents=True, exist_ok=True)
        nbformat.write(scrub_timings(fresh), golden_path)
        return
    assert golden_path.is_file(), f"no golden for {notebook.name}: run `make goldens`"
    diff = compare(nbformat.read(golden_path, as_version=4), fresh)
    assert not diff, (
        f"{notebook.name} drifted from its golden (make goldens if on purpose):\n{diff}"
    )


def test_comparison_catches_a_changed_output():
    """The regression check can fail: edit one golden output and the diff names it."""
    golden_path = GOLDENS / "03_train_duration_model.ipynb"
    if not golden_path.is_file():
        pytest.fail("golden for notebook 03 missing: run `make goldens`")
    golden = nbformat.read(golden_path, as_version=4)
    edited = nbformat.read(golden_path, as_version=4)
    target = next(
        out
        for cell in edited.cells
        if cell.cell_type == "code"
        for out in cell.get("outputs", [])
        if "text/plain" in out.get("data", {}) or out.get("output_type") == "stream"
    )
    if "text" in target:
        target["text"] = target["text"] + "\nan extra line\n"
    else:
        target["data"]["text/plain"] = "999.9999 (edited)"
    diff = compare(golden, edited)
    assert diff, "an edited output must be reported"
    assert "edited" in diff or "an extra line" in diff


def test_normalisation_ignores_volatile_details():
    golden = (
        nbformat.read(GOLDENS / "03_train_duration_model.ipynb", as_version=4)
        if (GOLDENS / "03_train_duration_model.ipynb").is_file()
        else None
    )
    if golden is None:
        pytest.fail("golden for notebook 03 missing: run `make goldens`")
    shuffled = nbformat.read(GOLDENS / "03_train_duration_model.ipynb", as_version=4)
    for i, cell in enumerate(shuffled.cells):
        cell["id"] = f"other-{i}"
        if cell.cell_type == "code":
            cell["execution_count"] = 1000 + i
    shuffled.metadata["papermill"] = {"duration": 1.0}
    assert compare(golden, shuffled) == ""
