"""Train and evaluate the ride-duration model: models by name, the RMSE, the whole notebook.

:func:`train_and_evaluate` is the course's ``duration-prediction.ipynb`` in one call: it
reads two months (the training month and the next one), prepares them, fits the vectoriser
and the model on the first, and scores both with :func:`rmse`. Files take the streaming
path (:mod:`mlops_kit.model.streaming`), DataFrames the course's
(:func:`~mlops_kit.model.features.prepare_trips`); both give the same numbers, to the last bit.

:func:`make_model` names the course's models: ``linear`` is the exact solver
(:class:`~mlops_kit.model.solver.ExactLinearRegression`), ``lasso`` and ``ridge`` are
scikit-learn's. :func:`predict` serves a fitted pair on raw trips.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..errors import BadParameterError
from ..fileio import file_sha256
from ..tlc import locate_months, read_trip_batches
from .features import (
    PU_DO,
    duration_bounds,
    find_datetime_columns,
    find_location_columns,
    prepare_features,
    prepare_trips,
    require_columns,
)
from .solver import ExactLinearRegression
from .streaming import PreparedTrips, prepare_batches
from .vectorizer import TripVectorizer, feature_columns

#: models :func:`make_model` knows, with the alpha each uses by default
MODELS = {"linear": None, "lasso": 0.01, "ridge": 1.0}


#: Ridge's solver tolerance: converged, not scikit-learn's early-stopping default (1e-4)
RIDGE_TOL = 1e-10


def make_model(name: str = "linear", alpha: float | None = None, *, seed: int = 42):
    """Return an unfitted regressor by name: ``linear``, ``lasso`` or ``ridge``.

    ``linear`` is :class:`~mlops_kit.model.solver.ExactLinearRegression`; ``lasso`` and
    ``ridge`` are scikit-learn's,
    with ``alpha`` the strength of the penalty (defaults: 0.01 for Lasso, as in the course,
    1.0 for Ridge). Lasso's L1 penalty pushes most route coefficients to exactly zero;
    Ridge's L2 penalty shrinks them all a little.

    Ridge gets ``tol=1e-10``: on sparse input scikit-learn solves it with conjugate
    gradients whose default tolerance (1e-4) stops far from the answer, and the stopping
    point then moves with the number of BLAS threads; converged, it is the closed form.

    Raises:
        BadParameterError: for an unknown name or a negative alpha.
    """
    key = str(name).lower()
    if key not in MODELS:
        raise BadParameterError(
            f"Unknown model {name!r}.",
            f"Use one of {', '.join(MODELS)} (e.g. --model lasso --alpha 0.01).",
        )
    if alpha is None:
        alpha = MODELS[key]
    elif key != "linear" and (not isinstance(alpha, (int, float)) or alpha < 0):
        raise BadParameterError(
            f"alpha must be a number >= 0, got {alpha!r}.",
            "Pass e.g. alpha=0.01 (larger means a stronger penalty).",
        )
    if key == "linear":
        return ExactLinearRegression()
    if key == "lasso":
        from sklearn.linear_model import Lasso

        return Lasso(alpha=float(alpha), random_state=seed)
    from sklearn.linear_model import Ridge

    return Ridge(alpha=float(alpha), tol=RIDGE_TOL, random_state=seed)


def rmse(y_true, y_pred) -> float:
    """Root mean squared error, in the target's unit (minutes).

    The course's metric: an error of 2 minutes counts 4 times as much as one of 1 minute, so
    a few badly predicted long rides show clearly. (``mean_squared_error(squared=False)`` is
    removed in scikit-learn 1.6; this is ``root_mean_squared_error``.)
    """
    y_true = np.asarray(y_true, dtype=np.float64).ravel()
    y_pred = np.asarray(y_pred, dtype=np.float64).ravel()
    if y_true.shape != y_pred.shape or y_true.size == 0:
        raise BadParameterError(
            f"rmse needs two non-empty sequences of the same length, got {y_true.size} and "
            f"{y_pred.size}.",
            "Pass the true durations and the predictions for the same rows.",
        )
    return float(np.sqrt(np.mean((y_true - y_pred) ** 2)))


def mean_baseline(y_train, y_eval=None) -> float:
    """RMSE of always predicting the training mean: the number any model must beat.

    Args:
        y_train: training durations (the mean is learned here).
        y_eval: durations to score on (default: the training durations, where the RMSE is
            simply their standard deviation).
    """
    y_train = np.asarray(y_train, dtype=np.float64).ravel()
    target = y_train if y_eval is None else np.asarray(y_eval, dtype=np.float64).ravel()
    return rmse(target, np.full(target.size, y_train.mean()))


@dataclass
class TrainResult:
    """Everything :func:`train_and_evaluate` produced.

    Attributes:
        vectorizer: the fitted :class:`~mlops_kit.model.features.TripVectorizer`.
        model: the fitted regressor.
        metrics: ``train_rows``, ``val_rows``, ``n_features``, ``train_rmse``, ``val_rmse``,
            ``baseline_rmse`` (validation RMSE of the training mean), ``model``, ``alpha``,
            ``synthetic`` and ``seconds`` (reading to last RMSE).
        parameters: the arguments of the run (features, bounds, model, source, rows, seed).
        datasets: ``{"train": {...}, "val": {...}}`` with id, path, synthetic, sha256.
        y_train, y_train_pred, y_val, y_val_pred: durations and predictions (minutes).
        timings: seconds per stage (``read``, ``prepare``, ``vectorize``, ``fit``, ``predict``).
            The validation month is read and prepared on a second thread while the
            training month is fitted, so the stages can add up to more than ``seconds``.
    """

    vectorizer: Any
    model: Any
    metrics: dict[str, Any]
    parameters: dict[str, Any]
    datasets: dict[str, dict[str, Any]]
    y_train: np.ndarray = field(repr=False)
    y_train_pred: np.ndarray = field(repr=False)
    y_val: np.ndarray = field(repr=False)
    y_val_pred: np.ndarray = field(repr=False)
    timings: dict[str, float] = field(default_factory=dict, repr=False)

    def metadata(self) -> dict[str, Any]:
        """The sidecar content for ``save_bundle``: datasets, parameters, metrics.

        The datasets' sha256 are computed here (once), not while training: reading two
        whole files to hash them is work only a saved model needs.
        """
        for info in self.datasets.values():
            path = info.get("path")
            if "sha256" not in info:
                info["sha256"] = file_sha256(path) if path and Path(path).is_file() else None
        return {"datasets": self.datasets, "parameters": self.parameters, "metrics": self.metrics}


def _needed_columns(source_columns: Sequence[str], categorical, numerical) -> list[str]:
    """The columns of a month the features need: timestamps, locations for PU_DO, features."""
    frame = pd.DataFrame(columns=list(source_columns))
    wanted = list(find_datetime_columns(frame))
    if PU_DO in categorical:
        wanted += list(find_location_columns(frame))
    wanted += [c for c in list(categorical) + list(numerical) if c != PU_DO]
    return list(dict.fromkeys(wanted))


def _info(attrs: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "id": attrs.get("dataset"),
        "path": attrs.get("path"),
        "synthetic": bool(attrs.get("synthetic", False)),
        "origin": attrs.get("origin"),
    }


def open_trips(trips, categorical, numerical, *, source: str = "auto", rows=None, seed: int = 42):
    """Return ``(trips, dataset info)``: a DataFrame as given, else the month opened in batches.

    ``trips`` is a DataFrame, or anything :func:`mlops_kit.tlc.read_trip_batches` takes: a
    dataset id, a parquet path, or a month located with :func:`mlops_kit.tlc.locate_months`.
    Only the columns the features need are read, picked from the file's own column names:
    parquet stores columns apart, so the others are never read.
    """
    if isinstance(trips, pd.DataFrame):
        return trips, _info(trips.attrs)
    batches = read_trip_batches(
        trips,
        lambda names: _needed_columns(names, categorical, numerical),
        source=source,
        rows=rows,
        seed=seed,
    )
    return batches, _info(batches.attrs)


class _Stopped(Exception):
    """The month's reading was abandoned: the caller is already on its way out."""


