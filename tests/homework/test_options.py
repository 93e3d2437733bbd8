import pytest

from mlops_kit.homework.options import (
    OptionError,
    closest_option,
    format_option,
    format_value,
    generate_options,
    parse_option,
)


@pytest.mark.parametrize(
    ("label", "kind", "number"),
    [
        ("1,054,112", "count", 1054112),
        ("53%", "share", 0.53),
        ("42.59", "number", 42.59),
        ("0.98", "share", 0.98),
        ("98", "share", 0.98),
    ],
)
def test_parse_option(label, kind, number):
    assert parse_option(label, kind) == pytest.approx(number)


def test_parse_option_refuses_text():
    with pytest.raises(OptionError, match="not a number"):
        parse_option("many", "count")


def test_closest_option_picks_nearest_without_warning():
    m = closest_option(7.6427, ["3.64", "7.64", "11.64", "16.64"], "number")
    assert (m.option, m.index, m.warnings) == ("7.64", 1, ())


def test_numpy_values_are_accepted():
    np = pytest.importorskip("numpy")
    m = closest_option(np.float64(0.9812), ["90%", "92%", "95%", "98%"], "share")
    assert m.option == "98%" and isinstance(m.value, float)


def test_warns_when_nearly_halfway():
    m = closest_option(9.65, ["3.64", "7.64", "11.64", "16.64"], "number")
    assert any("halfway" in w for w in m.warnings)


def test_warns_when_far_from_every_option():
    m = closest_option(25, ["16", "17", "18", "19"], "count")
    assert m.option == "19" and m.far  # the closest is named, but the answer is not it
    assert any("far from every option" in w and "not counted as 19" in w for w in m.warnings)
    near = closest_option(19.4, ["16", "17", "18", "19"], "count")
    assert near.option == "19" and not near.far


def test_a_question_without_options_maps_to_none():
    m = closest_option(44286, [], "count")
    assert (m.option, m.number, m.far, m.warnings) == (None, 44286.0, False, ())


def test_percent_given_for_a_share_is_read_as_one_and_flagged():
    m = closest_option(92.2, ["90%", "92%", "95%", "98%"], "share")
    assert m.option == "92%" and m.number == pytest.approx(0.922)
    assert any("percentage" in w for w in m.warnings)


def test_label_strings_and_missing_values():
    assert closest_option("98%", ["90%", "98%"], "share").option == "98%"
    assert closest_option(None, ["1", "2"], "count").option is None
    bad = closest_option("lots", ["1", "2"], "count")
    assert bad.option is None and "not a number" in bad.warnings[0]


def test_format_option_round_trips():
    for number, kind, decimals in [(1154112, "count", 0), (0.83, "share", 0), (19.16, "number", 2)]:
        label = format_option(number, kind, decimals)
        assert parse_option(label, kind) == pytest.approx(number)


def test_generated_options_are_seeded_and_contain_the_answer():
    a = generate_options(
        9.7756, kind="number", step=4, count=4, seed="s:q5", decimals=2, minimum=0.01
    )
    b = generate_options(
        9.7756, kind="number", step=4, count=4, seed="s:q5", decimals=2, minimum=0.01
    )
    assert a == b
    labels, right = a
    assert right == "9.78" and right in labels and len(labels) == 4
    assert all(parse_option(o, "number") > 0 for o in labels)
    values = [parse_option(o, "number") for o in labels]
    assert [round(y - x, 6) for x, y in zip(values, values[1:], strict=False)] == [4.0] * 3


def test_generated_positions_vary_with_the_seed():
    positions = {
        generate_options(50.0, kind="number", step=1, count=4, seed=s)[0].index("50.00")
        for s in range(40)
    }
    assert len(positions) > 1


def test_generated_shares_stay_in_range():
    labels, right = generate_options(
        0.99, kind="share", step=0.03, count=4, seed=1, decimals=0, minimum=0, maximum=1
    )
    assert right == "99%"
    assert all(0 <= parse_option(o, "share") <= 1 for o in labels)
    with pytest.raises(OptionError):
        generate_options(0.5, kind="share", step=0.5, count=4, seed=1, minimum=0, maximum=1)


@pytest.mark.parametrize(
    "value, shown",
    [
        (42.59435124195458, "42.5944"),
        (0.9812202822125979, "0.9812"),
        (1154112, "1,154,112"),
        (1154112.0, "1,154,112"),
        (7.5, "7.5"),
        (float("nan"), "nan"),
        ("19; import os", "'19; import os'"),
        (True, "True"),
    ],
)
def test_format_value_shows_what_a_person_reads(value, shown):
    assert format_value(value) == shown
