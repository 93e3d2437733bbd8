"""Data provenance: when a synthetic month may stand in for a real one, and what is said.

The rule (``mlops_kit.tlc.locate``): synthetic data stands in only when nothing real was
asked for or found, then for every month alike and with one short line each; a data folder
that does not exist, a month that cannot exist, and a real month beside a missing one are
errors that name the month, where the kit looked and the fix. No test uses the network:
"no network" is a ``requests.get`` that fails the way it does without DNS.
"""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from mlops_kit.errors import (
    BadParameterError,
    DataNotFoundError,
    DownloadError,
    KitError,
    MonthNotPublishedError,
)
from mlops_kit.tlc import (
    ColumnTypeError,
    Dataset,
    data_dir_report,
    dataset_info,
    locate_month,
    locate_months,
    read_trips,
    resolve,
    synthetic_trips,
    trip_summary,
    validate_parquet,
)

from .test_cli_bad_inputs import _string_pickup_parquet

LOGGER = "mlops_kit.tlc"

#: what requests raises without DNS (urllib3's text, as a learner's notebook shows it)
NO_DNS = (
    "HTTPSConnectionPool(host='d37ci6vzurychx.cloudfront.net', port=443): Max retries "
    "exceeded with url: /trip-data/green_tripdata_2021-01.parquet (Caused by "
    'NameResolutionError("<urllib3.connection.HTTPSConnection object at 0x7f>: Failed to '
    "resolve 'd37ci6vzurychx.cloudfront.net' ([Errno -2] Name or service not known)\"))"
)
URLLIB3_WORDS = ("HTTPSConnectionPool", "Max retries", "NameResolutionError", "urllib3", "Errno")


def one_paragraph(exc: KitError) -> str:
    """The message, checked to read as one paragraph with one fix and no doubled stops."""
    text = str(exc)
    assert "\n" not in text and text.count("Fix:") == 1, text
    assert ".." not in text.replace("...", "") and ". ." not in text, text
    assert not any(word in text for word in URLLIB3_WORDS), text
    return text


@pytest.fixture
def env(monkeypatch, tmp_path):
    """Empty cache, no data folder, MLOPS_KIT_OFFLINE unset, and no way to the network."""
    monkeypatch.setenv("MLOPS_KIT_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("MLOPS_KIT_DATA_DIR", raising=False)
    monkeypatch.delenv("MLOPS_KIT_OFFLINE", raising=False)
    monkeypatch.delenv("MLOPS_KIT_TLC_BASE_URL", raising=False)
    calls = []

    def no_network(url, **kwargs):
        import requests

        calls.append(url)
        raise requests.exceptions.ConnectionError(NO_DNS)

    import requests

    monkeypatch.setattr(requests, "get", no_network)
    return tmp_path, calls


def data_folder(monkeypatch, tmp_path, *months: str) -> Path:
    """A data folder holding small files under TLC's names for ``months``."""
    folder = tmp_path / "tlc-files"
    folder.mkdir(exist_ok=True)
    for name in months:
        ds = Dataset(*_split(name))
        synthetic_trips(ds.service, ds, 300, 1, path=folder / ds.file_name)
    monkeypatch.setenv("MLOPS_KIT_DATA_DIR", str(folder))
    return folder


def _split(name: str):
    service, month = name.split(":")
    year, mon = month.split("-")
    return service, int(year), int(mon)


def warnings_of(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]


# ------------------------------------------------------------------ nothing real: synthetic


def test_offline_fallback_is_one_short_line_per_month(env, caplog):
    _, calls = env
    with caplog.at_level(logging.DEBUG, logger=LOGGER):
        months = locate_months(["green:2021-01", "green:2021-02"], rows=500)
    assert [m.origin for m in months] == ["synthetic", "synthetic"]
    assert len(calls) == 1  # no DNS for the first month: the second is not tried
    lines = warnings_of(caplog)
    assert len(lines) == 2
    for line, month in zip(lines, ("2021-01", "2021-02"), strict=True):
        assert line.startswith(f"offline: using seeded synthetic green {month};")
        assert "\n" not in line and len(line) < 200
        assert not any(word in line for word in URLLIB3_WORDS)
        assert "mlops-kit data fetch green:" in line and "MLOPS_KIT_DATA_DIR" in line
    debug = [r.getMessage() for r in caplog.records if r.levelno == logging.DEBUG]
    assert any("NameResolutionError" in m for m in debug)  # the details are kept, at DEBUG


def test_offline_fallback_on_the_command_line_is_one_line(tmp_path):
    # the CLI in its own process, as a learner runs it; requests fails as without DNS
    code = textwrap.dedent(
        f"""
        import sys, requests
        def no_network(url, **kwargs):
            raise requests.exceptions.ConnectionError({NO_DNS!r})
        requests.get = no_network
        from mlops_kit.cli import main
        sys.exit(main(["data", "info", "green:2021-01", "--json"]))
        """
    )
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "MLOPS_KIT_CACHE_DIR": str(tmp_path)}
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["synthetic"] is True
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("offline: using seeded synthetic green 2021-01;")
    assert not any(word in done.stderr for word in URLLIB3_WORDS)


