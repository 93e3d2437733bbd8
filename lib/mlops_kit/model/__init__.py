"""The course's ride-duration model: features, the vectoriser, the solver, training, baselines.

Two paths give the same numbers, and the tests hold them equal to the last bit:

- the course-shaped path on pandas DataFrames, which the notebooks show step by step:
  ``features`` (:func:`add_duration`, :func:`filter_outliers`, :func:`add_pu_do`,
  :func:`prepare_trips`), then ``vectorizer`` (:class:`TripVectorizer`);
- the streaming path that :func:`train_and_evaluate` uses on files: ``streaming``
  (:func:`prepare_batches`) reads a month a record batch at a time and never holds it
  whole, and the vectoriser encodes it without building a matrix.

The modules, in the order the data flows through them:

- ``categories``: categorical columns as integer codes and string names (both paths);
- ``features``: duration, outlier filter, ``PU_DO``, ``prepare_trips``;
- ``streaming``: ``prepare_batches`` and ``PreparedTrips``;
- ``vectorizer``: ``TripVectorizer``, the course's ``DictVectorizer`` from columns;
- ``solver``: :class:`ExactLinearRegression`, the exact minimum-norm least-squares solution
  the course's ``LinearRegression()`` converges to;
- ``training``: models by name, ``rmse``, ``train_and_evaluate``, ``predict``;
- ``bundle``: :func:`save_bundle` / :func:`load_bundle`, the model a course user loads;
- ``baselines``: the module's first question, do we need machine learning at all?
- ``arrays``: month-sized counts and gathers in pieces of rows.

It imports the core modules and :mod:`mlops_kit.tlc`, nothing else of the kit.
"""

from .baselines import baseline_predictions, fit_speed, fit_zone_mean
from .bundle import load_bundle, save_bundle
from .features import (
    DEFAULT_CATEGORICAL,
    DEFAULT_NUMERICAL,
    DURATION,
    PU_DO,
    add_duration,
    add_pu_do,
    filter_outliers,
    prepare_features,
    prepare_trips,
)
from .solver import ExactLinearRegression
from .streaming import PreparedTrips, prepare_batches
from .training import TrainResult, make_model, mean_baseline, predict, rmse, train_and_evaluate
from .vectorizer import TripVectorizer

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
