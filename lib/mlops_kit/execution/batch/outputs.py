"""A batch's tables and report: ``results.csv``, ``results.parquet`` and ``report.html``.

:func:`write_outputs` turns the jobs and their results into one row per job (key, a column
per parameter, status, seconds, error, failing cell, output, then every recorded figure:
:func:`results_frame`), and a report page (:func:`render_report`, in the kit's page shell
:func:`mlops_kit.pages.html_page`) with the status counts, a plot of the main metric across
the grid (:func:`plot_layout` decides its axes and lines) and the table.
"""

from __future__ import annotations

import base64
import fnmatch
import html
import io
import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ...fileio import atomic_path, atomic_write
from ...pages import html_page
from .jobs import Job, result_dict

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd


def _cell(value: Any) -> Any:
    """Keep scalars; store lists and dicts as JSON text (parquet needs one type a column)."""
    if isinstance(value, (list, tuple, dict)):
        return json.dumps(value, sort_keys=True)
    return value


def _uniform_columns(frame: pd.DataFrame) -> pd.DataFrame:
    """Give each column one type: numbers stay numbers, a mix with text becomes text.

    A grid may mix types in one parameter (``x: [1, "abc"]`` to test a bad value); parquet
    stores one type per column, so such a column is written as strings.
    """
    for column in frame.columns:
        if frame[column].dtype != object:
            continue
        kinds = {
            "number" if isinstance(v, (int, float)) and not isinstance(v, bool) else type(v)
            for v in frame[column]
            if v is not None and not (isinstance(v, float) and v != v)
        }
        if len(kinds) > 1:
            frame[column] = [None if v is None else str(v) for v in frame[column]]
    return frame


def _cell_name(data: Mapping[str, Any]) -> str | None:
    """The failing cell as Jupyter shows it (``In [17]``), as the runner's paragraph says."""
    if data.get("cell_label"):
        return str(data["cell_label"])
    return None if data.get("cell") is None else f"cell {data['cell']}"


def results_frame(jobs: Sequence[Job], results: Sequence[Any]) -> pd.DataFrame:
    """Return one row per job: key, a column per parameter, status, seconds, error, records.

    ``cell`` names the failing cell as Jupyter shows it (``In [17]``), as the error does.

    A record whose name clashes with a parameter or a status column is prefixed ``record_``.
    ``frame.attrs["records"]`` lists the record columns.
    """
    import pandas as pd

    rows = []
    record_columns: dict[str, None] = {}
    for job, result in zip(jobs, results, strict=True):
        data = result_dict(result) if result is not None else {}
        row: dict[str, Any] = {"key": job.key}
        row.update({name: _cell(value) for name, value in job.parameters.items()})
        row["status"] = data.get("status", "not_run")
        row["seconds"] = data.get("seconds")
        row["error"] = data.get("error")
        row["cell"] = _cell_name(data)
        row["output"] = None if job.output is None else str(job.output)
        for name, value in (data.get("records") or {}).items():
            column = f"record_{name}" if name in row else name
            row[column] = _cell(value)
            record_columns[column] = None
        rows.append(row)
    frame = _uniform_columns(pd.DataFrame(rows))
    for column in ("seconds",):
        if column in frame:
            frame[column] = pd.to_numeric(frame[column], errors="coerce")
    frame.attrs["records"] = list(record_columns)
    return frame


def _metric_columns(frame: pd.DataFrame, records: Sequence[str], pattern: str | None) -> list[str]:
    """Pick the record columns of the report's plot: a pattern, else the main validation metric."""
    import pandas as pd

    numeric = [
        c
        for c in records
        if c in frame
        and frame[c].dtype != bool
        and pd.to_numeric(frame[c], errors="coerce").notna().any()
    ]
    if pattern:
        return [c for c in numeric if fnmatch.fnmatchcase(c, pattern)]
    metrics = ("rmse", "mae", "mse", "loss", "score", "accuracy", "error", "r2")
    ranked = (
        [c for c in numeric if "val" in c and any(m in c for m in metrics)]
        or [c for c in numeric if any(m in c for m in metrics)]
        or numeric
    )
    if not ranked:
        return []
    first = ranked[0]
    prefix = first.rsplit("_", 1)[0] + "_" if "_" in first else first
    family = [c for c in numeric if c.startswith(prefix)]
    return family if len(family) > 1 else [first]


