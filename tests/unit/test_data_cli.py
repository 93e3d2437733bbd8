"""``mlops-kit data ...`` through ``mlops_kit.cli.main`` (no network)."""

from __future__ import annotations

import json

import pyarrow.parquet as pq
import pytest

from mlops_kit.cli import main


@pytest.fixture
def offline(monkeypatch, tmp_path):
    monkeypatch.setenv("MLOPS_KIT_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("MLOPS_KIT_OFFLINE", "1")
    monkeypatch.delenv("MLOPS_KIT_DATA_DIR", raising=False)
    return tmp_path


def test_help_has_examples(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["data", "--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    for action in ("fetch", "path", "info", "synth", "summary"):
        assert f"mlops-kit data {action}" in out
    assert "MLOPS_KIT_DATA_DIR" in out


def test_bare_data_prints_help(capsys):
    assert main(["data"]) == 0
    assert "ACTION" in capsys.readouterr().out


def test_synth_then_info_json(offline, capsys):
    out_file = offline / "g.parquet"
    assert (
        main(
            [
                "data",
                "synth",
                "green:2021-01",
                "--rows",
                "321",
                "--seed",
                "3",
                "--out",
                str(out_file),
                "--json",
            ]
        )
        == 0
    )
    payload = json.loads(capsys.readouterr().out)
    assert payload["rows"] == 321 and payload["synthetic"] is True and payload["seed"] == 3
    assert pq.ParquetFile(out_file).metadata.num_rows == 321
    assert main(["data", "info", str(out_file), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["rows"] == 321 and info["columns"]["PULocationID"] == "int64"


def test_synth_default_goes_to_cache(offline, capsys):
    assert main(["data", "synth", "fhv:2021-01", "--rows", "200"]) == 0
    out = capsys.readouterr().out
    assert "200 synthetic rows" in out and str(offline / "cache" / "synthetic") in out


def test_info_offline_falls_back_and_says_so(offline, capsys):
    assert main(["data", "info", "green:2021-01", "--source", "synthetic"]) == 0
    out = capsys.readouterr().out
    assert "SYNTHETIC" in out and "rows      70,000" in out


def test_info_real_offline_fails_with_fix(offline, capsys):
    assert main(["data", "info", "green:2021-01", "--source", "real"]) == 2
    err = capsys.readouterr().err
    assert "green:2021-01" in err and "Fix:" in err and "Traceback" not in err


def test_path_reports_origin(offline, capsys, monkeypatch):
    assert main(["data", "path", "green:2021-01", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["origin"] == "synthetic"
    monkeypatch.delenv("MLOPS_KIT_OFFLINE")
    assert main(["data", "path", "green:2021-01"]) == 0
    out = capsys.readouterr().out
    assert str(offline / "cache" / "tlc" / "green_tripdata_2021-01.parquet") in out
    assert "download" in out


def test_fetch_offline_is_an_error(offline, capsys):
    assert main(["data", "fetch", "green:2021-01"]) == 2
    assert "MLOPS_KIT_OFFLINE" in capsys.readouterr().err


def test_bad_dataset_name(offline, capsys):
    assert main(["data", "info", "purple:2021-01"]) == 2
    assert "yellow, green, fhv, fhvhv" in capsys.readouterr().err


def test_summary_json_and_text(offline, capsys, caplog):
    assert main(["data", "summary", "green:2021-01", "green:2021-02", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)["datasets"]
    assert [r["dataset"] for r in rows] == ["green:2021-01", "green:2021-02"]
    assert all(r["synthetic"] and 0.85 < r["share_kept"] < 0.99 for r in rows)
    assert main(["data", "summary", "green:2021-01"]) == 0
    captured = capsys.readouterr()
    assert "SYNTHETIC" in captured.out and "70,000" in captured.out
    assert "using seeded synthetic green 2021-01" in caplog.text  # logged, never silent


@pytest.mark.realdata
def test_info_real_green_january(real_data_dir, monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("MLOPS_KIT_DATA_DIR", str(real_data_dir))
    monkeypatch.setenv("MLOPS_KIT_CACHE_DIR", str(tmp_path))
    assert main(["data", "info", "green:2021-01"]) == 0
    out = capsys.readouterr().out
    assert "rows      76,518" in out and "real" in out
    assert "2009-01-01 00:03:25 .. 2021-01-31 23:46:45" in out


@pytest.mark.realdata
def test_summary_real(real_data_dir, monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("MLOPS_KIT_DATA_DIR", str(real_data_dir))
    monkeypatch.setenv("MLOPS_KIT_CACHE_DIR", str(tmp_path))
    assert main(["data", "summary", "green:2021-01", "--json"]) == 0
    row = json.loads(capsys.readouterr().out)["datasets"][0]
    assert row["rows"] == 76_518 and not row["synthetic"]
    assert row["share_kept"] == pytest.approx(73_908 / 76_518)
