"""Rule-of-thumb baselines: do we need machine learning at all?

Before building a model, the first lesson asks what a simple rule would give. A
dispatcher could guess a ride's duration without any ML:

* **mean per pickup zone**: "rides from this zone usually take about N minutes";
* **distance at a typical pace**: "a mile takes about M minutes in this city".

Both are learned from the training month only, then scored on the validation month
next to the linear model. If the model does not beat them clearly, it is not worth the
cost of operating it. All functions are pure: data in, small frozen results out.

Example:
    >>> zone = fit_zone_mean(train)              # doctest: +SKIP
    >>> predict_zone_mean(zone, val)[:3]         # doctest: +SKIP
    array([17.2, 12.9, 14.1])
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

#: the target column names the kit's features module may produce, in order of preference
TARGET_CANDIDATES = ("duration", "duration_min")


def _require(df, columns: list[str]) -> None:
    missing = [c for c in columns if c not in df.columns]
    if missing:
        from ..errors import MissingColumnsError

        raise MissingColumnsError(
            f"The trips lack the column(s) {', '.join(missing)} a baseline needs "
            f"(found: {', '.join(map(str, df.columns))}).",
            "Pass trips prepared with mlops_kit.model.features.prepare_trips, which adds the "
            "duration in minutes, or name the columns with target=/zone_column=.",
        )


def target_column(df, target: str | None = None) -> str:
    """Return the name of the duration column to learn: ``target`` or the one present.

    Raises:
        MissingColumnsError: when neither ``target`` nor a known duration column exists.
    """
    if target is not None:
        _require(df, [target])
        return target
    for name in TARGET_CANDIDATES:
        if name in df.columns:
            return name
    _require(df, [TARGET_CANDIDATES[0]])
    raise AssertionError("unreachable")  # pragma: no cover


@dataclass(frozen=True)
class ZoneMeanBaseline:
    """The mean duration of the training rides from each pickup zone.

    Attributes:
        zone_column: the column holding the zone (``PULocationID``).
        means: zone -> mean duration in minutes, as learned.
        fallback_min: the overall training mean, used for zones never seen in training.
        target: the duration column that was learned.
    """

    zone_column: str
    means: dict[Any, float]
    fallback_min: float
    target: str


def fit_zone_mean(
    train, *, zone_column: str = "PULocationID", target: str | None = None
) -> ZoneMeanBaseline:
    """Learn the mean duration per pickup zone from the training trips.

    Args:
        train: prepared trips (a DataFrame with the zone and duration columns).
        zone_column: the zone to group by; ``DOLocationID`` gives the drop-off version.
        target: the duration column; default ``duration`` (or ``duration_min``).

    Raises:
        MissingColumnsError: when a needed column is absent.
        BadParameterError: when there are no training rows.
    """
    target = target_column(train, target)
    _require(train, [zone_column])
    if len(train) == 0:
        from ..errors import BadParameterError

        raise BadParameterError(
            "Cannot fit a baseline on zero training rides.",
            "Check the training month and the outlier filter (1-60 minutes keeps most rides).",
        )
    means = train.groupby(zone_column, sort=True, observed=True)[target].mean()
    return ZoneMeanBaseline(
        zone_column=zone_column,
        means={key: float(value) for key, value in means.items()},
        fallback_min=float(train[target].mean()),
        target=target,
    )


def predict_zone_mean(baseline: ZoneMeanBaseline, df):
    """Predict each ride's duration as the training mean of its pickup zone.

    Zones that never appeared in training get the overall training mean.

    Returns:
        A float numpy array, one prediction per row of ``df``.
    """
    _require(df, [baseline.zone_column])
    mapped = df[baseline.zone_column].map(baseline.means)
    return mapped.astype("float64").fillna(baseline.fallback_min).to_numpy()


@dataclass(frozen=True)
class SpeedBaseline:
    """Distance times an average pace: ``duration = trip_distance * minutes_per_mile``.

    Predictions are clipped to the range of training durations: real months hold a few
    rides with absurd distances (tens of thousands of miles) that would otherwise
    "take" weeks, and a dispatcher would not quote more than the longest ride either.

    Attributes:
        minutes_per_mile: the median pace of the training rides that moved.
        distance_column: the distance column (miles).
        target: the duration column that was learned.
        rides_used: training rides with a positive distance (the others carry no pace).
        low_min: the shortest training duration (lower clip).
        high_min: the longest training duration (upper clip).
    """

    minutes_per_mile: float
    distance_column: str
    target: str
    rides_used: int
    low_min: float
    high_min: float


def fit_speed(
    train, *, distance_column: str = "trip_distance", target: str | None = None
) -> SpeedBaseline:
    """Learn the city's typical pace (minutes per mile) from the training trips.

    The pace is the *median* of the per-ride paces of rides with a positive distance.
    A ratio of sums (total minutes / total miles) looks natural but real months hold
    rides with absurd distances (tens of thousands of miles), and one of them alone drags
    that ratio far below any real pace. The median ignores such rows (and the
    hundredth-of-a-mile ones at the other end).

    Raises:
        MissingColumnsError: when a needed column is absent.
        BadParameterError: when no training ride has a positive distance.
    """
    target = target_column(train, target)
    _require(train, [distance_column])
    distance = train[distance_column].astype("float64")
    moving = distance > 0
    if not moving.any():
        from ..errors import BadParameterError

        raise BadParameterError(
            "No training ride has a positive trip_distance, so there is no pace to learn.",
            "Check the training month: trip_distance should be in miles and mostly above 0.",
        )
    duration = train[target].astype("float64")
    pace = float((duration[moving] / distance[moving]).median())
    return SpeedBaseline(
        minutes_per_mile=pace,
        distance_column=distance_column,
        target=target,
        rides_used=int(moving.sum()),
        low_min=float(duration.min()),
        high_min=float(duration.max()),
    )


def predict_speed(baseline: SpeedBaseline, df):
    """Predict each ride's duration as its distance times the learned minutes per mile.

    Missing or negative distances count as 0 miles; every prediction is clipped to the
    range of training durations.

    Returns:
        A float numpy array, one prediction per row of ``df``.
    """
    _require(df, [baseline.distance_column])
    distance = df[baseline.distance_column].astype("float64").fillna(0.0).clip(lower=0.0)
    raw = distance * baseline.minutes_per_mile
    return raw.clip(lower=baseline.low_min, upper=baseline.high_min).to_numpy()


def baseline_predictions(train, val, *, target: str | None = None) -> dict[str, Any]:
    """Fit every rule-of-thumb baseline on ``train`` and predict ``val``.

    Returns:
        A dict ``{"mean": ..., "zone_mean": ..., "speed": ...}`` of numpy arrays aligned
        with ``val``'s rows: the training mean for every ride, the mean per pickup zone,
        and distance times the average pace.
    """
    import numpy as np

    target = target_column(train, target)
    zone = fit_zone_mean(train, target=target)
    speed = fit_speed(train, target=target)
    return {
        "mean": np.full(len(val), float(train[target].mean())),
        "zone_mean": predict_zone_mean(zone, val),
        "speed": predict_speed(speed, val),
    }