def plot_layout(
    frame: pd.DataFrame,
    varying: Sequence[str],
    records: Sequence[str],
    metric: str | None = None,
    x: str | None = None,
) -> tuple[str, list[str], list[str]] | None:
    """Decide the report's plot: ``(x, line parameters, metric columns)``, or None.

    The metric columns are the records matching ``metric`` (default: the main validation
    metric and its family, such as ``val_rmse_linear``, ``val_rmse_lasso``...). Lines are
    split by the varying parameters other than ``x``, except those zipped with it (one
    value per value of ``x``, like the validation month of a training month).
    """
    ok = frame[frame["status"] == "ok"] if "status" in frame else frame
    columns = _metric_columns(ok, records, metric)
    if ok.empty or not columns:
        return None
    x = x if x in ok else (varying[0] if varying else "key")
    others: list[str] = []
    for name in varying:
        if name == x or name not in ok:
            continue
        by = [x, *others]
        if (ok.groupby(by, dropna=False)[name].nunique(dropna=False) > 1).any():
            others.append(name)  # not already fixed by x and the lines so far
    return x, others, columns


def plot_png(
    frame: pd.DataFrame,
    varying: Sequence[str],
    records: Sequence[str],
    metric: str | None = None,
    x: str | None = None,
) -> bytes | None:
    """Plot the main figure across the grid; return PNG bytes, or None with nothing to plot.

    One line per metric column and per value of the line parameters, against ``x``
    (see :func:`plot_layout`).
    """
    layout = plot_layout(frame, varying, records, metric, x)
    if layout is None:
        return None
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt
    import pandas as pd

    x, others, columns = layout
    ok = frame[frame["status"] == "ok"] if "status" in frame else frame
    prefix = os.path.commonprefix(columns) if len(columns) > 1 else ""
    figure, axes = plt.subplots(figsize=(10, 4.5), dpi=100)
    order = list(dict.fromkeys(ok[x].astype(str)))
    positions = {value: i for i, value in enumerate(order)}
    groups = ok.groupby(others, sort=False, dropna=False) if others else [((), ok)]
    for combo, part in groups:
        combo = combo if isinstance(combo, tuple) else (combo,)
        label_rest = ", ".join(f"{n}={v}" for n, v in zip(others, combo, strict=True))
        for number, column in enumerate(columns):
            values = pd.to_numeric(part[column], errors="coerce")
            xs = [positions[v] for v in part[x].astype(str)]
            name = column[len(prefix) :] or column
            label = ", ".join(s for s in (name, label_rest) if s)
            # one line style and marker per metric: equal values (linear and ridge with a
            # small penalty) draw over each other, and the styles keep both visible
            style = _LINE_STYLES[number % len(_LINE_STYLES)]
            axes.plot(xs, values, label=label, **style)
    axes.set_xticks(range(len(order)))
    axes.set_xticklabels(order, rotation=30, ha="right")
    axes.set_xlabel(x)
    axes.set_ylabel(prefix.rstrip("_") or columns[0])
    axes.set_title(f"{prefix.rstrip('_') or columns[0]} across the grid")
    axes.grid(alpha=0.3)
    if len(columns) > 1 or others:
        axes.legend(fontsize="small", loc="upper left", bbox_to_anchor=(1.01, 1.0))
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    plt.close(figure)
    return buffer.getvalue()


_LINE_STYLES = (
    {"linestyle": "-", "marker": "o", "markersize": 7},
    {"linestyle": "--", "marker": "s", "markersize": 5},
    {"linestyle": ":", "marker": "^", "markersize": 4, "linewidth": 2.5},
    {"linestyle": "-.", "marker": "D", "markersize": 4},
)


def status_counts(results: Sequence[Any]) -> dict[str, int]:
    """Return how many results have each status (``ok`` first)."""
    counts: dict[str, int] = {}
    for result in results:
        status = getattr(result, "status", None) or "not_run"
        counts[status] = counts.get(status, 0) + 1
    return dict(sorted(counts.items(), key=lambda kv: (kv[0] != "ok", kv[0])))


