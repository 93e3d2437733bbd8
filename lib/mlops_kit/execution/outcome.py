"""What happened, in words: a run's status, the failing cell and a paragraph with the fix.

The runner never raises for a notebook's fault. After each attempt it calls :func:`classify`,
which reads the executed notebook, the client's notes and the kernel's exit status and
returns one of :data:`STATUSES` with the details a person needs: the cell that failed or
was running (with the first line of its source), the exception's name and value, and one
paragraph naming the problem and the fix (a cell that raised, an endless loop, a kernel
killed under its memory cap, a flood of output, a kernel that never started).
"""

from __future__ import annotations

import signal
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from .kernel import Attempt
    from .limits import Limits

STATUSES = (
    "ok",
    "cell_error",
    "timeout",
    "kernel_died",
    "invalid_notebook",
    "bad_parameters",
    "out_of_memory",
    "output_too_large",
)
"""Every status a :class:`RunResult` can carry."""


def is_no_such_kernel(exc: BaseException) -> bool:
    """True when the kernel could not start because no kernelspec has its name."""
    return type(exc).__name__ == "NoSuchKernel"


def exception_line(exc: BaseException) -> str:
    """``TypeName: first line of the message``, for a paragraph about the exception."""
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__


def _cell_source(nb: Any, index: int | None) -> str:
    if index is None or index >= len(nb.cells):
        return ""
    lines = [line for line in nb.cells[index].source.splitlines() if line.strip()]
    return lines[0].strip()[:80] if lines else ""


def _clean_exit(ename: str | None, evalue: str | None) -> bool:
    return ename == "SystemExit" and evalue in ("", "0", "None", None)


def _early_exit(nb: Any, client: Any) -> int | None:
    """Index of a cell that ended the run with ``sys.exit(0)`` (papermill counts it as ok)."""
    if client.kit_cell_error is not None and _clean_exit(*client.kit_cell_error[1:]):
        return client.kit_cell_error[0]
    for index, cell in enumerate(nb.cells):
        for out in cell.get("outputs", []):
            if out.get("output_type") == "error" and out.get("ename") == "SystemExit":
                return index
    return None


def first_failure(nb: Any, client: Any) -> tuple[int, str | None, str | None] | None:
    """The first failing cell: (index, ename, evalue), from outputs, reply or metadata."""
    for index, cell in enumerate(nb.cells):
        for out in cell.get("outputs", []):
            if out.get("output_type") == "error" and not _clean_exit(
                out.get("ename"), out.get("evalue")
            ):
                return index, out.get("ename"), out.get("evalue")
    if client.kit_cell_error is not None:
        return None if _clean_exit(*client.kit_cell_error[1:]) else client.kit_cell_error
    for index, cell in enumerate(nb.cells):
        if cell.metadata.get("papermill", {}).get("exception") is True:
            return index, "CellExecutionError", "the cell failed without an error message"
    return None


