"""``mlops-kit data``: fetch, locate, describe and synthesise TLC months."""

from __future__ import annotations

import argparse

from ._common import add_json_flag, print_json

EPILOG = """\
Datasets are written service:YYYY-MM, service in yellow, green, fhv, fhvhv.

Examples:
  mlops-kit data fetch green:2021-01 green:2021-02   download into the cache (progress bar)
  mlops-kit data path green:2021-01                  where the file is, or would be downloaded
  mlops-kit data info green:2021-01                  rows, columns, pickup range, size, sha256
  mlops-kit data info data/green_tripdata_2021-01.parquet --json
  mlops-kit data synth yellow:2023-01 --rows 100000 --seed 1
  mlops-kit data summary green:2021-01 green:2021-02 what `make run` shows first

Where data comes from: a file in MLOPS_KIT_DATA_DIR, else the cache (data/ in a checkout,
MLOPS_KIT_CACHE_DIR to move it), else a download from TLC. Offline (or MLOPS_KIT_OFFLINE=1)
the kit uses seeded synthetic data with the real schema and says so in one line, unless
real months are asked for beside it: it never mixes real and synthetic months.
--verbose shows the details (network errors, retries).
"""


def register(subparsers) -> None:
    """Add ``data`` and its sub-commands to the top-level parser."""
    parser = subparsers.add_parser(
        "data",
        help="fetch, locate, describe and synthesise NYC TLC trip data",
        description="Work with NYC TLC monthly trip files (yellow, green, fhv, fhvhv).",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.set_defaults(func=lambda args: (parser.print_help(), 0)[1])
    sub = parser.add_subparsers(dest="data_command", metavar="ACTION")
    raw = argparse.RawDescriptionHelpFormatter

    fetch = sub.add_parser(
        "fetch",
        help="download months into the cache",
        description="Download TLC months into <cache>/tlc/ (validated, never a half file).",
        epilog="Example:\n  mlops-kit data fetch green:2021-01 green:2021-02 --force",
        formatter_class=raw,
    )
    fetch.add_argument("datasets", nargs="+", metavar="DATASET", help="e.g. green:2021-01")
    fetch.add_argument("--force", action="store_true", help="download again even if cached")
    add_json_flag(fetch)
    _add_verbose(fetch)
    fetch.set_defaults(func=_fetch)

    path = sub.add_parser(
        "path",
        help="print where a dataset resolves (or would be downloaded)",
        description="Print the file read_trips would use, and where it comes from.",
        epilog="Example:\n  mlops-kit data path green:2021-01",
        formatter_class=raw,
    )
    path.add_argument("dataset", metavar="DATASET")
    add_json_flag(path)
    _add_verbose(path)
    path.set_defaults(func=_path)

    info = sub.add_parser(
        "info",
        help="rows, columns, pickup range, size and sha256 of a dataset or file",
        description="Describe a dataset or parquet file from its footer and pickup column.",
        epilog="Examples:\n  mlops-kit data info green:2021-01\n"
        "  mlops-kit data info yellow:2023-01 --source synthetic --json",
        formatter_class=raw,
    )
    info.add_argument("dataset", metavar="DATASET_OR_PATH")
    _add_source(info)
    add_json_flag(info)
    _add_verbose(info)
    info.set_defaults(func=_info)

    synth = sub.add_parser(
        "synth",
        help="write a seeded synthetic month with the real schema",
        description="Write a synthetic month (real TLC schema, realistic structure). Without "
        "--out it goes to the cache, where read_trips(..., source='synthetic') finds it.",
        epilog="Examples:\n  mlops-kit data synth green:2021-01\n"
        "  mlops-kit data synth fhv:2021-01 --rows 50000 --seed 7 --out /tmp/fhv.parquet",
        formatter_class=raw,
    )
    synth.add_argument("dataset", metavar="DATASET")
    synth.add_argument("--rows", type=int, default=None, help="trips (default: a real month)")
    synth.add_argument("--seed", type=int, default=42, help="random seed (default 42)")
    synth.add_argument("--out", default=None, help="write here instead of the cache")
    add_json_flag(synth)
    _add_verbose(synth)
    synth.set_defaults(func=_synth)

    summary = sub.add_parser(
        "summary",
        help="rows, date range and share of 1-60 min trips, real or synthetic",
        description="Summarise months the way the course first looks at them.",
        epilog="Example:\n  mlops-kit data summary green:2021-01 green:2021-02 --json",
        formatter_class=raw,
    )
    summary.add_argument("datasets", nargs="+", metavar="DATASET_OR_PATH")
    _add_source(summary)
    add_json_flag(summary)
    _add_verbose(summary)
    summary.set_defaults(func=_summary)


def _add_source(parser) -> None:
    parser.add_argument(
        "--source",
        choices=("auto", "real", "synthetic"),
        default="auto",
        help="auto: real data, else synthetic with a warning (default); real: fail instead; "
        "synthetic: always synthetic",
    )


def _add_verbose(parser) -> None:
    parser.add_argument(
        "-v", "--verbose", action="store_true",
        help="also show the details: network errors, retries, where each file was looked for",
    )  # fmt: skip


def _setup_logging(args) -> None:
    import logging

    if args.verbose:
        logging.basicConfig(level=logging.DEBUG, format="%(levelname)s %(name)s: %(message)s")
    else:  # one line per fallback, as the library words it
        logging.basicConfig(level=logging.WARNING, format="%(message)s")


def _fetch(args) -> int:
    from ..tlc import check_month, fetch, parse_dataset

    _setup_logging(args)
    datasets = [parse_dataset(name) for name in args.datasets]
    for ds in datasets:  # every name is checked before the first download
        check_month(ds)
    results = []
    for ds in datasets:
        path = fetch(ds, force=args.force)
        results.append({"dataset": ds.id, "path": str(path)})
        if not args.json:
            print(f"{ds.id}\t{path}")
    if args.json:
        print_json({"fetched": results})
    return 0


def _path(args) -> int:
    from ..tlc import resolve

    _setup_logging(args)
    res = resolve(args.dataset)
    payload = {
        "dataset": res.dataset.id if res.dataset else None,
        "path": str(res.path),
        "origin": res.origin,
        "exists": res.exists,
        "synthetic": res.synthetic,
    }
    if args.json:
        print_json(payload)
    else:
        note = "" if res.exists else f"  (not on disk yet: would come from {res.origin})"
        print(f"{res.path}{note}")
    return 0


def _human_bytes(size: int) -> str:
    value = float(size)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{value:,.1f} {unit}" if unit != "B" else f"{size:,} B"
        value /= 1024
    return f"{size:,} B"  # pragma: no cover


def _info(args) -> int:
    from ..tlc import dataset_info

    _setup_logging(args)
    info = dataset_info(args.dataset, source=args.source)
    if args.json:
        print_json(info)
        return 0
    kind = "SYNTHETIC" if info["synthetic"] else "real"
    print(f"dataset   {info['dataset'] or '-'} ({kind}, from {info['origin']})")
    print(f"path      {info['path']}")
    print(f"rows      {info['rows']:,}")
    print(f"pickups   {info['pickup_min']} .. {info['pickup_max']} ({info['pickup_column']})")
    print(f"size      {_human_bytes(info['size_bytes'])}")
    print(f"sha256    {info['sha256']}")
    print(f"columns   {len(info['columns'])}")
    for name, dtype in info["columns"].items():
        print(f"  {name:<24} {dtype}")
    return 0


def _synth(args) -> int:
    from ..tlc import dataset_info, parse_dataset, synthetic_trips

    _setup_logging(args)
    ds = parse_dataset(args.dataset)
    path = synthetic_trips(ds.service, ds, args.rows, args.seed, path=args.out)
    info = dataset_info(path)
    info.update(dataset=ds.id, seed=args.seed)
    if args.json:
        print_json(info)
    else:
        print(f"{ds.id}: {info['rows']:,} synthetic rows (seed {args.seed}) -> {path}")
    return 0


def _summary(args) -> int:
    from ..tlc import locate_months, trip_summary

    _setup_logging(args)
    months = locate_months(args.datasets, source=args.source)  # all real, or all synthetic
    rows = [trip_summary(month) for month in months]
    if args.json:
        print_json({"datasets": rows})
        return 0
    header = f"{'dataset':<16} {'kind':<9} {'rows':>10}  {'pickups from .. to':<41} {'1-60 min':>8}"
    print(header)
    for row in rows:
        kind = "SYNTHETIC" if row["synthetic"] else "real"
        dates = f"{row['pickup_min']} .. {row['pickup_max']}"
        share = f"{row['share_kept']:.1%}" if row["share_kept"] is not None else "-"
        name = row["dataset"] or row["path"]
        print(f"{name:<16} {kind:<9} {row['rows']:>10,}  {dates:<41} {share:>8}")
    if any(row["synthetic"] for row in rows):
        print("note: SYNTHETIC rows are seeded stand-ins with the real schema, not TLC records.")
    return 0
