"""Grade a folder of 20 generated submissions, honest and hostile, end to end.

One grading run (2 workers, small timeouts) is shared by the tests of this module; each
test then checks one promise of issue 6 against its results.
"""

import csv
import hashlib
import json
import sqlite3
import tempfile
from contextlib import closing
from pathlib import Path

import pytest

from mlops_kit.execution.sandbox import isolation_available
from mlops_kit.homework import load_cohort
from mlops_kit.homework.grading import grade
from mlops_kit.records import read_records

from . import builders

TIMEOUT_CELL = 25
MEMORY_MB = 2500
OUTPUT_BYTES = 300_000

# submission file -> (status, score or None when not checked)
EXPECTED = {
    "alice.ipynb": ("graded", 6),
    "bob.ipynb": ("graded", 4),
    "carol.ipynb": ("graded", 5),
    "dave.ipynb": ("graded", 5),
    "erin.ipynb": ("no_answers", 0),
    "frank.csv": ("graded", 6),
    "grace.json": ("graded", 3),
    "heidi.csv": ("graded", 6),
    "ivan.json": ("no_answers", 0),
    "judy.ipynb": ("crashed", 3),
    "oscar.ipynb": ("graded", 6),
    "stale.ipynb": ("graded", 5),
    "vandal.ipynb": ("graded", 6),
    "snoop.ipynb": ("graded", 0),
    "loop.ipynb": ("timeout", None),
    "membomb.ipynb": ("out_of_memory", None),
    "exiter.ipynb": ("crashed", None),
    "shouter.ipynb": ("output_too_large", None),
    "corrupt.ipynb": ("invalid_notebook", 0),
    "garbled.csv": ("invalid_form", 0),
}


def _tree(root: Path) -> dict[str, str]:
    """sha256 of every file under root (to prove nothing changed)."""
    found = {}
    for path in sorted(root.rglob("*")):
        if path.is_file():
            found[str(path.relative_to(root))] = hashlib.sha256(path.read_bytes()).hexdigest()
    return found


def _make_submissions(folder: Path, key: dict, key_path: Path, out: Path, canary: Path) -> None:
    co = load_cohort("practice")
    sol = builders.solution()
    kinds = {q.id: q.kind for q in co.questions}

    def wrong(*qids):
        return {q: builders.wrong_value(key, q, kinds[q]) for q in qids}

    right_options = {q: e["option"] for q, e in key["answers"].items()}
    right_values = {q: e["value"] for q, e in key["answers"].items()}
    w = builders.write
    w(sol, folder / "alice.ipynb")
    w(builders.with_answers(sol, wrong("q2", "q5")), folder / "bob.ipynb")
    w(builders.with_answers(sol, wrong("q4")), folder / "carol.ipynb")
    w(builders.with_answers(sol, {"q6": None}), folder / "dave.ipynb")
    w(_template(), folder / "erin.ipynb")
    builders.form_csv(folder / "frank.csv", right_options)
    builders.form_json(
        folder / "grace.json",
        {**{q: right_values[q] for q in ("q1", "q2", "q3")}, **wrong("q4", "q5", "q6")},
        student="Grace H.",
    )
    (folder / "heidi.csv").write_text(
        "student," + ",".join(right_values) + "\nheidi," + ",".join(
            str(v) for v in right_values.values()
        ) + "\n"
    )  # fmt: skip
    builders.form_json(folder / "ivan.json", {})
    judy = builders.insert_code(
        sol, "raise ValueError('judy forgot a step')", after=builders.answer_cell(sol, "q3")
    )
    w(judy, folder / "judy.ipynb")
    # a share given as a percentage: maps badly, and says so
    w(
        builders.with_answers(sol, {"q3": round(right_values["q3"] * 100, 2)}),
        folder / "oscar.ipynb",
    )
    # stale: the code now computes a wrong q1, the saved outputs still show the right one
    stale = builders.with_answers(sol, wrong("q1"))
    w(builders.save_outputs(stale, right_values), folder / "stale.ipynb")
    vandal = builders.insert_code(sol, builders.gradebook_attack_source(out, folder, canary))
    w(vandal, folder / "vandal.ipynb")
    snoop_cell = builders.key_search_source(
        key_path, [key_path.parent, out, folder, canary], wrong(*kinds)
    )
    snoop = builders.insert_code(sol, snoop_cell, after=len(sol.cells) - 1)
    w(snoop, folder / "snoop.ipynb")
    w(builders.insert_code(sol, "while True:\n    pass"), folder / "loop.ipynb")
    w(
        builders.insert_code(
            sol, "hog = []\nwhile True:\n    hog.append(bytearray(256 * 1024 * 1024))"
        ),
        folder / "membomb.ipynb",
    )
    w(builders.insert_code(sol, "import os\nos._exit(3)"), folder / "exiter.ipynb")
    w(
        builders.insert_code(sol, "for i in range(100_000):\n    print('spam ' * 20)"),
        folder / "shouter.ipynb",
    )
    builders.corrupt(folder / "corrupt.ipynb")
    (folder / "garbled.csv").write_bytes(b"\xff\xfe\x00garbage\x00\n\x01")


