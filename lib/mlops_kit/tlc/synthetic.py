"""Seeded synthetic TLC months with the real schema: the kit's offline stand-in.

Without the network (a train, a locked-down CI, a classroom with bad wifi) the notebooks
still need a month of trips that *behaves* like TLC's. :func:`synthetic_trips` writes a
parquet file with exactly the Arrow schema TLC uses for that service and month
(:mod:`mlops_kit.tlc.schemas`) and with the structure the course's analysis relies on:

* zone popularity is skewed over the 265 taxi zones (the real busiest zones on top);
* a trip's duration depends on its pickup/dropoff *pair* (distance between the zones, a
  pair-specific speed and overhead), so a ``PU_DO`` feature beats ``PU`` + ``DO``, and
  ``trip_distance`` is strongly correlated with duration;
* durations are mostly 1-60 minutes, with a long tail (some day-long meter errors), a few
  zero and negative durations, and some pickups outside the month;
* a few odometer glitches (100 to 250,000 "miles"), as real green months have: like
  there, these few rows dominate a least-squares fit on ``trip_distance``, which is why
  the course's linear models lean on the zones;
* nulls sit where TLC has them: green's dispatched trips leave ``passenger_count``,
  ``RatecodeID``, ``payment_type``, ``trip_type``, ``store_and_fwd_flag`` and
  ``congestion_surcharge`` empty (a share of rows that falls from 2021 to 2023),
  ``ehail_fee`` is always empty, and most FHV records of 2021 lack a pickup zone.

The "world" (zone popularity, pair distances and speeds) depends only on the service,
so January and February share it and a model trained on one month transfers to the
next, as with real data. The trips depend on (service, month, rows, seed): the same four
give the same file, and it is cached under ``<cache_dir>/synthetic/``.

The shares the generator uses (the constants below) were read off the real green 2021-01
and 2023-03 files and the course's fhv 2021-01 month; they are approximations.
"""

from __future__ import annotations

import functools
import json
import os
from pathlib import Path
from typing import Any

from .. import config
from ..errors import BadParameterError
from .datasets import Dataset, parse_dataset
from .schemas import arrow_type, trip_columns

#: bump when the generator changes: cached files of older versions are not reused
GENERATOR_VERSION = 3

#: rows generated when ``rows`` is None: about a real month (fhvhv kept far smaller)
DEFAULT_ROWS = {"green": 70_000, "yellow": 3_000_000, "fhv": 1_100_000, "fhvhv": 500_000}

#: parquet key-value metadata key marking a synthetic file
METADATA_KEY = b"mlops_kit.tlc.synthetic"

_WORLD_SEED = 20_210_101
_SERVICE_INDEX = {"yellow": 0, "green": 1, "fhv": 2, "fhvhv": 3}
N_ZONES = 265

#: busiest pickup zones of the real data, most popular first (the rest are shuffled)
_TOP_ZONES = {
    "green": (74, 75, 41, 42, 244, 95, 97, 166, 65, 43, 61, 7, 130, 116, 82),
    "yellow": (237, 236, 161, 132, 186, 162, 142, 230, 170, 163, 48, 68, 234, 79, 138),
    "fhv": (61, 76, 39, 37, 89, 17, 35, 72, 188, 225, 42, 14, 71, 174, 26),
    "fhvhv": (132, 138, 61, 79, 37, 76, 230, 161, 48, 231, 186, 68, 234, 170, 42),
}
_AIRPORTS = (1, 132, 138)

#: per service: Zipf exponent of zone popularity, distance scale (yellow trips are short,
#: mostly inside Manhattan), base speed (mph), shares of long, day-long and <1 min trips
_PROFILE = {
    "green": dict(zipf=0.95, scale=1.0, speed=19.0, long=0.008, day=0.002, short=0.016, far=2e-4),
    "yellow": dict(zipf=0.75, scale=0.65, speed=15.0, long=0.004, day=0.001, short=0.012, far=5e-5),
    "fhv": dict(zipf=0.8, scale=1.0, speed=18.0, long=0.015, day=0.004, short=0.006, far=0),
    "fhvhv": dict(zipf=0.75, scale=1.0, speed=20.0, long=0.008, day=0.0005, short=0.003, far=0),
}


