"""``mlops-kit train``: train the ride-duration model on one month, score it on another."""

from __future__ import annotations

import argparse

from ._common import add_json_flag, print_json

EPILOG = """\
Defaults are the course's final model: PU_DO + trip_distance, linear regression, trained
on green 2021-01 and validated on green 2021-02, rides of 1 to 60 minutes.

Examples:
  mlops-kit train                                   the course's model, human summary
  mlops-kit train --json                            one JSON object for scripts
  mlops-kit train --categorical PULocationID DOLocationID --numerical trip_distance
  mlops-kit train --model lasso --alpha 0.01
  mlops-kit train --train yellow:2023-01 --val yellow:2023-02 --categorical PULocationID \\
      DOLocationID --numerical                      the 2023 homework (no numerical column)
  mlops-kit train --train data/a.parquet --val data/b.parquet --out models/lin_reg.bin
  mlops-kit train --source synthetic --rows 50000   offline, seeded synthetic months

--out writes the course's pickle of (dv, model), a scikit-learn DictVectorizer and
LinearRegression (or Lasso/Ridge) that the course's module-4 code loads without mlops-kit,
and a JSON sidecar next to it (datasets and their sha256, parameters, metrics, versions).
"""


def register(subparsers) -> None:
    """Add ``train`` to the top-level parser."""
    parser = subparsers.add_parser(
        "train",
        help="train and evaluate the ride-duration model (the course's notebook in one command)",
        description="Train a linear, Lasso or Ridge model of taxi ride duration on one TLC "
        "month and report the RMSE on another.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--train", default="green:2021-01", metavar="DATASET_OR_PATH",
        help="training month: a dataset id (service:YYYY-MM) or a parquet path "
        "(default: %(default)s)",
    )  # fmt: skip
    parser.add_argument(
        "--val", default="green:2021-02", metavar="DATASET_OR_PATH",
        help="validation month, the same kinds (default: %(default)s)",
    )  # fmt: skip
    parser.add_argument(
        "--categorical", nargs="*", default=["PU_DO"], metavar="COLUMN",
        help="one-hot columns; PU_DO is built from the location IDs (default: PU_DO)",
    )  # fmt: skip
    parser.add_argument(
        "--numerical", nargs="*", default=["trip_distance"], metavar="COLUMN",
        help="numerical columns; give the flag alone for none (default: trip_distance)",
    )  # fmt: skip
    parser.add_argument(
        "--model", default="linear", choices=["linear", "lasso", "ridge"],
        help="the regressor (default: %(default)s; linear is solved exactly)",
    )  # fmt: skip
    parser.add_argument(
        "--alpha", type=float, default=None,
        help="penalty of lasso/ridge (default: 0.01 for lasso, 1.0 for ridge)",
    )  # fmt: skip
    parser.add_argument(
        "--min-duration", type=float, default=1.0, metavar="MINUTES",
        help="shortest ride kept, inclusive (default: 1)",
    )  # fmt: skip
    parser.add_argument(
        "--max-duration", type=float, default=60.0, metavar="MINUTES",
        help="longest ride kept, inclusive (default: 60)",
    )  # fmt: skip
    parser.add_argument(
        "--source", default="auto", choices=["auto", "real", "synthetic"],
        help="auto: real data, else synthetic with a warning; real: never synthetic; "
        "synthetic: always (default: %(default)s)",
    )  # fmt: skip
    parser.add_argument(
        "--rows", type=int, default=None,
        help="synthetic month size, or a seeded sample of real months",
    )  # fmt: skip
    parser.add_argument("--seed", type=int, default=42, help="random seed (default: 42)")
    parser.add_argument(
        "--out", default=None, metavar="PATH",
        help="save the model bundle here, e.g. models/lin_reg.bin (+ PATH.json sidecar)",
    )  # fmt: skip
    add_json_flag(parser)
    parser.set_defaults(func=handle)


def _number(value: float) -> int | float:
    return int(value) if float(value).is_integer() else value


def handle(args) -> int:
    """Train, print the summary (or JSON), optionally save the bundle; returns 0."""
    from ..model.bundle import save_bundle
    from ..model.training import train_and_evaluate

    result = train_and_evaluate(
        args.train,
        args.val,
        categorical=args.categorical,
        numerical=args.numerical,
        model=args.model,
        alpha=args.alpha,
        min_duration=_number(args.min_duration),
        max_duration=_number(args.max_duration),
        source=args.source,
        rows=args.rows,
        seed=args.seed,
    )
    m = result.metrics
    out = dict(m)
    out["train"] = result.datasets["train"].get("id") or result.datasets["train"].get("path")
    out["val"] = result.datasets["val"].get("id") or result.datasets["val"].get("path")
    if args.out:
        save_bundle(args.out, result.vectorizer, result.model, result.metadata())
        out["out"] = args.out
    if args.json:
        print_json(out)
        return 0
    features = " + ".join(result.parameters["categorical"] + result.parameters["numerical"])
    model = m["model"] if m["alpha"] is None else f"{m['model']} (alpha={m['alpha']})"
    lines = [
        f"{model} on {features}: {m['n_features']:,} features",
        f"train {out['train']}: {m['train_rows']:,} trips, RMSE {m['train_rmse']:.4f} min",
        f"val   {out['val']}: {m['val_rows']:,} trips, RMSE {m['val_rmse']:.4f} min "
        f"(predicting the mean: {m['baseline_rmse']:.4f})",
        f"{m['seconds']:.2f} s from reading the files to the last RMSE",
    ]
    if m["synthetic"]:
        lines.append("note: SYNTHETIC data (seeded, real schema), not the real TLC months")
    if args.out:
        lines.append(f"saved {args.out} (+ {args.out}.json)")
    print("\n".join(lines))
    return 0
