"""``mlops-kit doctor``: is this machine ready for the course?"""

from __future__ import annotations

import argparse

from ._common import add_json_flag, print_json

EPILOG = """\
Each check answers OK, WARN or FAIL with the fix in one line. The exit code is 1 when
any check FAILs (so scripts and CI can stop early), else 0.

examples:
  mlops-kit doctor                         all checks, as a table
  mlops-kit doctor --no-network            skip reaching the TLC download host
  mlops-kit doctor --json                  one JSON object: checks, ok, counts
  mlops-kit doctor --check docker --check compose
  mlops-kit doctor --check imports --check data   the libraries import; your data folder
  mlops-kit doctor --ssh-config ~/.ssh/config   the cloud-VM route's SSH setup
"""


def register(subparsers) -> None:
    """Add the ``doctor`` sub-command."""
    from ..lessons.doctor import CHECKS

    parser = subparsers.add_parser(
        "doctor",
        help="check Python, packages, the Jupyter kernel, Docker, disk, SSH, network and data",
        description="Check this machine against what module 1 of the MLOps Zoomcamp needs.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--no-network",
        dest="network",
        action="store_false",
        help="do not try to reach the TLC download host (reported as a WARN)",
    )
    parser.add_argument(
        "--ssh-config",
        metavar="PATH",
        default=None,
        help="SSH config to inspect for the cloud-VM route (default: ~/.ssh/config)",
    )
    parser.add_argument(
        "--environment-file",
        metavar="PATH",
        default=None,
        help="conda environment file listing the packages (default: the checkout's "
        "environment.yml, else mlops-kit's requirements)",
    )
    parser.add_argument(
        "--check",
        dest="only",
        action="append",
        metavar="NAME",
        choices=list(CHECKS),
        help=f"run only this check (repeatable): {', '.join(CHECKS)}",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=2.0,
        metavar="SECONDS",
        help="how long to wait for Docker and the network (default: 2)",
    )
    add_json_flag(parser)
    parser.set_defaults(func=handle)


def handle(args) -> int:
    """Run the checks, print them, and return 1 on any FAIL."""
    from ..lessons.doctor import FAIL, format_table, run_checks, summary

    checks = run_checks(
        environment_file=args.environment_file,
        ssh_config=args.ssh_config,
        network=args.network,
        timeout=args.timeout,
        only=args.only,
    )
    from ..execution.sandbox import isolation_available

    isolation = isolation_available()
    if args.json:
        print_json({**summary(checks), "grading_isolation": isolation})
    else:
        if isolation["available"]:
            print(f"grading sandbox: {isolation['describe']}")
        else:
            print(f"grading sandbox: none ({isolation['problem']} {isolation['fix'] or ''})")
        print(format_table(checks))  # its verdict line stays the last line
    return 1 if any(check.status == FAIL for check in checks) else 0