def _as_dataset(service: str, month: Any) -> Dataset:
    """Turn ``month`` (Dataset, ``"2021-01"``, ``"green:2021-01"``, ``(2021, 1)``) into one."""
    if isinstance(month, Dataset):
        ds = month
    elif isinstance(month, tuple | list) and len(month) == 2:
        ds = Dataset(service, int(month[0]), int(month[1]))
    elif ":" in str(month):
        ds = parse_dataset(str(month))
    else:
        ds = parse_dataset(f"{service}:{month}")
    if ds.service != service:
        raise BadParameterError(
            f"synthetic_trips(service={service!r}) was given the month of {ds.id}.",
            "Pass the month alone (e.g. '2021-01') or a dataset of the same service.",
        )
    return ds


def _rows(service: str, rows: int | None) -> int:
    if rows is None:
        return DEFAULT_ROWS[service]
    if int(rows) < 1:
        raise BadParameterError(f"rows={rows} must be at least 1.", "Ask for 1 row or more.")
    return int(rows)


def synthetic_path(service: str, month: Any, rows: int | None = None, seed: int = 42) -> Path:
    """Return where the synthetic file for these arguments is (or would be) cached."""
    ds = _as_dataset(service, month)
    n = _rows(service, rows)
    name = f"{ds.service}_tripdata_{ds.month_id}_synthetic_rows{n}_seed{int(seed)}.parquet"
    return config.cache_dir() / "synthetic" / f"v{GENERATOR_VERSION}" / name


def is_synthetic_file(file: str | os.PathLike | Any) -> bool:
    """Return True when a parquet file was written by :func:`synthetic_trips`.

    ``file`` is the file's path, or its Arrow schema when the footer is already open (the
    marker is a key of the schema's metadata, so the file is not read again).
    """
    import pyarrow as pa

    if isinstance(file, pa.Schema):
        schema = file
    else:
        import pyarrow.parquet as pq

        schema = pq.read_schema(file)
    return METADATA_KEY in (schema.metadata or {})


def synthetic_trips(
    service: str,
    month: Any,
    rows: int | None = None,
    seed: int = 42,
    *,
    path: str | os.PathLike | None = None,
) -> Path:
    """Write (or reuse) a synthetic TLC month and return its path.

    Args:
        service: ``yellow``, ``green``, ``fhv`` or ``fhvhv``.
        month: the month: a :class:`~mlops_kit.tlc.datasets.Dataset`, ``"2021-01"`` or
            ``(2021, 1)``.
        rows: number of trips (default :data:`DEFAULT_ROWS` for the service).
        seed: the random seed; the same arguments always give the same values.
        path: write here instead of the cache (always regenerated).

    Returns:
        The parquet file; its Arrow schema equals TLC's for that service and month.

    Raises:
        BadParameterError: rows < 1 or a month of another service.
        UnknownSchemaError: a month whose schema the kit does not know (before 2019).
    """
    ds = _as_dataset(service, month)
    n = _rows(service, rows)
    target = Path(path) if path is not None else synthetic_path(service, ds, n, seed)
    if path is None and target.is_file():
        try:
            if is_synthetic_file(target):
                return target
        except Exception:  # noqa: BLE001 - a damaged cache file is simply rebuilt
            pass
    table = synthetic_table(ds, n, int(seed))
    _write_atomic(table, target)
    return target


def _write_atomic(table, target: Path) -> None:
    import pyarrow.parquet as pq

    from ..fileio import atomic_path

    with atomic_path(target, suffix=".part") as tmp:
        pq.write_table(table, tmp, compression="snappy")


# --------------------------------------------------------------------------- the world


