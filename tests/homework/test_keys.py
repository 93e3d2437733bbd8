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
    assert key["source"] == "synthetic"
    for q in co.questions:
        assert key["answers"][q.id]["source"] == "synthetic"  # marked in every row
        if q.by_value:
            assert key["answers"][q.id]["option"] is None
        else:
            assert key["answers"][q.id]["option"] in q.options
    assert "disagreements" not in key  # synthetic answers are not compared with the course
    if cohort == "2022":
        assert key["answers"]["q1"]["value"] == 3000  # Q1 counts records there


def test_2025_solution_is_the_2024_one():
    import nbformat

    def code(name):
        nb = nbformat.read(load_cohort(name).path("solution.ipynb"), as_version=4)
        return [c.source for c in nb.cells if c.cell_type == "code"][1:]  # after parameters

    assert code("2025") == code("2024")


# --------------------------------------------------------------- keys from published answers


@pytest.fixture
def no_real_files(tmp_path, monkeypatch):
    """No TLC file on disk: an empty data folder and cache, downloads forbidden."""
    (tmp_path / "no-data").mkdir()
    monkeypatch.setenv("MLOPS_KIT_DATA_DIR", str(tmp_path / "no-data"))
    monkeypatch.setenv("MLOPS_KIT_CACHE_DIR", str(tmp_path / "no-cache"))
    monkeypatch.setenv("MLOPS_KIT_OFFLINE", "1")


@pytest.mark.parametrize("cohort", ["2022", "2023", "2024", "2025"])
def test_without_the_files_the_key_holds_the_published_answers(cohort, no_real_files, tmp_path):
    from mlops_kit.homework import make_key

    out = tmp_path / "key.json"
    key = make_key(cohort, out=out)  # source auto: no solution runs, nothing is synthetic
    assert json.loads(out.read_text()) == key
    assert key["source"] == "published" and key["synthetic"] is False
    co = load_cohort(cohort)
    for q in co.questions:
        row = key["answers"][q.id]
        assert row["source"] == "published"
        if q.by_value:
            assert row["option"] is None and row["value"] == q.published_value()
        else:
            assert row["option"] == q.answer and row["value"] is None  # no computed value
    loaded = load_key(key, cohort)
    assert loaded.published and loaded.source == "published" and not loaded.synthetic


def test_the_2024_published_key_is_not_the_synthetic_one(no_real_files):
    """The issue's case: 42.59, 98%, 7.64, 7.81, never 32.59, 95%, 11.64, 11.81."""
    from mlops_kit.homework import make_key

    key = load_key(make_key("2024"), "2024")
    assert [key.right_option(q) for q in ("q2", "q3", "q5", "q6")] == [
        "42.59",
        "98%",
        "7.64",
        "7.81",
    ]


def test_published_key_is_refused_for_the_practice_cohort(no_real_files):
    from mlops_kit.homework import make_key
    from mlops_kit.homework.keys import published_key

    with pytest.raises(Exception, match="generates its options"):
        published_key("practice")
    with pytest.raises(Exception, match="generates its options"):
        make_key("practice", source="published")


def test_an_unknown_key_source_is_refused():
    from mlops_kit.homework import make_key

    with pytest.raises(Exception, match="auto, real, published or synthetic"):
        make_key("2024", source="web")


def test_computed_answers_are_compared_with_the_published_ones():
    from mlops_kit.homework.keys import compare_with_published

    agreeing = build_key("2024", VALUES_2024, synthetic=False)
    assert compare_with_published("2024", agreeing) == []
    values = {**VALUES_2024, "q2": 32.61, "q6": 11.8}
    rows = compare_with_published("2024", build_key("2024", values, synthetic=False))
    assert [(r["qid"], r["computed"], r["published"]) for r in rows] == [
        ("q2", "32.59", "42.59"),
        ("q6", "11.81", "7.81"),
    ]
    values_2022 = {"q1": 1154112, "q2": 19.167, "dropped": 44286, "q3": 0.835}
    values_2022 |= {"q4": 525, "q5": 10.53, "q6": 11.01}
    assert compare_with_published("2022", build_key("2022", values_2022, synthetic=False)) == []
    values_2022["dropped"] = 44285
    rows = compare_with_published("2022", build_key("2022", values_2022, synthetic=False))
    assert [(r["qid"], r["computed"]) for r in rows] == [("dropped", 44285)]


def test_auto_refuses_a_key_that_fell_back_to_synthetic_data(no_real_files):
    from mlops_kit.homework import make_key

    # the practice cohort has no published answers: auto runs the solution, which offline
    # falls back to synthetic months; that key is refused unless asked for
    with pytest.raises(Exception, match="--source synthetic"):
        make_key("practice", rows=2000, timeout_cell=120)


@pytest.mark.realdata
def test_with_the_real_files_the_key_is_computed_and_checked(real_file, tmp_path, monkeypatch):
    """A course-like cohort on the real green files: computed, compared per question."""
    from mlops_kit.homework import make_key

    from . import builders

    real_file("green_tripdata_2021-01.parquet")
    real_file("green_tripdata_2021-02.parquet")
    # the course's way: fixed options and a published answer; q6's is wrong on purpose
    fixed = {
        "q1": (["19", "20", "21", "22"], "20"),
        "q2": (["49.34", "59.34", "69.34", "79.34"], "59.34"),
        "q3": (["91%", "94%", "97%", "99%"], "97%"),
        "q4": (["306", "406", "506", "606"], "506"),
        "q5": (["5.78", "9.78", "13.78"], "9.78"),
        "q6": (["10.47", "14.47", "18.47"], "18.47"),
    }
    folder = builders.course_like_cohort(tmp_path / "course-like", fixed)
    key = make_key(folder, timeout_cell=300)
    assert key["source"] == "computed" and key["synthetic"] is False
    computed = {q: e["option"] for q, e in key["answers"].items()}
    wrong = [q for q, (_, answer) in fixed.items() if computed[q] != answer]
    assert [d["qid"] for d in key["disagreements"]] == wrong
    assert "q6" in wrong
