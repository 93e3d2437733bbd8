"""The ``imports`` check: the scientific stack imports together, in a fresh Python.

Reading version numbers (the ``packages`` check) does not prove that the libraries work
together: a pyarrow or pandas built against numpy 1.x, installed next to numpy 2, has the
right version string and fails (or crashes the interpreter) on import, with messages such as
"A module that was compiled using NumPy 1.x cannot be run in NumPy 2.x" or "numpy.dtype size
changed, may indicate binary incompatibility". So this check imports each library of the
course in a child Python, one after the other, and reports the first that fails with the
fix for its kind of failure. A child process, because a binary mismatch can kill the
interpreter that tries, and the doctor must survive to say so.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from collections.abc import Sequence

from .verdict import FAIL, OK, WARN, Check, Runner, run_command

#: (distribution, module to import): each module is the part of the library the course
#: uses, so its compiled extensions load (``import scipy`` alone loads almost nothing)
STACK = (
    ("numpy", "numpy"),
    ("scipy", "scipy.sparse.linalg"),
    ("pandas", "pandas"),
    ("pyarrow", "pyarrow.parquet"),
    ("scikit-learn", "sklearn.linear_model"),
    ("matplotlib", "matplotlib.pyplot"),
)

#: seconds to wait for the child; a first import of matplotlib builds its font cache
IMPORT_TIMEOUT = 120.0

#: lower-cased phrases of the errors a library built against another numpy raises
MISMATCH_MARKERS = (
    "compiled using numpy 1.x",
    "_array_api not found",
    "numpy.dtype size changed",
    "binary incompatibility",
    "multiarray failed to import",
    "_multiarray_umath failed to import",
    "module compiled against api version",
    "module compiled against abi version",
    "undefined symbol",
)

MISMATCH_FIX = (
    "A library was built for another numpy: reinstall the stack together with "
    "`pip install --upgrade --force-reinstall numpy scipy pandas pyarrow scikit-learn "
    "matplotlib` (conda: `conda env update -f environment.yml`); if one of them has no "
    "build for numpy 2 yet, `pip install 'numpy<2'` instead."
)

# The child's program: argv[1] is the stack as JSON, argv[2:] are folders put first on
# sys.path. One JSON line before each import and one after, so a crash names its module.
_CHILD = r"""
import contextlib, importlib, io, json, os, sys
os.environ.setdefault("MPLBACKEND", "Agg")
stack = json.loads(sys.argv[1])
sys.path[:0] = sys.argv[2:]
for dist, name in stack:
    print(json.dumps({"start": dist}), flush=True)
    said = io.StringIO()
    try:
        with contextlib.redirect_stderr(said):
            importlib.import_module(name)
        top = sys.modules[name.split(".")[0]]
        out = {"dist": dist, "ok": True, "version": str(getattr(top, "__version__", ""))}
    except BaseException as exc:
        out = {"dist": dist, "ok": False, "error": f"{type(exc).__name__}: {exc}",
               "stderr": said.getvalue()[-4000:], "missing": isinstance(exc, ImportError)
               and getattr(exc, "name", None) == name.split(".")[0]
               and "No module named" in str(exc)}
    print(json.dumps(out), flush=True)
"""


def _results(stdout: str) -> tuple[list[dict], str | None]:
    """Return the child's per-library results and the library it started last."""
    results, started = [], None
    for line in stdout.splitlines():
        try:
            item = json.loads(line)
        except ValueError:
            continue  # a library that prints on import
        if not isinstance(item, dict):
            continue
        if "start" in item:
            started = item["start"]
        elif "dist" in item:
            results.append(item)
            started = None
    return results, started


def _crash_reason(returncode: int) -> str:
    if returncode < 0:
        try:
            return f"killed by {signal.Signals(-returncode).name}"
        except ValueError:
            return f"killed by signal {-returncode}"
    return f"exit status {returncode}"


def check_imports(
    *,
    executable: str = sys.executable,
    stack: Sequence[tuple[str, str]] = STACK,
    paths: Sequence[str] = (),
    runner: Runner = run_command,
    timeout: float = IMPORT_TIMEOUT,
) -> Check:
    """numpy, scipy, pandas, pyarrow, scikit-learn and matplotlib import together.

    Args:
        executable: the Python to try (default: this one).
        stack: (distribution, module) pairs, imported in this order.
        paths: folders put first on the child's ``sys.path`` (tests put a broken fake
            package there).
        runner: runs the child with a timeout (tests pass a fake).
        timeout: seconds to wait for all the imports.
    """
    args = [executable, "-c", _CHILD, json.dumps([list(pair) for pair in stack]), *paths]
    try:
        result = runner(args, timeout)
    except subprocess.TimeoutExpired:
        return Check(
            "imports",
            WARN,
            f"importing the scientific stack did not finish within {timeout:g} s.",
            "Run `mlops-kit doctor --check imports` again (a first import of matplotlib "
            "builds its font cache); if it hangs again, reinstall the environment.",
        )
    except OSError as exc:
        return Check(
            "imports",
            FAIL,
            f"could not start {executable}: {exc}.",
            "Run the doctor from the environment where the course's packages are installed.",
        )
    results, crashed_in = _results(result.stdout)
    versions = {r["dist"]: r["version"] for r in results if r.get("ok")}
    failed = [r for r in results if not r.get("ok")]
    data = {"versions": versions, "failed": [r["dist"] for r in failed]}
    if crashed_in is not None:
        data["crashed"] = crashed_in
        return Check(
            "imports",
            FAIL,
            f"Python died while importing {crashed_in} ({_crash_reason(result.returncode)}): "
            "usually a library built for another numpy.",
            MISMATCH_FIX,
            data,
        )
    if not failed and len(results) == len(stack):
        shown = ", ".join(f"{dist} {version}" for dist, version in versions.items())
        return Check("imports", OK, f"imported together: {shown}", data=data)
    if not failed:  # the child stopped without saying why
        why = (result.stderr or "").strip().splitlines()[-1:] or ["no output"]
        return Check(
            "imports",
            FAIL,
            f"the import check stopped early ({_crash_reason(result.returncode)}): {why[0]}",
            MISMATCH_FIX,
            data,
        )
    first = failed[0]
    names = ", ".join(r["dist"] for r in failed)
    detail = f"{names} failed to import; {first['dist']}: {first['error']}"
    said = f"{first['error']}\n{first.get('stderr', '')}".lower()
    if any(marker in said for marker in MISMATCH_MARKERS):
        return Check("imports", FAIL, detail + " (a numpy binary mismatch)", MISMATCH_FIX, data)
    missing = [r["dist"] for r in failed if r.get("missing")]
    if missing:
        fix = (
            f"pip install {' '.join(missing)} "
            "(conda: `conda env update -f environment.yml`), then run the doctor again."
        )
    else:
        fix = (
            f"Reinstall it: `pip install --force-reinstall {first['dist']}` "
            "(conda: `conda env update -f environment.yml`)."
        )
    return Check("imports", FAIL, detail, fix, data)
