"""Real class material (tests/fixtures/realclass): learners' own notebooks and form answers.

The notebooks run as the grader runs them (the key's months staged, network cut, a
read-only file system outside the working folder) and their answers are read from their
outputs under their own headings; the forms get the grades a person gives them.
"""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

import nbformat
import pytest

from mlops_kit.homework import load_cohort, load_key

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "realclass"
NOTEBOOKS = sorted((FIXTURES / "notebooks").glob("*.ipynb"))
EXPECTED = json.loads((FIXTURES / "expected.json").read_text())


def test_the_material_is_what_the_readme_lists():
    readme = (FIXTURES / "README.md").read_text()
    assert len(NOTEBOOKS) >= 8
    assert {p.stem[:4] for p in NOTEBOOKS} == {"2022", "2023", "2024", "2025"}
    for path in NOTEBOOKS:
        assert f"`{path.stem}`" in readme, path.stem
        nb = nbformat.read(path, as_version=4)
        assert all(not c.get("outputs") for c in nb.cells if c.cell_type == "code")
        code = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
        assert "answer(" not in code  # learners never call the kit
        # moved to the practice months: no other month is read
        assert "2021-01" in code or "{year}-{month}" in code
        for other in ("2022-0", "2023-0", "yellow_tripdata", "fhv_tripdata"):
            assert other not in code, (path.stem, other)
    places = "\n".join(c.source for p in NOTEBOOKS for c in nbformat.read(p, as_version=4).cells)
    for how in ("!wget https://", "'./data/", '"../data/', "read_parquet('https://", "../input/"):
        assert how in places, how
    squared = [p for p in NOTEBOOKS if re.search(r"squared\s*=\s*False", p.read_text())]
    assert len(squared) == 10


@pytest.fixture(scope="module")
def practice_real_key(tmp_path_factory):
    """The practice key computed on the real green months (skips without them)."""
    import os

    from mlops_kit.homework import make_key

    folder = Path(os.environ.get("MLOPS_KIT_DATA_DIR", "") or "/nonexistent")
    for name in ("green_tripdata_2021-01.parquet", "green_tripdata_2021-02.parquet"):
        if not (folder / name).is_file():
            pytest.skip(f"real TLC data not available ({name}): set MLOPS_KIT_DATA_DIR")
    path = tmp_path_factory.mktemp("keys") / "practice.json"
    make_key("practice", source="real", out=path, timeout_cell=300)
    return load_key(path, "practice")


#: the figures each learner's notebook shows under its own headings (see the fixtures' README)
SHOWN = {
    "2022_GwonilJoo": {"q1": 76518, "q2": 19.93, "q3": 0.0, "q4": 506},
    "2022_MichalGasiorowski": {"q1": 76518, "q2": 19.93},
    "2022_annnvv": {"q1": 20, "q2": 2610, "q3": 0.0, "q4": 506},
    "2022_dairm": {},
    "2022_oseghalepatrick": {"q1": 76518, "q2": 2610},
    "2022_space4VV": {},
    "2023_marcellovictorino": {"q1": 20, "q2": 59.34, "q3": 0.9659, "q4": 506},
    "2023_val9299": {"q1": 20, "q2": 59.34, "q3": 96.59, "q4": 506},
    "2024_adelhassen": {"q1": 20, "q2": 59.34, "q3": 96.59, "q4": 506},
    "2024_conrad-ch1": {"q5": 9.78, "q6": 10.47},
    "2024_hwchua0209": {"q1": 20, "q2": 59.34, "q3": 96.59, "q4": 506},
    "2024_jjovalle99": {"q1": 20, "q2": 59.34, "q3": 0.9659, "q4": 506, "q5": 9.78, "q6": 10.47},
    "2025_Dkaattae": {},
    "2025_jdanussi": {},
}


# ------------------------------------------------------------------------------ the forms


def _verdicts(grade, cohort):
    got = {"right": [], "wrong": [], "unanswered": []}
    for q in cohort.questions:
        a = grade.answer(q.id)
        if a is None or a.value is None:
            got["unanswered"].append(q.id)
        else:
            got["right" if a.right else "wrong"].append(q.id)
    return got


@pytest.fixture
def offline(tmp_path, monkeypatch):
    """No TLC file on this machine: keys come from the published answers."""
    (tmp_path / "no-data").mkdir()
    monkeypatch.setenv("MLOPS_KIT_DATA_DIR", str(tmp_path / "no-data"))
    monkeypatch.setenv("MLOPS_KIT_OFFLINE", "1")


