"""The ``mlops-kit`` command: one light wrapper over the library.

Each concern registers its own sub-command from a module in this package
(``data``, ``train``, ``run``, ...). Heavy libraries are imported inside the handlers,
so ``mlops-kit --help`` answers at once. A :class:`~mlops_kit.errors.KitError` is
printed as one paragraph (no traceback) and exits with status 2; so is an error of the file
system (a folder where a file was expected, a path nobody may write): the path it names
is the input to fix. Anything else is a bug of the kit, said as such in one paragraph; set
``MLOPS_KIT_DEBUG=1`` to see its traceback.
"""

from __future__ import annotations

import argparse
import errno
import importlib
import os
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


class _Parser(argparse.ArgumentParser):
    """An argument parser that remembers the deepest sub-command parser that ran.

    So a mistyped option (``mlops-kit doctor --chek``) is reported with the usage of the
    command it was meant for, not the top-level one.
    """

    def parse_known_args(self, args=None, namespace=None):
        """Parse like argparse, noting on the namespace which parser parsed last."""
        namespace, extras = super().parse_known_args(args, namespace)
        if getattr(namespace, "_leaf_parser", None) is None:
            namespace._leaf_parser = self
        return namespace, extras


# What to do about a file-system error, by errno (the path is named by the error itself).
_OS_FIXES = {
    errno.EISDIR: "give the path of a file there, not a folder",
    errno.ENOTDIR: "give the path of a folder there, not a file",
    errno.EEXIST: "choose a new name or remove what is there",
    errno.EACCES: "choose a place you may write to, or fix the permissions",
    errno.EPERM: "choose a place you may write to, or fix the permissions",
    errno.EROFS: "choose a folder on a writable disk",
    errno.ENOENT: "check the path: it does not exist",
    errno.ENOSPC: "free some disk space, or choose another disk",
}


def explain_os_error(exc: OSError) -> str:
    """Return one paragraph for a file-system error: what, which path, and the fix."""
    where = " -> ".join(str(p) for p in (exc.filename, exc.filename2) if p is not None)
    what = exc.strerror or type(exc).__name__
    fix = _OS_FIXES.get(exc.errno, "check the path and try again")
    return f"{what}: {where or 'a file the command needed'}. Fix: {fix}."


def build_parser() -> argparse.ArgumentParser:
    """Build the full argument parser (each sub-command module adds its own)."""
    parser = _Parser(
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
    args, extras = parser.parse_known_args(argv)
    if extras:
        (getattr(args, "_leaf_parser", None) or parser).error(
            f"unrecognized arguments: {' '.join(extras)}"
        )
    if not getattr(args, "func", None):
        parser.print_help()
        return 0
    try:
        return int(args.func(args) or 0)
    except KitError as exc:
        print(f"mlops-kit {args.command or ''}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted; finished work is kept, re-run to resume", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `mlops-kit ... --json | head`: the reader left, not an error
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0
    except OSError as exc:  # bad paths are input too: the error names the path
        print(f"mlops-kit {args.command or ''}: error: {explain_os_error(exc)}", file=sys.stderr)
        return 2
    except Exception as exc:  # a bug of ours: one paragraph, the traceback on request
        if os.environ.get("MLOPS_KIT_DEBUG"):
            raise
        print(
            f"mlops-kit {args.command}: internal error: {type(exc).__name__}: {exc}. This is a "
            "bug in mlops-kit, not in your input; rerun with MLOPS_KIT_DEBUG=1 to see where it "
            "happened and report it with that output.",
            file=sys.stderr,
        )
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
