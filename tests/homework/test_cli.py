import csv
import json

from mlops_kit.cli import main
from mlops_kit.homework import build_key


def test_homework_help_lists_the_actions(capsys):
    assert main(["homework"]) == 2
    out = capsys.readouterr().out
    assert all(a in out for a in ("key", "check", "grade"))


def test_grade_a_folder_of_forms_from_the_cli(tmp_path, capsys):
    key = build_key(
        "2024",
        {"q1": 19, "q2": 42.594, "q3": 0.9812, "q4": 515, "q5": 7.649, "q6": 7.811},
        synthetic=False,
    )
    key_path = tmp_path / "keys" / "2024.json"
    key_path.parent.mkdir()
    key_path.write_text(json.dumps(key))
    subs = tmp_path / "subs"
    subs.mkdir()
    (subs / "ana.csv").write_text("question,value\nq1,19\nq2,42.59\nq3,0.98\n")
    (subs / "bo.json").write_text('{"q1": 16, "q5": "7.64"}')
    out = tmp_path / "out"
    args = ["homework", "grade", str(subs), "--cohort", "2024", "--key", str(key_path),
            "--out", str(out), "--json"]  # fmt: skip
    assert main(args) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["statuses"] == {"graded": 2}
    assert {g["submission"]: g["score"] for g in summary["grades"]} == {
        "ana.csv": 3.0,
        "bo.json": 1.0,
    }
    rows = list(csv.DictReader((out / "grades.csv").open()))
    assert [r["submission"] for r in rows] == ["ana.csv", "bo.json"]
    assert (out / "feedback" / "ana.html").is_file() and (out / "report.html").is_file()
    assert main(args) == 0
    assert json.loads(capsys.readouterr().out)["graded_now"] == 0
    # a byte-for-byte copy under another name is graded, and both files are flagged
    (subs / "cy.csv").write_bytes((subs / "ana.csv").read_bytes())
    assert main(args) == 0
    again = {g["submission"]: g for g in json.loads(capsys.readouterr().out)["grades"]}
    assert "identical_copy" in again["cy.csv"]["flags"]
    assert "ana.csv" in again["cy.csv"]["reason"]
    assert "identical_copy" in again["ana.csv"]["flags"]


def test_a_key_for_another_cohort_is_refused(tmp_path, capsys):
    key = build_key("2023", {f"q{i}": 1 for i in range(1, 7)}, synthetic=True)
    path = tmp_path / "k.json"
    path.write_text(json.dumps(key))
    (tmp_path / "subs").mkdir()
    code = main(["homework", "grade", str(tmp_path / "subs"), "--cohort", "2024",
                 "--key", str(path), "--out", str(tmp_path / "out")])  # fmt: skip
    assert code == 2
    assert "cohort 2023, not 2024" in capsys.readouterr().err


def test_key_without_the_months_writes_the_published_answers_and_says_so(
    tmp_path, monkeypatch, capsys
):
    (tmp_path / "no-data").mkdir()
    monkeypatch.setenv("MLOPS_KIT_DATA_DIR", str(tmp_path / "no-data"))
    monkeypatch.setenv("MLOPS_KIT_CACHE_DIR", str(tmp_path / "no-cache"))
    monkeypatch.setenv("MLOPS_KIT_OFFLINE", "1")
    for cohort in ("2022", "2023", "2024", "2025"):
        out = tmp_path / f"{cohort}.json"
        assert main(["homework", "key", "--cohort", cohort, "--out", str(out)]) == 0
        text = capsys.readouterr().out
        assert "the course's published answers" in text and "no data was read" in text
        key = json.loads(out.read_text())
        assert key["source"] == "published" and not key["synthetic"]
        assert all(row["source"] == "published" for row in key["answers"].values())


def test_a_synthetic_key_is_only_made_on_request_and_exits_3(tmp_path, capsys):
    out = tmp_path / "synthetic.json"
    args = ["homework", "key", "--cohort", "2024", "--source", "synthetic", "--rows", "3000"]
    assert main([*args, "--out", str(out), "--timeout-cell", "120"]) == 3
    text = capsys.readouterr().out
    assert "SYNTHETIC data: its answers are not the course's" in text
    assert text.count("[synthetic]") == 6  # every row says so
    assert json.loads(out.read_text())["source"] == "synthetic"


def test_a_real_key_offline_without_the_months_says_so_once(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("MLOPS_KIT_OFFLINE", "1")
    monkeypatch.setenv("MLOPS_KIT_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("MLOPS_KIT_DATA_DIR", raising=False)
    out = tmp_path / "key.json"
    args = ["homework", "key", "--cohort", "practice", "--source", "real", "--out", str(out)]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "could not read its months: green:2021-01" in err
    assert err.count("Fix:") == 1 and "mlops-kit data fetch green:2021-01 green:2021-02" in err
    assert "--source published" not in err  # practice has no published answers
    assert not out.exists()