def test_mlops_kit_offline_says_so(env, monkeypatch, caplog):
    _, calls = env
    monkeypatch.setenv("MLOPS_KIT_OFFLINE", "1")
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        df = read_trips("green:2021-01", rows=300)
    assert df.attrs["synthetic"] and calls == []
    (line,) = warnings_of(caplog)
    assert line.startswith("offline (MLOPS_KIT_OFFLINE=1): using seeded synthetic green 2021-01")


def test_a_data_folder_without_that_service_still_falls_back(env, monkeypatch, caplog):
    tmp_path, _ = env
    folder = data_folder(monkeypatch, tmp_path, "green:2021-01")
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        month = locate_month("yellow:2023-01", rows=300)
    assert month.origin == "synthetic"
    assert f"copy it into MLOPS_KIT_DATA_DIR={folder}" in warnings_of(caplog)[0]


# ------------------------------------------------------------------ never mixed


def test_real_training_month_and_missing_validation_month_is_an_error(env, monkeypatch):
    tmp_path, _ = env
    folder = data_folder(monkeypatch, tmp_path, "green:2021-01")
    with pytest.raises(DataNotFoundError) as exc:
        locate_months(["green:2021-01", "green:2021-02"])
    text = one_paragraph(exc.value)
    assert text.startswith("green:2021-02: no real file")
    assert str(folder / "green_tripdata_2021-02.parquet") in text  # where it looked
    assert "while green:2021-01 is real" in text
    assert "`mlops-kit data fetch green:2021-02`" in text and "--source synthetic" in text
    assert not (tmp_path / "cache" / "synthetic").exists()  # nothing was synthesised


def test_one_month_read_alone_beside_real_months_of_its_service_is_an_error(env, monkeypatch):
    # a notebook reads its months one call at a time: the second call must not go synthetic
    tmp_path, _ = env
    data_folder(monkeypatch, tmp_path, "green:2021-01")
    assert read_trips("green:2021-01").attrs["origin"] == "data_dir"
    with pytest.raises(DataNotFoundError) as exc:
        read_trips("green:2021-02")
    text = one_paragraph(exc.value)
    assert "real green months are on this machine (2021-01)" in text
    assert resolve("green:2021-02").origin == "download"  # online, it would try that first
    monkeypatch.setenv("MLOPS_KIT_OFFLINE", "1")
    with pytest.raises(DataNotFoundError, match="real green months are on this machine"):
        resolve("green:2021-02")  # offline, `mlops-kit data path` says what a read would


def test_a_real_cached_month_counts_too(env, monkeypatch):
    tmp_path, _ = env
    cached = tmp_path / "cache" / "tlc" / "green_tripdata_2021-01.parquet"
    cached.parent.mkdir(parents=True)
    synthetic_trips("green", "2021-01", 300, 1, path=cached)
    with pytest.raises(DataNotFoundError, match="2021-02: no real file"):
        locate_month("green:2021-02")


def test_an_explicit_real_file_beside_a_missing_month_is_an_error(env, tmp_path):
    path = tmp_path / "my_january.parquet"
    synthetic_trips("green", "2021-01", 300, 1, path=path)
    with pytest.raises(DataNotFoundError, match=r"while .*my_january.parquet is real"):
        locate_months([path, "green:2021-02"])


def test_a_failed_download_beside_a_downloaded_month_is_an_error(env, monkeypatch):
    import mlops_kit.tlc.locate as locate_module

    tmp_path, _ = env
    january = tmp_path / "cache" / "tlc" / "green_tripdata_2021-01.parquet"

    def fetch(ds):
        if ds.month == 1:
            january.parent.mkdir(parents=True, exist_ok=True)
            synthetic_trips("green", ds, 300, 1, path=january)
            return january
        raise DownloadError(f"{ds.id}: HTTP 503, after 4 attempt(s).", "Retry later.")

    monkeypatch.setattr(locate_module, "fetch", fetch)
    with pytest.raises(DataNotFoundError) as exc:
        locate_months(["green:2021-01", "green:2021-02"])
    assert "its download failed" in one_paragraph(exc.value)


