"""Write small notebooks for the tests of the runner, the drift hints and ``mlops-kit run``."""

from __future__ import annotations

from pathlib import Path

import nbformat

KERNELSPEC = {"name": "python3", "display_name": "Python 3", "language": "python"}


def write_notebook(path: Path, *code: str, parameters: str = "", title: str = "") -> Path:
    """Write a notebook: an optional markdown title, a ``parameters`` cell, one cell per code."""
    cells = [nbformat.v4.new_markdown_cell(title)] if title else []
    if parameters:
        cells.append(nbformat.v4.new_code_cell(parameters, metadata={"tags": ["parameters"]}))
    cells += [nbformat.v4.new_code_cell(source) for source in code]
    nb = nbformat.v4.new_notebook(cells=cells)
    nb.metadata["kernelspec"] = dict(KERNELSPEC)
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)
    return path
