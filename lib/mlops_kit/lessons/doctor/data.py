"""The ``data`` check: the folder of real TLC files named by ``MLOPS_KIT_DATA_DIR``.

A typo in that variable is easy to make and hard to see: the kit then looks in a folder
that does not exist. The data layer knows what a good folder holds
(:func:`mlops_kit.tlc.data_dir_report`: its months, files under other names, files that do
not open as parquet); this check turns that report into a verdict with its fix.
"""

from __future__ import annotations

from ...tlc import data_dir_report
from .verdict import FAIL, OK, WARN, Check

#: report status -> verdict
VERDICTS = {"unset": OK, "ok": OK, "empty": WARN, "missing": FAIL, "not_a_folder": FAIL}


def check_data() -> Check:
    """``MLOPS_KIT_DATA_DIR``: unset, or a readable folder; which TLC months it holds."""
    report = data_dir_report()
    data = {
        "folder": report["path"],
        "months": report["months"],
        "other_parquet": report["other_parquet"],
        "unreadable": report["unreadable"],
    }
    status = report["status"]
    if status == "unset":
        return Check(
            "data",
            OK,
            "MLOPS_KIT_DATA_DIR not set: the kit reads TLC months from its cache or downloads "
            "them (offline: seeded synthetic data)",
            data=data,
        )
    if status != "ok":
        return Check("data", VERDICTS.get(status, FAIL), report["problem"], report["fix"], data)
    months = report["months"]
    ignored = report["other_parquet"]
    note = f"; not TLC names, so not read: {', '.join(ignored)}" if ignored else ""
    return Check(
        "data",
        OK,
        f"{len(months)} TLC month{'s' if len(months) != 1 else ''} in {report['path']}: "
        f"{', '.join(months)}{note}",
        data=data,
    )
