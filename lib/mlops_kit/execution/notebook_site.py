"""``mlops-kit run``: execute the module's notebooks and publish them as HTML.

This is what ``make run`` does. Each notebook is executed headlessly with papermill
through :mod:`.runner` (via :func:`.batch.run_batch`, so several notebooks run
at once), rendered to HTML with nbconvert, and listed in ``build/index.html`` with its
parameters, its status and the figures it recorded. A failing notebook never stops the
others; the return value says how each one ended.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..config import repo_root
from ..errors import KitError
from ..fileio import atomic_write
from ..pages import html_page


@dataclass
class NotebookRun:
    """One notebook's outcome, as shown in the index."""

    name: str
    status: str
    seconds: float
    parameters: dict[str, Any]
    records: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    ipynb: str | None = None
    html: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-able dict (for ``--json``)."""
        return dict(self.__dict__)


def default_notebooks(root: Path | None = None) -> list[Path]:
    """Return the module's notebooks (``notebooks/NN_*.ipynb``) in order.

    Raises:
        KitError: when not run inside an mlops-kit checkout.
    """
    root = root or repo_root()
    if root is None or not (root / "notebooks").is_dir():
        raise KitError(
            "No notebooks/ folder found: mlops-kit run looks for the kit's notebooks in the "
            "checkout that contains the current folder.",
            "cd into your mlops-kit clone, or name the notebooks: mlops-kit run PATH.ipynb ...",
        )
    return sorted((root / "notebooks").glob("[0-9][0-9]_*.ipynb"))


def render_html(executed: Path, target: Path) -> Path:
    """Render an executed notebook to a standalone HTML page (written atomically)."""
    import nbformat
    from nbconvert import HTMLExporter

    nb = nbformat.read(executed, as_version=4)
    body, _ = HTMLExporter(template_name="lab").from_notebook_node(nb)
    atomic_write(target, body)
    return target


def _format_value(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def index_html(runs: Sequence[NotebookRun], title: str = "mlops-kit notebooks") -> str:
    """Return the HTML of the index page listing every run."""
    rows = []
    for run in runs:
        params = (
            "<br>".join(
                f"<code>{html.escape(k)}</code> = {html.escape(repr(v))}"
                for k, v in run.parameters.items()
            )
            or "<em>defaults</em>"
        )
        records = (
            "<br>".join(
                f"<code>{html.escape(k)}</code> = {html.escape(_format_value(v))}"
                for k, v in run.records.items()
            )
            or "&ndash;"
        )
        links = " ".join(
            f'<a href="{html.escape(p)}">{label}</a>'
            for p, label in ((run.html, "HTML"), (run.ipynb, "ipynb"))
            if p
        )
        error = f"<div class='err'>{html.escape(run.error)}</div>" if run.error else ""
        rows.append(
            f"<tr class='{html.escape(run.status)}'>"
            f"<td><b>{html.escape(run.name)}</b><br>{links}</td>"
            f"<td class='st'>{html.escape(run.status)}{error}</td><td>{run.seconds:.1f} s</td>"
            f"<td>{params}</td><td>{records}</td></tr>"
        )
    ok = sum(r.status == "ok" for r in runs)
    body = (
        f"<p>{ok} of {len(runs)} notebooks ran to the end.</p>\n"
        "<div class='scroll'><table><thead><tr><th>notebook</th><th>status</th><th>time</th>"
        "<th>parameters</th><th>recorded figures</th></tr></thead><tbody>\n"
        f"{''.join(rows)}\n</tbody></table></div>"
    )
    return html_page(title, body, style=_STYLE)


_STYLE = """
table{width:100%}
tr.ok .st{color:#17702b;font-weight:bold}
tr:not(.ok) .st{color:#b00020;font-weight:bold}
"""


def run_all(
    notebooks: Sequence[str | Path] | None = None,
    parameters: Mapping[str, Any] | None = None,
    out: str | Path = "build",
    *,
    workers: int = 2,
    timeout_cell: float = 600,
    timeout_total: float = 1800,
    coerce_strings: bool = False,
    progress: bool | None = None,
) -> list[NotebookRun]:
    """Execute notebooks into ``out/notebooks/``, render HTML and write ``out/index.html``.

    Parameters are checked against each notebook's ``parameters`` cell *before* any kernel
    starts: papermill only warns about a name the notebook does not declare, the kit refuses.

    Args:
        notebooks: notebook paths; all of ``notebooks/`` when None or empty.
        parameters: names and values injected into every notebook.
        out: the build folder.
        workers: notebooks executed at once.
        timeout_cell: seconds one cell may take.
        timeout_total: seconds one notebook may take.
        coerce_strings: parameters came from a command line as strings: convert them to the
            type of each notebook's default.
        progress: show a progress bar (None: only on a terminal).

    Returns:
        One :class:`NotebookRun` per notebook, in order.
    """
    from .batch import Job, check_workers, run_batch
    from .parameters import validate_parameters

    check_workers(workers)
    paths = [Path(p) for p in notebooks] if notebooks else default_notebooks()
    for path in paths:
        if not path.is_file():
            raise KitError(
                f"Notebook {path} does not exist.",
                "Name an existing .ipynb (mlops-kit run with no argument runs all of notebooks/).",
            )
    out = Path(out)
    nb_dir = out / "notebooks"
    jobs = []
    for path in paths:
        params = validate_parameters(path, dict(parameters or {}), coerce_strings=coerce_strings)
        work = out / "work" / path.stem
        work.mkdir(parents=True, exist_ok=True)
        jobs.append(
            Job(
                notebook=path.resolve(),
                parameters=params,
                output=(nb_dir / path.name).resolve(),
                cwd=work.resolve(),
                timeout_cell=timeout_cell,
                timeout_total=timeout_total,
            )
        )
    results = run_batch(jobs, workers=workers, progress=progress)
    runs = []
    for path, result in zip(paths, results, strict=True):
        executed = nb_dir / path.name
        page = None
        if executed.is_file():
            page = render_html(executed, nb_dir / f"{path.stem}.html")
        runs.append(
            NotebookRun(
                name=path.name,
                status=result.status,
                seconds=round(float(result.seconds or 0.0), 2),
                parameters=dict(result.parameters or {}),
                records=dict(result.records or {}),
                error=result.error,
                ipynb=str(executed.relative_to(out)) if executed.is_file() else None,
                html=str(page.relative_to(out)) if page else None,
            )
        )
    atomic_write(out / "index.html", index_html(runs))
    return runs
