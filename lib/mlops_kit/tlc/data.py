"""NYC TLC trip data: dataset names, URLs, download, reading and a quick summary.

A dataset is a service and a month, written ``service:YYYY-MM`` (``green:2021-01``).
:func:`read_trips` finds its file in this order and says in ``df.attrs`` which one won:

1. an explicit path (``read_trips("data/green_tripdata_2021-01.parquet")``);
2. a file of that name in ``MLOPS_KIT_DATA_DIR`` (real files an instructor or CI provides);
3. the kit's cache (``config.cache_dir()``: ``data/`` in a checkout, else the user cache),
   either ``<cache>/tlc/<file>`` (where :func:`fetch` puts downloads) or ``<cache>/<file>``
   (where the course's ``wget`` puts them);
4. a download from TLC (unless ``MLOPS_KIT_OFFLINE=1``).

When all of these fail, ``source="auto"`` falls back to a seeded synthetic month with the
real schema (:mod:`mlops_kit.tlc.synthetic`) and logs a WARNING that names the dataset and the
reason; ``source="real"`` raises instead; ``source="synthetic"`` never touches real data.

Example:
    >>> from mlops_kit.tlc.data import read_trips, is_synthetic
    >>> df = read_trips("green:2021-01", columns=["lpep_pickup_datetime", "PULocationID"])
    >>> df.attrs["origin"], is_synthetic(df)   # doctest: +SKIP
    ('data_dir', False)
"""

from __future__ import annotations

import datetime as _dt
import logging
import os
import re
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .. import config
from ..errors import (
    BadParameterError,
    CorruptDataError,
    DataNotFoundError,
    DatasetNameError,
    DownloadError,
    MissingColumnsError,
    MonthNotPublishedError,
)
from ..fileio import atomic_write, file_sha256, publish_mode
from .schemas import DATETIME_COLUMNS, LOCATION_COLUMNS

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

log = logging.getLogger(__name__)

#: the four TLC services, in the order TLC lists them
SERVICES = ("yellow", "green", "fhv", "fhvhv")

#: first month each service published (requests before it are refused without the network)
SERVICE_START = {"yellow": (2009, 1), "green": (2013, 8), "fhv": (2015, 1), "fhvhv": (2019, 2)}

#: where TLC serves the monthly files; MLOPS_KIT_TLC_BASE_URL overrides it (mirrors, tests)
DEFAULT_BASE_URL = "https://d37ci6vzurychx.cloudfront.net/trip-data"

#: TLC's taxi zone lookup table (LocationID, Borough, Zone, service_zone)
ZONES_URL = "https://d37ci6vzurychx.cloudfront.net/misc/taxi_zone_lookup.csv"
ZONES_FILE = "taxi_zone_lookup.csv"

#: accepted values of ``source=``
SOURCES = ("auto", "real", "synthetic")

#: seconds to wait before retry n is ``BACKOFF_SECONDS * 2 ** n`` (tests make it tiny)
BACKOFF_SECONDS = 1.0

#: (connect, read) timeouts in seconds for downloads
DEFAULT_TIMEOUT = (5.0, 60.0)

_FILE_RE = re.compile(
    r"^(yellow|green|fhv|fhvhv)_tripdata_(\d{4})-(\d{2})(?:[._-][\w.-]*)?\.parquet$"
)
_ID_RE = re.compile(r"^\s*([A-Za-z]+)\s*[:/_ ]\s*(\d{4})-(\d{1,2})\s*$")

_FALLBACK_FIX = (
    "Put the file in a folder and set MLOPS_KIT_DATA_DIR to it, run "
    '`mlops-kit data synth {id}` and read it with source="synthetic", or retry when online.'
)


# --------------------------------------------------------------------------- names


