"""Real class material (tests/fixtures/realclass): learners' own notebooks and form answers.

The notebooks run as the grader runs them (the key's months staged, network cut, a
read-only file system outside the working folder) and their answers are read from their
outputs under their own headings; the forms get the grades a person gives them.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import nbformat
import pytest

from mlops_kit.homework import load_cohort, load_key

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "realclass"
NOTEBOOKS = sorted((FIXTURES / "notebooks").glob("*.ipynb"))
EXPECTED = json.loads((FIXTURES / "expected.json").read_text())


def test_the_material_is_what_the_readme_lists():
    readme = (FIXTURES / "README.md").read_text()
    assert len(NOTEBOOKS) >= 8
    assert {p.stem[:4] for p in NOTEBOOKS} == {"2022", "2023", "2024", "2025"}
    for path in NOTEBOOKS:
        assert f"`{path.stem}`" in readme, path.stem
        nb = nbformat.read(path, as_version=4)
        assert all(not c.get("outputs") for c in nb.cells if c.cell_type == "code")
        code = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
        assert "answer(" not in code  # learners never call the kit
        # moved to the practice months: no other month is read
        assert "2021-01" in code or "{year}-{month}" in code
        for other in ("2022-0", "2023-0", "yellow_tripdata", "fhv_tripdata"):
            assert other not in code, (path.stem, other)
    places = "\n".join(c.source for p in NOTEBOOKS for c in nbformat.read(p, as_version=4).cells)
    for how in ("!wget https://", "'./data/", '"../data/', "read_parquet('https://", "../input/"):
        assert how in places, how
    squared = [p for p in NOTEBOOKS if re.search(r"squared\s*=\s*False", p.read_text())]
    assert len(squared) == 10


@pytest.fixture(scope="module")
def practice_real_key(tmp_path_factory):
    """The practice key computed on the real green months (skips without them)."""
    import os

    from mlops_kit.homework import make_key

    folder = Path(os.environ.get("MLOPS_KIT_DATA_DIR", "") or "/nonexistent")
    for name in ("green_tripdata_2021-01.parquet", "green_tripdata_2021-02.parquet"):
        if not (folder / name).is_file():
            pytest.skip(f"real TLC data not available ({name}): set MLOPS_KIT_DATA_DIR")
    path = tmp_path_factory.mktemp("keys") / "practice.json"
    make_key("practice", source="real", out=path, timeout_cell=300)
    return load_key(path, "practice")


#: what each learner notebook shows, read under its own headings (see the fixtures' README)
SHOWN = {
    "2022_GwonilJoo": ("cell_error", {"q1": 76518, "q2": 19.93, "q3": 0.0, "q4": 506}),
    "2022_MichalGasiorowski": ("cell_error", {"q1": 76518, "q2": 19.93}),
    "2022_annnvv": ("cell_error", {"q1": 20, "q2": 2610, "q3": 0.0, "q4": 506}),
    "2022_dairm": ("cell_error", {}),
    "2022_oseghalepatrick": ("cell_error", {"q1": 76518, "q2": 2610}),
    "2022_space4VV": ("cell_error", {}),
    "2023_marcellovictorino": ("cell_error", {"q1": 20, "q2": 59.34, "q3": 0.9659, "q4": 506}),
    "2023_val9299": ("cell_error", {"q1": 20, "q2": 59.34, "q3": 96.59, "q4": 506}),
    "2024_adelhassen": ("cell_error", {"q1": 20, "q2": 59.34, "q3": 96.59, "q4": 506}),
    "2024_conrad-ch1": ("ok", {"q5": 9.78, "q6": 10.47}),
    "2024_hwchua0209": ("cell_error", {"q1": 20, "q2": 59.34, "q3": 96.59, "q4": 506}),
    "2024_jjovalle99": (
        "ok",
        {"q1": 20, "q2": 59.34, "q3": 0.9659, "q4": 506, "q5": 9.78, "q6": 10.47},
    ),
    "2025_Dkaattae": ("ok", {}),
    "2025_jdanussi": ("ok", {}),
}


@pytest.mark.realdata
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_learners_notebooks_run_with_the_network_cut(path, practice_real_key, tmp_path):
    from mlops_kit.execution.runner import Limits, run_notebook
    from mlops_kit.homework.shown_answers import shown_answers
    from mlops_kit.homework.staging import explain_missing, key_files, stage

    co = load_cohort("practice")
    files, skipped = key_files(co, practice_real_key)
    assert set(files) == {"green_tripdata_2021-01.parquet", "green_tripdata_2021-02.parquet"}
    staging = stage(tmp_path / "job", files)
    out = tmp_path / "executed.ipynb"
    result = run_notebook(
        path,
        {},
        out,
        cwd=staging.cwd,
        env={**staging.env, "MLOPS_KIT_OFFLINE": "1"},
        limits=Limits(network=False, read_only=True, memory_mb=3072, read_paths=staging.read_paths),
        timeout_cell=120,
    )
    status, shown = SHOWN[path.stem]
    assert result.status == status, result.error
    if status != "ok":  # the failure is the learner's code on today's libraries, not data
        assert result.ename in ("TypeError", "NameError", "KeyError", "FileNotFoundError")
        if result.ename == "TypeError":
            assert "squared" in result.evalue
        if result.ename == "FileNotFoundError":
            message = explain_missing(result.ename, result.evalue, staging)
            assert "../input/forhire-vehicle-trip-records-mlops/" in message
            assert "the grader staged green_tripdata_2021-01.parquet" in message
    found = shown_answers(nbformat.read(out, as_version=4), co)
    assert {q: a.value for q, a in found.items()} == pytest.approx(shown, abs=0.005)
    for answer in found.values():
        assert answer.cell.startswith("In [")