@functools.lru_cache(maxsize=8)
def _world(service: str):
    """Zone popularity and per-pair distance/speed/overhead, fixed per service."""
    import numpy as np

    rng = np.random.default_rng([_WORLD_SEED, _SERVICE_INDEX[service]])
    profile = _PROFILE[service]
    zones = np.arange(1, N_ZONES + 1)
    # popularity: the real busiest zones first, the others in a seeded random order
    top = list(_TOP_ZONES[service])
    rest = [z for z in rng.permutation(zones) if z not in set(top)]
    order = np.array(top + rest)
    rank = np.empty(N_ZONES + 1)
    rank[order] = np.arange(1, N_ZONES + 1)
    pop = np.zeros(N_ZONES + 1)
    pop[1:] = 1.0 / rank[1:] ** profile["zipf"]
    pop[1:] *= rng.lognormal(0, 0.3, N_ZONES)  # break the perfect power law
    pop /= pop.sum()
    # zone centroids in a 16 x 16 mile box, popular zones nearer the middle
    xy = rng.uniform(0, 16, size=(N_ZONES + 1, 2))
    central = np.clip(rank / 40, 0.2, 1.0)[:, None]
    xy = 8 + (xy - 8) * central
    crow = np.sqrt(((xy[:, None, :] - xy[None, :, :]) ** 2).sum(-1))
    pair_dist = profile["scale"] * (1.25 * crow + rng.uniform(0.2, 0.9, size=crow.shape))
    pair_dist[np.arange(N_ZONES + 1), np.arange(N_ZONES + 1)] = rng.uniform(0.4, 1.5, N_ZONES + 1)
    zone_speed = rng.lognormal(np.log(profile["speed"]), 0.2, N_ZONES + 1)
    pair_speed = np.sqrt(zone_speed[:, None] * zone_speed[None, :])
    pair_speed *= rng.lognormal(0, 0.4, size=pair_speed.shape)  # pair-specific congestion
    pair_overhead = np.clip(rng.normal(2.5, 3.0, size=pair_speed.shape), 0.3, None)
    # dropoff given pickup: mostly nearby zones, some anywhere (by popularity)
    do_pop = pop**0.7
    local = do_pop[None, :] * np.exp(-crow / 1.5)
    local[:, 0] = 0
    local /= local.sum(1, keepdims=True)
    anywhere = do_pop / do_pop.sum()
    cond = 0.88 * local + 0.12 * anywhere[None, :]
    cond[:, 0] = 0
    cond /= cond.sum(1, keepdims=True)
    # one flat, increasing CDF: row p spans (p, p + 1], so searchsorted(p + u) samples row p
    flat_cdf = (np.cumsum(cond, axis=1) + np.arange(N_ZONES + 1)[:, None]).ravel()
    return {
        "pop": pop,
        "pair_dist": pair_dist,
        "pair_speed": pair_speed,
        "pair_overhead": pair_overhead,
        "flat_cdf": flat_cdf,
    }


# --------------------------------------------------------------------------- trips


def _count(rows: int, share: float) -> int:
    minimum = 1 if rows >= 1000 and share > 0 else 0
    return max(minimum, int(round(rows * share)))