def test_synthetic_source_is_never_mixed_up(env, monkeypatch, caplog):
    tmp_path, calls = env
    data_folder(monkeypatch, tmp_path, "green:2021-01")
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        months = locate_months(["green:2021-01", "green:2021-02"], source="synthetic", rows=300)
    assert [m.origin for m in months] == ["synthetic", "synthetic"]
    assert calls == [] and warnings_of(caplog) == []  # asked for: nothing to warn about


def test_real_source_stops_at_the_first_missing_month(env, monkeypatch):
    monkeypatch.setenv("MLOPS_KIT_OFFLINE", "1")
    with pytest.raises(DownloadError) as exc:
        locate_months(["green:2021-01", "green:2021-02"], source="real")
    assert one_paragraph(exc.value).startswith("green:2021-01:")


# ------------------------------------------------------------------ asked for the impossible


@pytest.mark.parametrize("value", ["does-not-exist", "a-file"])
def test_a_data_folder_that_is_no_folder_is_an_error(env, monkeypatch, value):
    tmp_path, calls = env
    target = tmp_path / value
    if value == "a-file":
        target.write_text("x")
    monkeypatch.setenv("MLOPS_KIT_DATA_DIR", str(target))
    for call in (read_trips, dataset_info, resolve, locate_month):
        with pytest.raises(DataNotFoundError) as exc:
            call("green:2021-01")
        text = one_paragraph(exc.value)
        assert f"MLOPS_KIT_DATA_DIR={target}" in text and "unset MLOPS_KIT_DATA_DIR" in text
    assert calls == []
    # asking for synthetic data does not need the folder
    assert read_trips("green:2021-01", source="synthetic", rows=200).attrs["synthetic"]


@pytest.mark.parametrize("name", ["green:2031-01", "green:2013-07", "fhvhv:2019-01"])
@pytest.mark.parametrize("source", ["auto", "real"])
def test_a_month_that_cannot_exist_is_an_error(env, name, source):
    _, calls = env
    with pytest.raises(MonthNotPublishedError) as exc:
        read_trips(name, source=source)
    assert name in one_paragraph(exc.value)
    assert calls == []


def test_a_month_tlc_says_it_lacks_is_an_error_not_synthetic(env, monkeypatch):
    import mlops_kit.tlc.locate as locate_module

    def fetch(ds):
        raise MonthNotPublishedError(f"{ds.id}: TLC answered HTTP 404.", "Pick another month.")

    monkeypatch.setattr(locate_module, "fetch", fetch)
    with pytest.raises(MonthNotPublishedError):
        read_trips("green:2021-01")


@pytest.mark.parametrize("rows", [-5, 0, 2.5, "ten"])
def test_bad_rows_are_refused_before_any_download(env, rows):
    _, calls = env
    with pytest.raises(BadParameterError) as exc:
        read_trips("green:2021-01", rows=rows)
    assert repr(rows) in one_paragraph(exc.value)
    assert calls == []


def test_validation_month_not_after_training_month_warns(env, caplog):
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        locate_months(
            ["green:2021-01", "green:2021-02"], source="synthetic", rows=200, ordered=True
        )
    assert warnings_of(caplog) == []
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        locate_months(
            ["green:2021-03", "green:2021-02"], source="synthetic", rows=200, ordered=True
        )
    (line,) = warnings_of(caplog)
    assert "validation month green:2021-02 is not after the training month green:2021-03" in line


# ------------------------------------------------------------------ messages that say what is wrong


