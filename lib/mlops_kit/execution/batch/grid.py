"""Grid files: a YAML file that names a notebook and the parameter values to run it over.

- :func:`load_grid` reads and checks a grid file (no kernel starts; a parameter the notebook
  does not declare is refused, listing the ones it does) into a :class:`Grid`;
- :func:`expand_grid` turns it into :class:`~mlops_kit.execution.batch.jobs.Job` objects:
  the ``zip`` lists paired, crossed with the ``grid`` lists, plus the ``fixed`` values, each
  job keyed by the parameters that vary (:func:`job_key`);
- :func:`run_grid` does what ``mlops-kit batch`` does: expand, run resumably into the
  output folder, write the tables and the report.

The format is described in ``examples/batches/README.md``.
"""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import dataclasses
import hashlib
import itertools
import json
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ...errors import KitError
from ..parameters import declared_in
from ..runner import RunResult
from .dask import connect
from .jobs import BatchError, Job
from .lock import hold_folder
from .outputs import status_counts, write_outputs
from .pool import check_workers, run_batch, start_workers_early
from .store import ResultStore, default_store_path

#: keys a grid file may hold
GRID_KEYS = (
    "notebook",
    "zip",
    "grid",
    "fixed",
    "workers",
    "timeout_cell",
    "timeout_total",
    "output",
    "cwd",
    "report",
)


class GridError(KitError):
    """A grid file that cannot be turned into jobs (unknown key, unequal lists, ...)."""


@dataclasses.dataclass
class Grid:
    """A parsed grid file: what to run, over which parameters, and where to write.

    Attributes:
        path: the grid file.
        notebook: the resolved notebook path.
        zip: lists of equal length paired element by element.
        grid: lists crossed with each other and with the zip.
        fixed: parameters the same for every job.
        workers: the pool size.
        timeout_cell: seconds one cell may run.
        timeout_total: seconds a whole notebook may run.
        output: the output folder (relative to the current folder unless absolute).
        cwd: the kernels' working directory, or None for the notebook's own folder.
        report: ``metric`` (a record name or pattern such as ``val_rmse_*``) and ``x``
            (the parameter on the plot's x axis) for ``report.html``.
    """

    path: Path
    notebook: Path
    zip: dict[str, list] = dataclasses.field(default_factory=dict)
    grid: dict[str, list] = dataclasses.field(default_factory=dict)
    fixed: dict[str, Any] = dataclasses.field(default_factory=dict)
    workers: int = 2
    timeout_cell: float = 600
    timeout_total: float = 1800
    output: Path = Path("build/batches")
    cwd: Path | None = None
    report: dict[str, str] = dataclasses.field(default_factory=dict)

    @property
    def varying(self) -> list[str]:
        """The parameters that change from job to job (zip first, then grid)."""
        return [*self.zip, *self.grid]

    @property
    def size(self) -> int:
        """The number of jobs the grid expands to."""
        n = len(next(iter(self.zip.values()))) if self.zip else 1
        for values in self.grid.values():
            n *= len(values)
        return n


def _resolve_notebook(value: Any, grid_path: Path) -> Path:
    if not isinstance(value, str) or not value.strip():
        raise GridError(
            f"{grid_path}: 'notebook' must name a .ipynb file.",
            "Add a line such as 'notebook: notebooks/03_train_duration_model.ipynb'.",
        )
    candidate = Path(value).expanduser()
    places = (
        [candidate]
        if candidate.is_absolute()
        else [grid_path.parent / candidate, Path.cwd() / candidate]
    )
    for place in places:
        if place.is_file():
            return place.resolve()
    raise GridError(
        f"{grid_path}: the notebook {value} was not found (looked in "
        f"{', '.join(str(p) for p in places)}).",
        "Give the path relative to the grid file's folder or to the current folder.",
    )


def _mapping(data: Mapping, name: str, grid_path: Path) -> dict[str, Any]:
    value = data.get(name)
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise GridError(
            f"{grid_path}: '{name}' must be a mapping of parameter names to values, "
            f"got {type(value).__name__}.",
            f"Write it as '{name}: {{alpha: [0.1, 1.0]}}' or as indented 'name: value' lines.",
        )
    return {str(k): v for k, v in value.items()}


