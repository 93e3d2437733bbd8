import json

import nbformat
import numpy as np
import pytest

from mlops_kit.errors import InvalidNotebookError
from mlops_kit.records import MIME_TYPE, read_records, record, to_jsonable


def _nb_with_outputs(*items):
    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("x")
    cell.outputs = [
        nbformat.v4.new_output("display_data", data={MIME_TYPE: item, "text/plain": "x"})
        for item in items
    ]
    nb.cells = [nbformat.v4.new_markdown_cell("# t"), cell]
    return nb


def test_to_jsonable_converts_numpy_and_nan():
    value = {"a": np.float64(1.5), "b": np.int64(3), "c": [np.nan, 2], "d": np.arange(2)}
    assert to_jsonable(value) == {"a": 1.5, "b": 3, "c": [None, 2], "d": [0, 1]}
    assert type(to_jsonable(np.int32(7))) is int


def test_to_jsonable_refuses_objects_with_a_hint():
    with pytest.raises(TypeError, match="summary number"):
        to_jsonable(object())


def test_record_outside_a_kernel_prints(capsys):
    assert record("rmse", np.float64(7.25)) == 7.25
    assert capsys.readouterr().out.strip() == "rmse = 7.25"


def test_read_records_later_wins_and_roundtrips_file(tmp_path):
    nb = _nb_with_outputs(
        {"name": "a", "value": 1},
        {"name": "a", "value": 2},
        json.dumps({"name": "b", "value": [1, 2]}),
    )
    path = tmp_path / "x.ipynb"
    nbformat.write(nb, path)
    assert read_records(path) == {"a": 2, "b": [1, 2]}
    assert read_records(nb) == {"a": 2, "b": [1, 2]}


def test_read_records_of_a_broken_file_explains(tmp_path):
    path = tmp_path / "broken.ipynb"
    path.write_text("{not json")
    with pytest.raises(InvalidNotebookError, match="executed .ipynb"):
        read_records(path)