class _TimedBatches:
    """Batches that count the seconds spent reading them (the rest is preparing).

    ``stop``, when given and set, ends the reading at the next batch with :class:`_Stopped`:
    a Ctrl-C while the training month is fitted then does not wait for the validation month
    to be read to its end.
    """

    def __init__(self, batches, stop=None):
        self.schema, self.num_rows, self._batches = batches.schema, batches.num_rows, batches
        self.seconds = 0.0
        self._stop = stop

    def __iter__(self):
        iterator = iter(self._batches)
        while True:
            if self._stop is not None and self._stop.is_set():
                raise _Stopped
            start = time.perf_counter()
            try:
                batch = next(iterator)
            except StopIteration:
                self.seconds += time.perf_counter() - start
                return
            self.seconds += time.perf_counter() - start
            yield batch


def _prepare_month(opened, categorical, numerical, min_duration, max_duration, stop=None):
    """A month's PreparedTrips, and the seconds spent reading its batches (0 for a frame)."""
    if isinstance(opened, pd.DataFrame):
        frame = prepare_trips(
            opened,
            categorical=categorical,
            numerical=numerical,
            min_duration=min_duration,
            max_duration=max_duration,
        )
        return PreparedTrips.from_frame(frame, categorical, numerical, raw_rows=len(opened)), 0.0
    timed = _TimedBatches(opened, stop)
    del opened
    month = prepare_batches(
        timed,
        categorical=categorical,
        numerical=numerical,
        min_duration=min_duration,
        max_duration=max_duration,
    )
    _release_arrow_memory()  # what coding the categories took from Arrow (route names)
    return month, timed.seconds


