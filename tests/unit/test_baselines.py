"""Rule-of-thumb baselines: mean per pickup zone and distance at an average pace."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mlops_kit.errors import BadParameterError, MissingColumnsError
from mlops_kit.model.baselines import (
    baseline_predictions,
    fit_speed,
    fit_zone_mean,
    predict_speed,
    predict_zone_mean,
    target_column,
)


@pytest.fixture
def train():
    return pd.DataFrame(
        {
            "PULocationID": ["1", "1", "2", "3"],
            "trip_distance": [1.0, 2.0, 3.0, 0.0],
            "duration": [10.0, 20.0, 30.0, 4.0],
        }
    )


def test_zone_mean_learns_each_zone_and_falls_back(train):
    zone = fit_zone_mean(train)
    assert zone.means == {"1": 15.0, "2": 30.0, "3": 4.0}
    assert zone.fallback_min == pytest.approx(16.0)
    val = pd.DataFrame({"PULocationID": ["2", "99", "1"]})
    np.testing.assert_allclose(predict_zone_mean(zone, val), [30.0, 16.0, 15.0])


def test_zone_mean_by_drop_off(train):
    frame = train.assign(DOLocationID=["7", "8", "8", "8"])
    zone = fit_zone_mean(frame, zone_column="DOLocationID")
    assert zone.means == {"7": 10.0, "8": 18.0}


def test_speed_is_the_median_pace_of_moving_rides(train):
    speed = fit_speed(train)
    assert speed.minutes_per_mile == pytest.approx(10.0)
    assert speed.rides_used == 3
    assert (speed.low_min, speed.high_min) == (4.0, 30.0)
    val = pd.DataFrame({"trip_distance": [0.5, 2.5, np.nan, -1.0, 80000.0]})
    # clipped to the training range 4-30 minutes: a "ride" of 80,000 miles is not weeks long
    np.testing.assert_allclose(predict_speed(speed, val), [5.0, 25.0, 4.0, 4.0, 30.0])


def test_target_column_is_found_or_named(train):
    assert target_column(train) == "duration"
    renamed = train.rename(columns={"duration": "duration_min"})
    assert target_column(renamed) == "duration_min"
    assert fit_speed(renamed).target == "duration_min"
    with pytest.raises(MissingColumnsError, match="duration"):
        target_column(train.drop(columns="duration"))
    with pytest.raises(MissingColumnsError, match="minutes"):
        fit_zone_mean(train, target="minutes")


def test_missing_columns_and_empty_data(train):
    with pytest.raises(MissingColumnsError, match="PULocationID"):
        fit_zone_mean(train.drop(columns="PULocationID"))
    with pytest.raises(MissingColumnsError, match="trip_distance"):
        predict_speed(fit_speed(train), pd.DataFrame({"x": [1]}))
    with pytest.raises(BadParameterError):
        fit_zone_mean(train.iloc[0:0])
    with pytest.raises(BadParameterError, match="positive trip_distance"):
        fit_speed(train.assign(trip_distance=0.0))


def test_baseline_predictions_align_with_validation(train):
    val = pd.DataFrame({"PULocationID": ["1", "5"], "trip_distance": [2.0, 1.0]})
    preds = baseline_predictions(train, val)
    assert set(preds) == {"mean", "zone_mean", "speed"}
    np.testing.assert_allclose(preds["mean"], [16.0, 16.0])
    np.testing.assert_allclose(preds["zone_mean"], [15.0, 16.0])
    np.testing.assert_allclose(preds["speed"], [20.0, 10.0])
    assert preds["speed"].dtype == np.float64


def test_zone_baseline_beats_the_mean_when_zones_matter():
    rng = np.random.default_rng(0)
    zones = rng.choice(["a", "b", "c"], size=600)
    effect = pd.Series(zones).map({"a": 5.0, "b": 15.0, "c": 30.0}).to_numpy()
    frame = pd.DataFrame(
        {
            "PULocationID": zones,
            "trip_distance": rng.uniform(0.5, 5, size=600),
            "duration": effect + rng.normal(0, 1, size=600),
        }
    )
    train, val = frame.iloc[:400], frame.iloc[400:]
    preds = baseline_predictions(train, val)
    err = {
        k: float(np.sqrt(np.mean((v - val["duration"].to_numpy()) ** 2))) for k, v in preds.items()
    }
    assert err["zone_mean"] < 1.5 < err["mean"]


def test_categorical_zones_with_different_categories(train):
    cat_train = train.assign(PULocationID=train["PULocationID"].astype("category"))
    val = pd.DataFrame({"PULocationID": pd.Categorical(["2", "9", "1", "2"])})
    zone = fit_zone_mean(cat_train)
    assert zone.means == {"1": 15.0, "2": 30.0, "3": 4.0}
    np.testing.assert_allclose(predict_zone_mean(zone, val), [30.0, 16.0, 15.0, 30.0])


def test_pace_ignores_absurd_distances(train):
    odd = pd.concat(
        [
            train,
            pd.DataFrame({"PULocationID": ["1"], "trip_distance": [244152.0], "duration": [9.0]}),
        ],
        ignore_index=True,
    )
    # a ratio of sums would fall to 0.0003 minutes per mile; the median pace stays 10
    assert fit_speed(odd).minutes_per_mile == pytest.approx(10.0)


@pytest.mark.realdata
def test_rules_of_thumb_on_the_course_months(real_file):
    from mlops_kit.model.features import prepare_trips
    from mlops_kit.model.training import rmse
    from mlops_kit.tlc import read_trips

    train = prepare_trips(read_trips(real_file("green_tripdata_2021-01.parquet")))
    val = prepare_trips(read_trips(real_file("green_tripdata_2021-02.parquet")))
    assert fit_speed(train).minutes_per_mile == pytest.approx(4.949, abs=1e-3)
    preds = baseline_predictions(train, val)
    err = {k: rmse(val["duration"], v) for k, v in preds.items()}
    assert err["mean"] == pytest.approx(12.2131, abs=1e-3)
    assert err["zone_mean"] == pytest.approx(11.2092, abs=1e-3)
    assert err["speed"] == pytest.approx(10.5508, abs=1e-3)
