"""``mlops-kit run``: execute the module's notebooks and publish them as HTML.

This is what ``make run`` does. Each notebook is executed headlessly with papermill
through :mod:`.runner` (via :func:`.batch.run_batch`, so several notebooks run
at once) in its own folder, as Jupyter runs it, rendered to HTML with nbconvert, and
listed in ``build/index.html`` with its parameters, its status and the figures it
recorded, under a banner saying which data the notebooks read (:func:`data_summary`)
and which library versions ran them. A failing notebook never stops the
others; the return value says how each one ended.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..config import cache_dir, data_dir, repo_root
from ..errors import KitError, UnknownParameterError
from ..fileio import atomic_write
from ..pages import html_page
from .versions import versions_line


@dataclass
class NotebookRun:
    """One notebook's outcome, as shown in the index."""

    name: str
    status: str
    seconds: float
    parameters: dict[str, Any]
    records: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    cell: str | None = None  # the failing cell as Jupyter shows it, "In [17]"
    notes: list[str] = field(default_factory=list)
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


def data_summary(runs: Sequence[NotebookRun]) -> str:
    """Say which data the notebooks read: real TLC files (and from where) or synthetic ones.

    Read from what the notebooks recorded (``synthetic``, a bool, as notebook 03 records
    it) and from where the kit looks for real files (``MLOPS_KIT_DATA_DIR``, else the
    cache that downloads go to).
    """
    flags = {
        run.name: run.records["synthetic"]
        for run in runs
        if isinstance(run.records.get("synthetic"), bool)
    }
    folder = data_dir()
    if not flags:
        where = f"; MLOPS_KIT_DATA_DIR is {folder}" if folder else ""
        return f"no notebook recorded which data it read{where}."
    real = [name for name, synthetic in flags.items() if not synthetic]
    fake = [name for name, synthetic in flags.items() if synthetic]
    source = f"MLOPS_KIT_DATA_DIR = {folder}" if folder else f"the kit's cache, {cache_dir()}"
    if real and fake:
        return (
            f"mixed: real TLC trip files (from {source}) in {', '.join(real)}; synthetic "
            f"months in {', '.join(fake)}."
        )
    if real:
        return f"real TLC trip records, read from {source}."
    why = (
        f"no real file for the months asked was found in MLOPS_KIT_DATA_DIR = {folder}"
        if folder
        else "MLOPS_KIT_DATA_DIR is not set and no real file was found or downloaded"
    )
    return (
        f"synthetic: seeded months the kit made with the real schema, not real trips ({why}). "
        "For the real data, set MLOPS_KIT_DATA_DIR to a folder of TLC parquet files or "
        "run mlops-kit data fetch, then run again."
    )


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
        error += "".join(f"<div class='err muted'>{html.escape(n)}</div>" for n in run.notes)
        rows.append(
            # "run-" keeps the row clear of the page shell's own .ok class (green, bold)
            f"<tr class='run-{html.escape(run.status)}'>"
            f"<td><b>{html.escape(run.name)}</b><br>{links}</td>"
            f"<td class='st'>{html.escape(run.status)}{error}</td>"
            f"<td class='time'>{run.seconds:.1f} s</td>"
            f"<td>{params}</td><td>{records}</td></tr>"
        )
    ok = sum(r.status == "ok" for r in runs)
    banner = (
        f"<div class='banner'><b>Data:</b> {html.escape(data_summary(runs))}<br>"
        f"<b>Libraries:</b> {html.escape(versions_line())}</div>\n"
    )
    body = (
        banner + f"<p>{ok} of {len(runs)} notebooks ran to the end.</p>\n"
        "<div class='scroll'><table><thead><tr><th>notebook</th><th>status</th><th>time</th>"
        "<th>parameters</th><th>recorded figures</th></tr></thead><tbody>\n"
        f"{''.join(rows)}\n</tbody></table></div>"
    )
    return html_page(title, body, style=_STYLE)


_STYLE = """
table{width:100%}
tr.run-ok .st{color:#17702b;font-weight:bold}
tr:not(.run-ok) .st{color:#b00020;font-weight:bold}
td.time{white-space:nowrap}
"""


