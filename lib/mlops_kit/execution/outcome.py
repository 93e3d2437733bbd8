"""What happened, in words: a run's status, the failing cell and a paragraph with the fix.

The runner never raises for a notebook's fault. After each attempt it calls :func:`classify`,
which reads the executed notebook, the client's notes and the kernel's exit status and
returns one of :data:`STATUSES` with the details a person needs: the cell that failed or
was running, named as Jupyter shows it (:func:`cell_label`: ``In [17]``, the executed copy's
execution count) with the line that raised, the exception's name and value, the notebook to
open, and one paragraph naming the problem and the fix (a cell that raised, an endless loop,
a kernel killed under its memory cap, a flood of output, a kernel that never started). An
error that today's libraries raise on the course's code gets the fix from
:mod:`mlops_kit.execution.drift`.
"""

from __future__ import annotations

import re
import signal
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .drift import Drift, describe, hint_for

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

# Errors whose cause is often a relative path read from the wrong folder.
_PATH_ERRORS = {"FileNotFoundError", "NotADirectoryError", "IsADirectoryError"}


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


def cell_label(nb: Any, index: int | None) -> str:
    """Name a cell as Jupyter shows it: ``In [17]``, the executed copy's execution count.

    A cell the kernel never started has no count yet: ``In [ ]``, with its position among
    the notebook's cells (counting from 1) so it can still be found.
    """
    if index is None or index >= len(nb.cells):
        return "start-up"
    count = nb.cells[index].get("execution_count")
    return f"In [{count}]" if count else f"In [ ] (cell {index + 1} from the top)"


def _where(nb: Any, index: int | None) -> str:
    """``In [17] (`first line of its source`)``, or ``start-up`` outside any cell."""
    if index is None:
        return "start-up"
    return f"{cell_label(nb, index)} (`{_cell_source(nb, index)}`)"


def _shown_value(evalue: str | None, drift: Drift | None) -> str:
    """The exception's message as a paragraph shows it: its first line, not too long.

    When a drift entry matched, only the sentence it matched is kept (library messages go
    on with advice, such as reporting a bug upstream, that does not apply).
    """
    lines = [line.strip() for line in (evalue or "").splitlines() if line.strip()]
    text = lines[0] if lines else ""
    if drift is not None:
        match = re.search(drift.pattern, text)
        if match:
            end = text.find(". ", match.end())
            text = text if end < 0 else text[: end + 1]
    return text if len(text) <= 300 else text[:299] + "\u2026"


_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_ARROW = re.compile(r"^-+> *(\d+) (.*)$")


_CELL_FRAME = re.compile(r"^(?:Cell In ?\[(\d*)\]|Input In ?\[(\d*)\]|<ipython-input-(\d+))")


def _failing_line(nb: Any, index: int) -> tuple[int, str] | None:
    """``(line number, code)`` of the cell's line that raised, read from its traceback.

    IPython heads each frame of the cell's own code ``Cell In[N], line L`` and marks the
    line ``----> L code``; frames inside libraries are headed ``File <path>:L``. A chained
    exception (pandas' ``KeyError`` raised from ``get_loc``) shows the library's traceback
    first, so only arrows in frames of this cell count, and the last of them wins (the
    chain's final exception, the innermost line of this cell).
    """
    cell = nb.cells[index]
    count = cell.get("execution_count")
    for out in cell.get("outputs", []):
        if out.get("output_type") != "error":
            continue
        found = first = None
        in_cell = seen_header = False
        for entry in out.get("traceback", []):
            for raw in _ANSI.sub("", entry).splitlines():
                line = raw.strip()
                header = _CELL_FRAME.match(line)
                if header:
                    seen_header = True
                    number = next((g for g in header.groups() if g), "")
                    in_cell = count is None or not number or number == str(count)
                    continue
                if line.startswith("File "):
                    in_cell = False
                    continue
                match = _ARROW.match(raw.rstrip())
                if match:
                    code = match[2].strip()
                    arrow = int(match[1]), code if len(code) <= 80 else code[:79] + "\u2026"
                    first = first or arrow
                    found = arrow if in_cell else found
        # no frame header read (an unknown traceback format): the first arrow is the cell's
        return found if found or seen_header else first
    return None


