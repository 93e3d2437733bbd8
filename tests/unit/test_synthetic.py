"""Synthetic months: exact schema, determinism, caching and the structure the course needs."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from mlops_kit.errors import BadParameterError
from mlops_kit.fileio import file_sha256
from mlops_kit.tlc import Dataset, read_trips
from mlops_kit.tlc.schemas import UnknownSchemaError, arrow_schema, trip_columns
from mlops_kit.tlc.synthetic import (
    DEFAULT_ROWS,
    is_synthetic_file,
    synthetic_path,
    synthetic_table,
    synthetic_trips,
)


@pytest.fixture
def cache(monkeypatch, tmp_path):
    monkeypatch.setenv("MLOPS_KIT_CACHE_DIR", str(tmp_path))
    return tmp_path


@pytest.fixture(scope="module")
def green():
    """Two synthetic green months of 20k rows, read as the course reads them."""
    jan = synthetic_table(Dataset("green", 2021, 1), 20_000, 42).to_pandas()
    feb = synthetic_table(Dataset("green", 2021, 2), 20_000, 42).to_pandas()
    return jan, feb


def _minutes(df, ds):
    return (df[ds.dropoff_column] - df[ds.pickup_column]).dt.total_seconds() / 60


# ------------------------------------------------------------------ schema


@pytest.mark.parametrize(
    "service, month",
    [
        ("green", "2021-01"),
        ("green", "2023-03"),
        ("green", "2019-05"),
        ("yellow", "2022-01"),
        ("yellow", "2023-01"),
        ("yellow", "2023-02"),
        ("yellow", "2025-03"),
        ("fhv", "2021-01"),
        ("fhv", "2023-06"),
        ("fhvhv", "2022-01"),
        ("fhvhv", "2023-03"),
        ("green", "2026-07"),
    ],
)
def test_schema_is_exactly_tlcs(cache, service, month):
    path = synthetic_trips(service, month, rows=200, seed=1)
    year, mon = map(int, month.split("-"))
    assert pq.read_schema(path).equals(arrow_schema(service, year, mon))
    assert pq.ParquetFile(path).metadata.num_rows == 200


def test_schema_facts():
    assert len(trip_columns("yellow", 2023, 1)) == 19
    assert trip_columns("yellow", 2023, 1)[-1] == ("airport_fee", "double")
    assert trip_columns("yellow", 2023, 2)[-1] == ("Airport_fee", "double")
    assert [n for n, _ in trip_columns("fhv", 2021, 1)] == [
        "dispatching_base_num",
        "pickup_datetime",
        "dropOff_datetime",
        "PUlocationID",
        "DOlocationID",
        "SR_Flag",
        "Affiliated_base_number",
    ]
    assert len(trip_columns("fhvhv", 2022, 1)) == 24
    assert dict(trip_columns("green", 2021, 1))["ehail_fee"] == "null"
    with pytest.raises(UnknownSchemaError):
        trip_columns("yellow", 2015, 1)


@pytest.mark.realdata
@pytest.mark.parametrize(
    "name",
    [
        "green_tripdata_2021-01.parquet",
        "green_tripdata_2021-02.parquet",
        "green_tripdata_2023-01.parquet",
        "green_tripdata_2023-03.parquet",
    ],
)
def test_schema_matches_real_file(cache, real_file, name):
    real = pq.read_schema(real_file(name))
    month = name.split("_")[-1].removesuffix(".parquet")
    synthetic = pq.read_schema(synthetic_trips("green", month, rows=100, seed=0))
    assert synthetic.equals(real)  # names, order and Arrow types; metadata ignored


# ------------------------------------------------------------------ determinism, cache, args


def test_same_seed_same_file_other_seed_other_values(cache, tmp_path):
    a = synthetic_trips("green", "2021-01", 3000, 7, path=tmp_path / "a.parquet")
    b = synthetic_trips("green", "2021-01", 3000, 7, path=tmp_path / "b.parquet")
    c = synthetic_trips("green", "2021-01", 3000, 8, path=tmp_path / "c.parquet")
    assert file_sha256(a) == file_sha256(b)
    assert pd.read_parquet(a).equals(pd.read_parquet(b))
    assert not pd.read_parquet(a).equals(pd.read_parquet(c))


def test_months_differ_for_the_same_seed(cache):
    jan = pd.read_parquet(synthetic_trips("green", "2021-01", 1000, 1))
    feb = pd.read_parquet(synthetic_trips("green", "2021-02", 1000, 1))
    assert not jan.PULocationID.equals(feb.PULocationID)


def test_cached_by_arguments(cache):
    path = synthetic_trips("green", (2021, 1), 500, 3)
    assert path == synthetic_path("green", "2021-01", 500, 3)
    assert path.is_relative_to(cache / "synthetic") and is_synthetic_file(path)
    stamp = path.stat().st_mtime_ns
    assert synthetic_trips("green", Dataset("green", 2021, 1), 500, 3) == path
    assert path.stat().st_mtime_ns == stamp  # reused, not rewritten
    assert synthetic_trips("green", "2021-01", 501, 3) != path
    assert not [p for p in path.parent.iterdir() if p.name.endswith(".part")]
    assert path.stat().st_mode & 0o044  # readable by others, unlike a bare mkstemp file


def test_damaged_cache_file_is_rebuilt(cache):
    path = synthetic_trips("green", "2021-01", 500, 3)
    path.write_bytes(b"garbage")
    assert synthetic_trips("green", "2021-01", 500, 3) == path
    assert pq.ParquetFile(path).metadata.num_rows == 500


def test_default_rows(cache):
    assert DEFAULT_ROWS["green"] == 70_000 and DEFAULT_ROWS["yellow"] >= 2_000_000
    assert synthetic_path("green", "2021-01").name.endswith("rows70000_seed42.parquet")


@pytest.mark.parametrize(
    "kwargs", [dict(service="green", month="yellow:2021-01"), dict(service="green", rows=0)]
)
def test_bad_arguments(cache, kwargs):
    args = dict(service="green", month="2021-01", rows=10, seed=1) | kwargs
    with pytest.raises(BadParameterError):
        synthetic_trips(**args)


def test_unknown_month_schema(cache):
    with pytest.raises(UnknownSchemaError) as exc:
        synthetic_trips("yellow", "2010-01", 10)
    assert "2019-01" in str(exc.value)


# ------------------------------------------------------------------ structure


def test_zone_popularity_is_skewed(green):
    jan, _ = green
    pu = jan.PULocationID
    assert pu.between(1, 265).all() and jan.DOLocationID.between(1, 265).all()
    shares = pu.value_counts(normalize=True)
    assert 0.3 < shares.head(10).sum() < 0.65  # real green 2021-01: 0.41
    assert shares.index[0] in (74, 75)  # East/Central Harlem, as in the real data
    assert pu.nunique() > 150


def test_durations(green):
    jan, _ = green
    ds = Dataset("green", 2021, 1)
    minutes = _minutes(jan, ds)
    assert 0.90 < minutes.between(1, 60).mean() < 0.985  # real: 0.966
    assert 8 < minutes.median() < 20  # real: 13.9
    assert (minutes > 60).mean() > 0.005 and minutes.max() > 600  # a long tail
    assert (minutes == 0).sum() >= 5 and (minutes < 0).sum() >= 1


def test_pickups_outside_the_month(green):
    jan, _ = green
    pickup = jan.lpep_pickup_datetime
    outside = (pickup < "2021-01-01") | (pickup >= "2021-02-01")
    assert 1 <= outside.sum() <= 0.005 * len(jan)
    assert (pickup < "2021-01-01").any() and (pickup >= "2021-02-01").any()


def test_distance_correlates_with_duration(green):
    jan, _ = green
    minutes = _minutes(jan, Dataset("green", 2021, 1))
    ok = minutes.between(1, 60) & (jan.trip_distance < 100)
    assert np.corrcoef(jan.trip_distance[ok], minutes[ok])[0, 1] > 0.5  # real (< 50 mi): 0.77
    assert 1.5 < jan.trip_distance.median() < 4.5  # real: 2.59


def test_a_few_odometer_glitches(green):
    jan, _ = green
    far = (jan.trip_distance > 100).sum()
    assert 1 <= far <= 0.002 * len(jan)  # real green 2021-01: 63 of 76,518
    assert jan.trip_distance.max() > 1000


def test_green_2021_nulls(green):
    jan, _ = green
    block = [
        "passenger_count",
        "RatecodeID",
        "payment_type",
        "trip_type",
        "store_and_fwd_flag",
        "congestion_surcharge",
    ]
    shares = jan[block].isna().mean()
    assert ((shares > 0.43) & (shares < 0.51)).all()  # real: 0.471
    assert (jan[block].isna().sum(axis=1).isin([0, len(block)])).all()  # the same rows
    assert jan.ehail_fee.isna().all()
    assert jan[["VendorID", "PULocationID", "trip_distance", "fare_amount"]].notna().all().all()


def test_green_2023_has_fewer_nulls(cache):
    df = read_trips("green:2023-03", source="synthetic", rows=5000)
    assert 0.03 < df.passenger_count.isna().mean() < 0.10  # real: 0.063
    assert df.ehail_fee.isna().all()


def test_fhv_location_ids_mostly_missing(cache):
    df = read_trips("fhv:2021-01", source="synthetic", rows=20_000)
    assert 0.80 < df.PUlocationID.isna().mean() < 0.87  # course homework: about 83%
    assert df.DOlocationID.isna().mean() < 0.25
    assert df.SR_Flag.isna().all()
    assert df.dispatching_base_num.str.match(r"^B\d{5}$").all()


def test_fhvhv_times_are_ordered(cache):
    df = read_trips("fhvhv:2022-01", source="synthetic", rows=5000)
    assert (df.request_datetime <= df.pickup_datetime).all()
    uber = df.hvfhs_license_num == "HV0003"
    assert (df.on_scene_datetime[uber] <= df.pickup_datetime[uber]).all()
    assert df.on_scene_datetime[~uber].isna().all()


def _prep(df):
    df = df.copy()
    df["duration"] = _minutes(df, Dataset("green", 2021, 1))
    df = df[df.duration.between(1, 60)].copy()
    df["PU_DO"] = df.PULocationID * 1000 + df.DOLocationID
    return df


def _rmse_separate(train, val):
    """Least squares on one-hot PU + one-hot DO + trip_distance (the course's first model)."""

    def design(df):
        pu = (df.PULocationID.to_numpy()[:, None] == np.arange(1, 266)).astype(float)
        do = (df.DOLocationID.to_numpy()[:, None] == np.arange(1, 266)).astype(float)
        return np.hstack([pu, do, df[["trip_distance"]].to_numpy(), np.ones((len(df), 1))])

    x = design(train)
    coef = np.linalg.lstsq(x.T @ x, x.T @ train.duration.to_numpy(), rcond=None)[0]
    return float(np.sqrt(np.mean((val.duration.to_numpy() - design(val) @ coef) ** 2)))


def _rmse_pair(train, val):
    """Exact least squares on one-hot PU_DO + trip_distance (one intercept per pair)."""
    g = train.groupby("PU_DO")
    x = train.trip_distance - g.trip_distance.transform("mean")
    y = train.duration - g.duration.transform("mean")
    slope = float((x * y).sum() / (x * x).sum())
    intercept = g.duration.mean() - slope * g.trip_distance.mean()
    fallback = train.duration.mean() - slope * train.trip_distance.mean()  # unseen pairs
    base = val.PU_DO.map(intercept).fillna(fallback)
    pred = base + slope * val.trip_distance
    return float(np.sqrt(np.mean((val.duration - pred) ** 2)))


def test_pu_do_pair_beats_separate_zones_in_a_realistic_range(green):
    jan, feb = map(_prep, green)
    separate = _rmse_separate(jan, feb)
    pair = _rmse_pair(jan, feb)
    assert pair < separate - 0.3
    assert 5 < pair < 11 and 5 < separate < 12


def test_yellow_is_fast_enough_to_be_vectorised(cache):
    # correctness of a mid-size yellow month; no timing asserted (shared machines vary)
    df = read_trips("yellow:2023-01", source="synthetic", rows=50_000, seed=1)
    assert len(df) == 50_000 and df.airport_fee.notna().mean() > 0.9
    assert set(df.VendorID.unique()) <= {1, 2}
