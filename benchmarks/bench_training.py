"""Time the course's training code against the kit, on a homework-sized month.

What runs, each in its own child process (so each peak memory is its own max RSS):

* ``reference``: the course's code as written: ``pd.read_parquet`` of the whole file,
  duration with ``.apply(lambda td: td.total_seconds() / 60)``, ``astype(str)``,
  ``to_dict(orient="records")`` + ``DictVectorizer``, ``LinearRegression()``.
* ``kit``: ``mlops_kit.model.training.train_and_evaluate`` (only the needed columns, read a
  record batch at a time and filtered as they come; codes instead of strings; the exact
  solver fitted from the vectoriser's slots; the validation month read on the second
  core meanwhile), run ``--kit-runs`` times (default 5) in fresh processes; the median
  run is compared (a one-second run swings by 30% on a shared machine, a fifty-second
  one does not).
* ``converged``: the same matrix solved by SciPy's lsqr run to convergence
  (atol = btol = 1e-14): the least-squares answer both should give.

Both feature sets of the course: ``pu+do`` (PULocationID, DOLocationID: the homework) and
``pu_do`` (PU_DO + trip_distance: the course's final model), training and validation
months included. By default the months are synthetic yellow 2023-01 / 2023-02 with
3,000,000 rows each (the real schema); pass real files with --train/--val.

    python benchmarks/bench_training.py                   # full size, a few minutes
    python benchmarks/bench_training.py --rows 200000     # quicker
    python benchmarks/bench_training.py --train yellow_tripdata_2023-01.parquet \\
        --val yellow_tripdata_2023-02.parquet
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time

FEATURE_SETS = {
    "pu+do": (["PULocationID", "DOLocationID"], []),
    "pu_do": (["PU_DO"], ["trip_distance"]),
}


def peak_rss_mb() -> float:
    """This process's peak resident memory (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# ------------------------------------------------------------------ the approaches


def run_reference(train_path: str, val_path: str, feature_set: str) -> dict:
    """The course's duration-prediction.ipynb, line for line (modern sklearn names)."""
    import numpy as np
    import pandas as pd
    from sklearn.feature_extraction import DictVectorizer
    from sklearn.linear_model import LinearRegression
    from sklearn.metrics import root_mean_squared_error

    categorical, numerical = FEATURE_SETS[feature_set]
    stages: dict[str, float] = {}
    clock = [time.perf_counter()]

    def lap(name):
        now = time.perf_counter()
        stages[name] = stages.get(name, 0.0) + now - clock[0]
        clock[0] = now

    def read_dataframe(filename):
        df = pd.read_parquet(filename)
        lap("read")
        pickup = [c for c in df.columns if c.endswith("pickup_datetime")][0]
        dropoff = [c for c in df.columns if c.endswith("dropoff_datetime")][0]
        df["duration"] = df[dropoff] - df[pickup]
        df["duration"] = df["duration"].apply(lambda td: td.total_seconds() / 60)
        lap("duration (.apply)")
        df = df[(df.duration >= 1) & (df.duration <= 60)]
        cats = ["PULocationID", "DOLocationID"]
        df[cats] = df[cats].astype(str)
        if "PU_DO" in categorical:
            df["PU_DO"] = df["PULocationID"] + "_" + df["DOLocationID"]
        lap("filter + astype(str)")
        return df

    start = time.perf_counter()
    df_train = read_dataframe(train_path)
    df_val = read_dataframe(val_path)
    dv = DictVectorizer()
    train_dicts = df_train[categorical + numerical].to_dict(orient="records")
    lap("to_dict")
    X_train = dv.fit_transform(train_dicts)
    lap("DictVectorizer")
    val_dicts = df_val[categorical + numerical].to_dict(orient="records")
    lap("to_dict")
    X_val = dv.transform(val_dicts)
    lap("DictVectorizer")
    y_train = df_train["duration"].values
    y_val = df_val["duration"].values
    lr = LinearRegression()
    lr.fit(X_train, y_train)
    lap("fit")
    train_rmse = root_mean_squared_error(y_train, lr.predict(X_train))
    val_rmse = root_mean_squared_error(y_val, lr.predict(X_val))
    lap("predict + rmse")
    return {
        "seconds": time.perf_counter() - start,
        "stages": stages,
        "train_rmse": float(train_rmse),
        "val_rmse": float(val_rmse),
        "n_features": int(X_train.shape[1]),
        "train_rows": int(X_train.shape[0]),
        "val_rows": int(X_val.shape[0]),
        "coef_norm": float(np.linalg.norm(lr.coef_)),
    }


