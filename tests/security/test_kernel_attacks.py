"""Attacks on the runner itself from a sandboxed kernel: messages too big, or forged.

The kernel holds its session key, so it can send the runner anything. These run one
notebook each, in this process, under the grader's limits, and check that the runner
survives with its memory intact and the status says what happened.
"""

from __future__ import annotations

import threading
import time

import nbformat
import pytest

from mlops_kit.execution.runner import Limits, run_notebook

pytestmark = pytest.mark.runner

LIMITS = Limits(network=False, memory_mb=3000, output_bytes=5_000_000, pids=256)


def _notebook(tmp_path, source: str):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(source)]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python", "language": "python"}
    path = tmp_path / "attack.ipynb"
    nbformat.write(nb, path)
    return path


def _peak_rss_during(run) -> tuple[object, int]:
    """Run ``run()`` and return (its result, this process's peak resident MiB meanwhile)."""
    peak = [0]
    done = threading.Event()

    def watch():
        while not done.is_set():
            with open("/proc/self/status") as handle:
                rss = int(handle.read().split("VmRSS:")[1].split()[0]) // 1024
            peak[0] = max(peak[0], rss)
            time.sleep(0.02)

    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    try:
        return run(), peak[0]
    finally:
        done.set()
        thread.join()


def test_one_huge_display_cannot_exhaust_the_runner_s_memory(tmp_path, isolation):
    path = _notebook(
        tmp_path,
        'from IPython.display import display\ndisplay({"text/plain": "x" * 400_000_000}, raw=True)',
    )
    with open("/proc/self/status") as handle:
        before = int(handle.read().split("VmRSS:")[1].split()[0]) // 1024
    result, peak = _peak_rss_during(lambda: run_notebook(path, limits=LIMITS, timeout_cell=60))
    assert result.status == "output_too_large", result.error
    assert peak - before < 200, f"the runner grew by {peak - before} MiB"


def test_a_forged_message_the_runner_cannot_read_ends_that_run_only(tmp_path, isolation):
    path = _notebook(
        tmp_path,
        "from IPython.display import display\n"
        "from mlops_kit.records import MIME_TYPE\n"
        "s = get_ipython().kernel.session\n"
        "pack = s.pack\n"
        's.pack = lambda obj: pack(obj).replace(b\'"SENTINEL"\', b"7" * 5000)\n'
        'display({MIME_TYPE: {"name": "answer:q1", "value": "SENTINEL"}}, raw=True)\n',
    )
    result = run_notebook(path, limits=LIMITS, timeout_cell=60)
    assert result.status == "kernel_died"
    assert "could not read what the kernel sent" in result.error
    assert "answer:q1" not in result.records
