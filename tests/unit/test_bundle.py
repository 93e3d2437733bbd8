"""mlops_kit.model.bundle: the course's pickle plus its sidecar, and what load_bundle refuses."""

from __future__ import annotations

import json
import pickle
import subprocess
import sys
import sysconfig

import numpy as np
import pandas as pd
import pytest
from sklearn.feature_extraction import DictVectorizer
from sklearn.linear_model import Lasso, LinearRegression, Ridge

from mlops_kit.errors import MissingColumnsError, ModelBundleError
from mlops_kit.model.bundle import load_bundle, save_bundle, sidecar_path
from mlops_kit.model.training import make_model, predict, train_and_evaluate

from .test_training import synthetic_pair

#: the course's module-4 request (04-deployment/web-service/predict.py)
COURSE_RIDE = {"PU_DO": "43_151", "trip_distance": 1.2}


def run_without_kit(code: str, cwd) -> str:
    """Run ``code`` in a Python that cannot import mlops_kit; return what it prints.

    ``-I -S``: no site (so the editable install's path file is not read), no user site, no
    environment, no current folder on the path; only the environment's site-packages are
    added, for scikit-learn and its stack. The code first proves that ``mlops_kit`` is not
    on the path, then a meta-path finder refuses it anyway, and at the end no ``mlops_kit``
    module may have been loaded.
    """
    paths = sorted({sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]})
    prologue = f"""
import importlib.util, sys
sys.path.extend({paths!r})
assert importlib.util.find_spec("mlops_kit") is None, "mlops_kit is importable"


class NoKit:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] == "mlops_kit":
            raise ModuleNotFoundError(f"No module named {{name!r}} (blocked)", name=name)


sys.meta_path.insert(0, NoKit())
"""
    epilogue = """
assert not [m for m in sys.modules if m.split(".")[0] == "mlops_kit"], "mlops_kit was loaded"
"""
    done = subprocess.run(
        [sys.executable, "-I", "-S", "-c", prologue + code + epilogue],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


COURSE_PREDICT = """
import json
import pickle

with open("lin_reg.bin", "rb") as f_in:
    dv, model = pickle.load(f_in)
X = dv.transform(RIDES)
print(json.dumps({
    "classes": [type(dv).__module__ + "." + type(dv).__name__,
                type(model).__module__ + "." + type(model).__name__],
    "predictions": model.predict(X).tolist(),
}))
"""


@pytest.fixture
def trained():
    train, val = synthetic_pair(rows=2000)
    return train_and_evaluate(train, val)


def test_bundle_round_trip_and_course_pickle(tmp_path, trained):
    path = tmp_path / "models" / "lin_reg.bin"
    sidecar = save_bundle(path, trained.vectorizer, trained.model, trained.metadata())
    with open(path, "rb") as f_in:  # the course's loading code
        dv, model = pickle.load(f_in)
    assert dv.feature_names_ == trained.vectorizer.feature_names_
    on_disk = json.loads(sidecar_path(path).read_text())
    assert on_disk == sidecar
    assert on_disk["metrics"]["val_rmse"] == pytest.approx(trained.metrics["val_rmse"])
    assert on_disk["parameters"]["categorical"] == ["PU_DO"]
    assert set(on_disk["datasets"]) == {"train", "val"}
    assert "scikit-learn" in on_disk["libraries"]
    assert len(on_disk["bin"]["sha256"]) == 64
    bundle = load_bundle(path)
    vectorizer, model, metadata = bundle
    assert metadata["n_features"] == trained.metrics["n_features"]
    np.testing.assert_array_equal(model.coef_, trained.model.coef_)
    assert not list(path.parent.glob("*.tmp"))


def test_load_bundle_explains_a_replaced_bin(tmp_path, trained):
    path = tmp_path / "lin_reg.bin"
    save_bundle(path, trained.vectorizer, trained.model, trained.metadata())
    path.write_bytes(pickle.dumps((trained.vectorizer, make_model("lasso"))))
    with pytest.raises(ModelBundleError, match="does not match its sidecar") as info:
        load_bundle(path)
    assert "mlops-kit train --out" in str(info.value)
    vectorizer, model, metadata = load_bundle(path, check=False)
    assert metadata == {}


def test_load_bundle_errors(tmp_path, trained):
    with pytest.raises(ModelBundleError, match="No model bundle"):
        load_bundle(tmp_path / "missing.bin")
    bare = tmp_path / "bare.bin"
    bare.write_bytes(pickle.dumps((1, 2)))
    with pytest.raises(ModelBundleError, match="no sidecar"):
        load_bundle(bare)
    junk = tmp_path / "junk.bin"
    junk.write_bytes(b"not a pickle")
    with pytest.raises(ModelBundleError, match="Cannot unpickle"):
        load_bundle(junk, check=False)
    path = tmp_path / "old.bin"
    save_bundle(path, trained.vectorizer, trained.model)
    side = json.loads(sidecar_path(path).read_text())
    side["libraries"]["scikit-learn"] = "0.24.2"
    sidecar_path(path).write_text(json.dumps(side))
    with pytest.raises(ModelBundleError, match="scikit-learn 0.24.2"):
        load_bundle(path)


def test_the_course_s_module_4_code_runs_without_the_kit(tmp_path, trained):
    """lin_reg.bin serves predict.py where mlops_kit cannot be imported: same numbers."""
    save_bundle(tmp_path / "lin_reg.bin", trained.vectorizer, trained.model)
    seen_route = str(trained.vectorizer.categories_["PU_DO"][7])
    rides = [COURSE_RIDE, {"PU_DO": seen_route, "trip_distance": 3.5}]
    out = json.loads(run_without_kit(f"RIDES = {rides!r}\n" + COURSE_PREDICT, tmp_path))
    assert out["classes"] == [
        "sklearn.feature_extraction._dict_vectorizer.DictVectorizer",
        "sklearn.linear_model._base.LinearRegression",
    ]
    kit = trained.model.predict(trained.vectorizer.transform(pd.DataFrame(rides)))
    np.testing.assert_allclose(out["predictions"], kit, rtol=0, atol=1e-9)
    assert kit[0] != kit[1]  # an unseen route and a seen one: two different numbers


def test_the_no_kit_harness_catches_a_pickle_that_needs_the_kit(tmp_path, trained):
    """The old bundle (the kit's own classes) must fail there: the harness can fail."""
    with open(tmp_path / "lin_reg.bin", "wb") as f_out:
        pickle.dump((trained.vectorizer, trained.model), f_out)
    with pytest.raises(AssertionError, match="No module named 'mlops_kit"):
        run_without_kit(f"RIDES = {[COURSE_RIDE]!r}\n" + COURSE_PREDICT, tmp_path)


def test_the_pickle_holds_what_a_course_fit_holds(tmp_path, trained):
    """The saved objects have the attributes the course's own fit gives them, no more."""
    path = tmp_path / "lin_reg.bin"
    save_bundle(path, trained.vectorizer, trained.model)
    with open(path, "rb") as f_in:
        dv, model = pickle.load(f_in)
    assert type(dv) is DictVectorizer and type(model) is LinearRegression
    records = [COURSE_RIDE, {"PU_DO": "1_2", "trip_distance": 0.5}]
    course_dv = DictVectorizer()
    X = course_dv.fit_transform(records)
    course_model = LinearRegression().fit(X, [10.0, 5.0])
    assert set(vars(dv)) == set(vars(course_dv))
    assert set(vars(model)) == set(vars(course_model))
    assert dv.get_params() == course_dv.get_params()
    assert model.get_params() == course_model.get_params()
    assert model.n_features_in_ == len(dv.feature_names_) == trained.metrics["n_features"]
    np.testing.assert_array_equal(model.coef_, trained.model.coef_)
    assert model.intercept_ == trained.model.intercept_


def test_a_loaded_bundle_predicts_raw_trips_as_the_kit_model(tmp_path, trained):
    path = tmp_path / "lin_reg.bin"
    save_bundle(path, trained.vectorizer, trained.model, trained.metadata())
    dv, model, metadata = load_bundle(path)
    assert metadata["vectorizer"] == "DictVectorizer" and metadata["model"] == "LinearRegression"
    assert metadata["fitted_as"] == {
        "vectorizer": "TripVectorizer",
        "model": "ExactLinearRegression",
    }
    _, val = synthetic_pair(rows=2000)
    raw = val.head(50)
    np.testing.assert_allclose(
        predict(dv, model, raw), predict(trained.vectorizer, trained.model, raw), atol=1e-9, rtol=0
    )
    with pytest.raises(MissingColumnsError, match="trip_distance"):
        predict(dv, model, raw.drop(columns="trip_distance"))


@pytest.mark.parametrize("name", ["lasso", "ridge"])
def test_lasso_and_ridge_bundles_are_the_course_s_too(tmp_path, name):
    train, val = synthetic_pair(rows=2000)
    result = train_and_evaluate(train, val, model=name)
    path = tmp_path / "model.bin"
    save_bundle(path, result.vectorizer, result.model)
    with open(path, "rb") as f_in:
        dv, model = pickle.load(f_in)
    assert type(dv) is DictVectorizer and type(model) is {"lasso": Lasso, "ridge": Ridge}[name]
    kit = result.model.predict(result.vectorizer.transform(pd.DataFrame([COURSE_RIDE])))
    np.testing.assert_allclose(model.predict(dv.transform(COURSE_RIDE)), kit, atol=1e-9, rtol=0)