def run_kit(train_path: str, val_path: str, feature_set: str) -> dict:
    """The kit: one call."""
    from mlops_kit.model.training import train_and_evaluate

    categorical, numerical = FEATURE_SETS[feature_set]
    start = time.perf_counter()
    result = train_and_evaluate(
        train_path, val_path, categorical=categorical, numerical=numerical, source="real"
    )
    seconds = time.perf_counter() - start
    m = result.metrics
    return {
        "seconds": seconds,
        "stages": result.timings,
        "train_rmse": m["train_rmse"],
        "val_rmse": m["val_rmse"],
        "n_features": m["n_features"],
        "train_rows": m["train_rows"],
        "val_rows": m["val_rows"],
        "solver": result.model.solver_,
    }


def run_converged(train_path: str, val_path: str, feature_set: str) -> dict:
    """The same least-squares problem solved by lsqr to convergence (the yardstick)."""
    import numpy as np
    from scipy.sparse.linalg import LinearOperator, lsqr

    from mlops_kit.model.features import prepare_trips
    from mlops_kit.model.training import rmse
    from mlops_kit.model.vectorizer import TripVectorizer
    from mlops_kit.tlc import read_trips

    categorical, numerical = FEATURE_SETS[feature_set]
    start = time.perf_counter()
    frames = [
        prepare_trips(read_trips(p, source="real"), categorical=categorical, numerical=numerical)
        for p in (train_path, val_path)
    ]
    vectorizer = TripVectorizer(categorical, numerical)
    X = vectorizer.fit_transform(frames[0])
    X_val = vectorizer.transform(frames[1])
    y, y_val = frames[0]["duration"].to_numpy(), frames[1]["duration"].to_numpy()
    means = np.asarray(X.mean(axis=0)).ravel()
    op = LinearOperator(
        X.shape,
        matvec=lambda v: X @ v - means @ v,
        rmatvec=lambda v: X.T @ v - means * v.sum(),
        dtype=np.float64,
    )
    w, istop, iterations = lsqr(op, y - y.mean(), atol=1e-14, btol=1e-14, iter_lim=100_000)[:3]
    b = y.mean() - means @ w
    return {
        "seconds": time.perf_counter() - start,
        "train_rmse": rmse(y, X @ w + b),
        "val_rmse": rmse(y_val, X_val @ w + b),
        "iterations": int(iterations),
        "istop": int(istop),
    }


APPROACHES = {"reference": run_reference, "kit": run_kit, "converged": run_converged}


