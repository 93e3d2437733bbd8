"""Time a batch of short notebooks: one papermill CLI call each vs ``mlops-kit batch``.

    python benchmarks/bench_batch.py                 # 16 notebooks, 2 workers
    python benchmarks/bench_batch.py --repeat 20     # + 20 batches, counting kernel-start failures

A papermill CLI call is a new Python process: it imports papermill (nbformat's schema
machinery alone builds dozens of parsers) before its kernel starts, then shuts the kernel
down and exits. ``mlops-kit batch`` imports once, in a fork server, and runs the notebooks
on long-lived workers. The script prints both wall times, their ratio, and where the time
of one notebook goes (interpreter start, imports, kernel start, execution, shutdown), so the
ratio can be explained, not only observed. Nothing is written outside a temporary folder.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BIN = Path(sys.executable).parent
CODE = [
    "import math\nvalue = math.sqrt(x) * 2",
    "from mlops_kit.records import record\nrecord('value', value)",
]


def write_notebook(path: Path) -> None:
    import nbformat
    from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

    nb = new_notebook()
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    params = new_code_cell("x = 0  # which run this is")
    params.metadata["tags"] = ["parameters"]
    nb.cells = [new_markdown_cell("# A short notebook"), params, *map(new_code_cell, CODE)]
    nbformat.write(nb, path)


def timed(argv: list[str], **kw) -> tuple[float, subprocess.CompletedProcess]:
    start = time.perf_counter()
    done = subprocess.run(argv, capture_output=True, text=True, **kw)
    seconds = time.perf_counter() - start
    if done.returncode not in (0,):
        sys.exit(f"{' '.join(argv)} failed ({done.returncode}):\n{done.stderr[-2000:]}")
    return seconds, done


def serial_cli(nb: Path, out: Path, jobs: int) -> float:
    """Run the notebook ``jobs`` times, one ``papermill`` process each, one after the other."""
    out.mkdir()
    total = 0.0
    for i in range(jobs):
        argv = [str(BIN / "papermill"), str(nb), str(out / f"run_{i:02d}.ipynb")]
        argv += ["-p", "x", str(i), "--no-progress-bar", "--log-level", "WARNING"]
        total += timed(argv)[0]
    return total


def batch_cli(grid: Path, workers: int) -> tuple[float, dict]:
    """Run the same notebooks with ``mlops-kit batch`` (a fresh process, imports included)."""
    argv = [str(BIN / "mlops-kit"), "batch", str(grid), "--workers", str(workers)]
    seconds, done = timed(argv + ["--force", "--json"])
    return seconds, json.loads(done.stdout)


def phases(nb: Path, samples: int = 3) -> dict[str, float]:
    """Median seconds of each phase of one execution, measured apart.

    Kernel start, execution and shutdown are timed on a bare jupyter_client kernel; the
    bookkeeping is what a warm ``run_notebook`` call takes beyond those three.
    """
    python = sys.executable
    interp = [timed([python, "-c", "pass"])[0] for _ in range(samples)]
    imports = [timed([python, "-c", "import papermill"])[0] for _ in range(samples)]

    import nbformat
    from jupyter_client.manager import KernelManager

    cells = [c.source for c in nbformat.read(nb, as_version=4).cells if c.cell_type == "code"]
    starts, runs, stops = [], [], []
    for _ in range(samples):
        t0 = time.perf_counter()
        km = KernelManager(kernel_name="python3")
        km.start_kernel(stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        kc = km.client()
        kc.start_channels()
        kc.wait_for_ready(timeout=120)
        t1 = time.perf_counter()
        for source in cells:
            kc.execute_interactive(
                source.replace("x = 0", "x = 4"), timeout=60, output_hook=lambda m: None
            )
        t2 = time.perf_counter()
        kc.stop_channels()
        km.shutdown_kernel()
        t3 = time.perf_counter()
        starts.append(t1 - t0)
        runs.append(t2 - t1)
        stops.append(t3 - t2)
    # the same notebook through the kit's runner, in this (warm) process: what remains
    # beyond the kernel's own work is papermill's and the runner's bookkeeping
    from mlops_kit.execution.runner import run_notebook

    out = nb.parent / "phases"
    run_notebook(nb, {"x": 1}, out / "warm.ipynb")
    whole = [run_notebook(nb, {"x": 1}, out / f"{i}.ipynb").seconds for i in range(samples)]
    median = statistics.median
    kernel = median(starts) + median(runs) + median(stops)
    return {
        "interpreter start": median(interp),
        "imports (papermill, nbformat)": max(0.0, median(imports) - median(interp)),
        "kernel start": median(starts),
        "execution": median(runs),
        "shutdown": median(stops),
        "papermill + runner bookkeeping": max(0.0, median(whole) - kernel),
    }


def repeat_batches(nb: Path, out: Path, jobs: int, workers: int, repeat: int) -> dict[str, int]:
    """Run the batch ``repeat`` times in this process; count kernel-start trouble."""
    from mlops_kit.execution.batch import Job, run_batch

    counts = {"batches": 0, "jobs": 0, "not ok": 0, "kernel start failed": 0, "start retried": 0}
    for r in range(repeat):
        batch = [
            Job(nb, {"x": i}, out / f"r{r:02d}" / f"run_{i:02d}.ipynb", key=f"{r}-{i}")
            for i in range(jobs)
        ]
        started = time.perf_counter()
        results = run_batch(batch, workers=workers, progress=False)
        counts["batches"] += 1
        counts["jobs"] += len(results)
        counts["not ok"] += sum(res.status != "ok" for res in results)
        counts["kernel start failed"] += sum(
            res.status == "kernel_died" and res.cell is None for res in results
        )
        counts["start retried"] += sum(
            any("failed to start" in note for note in res.notes) for res in results
        )
        print(
            f"  batch {r + 1:2d}/{repeat}: {time.perf_counter() - started:5.1f} s, "
            f"{sum(res.status == 'ok' for res in results)}/{len(results)} ok",
            flush=True,
        )
    return counts


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=16, help="notebook runs (default 16)")
    parser.add_argument("--workers", type=int, default=2, help="batch workers (default 2)")
    parser.add_argument("--repeat", type=int, default=0, help="then run N batches, count failures")
    parser.add_argument("--no-serial", action="store_true", help="skip the slow serial CLI loop")
    args = parser.parse_args(argv)
    os.environ.setdefault("JUPYTER_PREFER_ENV_PATH", "1")

    with tempfile.TemporaryDirectory(prefix="bench-batch-") as tmp:
        tmp = Path(tmp)
        os.environ.setdefault("MLOPS_KIT_CACHE_DIR", str(tmp / "cache"))
        nb = tmp / "short.ipynb"
        write_notebook(nb)
        grid = tmp / "grid.yaml"
        values = ", ".join(str(i) for i in range(args.jobs))
        grid.write_text(
            f"notebook: short.ipynb\noutput: {tmp / 'batch'}\ngrid: {{x: [{values}]}}\n"
        )
        cells = f"{len(CODE)} code cells + parameters"
        print(f"{args.jobs} short notebooks ({cells}), {os.cpu_count()} CPUs")
        print(f"load average before: {', '.join(f'{v:.1f}' for v in os.getloadavg())}\n")

        serial = None
        if not args.no_serial:
            serial = serial_cli(nb, tmp / "serial", args.jobs)
            print(
                f"serial papermill CLI, one process per notebook: {serial:6.1f} s  "
                f"({serial / args.jobs:.2f} s per notebook)"
            )
        batch, report = batch_cli(grid, args.workers)
        print(
            f"mlops-kit batch --workers {args.workers}:               {batch:6.1f} s  "
            f"({report['counts']})"
        )
        if serial is not None:
            ratio = serial / batch
            print(f"ratio serial / batch:                          {ratio:6.1f} x  (target >= 4)")

        print("\nwhere one notebook's time goes (median of 3, measured apart):", flush=True)
        parts = phases(nb)
        for name, seconds in parts.items():
            print(f"  {name:<32} {seconds:6.2f} s")
        per_cli = sum(parts.values())
        kernel = sum(parts.values()) - parts["interpreter start"]
        kernel -= parts["imports (papermill, nbformat)"]
        print(
            f"  -> a CLI call pays all of it:    {per_cli:6.2f} s x {args.jobs} = "
            f"{per_cli * args.jobs:5.1f} s"
        )
        once = parts["interpreter start"] + parts["imports (papermill, nbformat)"]
        estimate = once + kernel * args.jobs / args.workers
        print(
            f"  -> the batch pays the imports once, then kernel work on {args.workers} workers: "
            f"{once:.2f} + {kernel:.2f} x {args.jobs} / {args.workers} = {estimate:5.1f} s"
        )
        print(f"load average after: {', '.join(f'{v:.1f}' for v in os.getloadavg())}")

        if args.repeat:
            print(f"\n{args.repeat} batches of {args.jobs} notebooks on {args.workers} workers:")
            counts = repeat_batches(nb, tmp / "repeat", args.jobs, args.workers, args.repeat)
            print("  " + ", ".join(f"{k}: {v}" for k, v in counts.items()))
            if counts["kernel start failed"]:
                return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
