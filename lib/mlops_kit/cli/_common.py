"""Small helpers shared by the sub-command modules."""

from __future__ import annotations

import json
import sys
from typing import Any


def print_json(obj: Any) -> None:
    """Print one JSON object on stdout (what ``--json`` promises machines)."""
    from ..records import to_jsonable

    json.dump(to_jsonable(obj), sys.stdout, indent=2, sort_keys=False)
    sys.stdout.write("\n")


def add_json_flag(parser) -> None:
    """Add the ``--json`` flag with the standard help text."""
    parser.add_argument(
        "--json", action="store_true", help="print one JSON object for machines instead of text"
    )
