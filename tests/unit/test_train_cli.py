"""``mlops-kit train``: defaults, --json keys, --out bundle, errors as one paragraph."""

from __future__ import annotations

import json

import pytest

from mlops_kit.cli import build_parser, main
from mlops_kit.model.bundle import load_bundle

SYNTHETIC = ["--source", "synthetic", "--rows", "3000", "--seed", "7"]


def run(capsys, *argv):
    code = main(["train", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_defaults_are_the_course_final_model():
    args = build_parser().parse_args(["train"])
    assert args.train == "green:2021-01" and args.val == "green:2021-02"
    assert args.categorical == ["PU_DO"] and args.numerical == ["trip_distance"]
    assert args.model == "linear" and args.alpha is None
    assert (args.min_duration, args.max_duration) == (1.0, 60.0)
    assert args.source == "auto" and args.out is None and args.json is False


def test_json_has_the_promised_keys(capsys):
    code, out, _ = run(capsys, *SYNTHETIC, "--json")
    assert code == 0
    data = json.loads(out)
    for key in ("train_rows", "val_rows", "n_features", "train_rmse", "val_rmse", "model"):
        assert key in data
    assert data["synthetic"] is True and data["model"] == "linear"
    assert isinstance(data["seconds"], float) and data["seconds"] > 0
    assert data["train"] == "green:2021-01"


def test_feature_and_model_options_reach_the_training(capsys):
    code, out, _ = run(
        capsys, *SYNTHETIC, "--json", "--categorical", "PULocationID", "DOLocationID",
        "--numerical", "--model", "lasso", "--alpha", "0.5", "--min-duration", "2",
        "--max-duration", "30",
    )  # fmt: skip
    data = json.loads(out)
    assert code == 0 and data["model"] == "lasso" and data["alpha"] == 0.5
    # PU and DO one-hot only: fewer features than PU_DO routes
    _, default_out, _ = run(capsys, *SYNTHETIC, "--json")
    assert data["n_features"] < json.loads(default_out)["n_features"]
    assert data["train_rows"] < json.loads(default_out)["train_rows"]  # narrower bounds


def test_human_summary_and_bundle(capsys, tmp_path):
    target = tmp_path / "models" / "lin_reg.bin"
    code, out, _ = run(capsys, *SYNTHETIC, "--out", str(target))
    assert code == 0
    assert "RMSE" in out and "SYNTHETIC" in out and "features" in out
    assert target.is_file() and (tmp_path / "models" / "lin_reg.bin.json").is_file()
    vectorizer, model, metadata = load_bundle(target)
    assert metadata["parameters"]["categorical"] == ["PU_DO"]
    assert metadata["metrics"]["train_rows"] > 0


def test_train_from_parquet_paths(capsys, tmp_path):
    from mlops_kit.tlc.synthetic import synthetic_trips

    train = synthetic_trips("green", "2021-01", 2000, 3, path=tmp_path / "a.parquet")
    val = synthetic_trips("green", "2021-02", 2000, 3, path=tmp_path / "b.parquet")
    code, out, _ = run(capsys, "--train", str(train), "--val", str(val), "--json")
    assert code == 0 and json.loads(out)["synthetic"] is True


@pytest.mark.parametrize(
    "argv,needle",
    [
        (["--train", "green:2021-13"], "2021-13"),
        (["--numerical", "no_such_column"], "no_such_column"),
        (["--min-duration", "60", "--max-duration", "1"], "Swap"),
    ],
)
def test_errors_are_one_paragraph_without_traceback(capsys, argv, needle):
    code, out, err = run(capsys, *SYNTHETIC, *argv)
    assert code == 2
    assert needle in err and "Traceback" not in err
    assert err.startswith("mlops-kit train: error:")