def _template():
    import nbformat

    return nbformat.read(load_cohort("practice").path("homework.ipynb"), as_version=4)


@pytest.fixture(scope="module")
def graded(tmp_path_factory, practice_key, practice_key_path, _isolated_cache):
    root = tmp_path_factory.mktemp("grading")
    subs, out, canary = root / "submissions", root / "out", root / "canary"
    subs.mkdir()
    canary.mkdir()
    (canary / "keep.txt").write_text("untouched")
    _make_submissions(subs, practice_key, practice_key_path, out, canary)
    assert sorted(p.name for p in subs.iterdir()) == sorted(EXPECTED)
    before = {
        "subs": _tree(subs),
        "key": _tree(practice_key_path.parent),
        "canary": _tree(canary),
        "data cache": _tree(_isolated_cache),
        "homework": _tree(load_cohort("practice").folder),
    }
    seen = []
    scratch_before = set(Path(tempfile.gettempdir()).glob("mlops-kit-grade-*"))
    run = grade(
        subs,
        "practice",
        practice_key_path,
        out,
        workers=2,
        timeout_cell=TIMEOUT_CELL,
        timeout_total=120,
        memory_mb=MEMORY_MB,
        output_bytes=OUTPUT_BYTES,
        progress=False,
        on_grade=seen.append,
        allow_synthetic_key=True,
        unsafe=not isolation_available()["available"],  # then the hostile tests skip
    )
    after = {
        "subs": _tree(subs),
        "key": _tree(practice_key_path.parent),
        "canary": _tree(canary),
        "data cache": _tree(_isolated_cache),
        "homework": _tree(load_cohort("practice").folder),
    }
    return {
        "scratch": set(Path(tempfile.gettempdir()).glob("mlops-kit-grade-*")) - scratch_before,
        "run": run,
        "subs": subs,
        "out": out,
        "before": before,
        "after": after,
        "seen": seen,
        "key": practice_key,
        "key_path": practice_key_path,
    }


def _by_name(run):
    return {Path(g.path).name: g for g in run.grades}


def _needs_isolation(run):
    """Skip where the OS cannot sandbox kernels (no bubblewrap): grading then refuses."""
    if any("unsandboxed" in g.flags for g in run.grades):
        pytest.skip("this machine cannot sandbox kernels")


def test_every_submission_gets_the_right_status_and_score(graded):
    _needs_isolation(graded["run"])
    grades = _by_name(graded["run"])
    assert set(grades) == set(EXPECTED)
    got = {
        name: (g.status, g.score if EXPECTED[name][1] is not None else None)
        for name, g in grades.items()
    }
    assert got == EXPECTED, {n: (g.status, g.reason) for n, g in grades.items()}


def test_wrong_answers_are_the_right_ones(graded):
    grades = _by_name(graded["run"])
    wrong = {n: sorted(a.qid for a in g.answers if not a.right) for n, g in grades.items()}
    assert wrong["bob.ipynb"] == ["q2", "q5"]
    assert wrong["carol.ipynb"] == ["q4"]
    assert wrong["dave.ipynb"] == ["q6"]
    assert wrong["grace.json"] == ["q4", "q5", "q6"]
    assert wrong["judy.ipynb"] == ["q4", "q5", "q6"]
    assert wrong["stale.ipynb"] == ["q1"]
    oscar_q3 = grades["oscar.ipynb"].answer("q3")
    assert oscar_q3.right and any("percentage" in w for w in oscar_q3.warnings)
    # the student is the file's, whatever the form claims (shown in the reason)
    assert grades["grace.json"].student == "grace" and "Grace H." in grades["grace.json"].reason
    assert grades["heidi.csv"].student == "heidi"


