"""Run many notebooks well: a worker pool, resumable results, parameter grids and reports.

papermill executes one notebook. An instructor runs the training notebook over every month
of a year, or one notebook per student submission. This subpackage is the kit's batch layer
over :func:`mlops_kit.execution.runner.run_notebook`, one module per concern:

- :mod:`~.jobs`: the :class:`Job` (one execution), its fingerprint (the notebook's bytes,
  the parameters, the input files they name, the kit's code) and result conversions;
- :mod:`~.store`: :class:`ResultStore`, each result in SQLite as soon as it arrives, so a
  killed batch run again runs only the jobs left (or changed); a damaged file is reported
  in one paragraph and ``--force`` rebuilds it;
- :mod:`~.pool`: :func:`run_batch`, the jobs on long-lived worker processes (or any
  :class:`concurrent.futures.Executor`), retries, a dead worker's jobs recovered;
- :mod:`~.grid`: grid files, :func:`load_grid`, :func:`expand_grid` and :func:`run_grid`
  (what ``mlops-kit batch`` does, start to finish);
- :mod:`~.outputs`: :func:`write_outputs`, ``results.csv``, ``results.parquet`` and
  ``report.html``;
- :mod:`~.dask`: :func:`connect`, the one way the kit reaches a Dask scheduler;
- :mod:`~.lock`: :func:`hold_folder`, one run at a time per output folder.

This ``__init__`` only re-exports the public names; the modules import each other directly.

Example:
    >>> from mlops_kit.execution.batch import load_grid, expand_grid, run_batch, ResultStore
    >>> grid = load_grid("examples/batches/train_small.yaml")      # doctest: +SKIP
    >>> jobs = expand_grid(grid)                                     # doctest: +SKIP
    >>> results = run_batch(jobs, workers=2,
    ...                     store=ResultStore(grid.output / "batch.sqlite"))  # doctest: +SKIP
"""

from __future__ import annotations

from .dask import connect
from .grid import (
    GRID_KEYS,
    Grid,
    GridError,
    GridRun,
    declared_parameters,
    expand_grid,
    job_key,
    load_grid,
    run_grid,
)
from .jobs import BatchError, Job, folder_digest, input_files, job_fingerprint, library_digest
from .lock import LOCK_NAME, hold_folder
from .outputs import (
    plot_layout,
    plot_png,
    render_report,
    results_frame,
    status_counts,
    write_outputs,
)
from .pool import check_workers, execute_job, run_batch, start_workers_early
from .store import NO_OUTPUT_STATUSES, RERUN_STATUSES, STORE_NAME, ResultStore, default_store_path

__all__ = [
    "GRID_KEYS",
    "LOCK_NAME",
    "NO_OUTPUT_STATUSES",
    "RERUN_STATUSES",
    "STORE_NAME",
    "BatchError",
    "Grid",
    "GridError",
    "GridRun",
    "Job",
    "ResultStore",
    "check_workers",
    "connect",
    "declared_parameters",
    "default_store_path",
    "execute_job",
    "expand_grid",
    "folder_digest",
    "hold_folder",
    "input_files",
    "job_fingerprint",
    "job_key",
    "library_digest",
    "load_grid",
    "plot_layout",
    "plot_png",
    "render_report",
    "results_frame",
    "run_batch",
    "run_grid",
    "start_workers_early",
    "status_counts",
    "write_outputs",
]
