"""Where a month's file comes from: the one search order, and when synthetic data stands in.

For a dataset id the kit looks, in this order, and the first hit wins:

1. ``MLOPS_KIT_DATA_DIR/<file>`` (real files an instructor or CI provides);
2. the kit's cache (``config.cache_dir()``: ``data/`` in a checkout, else the user cache),
   ``<cache>/tlc/<file>`` (where :func:`~mlops_kit.tlc.download.fetch` puts downloads) then
   ``<cache>/<file>`` (where the course's ``wget`` puts them);
3. a download from TLC (unless ``MLOPS_KIT_OFFLINE=1``).

An explicit path is used as given. When all of these fail, ``source="auto"`` falls back to
a seeded synthetic month with the real schema (:mod:`mlops_kit.tlc.synthetic`) and logs a
WARNING that names the dataset and the reason; ``source="real"`` raises instead;
``source="synthetic"`` never touches real data.

:func:`resolve` says where the data would come from without downloading or writing
anything (``mlops-kit data path``); :func:`locate_month` returns a file that is on disk. The
readers in :mod:`mlops_kit.tlc.reading` accept what it returns, so a caller that located a
month once passes the result on instead of the id.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, replace
from pathlib import Path

from .. import config
from ..errors import BadParameterError, DataNotFoundError
from .datasets import Dataset, dataset_of_path, parse_spec
from .download import FALLBACK_FIX, download_path, fetch
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


def search_places(file_name: str) -> list[tuple[Path, str]]:
    """Return where the kit looks for a file, in order, as ``(path, origin)`` pairs."""
    found = []
    folder = config.data_dir()
    if folder is not None:
        found.append((folder / file_name, "data_dir"))
    cache = config.cache_dir()
    found.append((cache / "tlc" / file_name, "cache"))
    found.append((cache / file_name, "cache"))
    return found


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
            raise DataNotFoundError(
                f"No file at {request}.",
                "Check the path, or pass a dataset id such as green:2021-01 to let the kit "
                "find or download it.",
            )
        return Resolution(dataset_of_path(request), request, "path", True)
    ds = request
    if source == "synthetic":
        return _synthetic_plan(ds, rows, seed)
    for path, origin in search_places(ds.file_name):
        if path.is_file():
            return Resolution(ds, path, origin, True)
    return Resolution(ds, download_path(ds), "download", False)


def _offline_error(ds: Dataset) -> DataNotFoundError:
    where = ", ".join(str(path) for path, _ in search_places(ds.file_name))
    return DataNotFoundError(
        f"{ds.id}: {ds.file_name} is not on disk (looked in {where}) and MLOPS_KIT_OFFLINE=1 "
        "forbids downloading it.",
        FALLBACK_FIX.format(id=ds.id) + " Or unset MLOPS_KIT_OFFLINE.",
    )


def resolve(
    spec: Spec, *, source: str = "auto", rows: int | None = None, seed: int = 42
) -> Resolution:
    """Say where the readers would get the data, without reading, downloading or writing.

    For a dataset that is on disk nowhere, the answer is ``download`` (with the path the
    download would create), or ``synthetic`` when offline and ``source="auto"``.

    Raises:
        DataNotFoundError: an explicit path that does not exist; with ``source="real"``
            and offline, a dataset on disk nowhere.
    """
    check_source(source)
    plan = _plan(spec, source, rows, seed)
    if plan.origin != "download" or not config.offline():
        return plan
    if source == "real":
        raise _offline_error(plan.dataset)
    return _synthetic_plan(plan.dataset, rows, seed)


def locate_month(
    spec: Spec, *, source: str = "auto", rows: int | None = None, seed: int = 42
) -> Resolution:
    """Find (download, or synthesise) one month and return it on disk.

    Args:
        spec: a dataset id, a :class:`~mlops_kit.tlc.datasets.Dataset`, a parquet path, or
            a :class:`Resolution` (returned as is when its file is on disk).
        source: ``auto``, ``real`` or ``synthetic``.
        rows: size of a synthetic month (default: a realistic month).
        seed: seed of a synthetic month.

    Raises:
        DataNotFoundError: an explicit path that does not exist; with ``source="real"``,
            a month that is nowhere and cannot be downloaded (its subclasses say why).
        CorruptDataError: a download that is not parquet.
    """
    check_source(source)
    plan = _plan(spec, source, rows, seed)
    ds = plan.dataset
    if plan.origin == "synthetic" and not plan.exists:
        return replace(plan, path=synthetic_trips(ds.service, ds, rows, seed), exists=True)
    if plan.origin != "download":
        return plan
    try:
        if config.offline():
            raise _offline_error(ds)
        return replace(plan, path=fetch(ds), exists=True)
    except DataNotFoundError as exc:
        if source == "real":
            raise
        log.warning(
            "%s: using SYNTHETIC data (seeded, real schema) because the real file could not "
            "be had: %s",
            ds.id,
            exc.problem,
        )
        return Resolution(ds, synthetic_trips(ds.service, ds, rows, seed), "synthetic", True)