@dataclass(frozen=True, order=True)
class Dataset:
    """One TLC monthly file, named by service and month (``green:2021-01``).

    The dataclass is frozen, so datasets can be dictionary keys and compare by value.

    Attributes:
        service: ``yellow``, ``green``, ``fhv`` (for-hire vehicles) or ``fhvhv``
            (high-volume for-hire: Uber, Lyft...).
        year: the data year.
        month: 1..12.
    """

    service: str
    year: int
    month: int

    def __post_init__(self):
        try:  # accept "2021" and "01" too, but store ints
            object.__setattr__(self, "year", int(self.year))
            object.__setattr__(self, "month", int(self.month))
        except (TypeError, ValueError):
            raise DatasetNameError(
                f"{self.year!r}-{self.month!r} is not a year and month.",
                "Write the month as YYYY-MM, e.g. green:2021-01.",
            ) from None
        if self.service not in SERVICES:
            raise DatasetNameError(
                f"Unknown TLC service {self.service!r}.",
                f"Use one of {', '.join(SERVICES)} (e.g. green:2021-01).",
            )
        if not 1 <= int(self.month) <= 12 or not 1900 < int(self.year) < 3000:
            raise DatasetNameError(
                f"{self.year}-{self.month} is not a valid month.",
                "Write the month as YYYY-MM, e.g. green:2021-01.",
            )

    @property
    def id(self) -> str:
        """The dataset id, ``service:YYYY-MM``."""
        return f"{self.service}:{self.year:04d}-{self.month:02d}"

    @property
    def month_id(self) -> str:
        """The month alone, ``YYYY-MM``."""
        return f"{self.year:04d}-{self.month:02d}"

    @property
    def file_name(self) -> str:
        """TLC's file name, e.g. ``green_tripdata_2021-01.parquet``."""
        return f"{self.service}_tripdata_{self.month_id}.parquet"

    @property
    def url(self) -> str:
        """The public URL (``MLOPS_KIT_TLC_BASE_URL`` replaces TLC's host when set)."""
        return tlc_url(self)

    @property
    def pickup_column(self) -> str:
        """Pickup time column: ``lpep_*`` green, ``tpep_*`` yellow, ``pickup_datetime`` FHV."""
        return DATETIME_COLUMNS[self.service][0]

    @property
    def dropoff_column(self) -> str:
        """Dropoff time column (``dropOff_datetime`` with a capital O for fhv)."""
        return DATETIME_COLUMNS[self.service][1]

    @property
    def location_columns(self) -> tuple[str, str]:
        """Pickup and dropoff zone columns (fhv: ``PUlocationID``, ``DOlocationID``)."""
        return LOCATION_COLUMNS[self.service]

    @property
    def month_start(self) -> _dt.datetime:
        """Midnight on the first day of the month (naive, New York local time as TLC)."""
        return _dt.datetime(self.year, self.month, 1)

    @property
    def month_end(self) -> _dt.datetime:
        """Midnight on the first day of the *next* month (exclusive end)."""
        year, month = (self.year + 1, 1) if self.month == 12 else (self.year, self.month + 1)
        return _dt.datetime(year, month, 1)

    def __str__(self) -> str:
        return self.id


def parse_dataset(value: str | Dataset) -> Dataset:
    """Parse ``"green:2021-01"`` (or a TLC file name) into a :class:`Dataset`.

    Accepts ``service:YYYY-MM``, ``service/YYYY-MM``, ``service_YYYY-MM`` and the file name
    ``green_tripdata_2021-01.parquet``; a :class:`Dataset` is returned unchanged.

    Raises:
        DatasetNameError: when the text names no service and month.
    """
    if isinstance(value, Dataset):
        return value
    text = str(value)
    match = _FILE_RE.match(Path(text).name) or _ID_RE.match(text)
    if not match:
        raise DatasetNameError(
            f"{text!r} is not a TLC dataset name.",
            "Write service:YYYY-MM with service in yellow, green, fhv, fhvhv (e.g. green:2021-01).",
        )
    service, year, month = match.group(1).lower(), int(match.group(2)), int(match.group(3))
    return Dataset(service, year, month)


