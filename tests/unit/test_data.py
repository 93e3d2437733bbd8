"""Dataset names, resolution order, reading, errors and info (no network)."""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from mlops_kit.errors import (
    BadParameterError,
    CorruptDataError,
    DataNotFoundError,
    DatasetNameError,
    KitError,
    MissingColumnsError,
)
from mlops_kit.fileio import file_sha256
from mlops_kit.tlc import (
    Dataset,
    dataset_info,
    is_synthetic,
    locate_month,
    looks_like_path,
    parse_dataset,
    parse_spec,
    read_trip_batches,
    read_trips,
    read_zones,
    resolve,
    synthetic_trips,
    trip_summary,
)
from mlops_kit.tlc.datasets import tlc_url

GREEN_JAN_SHA = "b8e2c9496c5eada0f10adbd88f98d91721ec6fe2787a2b355cf0ccfa9678ee7b"


@pytest.fixture
def env(monkeypatch, tmp_path):
    """A clean environment: empty cache and data dir under tmp_path, offline."""
    cache, folder = tmp_path / "cache", tmp_path / "data_dir"
    folder.mkdir()
    monkeypatch.setenv("MLOPS_KIT_CACHE_DIR", str(cache))
    monkeypatch.setenv("MLOPS_KIT_DATA_DIR", str(folder))
    monkeypatch.setenv("MLOPS_KIT_OFFLINE", "1")
    monkeypatch.delenv("MLOPS_KIT_TLC_BASE_URL", raising=False)
    return cache, folder


def _small_file(folder: Path, name: str = "green:2021-01", rows: int = 300, seed: int = 5):
    ds = parse_dataset(name)
    target = folder / ds.file_name
    synthetic_trips(ds.service, ds, rows, seed, path=target)
    return target


# ------------------------------------------------------------------ names


@pytest.mark.parametrize(
    "text",
    [
        "green:2021-01",
        "green/2021-01",
        "GREEN:2021-1",
        " green_2021-01 ",
        "green_tripdata_2021-01.parquet",
        "/some/where/green_tripdata_2021-01.parquet",
    ],
)
def test_parse_dataset_forms(text):
    assert parse_dataset(text) == Dataset("green", 2021, 1)


@pytest.mark.parametrize("text", ["", "green", "taxi:2021-01", "green:2021-13", "green:21-01"])
def test_parse_dataset_rejects(text):
    with pytest.raises(DatasetNameError) as exc:
        parse_dataset(text)
    assert "Fix:" in str(exc.value)


def test_dataset_properties():
    ds = parse_dataset("green:2021-01")
    assert ds.id == "green:2021-01" and str(ds) == ds.id
    assert ds.file_name == "green_tripdata_2021-01.parquet"
    assert (
        ds.url == "https://d37ci6vzurychx.cloudfront.net/trip-data/green_tripdata_2021-01.parquet"
    )
    assert (ds.pickup_column, ds.dropoff_column) == (
        "lpep_pickup_datetime",
        "lpep_dropoff_datetime",
    )
    assert ds.location_columns == ("PULocationID", "DOLocationID")
    assert ds.month_start == dt.datetime(2021, 1, 1) and ds.month_end == dt.datetime(2021, 2, 1)
    assert Dataset("yellow", 2023, 12).month_end == dt.datetime(2024, 1, 1)
    assert Dataset("yellow", 2023, 1).pickup_column == "tpep_pickup_datetime"
    fhv = Dataset("fhv", 2021, 1)
    assert (fhv.pickup_column, fhv.dropoff_column) == ("pickup_datetime", "dropOff_datetime")
    assert fhv.location_columns == ("PUlocationID", "DOlocationID")
    assert Dataset("fhvhv", 2022, 1).dropoff_column == "dropoff_datetime"
    assert {Dataset("green", 2021, 1): 1}[parse_dataset("green:2021-01")] == 1  # hashable
    assert Dataset("green", "2021", "01") == Dataset("green", 2021, 1)


def test_url_overrides(monkeypatch):
    monkeypatch.setenv("MLOPS_KIT_TLC_BASE_URL", "http://127.0.0.1:9/mirror/")
    ds = Dataset("yellow", 2023, 1)
    assert ds.url == "http://127.0.0.1:9/mirror/yellow_tripdata_2023-01.parquet"
    assert tlc_url(ds, "http://x/y") == "http://x/y/yellow_tripdata_2023-01.parquet"


# ------------------------------------------------------------------ resolution order


