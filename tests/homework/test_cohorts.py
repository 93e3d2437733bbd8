import json

import nbformat
import pytest

from mlops_kit.execution.runner import notebook_parameters
from mlops_kit.homework import list_cohorts, load_cohort
from mlops_kit.homework.cohorts import HomeworkError, UnknownCohortError, cohort_from_dict

COURSE = {
    # cohort: (train dataset, published answers in order) from the course (issue 6);
    # 2022 asked "How many records did you drop?" between Q2 and Q3, without options
    "2022": ("fhv:2021-01", ["1,154,112", "19.16", "44,286", "83%", "525", "10.52", "11.01"]),
    "2023": ("yellow:2022-01", ["19", "46.45", "98%", "515", "6.99", "7.79"]),
    "2024": ("yellow:2023-01", ["19", "42.59", "98%", "515", "7.64", "7.81"]),
    "2025": ("yellow:2023-01", ["19", "42.59", "98%", "515", "7.64", "7.81"]),
}


def test_every_cohort_is_shipped():
    assert set(list_cohorts()) >= {"2022", "2023", "2024", "2025", "practice"}


@pytest.mark.parametrize("name", sorted(COURSE))
def test_course_cohorts_carry_the_published_answers(name):
    co = load_cohort(name)
    train, published = COURSE[name]
    assert co.datasets["train"] == train
    assert [q.answer for q in co.questions] == published
    assert all(q.answer in q.options for q in co.questions if not q.by_value)
    assert not co.generated and co.published


def test_2022_asks_the_dropped_records_by_value():
    q = load_cohort("2022").question("dropped")
    assert q.by_value and not q.options and q.kind == "count"
    assert q.text.endswith("How many records did you drop?")
    # 1,154,112 January records, 1,109,826 kept by the course's solution
    assert q.published_value() == 1_154_112 - 1_109_826


def test_a_question_without_options_needs_a_published_value():
    data = {
        "cohort": "x",
        "datasets": {"train": "green:2021-01", "val": "green:2021-02"},
        "questions": [{"id": "q1", "kind": "count"}],
    }
    with pytest.raises(HomeworkError, match="no options, no answer"):
        cohort_from_dict(data)
    data["questions"][0]["answer"] = "12"
    co = cohort_from_dict(data)
    assert co.question("q1").by_value and co.published


def test_practice_generates_options_on_green_2021():
    co = load_cohort("practice")
    assert co.generated and co.datasets == {"train": "green:2021-01", "val": "green:2021-02"}
    assert [q.kind for q in co.questions] == [q.kind for q in load_cohort("2024").questions]
    options, right = co.options_for("q5", 9.7756)
    assert right == "9.78" and right in options


@pytest.mark.parametrize("name", ["2022", "2023", "2024", "2025", "practice"])
@pytest.mark.parametrize("which", ["homework.ipynb", "solution.ipynb"])
def test_notebooks_declare_the_cohort_and_answer_every_question(name, which):
    co = load_cohort(name)
    path = co.path(which)
    nb = nbformat.read(path, as_version=4)
    declared = notebook_parameters(path)
    assert {"cohort", "train_dataset", "val_dataset", "source", "rows", "seed"} <= set(declared)
    params = next(c for c in nb.cells if "parameters" in c.metadata.get("tags", []))
    assert f'cohort = "{name}"' in params.source
    assert nb.metadata["kernelspec"]["name"] == "python3"
    code = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
    for qid in co.ids:
        assert f'answer("{qid}"' in code
    # committed without outputs
    assert all(not c.get("outputs") for c in nb.cells if c.cell_type == "code")
    if which == "solution.ipynb":
        # the reference solution computes from data, never from a key
        assert "key" not in code.lower().replace("keys()", "")
        assert "value = None" not in code
    else:
        assert code.count("value = None") == len(co.ids)


def test_unknown_cohort_names_the_known_ones():
    with pytest.raises(UnknownCohortError, match="practice"):
        load_cohort("1999")


def test_published_answer_must_be_an_option():
    data = {
        "cohort": "x",
        "datasets": {"train": "green:2021-01", "val": "green:2021-02"},
        "questions": [{"id": "q1", "kind": "count", "options": ["1", "2"], "answer": "3"}],
    }
    with pytest.raises(HomeworkError, match="not one of its options"):
        cohort_from_dict(data)
    data["questions"][0]["answer"] = "2"
    assert cohort_from_dict(data).question("q1").answer == "2"


def test_shipped_keys_are_hashed_only(tmp_path):
    for name in list_cohorts():
        path = load_cohort(name).path("key.json")
        if path.is_file():
            data = json.loads(path.read_text())
            assert data["format"] == "mlops-kit-hashed-key/1"
            assert "answers" not in data
            # says what it was computed from, not left for readers to infer
            assert data["source"] in {"published", "computed"}, name
            assert data["source"] != "computed" or not data["synthetic"], name
