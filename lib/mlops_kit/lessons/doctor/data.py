"""The ``data`` check: the folder of real TLC files named by ``MLOPS_KIT_DATA_DIR``.

A typo in that variable is easy to make and hard to see: the kit then looks in a folder
that does not exist. So the check names the folder when it is missing (or is a file), and
when it is there it lists which TLC months it holds, read from the file names alone
(``green_tripdata_2021-01.parquet``), so a month saved under another name shows up too.
It reads :func:`mlops_kit.config.data_dir` and nothing else of the kit: the lessons do not
import the data layer.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from ... import config
from .verdict import FAIL, OK, WARN, Check

#: a TLC month file as TLC names it
TLC_FILE = re.compile(
    r"^(?P<service>yellow|green|fhv|fhvhv)_tripdata_(?P<month>\d{4}-(?:0[1-9]|1[0-2]))\.parquet$"
)

VARIABLE = "MLOPS_KIT_DATA_DIR"


def data_months(folder: str | Path) -> tuple[dict[str, list[str]], list[str]]:
    """Return the TLC months in ``folder`` by service, and its other ``.parquet`` files.

    Only the folder itself is read (the kit looks for ``folder/<TLC file name>``); empty
    files are left out, as a download that never started.
    """
    months: dict[str, list[str]] = {}
    others = []
    for path in sorted(Path(folder).iterdir()):
        if not path.is_file() or path.stat().st_size == 0:
            continue
        match = TLC_FILE.match(path.name)
        if match:
            months.setdefault(match.group("service"), []).append(match.group("month"))
        elif path.suffix.lower() == ".parquet":
            others.append(path.name)
    return months, others


def check_data(*, folder: str | Path | None = None) -> Check:
    """``MLOPS_KIT_DATA_DIR``: unset, or a folder that exists; which TLC months it holds.

    Args:
        folder: the folder to look at (default: what ``MLOPS_KIT_DATA_DIR`` names).
    """
    path = Path(folder).expanduser() if folder is not None else config.data_dir()
    if path is None:
        return Check(
            "data",
            OK,
            f"{VARIABLE} not set: the kit reads TLC months from its cache or downloads them "
            "(offline: seeded synthetic data)",
            data={"folder": None},
        )
    data = {"folder": str(path)}
    unset = f"or `unset {VARIABLE}` to use the kit's cache and downloads"
    if not path.exists():
        return Check(
            "data",
            FAIL,
            f"{VARIABLE}={path} does not exist (a typo?), so no real month can be read there.",
            f"Point it at the folder that holds the TLC files (`export {VARIABLE}=/path/to/"
            f"folder`), {unset}.",
            data,
        )
    if not path.is_dir():
        return Check(
            "data",
            FAIL,
            f"{VARIABLE}={path} is a file, not a folder.",
            f"Point it at the folder that holds the TLC files, e.g. `export {VARIABLE}="
            f"{path.parent}`, {unset}.",
            data,
        )
    if not os.access(path, os.R_OK | os.X_OK):
        return Check(
            "data",
            FAIL,
            f"{VARIABLE}={path} cannot be read by this user.",
            f"Fix its permissions (`chmod u+rx {path}`), {unset}.",
            data,
        )
    months, others = data_months(path)
    data.update(months=months, other_parquet=others)
    ignored = f"; not TLC names, so not read: {', '.join(others)}" if others else ""
    if not months:
        return Check(
            "data",
            WARN,
            f"{VARIABLE}={path} holds no TLC month file (named like "
            f"green_tripdata_2021-01.parquet){ignored}.",
            "Put the TLC files there under their TLC names (`mlops-kit data fetch "
            f"green:2021-01` downloads into the kit's cache instead), {unset}.",
            data,
        )
    listed = "; ".join(f"{service} {', '.join(found)}" for service, found in months.items())
    count = sum(len(found) for found in months.values())
    return Check(
        "data",
        OK,
        f"{count} TLC month{'s' if count != 1 else ''} in {path}: {listed}{ignored}",
        data=data,
    )
