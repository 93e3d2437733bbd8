"""The course's ride-duration model: features, the vectoriser, the solver, training, baselines.

Two paths give the same numbers, and the tests hold them equal to the last bit:

- the course-shaped path on pandas DataFrames (:func:`add_duration`,
  :func:`filter_outliers`, :func:`prepare_trips`, :class:`TripVectorizer`), which the
  notebooks show step by step;
- the streaming path (:func:`prepare_batches`) that :func:`train_and_evaluate` uses on files,
  reading a month a record batch at a time and never holding it whole.

:class:`ExactLinearRegression` is the exact minimum-norm least-squares solution the course's
``LinearRegression()`` converges to; :func:`save_bundle` writes the model a course user loads.
The baselines answer the module's first question: do we need machine learning at all?

It imports the core modules and :mod:`mlops_kit.tlc`, nothing else of the kit.
"""

from .baselines import baseline_predictions, fit_speed, fit_zone_mean
from .features import (
    DEFAULT_CATEGORICAL,
    DEFAULT_NUMERICAL,
    DURATION,
    PU_DO,
    PreparedTrips,
    TripVectorizer,
    add_duration,
    add_pu_do,
    filter_outliers,
    prepare_batches,
    prepare_features,
    prepare_trips,
)
from .training import (
    ExactLinearRegression,
    TrainResult,
    load_bundle,
    make_model,
    mean_baseline,
    predict,
    rmse,
    save_bundle,
    train_and_evaluate,
)

__all__ = [
    "DEFAULT_CATEGORICAL",
    "DEFAULT_NUMERICAL",
    "DURATION",
    "PU_DO",
    "ExactLinearRegression",
    "PreparedTrips",
    "TrainResult",
    "TripVectorizer",
    "add_duration",
    "add_pu_do",
    "baseline_predictions",
    "filter_outliers",
    "fit_speed",
    "fit_zone_mean",
    "load_bundle",
    "make_model",
    "mean_baseline",
    "predict",
    "prepare_batches",
    "prepare_features",
    "prepare_trips",
    "rmse",
    "save_bundle",
    "train_and_evaluate",
]