def tlc_url(dataset: str | Dataset, base_url: str | None = None) -> str:
    """Return the download URL of a dataset.

    Args:
        dataset: a :class:`Dataset` or its id.
        base_url: replaces TLC's folder URL; default ``MLOPS_KIT_TLC_BASE_URL`` or
            :data:`DEFAULT_BASE_URL`. Tests point it at a server on 127.0.0.1.
    """
    ds = parse_dataset(dataset)
    base = base_url or os.environ.get("MLOPS_KIT_TLC_BASE_URL", "").strip() or DEFAULT_BASE_URL
    return f"{base.rstrip('/')}/{ds.file_name}"


def _dataset_of_path(path: Path) -> Dataset | None:
    match = _FILE_RE.match(path.name)
    return Dataset(match.group(1), int(match.group(2)), int(match.group(3))) if match else None


def _looks_like_path(value: Any) -> bool:
    if isinstance(value, Path):
        return True
    text = str(value)
    return text.endswith(".parquet") or os.sep in text or (os.altsep or "\0") in text


# --------------------------------------------------------------------------- resolution


@dataclass(frozen=True)
class Resolution:
    """Where a dataset's data comes from, decided without reading it.

    Attributes:
        dataset: the dataset, or None for a path whose name is not a TLC file name.
        path: the file (for ``download`` and ``synthetic``: where it would be written).
        origin: ``path``, ``data_dir``, ``cache``, ``download`` or ``synthetic``.
        exists: whether ``path`` is already on disk.
    """

    dataset: Dataset | None
    path: Path
    origin: str
    exists: bool

    @property
    def synthetic(self) -> bool:
        """True when the data would be synthetic."""
        return self.origin == "synthetic"


def download_path(dataset: str | Dataset) -> Path:
    """Return where :func:`fetch` stores a dataset: ``<cache_dir>/tlc/<file>``."""
    return config.cache_dir() / "tlc" / parse_dataset(dataset).file_name


def _local_candidates(ds: Dataset) -> list[tuple[Path, str]]:
    found = []
    folder = config.data_dir()
    if folder is not None:
        found.append((folder / ds.file_name, "data_dir"))
    cache = config.cache_dir()
    found.append((cache / "tlc" / ds.file_name, "cache"))
    found.append((cache / ds.file_name, "cache"))
    return found


def resolve(
    dataset_or_path: str | os.PathLike | Dataset,
    *,
    source: str = "auto",
    rows: int | None = None,
    seed: int = 42,
) -> Resolution:
    """Say where :func:`read_trips` would get the data, without reading or downloading.

    For a dataset that is on disk nowhere, the answer is ``download`` (with the path the
    download would create), or ``synthetic`` when offline and ``source="auto"``.

    Raises:
        DataNotFoundError: an explicit path that does not exist; with ``source="real"``
            and offline, a dataset on disk nowhere.
    """
    _check_source(source)
    if _looks_like_path(dataset_or_path):
        path = Path(dataset_or_path).expanduser()
        if not path.is_file():
            raise DataNotFoundError(
                f"No file at {path}.",
                "Check the path, or pass a dataset id such as green:2021-01 to let the kit "
                "find or download it.",
            )
        return Resolution(_dataset_of_path(path), path, "path", True)
    ds = parse_dataset(dataset_or_path)
    if source == "synthetic":
        from .synthetic import synthetic_path

        path = synthetic_path(ds.service, ds, rows, seed)
        return Resolution(ds, path, "synthetic", path.is_file())
    for path, origin in _local_candidates(ds):
        if path.is_file():
            return Resolution(ds, path, origin, True)
    if config.offline() and source == "auto":
        from .synthetic import synthetic_path

        path = synthetic_path(ds.service, ds, rows, seed)
        return Resolution(ds, path, "synthetic", path.is_file())
    if config.offline():
        raise _offline_error(ds)
    return Resolution(ds, download_path(ds), "download", False)


def _offline_error(ds: Dataset) -> DataNotFoundError:
    where = ", ".join(str(p) for p, _ in _local_candidates(ds))
    return DataNotFoundError(
        f"{ds.id}: {ds.file_name} is not on disk (looked in {where}) and MLOPS_KIT_OFFLINE=1 "
        "forbids downloading it.",
        _FALLBACK_FIX.format(id=ds.id) + " Or unset MLOPS_KIT_OFFLINE.",
    )