def _number(data: Mapping, name: str, default: float, grid_path: Path, kind=float):
    value = data.get(name, default)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
        raise GridError(
            f"{grid_path}: '{name}' must be a positive number, got {value!r}.",
            f"Set '{name}: {default}' or another positive number.",
        )
    return kind(value)


def declared_parameters(notebook: str | Path) -> list[str]:
    """Return the names a notebook declares in its cell tagged ``parameters``, in order.

    The notebook is read as plain JSON and its cell parsed by
    :func:`mlops_kit.execution.parameters.declared_in`, the parser the runner uses: reading a
    grid imports neither nbformat nor papermill. Each job's values are checked again, types
    included, before its kernel starts.

    Raises:
        GridError: when the notebook is not readable JSON with a list of cells.
    """
    path = Path(notebook)
    try:
        nb = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(nb, Mapping) or not isinstance(nb.get("cells"), list):
            raise ValueError("no list of cells")
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise GridError(
            f"{path} is not a readable Jupyter notebook ({exc}).",
            "Point 'notebook:' at a valid .ipynb (open it in Jupyter to check).",
        ) from exc
    return list(declared_in(nb))


def load_grid(path: str | Path, *, check_parameters: bool = True) -> Grid:
    """Read and validate a grid file; nothing runs, no kernel starts.

    Refused with a :class:`GridError` that names the fix: unknown top-level keys, a
    ``zip`` whose lists differ in length, a ``grid`` entry that is not a non-empty list, a
    name given twice, and (with ``check_parameters``) a parameter the notebook does not
    declare in its ``parameters`` cell, listing the ones it does.

    Args:
        path: the YAML file (see ``examples/batches/``).
        check_parameters: compare names with the notebook's ``parameters`` cell.
    """
    import yaml

    grid_path = Path(path)
    try:
        text = grid_path.read_text(encoding="utf-8")
    except OSError as exc:
        raise GridError(
            f"Cannot read the grid file {grid_path}: {exc.strerror or exc}.",
            "Check the path (examples live in examples/batches/).",
        ) from exc
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise GridError(
            f"{grid_path} is not valid YAML: {exc}.",
            "Fix the indentation or quoting at the line shown.",
        ) from exc
    if not isinstance(data, Mapping):
        raise GridError(
            f"{grid_path} must hold a YAML mapping (notebook:, grid:, ...), "
            f"got {type(data).__name__}.",
            "Start from one of the files in examples/batches/.",
        )
    unknown = sorted(set(map(str, data)) - set(GRID_KEYS))
    if unknown:
        raise GridError(
            f"{grid_path}: unknown key(s) {', '.join(unknown)}.",
            f"Use only {', '.join(GRID_KEYS)}; notebook parameters go under zip, grid or fixed.",
        )
    notebook = _resolve_notebook(data.get("notebook"), grid_path)
    zipped = _mapping(data, "zip", grid_path)
    crossed = _mapping(data, "grid", grid_path)
    fixed = _mapping(data, "fixed", grid_path)
    report = _mapping(data, "report", grid_path)

    for section, values in (("zip", zipped), ("grid", crossed)):
        for name, value in values.items():
            if not isinstance(value, list) or not value:
                raise GridError(
                    f"{grid_path}: {section}.{name} must be a non-empty list, got {value!r}.",
                    f"Write '{name}: [{value!r}]', or move a single value to 'fixed'.",
                )
    lengths = {name: len(values) for name, values in zipped.items()}
    if len(set(lengths.values())) > 1:
        shown = ", ".join(f"{name} has {n}" for name, n in lengths.items())
        raise GridError(
            f"{grid_path}: the zip lists must have equal lengths ({shown}).",
            "Give every list under zip the same number of values; put lists to be "
            "crossed under grid instead.",
        )
    seen: dict[str, str] = {}
    for section, values in (("zip", zipped), ("grid", crossed), ("fixed", fixed)):
        for name in values:
            if name in seen:
                raise GridError(
                    f"{grid_path}: the parameter {name} is given under both "
                    f"{seen[name]} and {section}.",
                    "Keep each parameter in one section.",
                )
            seen[name] = section

    if check_parameters and seen:
        declared = declared_parameters(notebook)
        strangers = [name for name in seen if name not in declared]
        if strangers:
            raise GridError(
                f"{grid_path}: {notebook.name} does not declare the parameter(s) "
                f"{', '.join(strangers)}; it declares {', '.join(declared) or 'none'}.",
                "Fix the spelling or add the name to the notebook's parameters cell.",
            )

    cwd = data.get("cwd")
    if cwd is not None:
        cwd = Path(cwd)
        cwd = cwd if cwd.is_absolute() else (grid_path.parent / cwd)
    output = data.get("output") or f"build/batches/{grid_path.stem}"
    metric = report.get("metric")
    if metric is not None and not isinstance(metric, str):
        raise GridError(
            f"{grid_path}: report.metric must be a record name or pattern, got {metric!r}.",
            "Write for example 'report: {metric: \"val_rmse_*\", x: train_dataset}'.",
        )
    return Grid(
        path=grid_path,
        notebook=notebook,
        zip=zipped,
        grid=crossed,
        fixed=fixed,
        workers=_number(data, "workers", 2, grid_path, int),
        timeout_cell=_number(data, "timeout_cell", 600, grid_path),
        timeout_total=_number(data, "timeout_total", 1800, grid_path),
        output=Path(output),
        cwd=cwd,
        report={str(k): str(v) for k, v in report.items()},
    )


