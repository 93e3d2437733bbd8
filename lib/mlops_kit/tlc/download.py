"""Downloading TLC files, never leaving a half file under the real name.

:func:`fetch` gets one month into ``<cache>/tlc/``: it refuses months that cannot exist
without asking TLC, retries what a later attempt may fix (network errors, HTTP 5xx) with a
doubling wait, gives up at once when there is no network at all, shows a progress bar on a
terminal, and renames the file into place only after :func:`validate_parquet` has opened
its footer. :func:`fetch_zones` does the same for the zone lookup table.

Errors are one paragraph: the short cause (``the host name ... does not resolve``), never
the network library's own dump, which is logged at DEBUG for whoever needs it.
"""

from __future__ import annotations

import logging
import os
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit

from .. import config
from ..errors import CorruptDataError, DataNotFoundError, DownloadError, MonthNotPublishedError
from ..fileio import atomic_write, publish_mode
from .datasets import ZONES_FILE, ZONES_URL, Dataset, check_month, parse_dataset, tlc_url

log = logging.getLogger(__name__)

#: seconds to wait before retry n is ``BACKOFF_SECONDS * 2 ** n`` (tests make it tiny)
BACKOFF_SECONDS = 1.0

#: (connect, read) timeouts in seconds for downloads
DEFAULT_TIMEOUT = (5.0, 60.0)

#: what to do when a month's real file cannot be had (``{id}``: the dataset id)
FALLBACK_FIX = (
    "Put the file in a folder and set MLOPS_KIT_DATA_DIR to it, run "
    '`mlops-kit data synth {id}` and read it with source="synthetic", or retry when online.'
)


class OfflineError(DownloadError):
    """The network could not be reached at all: no DNS, the host unreachable, or offline.

    Unlike a server error, no other month will download either, so callers stop trying.
    """


def download_path(dataset: str | Dataset) -> Path:
    """Return where :func:`fetch` stores a dataset: ``<cache_dir>/tlc/<file>``."""
    return config.cache_dir() / "tlc" / parse_dataset(dataset).file_name


def validate_parquet(path: str | os.PathLike, *, what: str | None = None):
    """Open a parquet file's footer and return the :class:`pyarrow.parquet.ParquetFile`.

    Raises:
        DataNotFoundError: nothing is at ``path``, or a folder is.
        CorruptDataError: the file is truncated, empty, or not parquet (an HTML error page
            saved under a ``.parquet`` name, a half download).
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = Path(path)
    if not path.is_file():
        raise not_a_file_error(path)
    try:
        return pq.ParquetFile(path)
    except (pa.ArrowException, OSError, ValueError) as exc:
        size = path.stat().st_size if path.exists() else 0
        raise CorruptDataError(
            f"{what or path.name}: {path} ({size:,} bytes) is not a readable parquet file "
            f"({_first_line(exc)}); it is probably a truncated download or an error page.",
            f"Delete {path} and fetch it again (`mlops-kit data fetch --force ...`), or copy "
            "a good copy of the file there.",
        ) from exc


def not_a_file_error(path: Path) -> DataNotFoundError:
    """The error for a path given as a trip file that is a folder or is not there at all."""
    if path.is_dir():
        return DataNotFoundError(
            f"{path} is a folder, not a parquet file.",
            "Give the path of one .parquet file in it, or a dataset id such as green:2021-01 "
            f"(with MLOPS_KIT_DATA_DIR={path} the kit reads the TLC months it holds).",
        )
    where = "" if path.is_absolute() else f" (looked for {Path.cwd() / path})"
    return DataNotFoundError(
        f"There is no file {path}{where}.",
        "Check the name and the folder, or give a dataset id such as green:2021-01 to let the "
        "kit find or download the month.",
    )


def _first_line(exc: BaseException) -> str:
    """An exception's text on one line, without a closing period (it goes inside a sentence)."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text.rstrip(". ")


