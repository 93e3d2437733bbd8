"""mlops_kit.model.features: duration, outlier filter, PU_DO, prepare_trips == the course."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mlops_kit.errors import BadParameterError, MissingColumnsError
from mlops_kit.model.features import (
    add_duration,
    add_pu_do,
    filter_outliers,
    prepare_features,
    prepare_trips,
)


def trips(n=200, seed=0, service="lpep", zones=30) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    pickup = pd.Timestamp("2021-01-01") + pd.to_timedelta(rng.integers(0, 86400 * 28, n), "s")
    minutes = rng.exponential(15, n)
    minutes[:5] = [0.5, 1.0, 60.0, 60.01, 300]  # the bounds and outliers
    return pd.DataFrame(
        {
            f"{service}_pickup_datetime": pickup.astype("datetime64[us]"),
            f"{service}_dropoff_datetime": (pickup + pd.to_timedelta(minutes * 60, "s")).astype(
                "datetime64[us]"
            ),
            "PULocationID": rng.integers(1, zones, n),
            "DOLocationID": rng.integers(1, zones, n),
            "trip_distance": np.round(rng.exponential(3, n), 2) * (rng.random(n) > 0.1),
        }
    )


def course_read_dataframe(df: pd.DataFrame, pickup="lpep_pickup_datetime", dropoff=None):
    """The course's read_dataframe (without the read), as the reference."""
    dropoff = dropoff or pickup.replace("pickup", "dropoff")
    df = df.copy()
    df["duration"] = df[dropoff] - df[pickup]
    df["duration"] = df["duration"].apply(lambda td: td.total_seconds() / 60)
    df = df[(df.duration >= 1) & (df.duration <= 60)].copy()
    categorical = ["PULocationID", "DOLocationID"]
    df[categorical] = df[categorical].astype(str)
    df["PU_DO"] = df["PULocationID"] + "_" + df["DOLocationID"]
    return df


# --------------------------------------------------------- duration and filter


def test_add_duration_equals_the_course_apply():
    df = trips()
    ours = add_duration(df)["duration"]
    course = (df.lpep_dropoff_datetime - df.lpep_pickup_datetime).apply(
        lambda td: td.total_seconds() / 60
    )
    np.testing.assert_array_equal(ours.to_numpy(), course.to_numpy())
    assert "duration" not in df.columns  # input untouched


@pytest.mark.parametrize(
    "pickup,dropoff",
    [
        ("tpep_pickup_datetime", "tpep_dropoff_datetime"),
        ("pickup_datetime", "dropOff_datetime"),  # fhv
        ("pickup_datetime", "dropoff_datetime"),  # fhvhv
    ],
)
def test_add_duration_finds_each_services_columns(pickup, dropoff):
    df = trips(10).rename(
        columns={"lpep_pickup_datetime": pickup, "lpep_dropoff_datetime": dropoff}
    )
    assert add_duration(df)["duration"].notna().all()


def test_add_duration_missing_columns_is_a_kit_error():
    with pytest.raises(MissingColumnsError, match="pickup"):
        add_duration(pd.DataFrame({"x": [1]}))


def test_add_duration_parses_strings_and_time_zones():
    text = pd.DataFrame(
        {
            "pickup_datetime": ["2021-01-01 00:00:00", None],
            "dropOff_datetime": ["2021-01-01 00:10:30", "2021-01-01 00:00:00"],
        }
    )
    assert add_duration(text)["duration"].iloc[0] == 10.5
    assert np.isnan(add_duration(text)["duration"].iloc[1])
    # across the DST change in New York: 01:50 -> 03:10 local is 20 minutes
    aware = pd.DataFrame(
        {
            "pickup_datetime": pd.to_datetime(["2021-03-14 01:50:00"]).tz_localize(
                "America/New_York"
            ),
            "dropOff_datetime": pd.to_datetime(["2021-03-14 03:10:00"]).tz_localize(
                "America/New_York"
            ),
        }
    )
    assert add_duration(aware)["duration"].iloc[0] == 20.0


def test_filter_outliers_bounds_are_inclusive():
    df = pd.DataFrame({"duration": [0.99, 1.0, 30, 60.0, 60.01]})
    assert filter_outliers(df)["duration"].tolist() == [1.0, 30, 60.0]
    assert filter_outliers(df, 30, 30)["duration"].tolist() == [30]
    assert filter_outliers(df, min_duration=0, max_duration=100).shape[0] == 5


def test_filter_outliers_rejects_reversed_bounds():
    with pytest.raises(BadParameterError, match="Swap"):
        filter_outliers(pd.DataFrame({"duration": [1.0]}), 60, 1)
    with pytest.raises(MissingColumnsError, match="add_duration"):
        filter_outliers(pd.DataFrame({"x": [1.0]}))


# ----------------------------------------------------------- prepare and PU_DO


def test_prepare_trips_matches_the_course_read_dataframe():
    df = trips(500)
    ours = prepare_trips(df, categorical=["PU_DO"], numerical=["trip_distance"])
    course = course_read_dataframe(df)
    assert len(ours) == len(course)
    np.testing.assert_array_equal(ours.index, course.index)
    np.testing.assert_array_equal(ours["duration"], course["duration"])
    for column in ("PULocationID", "DOLocationID", "PU_DO"):
        assert ours[column].astype(str).tolist() == course[column].tolist()
    plain = prepare_trips(df, categorical=["PU_DO"], as_category=False)
    assert plain["PU_DO"].tolist() == course["PU_DO"].tolist()
    assert plain["PU_DO"].dtype == "str"


def test_prepare_trips_keeps_the_input_and_its_attrs():
    df = trips(50)
    df.attrs["synthetic"] = True
    before = df.copy()
    out = prepare_trips(df)
    pd.testing.assert_frame_equal(df, before)
    assert out.attrs["synthetic"] is True


def test_missing_location_ids_become_minus_one_as_the_2022_homework():
    df = trips(6).rename(columns={"PULocationID": "PUlocationID", "DOLocationID": "DOlocationID"})
    df["PUlocationID"] = [np.nan, 5.0, 7.0, np.nan, 5.0, 9.0]
    out = prepare_features(df, categorical=["PUlocationID", "DOlocationID"])
    assert out["PUlocationID"].astype(str).tolist() == ["-1", "5", "7", "-1", "5", "9"]


def test_add_pu_do_from_strings_and_ints_agree():
    df = trips(100)
    from_ints = add_pu_do(df)["PU_DO"].astype(str)
    strings = df.assign(
        PULocationID=df.PULocationID.astype(str), DOLocationID=df.DOLocationID.astype(str)
    )
    from_strings = add_pu_do(strings)["PU_DO"].astype(str)
    expected = df.PULocationID.astype(str) + "_" + df.DOLocationID.astype(str)
    assert from_ints.tolist() == expected.tolist() == from_strings.tolist()


def test_prepare_trips_missing_feature_column():
    with pytest.raises(MissingColumnsError, match="fare_amount"):
        prepare_trips(trips(10), numerical=["fare_amount"])
