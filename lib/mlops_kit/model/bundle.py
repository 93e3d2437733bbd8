"""The model bundle: the course's pickle of ``(dv, model)`` plus a JSON sidecar.

The course saves its model with ``pickle.dump((dv, model), f_out)`` into
``models/lin_reg.bin``, and module 4's web service loads it back and predicts with
scikit-learn alone::

    with open("lin_reg.bin", "rb") as f_in:
        dv, model = pickle.load(f_in)
    X = dv.transform({"PU_DO": "43_151", "trip_distance": 1.2})
    model.predict(X)

:func:`save_bundle` writes that file with scikit-learn objects in it: the kit's
``TripVectorizer`` becomes the ``DictVectorizer`` it equals, its ``ExactLinearRegression`` a
``LinearRegression`` carrying the exact coefficients (:func:`course_objects`), so the
course's code runs unchanged where mlops-kit is not installed. Next to it,
``lin_reg.bin.json`` says which data, parameters, metrics and library versions produced it,
and the sha256 of the ``.bin``, so :func:`load_bundle` can tell a stale or foreign file.
"""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import platform
from collections.abc import Mapping
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from ..errors import ModelBundleError
from ..fileio import atomic_write, file_sha256
from ..records import to_jsonable
from .solver import ExactLinearRegression
from .vectorizer import TripVectorizer

#: what the sidecar's ``format`` field says
BUNDLE_FORMAT = "mlops-kit model bundle"
#: 2: the ``.bin`` holds scikit-learn objects only (1 held the kit's own classes)
BUNDLE_VERSION = 2


class Bundle(NamedTuple):
    """A loaded model bundle: unpack as ``vectorizer, model, metadata = load_bundle(...)``."""

    vectorizer: Any
    model: Any
    metadata: dict[str, Any]


def sidecar_path(path: str | os.PathLike) -> Path:
    """Return a bundle's JSON sidecar: ``models/lin_reg.bin`` -> ``models/lin_reg.bin.json``."""
    path = Path(path)
    return path.with_name(path.name + ".json")


def library_versions() -> dict[str, str]:
    """The versions a pickle depends on (a pickle from another scikit-learn may not load)."""
    import pandas
    import scipy
    import sklearn

    from .. import __version__

    return {
        "python": platform.python_version(),
        "mlops_kit": __version__,
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "pandas": pandas.__version__,
        "scikit-learn": sklearn.__version__,
    }


def course_objects(vectorizer, model) -> tuple[Any, Any]:
    """Return ``(dv, model)`` as the course holds them: scikit-learn objects only.

    A :class:`~mlops_kit.model.vectorizer.TripVectorizer` becomes the ``DictVectorizer`` it
    equals (:meth:`~mlops_kit.model.vectorizer.TripVectorizer.to_dict_vectorizer`), an
    :class:`~mlops_kit.model.solver.ExactLinearRegression` a ``LinearRegression`` with its
    coefficients (:meth:`~mlops_kit.model.solver.ExactLinearRegression.to_linear_regression`).
    Anything else (scikit-learn's own ``DictVectorizer``, ``Lasso``, ``Ridge``) is returned
    as it is.
    """
    if isinstance(vectorizer, TripVectorizer):
        vectorizer = vectorizer.to_dict_vectorizer()
    if isinstance(model, ExactLinearRegression):
        model = model.to_linear_regression()
    return vectorizer, model


