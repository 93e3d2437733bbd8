"""Tests of mlops_kit.execution.parameters: the kit's one parser of a notebook's parameters cell.

The runner, the batch grids and the homework learn what a notebook accepts from this
parser; papermill injects the values. The two must read every notebook of the project the
same way, which the first test checks against papermill's own public inspection.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from mlops_kit.execution.parameters import declared_in, infer_type, notebook_parameters

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = sorted(
    p
    for folder in ("notebooks", "homework", "tests/fixtures")
    for p in (ROOT / folder).rglob("*.ipynb")
)


def notebook(source: str, cell_type: str = "code") -> dict:
    """A one-cell notebook whose cell is tagged ``parameters``."""
    return {
        "cells": [
            {
                "cell_type": cell_type,
                "metadata": {"tags": ["parameters"]},
                "source": source,
                "outputs": [],
                "execution_count": None,
                "id": "p",
            }
        ],
        "metadata": {"kernelspec": {"name": "python3", "language": "python"}},
        "nbformat": 4,
        "nbformat_minor": 5,
    }


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_project_notebook_reads_as_papermill_reads_it(path):
    import papermill

    mine = notebook_parameters(path)
    theirs = papermill.inspect_notebook(str(path))
    assert list(mine) == list(theirs)
    for name, p in theirs.items():
        assert mine[name]["default_source"] == p["default"], name
        assert mine[name]["help"] == p["help"], name
        assert mine[name]["type"] == infer_type(p["inferred_type_name"], p["default"]), name


def test_the_project_has_notebooks_to_compare():
    assert len(NOTEBOOKS) >= 10  # the comparison above must not pass on an empty list


def test_annotation_type_comment_help_and_multi_line_values():
    declared = declared_in(
        notebook(
            "x = 1  # help one\n"
            "y: float = 2  # annotated\n"
            'z: "int" = 3\n'
            "months = [\n"
            '    "2021-01",  # first\n'
            '    "2021-02",\n'
            "]  # the months\n"
            "q = 3  # type: float a typed comment\n"
            'w = "a#b"  # a hash inside the string\n'
        )
    )
    assert {n: p["type"] for n, p in declared.items()} == {
        "x": "int",
        "y": "float",
        "z": "int",
        "months": "list",
        "q": "float",
        "w": "str",
    }
    assert declared["x"]["help"] == "help one"
    assert declared["months"]["default_source"] == '["2021-01","2021-02",]'
    assert declared["months"]["default"] == ["2021-01", "2021-02"]
    assert declared["months"]["help"] == "the months"
    assert declared["q"]["help"] == "a typed comment"
    assert (declared["w"]["default"], declared["w"]["help"]) == ("a#b", "a hash inside the string")


def test_only_single_name_assignments_with_a_value_count():
    declared = declared_in(
        notebook("a = b = 1\nc, d = 1, 2\ne: int\nf = make()  # not a literal\nf = 2\n")
    )
    assert list(declared) == ["f"]
    assert declared["f"]["default"] == 2  # the last value wins, the first place stays


def test_magics_and_broken_lines_do_not_hide_the_other_names():
    assert list(declared_in(notebook("%matplotlib inline\nx = 1\n!ls\ny = 2\n"))) == ["x", "y"]
    assert list(declared_in(notebook("x = 1\nthis is not python\ny = 2  # yy\n"))) == ["x", "y"]


def test_no_parameters_cell_or_a_markdown_one_declares_nothing():
    assert declared_in(notebook("x = 1", cell_type="markdown")) == {}
    plain = notebook("x = 1")
    plain["cells"][0]["metadata"]["tags"] = []
    assert declared_in(plain) == {}
    assert declared_in({"cells": ["not a cell", 3]}) == {}


def test_a_notebook_without_kernelspec_still_has_parameters(tmp_path):
    nb = notebook("n = 3  # how many")
    del nb["metadata"]["kernelspec"]
    path = tmp_path / "bare.ipynb"
    path.write_text(json.dumps(nb))
    assert notebook_parameters(path)["n"]["default"] == 3


def test_parsing_imports_neither_papermill_nor_nbformat():
    code = (
        "import json, sys\n"
        "from mlops_kit.execution.parameters import declared_in\n"
        f"nb = json.load(open({str(ROOT / 'tests/fixtures/notebooks/ok.ipynb')!r}))\n"
        "assert list(declared_in(nb))[0] == 'n'\n"
        "print('papermill' in sys.modules or 'nbformat' in sys.modules)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"