def _check_source(source: str) -> None:
    if source not in SOURCES:
        raise BadParameterError(
            f"source={source!r} is not one of {', '.join(SOURCES)}.",
            'Use source="auto" (real data, else synthetic with a warning), "real" or "synthetic".',
        )


# --------------------------------------------------------------------------- download


def _month_is_published(
    ds: Dataset, today: _dt.date | None = None
) -> MonthNotPublishedError | None:
    start = SERVICE_START[ds.service]
    if (ds.year, ds.month) < start:
        return MonthNotPublishedError(
            f"{ds.id}: TLC has no {ds.service} data before {start[0]}-{start[1]:02d} "
            "(when that service's records begin).",
            f"Pick a month from {start[0]}-{start[1]:02d} on.",
        )
    today = today or _dt.date.today()
    if (ds.year, ds.month) >= (today.year, today.month):
        return MonthNotPublishedError(
            f"{ds.id}: that month is not over yet, so TLC cannot have published it.",
            "Pick an earlier month; TLC publishes each month about two months after it ends.",
        )
    return None


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


def validate_parquet(path: str | os.PathLike, *, what: str | None = None):
    """Open a parquet file's footer and return the :class:`pyarrow.parquet.ParquetFile`.

    Raises:
        CorruptDataError: the file is truncated, empty, or not parquet (an HTML error page
            saved under a ``.parquet`` name, a half download).
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = Path(path)
    try:
        return pq.ParquetFile(path)
    except (pa.ArrowException, OSError, ValueError) as exc:
        size = path.stat().st_size if path.exists() else 0
        raise CorruptDataError(
            f"{what or path.name}: {path} ({size:,} bytes) is not a readable parquet file "
            f"({exc}). It is probably a truncated download or an error page.",
            f"Delete {path} and fetch it again (`mlops-kit data fetch --force ...`), or copy "
            "a good copy of the file there.",
        ) from exc


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
        dataset: a :class:`Dataset` or its id, e.g. ``"green:2021-01"``.
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
        DownloadError: offline, no network, timeouts, or the connection cut mid-file,
            after all retries.
        CorruptDataError: the server sent something that is not parquet.
    """
    ds = parse_dataset(dataset)
    refusal = _month_is_published(ds)
    if refusal is not None:
        raise refusal
    target = download_path(ds)
    if target.is_file() and not force:
        try:
            validate_parquet(target, what=ds.id)
            return target
        except CorruptDataError:
            log.warning("%s: cached %s is not valid parquet; downloading it again", ds.id, target)
    if config.offline():
        raise DownloadError(
            f"{ds.id}: MLOPS_KIT_OFFLINE=1 forbids downloading {ds.file_name}.",
            _FALLBACK_FIX.format(id=ds.id) + " Or unset MLOPS_KIT_OFFLINE.",
        )
    url = tlc_url(ds, base_url)
    delay = BACKOFF_SECONDS if backoff is None else backoff
    attempts = max(0, int(retries)) + 1
    last: Exception | None = None
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
            last = exc.__cause__ or exc
            unreachable += exc.unreachable
            # no DNS means no network, and a host unreachable twice is down or blocked:
            # in both cases more attempts would only keep a learner waiting
            if exc.final or unreachable >= 2:
                break
    raise DownloadError(
        f"{ds.id}: could not download {url} after {attempt + 1} attempt(s): {last}.",
        _FALLBACK_FIX.format(id=ds.id),
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
            except (requests.exceptions.ConnectionError, requests.exceptions.Timeout) as exc:
                raise _Retryable(
                    str(exc),
                    unreachable=not isinstance(exc, requests.exceptions.ReadTimeout),
                    final="NameResolutionError" in repr(exc) or "Name or service" in str(exc),
                ) from exc
            except requests.exceptions.RequestException as exc:
                raise _Retryable(str(exc)) from exc
            with response:
                if response.status_code in (403, 404):
                    raise _not_published(ds, response.status_code, url)
                if response.status_code >= 500:
                    raise _Retryable(f"HTTP {response.status_code} from {url}")
                if response.status_code != 200:
                    raise DownloadError(
                        f"{ds.id}: unexpected HTTP {response.status_code} for {url}.",
                        _FALLBACK_FIX.format(id=ds.id),
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
                        raise _Retryable(f"connection cut after {written:,} bytes: {exc}") from exc
                if expected is not None and written != expected:
                    raise _Retryable(f"got {written:,} of {expected:,} bytes")
        validate_parquet(tmp, what=f"{ds.id} (downloaded from {url})")
        publish_mode(tmp)
        os.replace(tmp, target)
    finally:
        if tmp.exists():
            tmp.unlink()


# --------------------------------------------------------------------------- reading


def _parquet_path(dataset_or_path, source, rows, seed) -> tuple[Dataset | None, Path, str]:
    """Find (or make) the file behind a request; returns (dataset, path, origin)."""
    _check_source(source)
    if _looks_like_path(dataset_or_path):
        res = resolve(dataset_or_path)
        return res.dataset, res.path, "path"
    ds = parse_dataset(dataset_or_path)
    if source == "synthetic":
        return ds, _synthesise(ds, rows, seed), "synthetic"
    try:
        return (ds, *_real_path(ds))
    except DataNotFoundError as exc:
        if source == "real":
            raise
        log.warning(
            "%s: using SYNTHETIC data (seeded, real schema) because the real file could not "
            "be had: %s",
            ds.id,
            exc.problem,
        )
        return ds, _synthesise(ds, rows, seed), "synthetic"


def _real_path(ds: Dataset) -> tuple[Path, str]:
    for path, origin in _local_candidates(ds):
        if path.is_file():
            return path, origin
    if config.offline():
        raise _offline_error(ds)
    return fetch(ds), "download"


def _synthesise(ds: Dataset, rows: int | None, seed: int) -> Path:
    from .synthetic import synthetic_trips

    return synthetic_trips(ds.service, ds, rows, seed)


def _missing_columns(path: Path, wanted: Sequence[str], available: Sequence[str], what: str):
    missing = [c for c in wanted if c not in set(available)]
    if missing:
        raise MissingColumnsError(
            f"{what}: {path} has no column(s) {', '.join(map(repr, missing))}; it has "
            f"{', '.join(available)}.",
            "Ask only for columns this service and month has (names differ by service and "
            "year, e.g. fhv's PUlocationID, yellow's Airport_fee from 2023-02), or use the "
            "right file.",
        )


def read_trips(
    dataset_or_path: str | os.PathLike | Dataset,
    columns: Sequence[str] | None = None,
    *,
    source: str = "auto",
    rows: int | None = None,
    seed: int = 42,
) -> pd.DataFrame:
    """Read a TLC month (or any trip parquet file) into a DataFrame.

    This is the course's ``pd.read_parquet(...)`` with the finding, downloading, checking
    and labelling done once for everyone. ``df.attrs`` records the provenance:
    ``dataset`` (id or None), ``path``, ``synthetic`` (bool) and ``origin`` (``path``,
    ``data_dir``, ``cache``, ``download`` or ``synthetic``).

    Args:
        dataset_or_path: ``"green:2021-01"``, a :class:`Dataset`, or a path to a parquet file.
        columns: read only these columns (faster and lighter: parquet stores columns apart).
        source: ``"auto"`` real data, else synthetic with a WARNING; ``"real"`` raise
            instead of falling back; ``"synthetic"`` always the synthetic month.
        rows: synthetic: how many rows to generate (default: a realistic month size);
            real: keep a seeded random sample of at most this many rows (file order kept).
        seed: seed of the synthetic data and of the row sample.

    Raises:
        DataNotFoundError: (``source="real"``) the file is nowhere and cannot be downloaded;
            its subclasses say why (MonthNotPublishedError, DownloadError).
        CorruptDataError: the file is not readable parquet.
        MissingColumnsError: a requested column is not in the file.
    """
    table, attrs = _read_table(dataset_or_path, columns, source=source, rows=rows, seed=seed)
    df = table.to_pandas()
    df.attrs.update(attrs)
    return df


#: rows per record batch of :func:`read_trip_batches` (Arrow's own default size)
BATCH_ROWS = 131_072
#: read buffer of :func:`read_trip_batches` (see its reader options)
READ_BUFFER_BYTES = 1 << 18


@dataclass(frozen=True)
class TripBatches:
    """A trip file opened for reading in record batches: see :func:`read_trip_batches`.

    Attributes:
        schema: the Arrow schema of the selected columns.
        num_rows: how many rows the batches hold in all.
        attrs: provenance, as ``read_trips`` puts in ``df.attrs``.
    """

    schema: Any
    num_rows: int
    attrs: dict
    _batches: Any = field(repr=False)

    def __iter__(self):
        return iter(self._batches)


def _open(dataset_or_path, columns, source, rows, seed):
    ds, path, origin = _parquet_path(dataset_or_path, source, rows, seed)
    what = ds.id if ds else path.name
    parquet = validate_parquet(path, what=what)
    if columns is not None:
        columns = list(columns)
        _missing_columns(path, columns, parquet.schema_arrow.names, what)
    attrs = {
        "dataset": ds.id if ds else None,
        "path": str(path),
        "synthetic": origin == "synthetic" or _marked_synthetic(parquet),
        "origin": origin,
    }
    return path, what, parquet, columns, attrs


def _unreadable(what: str, path, exc: Exception) -> CorruptDataError:
    return CorruptDataError(
        f"{what}: {path} has a valid footer but its data cannot be read ({exc}).",
        f"Delete {path} and fetch it again (`mlops-kit data fetch --force {what}`).",
    )


def _sample(table, rows, seed):
    import numpy as np

    rng = np.random.default_rng(seed)
    return table.take(np.sort(rng.choice(table.num_rows, size=int(rows), replace=False)))


def _read_table(dataset_or_path, columns, *, source, rows, seed):
    path, what, parquet, columns, attrs = _open(dataset_or_path, columns, source, rows, seed)
    parquet.close()
    return _read_opened(path, what, columns, attrs, rows, seed), attrs


def _read_opened(path, what, columns, attrs, rows, seed):
    """Read a file :func:`_open` checked, whole, or a seeded sample of ``rows`` of a real one."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(path, columns=columns)
    except (pa.ArrowException, OSError) as exc:
        raise _unreadable(what, path, exc) from exc
    if rows is not None and attrs["origin"] != "synthetic" and table.num_rows > rows:
        table = _sample(table, rows, seed)
    return table


def read_trip_batches(
    dataset_or_path: str | os.PathLike | Dataset,
    columns: Sequence[str] | None = None,
    *,
    source: str = "auto",
    rows: int | None = None,
    seed: int = 42,
    batch_rows: int = BATCH_ROWS,
    threads: bool = False,
) -> TripBatches:
    """Open a TLC month like :func:`read_trips`, to read it a record batch at a time.

    Reading a month in batches of ~130,000 rows and keeping only what each batch
    contributes needs about a third less memory than holding the whole table plus its
    DataFrame copy; :func:`mlops_kit.model.features.prepare_batches` works this way. The file
    is found, checked and labelled exactly as by :func:`read_trips` (same arguments, same
    errors); a sample of a real month (``rows``) is drawn from the whole table first.

    Pages are read through a 256 KiB buffer rather than whole column chunks at once
    (the reader then holds ~12 MB instead of ~64 MB, and reads no slower), and decoded
    on the calling thread unless ``threads`` (Arrow's thread pool):
    :func:`mlops_kit.model.training.train_and_evaluate` reads its two months on two threads.

    Returns:
        A :class:`TripBatches`: iterate over it for ``pyarrow.RecordBatch`` objects.

    Raises:
        The errors of :func:`read_trips`; a file whose pages turn out unreadable raises
        CorruptDataError while iterating.
    """
    import pyarrow as pa

    path, what, parquet, columns, attrs = _open(dataset_or_path, columns, source, rows, seed)
    schema = parquet.schema_arrow
    if columns is not None:
        schema = pa.schema([schema.field(name) for name in columns])
    num_rows = parquet.metadata.num_rows
    parquet.close()
    if rows is not None and attrs["origin"] != "synthetic" and num_rows > rows:
        table = _read_opened(path, what, columns, attrs, rows, seed)  # footer checked once
        return TripBatches(schema, table.num_rows, attrs, iter(table.to_batches(batch_rows)))

    def batches():
        import pyarrow.parquet as pq

        reader = None
        try:
            reader = pq.ParquetFile(path, pre_buffer=False, buffer_size=READ_BUFFER_BYTES)
            yield from reader.iter_batches(
                batch_size=batch_rows, columns=columns, use_threads=threads
            )
        except (pa.ArrowException, OSError) as exc:
            raise _unreadable(what, path, exc) from exc
        finally:
            if reader is not None:
                reader.close()
            # the reader's buffers go back to the OS, where the caller's next arrays find them
            pa.default_memory_pool().release_unused()

    return TripBatches(schema, num_rows, attrs, batches())


def _marked_synthetic(parquet) -> bool:
    """True when the file carries the synthetic marker (even if read by explicit path)."""
    from .synthetic import METADATA_KEY

    return METADATA_KEY in (parquet.schema_arrow.metadata or {})


def is_synthetic(df: pd.DataFrame) -> bool:
    """Return True when ``df`` came from :mod:`mlops_kit.tlc.synthetic` (``df.attrs``)."""
    return bool(getattr(df, "attrs", {}).get("synthetic", False))


# --------------------------------------------------------------------------- zones


def read_zones(path: str | os.PathLike | None = None) -> pd.DataFrame:
    """Read TLC's taxi zone lookup (LocationID, Borough, Zone, service_zone).

    Looks for ``taxi_zone_lookup.csv`` in ``MLOPS_KIT_DATA_DIR`` then the cache, else
    downloads it to the cache. ``keep_default_na=False`` keeps the strings ``"N/A"`` and
    ``"NA"`` that TLC uses for zones 264/265 (pandas would turn them into NaN).

    Raises:
        DataNotFoundError: not on disk and offline; DownloadError when the download fails.
    """
    import pandas as pd

    if path is None:
        candidates = []
        if config.data_dir() is not None:
            candidates.append(config.data_dir() / ZONES_FILE)
        candidates += [config.cache_dir() / "tlc" / ZONES_FILE, config.cache_dir() / ZONES_FILE]
        path = next((p for p in candidates if p.is_file()), None)
        if path is None:
            path = _fetch_zones(config.cache_dir() / "tlc" / ZONES_FILE)
    return pd.read_csv(path, keep_default_na=False, dtype={"LocationID": "int64"})


def _fetch_zones(target: Path, timeout=DEFAULT_TIMEOUT) -> Path:
    if config.offline():
        raise DataNotFoundError(
            f"{ZONES_FILE} is not on disk and MLOPS_KIT_OFFLINE=1 forbids downloading it.",
            f"Put {ZONES_FILE} in MLOPS_KIT_DATA_DIR, or unset MLOPS_KIT_OFFLINE.",
        )
    import requests

    base = os.environ.get("MLOPS_KIT_TLC_BASE_URL", "").strip()
    url = f"{base.rstrip('/')}/{ZONES_FILE}" if base else ZONES_URL
    try:
        response = requests.get(url, timeout=timeout)
        response.raise_for_status()
    except requests.exceptions.RequestException as exc:
        raise DownloadError(
            f"Could not download the zone lookup {url}: {exc}.",
            f"Put {ZONES_FILE} in MLOPS_KIT_DATA_DIR, or retry when online.",
        ) from exc
    target.parent.mkdir(parents=True, exist_ok=True)
    _atomic_write_bytes(target, response.content)
    return target


def _atomic_write_bytes(target: Path, data: bytes) -> None:
    atomic_write(target, data)


# --------------------------------------------------------------------------- info


def _pickup_range(path: Path, ds: Dataset | None, names: Sequence[str]):
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    column = ds.pickup_column if ds else next((c for c in names if "pickup_datetime" in c), None)
    if column is None or column not in names:
        return None, None, None
    values = pq.read_table(path, columns=[column]).column(column)
    bounds = pc.min_max(values).as_py()
    return column, bounds["min"], bounds["max"]


def dataset_info(
    dataset_or_path: str | os.PathLike | Dataset,
    *,
    source: str = "auto",
    rows: int | None = None,
    seed: int = 42,
    checksum: bool = True,
) -> dict[str, Any]:
    """Describe a dataset's file without loading it all: rows, columns, dates, size, sha256.

    Reads the parquet footer (row count, schema) and the pickup column only.

    Returns:
        A dict with ``dataset``, ``path``, ``origin``, ``synthetic``, ``rows``,
        ``columns`` (name -> Arrow type), ``pickup_column``, ``pickup_min``,
        ``pickup_max``, ``size_bytes`` and ``sha256`` (None when ``checksum=False``).
    """
    ds, path, origin = _parquet_path(dataset_or_path, source, rows, seed)
    parquet = validate_parquet(path, what=ds.id if ds else path.name)
    schema = parquet.schema_arrow
    column, low, high = _pickup_range(path, ds, schema.names)
    return {
        "dataset": ds.id if ds else None,
        "path": str(path),
        "origin": origin,
        "synthetic": origin == "synthetic" or _marked_synthetic(parquet),
        "rows": parquet.metadata.num_rows,
        "columns": {field.name: str(field.type) for field in schema},
        "pickup_column": column,
        "pickup_min": low.isoformat(sep=" ") if low is not None else None,
        "pickup_max": high.isoformat(sep=" ") if high is not None else None,
        "size_bytes": path.stat().st_size,
        "sha256": file_sha256(path) if checksum else None,
    }


def trip_summary(
    dataset_or_path: str | os.PathLike | Dataset,
    *,
    source: str = "auto",
    rows: int | None = None,
    seed: int = 42,
    min_duration: float = 1.0,
    max_duration: float = 60.0,
) -> dict[str, Any]:
    """Summarise a month the way the course looks at it first: size, dates, durations.

    Reads only the pickup and dropoff columns.

    Returns:
        A dict with ``dataset``, ``origin``, ``synthetic``, ``path``, ``rows``,
        ``pickup_min``/``pickup_max``, ``share_in_month`` (pickups inside the month),
        ``share_kept`` (durations within ``[min_duration, max_duration]`` minutes, the
        course's outlier filter), ``duration_mean_min`` and ``duration_median_min``.
    """
    first = dataset_or_path
    ds = None if _looks_like_path(first) else parse_dataset(first)
    if ds is None:
        guess = _dataset_of_path(Path(first))
        if guess is None:
            raise DatasetNameError(
                f"{first}: cannot tell the service from the file name, so not which columns "
                "hold the pickup and dropoff times.",
                "Use TLC's file name (e.g. green_tripdata_2021-01.parquet) or a dataset id.",
            )
        ds = guess
    df = read_trips(
        dataset_or_path,
        columns=[ds.pickup_column, ds.dropoff_column],
        source=source,
        rows=rows,
        seed=seed,
    )
    pickup, dropoff = df[ds.pickup_column], df[ds.dropoff_column]
    minutes = (dropoff - pickup).dt.total_seconds() / 60
    kept = minutes.between(min_duration, max_duration)
    inside = (pickup >= ds.month_start) & (pickup < ds.month_end)
    n = len(df)
    return {
        "dataset": df.attrs["dataset"],
        "origin": df.attrs["origin"],
        "synthetic": df.attrs["synthetic"],
        "path": df.attrs["path"],
        "rows": n,
        "pickup_min": str(pickup.min()) if n else None,
        "pickup_max": str(pickup.max()) if n else None,
        "share_in_month": float(inside.mean()) if n else None,
        "share_kept": float(kept.mean()) if n else None,
        "duration_mean_min": float(minutes.mean()) if n else None,
        "duration_median_min": float(minutes.median()) if n else None,
    }
