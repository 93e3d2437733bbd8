"""``mlops-kit run``: execute the notebooks headlessly and write an HTML index.

The arguments map to one call of :func:`mlops_kit.execution.notebook_site.run_all`; the
defaults shown in ``--help`` are read from its signature, so they live in one place.
"""

from __future__ import annotations

import argparse
import inspect

from ..config import repo_root
from ..execution.notebook_site import data_summary, run_all
from ..execution.versions import library_versions, versions_line
from ._common import add_json_flag, print_json

DEFAULTS = {
    name: p.default
    for name, p in inspect.signature(run_all).parameters.items()
    if p.default is not inspect.Parameter.empty
}

EPILOG = """\
examples:
  mlops-kit run                                   all notebooks -> build/index.html
  mlops-kit run notebooks/03_train_duration_model.ipynb -p train_dataset green:2021-03
  mlops-kit run -p source synthetic --out build/offline

A parameter is refused before any kernel starts when no notebook of the run declares it
(papermill itself only warns); when several notebooks run, each gets the parameters it
declares and the summary shows which took them. Values are converted to the type of the
notebook's default. Each notebook runs in its own folder, as in Jupyter (--cwd DIR to
choose another); the executed copies and pages go to --out.
The exit code is 0 only when every notebook ran to the end.
"""


def register(sub) -> None:
    """Add the ``run`` sub-command."""
    parser = sub.add_parser(
        "run",
        help="execute notebooks with papermill, render HTML, write build/index.html",
        description="Execute the kit's notebooks (or the ones named) headlessly with papermill, "
        "render each to HTML with nbconvert and list them in OUT/index.html.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("notebooks", nargs="*", metavar="NOTEBOOK", help="notebooks to run")
    parser.add_argument(
        "-p",
        "--parameter",
        nargs=2,
        action="append",
        default=[],
        metavar=("NAME", "VALUE"),
        help="set a parameter of the notebooks (repeatable)",
    )
    parser.add_argument(
        "--out", default=DEFAULTS["out"], help="build folder (default: %(default)s)"
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=DEFAULTS["workers"],
        help="notebooks at once (default: %(default)s)",
    )
    parser.add_argument(
        "--timeout-cell",
        type=float,
        default=DEFAULTS["timeout_cell"],
        help="seconds per cell (default: %(default)s)",
    )
    parser.add_argument(
        "--timeout-total",
        type=float,
        default=DEFAULTS["timeout_total"],
        help="seconds per notebook (default: %(default)s)",
    )
    parser.add_argument(
        "--cwd",
        metavar="DIR",
        default=DEFAULTS["cwd"],
        help="the kernels' working directory (default: each notebook's own folder, as "
        "Jupyter does); executed notebooks and pages still go to --out",
    )
    add_json_flag(parser)
    parser.set_defaults(func=handle)


def handle(args) -> int:
    """Run the notebooks and print a summary; exit 1 when any did not finish."""
    from pathlib import Path

    runs = run_all(
        args.notebooks,
        dict(args.parameter),
        args.out,
        workers=args.workers,
        timeout_cell=args.timeout_cell,
        timeout_total=args.timeout_total,
        cwd=args.cwd,
        coerce_strings=True,
    )
    failed = [r for r in runs if r.status != "ok"]
    if args.json:
        print_json(
            {
                "ok": not failed,
                "index": str(Path(args.out) / "index.html"),
                "data": data_summary(runs),
                "libraries": library_versions(),
                "notebooks": [r.to_dict() for r in runs],
            }
        )
    else:
        for run in runs:
            given = ", ".join(f"{k}={v!r}" for k, v in run.parameters.items())
            given = f"  ({given})" if given else ""
            print(f"{run.status:>16}  {run.seconds:6.1f} s  {run.name}{given}")
            for text in ([run.error] if run.error else []) + run.notes:
                print(f"{'':>16}  {text}")
        index = Path(args.out) / "index.html"
        print(f"\ndata: {data_summary(runs)}")
        print(f"libraries: {versions_line()}")
        last = f"{len(runs) - len(failed)}/{len(runs)} notebooks ok; open {index}"
        root = repo_root()
        if root is not None and (root / "Makefile").is_file():
            last += "; next: make lab (the notebooks in JupyterLab)"
        print(last)
    return 1 if failed else 0
