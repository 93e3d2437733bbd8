"""The course map and the MLOps principles are consistent data the notebooks can rely on."""

from __future__ import annotations

import importlib

import pytest

from mlops_kit.errors import UnknownParameterError
from mlops_kit.lessons import course
from mlops_kit.lessons.course import COMPONENTS, COURSE_MAP, MODULES, PRINCIPLES, STAGES
from mlops_kit.lessons.maturity import LEVELS, QUESTIONS


def test_nine_principles_in_the_papers_order():
    assert [p.id for p in PRINCIPLES] == [f"P{i}" for i in range(1, 10)]
    names = [p.name.lower() for p in PRINCIPLES]
    for word in [
        "ci/cd",
        "orchestration",
        "reproducibility",
        "versioning",
        "collaboration",
        "training",
        "metadata",
        "monitoring",
        "feedback",
    ]:
        assert any(word in name for name in names), word


def test_principles_map_to_real_modules_and_levels():
    levels = {lv.number for lv in LEVELS}
    for item in PRINCIPLES:
        assert item.module in MODULES
        assert item.level in levels and item.level >= 1
        assert item.meaning and item.taxi_example


def test_components_implement_known_principles_and_cover_them_all():
    ids = {p.id for p in PRINCIPLES}
    assert [c.id for c in COMPONENTS] == [f"C{i}" for i in range(1, 10)]
    covered = set()
    for component in COMPONENTS:
        assert set(component.principles) <= ids, component
        assert component.module is None or component.module in MODULES
        covered |= set(component.principles)
    assert covered == ids


def test_questions_cite_known_principles():
    ids = {p.id for p in PRINCIPLES}
    assert {q.principle for q in QUESTIONS} <= ids


def test_a_principle_first_shows_up_at_its_lowest_question():
    """The level given to a principle and the self-assessment's questions never disagree.

    The paper maps no principle to a maturity level; the kit's mapping is the lowest level
    of a question citing the principle, so a learner who answers "yes" up to that level
    has met it.
    """
    for item in PRINCIPLES:
        levels = [q.level for q in QUESTIONS if q.principle == item.id]
        assert levels, f"no self-assessment question cites {item.id}"
        assert item.level == min(levels), (item.id, item.level, sorted(levels))


def test_the_course_map_names_each_cohorts_tools():
    steps = {s.id: s for s in COURSE_MAP}
    assert "Prefect" in steps["orchestration"].tools and "Mage" in steps["orchestration"].tools
    assert steps["script"].module == 3  # the course turns the notebook into a script there
    assert "papermill" not in steps["train"].tools  # the course's module 1 is a plain notebook


def test_principle_lookup():
    assert course.principle("p3").name == "Reproducibility"
    with pytest.raises(UnknownParameterError, match="P1, P2"):
        course.principle("P10")


def test_course_map_steps_follow_the_course():
    assert len({s.id for s in COURSE_MAP}) == len(COURSE_MAP)
    modules = [s.module for s in COURSE_MAP]
    assert modules == sorted(modules), "steps are listed in course order"
    assert set(modules) == set(MODULES)
    assert {s.stage for s in COURSE_MAP} == set(STAGES)
    ids = [s.id for s in COURSE_MAP]
    for earlier, later in [("load", "prepare"), ("prepare", "vectorize"), ("vectorize", "train")]:
        assert ids.index(earlier) < ids.index(later)
    assert [s.id for s in course.steps_for_module(4)] == ["web_service", "batch", "stream"]


def _calls():
    for step in COURSE_MAP:
        if step.kit_call is None:
            continue
        first = step.kit_call.split(" / ")[0]
        module, _, name = first.rpartition(".")
        yield step.id, module, name
        for other in step.kit_call.split(" / ")[1:]:
            yield step.id, module, other


@pytest.mark.parametrize("step, module, name", list(_calls()))
def test_kit_calls_exist(step, module, name):
    try:
        mod = importlib.import_module(module)
    except ModuleNotFoundError as exc:
        if exc.name != module:
            raise
        pytest.skip(f"{module} not shipped yet (step {step})")
    assert hasattr(mod, name), f"step {step}: {module}.{name} does not exist"


def test_tables_for_the_notebooks():
    steps = course.course_map_table()
    assert list(steps.index) == [s.id for s in COURSE_MAP]
    assert {"stage", "module", "module_name", "kit_call"} <= set(steps.columns)
    assert steps.loc["train", "kit_call"] == "mlops_kit.model.training.train_and_evaluate"
    assert steps.loc["monitoring", "kit_call"] == "-"
    principles = course.principles_table()
    assert list(principles.index) == [p.id for p in PRINCIPLES]
    # operation metrics make continuous monitoring start at level 1 (the lecture)
    assert principles.loc["P8", "level"] == 1
    assert principles.loc["P3", "level"] == principles.loc["P4", "level"] == 2
    assert principles.loc["P2", "components"] == "C3"