def test_a_missing_file_is_said_to_be_missing(env, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for call in (read_trips, dataset_info, validate_parquet):
        with pytest.raises(DataNotFoundError) as exc:
            call("nosuch.parquet")
        text = one_paragraph(exc.value)
        assert "There is no file nosuch.parquet" in text and str(tmp_path) in text
        assert "bytes" not in text and "truncated" not in text and "Delete" not in text


def test_a_folder_is_said_to_be_a_folder(env, tmp_path):
    for call in (read_trips, dataset_info, validate_parquet):
        with pytest.raises(DataNotFoundError) as exc:
            call(tmp_path)
        text = one_paragraph(exc.value)
        assert f"{tmp_path} is a folder, not a parquet file" in text
        assert "No file at" not in text


def test_time_columns_stored_as_text_are_one_paragraph(env, tmp_path):
    path = _string_pickup_parquet(tmp_path)
    for call in (dataset_info, trip_summary):
        with pytest.raises(ColumnTypeError) as exc:
            call(path)
        text = one_paragraph(exc.value)
        assert "lpep_pickup_datetime" in text and "not as timestamps" in text
        assert "pd.to_datetime" in text


def test_cli_data_info_of_a_folder_and_of_text_times(env, tmp_path, capsys):
    from mlops_kit.cli import main

    assert main(["data", "info", str(tmp_path)]) == 2
    assert "is a folder, not a parquet file" in capsys.readouterr().err
    assert main(["data", "info", str(_string_pickup_parquet(tmp_path))]) == 2
    err = capsys.readouterr().err
    assert "lpep_pickup_datetime" in err and "Traceback" not in err


def test_cli_summary_refuses_to_mix(env, monkeypatch, capsys):
    from mlops_kit.cli import main

    tmp_path, _ = env
    data_folder(monkeypatch, tmp_path, "green:2021-01")
    assert main(["data", "summary", "green:2021-01", "green:2021-02"]) == 2
    err = capsys.readouterr().err
    assert "green:2021-02: no real file" in err and err.count("Fix:") == 1


# ------------------------------------------------------------------ the data folder report


def test_data_dir_report_unset(env):
    report = data_dir_report()
    assert report["status"] == "unset" and report["path"] is None
    assert "MLOPS_KIT_DATA_DIR" in report["fix"]


@pytest.mark.parametrize("kind", ["missing", "not_a_folder"])
def test_data_dir_report_names_a_bad_folder(env, monkeypatch, kind):
    tmp_path, _ = env
    target = tmp_path / "typo"
    if kind == "not_a_folder":
        target.write_text("x")
    monkeypatch.setenv("MLOPS_KIT_DATA_DIR", str(target))
    report = data_dir_report()
    assert report["status"] == kind and str(target) in report["problem"]
    assert report["months"] == [] and report["fix"]


def test_data_dir_report_lists_months_and_problems(env, monkeypatch):
    tmp_path, _ = env
    folder = data_folder(monkeypatch, tmp_path, "green:2021-02", "green:2021-01", "fhv:2021-01")
    (folder / "taxi_zone_lookup.csv").write_text("LocationID,Borough,Zone,service_zone\n")
    (folder / "green_tripdata_2021-01 (1).parquet").write_bytes(b"x")
    report = data_dir_report()
    assert report["status"] == "ok" and report["problem"] is None
    assert report["months"] == ["fhv:2021-01", "green:2021-01", "green:2021-02"]
    assert report["zones"] and report["other_parquet"] == ["green_tripdata_2021-01 (1).parquet"]
    (folder / "green_tripdata_2021-02.parquet").write_bytes(b"<html>403</html>")
    report = data_dir_report()
    assert report["status"] == "unreadable"
    assert report["unreadable"] == ["green_tripdata_2021-02.parquet"]


def test_data_dir_report_of_a_folder_without_tlc_files(env, monkeypatch, tmp_path):
    folder = tmp_path / "empty"
    folder.mkdir()
    monkeypatch.setenv("MLOPS_KIT_DATA_DIR", str(folder))
    report = data_dir_report()
    assert report["status"] == "empty" and "green_tripdata_2021-01.parquet" in report["problem"]


@pytest.mark.realdata
def test_data_dir_report_of_the_real_folder(real_data_dir, monkeypatch):
    monkeypatch.setenv("MLOPS_KIT_DATA_DIR", str(real_data_dir))
    report = data_dir_report()
    assert report["status"] == "ok" and "green:2021-01" in report["months"]


# ------------------------------------------------------------------ training takes located months


def test_train_and_evaluate_takes_months_located_together(env):
    from mlops_kit.model.training import train_and_evaluate

    train, val = locate_months(
        ["green:2021-01", "green:2021-02"], source="synthetic", rows=3000, ordered=True
    )
    result = train_and_evaluate(train, val, source="synthetic", rows=3000)
    assert result.datasets["train"]["id"] == "green:2021-01"
    assert result.datasets["val"]["path"] == str(val.path) and result.metrics["synthetic"]


def test_cli_train_says_a_missing_file_is_missing(env, tmp_path, capsys):
    from mlops_kit.cli import main

    assert main(["train", "--train", str(tmp_path / "nosuch.parquet")]) == 2
    err = capsys.readouterr().err
    assert "There is no file" in err and "nosuch.parquet" in err
    assert "truncated" not in err and "0 bytes" not in err and err.count("Fix:") == 1


def test_cli_train_refuses_bad_rows_before_any_download(env, capsys):
    from mlops_kit.cli import main

    _, calls = env
    assert main(["train", "--rows", "-5"]) == 2
    assert "rows=-5" in capsys.readouterr().err and calls == []


def test_train_and_evaluate_finds_its_two_months_together(env, monkeypatch):
    # a real January beside a missing February: refused as a pair, before any reading
    from mlops_kit.model.training import train_and_evaluate

    tmp_path, _ = env
    data_folder(monkeypatch, tmp_path, "green:2021-01")
    with pytest.raises(DataNotFoundError) as exc:
        train_and_evaluate("green:2021-01", "green:2021-02")
    assert "while green:2021-01 is real" in one_paragraph(exc.value)
    assert not (tmp_path / "cache" / "synthetic").exists()
