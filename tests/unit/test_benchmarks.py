"""The benchmark scripts refuse bad arguments before they spend minutes on data."""

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