def save_bundle(
    path: str | os.PathLike,
    vectorizer,
    model,
    metadata: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Save ``(vectorizer, model)`` as the course does, plus a JSON sidecar; return the sidecar.

    The ``.bin`` is the course's ``pickle.dump((dv, model), f_out)`` of scikit-learn
    objects (:func:`course_objects`): the course's module-4 code loads it and predicts the
    kit model's numbers with scikit-learn alone. The sidecar (``<path>.json``) says what
    the pickle holds and where it came from: the classes saved and the kit classes they were
    made from, the datasets and their sha256, the parameters, the metrics, the library
    versions, and the sha256 of the ``.bin`` itself, so :func:`load_bundle` can tell a stale
    or foreign file. Both files are written atomically (temporary file, then rename): an
    interrupted save never leaves half a model.
    """
    path = Path(path)
    dv, course_model = course_objects(vectorizer, model)
    blob = pickle.dumps((dv, course_model), protocol=pickle.HIGHEST_PROTOCOL)
    names = getattr(dv, "feature_names_", None)
    sidecar = {
        "format": BUNDLE_FORMAT,
        "version": BUNDLE_VERSION,
        "bin": {"file": path.name, "sha256": hashlib.sha256(blob).hexdigest(), "bytes": len(blob)},
        "vectorizer": type(dv).__name__,
        "model": type(course_model).__name__,
        "fitted_as": {"vectorizer": type(vectorizer).__name__, "model": type(model).__name__},
        "n_features": len(names) if names is not None else None,
        "libraries": library_versions(),
    }
    for key, value in dict(metadata or {}).items():
        sidecar.setdefault(key, value)
    sidecar = to_jsonable(sidecar)
    atomic_write(path, blob, fsync=True)
    sidecar_text = json.dumps(sidecar, indent=2) + "\n"
    atomic_write(sidecar_path(path), sidecar_text.encode("utf-8"), fsync=True)
    return sidecar


def load_bundle(path: str | os.PathLike, *, check: bool = True) -> Bundle:
    """Load a bundle saved by :func:`save_bundle`, checking it against its sidecar.

    Args:
        path: the ``.bin`` file.
        check: verify the sidecar (sha256 of the ``.bin``, format, scikit-learn version).
            ``check=False`` loads a bare course pickle without a sidecar.

    Returns:
        ``Bundle(vectorizer, model, metadata)``: the pickled pair as it is (for a bundle
        :func:`save_bundle` wrote, scikit-learn's ``DictVectorizer`` and estimator, which
        :func:`~mlops_kit.model.training.predict` serves on raw trips) and the sidecar.

    Raises:
        ModelBundleError: the file is missing or unreadable, the sidecar is missing or does
            not match (the ``.bin`` was replaced after saving), or it was saved with another
            scikit-learn version. The message says how to fix it.
    """
    path = Path(path)
    if not path.is_file():
        raise ModelBundleError(
            f"No model bundle at {path}.",
            f"Train and save one first: `mlops-kit train --out {path}` (or run notebook 03).",
        )
    metadata: dict[str, Any] = {}
    side = sidecar_path(path)
    if check:
        if not side.is_file():
            raise ModelBundleError(
                f"{path} has no sidecar {side.name}, so nothing says which data, parameters "
                "and library versions produced it.",
                f"Re-save it with mlops_kit.model.save_bundle (`mlops-kit train --out {path}`), "
                "or load it with check=False if you trust the file.",
            )
        try:
            metadata = json.loads(side.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ModelBundleError(
                f"The sidecar {side} is not readable JSON ({exc}).",
                f"Re-save the model (`mlops-kit train --out {path}`).",
            ) from exc
        if metadata.get("format") != BUNDLE_FORMAT:
            raise ModelBundleError(
                f"{side} is not an mlops-kit model sidecar (format={metadata.get('format')!r}).",
                f"Re-save the model (`mlops-kit train --out {path}`).",
            )
        expected = (metadata.get("bin") or {}).get("sha256")
        actual = file_sha256(path)
        if expected != actual:
            raise ModelBundleError(
                f"{path} does not match its sidecar: its sha256 is {actual[:12]}... but "
                f"{side.name} records {str(expected)[:12]}... The .bin was replaced or "
                "changed after it was saved, so the sidecar's data, parameters and metrics "
                "do not describe it.",
                f"Re-train and save both together (`mlops-kit train --out {path}`), or delete "
                "the stale sidecar and load with check=False.",
            )
        saved = (metadata.get("libraries") or {}).get("scikit-learn")
        import sklearn

        if saved and saved.split(".")[:2] != sklearn.__version__.split(".")[:2]:
            raise ModelBundleError(
                f"{path} was saved with scikit-learn {saved}; this environment has "
                f"{sklearn.__version__}. Pickled models are not portable across versions.",
                f"Re-train here (`mlops-kit train --out {path}`) or install scikit-learn=={saved}.",
            )
    try:
        with open(path, "rb") as handle:
            loaded = pickle.load(handle)
    except Exception as exc:  # noqa: BLE001 - any unpickling failure means the same fix
        raise ModelBundleError(
            f"Cannot unpickle {path}: {type(exc).__name__}: {exc}.",
            f"Re-train and save it with this environment (`mlops-kit train --out {path}`).",
        ) from exc
    if not (isinstance(loaded, tuple) and len(loaded) == 2):
        raise ModelBundleError(
            f"{path} holds a {type(loaded).__name__}, not the course's (vectorizer, model) pair.",
            "Save with save_bundle(path, vectorizer, model) or pickle.dump((dv, model), f).",
        )
    vectorizer, model = loaded
    return Bundle(vectorizer, model, metadata)