def _slug(value: Any, limit: int = 40) -> str:
    if isinstance(value, (list, tuple)):
        text = "+".join(str(v) for v in value)
    else:
        text = str(value)
    text = re.sub(r"[^A-Za-z0-9.+-]+", "-", text).strip("-.") or "x"
    if len(text) > limit:
        text = text[: limit - 9] + "-" + hashlib.sha1(text.encode()).hexdigest()[:8]
    return text


def job_key(parameters: Mapping[str, Any], varying: Sequence[str]) -> str:
    """Return a readable, file-name-safe key from the parameters that vary in a batch.

    ``{"train_dataset": "green:2021-01", "alpha": 0.01}`` gives
    ``train_dataset=green-2021-01,alpha=0.01``.
    """
    parts = [f"{name}={_slug(parameters[name])}" for name in varying if name in parameters]
    return ",".join(parts) or "job"


def expand_grid(
    grid: Grid, output: str | Path | None = None, *, extra: Mapping[str, Any] | None = None
) -> list[Job]:
    """Turn a grid into jobs: the zip paired, crossed with the grid lists, plus the fixed values.

    Each executed notebook is written to ``<output>/<notebook stem>__<key>.ipynb`` where the
    key names the varying parameters (:func:`job_key`), so the folder reads like the grid.

    Args:
        grid: from :func:`load_grid`.
        output: the output folder (default: ``grid.output``).
        extra: parameters added to every job (after ``fixed``).
    """
    out = Path(output if output is not None else grid.output).resolve()
    zip_rows: list[dict[str, Any]] = [{}]
    if grid.zip:
        names = list(grid.zip)
        zip_rows = [
            dict(zip(names, values, strict=True)) for values in zip(*grid.zip.values(), strict=True)
        ]
    grid_names = list(grid.grid)
    jobs: list[Job] = []
    used: set[str] = set()
    for zip_row in zip_rows:
        for values in itertools.product(*grid.grid.values()):
            parameters = {**zip_row, **dict(zip(grid_names, values, strict=True))}
            parameters.update(grid.fixed)
            parameters.update(extra or {})
            key = job_key(parameters, grid.varying)
            if key in used:  # two values that slug the same way ("a b" and "a-b")
                key = f"{key},{len(jobs)}"
            used.add(key)
            jobs.append(
                Job(
                    notebook=grid.notebook,
                    parameters=parameters,
                    output=out / f"{grid.notebook.stem}__{key}.ipynb",
                    cwd=grid.cwd,
                    timeout_cell=grid.timeout_cell,
                    timeout_total=grid.timeout_total,
                    key=key,
                )
            )
    return jobs