def test_stale_outputs_are_flagged_and_answers_come_from_the_fresh_run(graded):
    grades = _by_name(graded["run"])
    stale = grades["stale.ipynb"]
    assert "stale_outputs" in stale.flags and "q1" in stale.reason
    assert stale.answer("q1").value != graded["key"]["answers"]["q1"]["value"]
    honest = [n for n in ("alice.ipynb", "bob.ipynb", "carol.ipynb", "vandal.ipynb")]
    assert all("stale_outputs" not in grades[n].flags for n in honest)


def test_hostile_notebooks_cannot_read_the_key_or_touch_anything(graded):
    _needs_isolation(graded["run"])
    out = graded["out"]
    executed = {p.name.split("-")[0]: p for p in (out / "executed").glob("*.ipynb")}
    snoop = read_records(executed["snoop"])
    assert snoop["leak:found"] is False
    vandal = read_records(executed["vandal"])
    assert "written" not in vandal["attack:attempts"].values(), vandal["attack:attempts"]
    # nothing outside the submissions' working directories changed
    assert graded["after"] == graded["before"]
    assert not (out / "pwned.txt").exists()
    with closing(sqlite3.connect(out / "gradebook.sqlite")) as db:
        tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        assert tables == {"grades", "answers"}
        assert max(r[0] for r in db.execute("SELECT score FROM grades")) <= 6


def test_the_gradebook_holds_every_grade_and_a_rerun_grades_nothing(graded, practice_key_path):
    out, subs = graded["out"], graded["subs"]
    with closing(sqlite3.connect(out / "gradebook.sqlite")) as db:
        rows = db.execute("SELECT student, status, score FROM grades").fetchall()
        answers = db.execute("SELECT COUNT(*) FROM answers").fetchone()[0]
    assert len(rows) == 20 and answers > 0
    assert len(graded["seen"]) == 20  # each grade reported as soon as stored
    again = grade(subs, "practice", practice_key_path, out, progress=False,
                      allow_synthetic_key=True)  # fmt: skip
    assert again.graded_now == 0
    assert [g.status for g in again.grades] == [g.status for g in graded["run"].grades]


def test_grades_csv_has_the_issue_columns(graded):
    with open(graded["out"] / "grades.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    header = list(rows[0])
    assert header[:3] == ["submission", "status", "score"]
    assert header[3:15] == [f"q{i}_{c}" for i in range(1, 7) for c in ("value", "right")]
    by_name = {r["submission"]: r for r in rows}
    assert by_name["bob.ipynb"]["q2_right"] == "False"
    assert by_name["alice.ipynb"]["score"] == "6"  # a whole score, not 6.0


def test_reports_and_feedback_pages(graded):
    out = graded["out"]
    report = (out / "report.html").read_text()
    assert "data:image/png;base64," in report
    assert "Share of right answers" in report or "share right" in report
    feedback = (out / "feedback" / "bob.html").read_text()
    assert "wrong" in feedback
    # the right option of a wrong answer is not revealed by default
    right_q2 = graded["key"]["answers"]["q2"]["option"]
    assert right_q2 not in feedback
    assert len(list((out / "feedback").glob("*.html"))) == 20


def test_reveal_shows_the_right_options(graded, practice_key_path, tmp_path):
    from mlops_kit.homework.keys import load_key
    from mlops_kit.homework.reports import feedback_html

    bob = _by_name(graded["run"])["bob.ipynb"]
    page = feedback_html(bob, load_cohort("practice"), load_key(practice_key_path), reveal=True)
    assert graded["key"]["answers"]["q2"]["option"] in page


def test_network_state_is_reported(graded):
    run = graded["run"]
    assert run.network in ("cut", "not_cut", "mixed")
    report = (graded["out"] / "report.html").read_text()
    if run.network == "cut":
        assert "Network: cut" in report
    else:
        assert "could not be cut" in report


def test_no_working_directory_is_left_behind(graded):
    assert graded["scratch"] == set()
    assert not (graded["out"] / "scratch-folder.txt").exists()


def test_a_changed_submission_is_graded_again(graded, practice_key_path, tmp_path):
    out, subs = graded["out"], graded["subs"]
    (subs / "ivan.json").write_text(json.dumps({"q1": graded["key"]["answers"]["q1"]["value"]}))
    try:
        again = grade(subs, "practice", practice_key_path, out, progress=False,
                      allow_synthetic_key=True)  # fmt: skip
        assert again.graded_now == 1
        ivan = _by_name(again)["ivan.json"]
        assert (ivan.status, ivan.score) == ("graded", 1)
    finally:
        builders.form_json(subs / "ivan.json", {})