def _not_published(ds: Dataset, status: int, url: str) -> MonthNotPublishedError:
    return MonthNotPublishedError(
        f"{ds.id}: TLC answered HTTP {status} for {url}: the month is not published (TLC "
        "releases each month with a delay of about two months) or the name is wrong.",
        "Pick an earlier month, or check the list on "
        "https://www.nyc.gov/site/tlc/about/tlc-trip-record-data.page.",
    )


class _Retryable(Exception):
    """An attempt failed in a way that a later attempt may not (network, 5xx).

    ``unreachable``: the host could not be reached at all (refused, connect timeout);
    ``final``: no later attempt can help (the host name does not resolve: no network).
    """

    def __init__(self, message: str, *, unreachable: bool = False, final: bool = False):
        super().__init__(message)
        self.unreachable = unreachable
        self.final = final


def _network_failure(exc: Exception, url: str) -> _Retryable:
    """Turn a ``requests`` error into a short cause; the library's own text goes to DEBUG."""
    import requests

    log.debug("%s: %r", url, exc)
    host = urlsplit(url).hostname or url
    text = repr(exc)
    if any(s in text for s in ("NameResolutionError", "Name or service", "name resolution")):
        return _Retryable(
            f"the host name {host} does not resolve (no network, or no DNS)", final=True
        )
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return _Retryable(f"connecting to {host} timed out", unreachable=True)
    if isinstance(exc, requests.exceptions.ReadTimeout):
        return _Retryable(f"{host} stopped sending: read timed out")
    if isinstance(exc, requests.exceptions.ConnectionError):
        refused = "refused" in text.lower()
        cause = "refused the connection" if refused else "could not be reached"
        return _Retryable(f"{host} {cause}", unreachable=True)
    return _Retryable(f"the request to {host} failed ({type(exc).__name__})")


def fetch(
    dataset: str | Dataset,
    *,
    force: bool = False,
    base_url: str | None = None,
    timeout: float | tuple[float, float] = DEFAULT_TIMEOUT,
    retries: int = 3,
    backoff: float | None = None,
    progress: bool | None = None,
) -> Path:
    """Download a TLC month into the cache and return its path.

    The body streams into a temporary file next to the target, with a progress bar on a
    terminal; the file is renamed into place only after its parquet footer opens, so a
    cut connection never leaves a half file under the real name.

    Args:
        dataset: a :class:`~mlops_kit.tlc.datasets.Dataset` or its id, e.g.
            ``"green:2021-01"``.
        force: download again even when the cached file is valid.
        base_url: folder URL to download from (default TLC or ``MLOPS_KIT_TLC_BASE_URL``).
        timeout: seconds to connect and to wait for each chunk, one number or a pair.
        retries: further attempts after a network error or an HTTP 5xx (never after 403/404).
        backoff: seconds before the first retry, doubling each time
            (default :data:`BACKOFF_SECONDS`).
        progress: show a tqdm bar; None shows it only on a terminal.

    Returns:
        ``<cache_dir>/tlc/<file name>``.

    Raises:
        MonthNotPublishedError: a month before the service began, not yet over, or one
            TLC answers 403/404 for.
        OfflineError: ``MLOPS_KIT_OFFLINE=1``, or the network cannot be reached at all.
        DownloadError: timeouts, server errors, or the connection cut mid-file, after all
            retries.
        CorruptDataError: the server sent something that is not parquet.
    """
    ds = parse_dataset(dataset)
    check_month(ds)
    target = download_path(ds)
    if target.is_file() and not force:
        try:
            validate_parquet(target, what=ds.id)
            return target
        except CorruptDataError:
            log.warning("%s: cached %s is not valid parquet; downloading it again", ds.id, target)
    if config.offline():
        raise OfflineError(
            f"{ds.id}: MLOPS_KIT_OFFLINE=1 forbids downloading {ds.file_name}.",
            FALLBACK_FIX.format(id=ds.id) + " Or unset MLOPS_KIT_OFFLINE.",
        )
    url = tlc_url(ds, base_url)
    delay = BACKOFF_SECONDS if backoff is None else backoff
    attempts = max(0, int(retries)) + 1
    last: _Retryable | None = None
    unreachable = 0
    for attempt in range(attempts):
        if attempt:
            wait = delay * 2 ** (attempt - 1)
            log.info("%s: retry %d/%d in %.2f s after: %s", ds.id, attempt, retries, wait, last)
            time.sleep(wait)
        try:
            _download_once(ds, url, target, timeout=timeout, progress=progress)
            return target
        except _Retryable as exc:
            last = exc
            unreachable += exc.unreachable
            # no DNS means no network, and a host unreachable twice is down or blocked:
            # in both cases more attempts would only keep a learner waiting
            if exc.final or unreachable >= 2:
                break
    error = OfflineError if last.final or unreachable >= 2 else DownloadError
    raise error(
        f"{ds.id}: could not download {url} after {attempt + 1} attempt(s): {last}.",
        FALLBACK_FIX.format(id=ds.id),
    ) from last


