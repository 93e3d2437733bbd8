"""Record figures in an executed notebook and read them back.

A notebook ends with the numbers that matter (row counts, RMSEs, answers). ``record``
stores each as a cell output with the kit's own MIME type, next to a plain-text line a
reader sees; ``read_records`` finds them again in the executed ``.ipynb``. This is what
papermill's old companion *scrapbook* did, without its dependency on pandas 1.

Example:
    In a notebook cell::

        record("val_rmse_linear", 7.4795)

    Later, in Python::

        read_records("build/notebooks/03_train_duration_model.ipynb")
        # {'val_rmse_linear': 7.4795, ...}
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

MIME_TYPE = "application/vnd.mlops-kit.record+json"


def to_jsonable(value: Any) -> Any:
    """Convert numpy/pandas scalars, tuples, paths and NaN into plain JSON values.

    Raises:
        TypeError: when the value has no JSON form (a DataFrame, a model...).
    """
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return None if math.isnan(value) else float(value)
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, Mapping):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_jsonable(v) for v in value]
    # numpy scalars and 0-d arrays, without importing numpy here
    item = getattr(value, "item", None)
    if callable(item) and getattr(value, "ndim", 0) == 0:
        plain = item()
        if type(plain) is type(value):  # np.longdouble.item() is itself: no plain form
            raise TypeError(
                f"record() stores plain numbers; a {type(value).__name__} has no exact "
                "plain form. Convert it first, e.g. float(value)."
            )
        return to_jsonable(plain)
    tolist = getattr(value, "tolist", None)
    if callable(tolist):
        return to_jsonable(tolist())
    raise TypeError(
        f"record() stores JSON values (numbers, strings, lists, dicts); "
        f"got {type(value).__name__}. Record a summary number instead."
    )


def record(name: str, value: Any, *, show: bool = True) -> Any:
    """Store ``value`` under ``name`` as an output of the current notebook cell.

    Outside a Jupyter kernel (plain Python, tests) it prints ``name = value`` instead,
    so library code can call it anywhere.

    Args:
        name: the key read back by :func:`read_records` (later records win).
        value: any JSON-able value; numpy scalars are converted.
        show: also show ``name = value`` as text in the notebook.

    Returns:
        The JSON form of the value that was stored.
    """
    data = to_jsonable(value)
    payload = {MIME_TYPE: {"name": name, "value": data}}
    payload["text/plain"] = f"{name} = {data!r}" if show else ""
    try:
        from IPython import get_ipython

        shell = get_ipython()
    except ImportError:  # pragma: no cover - IPython ships with the kit
        shell = None
    if shell is not None and getattr(shell, "kernel", None) is not None:
        from IPython.display import display

        display(payload, raw=True)
    elif show:
        print(payload["text/plain"])
    return data


#: a record's name longer than this is not one the kit writes: dropped
MAX_NAME = 200


def records_from_nb(nb: Mapping, problems: list[str] | None = None) -> dict[str, Any]:
    """Return every record found in a notebook object (nbformat node or plain dict).

    The notebook may be hostile (a graded submission): each record is checked on its own,
    and one that is not ``{"name": <text>, "value": ...}`` is dropped, never raised on.

    Args:
        nb: the notebook.
        problems: when given, gets one sentence per dropped record.
    """
    found: dict[str, Any] = {}
    cells = nb.get("cells", []) if isinstance(nb, Mapping) else []
    for index, cell in enumerate(cells if isinstance(cells, list) else []):
        if not isinstance(cell, Mapping) or cell.get("cell_type") != "code":
            continue
        outputs = cell.get("outputs", [])
        for output in outputs if isinstance(outputs, list) else []:
            data = output.get("data") if isinstance(output, Mapping) else None
            item = data.get(MIME_TYPE) if isinstance(data, Mapping) else None
            if item is None:
                continue
            why = None
            if isinstance(item, str):  # some writers store JSON MIME data as text
                try:
                    item = json.loads(item) if len(item) < 1_000_000 else None
                except (ValueError, RecursionError):
                    item = None
            if not isinstance(item, Mapping) or "value" not in item:
                why = "it is not a {name, value} object"
            elif not isinstance(item.get("name"), str) or len(item["name"]) > MAX_NAME:
                why = f"its name is not a short text ({type(item.get('name')).__name__})"
            if why is None:
                found[item["name"]] = item["value"]
            elif problems is not None:
                problems.append(f"a record in cell {index} was ignored: {why}")
    return found


def read_records(notebook: str | Path | Mapping) -> dict[str, Any]:
    """Return the records of an executed notebook, from a path or a loaded notebook.

    Raises:
        InvalidNotebookError: when the file is not a readable notebook.
    """
    if isinstance(notebook, Mapping):
        return records_from_nb(notebook)
    from .errors import InvalidNotebookError

    path = Path(notebook)
    try:
        nb = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InvalidNotebookError(
            f"Cannot read records from {path}: {exc}.",
            "Pass the path of an executed .ipynb file (the output of papermill or mlops-kit run).",
        ) from exc
    return records_from_nb(nb)
