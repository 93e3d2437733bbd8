"""Where a month's file comes from: the one search order, and when synthetic data may stand in.

For a dataset id the kit looks, in this order, and the first hit wins:

1. ``MLOPS_KIT_DATA_DIR/<file>`` (real files an instructor or CI provides);
2. the kit's cache (``config.cache_dir()``: ``data/`` in a checkout, else the user cache),
   ``<cache>/tlc/<file>`` (where :func:`~mlops_kit.tlc.download.fetch` puts downloads) then
   ``<cache>/<file>`` (where the course's ``wget`` puts them);
3. a download from TLC (unless ``MLOPS_KIT_OFFLINE=1``).

An explicit path is used as given. ``source="real"`` stops there with an error;
``source="synthetic"`` never looks and uses a seeded synthetic month. ``source="auto"`` lets
a synthetic month stand in only when nothing real was asked for or found:

- refused before any search: a month that cannot exist (before the service began, not over
  yet) and ``MLOPS_KIT_DATA_DIR`` set to something that is not a folder (a typo);
- months asked for together (:func:`locate_months`: a training and a validation month) are
  all real or all synthetic: a real month beside one that cannot be had is an error naming
  it, where the kit looked, and the fix;
- a month that cannot be had while real months of the same service are on this machine
  (the data folder, the cache) is an error too: whoever put them there wants real data;
- otherwise each synthetic month is announced by one line (``offline: using seeded
  synthetic green 2021-01; ...``) and the network library's details go to DEBUG.

:func:`resolve` says where the data would come from without downloading or writing
anything (``mlops-kit data path``); :func:`locate_month` and :func:`locate_months` return files
that are on disk. The readers in :mod:`mlops_kit.tlc.reading` accept what they return.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from itertools import pairwise
from pathlib import Path

from .. import config
from ..errors import BadParameterError, DataNotFoundError, DownloadError
from .datasets import Dataset, check_month, dataset_of_path, parse_spec
from .download import FALLBACK_FIX, OfflineError, download_path, fetch, not_a_file_error
from .synthetic import synthetic_path, synthetic_trips

log = logging.getLogger(__name__)

#: accepted values of ``source=``
SOURCES = ("auto", "real", "synthetic")


@dataclass(frozen=True)
class Resolution:
    """Where a dataset's data comes from.

    Attributes:
        dataset: the dataset, or None for a path whose name is not a TLC file name.
        path: the file (for ``download`` and ``synthetic`` not yet on disk: where it
            would be written).
        origin: ``path``, ``data_dir``, ``cache``, ``download`` or ``synthetic``.
        exists: whether ``path`` is already on disk.
    """

    dataset: Dataset | None
    path: Path
    origin: str
    exists: bool

    @property
    def synthetic(self) -> bool:
        """True when the kit chose a synthetic month (a path is what the user gave)."""
        return self.origin == "synthetic"


#: what the kit accepts to name trips: an id, a Dataset, a parquet path, or a located month
Spec = str | os.PathLike | Dataset | Resolution


def check_source(source: str) -> None:
    """Refuse a ``source=`` that is not one of :data:`SOURCES`."""
    if source not in SOURCES:
        raise BadParameterError(
            f"source={source!r} is not one of {', '.join(SOURCES)}.",
            'Use source="auto" (real data, else synthetic with a warning), "real" or "synthetic".',
        )


def check_rows(rows) -> None:
    """Refuse a ``rows=`` that is not None or a whole number of at least 1."""
    if rows is None:
        return
    try:
        whole = int(rows) == rows and not isinstance(rows, bool)
    except (TypeError, ValueError):
        whole = False
    if not whole or int(rows) < 1:
        raise BadParameterError(
            f"rows={rows!r} must be a whole number of at least 1.",
            "Ask for 1 row or more, or leave rows out (None) for whole months.",
        )


def data_folder() -> Path | None:
    """Return ``MLOPS_KIT_DATA_DIR`` once checked: None when unset, else an existing folder.

    Raises:
        DataNotFoundError: the variable names something that is not a folder (a typo):
            reading on would quietly give other data than the folder holds.
    """
    folder = config.data_dir()
    if folder is None or folder.is_dir():
        return folder
    what = "is a file, not a folder" if folder.exists() else "does not exist"
    raise DataNotFoundError(
        f"MLOPS_KIT_DATA_DIR={folder} {what}, so the real TLC files it should hold cannot be read.",
        "Correct the path (export MLOPS_KIT_DATA_DIR=/path/to/the/folder/of/parquet/files), "
        "or unset MLOPS_KIT_DATA_DIR to use the cache, a download or synthetic data.",
    )


def search_places(file_name: str) -> list[tuple[Path, str]]:
    """Return where the kit looks for a file, in order, as ``(path, origin)`` pairs.

    Raises:
        DataNotFoundError: ``MLOPS_KIT_DATA_DIR`` is set to no folder (see :func:`data_folder`).
    """
    found = []
    folder = data_folder()
    if folder is not None:
        found.append((folder / file_name, "data_dir"))
    cache = config.cache_dir()
    found.append((cache / "tlc" / file_name, "cache"))
    found.append((cache / file_name, "cache"))
    return found


def months_in(folder: Path) -> list[Dataset]:
    """Return the TLC months a folder holds under TLC's own file names, sorted.

    Only the folder itself is listed (the cache keeps synthetic months in a sub-folder, under
    longer names), and only the names are read.
    """
    try:
        names = [p for p in folder.iterdir() if p.is_file()]
    except OSError:
        return []
    months = {
        ds for p in names if (ds := dataset_of_path(p)) is not None and p.name == ds.file_name
    }
    return sorted(months)


def _real_months_here(service: str) -> list[Dataset]:
    """Real months of ``service`` on this machine: the data folder and the cache."""
    folders = [data_folder(), config.cache_dir() / "tlc", config.cache_dir()]
    found = {ds for f in folders if f is not None for ds in months_in(f) if ds.service == service}
    return sorted(found)


def _request(spec: Spec) -> Dataset | Path:
    if isinstance(spec, Resolution):
        return spec.path if spec.origin == "path" or spec.dataset is None else spec.dataset
    return parse_spec(spec)


def _synthetic_plan(ds: Dataset, rows: int | None, seed: int) -> Resolution:
    path = synthetic_path(ds.service, ds, rows, seed)
    return Resolution(ds, path, "synthetic", path.is_file())


def _plan(spec: Spec, source: str, rows: int | None, seed: int) -> Resolution:
    """The search without downloading: a file on disk, or ``download``/``synthetic`` to come."""
    if isinstance(spec, Resolution) and spec.exists:
        return spec
    request = _request(spec)
    if isinstance(request, Path):
        if not request.is_file():
            raise not_a_file_error(request)
        return Resolution(dataset_of_path(request), request, "path", True)
    ds = request
    if source == "synthetic":
        return _synthetic_plan(ds, rows, seed)
    check_month(ds)
    for path, origin in search_places(ds.file_name):
        if path.is_file():
            return Resolution(ds, path, origin, True)
    return Resolution(ds, download_path(ds), "download", False)


def _looked_in(ds: Dataset) -> str:
    return ", ".join(str(path) for path, _ in search_places(ds.file_name))


def _offline_error(ds: Dataset) -> OfflineError:
    return OfflineError(
        f"{ds.id}: {ds.file_name} is not on disk (looked in {_looked_in(ds)}) and "
        "MLOPS_KIT_OFFLINE=1 forbids downloading it.",
        FALLBACK_FIX.format(id=ds.id) + " Or unset MLOPS_KIT_OFFLINE.",
    )


def _why(error: DataNotFoundError) -> str:
    """Why a month could not be had, in a few words (the start of the fallback line)."""
    if config.offline():
        return "offline (MLOPS_KIT_OFFLINE=1)"
    return "offline" if isinstance(error, OfflineError) else "download failed"


def _no_download(error: DataNotFoundError) -> str:
    """Why a month could not be downloaded, as a clause of an error message."""
    if config.offline():
        return "MLOPS_KIT_OFFLINE=1 forbids downloading it"
    if isinstance(error, OfflineError):
        return "there is no network to download it"
    return "its download failed"


def _where_to_put(name: str = "it") -> str:
    folder = config.data_dir()
    if folder is not None:
        return f"copy {name} into MLOPS_KIT_DATA_DIR={folder}"
    return f"set MLOPS_KIT_DATA_DIR to a folder holding {name}"


def _fix_for(missing: Sequence[Dataset]) -> str:
    fetch_cmd = "mlops-kit data fetch " + " ".join(ds.id for ds in missing)
    return (
        f"Get the real file (`{fetch_cmd}` when online, or "
        f"{_where_to_put(missing[0].file_name)}), or "
        'use synthetic data for every month (--source synthetic, source="synthetic").'
    )


def _refuse_beside_real(missing: Sequence[Dataset], errors: Sequence[DataNotFoundError]) -> None:
    """A month that cannot be had is an error while real months of its service are here."""
    for ds, error in zip(missing, errors, strict=True):
        real = [m for m in _real_months_here(ds.service) if m != ds]
        if real:
            shown = ", ".join(m.month_id for m in real[:6]) + (", ..." if len(real) > 6 else "")
            raise DataNotFoundError(
                f"{ds.id}: no real file (looked in {_looked_in(ds)}; {_no_download(error)}), "
                f"while real {ds.service} months are on this machine ({shown}): the kit does "
                f"not put a synthetic {ds.service} month beside real ones.",
                _fix_for([ds]),
            )


def _refuse_mixing(plans: Sequence[Resolution], missing: dict[int, DataNotFoundError]) -> None:
    """Months asked for together are all real or all synthetic."""
    real = [p for i, p in enumerate(plans) if i not in missing]
    if not real:
        return
    lacking = [plans[i].dataset for i in missing]
    first = next(iter(missing.values()))
    names = ", ".join(p.dataset.id if p.dataset else str(p.path) for p in real)
    verb = "is" if len(real) == 1 else "are"
    raise DataNotFoundError(
        f"{', '.join(ds.id for ds in lacking)}: no real file (looked in "
        f"{_looked_in(lacking[0])}; {_no_download(first)}), while {names} {verb} real: the kit "
        "does not mix real and synthetic months.",
        _fix_for(lacking),
    )


def _warn_if_not_later(plans: Sequence[Resolution]) -> None:
    for earlier, later in pairwise(plans):
        a, b = earlier.dataset, later.dataset
        if a is not None and b is not None and (b.year, b.month) <= (a.year, a.month):
            log.warning(
                "validation month %s is not after the training month %s: a model is judged on "
                "months after the one it learnt from",
                b.id,
                a.id,
            )


def resolve(
    spec: Spec, *, source: str = "auto", rows: int | None = None, seed: int = 42
) -> Resolution:
    """Say where the readers would get the data, without reading, downloading or writing.

    For a dataset that is on disk nowhere, the answer is ``download`` (with the path the
    download would create), or ``synthetic`` when offline and ``source="auto"``.

    Raises:
        DataNotFoundError: an explicit path that is no file; ``MLOPS_KIT_DATA_DIR`` set to
            no folder; offline with ``source="real"``, or beside real months of the same
            service (see the module's rule). MonthNotPublishedError for a month that
            cannot exist.
        BadParameterError: an unknown ``source`` or a bad ``rows``.
    """
    check_source(source)
    check_rows(rows)
    plan = _plan(spec, source, rows, seed)
    if plan.origin != "download" or not config.offline():
        return plan
    error = _offline_error(plan.dataset)
    if source == "real":
        raise error
    _refuse_beside_real([plan.dataset], [error])
    return _synthetic_plan(plan.dataset, rows, seed)


def locate_months(
    specs: Iterable[Spec],
    *,
    source: str = "auto",
    rows: int | None = None,
    seed: int = 42,
    ordered: bool = False,
) -> list[Resolution]:
    """Find (download, or synthesise) several months together: all real or all synthetic.

    Every argument and every month is checked before anything is downloaded. Months not
    on disk are then downloaded; once the network proves unreachable the others are not
    tried. With ``source="auto"``, synthetic months stand in only when none of the months
    is real (see the module's rule), each announced by one WARNING line.

    Args:
        specs: dataset ids, :class:`~mlops_kit.tlc.datasets.Dataset` objects, parquet
            paths, or :class:`Resolution` objects from an earlier call.
        source: ``auto``, ``real`` or ``synthetic``.
        rows: size of a synthetic month (default: a realistic month).
        seed: seed of a synthetic month.
        ordered: the months are a training month then validation months: warn when one is
            not after the month before it.

    Returns:
        One :class:`Resolution` per spec, in order, each with its file on disk.

    Raises:
        DataNotFoundError: see :func:`resolve`; and a real month beside one that cannot
            be had (``source="auto"``) or any month that cannot be had (``"real"``).
        MonthNotPublishedError: a month that cannot exist, or that TLC says it lacks.
        CorruptDataError: a download that is not parquet.
    """
    check_source(source)
    check_rows(rows)
    plans = [_plan(spec, source, rows, seed) for spec in specs]
    if ordered:
        _warn_if_not_later(plans)
    missing: dict[int, DataNotFoundError] = {}
    network_down: OfflineError | None = None
    for i, plan in enumerate(plans):
        if plan.origin == "synthetic" and not plan.exists:
            path = synthetic_trips(plan.dataset.service, plan.dataset, rows, seed)
            plans[i] = replace(plan, path=path, exists=True)
        if plan.origin != "download":
            continue
        if config.offline():
            error = _offline_error(plan.dataset)
        elif network_down is not None:  # the other months would fail alike: do not wait
            error = network_down
        else:
            try:
                plans[i] = replace(plan, path=fetch(plan.dataset), exists=True)
                continue
            except OfflineError as exc:
                error = network_down = exc
            except DownloadError as exc:
                error = exc
        if source == "real":
            raise error
        missing[i] = error
    if not missing:
        return plans
    _refuse_mixing(plans, missing)
    _refuse_beside_real([plans[i].dataset for i in missing], list(missing.values()))
    for i, error in missing.items():
        ds = plans[i].dataset
        log.debug("%s", error)
        log.warning(
            "%s: using seeded synthetic %s %s; for the real file run `mlops-kit data fetch %s` "
            "when online, or %s",
            _why(error),
            ds.service,
            ds.month_id,
            ds.id,
            _where_to_put(),
        )
        plans[i] = Resolution(ds, synthetic_trips(ds.service, ds, rows, seed), "synthetic", True)
    return plans


def locate_month(
    spec: Spec, *, source: str = "auto", rows: int | None = None, seed: int = 42
) -> Resolution:
    """Find (download, or synthesise) one month and return it on disk.

    The same as ``locate_months([spec], ...)[0]``: see :func:`locate_months`.
    """
    return locate_months([spec], source=source, rows=rows, seed=seed)[0]