#: rows per matrix when predicting a month piece by piece
PREDICT_ROWS = 1 << 19


def _fit_month(vectorizer, estimator, month, lap) -> np.ndarray:
    """Fit the vectoriser and the model on the training month; return its predictions.

    The exact linear regression is fitted from the vectoriser's slots (the per-row
    columns) and predicts through ``TripVectorizer.dot``, so no matrix is built: its
    numbers are those of ``model.predict(X)`` on the matrix, to the last bit. Other
    models fit on the matrix; predictions of a month come from it :data:`PREDICT_ROWS`
    rows at a time (a row's prediction depends on that row only).
    """
    encoded = vectorizer.fit_encode(month)
    lap("vectorize")
    if isinstance(estimator, ExactLinearRegression) and estimator.fit_slots(
        *vectorizer.slots(encoded),
        month.duration,
        len(vectorizer.feature_names_),
    ):
        lap("fit")
        return _predict_rows(vectorizer, estimator, encoded)
    X = vectorizer.matrix(encoded)
    lap("vectorize")
    estimator.fit(X, month.duration)
    lap("fit")
    return np.asarray(estimator.predict(X), dtype=np.float64)


def _predict_month(vectorizer, estimator, month) -> np.ndarray:
    """Predict a prepared month with a fitted vectoriser and model, in pieces of rows."""
    return _predict_rows(vectorizer, estimator, vectorizer.encode(month))


def _predict_rows(vectorizer, estimator, encoded) -> np.ndarray:
    """Predict an encoded month with a fitted model.

    The exact model predicts ``X @ coef_`` without a matrix; others predict the matrix
    :data:`PREDICT_ROWS` rows at a time.
    """
    if isinstance(estimator, ExactLinearRegression):  # no matrix at all: X @ coef_ directly
        products = vectorizer.dot(encoded, estimator.coef_)
        if products is not None:
            return products + estimator.intercept_
    n = len(encoded)
    out = np.empty(n, dtype=np.float64)
    for first in range(0, n, PREDICT_ROWS):
        last = min(n, first + PREDICT_ROWS)
        X = vectorizer.matrix(encoded.piece(first, last))
        out[first:last] = np.asarray(estimator.predict(X), dtype=np.float64).ravel()
    return out


