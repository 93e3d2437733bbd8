"""How much does new memory cost on this machine? The fact behind the kit's training design.

Fills a 48 MB numpy array ten times: five times freeing it in between (the process gets
back memory it has touched before), then five times keeping every array (each one is new
memory beyond the process's peak). On a laptop both are a few milliseconds; on some virtual
machines the second kind costs 20 times more, which is why ``train_and_evaluate`` keeps its
peak memory low rather than only its arithmetic. Prints milliseconds per MB for both.

    python benchmarks/bench_fresh_memory.py
    python benchmarks/bench_fresh_memory.py --mb 96 --times 8 --json
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time

import numpy as np


def fill_ms(mb: int, keep: list | None) -> float:
    """Milliseconds to allocate and fill ``mb`` MB of float64 ones (kept when ``keep``)."""
    start = time.perf_counter()
    array = np.ones(mb * 2**20 // 8)
    seconds = time.perf_counter() - start
    if keep is not None:
        keep.append(array)
    return seconds * 1000


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--mb", type=int, default=48, help="size of each array (MB)")
    parser.add_argument("--times", type=int, default=5, help="arrays of each kind")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args(argv)
    if args.mb < 1 or args.times < 1:
        parser.error("--mb and --times must be at least 1")
    fill_ms(args.mb, None)  # the first touch of the process's working set
    reused = [fill_ms(args.mb, None) for _ in range(args.times)]
    kept: list = []
    fresh = [fill_ms(args.mb, kept) for _ in range(args.times)]
    report = {
        "mb": args.mb,
        "reused_ms_per_mb": statistics.median(reused) / args.mb,
        "fresh_ms_per_mb": statistics.median(fresh) / args.mb,
    }
    report["ratio"] = report["fresh_ms_per_mb"] / report["reused_ms_per_mb"]
    if args.json:
        print(json.dumps(report))
    else:
        print(
            f"{args.mb} MB arrays, median of {args.times}: memory touched before "
            f"{report['reused_ms_per_mb']:.3f} ms/MB, new memory "
            f"{report['fresh_ms_per_mb']:.3f} ms/MB ({report['ratio']:.1f}x)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
