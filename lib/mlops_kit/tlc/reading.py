"""Reading trips: a month whole (:func:`read_trips`) or a record batch at a time.

Both readers take what a user gives (``"green:2021-01"``, a
:class:`~mlops_kit.tlc.datasets.Dataset`, a parquet path) or a
:class:`~mlops_kit.tlc.locate.Resolution` already located, find the file once through
:mod:`mlops_kit.tlc.locate`, check its footer, and label what they return with its
provenance (``dataset``, ``path``, ``synthetic``, ``origin``). :func:`read_zones` reads TLC's
zone lookup table.

Example:
    >>> from mlops_kit.tlc import read_trips, is_synthetic
    >>> df = read_trips("green:2021-01", columns=["lpep_pickup_datetime", "PULocationID"])
    >>> df.attrs["origin"], is_synthetic(df)   # doctest: +SKIP
    ('data_dir', False)
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..errors import CorruptDataError, MissingColumnsError
from .datasets import ZONES_FILE
from .download import fetch_zones, validate_parquet
from .locate import Spec, locate_month, search_places
from .synthetic import is_synthetic_file

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

#: rows per record batch of :func:`read_trip_batches` (Arrow's own default size)
BATCH_ROWS = 131_072
#: read buffer of :func:`read_trip_batches` (see its reader options)
READ_BUFFER_BYTES = 1 << 18

#: columns to read: names, or a function choosing them from the file's column names
Columns = Sequence[str] | Callable[[list[str]], Sequence[str]] | None


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


def _missing_columns(path, wanted: Sequence[str], available: Sequence[str], what: str) -> None:
    missing = [c for c in wanted if c not in set(available)]
    if missing:
        raise MissingColumnsError(
            f"{what}: {path} has no column(s) {', '.join(map(repr, missing))}; it has "
            f"{', '.join(available)}.",
            "Ask only for columns this service and month has (names differ by service and "
            "year, e.g. fhv's PUlocationID, yellow's Airport_fee from 2023-02), or use the "
            "right file.",
        )


def _open(spec, columns: Columns, source: str, rows, seed):
    """Locate a month once, check its footer and columns, and say where it came from."""
    found = locate_month(spec, source=source, rows=rows, seed=seed)
    path = found.path
    what = found.dataset.id if found.dataset else path.name
    parquet = validate_parquet(path, what=what)
    names = parquet.schema_arrow.names
    if callable(columns):
        columns = columns(list(names))
    if columns is not None:
        columns = list(columns)
        _missing_columns(path, columns, names, what)
    attrs = {
        "dataset": found.dataset.id if found.dataset else None,
        "path": str(path),
        "synthetic": found.synthetic or is_synthetic_file(parquet.schema_arrow),
        "origin": found.origin,
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


def read_trips(
    dataset_or_path: Spec,
    columns: Columns = None,
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
        dataset_or_path: ``"green:2021-01"``, a :class:`~mlops_kit.tlc.datasets.Dataset`, a
            path to a parquet file, or a :class:`~mlops_kit.tlc.locate.Resolution` from
            :func:`~mlops_kit.tlc.locate.locate_months` (read as located).
        columns: read only these columns (parquet stores columns apart, so the others are
            never read), or a function that picks them from the file's column names.
        source: ``"auto"`` real data, else synthetic with a WARNING (see
            :mod:`mlops_kit.tlc.locate` for when); ``"real"`` raise instead of falling
            back; ``"synthetic"`` always the synthetic month.
        rows: synthetic: how many rows to generate (default: a realistic month size);
            real: keep a seeded random sample of at most this many rows (file order kept).
        seed: seed of the synthetic data and of the row sample.

    Raises:
        DataNotFoundError: the file is nowhere and cannot be had (see
            :mod:`mlops_kit.tlc.locate`); its subclasses say why (MonthNotPublishedError,
            DownloadError).
        CorruptDataError: the file is not readable parquet.
        MissingColumnsError: a requested column is not in the file.
    """
    path, what, parquet, columns, attrs = _open(dataset_or_path, columns, source, rows, seed)
    parquet.close()
    df = _read_opened(path, what, columns, attrs, rows, seed).to_pandas()
    df.attrs.update(attrs)
    return df


def read_trip_batches(
    dataset_or_path: Spec,
    columns: Columns = None,
    *,
    source: str = "auto",
    rows: int | None = None,
    seed: int = 42,
    batch_rows: int = BATCH_ROWS,
    threads: bool = False,
) -> TripBatches:
    """Open a TLC month like :func:`read_trips`, to read it a record batch at a time.

    A caller that keeps only what each batch contributes never holds the whole month, nor
    its DataFrame copy; :func:`mlops_kit.model.features.prepare_batches` works this way.
    The file is found, checked and labelled exactly as by :func:`read_trips` (same
    arguments, same errors); a sample of a real month (``rows``) is drawn from the whole
    table first.

    Pages are read through a small buffer (:data:`READ_BUFFER_BYTES`) rather than whole
    column chunks at once, which keeps the reader's own memory small without slowing it,
    and decoded on the calling thread unless ``threads`` (Arrow's thread pool):
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


def is_synthetic(df: pd.DataFrame) -> bool:
    """Return True when ``df`` came from :mod:`mlops_kit.tlc.synthetic` (``df.attrs``)."""
    return bool(getattr(df, "attrs", {}).get("synthetic", False))


def read_zones(path: str | os.PathLike | None = None) -> pd.DataFrame:
    """Read TLC's taxi zone lookup (LocationID, Borough, Zone, service_zone).

    Looks for ``taxi_zone_lookup.csv`` where the trip files are looked for
    (``MLOPS_KIT_DATA_DIR``, then the cache), else downloads it to the cache.
    ``keep_default_na=False`` keeps the strings ``"N/A"`` and ``"NA"`` that TLC uses for
    zones 264/265 (pandas would turn them into NaN).

    Raises:
        DataNotFoundError: not on disk and offline; DownloadError when the download fails.
    """
    import pandas as pd

    if path is None:
        places = search_places(ZONES_FILE)
        path = next((p for p, _ in places if p.is_file()), None)
        if path is None:
            path = fetch_zones(next(p for p, origin in places if origin == "cache"))
    return pd.read_csv(path, keep_default_na=False, dtype={"LocationID": "int64"})
