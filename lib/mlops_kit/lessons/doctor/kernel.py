"""The ``kernel`` check: the Jupyter kernel the notebooks name exists and can import the kit.

Every notebook's kernelspec is ``python3``. Jupyter finds that name in several places (the
environment's own ``share/jupyter/kernels``, the user's ``~/.local/share/jupyter``); a stale
user kernelspec can start another Python, where ``import mlops_kit`` fails. The check asks
Jupyter which program the kernel starts and, when that is not this Python, tries the import
there.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from typing import Any

from .verdict import FAIL, OK, Check, Runner, first_line, run_command


def _kernel_spec(name: str):
    # jupyter_client is imported here so the other checks run when it is what is missing
    from jupyter_client.kernelspec import KernelSpecManager

    return KernelSpecManager().get_kernel_spec(name)


def check_kernel(
    *,
    kernel_name: str = "python3",
    get_spec: Callable[[str], Any] = _kernel_spec,
    executable: str = sys.executable,
    runner: Runner = run_command,
    timeout: float = 20.0,
) -> Check:
    """The ``python3`` Jupyter kernel the notebooks use exists and can import the kit."""
    fix = (
        "From the environment where mlops-kit is installed run "
        f"`python -m ipykernel install --user --name {kernel_name}` "
        "(or set JUPYTER_PREFER_ENV_PATH=1)."
    )
    try:
        spec = get_spec(kernel_name)
    except Exception as exc:  # jupyter_client raises NoSuchKernel
        return Check(
            "kernel",
            FAIL,
            f"no Jupyter kernel named {kernel_name!r} ({type(exc).__name__}).",
            fix,
        )
    argv = list(getattr(spec, "argv", None) or [])
    program = argv[0] if argv else ""
    data = {"kernel": kernel_name, "argv0": program}
    # jupyter_client starts the current interpreter for a bare "python" (its native kernel)
    this_python = {
        "python",
        f"python{sys.version_info[0]}",
        "python{}.{}".format(*sys.version_info),
    }
    if program in this_python or _same_file(program, executable):
        return Check(
            "kernel", OK, f"kernel {kernel_name!r} runs this Python ({executable})", data=data
        )
    if not program:
        return Check("kernel", FAIL, f"kernel {kernel_name!r} has no command line.", fix, data)
    try:
        result = runner([program, "-c", "import mlops_kit"], timeout)
        importable = result.returncode == 0
        why = first_line(result.stderr)
    except (OSError, subprocess.TimeoutExpired) as exc:
        importable, why = False, f"{type(exc).__name__}: {exc}"
    if importable:
        return Check(
            "kernel",
            OK,
            f"kernel {kernel_name!r} runs {program}, which can import mlops_kit",
            data=data,
        )
    return Check(
        "kernel",
        FAIL,
        f"kernel {kernel_name!r} runs {program}, which cannot import mlops_kit ({why}).",
        fix,
        data,
    )


def _same_file(a: str, b: str) -> bool:
    if not a or not b:
        return False
    a_path = shutil.which(a) or a
    try:
        return os.path.samefile(a_path, b)
    except OSError:
        return False