@dataclasses.dataclass
class GridRun:
    """What :func:`run_grid` did: the jobs, their results, the files written.

    Attributes:
        grid: the grid that ran.
        output: the output folder.
        jobs: the jobs, in grid order.
        results: one result per job, in the same order.
        files: the written tables and report by name (``csv``, ``parquet``, ``html``).
        store: the results database (closed).
        run_id: the id of this run's rows in the store.
        ran: how many jobs were executed (the others were reused from the store).
        notes: what the run did that a person should know (a damaged store moved aside).
    """

    grid: Grid
    output: Path
    jobs: list[Job]
    results: list[RunResult]
    files: dict[str, Path]
    store: Path
    run_id: str
    ran: int
    notes: list[str] = dataclasses.field(default_factory=list)

    @property
    def reused(self) -> int:
        """How many results came from the store instead of a run."""
        return len(self.jobs) - self.ran

    @property
    def counts(self) -> dict[str, int]:
        """How many jobs ended with each status (``ok`` first)."""
        return status_counts(self.results)

    @property
    def failed(self) -> int:
        """How many jobs did not end ``ok``."""
        return sum(n for status, n in self.counts.items() if status != "ok")


def run_grid(
    grid: Grid | str | Path,
    *,
    output: str | Path | None = None,
    workers: int | None = None,
    executor: cf.Executor | None = None,
    scheduler: str | None = None,
    force: bool = False,
    progress: Any = None,
) -> GridRun:
    """Run a grid resumably into its output folder, then write the tables and the report.

    This is ``mlops-kit batch``: the grid file is read and checked (no kernel starts when a
    parameter is unknown), the jobs run on the local pool, a given executor or a Dask
    scheduler, each result is stored in ``OUTPUT/batch.sqlite`` as it finishes, and
    ``results.csv``, ``results.parquet`` and ``report.html`` are written at the end.

    Args:
        grid: a :class:`Grid` from :func:`load_grid`, or the path of a grid file.
        output: the output folder (default: ``grid.output``).
        workers: the pool size (default: ``grid.workers``).
        executor: run on this executor instead of a local pool.
        scheduler: the address of a Dask scheduler to run on (see
            :func:`mlops_kit.execution.batch.dask.connect`).
        force: forget stored results and run every job again.
        progress: see :func:`~mlops_kit.execution.batch.pool.run_batch`.

    Raises:
        GridError: a grid file that cannot be turned into jobs.
        BatchError: bad ``workers``, no jobs, an unreachable scheduler, an output folder
            another run is writing into, or a damaged ``batch.sqlite`` (``force`` moves it
            aside and rebuilds it).
    """
    if executor is None and scheduler is None:
        start_workers_early()  # its imports overlap with reading the grid
    if not isinstance(grid, Grid):
        grid = load_grid(grid)
    workers = check_workers(grid.workers if workers is None else workers)
    if executor is not None and scheduler is not None:
        raise BatchError(
            "run_grid was given both an executor and a Dask scheduler.", "Give only one."
        )
    out = Path(output if output is not None else grid.output)
    jobs = expand_grid(grid, out)
    if not jobs:
        raise BatchError(f"{grid.path} expands to no job.", "Give at least one value per list.")
    client = connect(scheduler) if scheduler else None
    notes: list[str] = []
    try:
        with contextlib.ExitStack() as stack:
            stack.enter_context(hold_folder(out, purpose="batch"))
            path = default_store_path(out)
            if force:
                store, note = ResultStore.rebuilt(path)
                notes += [note] if note else []
            else:
                store = ResultStore(path)
            stack.enter_context(store)
            results = run_batch(
                jobs,
                workers=workers,
                executor=client.get_executor() if client is not None else executor,
                store=store,
                progress=progress,
            )
            run_id = str(store.last_run_id)
            ran = len(store.rows(run_id=run_id))
            files = write_outputs(
                out,
                jobs,
                results,
                varying=grid.varying,
                report=grid.report,
                title=f"Batch {grid.path.name}: {grid.notebook.name}",
            )
    finally:
        if client is not None:
            client.close()
    return GridRun(grid, out, jobs, results, files, path, run_id, ran, notes)
