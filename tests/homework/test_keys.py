import json

import pytest

from mlops_kit.homework import build_key, hash_key, load_cohort, load_key
from mlops_kit.homework.keys import (
    AnswerKeyError,
    answers_from_records,
    inputs_fit,
    write_json_atomic,
)

VALUES_2024 = {"q1": 19, "q2": 42.594, "q3": 0.9812, "q4": 515, "q5": 7.649, "q6": 7.811}


def test_build_key_maps_values_to_course_options():
    key = build_key("2024", VALUES_2024, synthetic=False, inputs={"a.parquet": "00"})
    assert key["synthetic"] is False
    assert {q: e["option"] for q, e in key["answers"].items()} == {
        "q1": "19",
        "q2": "42.59",
        "q3": "98%",
        "q4": "515",
        "q5": "7.64",
        "q6": "7.81",
    }
    assert key["answers"]["q3"]["value"] == 0.9812  # a share stays a fraction


def test_build_key_refuses_missing_answers():
    with pytest.raises(Exception, match="q6"):
        build_key("2024", {k: v for k, v in VALUES_2024.items() if k != "q6"}, synthetic=True)


def test_hashed_key_hides_the_answers_but_checks_them():
    plain = build_key("2024", VALUES_2024, synthetic=False)
    hashed = hash_key(plain)
    text = json.dumps(hashed)
    assert '"option"' not in text and "42.594" not in text
    key = load_key(hashed, "2024")
    assert key.hashed and key.right_option("q2") is None
    for q in load_cohort("2024").questions:
        assert key.is_right(q.id, plain["answers"][q.id]["option"])
        wrong = [o for o in q.options if o != plain["answers"][q.id]["option"]]
        assert not any(key.is_right(q.id, o) for o in wrong)
    # every option has a hash, so the file does not show which one is right by its shape
    assert all(len(e["hashes"]) == len(e["options"]) for e in hashed["questions"].values())
    # salts differ per question unless fixed
    assert len({e["salt"] for e in hashed["questions"].values()}) == 6
    fixed = hash_key(plain, salt="s")
    assert fixed["questions"] == hash_key(plain, salt="s")["questions"]


def test_plain_key_checks_options():
    key = load_key(build_key("2024", VALUES_2024, synthetic=False))
    assert key.is_right("q5", "7.64") and not key.is_right("q5", "3.64")
    assert key.value("q5") == 7.649


def test_load_key_errors(tmp_path):
    bad = tmp_path / "k.json"
    bad.write_text("{")
    with pytest.raises(AnswerKeyError, match="Cannot read"):
        load_key(bad)
    bad.write_text('{"cohort": "2024"}')
    with pytest.raises(AnswerKeyError, match="not an mlops-kit answer key"):
        load_key(bad)
    key = build_key("2024", VALUES_2024, synthetic=False)
    with pytest.raises(AnswerKeyError, match="cohort 2024, not 2023"):
        load_key(key, "2023")


def test_write_json_atomic_leaves_no_temp_files(tmp_path):
    target = tmp_path / "sub" / "key.json"
    write_json_atomic(target, {"a": 1})
    write_json_atomic(target, {"a": 2})
    assert json.loads(target.read_text()) == {"a": 2}
    assert [p.name for p in target.parent.iterdir()] == ["key.json"]


def test_answers_from_records_and_inputs_fit():
    records = {"answer:q1": 19, "answer:q2": None, "homework:inputs": {"f": "1"}, "x": 2}
    assert answers_from_records(records) == {"q1": 19, "q2": None}
    key = load_key(build_key("2024", VALUES_2024, synthetic=False, inputs={"f": "1"}))
    assert inputs_fit(key, {"f": "1"}, False)
    assert not inputs_fit(key, {"f": "2"}, False)
    assert not inputs_fit(key, {"f": "1"}, True)
    assert not inputs_fit(key, None, None)


@pytest.mark.homework
def test_make_key_on_synthetic_data_says_so(practice_key):
    assert practice_key["synthetic"] is True
    assert practice_key["cohort"] == "practice"
    assert set(practice_key["answers"]) == {"q1", "q2", "q3", "q4", "q5", "q6"}
    assert all(name.startswith("synthetic/") for name in practice_key["inputs"])
    for qid, entry in practice_key["answers"].items():
        assert entry["option"] in entry["options"], qid
    assert 0 < practice_key["answers"]["q3"]["value"] <= 1


@pytest.mark.parametrize("cohort", ["2022", "2023", "2024"])
def test_course_solutions_run_on_synthetic_data(cohort, tmp_path):
    from mlops_kit.homework import make_key

    out = tmp_path / "key.json"
    key = make_key(cohort, source="synthetic", rows=3000, out=out, timeout_cell=120)
    assert key["synthetic"] is True and json.loads(out.read_text()) == key
    co = load_cohort(cohort)
    for q in co.questions:
        assert key["answers"][q.id]["option"] in q.options
    if cohort == "2022":
        assert key["answers"]["q1"]["value"] == 3000  # Q1 counts records there


def test_2025_solution_is_the_2024_one():
    import nbformat

    def code(name):
        nb = nbformat.read(load_cohort(name).path("solution.ipynb"), as_version=4)
        return [c.source for c in nb.cells if c.cell_type == "code"][1:]  # after parameters

    assert code("2025") == code("2024")
