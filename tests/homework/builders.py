"""Build learner notebooks and hostile submissions from a cohort's solution.ipynb.

Everything is generated from the shipped solution at test time, so the tests follow the
notebooks when they change and no executed notebook is committed.
"""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

import nbformat

from mlops_kit.homework import load_cohort
from mlops_kit.homework.options import parse_option
from mlops_kit.records import MIME_TYPE

_ANSWER = re.compile(r'^answer\("(q\d+)",.*\)\s*$', re.M)


def solution(cohort: str = "practice") -> nbformat.NotebookNode:
    return nbformat.read(load_cohort(cohort).path("solution.ipynb"), as_version=4)


def answer_cell(nb, qid: str) -> int:
    for index, cell in enumerate(nb.cells):
        if cell.cell_type == "code" and f'answer("{qid}"' in cell.source:
            return index
    raise AssertionError(f"no answer cell for {qid}")


def with_answers(nb, values: dict[str, Any]) -> nbformat.NotebookNode:
    """Replace the answer() call of some questions by a fixed value (the rest is kept)."""
    nb = copy.deepcopy(nb)
    for qid, value in values.items():
        cell = nb.cells[answer_cell(nb, qid)]
        cell.source = _ANSWER.sub(
            lambda m, qid=qid, value=value: (
                f'answer("{qid}", {value!r})' if m.group(1) == qid else m.group(0)
            ),
            cell.source,
        )
        assert f'answer("{qid}", {value!r})' in cell.source, cell.source
    return nb


def insert_code(nb, source: str, after: int | None = None) -> nbformat.NotebookNode:
    """Insert a code cell after the setup cell (the one that reads the data) by default."""
    nb = copy.deepcopy(nb)
    if after is None:
        after = next(i for i, c in enumerate(nb.cells) if "read_trips(" in c.source)
    nb.cells.insert(after + 1, nbformat.v4.new_code_cell(source))
    return nb


def wrong_value(key: dict, qid: str, kind: str) -> float:
    """A value that maps to an option other than the key's right one."""
    entry = key["answers"][qid]
    other = next(o for o in entry["options"] if o != entry["option"])
    return parse_option(other, kind)


def save_outputs(nb, values: dict[str, Any]) -> nbformat.NotebookNode:
    """Pretend the notebook was run: add saved answer records as cell outputs."""
    nb = copy.deepcopy(nb)
    for qid, value in values.items():
        cell = nb.cells[answer_cell(nb, qid)]
        cell.outputs = [
            nbformat.v4.new_output(
                "display_data",
                data={
                    MIME_TYPE: {"name": f"answer:{qid}", "value": value},
                    "text/plain": "",
                },
            )
        ]
        cell.execution_count = 1
    return nb


def write(nb, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)
    return path


def key_search_source(key_path: Path, roots: list[Path], fallback: dict[str, Any]) -> str:
    """A cell that looks for the key on disk: answers from it if found, else ``fallback``."""
    return f"""
import json, os
from mlops_kit.records import record
found = None
candidates = [{str(key_path)!r}]
for root in {[str(r) for r in roots]!r}:
    for folder, dirs, files in os.walk(root):
        candidates += [os.path.join(folder, f) for f in files if f.endswith(".json")]
for path in candidates:
    try:
        with open(path) as handle:
            data = json.load(handle)
    except Exception:
        continue
    if isinstance(data, dict) and "answers" in data:
        found = data
        break
record("leak:found", found is not None)
if found:
    for qid, entry in found["answers"].items():
        answer(qid, entry["value"])
else:
    for qid, value in {fallback!r}.items():
        answer(qid, value)
"""


def gradebook_attack_source(out: Path, submissions: Path, elsewhere: Path) -> str:
    """A cell that tries to rewrite the gradebook and drop files next to it and elsewhere."""
    return f"""
import os, sqlite3
from mlops_kit.records import record
attempts = {{}}
try:
    db = sqlite3.connect({str(out / "gradebook.sqlite")!r})
    db.execute("CREATE TABLE IF NOT EXISTS pwned (x)")
    db.execute("UPDATE grades SET score = 100")
    db.commit()
    attempts["sqlite"] = "written"
except Exception as exc:
    attempts["sqlite"] = type(exc).__name__
for target in [{str(out / "grades.csv")!r}, {str(out / "pwned.txt")!r},
               {str(submissions / "pwned.txt")!r}, {str(elsewhere / "pwned.txt")!r},
               {str(elsewhere / "keep.txt")!r}]:
    try:
        with open(target, "a") as handle:
            handle.write("pwned")
        attempts[target] = "written"
    except Exception as exc:
        attempts[target] = type(exc).__name__
record("attack:attempts", attempts)
"""


def corrupt(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text('{"cells": [ this is not json', encoding="utf-8")
    return path


def form_json(path: Path, answers: dict[str, Any], student: str | None = None) -> Path:
    data: dict[str, Any] = {"answers": answers}
    if student:
        data["student"] = student
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def form_csv(path: Path, answers: dict[str, Any]) -> Path:
    lines = ["question,value"] + [f"{q},{v}" for q, v in answers.items()]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def course_like_cohort(folder: Path, fixed: dict[str, tuple[list[str], str]]) -> Path:
    """Copy the practice cohort to ``folder`` the course's way: fixed options and answers.

    ``fixed`` maps each question to ``(options, published answer)``; the generated-options
    rule and the shipped key are dropped. Its months are the real green files.
    """
    import shutil

    import yaml

    shutil.copytree(load_cohort("practice").folder, folder)
    (folder / "key.json").unlink()
    data = yaml.safe_load((folder / "questions.yaml").read_text())
    data.pop("options_rule")
    for q in data["questions"]:
        q.pop("generate")
        q["options"], q["answer"] = fixed[q["id"]]
    (folder / "questions.yaml").write_text(yaml.safe_dump(data))
    return folder