def cpu_seconds() -> float:
    """User + system CPU time of this process (all threads): steadier than wall time on a
    shared machine, where other jobs stretch the wall clock."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def child(args) -> None:
    # import first: the wall clocks start after their imports, so CPU time must too
    import pandas  # noqa: F401
    import scipy.sparse.linalg  # noqa: F401
    import sklearn.feature_extraction  # noqa: F401
    import sklearn.linear_model  # noqa: F401

    import mlops_kit.model.training  # noqa: F401

    before = cpu_seconds()
    result = APPROACHES[args.child](args.train, args.val, args.feature_set)
    result["cpu_seconds"] = cpu_seconds() - before
    result["peak_mb"] = peak_rss_mb()
    print(json.dumps(result))


def spawn(approach: str, train: str, val: str, feature_set: str) -> dict:
    """Run one approach in a fresh Python process and return its JSON report."""
    command = [sys.executable, __file__, "--child", approach, "--feature-set", feature_set]
    command += ["--train", train, "--val", val]
    done = subprocess.run(command, capture_output=True, text=True, env=os.environ.copy())
    if done.returncode != 0:
        raise SystemExit(f"{approach} / {feature_set} failed:\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


# ------------------------------------------------------------------ the report


def synthetic_months(rows: int, seed: int) -> tuple[str, str]:
    from mlops_kit.tlc.synthetic import synthetic_trips

    return tuple(str(synthetic_trips("yellow", m, rows, seed)) for m in ("2023-01", "2023-02"))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--train", help="training parquet (default: synthetic yellow 2023-01)")
    parser.add_argument("--val", help="validation parquet (default: synthetic yellow 2023-02)")
    parser.add_argument("--rows", type=int, default=3_000_000, help="synthetic rows per month")
    parser.add_argument("--seed", type=int, default=42, help="seed of the synthetic months")
    parser.add_argument(
        "--feature-set", choices=[*FEATURE_SETS, "both"], default="both", help="which features"
    )
    parser.add_argument("--skip-reference", action="store_true", help="time only the kit")
    parser.add_argument(
        "--kit-runs",
        type=int,
        default=5,
        help="fresh-process runs of the kit; its median counts (a 1-second run is at the "
        "mercy of one noisy neighbour, a 50-second one averages it out)",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object at the end")
    parser.add_argument("--child", choices=APPROACHES, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child(args)
        return 0
    if bool(args.train) != bool(args.val):
        parser.error("pass both --train and --val, or neither")
    if args.kit_runs < 1:
        parser.error(f"--kit-runs must be at least 1, got {args.kit_runs}")
    if args.train:
        train, val, origin = args.train, args.val, "real files"
    else:
        train, val = synthetic_months(args.rows, args.seed)
        origin = f"synthetic yellow 2023-01/02, {args.rows:,} rows each, seed {args.seed}"
    print(f"data: {origin}")
    sets = list(FEATURE_SETS) if args.feature_set == "both" else [args.feature_set]
    report = {"data": origin, "feature_sets": {}}
    for feature_set in sets:
        cats, nums = FEATURE_SETS[feature_set]
        print(f"\n== {feature_set}: categorical={cats} numerical={nums}")
        runs = {}
        for approach in ("reference", "kit", "converged"):
            if approach == "reference" and args.skip_reference:
                continue
            if approach == "kit":
                repeats = [spawn(approach, train, val, feature_set) for _ in range(args.kit_runs)]
                repeats.sort(key=lambda run: run["seconds"])
                runs[approach] = dict(repeats[len(repeats) // 2])  # the median run
                runs[approach]["all_seconds"] = [run["seconds"] for run in repeats]
                runs[approach]["peak_mb"] = max(run["peak_mb"] for run in repeats)
            else:
                runs[approach] = spawn(approach, train, val, feature_set)
        truth = runs["converged"]
        for approach in ("reference", "kit"):
            if approach not in runs:
                continue
            run = runs[approach]
            run["train_rmse_diff"] = abs(run["train_rmse"] - truth["train_rmse"])
            run["val_rmse_diff"] = abs(run["val_rmse"] - truth["val_rmse"])
            stages = ", ".join(f"{k} {v:.2f}" for k, v in run["stages"].items())
            if "all_seconds" in run:
                spread = ", ".join(f"{s:.2f}" for s in run["all_seconds"])
                count = len(run["all_seconds"])
                stages += f"\n           {count} runs (s): {spread}; the median counts"
            print(
                f"{approach:>9}: {run['seconds']:7.2f} s (CPU {run['cpu_seconds']:.2f} s)  "
                f"peak {run['peak_mb']:7.0f} MB  "
                f"features {run['n_features']}  rows {run['train_rows']:,}/{run['val_rows']:,}\n"
                f"           stages (s): {stages}\n"
                f"           RMSE train {run['train_rmse']:.6f} val {run['val_rmse']:.6f}; "
                f"|diff| from converged: train {run['train_rmse_diff']:.2e} "
                f"val {run['val_rmse_diff']:.2e}"
            )
        print(
            f"converged: lsqr {truth['iterations']} iterations (istop {truth['istop']}), "
            f"RMSE train {truth['train_rmse']:.6f} val {truth['val_rmse']:.6f}"
        )
        if "reference" in runs:
            ref, kit = runs["reference"], runs["kit"]
            runs["speedup"] = ref["seconds"] / kit["seconds"]
            runs["cpu_speedup"] = ref["cpu_seconds"] / kit["cpu_seconds"]
            runs["memory_ratio"] = kit["peak_mb"] / ref["peak_mb"]
            print(
                f"speed-up: {runs['speedup']:.0f}x wall ({runs['cpu_speedup']:.0f}x CPU time)   "
                f"peak memory: kit {kit['peak_mb']:.0f} MB = "
                f"{runs['memory_ratio']:.2f} of the reference's {ref['peak_mb']:.0f} MB"
            )
        report["feature_sets"][feature_set] = runs
    if args.json:
        print(json.dumps(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