def _download_once(ds: Dataset, url: str, target: Path, *, timeout, progress) -> None:
    import requests
    from tqdm import tqdm

    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out:
            try:
                response = requests.get(url, stream=True, timeout=timeout)
            except requests.exceptions.RequestException as exc:
                raise _network_failure(exc, url) from exc
            with response:
                if response.status_code in (403, 404):
                    raise _not_published(ds, response.status_code, url)
                if response.status_code >= 500:
                    raise _Retryable(f"HTTP {response.status_code} from {url}")
                if response.status_code != 200:
                    raise DownloadError(
                        f"{ds.id}: unexpected HTTP {response.status_code} for {url}.",
                        FALLBACK_FIX.format(id=ds.id),
                    )
                expected = int(response.headers.get("Content-Length") or 0) or None
                written = 0
                with tqdm(
                    total=expected,
                    unit="B",
                    unit_scale=True,
                    unit_divisor=1024,
                    desc=ds.file_name,
                    disable=None if progress is None else not progress,
                    leave=False,
                ) as bar:
                    try:
                        for chunk in response.iter_content(chunk_size=1 << 16):
                            out.write(chunk)
                            written += len(chunk)
                            bar.update(len(chunk))
                    except requests.exceptions.RequestException as exc:
                        log.debug("%s: %r", url, exc)
                        raise _Retryable(f"the connection was cut after {written:,} bytes") from exc
                if expected is not None and written != expected:
                    raise _Retryable(f"got {written:,} of {expected:,} bytes")
        validate_parquet(tmp, what=f"{ds.id} (downloaded from {url})")
        publish_mode(tmp)
        os.replace(tmp, target)
    finally:
        if tmp.exists():
            tmp.unlink()


def fetch_zones(target: Path, timeout=DEFAULT_TIMEOUT) -> Path:
    """Download TLC's zone lookup table to ``target`` (written atomically) and return it.

    Raises:
        OfflineError: ``MLOPS_KIT_OFFLINE=1``.
        DownloadError: the download failed.
    """
    if config.offline():
        raise OfflineError(
            f"{ZONES_FILE} is not on disk and MLOPS_KIT_OFFLINE=1 forbids downloading it.",
            f"Put {ZONES_FILE} in MLOPS_KIT_DATA_DIR, or unset MLOPS_KIT_OFFLINE.",
        )
    import requests

    base = os.environ.get("MLOPS_KIT_TLC_BASE_URL", "").strip()
    url = f"{base.rstrip('/')}/{ZONES_FILE}" if base else ZONES_URL
    try:
        response = requests.get(url, timeout=timeout)
        response.raise_for_status()
    except requests.exceptions.HTTPError as exc:
        raise DownloadError(
            f"Could not download the zone lookup {url}: HTTP {exc.response.status_code}.",
            f"Put {ZONES_FILE} in MLOPS_KIT_DATA_DIR, or retry later.",
        ) from exc
    except requests.exceptions.RequestException as exc:
        cause = _network_failure(exc, url)
        error = OfflineError if cause.final or cause.unreachable else DownloadError
        raise error(
            f"Could not download the zone lookup {url}: {cause}.",
            f"Put {ZONES_FILE} in MLOPS_KIT_DATA_DIR, or retry when online.",
        ) from exc
    target.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(target, response.content)
    return target
