"""``mlops-kit batch GRID.yaml``: run a notebook over a parameter grid, resumably.

A thin wrapper over :func:`mlops_kit.execution.batch.run_grid`: read and validate the grid (no
kernel starts when a parameter is unknown), run the jobs on a local pool or a Dask
cluster, store results as they finish, then write ``results.csv``, ``results.parquet`` and
``report.html`` and print a summary of statuses. Exit status 1 when any job failed.
"""

from __future__ import annotations

import argparse

from ._common import add_json_flag, print_json

EPILOG = """\
examples:
  mlops-kit batch examples/batches/train_small.yaml
  mlops-kit batch examples/batches/train_green_2021.yaml --workers 2 --output build/g2021
  mlops-kit batch GRID.yaml --scheduler tcp://10.0.0.5:8786   # run on a Dask cluster
  mlops-kit batch GRID.yaml --force                            # ignore stored results

Interrupted (Ctrl-C, a killed terminal)? Run the same command again: finished jobs are kept
in OUTPUT/batch.sqlite and only the jobs left, or whose notebook, parameters or input files
changed, run again. The grid format is described in examples/batches/README.md.
"""


def register(subparsers) -> None:
    """Add the ``batch`` sub-command."""
    parser = subparsers.add_parser(
        "batch",
        help="run a notebook over a parameter grid (parallel, resumable, with a report)",
        description="Run a notebook once per combination of a parameter grid, on a pool of "
        "workers (or a Dask cluster), storing each result as it finishes; then write "
        "results.csv, results.parquet and report.html. A re-run skips finished jobs. "
        "Exit status 1 when any job failed.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("grid", metavar="GRID.yaml", help="the grid file (see examples/batches/)")
    parser.add_argument(
        "--workers", type=int, default=None, help="notebooks run at once (default: the grid's)"
    )
    parser.add_argument(
        "--scheduler",
        metavar="ADDR",
        default=None,
        help="a Dask scheduler such as tcp://host:8786 to run the jobs on (needs mlops-kit[dask])",
    )
    parser.add_argument(
        "--output", metavar="DIR", default=None, help="output folder (default: the grid's)"
    )
    parser.add_argument(
        "--force", action="store_true", help="run every job again, ignoring stored results"
    )
    add_json_flag(parser)
    parser.set_defaults(func=handle)


def _dask_executor(address: str):
    from ..execution.batch import BatchError

    try:
        from distributed import Client
    except ImportError as exc:
        raise BatchError(
            "--scheduler needs the Dask 'distributed' package, which is not installed.",
            "Install the extra: pip install 'mlops-kit[dask]' (make test installs it).",
        ) from exc
    try:
        client = Client(address, timeout="5s")
    except (OSError, TimeoutError) as exc:
        raise BatchError(
            f"Cannot reach the Dask scheduler at {address}: {exc}.",
            "Start it (dask scheduler; dask worker ADDRESS) or fix the address.",
        ) from exc
    return client


def _summary_lines(counts: dict[str, int], ran: int, reused: int, paths: dict) -> list[str]:
    width = max([6, *map(len, counts)])
    lines = ["", f"{'status':<{width}}  jobs", f"{'-' * width}  ----"]
    lines += [f"{status:<{width}}  {n:4d}" for status, n in counts.items()]
    lines.append(f"ran {ran}, reused {reused} stored result(s)")
    lines += [f"wrote {path}" for path in paths.values()]
    return lines


def handle(args) -> int:
    """Run the grid; return 0 when every job finished ``ok``, 1 otherwise."""
    from ..execution.batch import (
        BatchError,
        ResultStore,
        load_grid,
        run_grid,
        start_workers_early,
        status_counts,
    )

    if args.workers is not None and args.workers < 1:
        raise BatchError(
            f"--workers must be at least 1, got {args.workers}.", "Pass --workers 2, say."
        )
    if not args.scheduler:
        start_workers_early()
    grid = load_grid(args.grid)
    client = _dask_executor(args.scheduler) if args.scheduler else None
    try:
        jobs, results, paths, store = run_grid(
            grid,
            output=args.output,
            workers=args.workers,
            executor=client.get_executor() if client is not None else None,
            force=args.force,
            progress=False if args.json else None,
        )
    finally:
        if client is not None:
            client.close()
    with ResultStore(store.path) as reopened:
        ran = len(reopened.rows(run_id=store.last_run_id))
    counts = status_counts(results)
    failed = sum(n for status, n in counts.items() if status != "ok")
    if args.json:
        print_json(
            {
                "grid": str(grid.path),
                "notebook": str(grid.notebook),
                "output": str(paths["csv"].parent),
                "jobs": len(jobs),
                "ran": ran,
                "reused": len(jobs) - ran,
                "counts": counts,
                "files": {name: str(path) for name, path in paths.items()},
                "results": [
                    {"key": job.key, **result.to_dict()}
                    for job, result in zip(jobs, results, strict=True)
                ],
            }
        )
    else:
        for job, result in zip(jobs, results, strict=True):
            if result.status != "ok":
                print(f"{result.status}: {job.key}: {result.error or ''}".rstrip())
        print("\n".join(_summary_lines(counts, ran, len(jobs) - ran, paths)))
    return 1 if failed else 0
