"""What a check answers (a :class:`Check`: OK, WARN or FAIL with the fix) and how answers are shown.

Every check module returns :class:`Check` objects; this module knows nothing about any one
check. The ways to show a list of them live here too: a plain-text table for the terminal,
the ``--json`` object, and a coloured pandas table for the notebook. The command runner that
the checks of programs (the kernel, Docker, the scientific stack) share is here as well, so
tests can hand every check the same fake.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

OK, WARN, FAIL = "OK", "WARN", "FAIL"
STATUSES = (OK, WARN, FAIL)

#: background colours of the status column in a notebook
STATUS_COLOURS = {OK: "#d4edda", WARN: "#fff3cd", FAIL: "#f8d7da"}

Runner = Callable[[Sequence[str], float], "subprocess.CompletedProcess[str]"]


@dataclass(frozen=True)
class Check:
    """The verdict of one check.

    Attributes:
        name: the check's id (``python``, ``docker``, ``network`` ...).
        status: ``OK``, ``WARN`` (works, but something will bite later) or ``FAIL``
            (something the course needs is broken).
        detail: what was found, in one sentence (may contain measured numbers).
        fix: what to do, in one line; None when the status is OK.
        data: measured values (versions, GB, paths) for machines and ``--json``.
    """

    name: str
    status: str
    detail: str
    fix: str | None = None
    data: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self):
        if self.status not in STATUSES:
            raise ValueError(f"status must be one of {STATUSES}, got {self.status!r}")

    @property
    def ok(self) -> bool:
        """True unless the status is FAIL."""
        return self.status != FAIL

    def to_dict(self) -> dict[str, Any]:
        """Return the check as a plain JSON-able dict."""
        return asdict(self)


def run_command(args: Sequence[str], timeout: float) -> subprocess.CompletedProcess[str]:
    """Run a command, capturing text output; raises ``subprocess.TimeoutExpired``."""
    return subprocess.run(
        list(args),
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
        check=False,
    )


def first_line(text: str | None) -> str:
    """Return the first non-blank line of a program's output, stripped ("" when none)."""
    for line in (text or "").splitlines():
        if line.strip():
            return line.strip()
    return ""


def counts(checks: Iterable[Check]) -> dict[str, int]:
    """Return how many checks ended OK, WARN and FAIL (all three keys, always)."""
    found = dict.fromkeys(STATUSES, 0)
    for check in checks:
        found[check.status] += 1
    return found


def summary(checks: Sequence[Check]) -> dict[str, Any]:
    """Return the ``--json`` object: the checks, ``ok`` (no FAIL) and the counts."""
    return {
        "checks": [check.to_dict() for check in checks],
        "ok": all(check.ok for check in checks),
        "counts": counts(checks),
    }


def format_table(checks: Sequence[Check], *, details: bool = True) -> str:
    """Return the checks as a plain-text table, each fix on its own line below.

    Args:
        checks: the results of :func:`~mlops_kit.lessons.doctor.run_checks`.
        details: False leaves out the detail column (measured numbers and paths vary
            between machines and runs; the notebook's regression test needs stable text).
    """
    width = max([len(c.name) for c in checks] + [5])
    lines = []
    for check in checks:
        row = f"{check.status:<4}  {check.name:<{width}}"
        if details:
            row += f"  {check.detail}"
        lines.append(row.rstrip())
        if check.fix:
            lines.append(f"{'':<4}  {'':<{width}}  fix: {check.fix}")
    found = counts(checks)
    verdict = "ready" if found[FAIL] == 0 else "fix the FAIL lines first"
    lines.append(f"{found[OK]} OK, {found[WARN]} WARN, {found[FAIL]} FAIL: {verdict}")
    return "\n".join(lines)


def to_frame(checks: Sequence[Check], *, details: bool = True):
    """Return the checks as a pandas DataFrame (columns check, status, [detail,] fix)."""
    import pandas as pd  # only the notebook needs pandas; the terminal table does not

    rows = [
        {"check": c.name, "status": c.status, "detail": c.detail, "fix": c.fix or ""}
        for c in checks
    ]
    frame = pd.DataFrame(rows, columns=["check", "status", "detail", "fix"])
    return frame if details else frame.drop(columns="detail")


def styled(checks: Sequence[Check], *, details: bool = True, uuid: str = "doctor"):
    """Return the checks as a pandas Styler with coloured statuses, for a notebook.

    The Styler gets a fixed ``uuid`` so its HTML is the same on every run (the
    notebook's regression test compares it).
    """
    frame = to_frame(checks, details=details)

    def colour(value):
        return f"background-color: {STATUS_COLOURS.get(value, '')}"

    return (
        frame.style.set_uuid(uuid)
        .map(colour, subset=["status"])
        .hide(axis="index")
        .set_properties(**{"text-align": "left"})
    )
