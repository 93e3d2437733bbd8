"""``mlops-kit ssh-config``: write or update the cloud VM's block in ``~/.ssh/config``."""

from __future__ import annotations

import argparse

from ._common import add_json_flag, print_json

EPILOG = """\
The VM's public IP changes whenever the instance restarts: run this again with the new
IP. Only the HOST block changes; every other entry and comment is kept byte for byte,
and the previous file is kept as ~/.ssh/config.bak-YYYYMMDD-HHMMSS.

examples:
  mlops-kit ssh-config mlops-zoomcamp 3.120.55.10 ~/.ssh/razer.pem
  mlops-kit ssh-config mlops-zoomcamp 3.120.55.10 ~/.ssh/razer.pem --user ubuntu --json
then:
  ssh mlops-zoomcamp
  ssh -L 8888:localhost:8888 mlops-zoomcamp     (Jupyter on http://localhost:8888)
"""


def register(subparsers) -> None:
    """Add the ``ssh-config`` sub-command."""
    parser = subparsers.add_parser(
        "ssh-config",
        help="write or update a VM's Host block in ~/.ssh/config (cloud-VM route)",
        description="Write or update the Host block of a cloud VM in your SSH config, "
        "keeping a backup and every other entry.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("host", metavar="HOST", help="the alias you will type: ssh HOST")
    parser.add_argument("ip", metavar="IP", help="the VM's public IP address (or DNS name)")
    parser.add_argument("key", metavar="KEY", help="the private key file (.pem) of the VM")
    parser.add_argument("--user", default="ubuntu", help="login user (default: ubuntu)")
    parser.add_argument(
        "--config",
        metavar="PATH",
        default="~/.ssh/config",
        help="the SSH config to edit (default: ~/.ssh/config)",
    )
    add_json_flag(parser)
    parser.set_defaults(func=handle)


def connect_steps(host: str) -> dict[str, str]:
    """Return how to use the new block: shell, VS Code, and Jupyter's port 8888."""
    return {
        "ssh": f"ssh {host}",
        "vscode": f"VS Code: Remote-SSH: Connect to Host... -> {host}",
        "jupyter": f"ssh -L 8888:localhost:8888 {host}   then open http://localhost:8888",
    }


def handle(args) -> int:
    """Update the block, then print it and how to connect."""
    import warnings as _warnings
    from pathlib import Path

    from ..lessons.sshconfig import KeyPermissionWarning, host_block, update_host

    config = Path(args.config).expanduser()
    existed = config.is_file()
    with _warnings.catch_warnings(record=True) as caught:
        _warnings.simplefilter("always", KeyPermissionWarning)
        backup = update_host(config, args.host, args.ip, args.key, user=args.user)
    warnings = [str(w.message) for w in caught if issubclass(w.category, KeyPermissionWarning)]
    block = host_block(config, args.host) or ""
    steps = connect_steps(args.host)
    if args.json:
        print_json(
            {
                "config": str(config),
                "host": args.host,
                "block": block,
                "backup": str(backup) if backup else None,
                "changed": backup is not None or not existed,
                "warnings": warnings,
                "connect": steps,
            }
        )
        return 0
    print(f"# {config}")
    print(block.rstrip("\n"))
    print()
    if backup:
        print(f"backup: {backup}")
    else:
        print("unchanged: the block was already up to date" if existed else "new file")
    for warning in warnings:
        print(f"WARNING: {warning}")
    print("connect:")
    for step in steps.values():
        print(f"  {step}")
    return 0
