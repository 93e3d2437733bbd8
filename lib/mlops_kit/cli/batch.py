"""``mlops-kit batch GRID.yaml``: run a notebook over a parameter grid, resumably.

The arguments map to one call of :func:`mlops_kit.execution.batch.run_grid`, which reads
and validates the grid (no kernel starts when a parameter is unknown), runs the jobs on a
local pool or a Dask cluster, stores results as they finish and writes ``results.csv``,
``results.parquet`` and ``report.html``; this module prints a summary of statuses. Exit
status 1 when any job failed.
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


def _summary_lines(counts: dict[str, int], ran: int, reused: int, paths: dict) -> list[str]:
    width = max([6, *map(len, counts)])
    lines = ["", f"{'status':<{width}}  jobs", f"{'-' * width}  ----"]
    lines += [f"{status:<{width}}  {n:4d}" for status, n in counts.items()]
    lines.append(f"ran {ran}, reused {reused} stored result(s)")
    lines += [f"wrote {path}" for path in paths.values()]
    return lines


def handle(args) -> int:
    """Run the grid; return 0 when every job finished ``ok``, 1 otherwise."""
    from ..execution.batch import run_grid

    run = run_grid(
        args.grid,
        output=args.output,
        workers=args.workers,
        scheduler=args.scheduler,
        force=args.force,
        progress=False if args.json else None,
    )
    if args.json:
        print_json(
            {
                "grid": str(run.grid.path),
                "notebook": str(run.grid.notebook),
                "output": str(run.output),
                "jobs": len(run.jobs),
                "ran": run.ran,
                "reused": run.reused,
                "counts": run.counts,
                "files": {name: str(path) for name, path in run.files.items()},
                "notes": run.notes,
                "results": [
                    {"key": job.key, **result.to_dict()}
                    for job, result in zip(run.jobs, run.results, strict=True)
                ],
            }
        )
    else:
        for job, result in zip(run.jobs, run.results, strict=True):
            if result.status != "ok":
                print(f"{result.status}: {job.key}: {result.error or ''}".rstrip())
        print("\n".join(_summary_lines(run.counts, run.ran, run.reused, run.files)))
        for note in run.notes:
            print(f"note: {note}")
    return 1 if run.failed else 0