def _core(ds: Dataset, rows: int, rng) -> dict[str, Any]:
    """Pickup/dropoff times, zones and distance: what every service shares."""
    import numpy as np

    world = _world(ds.service)
    profile = _PROFILE[ds.service]
    pu = rng.choice(N_ZONES + 1, size=rows, p=world["pop"])
    u = rng.random(rows)
    idx = np.searchsorted(world["flat_cdf"], pu + u * (1 - 1e-12), side="left")
    do = idx - pu * (N_ZONES + 1)
    do = np.clip(do, 1, N_ZONES)

    # pickup time: a day of the month and an hour with the real daily rhythm
    hour_w = np.array(
        [7, 4, 3, 3, 5, 11, 22, 45, 65, 79, 81, 76, 76, 79, 75, 74, 71, 59, 50, 41, 28, 19, 15, 11],
        dtype=float,
    )
    days = (ds.month_end - ds.month_start).days
    day = rng.integers(0, days, rows)
    hour = rng.choice(24, size=rows, p=hour_w / hour_w.sum())
    seconds = day * 86_400 + hour * 3_600 + rng.integers(0, 3_600, rows)

    # distance and duration from the pair, with rush-hour slowdowns and noise
    pair = pu * (N_ZONES + 1) + do  # flat index into the (zone, zone) tables
    distance = world["pair_dist"].ravel().take(pair) * rng.lognormal(0, 0.2, rows)
    rush = np.where(np.isin(np.arange(24), (7, 8, 9, 16, 17, 18)), 1.25, 1.0).take(hour)
    moving = distance / world["pair_speed"].ravel().take(pair) * 60 * rush
    minutes = world["pair_overhead"].ravel().take(pair) + moving * rng.lognormal(0, 0.25, rows)
    minutes += rng.gamma(1.2, 1.5, rows) - 0.9  # waits at lights, pick-up delays
    minutes = np.clip(minutes, 1.05, None)

    # the odd rows: long, day-long, very short, zero and negative durations
    n_long, n_day = _count(rows, profile["long"]), _count(rows, profile["day"])
    n_short, n_zero, n_neg = (
        _count(rows, profile["short"]),
        _count(rows, 0.001),
        _count(rows, 0.0001),
    )
    n_out, n_far = _count(rows, 0.0002), _count(rows, profile["far"])
    picks = rng.permutation(rows)
    cuts = np.cumsum([n_long, n_day, n_short, n_zero, n_neg, n_out, n_far])
    parts = np.split(picks[: cuts[-1]], cuts[:-1])
    long_i, day_i, short_i, zero_i, neg_i, out_i, far_i = parts
    minutes[long_i] = rng.uniform(60.5, 180, len(long_i))
    minutes[day_i] = rng.uniform(600, 1439, len(day_i))
    minutes[short_i] = rng.uniform(0.02, 0.98, len(short_i))
    distance[short_i] = rng.choice([0.0, 0.01, 0.05, 0.1], len(short_i))
    minutes[zero_i] = 0.0
    distance[zero_i] = 0.0
    minutes[neg_i] = -rng.uniform(0.1, 30, len(neg_i))
    # odometer glitches: 100 to 250,000 "miles" on an ordinary ride (real green 2021-01: 0.08%)
    distance[far_i] = 10 ** rng.uniform(2, 5.4, len(far_i))
    # pickups outside the month: a day late, or a stale clock years early
    after = out_i[: (len(out_i) + 1) // 2]
    before = out_i[(len(out_i) + 1) // 2 :]
    seconds[after] = days * 86_400 + rng.integers(0, 86_400, len(after))
    start = np.datetime64(ds.month_start, "s")
    stale = np.datetime64("2009-01-01T00:00:00", "s")
    seconds[before] = (stale - start).astype(np.int64) + rng.integers(0, 86_400, len(before))

    pickup = start + seconds.astype("timedelta64[s]")
    dropoff = pickup + np.round(minutes * 60).astype("timedelta64[s]")
    return {
        "pu": pu,
        "do": do,
        "pickup": pickup,
        "dropoff": dropoff,
        "minutes": (dropoff - pickup).astype(np.int64) / 60,
        "distance": np.round(distance, 2),
        "rows": rows,
    }


def _choice(rng, values, probs, size):
    import numpy as np

    p = np.asarray(probs, dtype=float)
    return np.asarray(values)[rng.choice(len(values), size=size, p=p / p.sum())]


def _block_share(ds: Dataset) -> float:
    """Share of green trips with the dispatched-trip null block (as in 2021-01 and 2023-03)."""
    if ds.year <= 2021:
        return 0.47
    return 0.25 if ds.year == 2022 else 0.063


def _taxi(ds: Dataset, core: dict, rng) -> dict[str, tuple]:
    """Columns of yellow and green cabs: (values, mask) pairs keyed by a role name."""
    import numpy as np

    n = core["rows"]
    green = ds.service == "green"
    block = rng.random(n) < (_block_share(ds) if green else 0.023)
    if green:
        # dispatched green trips are recorded in whole minutes
        for key in ("pickup", "dropoff"):
            core[key] = np.where(block, core[key].astype("datetime64[m]"), core[key])
        core["minutes"] = (core["dropoff"] - core["pickup"]).astype(np.int64) / 60
    minutes, distance = core["minutes"], core["distance"]
    vendor = np.where(rng.random(n) < (0.9 if green else 0.73), 2, 1)
    if green:
        vendor = np.where(block, 2, vendor)
    ratecode = _choice(rng, [1, 2, 3, 4, 5, 99], [95, 0.6, 0.1, 0.3, 3.5, 0.05], n)
    airport = np.isin(core["pu"], _AIRPORTS) | np.isin(core["do"], _AIRPORTS)
    ratecode = np.where(~green & airport & (rng.random(n) < 0.5), 2, ratecode)
    passengers = _choice(rng, [1, 2, 3, 4, 5, 6, 0], [78, 12, 3, 1.5, 2.5, 1.5, 1.5], n)
    payment = _choice(rng, [1, 2, 3, 4], [62, 35, 2, 1], n)
    store = _choice(rng, [0, 1], [99.5, 0.5], n)  # index into ("N", "Y")
    trip_type = _choice(rng, [1, 2], [97, 3], n)
    fare = np.round(3.0 + 2.5 * np.clip(distance, 0, 100) + 0.35 * np.clip(minutes, 0, 240), 1)
    dispute = rng.random(n) < 0.002
    fare = np.where(dispute, -fare, fare)
    extra = _choice(rng, [0.0, 0.5, 1.0, 2.5, 2.75], [55, 7, 15, 15, 8], n)
    mta = np.where(dispute, -0.5, 0.5)
    tip = np.where(payment == 1, np.round(np.abs(fare) * rng.uniform(0.1, 0.28, n), 2), 0.0)
    tolls = np.where(rng.random(n) < 0.04, 6.55, 0.0)
    improvement = 1.0 if (ds.year, ds.month) >= (2022, 12) else 0.3
    improvement = np.where(dispute, -improvement, improvement)
    congestion = np.where(rng.random(n) < (0.25 if green else 0.9), 2.75 if green else 2.5, 0.0)
    airport_fee = np.where(np.isin(core["pu"], (132, 138)), 1.25, 0.0)
    cbd = np.where(rng.random(n) < 0.5, 0.75, 0.0)
    total = fare + extra + mta + tip + tolls + improvement
    total = total + np.where(block, 0.0, congestion) + (0 if green else airport_fee)
    if not green:
        payment = np.where(block, 0, payment)  # yellow writes 0 (unknown), not null
    return {
        "VendorID": (vendor, None),
        "passenger_count": (passengers, block),
        "trip_distance": (distance, None),
        "RatecodeID": (ratecode, block),
        "store_and_fwd_flag": ((store, ("N", "Y")), block),
        "PULocationID": (core["pu"], None),
        "DOLocationID": (core["do"], None),
        "payment_type": (payment, block if green else None),
        "trip_type": (trip_type, block),
        "fare_amount": (fare, None),
        "extra": (extra, None),
        "mta_tax": (mta, None),
        "tip_amount": (tip, None),
        "tolls_amount": (tolls, None),
        "ehail_fee": (np.zeros(n), np.ones(n, dtype=bool)),
        "improvement_surcharge": (improvement, None),
        "total_amount": (np.round(total, 2), None),
        "congestion_surcharge": (congestion, block),
        "airport_fee": (airport_fee, block),
        "Airport_fee": (airport_fee, block),
        "cbd_congestion_fee": (cbd, None),
    }


def _bases(rng, n: int, count: int, zipf: float):
    """Base licence numbers such as ``B02510``, a few big bases and a long tail."""
    import numpy as np

    names = tuple(f"B{code:05d}" for code in rng.choice(np.arange(1, 3300), count, replace=False))
    weights = 1.0 / np.arange(1, count + 1) ** zipf
    return rng.choice(count, size=n, p=weights / weights.sum()), names


def _fhv(ds: Dataset, core: dict, rng) -> dict[str, tuple]:
    import numpy as np

    n = core["rows"]
    dispatch, names = _bases(rng, n, 300, 1.1)
    affiliated = np.where(rng.random(n) < 0.85, dispatch, rng.integers(0, len(names), n))
    pu_missing = rng.random(n) < (0.835 if ds.year <= 2021 else 0.7)
    do_missing = rng.random(n) < 0.14
    return {
        "dispatching_base_num": ((dispatch, names), None),
        "PUlocationID": (core["pu"], pu_missing),
        "DOlocationID": (core["do"], do_missing),
        "SR_Flag": (np.ones(n), np.ones(n, dtype=bool)),
        "Affiliated_base_number": ((affiliated, names), rng.random(n) < 0.02),
    }


def _fhvhv(ds: Dataset, core: dict, rng) -> dict[str, tuple]:
    import numpy as np

    n = core["rows"]
    lyft = rng.random(n) < 0.27
    licence = lyft.astype(np.int64)  # 0 HV0003 (Uber), 1 HV0005 (Lyft)
    uber_base = _choice(rng, [0, 1, 2, 3], [70, 15, 10, 5], n)
    dispatch = np.where(lyft, 4, uber_base)
    bases = ("B03404", "B02764", "B02682", "B02765", "B03406")
    wait = rng.uniform(60, 600, n).astype("timedelta64[s]")
    arrive = rng.uniform(0, 180, n).astype("timedelta64[s]")
    request = core["pickup"] - wait
    on_scene = core["pickup"] - arrive
    miles, minutes = core["distance"], core["minutes"]
    fare = np.round(2.5 + 1.6 * np.clip(miles, 0, 100) + 0.6 * np.clip(minutes, 0, 240), 2)
    airport = np.isin(core["pu"], (132, 138))
    flag = (np.zeros(n, dtype=np.int64), ("N", "Y"))
    shared = (np.where(rng.random(n) < 0.01, 1, 0), ("N", "Y"))
    wav = (np.where(rng.random(n) < 0.06, 1, 0), ("N", "Y"))
    return {
        "hvfhs_license_num": ((licence, ("HV0003", "HV0005")), None),
        "dispatching_base_num": ((dispatch, bases), None),
        "originating_base_num": ((dispatch, bases), lyft),
        "request_datetime": (request, None),
        "on_scene_datetime": (on_scene, lyft),
        "PULocationID": (core["pu"], None),
        "DOLocationID": (core["do"], None),
        "trip_miles": (miles, None),
        "trip_time": (np.round(minutes * 60).astype(np.int64), None),
        "base_passenger_fare": (fare, None),
        "tolls": (np.where(rng.random(n) < 0.05, 6.55, 0.0), None),
        "bcf": (np.round(fare * 0.025, 2), None),
        "sales_tax": (np.round(fare * 0.08875, 2), None),
        "congestion_surcharge": (np.where(rng.random(n) < 0.6, 2.75, 0.0), None),
        "airport_fee": (np.where(airport, 2.5, 0.0), None),
        "tips": (np.where(rng.random(n) < 0.2, np.round(fare * 0.15, 2), 0.0), None),
        "driver_pay": (np.round(fare * 0.75, 2), None),
        "shared_request_flag": (shared, None),
        "shared_match_flag": (flag, None),
        "access_a_ride_flag": ((np.zeros(n, dtype=np.int64), ("N",)), None),
        "wav_request_flag": (wav, None),
        "wav_match_flag": (wav, None),
        "cbd_congestion_fee": (np.where(rng.random(n) < 0.3, 1.5, 0.0), None),
    }


def _to_arrow(values, mask, type_name: str, n: int):
    import numpy as np
    import pyarrow as pa

    arrow = arrow_type(type_name)
    if type_name == "null":
        return pa.nulls(n)
    if type_name in ("string", "large_string"):
        if values is None:
            return pa.nulls(n, type=arrow)
        codes, labels = values
        indices = pa.array(np.asarray(codes, dtype=np.int32), mask=mask)
        dictionary = pa.array(list(labels), type=pa.string())
        return pa.DictionaryArray.from_arrays(indices, dictionary).dictionary_decode().cast(arrow)
    if type_name.startswith("timestamp"):
        values = np.asarray(values).astype("datetime64[us]", copy=False)
        return pa.array(values, type=arrow, mask=mask)
    numpy_type = {"int32": np.int32, "int64": np.int64, "double": np.float64}[type_name]
    return pa.array(np.asarray(values).astype(numpy_type, copy=False), type=arrow, mask=mask)


def synthetic_table(ds: Dataset, rows: int, seed: int):
    """Build the synthetic month as a :class:`pyarrow.Table` (no file written).

    The random stream is seeded by (seed, service, year, month, generator version), so
    two months with the same seed still differ, and each is reproducible.
    """
    import numpy as np
    import pyarrow as pa

    columns = trip_columns(ds.service, ds.year, ds.month)  # raises for unknown months first
    rng = np.random.default_rng(
        [int(seed), _SERVICE_INDEX[ds.service], ds.year, ds.month, GENERATOR_VERSION]
    )
    core = _core(ds, rows, rng)
    builder = {"yellow": _taxi, "green": _taxi, "fhv": _fhv, "fhvhv": _fhvhv}[ds.service]
    parts = builder(ds, core, rng)
    pickup_col, dropoff_col = ds.pickup_column, ds.dropoff_column
    parts[pickup_col] = (core["pickup"], None)
    parts[dropoff_col] = (core["dropoff"], None)
    arrays, fields = [], []
    for name, type_name in columns:
        values, mask = parts.get(name, (None, np.ones(rows, dtype=bool)))
        if values is None and type_name not in ("string", "large_string", "null"):
            values = np.zeros(rows)
        arrays.append(_to_arrow(values, mask, type_name, rows))
        fields.append(pa.field(name, arrow_type(type_name)))
    info = {
        "dataset": ds.id,
        "rows": rows,
        "seed": seed,
        "generator_version": GENERATOR_VERSION,
        "note": "synthetic data generated by mlops-kit; not TLC records",
    }
    schema = pa.schema(fields, metadata={METADATA_KEY: json.dumps(info).encode()})
    return pa.Table.from_arrays(arrays, schema=schema)
