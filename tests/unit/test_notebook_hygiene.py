"""Notebooks are committed clean and start with one commented `parameters` cell."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SOURCES = sorted((ROOT / "notebooks").glob("*.ipynb")) + sorted(
    (ROOT / "homework").rglob("*.ipynb")
)


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(ROOT)))
def test_committed_without_outputs(path):
    nb = json.loads(path.read_text())
    dirty = [
        i
        for i, c in enumerate(nb["cells"])
        if c["cell_type"] == "code" and (c.get("outputs") or c.get("execution_count") is not None)
    ]
    assert not dirty, f"{path.name}: cells {dirty} have outputs; run nbstripout --keep-id"


def test_nbstripout_agrees():
    if not SOURCES:
        pytest.skip("no notebooks yet")
    exe = Path(sys.executable).parent / "nbstripout"
    result = subprocess.run(
        [str(exe), "--verify", "--keep-id", *map(str, SOURCES)], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("path", sorted((ROOT / "notebooks").glob("*.ipynb")), ids=lambda p: p.name)
def test_one_commented_parameters_cell_first(path):
    import papermill

    nb = json.loads(path.read_text())
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    tagged = [c for c in code if "parameters" in c.get("metadata", {}).get("tags", [])]
    assert len(tagged) == 1, f"{path.name}: exactly one cell tagged parameters"
    assert code[0] is tagged[0], f"{path.name}: the parameters cell is the first code cell"
    params = papermill.inspect_notebook(str(path))
    assert params, f"{path.name}: the parameters cell declares nothing"
    uncommented = [n for n, p in params.items() if not p["help"].strip()]
    assert not uncommented, f"{path.name}: comment every parameter: {uncommented}"
    assert nb["metadata"].get("kernelspec", {}).get("name") == "python3"