def test_resolution_order(env):
    cache, folder = env
    ds = parse_dataset("green:2021-01")
    assert resolve(ds).origin == "synthetic"  # offline, nothing on disk
    flat = cache / ds.file_name
    flat.parent.mkdir(parents=True)
    flat.write_bytes(b"x")
    assert (resolve(ds).origin, resolve(ds).path) == ("cache", flat)
    fetched = cache / "tlc" / ds.file_name
    fetched.parent.mkdir()
    fetched.write_bytes(b"x")
    assert resolve(ds).path == fetched  # the download folder wins over a loose file
    mine = folder / ds.file_name
    mine.write_bytes(b"x")
    assert (resolve(ds).origin, resolve(ds).path) == ("data_dir", mine)
    assert resolve(str(flat)).origin == "path"
    assert resolve(ds, source="synthetic").origin == "synthetic"


def test_resolution_online_says_download(env, monkeypatch):
    cache, _ = env
    monkeypatch.delenv("MLOPS_KIT_OFFLINE")
    res = resolve("green:2021-01")
    assert res.origin == "download" and not res.exists
    assert res.path == cache / "tlc" / "green_tripdata_2021-01.parquet"


def test_resolve_real_offline_raises(env):
    with pytest.raises(DataNotFoundError) as exc:
        resolve("green:2021-01", source="real")
    assert "MLOPS_KIT_OFFLINE" in str(exc.value)


def test_missing_explicit_path(env, tmp_path):
    with pytest.raises(DataNotFoundError):
        read_trips(tmp_path / "nope" / "green_tripdata_2021-01.parquet")


def test_bad_source(env):
    with pytest.raises(BadParameterError):
        read_trips("green:2021-01", source="remote")


# ------------------------------------------------------------------ reading


def test_read_from_data_dir_with_attrs(env):
    _, folder = env
    path = _small_file(folder)
    df = read_trips("green:2021-01")
    assert len(df) == 300
    assert df.attrs == {
        "dataset": "green:2021-01",
        "path": str(path),
        "synthetic": True,
        "origin": "data_dir",
    }  # the file itself is marked synthetic


def test_offline_auto_falls_back_to_synthetic_with_warning(env, caplog):
    with caplog.at_level(logging.WARNING, logger="mlops_kit.tlc.locate"):
        df = read_trips("yellow:2023-01", rows=2000, seed=3)
    assert len(df) == 2000 and is_synthetic(df) and df.attrs["origin"] == "synthetic"
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1  # one line per fallback
    assert "seeded synthetic yellow 2023-01" in warnings[0] and "OFFLINE" in warnings[0]
    assert "mlops-kit data fetch yellow:2023-01" in warnings[0]


def test_offline_real_raises(env):
    with pytest.raises(DataNotFoundError) as exc:
        read_trips("yellow:2023-01", source="real")
    assert "MLOPS_KIT_DATA_DIR" in str(exc.value)


def test_synthetic_source_ignores_real_files(env):
    _, folder = env
    _small_file(folder)
    df = read_trips("green:2021-01", source="synthetic", rows=1000)
    assert len(df) == 1000 and df.attrs["origin"] == "synthetic"


def test_columns_projection(env):
    _, folder = env
    _small_file(folder)
    df = read_trips("green:2021-01", columns=["PULocationID", "lpep_pickup_datetime"])
    assert list(df.columns) == ["PULocationID", "lpep_pickup_datetime"]


def test_missing_columns_error_names_them(env):
    _, folder = env
    path = _small_file(folder)
    with pytest.raises(MissingColumnsError) as exc:
        read_trips("green:2021-01", columns=["PULocationID", "tpep_pickup_datetime", "nope"])
    message = str(exc.value)
    assert "'tpep_pickup_datetime'" in message and "'nope'" in message
    assert str(path) in message and "Fix:" in message
    assert "'PULocationID'," not in message.split("has no column")[1].split(";")[0]