def _parameters_per_notebook(
    paths: Sequence[Path], parameters: Mapping[str, Any]
) -> list[tuple[Path, dict[str, Any]]]:
    """Give each notebook the parameters it declares (all of them when one notebook runs).

    ``mlops-kit run -p source synthetic`` runs every notebook, and not all declare
    ``source``: the value goes to those that do. A name that no notebook of the run
    declares is refused, listing the names each one declares.
    """
    from .parameters import notebook_parameters

    if len(paths) <= 1:
        return [(path, dict(parameters)) for path in paths]
    declared = {path: notebook_parameters(path) for path in paths}
    for name in parameters:
        if not any(name in names for names in declared.values()):
            listing = "; ".join(
                f"{path.name}: {', '.join(names) or 'none'}" for path, names in declared.items()
            )
            raise UnknownParameterError(
                f"No notebook of this run declares a parameter named {name!r}.",
                f"Use a name one of them declares ({listing}).",
            )
    return [(path, {k: v for k, v in parameters.items() if k in declared[path]}) for path in paths]


def run_all(
    notebooks: Sequence[str | Path] | None = None,
    parameters: Mapping[str, Any] | None = None,
    out: str | Path = "build",
    *,
    workers: int = 2,
    timeout_cell: float = 600,
    timeout_total: float = 1800,
    cwd: str | Path | None = None,
    coerce_strings: bool = False,
    progress: bool | None = None,
) -> list[NotebookRun]:
    """Execute notebooks into ``out/notebooks/``, render HTML and write ``out/index.html``.

    Parameters are checked against each notebook's ``parameters`` cell *before* any kernel
    starts: papermill only warns about a name the notebook does not declare, the kit refuses.

    Args:
        notebooks: notebook paths; all of ``notebooks/`` when None or empty.
        parameters: names and values injected into the notebooks; when several notebooks
            run, each gets the names it declares (a name none declares is refused).
        out: the build folder.
        workers: notebooks executed at once.
        timeout_cell: seconds one cell may take.
        timeout_total: seconds one notebook may take.
        cwd: the kernels' working directory; None runs each notebook in its own folder,
            as Jupyter does, so its relative paths (``./data/...``) work. The executed
            notebooks and pages still go to ``out``.
        coerce_strings: parameters came from a command line as strings: convert them to the
            type of each notebook's default.
        progress: show a progress bar (None: only on a terminal).

    Returns:
        One :class:`NotebookRun` per notebook, in order.
    """
    from .batch import check_workers, hold_folder
    from .parameters import validate_parameters

    check_workers(workers)
    paths = [Path(p) for p in notebooks] if notebooks else default_notebooks()
    for path in paths:
        if not path.is_file():
            raise KitError(
                f"Notebook {path} does not exist.",
                "Name an existing .ipynb (mlops-kit run with no argument runs all of notebooks/).",
            )
    # refused before any folder is touched: papermill only warns about an unknown name
    checked = [
        (path, validate_parameters(path, given, coerce_strings=coerce_strings))
        for path, given in _parameters_per_notebook(paths, parameters or {})
    ]
    out = Path(out)
    with hold_folder(out, purpose="run"):
        runs = _run_held(
            checked,
            out,
            workers,
            timeout_cell,
            timeout_total,
            cwd,
            progress,
        )
        atomic_write(out / "index.html", index_html(runs))
    return runs


def _run_held(
    checked: Sequence[tuple[Path, dict[str, Any]]],
    out: Path,
    workers: int,
    timeout_cell: float,
    timeout_total: float,
    cwd: str | Path | None,
    progress: bool | None,
) -> list[NotebookRun]:
    """Execute and render the notebooks once ``out`` is held (the body of :func:`run_all`)."""
    from .batch import Job, run_batch

    nb_dir = out / "notebooks"
    paths = [path for path, _ in checked]
    jobs = []
    for path, params in checked:
        jobs.append(
            Job(
                notebook=path.resolve(),
                parameters=params,
                output=(nb_dir / path.name).resolve(),
                cwd=None if cwd is None else Path(cwd).expanduser().resolve(),
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
                cell=getattr(result, "cell_label", None),
                notes=list(result.notes or []),
                ipynb=str(executed.relative_to(out)) if executed.is_file() else None,
                html=str(page.relative_to(out)) if page else None,
            )
        )
    return runs
