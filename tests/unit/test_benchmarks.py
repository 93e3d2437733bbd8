"""The benchmark scripts run, and refuse bad arguments before they spend minutes on data."""

import subprocess
import sys
from pathlib import Path

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"


def test_bench_training_needs_at_least_one_kit_run():
    done = subprocess.run(
        [sys.executable, str(BENCHMARKS / "bench_training.py"), "--kit-runs", "0"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2
    assert "--kit-runs must be at least 1, got 0" in done.stderr


def test_bench_fresh_memory_prints_both_costs():
    import json

    script = str(BENCHMARKS / "bench_fresh_memory.py")
    done = subprocess.run(
        [sys.executable, script, "--mb", "4", "--times", "2", "--json"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["mb"] == 4 and report["reused_ms_per_mb"] > 0 and report["fresh_ms_per_mb"] > 0
    refused = subprocess.run(
        [sys.executable, script, "--mb", "0"], capture_output=True, text=True, timeout=120
    )
    assert refused.returncode == 2 and "at least 1" in refused.stderr
