"""fetch() against a real HTTP server on 127.0.0.1 that the tests start and script."""

from __future__ import annotations

import datetime as dt
import io
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pyarrow.parquet as pq
import pytest

from mlops_kit.errors import CorruptDataError, DownloadError, MonthNotPublishedError
from mlops_kit.tlc import Dataset, OfflineError, download, fetch, read_trips, read_zones
from mlops_kit.tlc.synthetic import synthetic_table

DS = Dataset("green", 2021, 1)


@pytest.fixture(scope="module")
def parquet_bytes() -> bytes:
    buffer = io.BytesIO()
    pq.write_table(synthetic_table(DS, 500, 1), buffer)
    return buffer.getvalue()


class _QuietServer(ThreadingHTTPServer):
    def handle_error(self, request, client_address):  # clients hanging up is the point
        pass


class Server:
    """A scripted TLC stand-in: ``plan`` is a list of behaviours, one per request."""

    def __init__(self, body: bytes):
        self.body = body
        self.plan: list[str] = []
        self.default = "ok"
        self.requests: list[str] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep test output clean
                pass

            def do_GET(self):
                server.requests.append(self.path)
                mode = server.plan.pop(0) if server.plan else server.default
                body = server.body
                if mode in {"404", "403", "500", "503"}:
                    self.send_response(int(mode))
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                if mode == "slow":
                    time.sleep(1.5)
                if mode == "html":
                    body = b"<html>Access denied</html>"
                self.send_response(200)
                self.send_header("Content-Type", "application/octet-stream")
                if mode == "truncated":  # promises more bytes than it sends, then ends
                    self.send_header("Content-Length", str(len(body) + 5000))
                    self.end_headers()
                    self.wfile.write(body)
                    return
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if mode == "dies":  # sends a third of the file, then the connection drops
                    self.wfile.write(body[: len(body) // 3])
                    self.wfile.flush()
                    self.connection.shutdown(2)
                    self.connection.close()
                    return
                self.wfile.write(body)

        self.httpd = _QuietServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/trip-data"
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self.thread.start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server(parquet_bytes, monkeypatch, tmp_path):
    monkeypatch.setenv("MLOPS_KIT_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("MLOPS_KIT_OFFLINE", raising=False)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(download, "BACKOFF_SECONDS", 0.001)
    srv = Server(parquet_bytes)
    yield srv
    srv.close()


def _leftovers(tmp_path):
    folder = tmp_path / "cache" / "tlc"
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def test_success_lands_validated_file_with_progress_bar(server, tmp_path, capsys, parquet_bytes):
    path = fetch(DS, base_url=server.url, progress=True)
    assert path == tmp_path / "cache" / "tlc" / "green_tripdata_2021-01.parquet"
    assert path.read_bytes() == parquet_bytes
    assert server.requests == ["/trip-data/green_tripdata_2021-01.parquet"]
    assert _leftovers(tmp_path) == ["green_tripdata_2021-01.parquet"]  # no temp file left
    assert "green_tripdata_2021-01.parquet" in capsys.readouterr().err  # the tqdm bar


def test_cached_file_is_reused_unless_forced(server):
    fetch(DS, base_url=server.url)
    fetch(DS, base_url=server.url)
    assert len(server.requests) == 1
    fetch(DS, base_url=server.url, force=True)
    assert len(server.requests) == 2


def test_env_base_url_is_used(server, monkeypatch):
    monkeypatch.setenv("MLOPS_KIT_TLC_BASE_URL", server.url)
    assert DS.url == f"{server.url}/green_tripdata_2021-01.parquet"
    fetch(DS)
    assert len(server.requests) == 1


@pytest.mark.parametrize("status", ["404", "403"])
def test_unpublished_month_is_not_retried(server, tmp_path, status):
    server.default = status
    with pytest.raises(MonthNotPublishedError) as exc:
        fetch(DS, base_url=server.url, retries=3)
    assert len(server.requests) == 1
    assert "green:2021-01" in str(exc.value) and status in str(exc.value)
    assert _leftovers(tmp_path) == []


def test_server_errors_are_retried_with_backoff(server, monkeypatch):
    sleeps = []
    monkeypatch.setattr(download.time, "sleep", sleeps.append)
    server.plan = ["500", "503"]
    path = fetch(DS, base_url=server.url, retries=3, backoff=0.5)
    assert path.is_file()
    assert len(server.requests) == 3
    assert sleeps == [0.5, 1.0]  # exponential backoff


def test_persistent_server_error_gives_download_error(server, tmp_path):
    server.default = "500"
    with pytest.raises(DownloadError) as exc:
        fetch(DS, base_url=server.url, retries=2, backoff=0.001)
    assert len(server.requests) == 3
    message = str(exc.value)
    assert "MLOPS_KIT_DATA_DIR" in message and "mlops-kit data synth" in message
    assert 'source="synthetic"' in message
    assert _leftovers(tmp_path) == []


def test_truncated_body_leaves_no_file(server, tmp_path):
    server.default = "truncated"
    with pytest.raises(DownloadError):
        fetch(DS, base_url=server.url, retries=1, backoff=0.001)
    assert len(server.requests) == 2
    assert _leftovers(tmp_path) == []


def test_server_dying_mid_file_then_recovering(server, tmp_path, parquet_bytes):
    server.plan = ["dies"]
    path = fetch(DS, base_url=server.url, retries=2, backoff=0.001)
    assert path.read_bytes() == parquet_bytes
    assert len(server.requests) == 2


def test_server_dying_every_time_leaves_no_file(server, tmp_path):
    server.default = "dies"
    with pytest.raises(DownloadError):
        fetch(DS, base_url=server.url, retries=1, backoff=0.001)
    assert _leftovers(tmp_path) == []


def test_slow_server_times_out(server, tmp_path):
    server.default = "slow"
    with pytest.raises(DownloadError) as exc:
        fetch(DS, base_url=server.url, timeout=0.3, retries=1, backoff=0.001)
    assert "timed out" in str(exc.value).lower()
    assert len(server.requests) == 2
    assert _leftovers(tmp_path) == []


def test_non_parquet_body_is_corrupt_and_removed(server, tmp_path):
    server.default = "html"
    with pytest.raises(CorruptDataError) as exc:
        fetch(DS, base_url=server.url)
    assert "not a readable parquet" in str(exc.value)
    assert _leftovers(tmp_path) == []


def test_corrupt_cached_file_is_downloaded_again(server, tmp_path, parquet_bytes):
    target = tmp_path / "cache" / "tlc" / DS.file_name
    target.parent.mkdir(parents=True)
    target.write_bytes(b"PAR1 half a file")
    fetch(DS, base_url=server.url)
    assert target.read_bytes() == parquet_bytes


def test_unreachable_host_gives_up_after_two_attempts(server, tmp_path, monkeypatch):
    sleeps = []
    monkeypatch.setattr(download.time, "sleep", sleeps.append)
    url = server.url
    server.close()
    with pytest.raises(DownloadError) as exc:
        fetch(DS, base_url=url, retries=5, backoff=0.001)
    assert len(sleeps) == 1  # two attempts, not six: the learner is not kept waiting
    assert "2 attempt(s)" in str(exc.value) and isinstance(exc.value, OfflineError)
    assert "127.0.0.1 refused the connection" in str(exc.value)
    assert _leftovers(tmp_path) == []


def test_downloaded_file_has_normal_permissions(server):
    import os

    mask = os.umask(0)
    os.umask(mask)
    path = fetch(DS, base_url=server.url)
    assert path.stat().st_mode & 0o777 == 0o666 & ~mask


@pytest.mark.parametrize(
    "name", ["green:2013-07", "fhvhv:2019-01", "fhv:2014-12", "yellow:2008-12"]
)
def test_months_before_a_service_began_are_refused_offline(server, name):
    with pytest.raises(MonthNotPublishedError) as exc:
        fetch(name, base_url=server.url)
    assert server.requests == []
    assert "before" in str(exc.value)


def test_months_not_over_are_refused_offline(server):
    today = dt.date.today()
    with pytest.raises(MonthNotPublishedError):
        fetch(Dataset("green", today.year, today.month), base_url=server.url)
    with pytest.raises(MonthNotPublishedError):
        fetch(Dataset("yellow", today.year + 1, 1), base_url=server.url)
    assert server.requests == []


def test_offline_never_calls_the_network(server, monkeypatch):
    monkeypatch.setenv("MLOPS_KIT_OFFLINE", "1")
    with pytest.raises(DownloadError) as exc:
        fetch(DS, base_url=server.url)
    assert server.requests == []
    assert "MLOPS_KIT_OFFLINE" in str(exc.value)


def test_read_trips_downloads_when_nothing_on_disk(server, monkeypatch):
    monkeypatch.delenv("MLOPS_KIT_DATA_DIR", raising=False)
    monkeypatch.setenv("MLOPS_KIT_TLC_BASE_URL", server.url)
    df = read_trips("green:2021-01", source="real")
    assert len(df) == 500 and df.attrs["origin"] == "download"
    again = read_trips("green:2021-01", source="real")
    assert again.attrs["origin"] == "cache" and len(server.requests) == 1


def test_unresolvable_host_is_not_retried(monkeypatch, tmp_path):
    import requests

    monkeypatch.setenv("MLOPS_KIT_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("MLOPS_KIT_OFFLINE", raising=False)
    calls = []

    def no_dns(url, **kwargs):
        calls.append(url)
        raise requests.exceptions.ConnectionError(
            "Failed to resolve 'example.invalid' (NameResolutionError: Name or service not known)"
        )

    monkeypatch.setattr(requests, "get", no_dns)
    with pytest.raises(DownloadError) as exc:
        fetch(DS, base_url="http://example.invalid/trip-data", retries=3, backoff=0.001)
    assert len(calls) == 1  # no network: retrying would only make the learner wait
    assert isinstance(exc.value, OfflineError)
    message = str(exc.value)
    assert "example.invalid does not resolve" in message
    assert "NameResolutionError" not in message and "Failed to resolve" not in message
    assert _leftovers(tmp_path) == []


def test_zone_lookup_download_keeps_na(server, monkeypatch, tmp_path):
    monkeypatch.delenv("MLOPS_KIT_DATA_DIR", raising=False)
    monkeypatch.setenv("MLOPS_KIT_TLC_BASE_URL", server.url)
    server.body = (
        b'"LocationID","Borough","Zone","service_zone"\n'
        b'264,"Unknown","N/A","N/A"\n265,"N/A","Outside of NYC","N/A"\n'
    )
    zones = read_zones()
    assert server.requests == ["/trip-data/taxi_zone_lookup.csv"]
    assert zones.Borough.tolist() == ["Unknown", "N/A"]
    assert (tmp_path / "cache" / "tlc" / "taxi_zone_lookup.csv").is_file()
    read_zones()
    assert len(server.requests) == 1  # cached


def test_cli_fetch_json(server, monkeypatch, tmp_path, capsys):
    import json

    from mlops_kit.cli import main

    monkeypatch.setenv("MLOPS_KIT_TLC_BASE_URL", server.url)
    assert main(["data", "fetch", "green:2021-01", "green:2021-02", "--json"]) == 0
    fetched = json.loads(capsys.readouterr().out)["fetched"]
    assert [f["dataset"] for f in fetched] == ["green:2021-01", "green:2021-02"]
    assert all(
        (tmp_path / "cache" / "tlc").joinpath(f"green_tripdata_2021-0{i}.parquet").is_file()
        for i in (1, 2)
    )
    server.default = "404"
    assert main(["data", "fetch", "green:2021-03", "--force"]) == 2
    assert "HTTP 404" in capsys.readouterr().err