@pytest.mark.parametrize("cohort", sorted(EXPECTED["forms"]))
def test_learners_form_answers_get_the_grades_a_person_gives(cohort, offline, tmp_path):
    from mlops_kit.homework import make_key
    from mlops_kit.homework.grading import grade

    key = tmp_path / "keys" / f"{cohort}.json"
    assert make_key(cohort, out=key)["source"] == "published"
    co = load_cohort(cohort)
    run = grade(FIXTURES / "forms" / cohort, cohort, key, tmp_path / "out", progress=False)
    expected = EXPECTED["forms"][cohort]
    assert sorted(g.student for g in run.grades) == sorted(expected)
    for g in run.grades:
        assert g.status == "graded", (g.student, g.reason)
        assert _verdicts(g, co) == expected[g.student], g.student
        assert g.score == len(expected[g.student]["right"])


def test_a_class_export_grades_each_row_as_its_own_student(offline, tmp_path, capsys):
    from mlops_kit.cli import main

    spec = EXPECTED["class_export"]
    key = tmp_path / "keys" / "2024.json"
    assert main(["homework", "key", "--cohort", spec["cohort"], "--out", str(key)]) == 0
    out = tmp_path / "out"
    export = FIXTURES / spec["file"]
    args = ["homework", "grade", str(export), "--cohort", spec["cohort"], "--key", str(key)]
    assert main([*args, "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "5 submissions (all graded now)" in printed and "named on several rows" in printed
    assert "jjovalle99" in printed.split("named on several rows")[1]
    rows = list(csv.DictReader((out / "grades.csv").open()))
    assert len(rows) == sum(s["rows"] for s in spec["students"].values())
    for row in rows:
        assert row["status"] == "graded"
        right = [q for q in ("q1", "q2", "q3", "q4", "q5", "q6") if row[f"{q}_right"] == "True"]
        assert right == spec["students"][row["student"]]["right"], row["student"]
        twice = row["student"] in spec["duplicates"]
        assert ("duplicate_student" in row["flags"]) is twice
    # graded again: nothing changed, nothing regraded; one feedback page per row
    assert main([*args, "--out", str(out)]) == 0
    assert "0 graded now" in capsys.readouterr().out
    assert len(list((out / "feedback").glob("*.html"))) == len(rows)


def test_a_class_export_names_its_columns_by_id_or_text(tmp_path):
    from mlops_kit.homework.forms import FormError, parse_class_export

    co = load_cohort("2022")
    text = (
        "Timestamp,Name,Question 1,Q2. Computing duration,How many records did you drop?,"
        "q3,Missing values,Comments\n"
        "t,ana,1154112,19.16,44286,0.83,,\n"
        "t,,1,2,3,4,,\n"
        "t,Ana,1154112,19.2,44286,0.8,,again\n"
    )
    export = parse_class_export(text.encode(), co)
    assert export.identity == "Name"
    assert export.columns == {
        "q1": "Question 1",
        "q2": "Q2. Computing duration",
        "dropped": "How many records did you drop?",
        "q3": "q3",
    }
    assert export.ignored == ["Timestamp", "Missing values", "Comments"]
    assert export.unnamed == [3]
    assert [(r.student, r.line, r.duplicate_of) for r in export.rows] == [
        ("ana", 2, (4,)),
        ("Ana", 4, (2,)),
    ]
    assert export.rows[0].answers == {"q1": 1154112, "q2": 19.16, "dropped": 44286, "q3": 0.83}
    with pytest.raises(FormError, match="no column naming the students"):
        parse_class_export(b"q1,q2\n19,42\n", co)
    with pytest.raises(FormError, match="no column naming a question"):
        parse_class_export(b"email,colour\na@b,blue\n", co)


def test_a_synthetic_key_is_refused_then_marked_everywhere(offline, tmp_path):
    from mlops_kit.homework import AnswerKeyError, build_key
    from mlops_kit.homework.grading import grade

    values = {"q1": 19, "q2": 32.6, "q3": 0.95, "q4": 515, "q5": 11.6, "q6": 11.8}
    key = tmp_path / "keys" / "synthetic.json"
    key.parent.mkdir()
    key.write_text(json.dumps(build_key("2024", values, synthetic=True)))
    subs = FIXTURES / "forms" / "2025"  # real learners' answers, 2024's questions
    with pytest.raises(AnswerKeyError, match="SYNTHETIC data"):
        grade(subs, "2024", key, tmp_path / "out", progress=False)
    run = grade(subs, "2024", key, tmp_path / "out", progress=False, allow_synthetic_key=True)
    assert all("synthetic_key" in g.flags for g in run.grades)
    assert any("SYNTHETIC" in note for note in run.notes)
    pages = [p.read_text() for p in (tmp_path / "out" / "feedback").glob("*.html")]
    assert pages and all("key computed on synthetic data" in p for p in pages)
    assert "computed on SYNTHETIC data" in (tmp_path / "out" / "report.html").read_text()


def test_notebooks_are_not_graded_when_the_keys_months_are_not_here(offline, tmp_path, monkeypatch):
    """Without the months every kernel would crash on its first read: refuse, store nothing."""
    import shutil

    from mlops_kit.cli import main
    from mlops_kit.homework import HomeworkError, build_key
    from mlops_kit.homework.grading import grade

    monkeypatch.setenv("MLOPS_KIT_CACHE_DIR", str(tmp_path / "empty-cache"))
    values = {"q1": 19, "q2": 11.4, "q3": 0.98, "q4": 515, "q5": 7.6, "q6": 7.8}
    key = tmp_path / "keys" / "practice.json"
    key.parent.mkdir()
    key.write_text(json.dumps(build_key("practice", values, synthetic=False)))
    subs = tmp_path / "class"
    subs.mkdir()
    shutil.copy(NOTEBOOKS[0], subs / "ana.ipynb")
    with pytest.raises(HomeworkError) as caught:
        grade(subs, "practice", key, tmp_path / "out", progress=False)
    text = str(caught.value)
    assert "green_tripdata_2021-01.parquet" in text and "MLOPS_KIT_DATA_DIR=" in text
    assert "nothing was graded" in text and "Fix: Set MLOPS_KIT_DATA_DIR" in text
    assert not (tmp_path / "out" / "gradebook.sqlite").exists()  # no crash stored
    rc = main(["homework", "grade", str(subs), "--cohort", "practice", "--key", str(key),
               "--out", str(tmp_path / "out")])  # fmt: skip
    assert rc == 2
    (subs / "ana.ipynb").unlink()  # a class of forms needs no data
    (subs / "bo.json").write_text(json.dumps({"q1": 19, "q2": 11.4}))
    assert grade(subs, "practice", key, tmp_path / "out", progress=False).grades[0].score == 2


# ----------------------------------------------------------- the notebooks under `grade`

#: (status, score) of each learner's notebook graded on the real practice key
GRADED = {
    "2022_GwonilJoo": ("crashed", 1),  # q4; q1 76518 records, q2 the mean: far, wrong
    "2022_MichalGasiorowski": ("crashed", 0),
    "2022_annnvv": ("crashed", 2),  # q1 (shape's 20 columns) and q4
    "2022_dairm": ("crashed", 0),
    "2022_oseghalepatrick": ("crashed", 0),
    "2022_space4VV": ("crashed", 0),
    "2023_marcellovictorino": ("crashed", 4),
    "2023_val9299": ("crashed", 4),
    "2024_adelhassen": ("crashed", 4),
    "2024_conrad-ch1": ("graded", 2),
    "2024_hwchua0209": ("crashed", 4),
    "2024_jjovalle99": ("graded", 6),
    "2025_Dkaattae": ("no_answers", 0),
    "2025_jdanussi": ("no_answers", 0),
}


@pytest.mark.realdata
def test_learners_notebooks_are_graded_with_the_network_cut(practice_real_key, tmp_path):
    import shutil

    from mlops_kit.homework.grading import grade

    key = tmp_path / "keys" / "practice.json"
    key.parent.mkdir()
    key.write_text(json.dumps(dict(practice_real_key.data)))
    subs = tmp_path / "subs"
    shutil.copytree(FIXTURES / "notebooks", subs)
    run = grade(subs, "practice", key, tmp_path / "out", workers=2, timeout_cell=120,
                progress=False)  # fmt: skip
    got = {g.student: g for g in run.grades}
    assert {s: (g.status, g.score) for s, g in got.items()} == GRADED
    assert run.network == "cut"
    for name, g in got.items():  # the figures each notebook shows, read under its headings
        shown = {a.qid: a.value for a in g.answers if a.value is not None}
        assert shown == pytest.approx(SHOWN[name], abs=0.005), name
    for name, g in got.items():
        source = (FIXTURES / "notebooks" / f"{name}.ipynb").read_text()
        if "squared" in (g.reason or ""):  # the cell that stopped it: the drift hint
            assert re.search(r"squared\s*=\s*False", source), name
        if g.score:
            assert "answers_from_outputs" in g.flags and "In [" in g.reason, name
    squared = [
        g for g in got.values() if "unexpected keyword argument 'squared'" in (g.reason or "")
    ]
    # six stop at their squared=False cell (the others stop earlier); each reason has the fix
    assert len(squared) == 6 and all("root_mean_squared_error" in g.reason for g in squared)
    kaggle = got["2022_space4VV"].reason
    assert "../input/forhire-vehicle-trip-records-mlops/green_tripdata_2021-01.parquet" in kaggle
    assert (
        "the grader staged green_tripdata_2021-01.parquet, green_tripdata_2021-02.parquet" in kaggle
    )
    # the runner's advice for a missing file (--cwd) does not apply to a graded notebook
    assert "--cwd" not in kaggle and "In [2] raised FileNotFoundError" in kaggle
    assert "Fix: read the month from one of those places" in kaggle
    q2 = got["2022_GwonilJoo"].answer("q2")  # the mean 19.93 for the std 59.34: far, wrong
    assert q2.option == "59.34" and not q2.right
    assert any("far from every option" in w for w in q2.warnings)