@dataclass(frozen=True)
class Where:
    """Where a run happened, for the paragraphs: the notebook a person opens, the kernel's folder.

    Attributes:
        notebook: the path to open: the executed copy when one was written, else the source.
        executed: True when ``notebook`` is the executed copy (it holds the traceback).
        cwd: the kernel's working directory.
    """

    notebook: str
    executed: bool = False
    cwd: str | None = None

    @property
    def ref(self) -> str:
        """``the executed notebook PATH`` or ``the notebook PATH``."""
        return f"the {'executed ' if self.executed else ''}notebook {self.notebook}"


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
    attempt: Attempt,
    limits: Limits,
    timeout_cell: float | None,
    timeout_total: float | None,
    place: Where,
) -> tuple[str, dict[str, Any]]:
    """Map what happened to a status, a paragraph, the cell and the exception.

    The paragraph names the cell as Jupyter shows it (:func:`cell_label`) and the notebook
    to open (``place``); a cell error that matches a known library change
    (:mod:`mlops_kit.execution.drift`) gets that change's fix.
    """
    nb, client, exc = attempt.nb, attempt.client, attempt.exc
    current = client.kit_current_cell
    where = _where(nb, current)

    if client.kit_output_exceeded_cell is not None:
        index = client.kit_output_exceeded_cell
        return "output_too_large", {
            "cell": index,
            "error": (
                f"{_where(nb, index)} of {place.notebook} pushed the notebook's output past "
                f"the cap of {limits.output_bytes:,} bytes, so the run was stopped and that "
                "cell's output was left out of the saved notebook. Fix: print summaries "
                "(df.head(), shapes, a few numbers) instead of whole tables or loops of prints."
            ),
        }

    name = type(exc).__name__ if exc is not None else None
    if exc is None or name == "CellExecutionError":
        failure = first_failure(nb, client)
        if failure is not None:
            return _cell_error(nb, *failure, limits, place)
        if exc is None:
            stopped = _early_exit(nb, client)
            if stopped is None:
                return "ok", {}
            return "ok", {
                "notes": [
                    f"The notebook stopped itself with sys.exit(0) at {cell_label(nb, stopped)}; "
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
            "error": f"The notebook {place.notebook} was stopped at {where}: {what}. Fix: {fix}.",
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
                f"The kernel running {place.notebook} hit its memory cap of "
                f"{limits.memory_mb} MiB at {where}{held}, and was stopped. Fix: use less "
                "memory (read fewer columns or rows, free big objects) or ask for a larger "
                "memory cap."
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
            f"The kernel running {place.notebook} died at {where} ({how}{peak}{capped}). A "
            "notebook that calls os._exit, kills its own process, closes the kernel's "
            "connections, or crashes a C extension ends like this. Fix: open "
            f"{place.ref} to see the last output, then run that cell alone in Jupyter."
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
    nb: Any, index: int, ename: str | None, evalue: str | None, limits: Limits, place: Where
) -> tuple[str, dict[str, Any]]:
    where = _where(nb, index)
    label = cell_label(nb, index)
    details = {"cell": index, "ename": ename, "evalue": evalue}
    if ename == "MemoryError":
        cap = f" (capped at {limits.memory_mb} MiB)" if limits.memory_mb else ""
        return "out_of_memory", {
            **details,
            "error": (
                f"{where} of {place.notebook} ran out of memory{cap}: MemoryError. Fix: use "
                "less memory (read fewer columns or rows, avoid copies of big frames)."
            ),
        }
    drift = hint_for(ename, evalue)
    line = _failing_line(nb, index)
    if line is not None:
        where = f"{label} (line {line[0]}: `{line[1]}`)"
    value = _shown_value(evalue, drift)
    said = f"{where} raised {ename}: {value}"
    said += "" if said.endswith((".", "!", "?")) else "."
    if drift is not None:
        error = (
            f"{said} {describe(drift)} Fix: {drift.fix}; the traceback is in {place.ref} "
            f"at {label}."
        )
    elif ename in _PATH_ERRORS and place.cwd:
        error = (
            f"{said} The kernel ran in {place.cwd}, where relative paths start. Fix: give "
            "the file's full path, or run the notebook from the folder its paths are "
            f"relative to (mlops-kit run --cwd DIR); the traceback is in {place.ref} at {label}."
        )
    elif "Fix:" in value:
        # The kit's own errors (and any that follow its style) carry their fix: one is enough.
        error = f"{said} The traceback is in {place.ref} at {label}."
    else:
        error = (
            f"{said} Fix: open {place.ref} at {label} to read the traceback, correct the "
            "code or the parameters, and run it again."
        )
    return "cell_error", {**details, "error": error}


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