@pytest.mark.parametrize(
    "content", [b"", b"<html>403 Forbidden</html>", b"PAR1" + b"\0" * 100, "truncate"]
)
def test_corrupt_files(env, content):
    _, folder = env
    path = folder / "green_tripdata_2021-01.parquet"
    if content == "truncate":
        good = _small_file(folder, rows=2000).read_bytes()
        content = good[: len(good) // 2]
    path.write_bytes(content)
    with pytest.raises(CorruptDataError) as exc:
        read_trips("green:2021-01")
    assert str(path) in str(exc.value) and "Delete" in str(exc.value)
    with pytest.raises(CorruptDataError):
        dataset_info("green:2021-01")


def test_corrupt_file_is_not_hidden_by_the_fallback(env):
    _, folder = env
    (folder / "green_tripdata_2021-01.parquet").write_bytes(b"not parquet")
    with pytest.raises(CorruptDataError):
        read_trips("green:2021-01", source="auto")


def _batches_frame(batches):
    import pyarrow as pa

    return pa.Table.from_batches(list(batches), schema=batches.schema).to_pandas()


@pytest.mark.parametrize("rows,threads", [(None, False), (None, True), (500, False)])
def test_trip_batches_hold_what_read_trips_reads(env, rows, threads):
    _, folder = env
    _small_file(folder, rows=3000)
    columns = ["lpep_pickup_datetime", "PULocationID", "trip_distance"]
    batches = read_trip_batches(
        "green:2021-01", columns, rows=rows, seed=3, batch_rows=256, threads=threads
    )
    expected = read_trips("green:2021-01", columns, rows=rows, seed=3)
    assert batches.num_rows == len(expected) and batches.schema.names == columns
    assert batches.attrs == expected.attrs
    got = _batches_frame(batches)
    assert got.equals(expected)


def test_trip_batches_errors_are_read_trips_errors(env):
    _, folder = env
    _small_file(folder)
    with pytest.raises(MissingColumnsError, match="'nope'"):
        read_trip_batches("green:2021-01", ["PULocationID", "nope"])
    path = folder / "green_tripdata_2021-01.parquet"
    path.write_bytes(b"<html>403 Forbidden</html>")
    with pytest.raises(CorruptDataError, match="Delete"):
        read_trip_batches("green:2021-01")


def test_trip_batches_with_unreadable_pages_raise_while_reading(env):
    _, folder = env
    path = _small_file(folder, rows=5000)
    raw = bytearray(path.read_bytes())
    footer = int.from_bytes(raw[-8:-4], "little") + 8
    for i in range(4, len(raw) - footer - 4, 7):  # scramble the pages, keep the footer
        raw[i] ^= 0x5A
    path.write_bytes(bytes(raw))
    batches = read_trip_batches("green:2021-01", ["PULocationID", "trip_distance"])
    with pytest.raises(CorruptDataError) as exc:
        list(batches)
    assert str(path) in str(exc.value) and "fetch it again" in str(exc.value)


def test_rows_samples_real_files_reproducibly(env):
    _, folder = env
    _small_file(folder, rows=3000)
    a = read_trips("green:2021-01", rows=500, seed=1)
    b = read_trips("green:2021-01", rows=500, seed=1)
    c = read_trips("green:2021-01", rows=500, seed=2)
    assert len(a) == 500 and a.equals(b) and not a.equals(c)
    assert len(read_trips("green:2021-01", rows=10_000)) == 3000  # at most


def test_any_path_reads(env, tmp_path):
    other = tmp_path / "my_trips.parquet"
    synthetic_trips("green", "2021-01", 100, 1, path=other)
    df = read_trips(other)
    assert len(df) == 100 and df.attrs["dataset"] is None and df.attrs["origin"] == "path"


def test_errors_are_kit_errors():
    for cls in (CorruptDataError, MissingColumnsError, DataNotFoundError, DatasetNameError):
        assert issubclass(cls, KitError)


# ------------------------------------------------------------------ info, summary, zones


def test_file_sha256(tmp_path):
    path = tmp_path / "f.bin"
    path.write_bytes(b"abc" * 1000)
    assert file_sha256(path, chunk_size=7) == hashlib.sha256(b"abc" * 1000).hexdigest()


def test_dataset_info(env):
    _, folder = env
    path = _small_file(folder, rows=400)
    info = dataset_info("green:2021-01")
    assert info["rows"] == 400 and info["path"] == str(path)
    assert info["columns"]["lpep_pickup_datetime"] == "timestamp[us]"
    assert info["columns"]["ehail_fee"] == "null" and len(info["columns"]) == 20
    assert info["size_bytes"] == path.stat().st_size and info["sha256"] == file_sha256(path)
    table = pq.read_table(path, columns=["lpep_pickup_datetime"]).to_pandas()
    assert info["pickup_min"] == str(table.lpep_pickup_datetime.min())
    assert info["synthetic"] is True and info["origin"] == "data_dir"


def test_trip_summary(env):
    summary = trip_summary("green:2021-02", source="synthetic", rows=5000)
    assert summary["rows"] == 5000 and summary["synthetic"]
    assert 0.85 < summary["share_kept"] < 0.99
    assert 0.99 < summary["share_in_month"] < 1


def test_read_zones_keeps_na_strings(env):
    _, folder = env
    (folder / "taxi_zone_lookup.csv").write_text(
        '"LocationID","Borough","Zone","service_zone"\n'
        '1,"EWR","Newark Airport","EWR"\n'
        '264,"Unknown","N/A","N/A"\n'
        '265,"N/A","Outside of NYC","N/A"\n'
    )
    zones = read_zones()
    assert zones.loc[zones.LocationID == 265, "Borough"].item() == "N/A"
    assert zones.isna().sum().sum() == 0


def test_read_zones_offline_without_file(env):
    with pytest.raises(DataNotFoundError):
        read_zones()


# ------------------------------------------------------------------ no side effects


def test_import_creates_nothing(tmp_path):
    home, work = tmp_path / "home", tmp_path / "work"
    home.mkdir()
    work.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLOPS_KIT_")}
    env.update(HOME=str(home), XDG_CACHE_HOME=str(home / ".cache"))
    code = "import mlops_kit, mlops_kit.tlc, mlops_kit.tlc.info, mlops_kit.tlc.synthetic"
    subprocess.run([sys.executable, "-c", code], cwd=work, env=env, check=True)
    assert list(home.rglob("*")) == [] and list(work.rglob("*")) == []


# ------------------------------------------------------------------ real files


@pytest.mark.realdata
def test_real_green_january(real_file, monkeypatch, tmp_path):
    path = real_file("green_tripdata_2021-01.parquet")
    monkeypatch.setenv("MLOPS_KIT_DATA_DIR", str(path.parent))
    monkeypatch.setenv("MLOPS_KIT_CACHE_DIR", str(tmp_path))
    df = read_trips("green:2021-01", source="real")
    assert len(df) == 76_518 and not is_synthetic(df) and df.attrs["origin"] == "data_dir"
    info = dataset_info("green:2021-01", source="real")
    assert info["sha256"] == GREEN_JAN_SHA
    assert (info["pickup_min"], info["pickup_max"]) == (
        "2009-01-01 00:03:25",
        "2021-01-31 23:46:45",
    )
    assert not list(tmp_path.iterdir())  # reading real files writes nothing to the cache


@pytest.mark.realdata
def test_real_explicit_path_and_sample(real_file, tmp_path):
    path = real_file("green_tripdata_2021-02.parquet")
    local = tmp_path / path.name
    shutil.copyfile(path, local)
    df = read_trips(local, columns=["PULocationID"], rows=1000, seed=0)
    assert len(df) == 1000 and df.attrs["dataset"] == "green:2021-02"
    assert df.attrs["origin"] == "path" and not is_synthetic(df)


@pytest.mark.realdata
def test_real_zone_lookup(real_file):
    zones = read_zones(real_file("taxi_zone_lookup.csv"))
    assert len(zones) == 265
    assert zones.iloc[-1].tolist() == [265, "N/A", "Outside of NYC", "N/A"]


# ------------------------------------------------------------------ one parse, one search


@pytest.mark.parametrize(
    "value, expected",
    [
        ("green:2021-01", Dataset("green", 2021, 1)),
        (Dataset("fhv", 2021, 2), Dataset("fhv", 2021, 2)),
        ("trips.parquet", Path("trips.parquet")),
        ("data/green_tripdata_2021-01.parquet", Path("data/green_tripdata_2021-01.parquet")),
        (Path("x"), Path("x")),
    ],
)
def test_parse_spec_tells_ids_from_paths(value, expected):
    assert parse_spec(value) == expected
    assert looks_like_path(value) == isinstance(expected, Path)


def test_a_located_month_is_read_without_searching_again(env, monkeypatch):
    import mlops_kit.tlc.locate as locate_module

    _, folder = env
    _small_file(folder)
    found = locate_month("green:2021-01")
    assert (found.origin, found.exists) == ("data_dir", True)

    def no_search(*args, **kwargs):
        raise AssertionError("searched again")

    monkeypatch.setattr(locate_module, "search_places", no_search)
    df = read_trips(found, columns=["PULocationID"])
    batches = read_trip_batches(found, ["PULocationID"])
    info = dataset_info(found)
    assert df.attrs == batches.attrs and df.attrs["path"] == info["path"] == str(found.path)
    with pytest.raises(AssertionError, match="searched again"):  # the guard itself works
        read_trips("green:2021-01")


def test_columns_chosen_from_the_file_s_own_names(env):
    _, folder = env
    _small_file(folder)
    seen = []

    def pick(names):
        seen.append(names)
        return [n for n in names if n.endswith("LocationID")]

    batches = read_trip_batches("green:2021-01", pick)
    assert batches.schema.names == ["PULocationID", "DOLocationID"]
    assert "lpep_pickup_datetime" in seen[0] and len(seen) == 1