def classify(
    attempt: Attempt, limits: Limits, timeout_cell: float | None, timeout_total: float | None
) -> tuple[str, dict[str, Any]]:
    """Map what happened to a status, a paragraph, the cell and the exception."""
    nb, client, exc = attempt.nb, attempt.client, attempt.exc
    current = client.kit_current_cell
    where = f"cell {current} (`{_cell_source(nb, current)}`)" if current is not None else "start-up"

    if client.kit_output_exceeded_cell is not None:
        index = client.kit_output_exceeded_cell
        return "output_too_large", {
            "cell": index,
            "error": (
                f"Cell {index} (`{_cell_source(nb, index)}`) pushed the notebook's output past "
                f"the cap of {limits.output_bytes:,} bytes, so the run was stopped and that "
                "cell's output was left out of the saved notebook. Fix: print summaries "
                "(df.head(), shapes, a few numbers) instead of whole tables or loops of prints."
            ),
        }

    name = type(exc).__name__ if exc is not None else None
    if exc is None or name == "CellExecutionError":
        failure = first_failure(nb, client)
        if failure is not None:
            return _cell_error(nb, *failure, limits)
        if exc is None:
            stopped = _early_exit(nb, client)
            if stopped is None:
                return "ok", {}
            return "ok", {
                "notes": [
                    f"The notebook stopped itself with sys.exit(0) in cell {stopped}; "
                    "the cells after it did not run."
                ]
            }
    if name == "CellTimeoutError" and limits.output_bytes and "IOPub" in str(exc):
        # its output stopped arriving: the runner refuses one message past a few times the
        # output cap (ZeroMQ drops it unread), so a notebook cannot exhaust the runner's memory
        return "output_too_large", {
            "cell": current,
            "error": (
                f"Cell {current} (`{_cell_source(nb, current)}`) sent an output too large to "
                f"receive (far past the cap of {limits.output_bytes:,} bytes), so the run "
                "was stopped. Fix: print summaries (df.head(), shapes, a few numbers) "
                "instead of whole tables."
            ),
        }
    if name == "CellTimeoutError" or (attempt.total_deadline_hit and attempt.started):
        if attempt.total_deadline_hit:
            what = f"the whole run took more than its {timeout_total:g} s budget"
            fix = "give the run a larger timeout_total or make the notebook faster"
        else:
            what = f"it ran longer than the per-cell limit of {timeout_cell:g} s"
            fix = "look for an endless loop or a slow step, or raise timeout_cell"
        return "timeout", {
            "cell": current,
            "error": f"The notebook was stopped in {where}: {what}. Fix: {fix}.",
        }
    if not attempt.started:
        if attempt.total_deadline_hit:
            return "timeout", {
                "error": (
                    f"The kernel did not start within the run's {timeout_total:g} s budget. "
                    "Fix: raise timeout_total, or check the machine is not overloaded."
                )
            }
        hint = (
            f"install the kernel or pass kernel= (no kernel named {attempt.km.kernel_name!r})"
            if is_no_such_kernel(exc)
            else "check that ipykernel is installed in this environment "
            "(`python -m ipykernel_launcher --help`) and that the machine has free memory"
        )
        said = _last_words(attempt)
        return "kernel_died", {
            "error": f"The kernel failed to start twice ({exception_line(exc)}). Fix: {hint}."
            + (f" The sandbox said: {said}" if said else ""),
        }

    if name not in ("DeadKernelError", "CellExecutionError", "CellTimeoutError"):
        # not a death: the runner stopped a kernel whose messages it could not handle
        return "kernel_died", {
            "cell": current,
            "error": (
                f"The runner stopped the kernel in {where}: it could not read what the kernel "
                f"sent ({exception_line(exc)[:300]}). A notebook that tampers with the "
                "kernel's messages ends like this. Fix: run the notebook as it is meant to "
                "be run, top to bottom in a fresh kernel."
            ),
        }
    # The kernel died mid-run: a crash, os._exit, its own signal, or the memory cap.
    process = getattr(attempt.km, "kit_process", None)
    code = process.poll() if process is not None else None
    account = (attempt.sandbox_end or {}).get("monitor") or {}
    peak = _peak(account)
    if limits.memory_mb and account.get("memory_cap_hit"):
        held = account.get("rss_peak_kb")
        held = f", its processes holding {held // 1024:,} MiB" if isinstance(held, int) else ""
        return "out_of_memory", {
            "cell": current,
            "error": (
                f"The kernel hit its memory cap of {limits.memory_mb} MiB in {where}{held}, "
                "and was stopped. Fix: use less memory (read fewer columns or rows, free "
                "big objects) or ask for a larger memory cap."
            ),
        }
    sig, exit_code = account.get("signal"), account.get("exit")
    if not account and code is not None:
        sig, exit_code = (-code, None) if code < 0 else (None, code)
    how = (
        f"killed by {_signal_name(sig)}"
        if sig
        else (f"exit code {exit_code}" if exit_code is not None else exception_line(exc))
    )
    capped = (
        f", under a memory cap of {limits.memory_mb} MiB it did not reach"
        if (limits.memory_mb and account)
        else ""
    )
    return "kernel_died", {
        "cell": current,
        "error": (
            f"The kernel died in {where} ({how}{peak}{capped}). A notebook that calls os._exit, "
            "kills its own process, closes the kernel's connections, or crashes a C "
            "extension ends like this. Fix: open the output notebook to see the last "
            "output, then run that cell alone in Jupyter."
        ),
    }


def _peak(account: dict) -> str:
    kb = account.get("vm_peak_kb") if isinstance(account, dict) else None
    return f"; its address space peaked at {kb // 1024:,} MiB" if isinstance(kb, int) and kb else ""


def _last_words(attempt: Attempt) -> str:
    """The last line the sandbox or the kernel wrote on stderr, cut short (may be empty)."""
    end = attempt.sandbox_end or {}
    tail = end.get("stderr_tail") if isinstance(end, dict) else None
    lines = [line.strip() for line in str(tail or "").splitlines() if line.strip()]
    return lines[-1][:300] if lines else ""


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


def _cell_error(
    nb: Any, index: int, ename: str | None, evalue: str | None, limits: Limits
) -> tuple[str, dict[str, Any]]:
    source = _cell_source(nb, index)
    if ename == "MemoryError":
        cap = f" (capped at {limits.memory_mb} MiB)" if limits.memory_mb else ""
        return "out_of_memory", {
            "cell": index,
            "ename": ename,
            "evalue": evalue,
            "error": (
                f"Cell {index} (`{source}`) ran out of memory{cap}: MemoryError. Fix: use "
                "less memory (read fewer columns or rows, avoid copies of big frames)."
            ),
        }
    return "cell_error", {
        "cell": index,
        "ename": ename,
        "evalue": evalue,
        "error": (
            f"Cell {index} (`{source}`) raised {ename}: {evalue}. Fix: open the executed "
            "notebook at that cell to read the traceback, correct the code or the "
            "parameters, and run it again."
        ),
    }


def drop_outputs(nb: Any, index: int | None, cap: int | None) -> None:
    """Replace the outputs of the cell that crossed the output cap with a short note."""
    import nbformat

    if index is None or index >= len(nb.cells):
        return
    nb.cells[index].outputs = [
        nbformat.v4.new_output(
            "stream",
            name="stderr",
            text=f"[mlops-kit] output removed: the run crossed the output cap of {cap:,} bytes\n",
        )
    ]