def _release_arrow_memory() -> None:
    """Give back to the OS the memory Arrow's pool keeps after use (it lowers the peak)."""
    try:
        import pyarrow as pa

        pa.default_memory_pool().release_unused()
    except (ImportError, AttributeError):  # pragma: no cover - old pyarrow
        pass


def train_and_evaluate(
    train,
    val,
    *,
    categorical: Sequence[str] = ("PU_DO",),
    numerical: Sequence[str] = ("trip_distance",),
    model: str = "linear",
    alpha: float | None = None,
    min_duration: float = 1,
    max_duration: float = 60,
    source: str = "auto",
    rows: int | None = None,
    seed: int = 42,
) -> TrainResult:
    """Train on one month, score on another: the course's whole notebook in one call.

    Finds both months, then reads and prepares the training month (only the needed
    columns, a record batch at a time: :func:`~mlops_kit.model.streaming.prepare_batches`),
    fits the vectoriser and the model on it and predicts it, while a second thread reads
    and prepares the validation month; the fitted vectoriser then transforms that (a
    category first seen in validation gets zeros, as in production). No month is held
    whole and no matrix is built whole for the exact linear model, which keeps the peak
    memory (and the time spent getting fresh memory from the system) low.
    DataFrames are prepared with :func:`~mlops_kit.model.features.prepare_trips`; both ways
    give the same numbers, to the last bit.

    Args:
        train: training trips: ``"green:2021-01"``, a parquet path or a DataFrame.
        val: validation trips, the same kinds.
        categorical: one-hot columns (``"PU_DO"`` is built from the location IDs).
        numerical: numerical columns.
        model: ``linear``, ``lasso`` or ``ridge``.
        alpha: penalty strength for lasso/ridge (default 0.01 / 1.0).
        min_duration: shortest ride kept (minutes, inclusive).
        max_duration: longest ride kept (minutes, inclusive).
        source: ``auto``, ``real`` or ``synthetic`` (see :func:`mlops_kit.tlc.data.read_trips`).
        rows: synthetic month size, or a seeded sample of a real month.
        seed: seed of synthetic data, sampling and the models.

    Raises:
        KitError: bad data (DataError), a missing column, an unknown model or bad bounds.
    """
    categorical = [categorical] if isinstance(categorical, str) else list(categorical)
    numerical = [numerical] if isinstance(numerical, str) else list(numerical)
    estimator = make_model(model, alpha, seed=seed)
    feature_columns(categorical, numerical)  # bad feature lists fail before reading
    duration_bounds(min_duration, max_duration)  # and so do bad bounds
    vectorizer = TripVectorizer(categorical, numerical)
    timings = dict.fromkeys(("read", "prepare", "vectorize", "fit", "predict"), 0.0)
    start = clock = time.perf_counter()

    def lap(stage: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        timings[stage] += now - clock
        clock = now

    from concurrent.futures import ThreadPoolExecutor

    # find (or fetch, or synthesise) both months together: both real or both synthetic
    months = {"train": train, "val": val}
    files = {k: v for k, v in months.items() if not isinstance(v, pd.DataFrame)}
    if files:
        located = locate_months(files.values(), source=source, rows=rows, seed=seed, ordered=True)
        months.update(zip(files, located, strict=True))
    opened, datasets = {}, {}
    for name, trips in months.items():
        opened[name], datasets[name] = open_trips(
            trips, categorical, numerical, source=source, rows=rows, seed=seed
        )
    lap("read")

    def prepare(name, stop=None):
        began = time.perf_counter()
        month, read_seconds = _prepare_month(
            opened.pop(name), categorical, numerical, min_duration, max_duration, stop
        )
        if not len(month):
            raise BadParameterError(
                f"No {name} trips are left after the {min_duration}-{max_duration} minute "
                f"filter ({month.raw_rows} before it).",
                "Check the data and the bounds (min_duration <= duration <= max_duration).",
            )
        return month, read_seconds, time.perf_counter() - began - read_seconds

    stop = threading.Event()  # set when training fails or is interrupted
    with ThreadPoolExecutor(1, thread_name_prefix="mlops-kit-val") as pool:
        # the validation month is read on the other core while the training month is
        # read and fitted on this one (each decodes its batches on its own thread)
        try:
            val_future = pool.submit(prepare, "val", stop)
        except RuntimeError:  # no thread to be had (a sandbox's limits): one after the other
            val_future = None
        try:
            month, read_seconds, _ = prepare("train")
            timings["read"] += read_seconds
            clock += read_seconds
            lap("prepare")
            y_train, y_train_pred = month.duration, _fit_month(vectorizer, estimator, month, lap)
            del month
            lap("predict")
            month, read_seconds, prepare_seconds = (
                val_future.result() if val_future is not None else prepare("val")
            )
        except BaseException:
            # leaving the pool waits for its thread: make it stop at its next batch
            stop.set()
            if val_future is not None:
                val_future.cancel()
            raise
    clock = time.perf_counter()  # the wait, if any, is counted as the validation month's
    # own reading and preparing (which overlap the training's)
    timings["read"] += read_seconds
    timings["prepare"] += prepare_seconds
    y_val, y_val_pred = month.duration, _predict_month(vectorizer, estimator, month)
    del month
    lap("predict")
    metrics = {
        "train_rows": int(y_train.size),
        "val_rows": int(y_val.size),
        "n_features": len(vectorizer.feature_names_),
        "train_rmse": rmse(y_train, y_train_pred),
        "val_rmse": rmse(y_val, y_val_pred),
        "baseline_rmse": mean_baseline(y_train, y_val),
        "model": str(model).lower(),
        "alpha": None if str(model).lower() == "linear" else getattr(estimator, "alpha", None),
        "synthetic": bool(datasets["train"]["synthetic"] or datasets["val"]["synthetic"]),
    }
    lap("predict")
    metrics["seconds"] = time.perf_counter() - start
    parameters = {
        "categorical": categorical,
        "numerical": numerical,
        "model": metrics["model"],
        "alpha": metrics["alpha"],
        "min_duration": min_duration,
        "max_duration": max_duration,
        "source": source,
        "rows": rows,
        "seed": seed,
    }
    predictions = (y_train, y_train_pred, y_val, y_val_pred)
    return TrainResult(
        vectorizer, estimator, metrics, parameters, datasets, *predictions, timings=timings
    )


def predict(vectorizer, model, trips) -> np.ndarray:
    """Predict the duration (minutes) of each ride in ``trips``, rows in order.

    ``trips`` holds the raw columns (location IDs, distance...): the categorical columns
    are turned into strings and ``PU_DO`` is built when the vectoriser uses it. Nothing is
    filtered: a ride to predict has no duration yet.

    ``vectorizer`` is the kit's ``TripVectorizer``, or a fitted ``DictVectorizer`` (what
    ``load_bundle`` returns, or the course's own): then the rides go the course's way,
    ``to_dict(orient="records")`` of the columns its feature names name, then
    ``dv.transform``.
    """
    if isinstance(vectorizer, TripVectorizer):
        frame = prepare_features(trips, categorical=vectorizer.categorical)
        return np.asarray(model.predict(vectorizer.transform(frame)), dtype=np.float64)
    categorical, numerical = _dict_vectorizer_columns(vectorizer, trips.columns)
    require_columns(trips, numerical, "the model's vectoriser uses")
    frame = prepare_features(trips, categorical=categorical, as_category=False)
    records = frame[categorical + numerical].to_dict(orient="records")
    return np.asarray(model.predict(vectorizer.transform(records)), dtype=np.float64)


def _dict_vectorizer_columns(dv, columns) -> tuple[list[str], list[str]]:
    """The (categorical, numerical) columns a fitted ``DictVectorizer`` was fitted on.

    A feature without the separator (``trip_distance``), or named like a column of the
    trips, is a number; the others are ``column=value`` one-hot features, whose column is
    the part before the separator.
    """
    separator = getattr(dv, "separator", "=")
    columns = set(columns)
    numerical = [n for n in dv.feature_names_ if separator not in n or n in columns]
    numbers = set(numerical)
    categorical = [n.split(separator, 1)[0] for n in dv.feature_names_ if n not in numbers]
    return list(dict.fromkeys(categorical)), numerical
