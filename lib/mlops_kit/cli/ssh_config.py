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
    from ..lessons.sshconfig import DEFAULT_CONFIG, configure_host

    user = configure_host.__kwdefaults__["user"]

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
    parser.add_argument("--user", default=user, help=f"login user (default: {user})")
    parser.add_argument(
        "--config",
        metavar="PATH",
        default=DEFAULT_CONFIG,
        help=f"the SSH config to edit (default: {DEFAULT_CONFIG})",
    )
    add_json_flag(parser)
    parser.set_defaults(func=handle)


def handle(args) -> int:
    """Update the block, then print it and how to connect."""
    from ..lessons.sshconfig import configure_host

    result = configure_host(args.config, args.host, args.ip, args.key, user=args.user)
    if args.json:
        print_json(result.to_dict())
        return 0
    print(f"# {result.config}")
    print(result.block.rstrip("\n"))
    print()
    if result.backup:
        print(f"backup: {result.backup}")
    else:
        print("unchanged: the block was already up to date" if not result.changed else "new file")
    for warning in result.warnings:
        print(f"WARNING: {warning}")
    print("connect:")
    for step in result.connect.values():
        print(f"  {step}")
    return 0
