"""mlops_kit.model.bundle: the course's pickle plus its sidecar, and what load_bundle refuses."""

from __future__ import annotations

import json
import pickle

import numpy as np
import pytest

from mlops_kit.errors import ModelBundleError
from mlops_kit.model.bundle import load_bundle, save_bundle, sidecar_path
from mlops_kit.model.training import make_model, train_and_evaluate

from .test_training import synthetic_pair


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