def render_report(
    frame: pd.DataFrame,
    *,
    title: str,
    counts: Mapping[str, int],
    png: bytes | None,
) -> str:
    """Return a self-contained HTML page: the status counts, the plot and the table."""
    summary = ", ".join(f"{n} {status}" for status, n in counts.items())
    image = (
        f'<img alt="main figure across the grid" src="data:image/png;base64,'
        f'{base64.b64encode(png).decode()}">'
        if png
        else "<p>No numeric record to plot (no job finished ok, or none recorded).</p>"
    )
    body = (
        f"<p>{len(frame)} jobs: {html.escape(summary)}.</p>\n{image}\n"
        f"<h2>Results</h2>\n<div class='scroll results'>{results_table(frame)}</div>"
    )
    return html_page(title, body, style=_REPORT_STYLE)


# The table scrolls inside its box (both ways, its header row kept in view) instead of
# running off the page; cells keep one line, but errors wrap within a readable width.
_REPORT_STYLE = """
div.results{max-height:75vh;overflow:auto;border:1px solid #ddd}
table.results{font-size:.85em;margin:0}
table.results th{position:sticky;top:0;z-index:1}
table.results td{white-space:nowrap}
table.results td.long{white-space:normal;min-width:24em;max-width:40em}
"""

_LONG_COLUMNS = {"error", "notes"}


def _display(value: Any) -> str:
    """A table cell's text: floats to six significant digits, missing values empty."""
    if value is None or (isinstance(value, float) and value != value):
        return ""
    if isinstance(value, float):
        return f"{value:.6g}"
    try:
        import pandas as pd

        if pd.isna(value):
            return ""
    except (TypeError, ValueError):
        pass
    return str(value)


def results_table(frame: pd.DataFrame) -> str:
    """Return the results as an HTML table (escaped), long text columns marked to wrap."""
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in frame.columns)
    rows = []
    for values in frame.itertuples(index=False, name=None):
        cells = "".join(
            f"<td class='long'>{html.escape(_display(v))}</td>"
            if column in _LONG_COLUMNS
            else f"<td>{html.escape(_display(v))}</td>"
            for column, v in zip(frame.columns, values, strict=True)
        )
        rows.append(f"<tr>{cells}</tr>")
    return (
        f"<table class='results'><thead><tr>{head}</tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table>"
    )


def _relative(path: str | None, folder: Path) -> str | None:
    """Return ``path`` relative to ``folder`` when inside it, so the tables travel with it."""
    if path is None:
        return None
    try:
        return str(Path(path).resolve().relative_to(folder.resolve()))
    except ValueError:
        return path


def write_outputs(
    output_dir: str | Path,
    jobs: Sequence[Job],
    results: Sequence[Any],
    *,
    varying: Sequence[str] | None = None,
    report: Mapping[str, str] | None = None,
    title: str = "Batch results",
) -> dict[str, Path]:
    """Write ``results.csv``, ``results.parquet`` and ``report.html`` atomically.

    Output paths inside ``output_dir`` are written relative to it, so the folder can be
    moved or shared as a whole.

    Args:
        output_dir: the batch's output folder.
        jobs: the jobs, in order.
        results: their results, in the same order.
        varying: the parameters that change across the batch (the plot's axes and lines);
            default: every parameter with more than one value.
        report: ``metric`` and ``x`` for the plot (see :class:`Grid`).
        title: the report's heading.

    Returns:
        The written paths by name (``csv``, ``parquet``, ``html``).
    """
    out = Path(output_dir)
    frame = results_frame(jobs, results)
    frame["output"] = [_relative(path, out) for path in frame["output"]]
    if varying is None:
        names = list(dict.fromkeys(n for job in jobs for n in job.parameters))
        varying = [n for n in names if n in frame and frame[n].astype(str).nunique() > 1]
    record_names = frame.attrs.get("records", [])
    report = dict(report or {})
    png = plot_png(frame, list(varying), record_names, report.get("metric"), report.get("x"))
    paths = {
        "csv": out / "results.csv",
        "parquet": out / "results.parquet",
        "html": out / "report.html",
    }
    with atomic_path(paths["csv"]) as tmp:
        frame.to_csv(tmp, index=False)
    with atomic_path(paths["parquet"]) as tmp:
        frame.to_parquet(tmp, index=False)
    page = render_report(frame, title=title, counts=status_counts(results), png=png)
    atomic_write(paths["html"], page)
    return paths
