"""The ``mlops-kit`` command: one light wrapper over the library.

Each concern registers its own sub-command from a module in this package
(``data``, ``train``, ``run``, ...). Heavy libraries are imported inside the handlers,
so ``mlops-kit --help`` answers at once. A :class:`~mlops_kit.errors.KitError` is
printed as one paragraph (no traceback) and exits with status 2.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from .. import __version__
from ..errors import KitError

#: sub-command modules, in the order ``--help`` lists them
COMMANDS = (
    "data",
    "train",
    "run",
    "batch",
    "doctor",
    "ssh_config",
    "maturity",
    "homework",
)

EPILOG = """\
Start here:
  mlops-kit doctor                 check your environment (Python, packages, Docker, disk)
  mlops-kit data info green:2021-01
  mlops-kit train --json           train the course's model on green 2021-01 / 2021-02
  mlops-kit run                    execute every notebook into build/ with an HTML index

Every command takes --help. Data: set MLOPS_KIT_DATA_DIR to a folder of TLC parquet files;
without the network the kit uses seeded synthetic data with the real schema and says so.
"""


def build_parser() -> argparse.ArgumentParser:
    """Build the full argument parser (each sub-command module adds its own)."""
    parser = argparse.ArgumentParser(
        prog="mlops-kit",
        description="Teaching kit for MLOps Zoomcamp module 1: data, training, notebooks, "
        "batches and homework.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"mlops-kit {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        try:
            module = importlib.import_module(f".{name}", __name__)
        except ModuleNotFoundError as exc:  # a sub-command not shipped in this build
            if exc.name != f"{__name__}.{name}":
                raise
            continue
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the process exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 0
    try:
        return int(args.func(args) or 0)
    except KitError as exc:
        print(f"mlops-kit {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted; finished work is kept, re-run to resume", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `mlops-kit ... --json | head`: the reader left, not an error
        import os

        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
