"""Put the key's data files where learners' notebooks look for them, before a graded run.

Learners of the course read the homework's months from wherever they saved them: the bare
file name after ``!wget <URL>``, ``./data/NAME``, ``../data/NAME``, ``~/data/NAME``, or
the TLC URL itself in ``pd.read_parquet``. A graded kernel has no network and starts in
an empty folder, so without help every one of those notebooks would crash on its first
read. :func:`stage` prepares a submission's job folder so that they all find the data,
without changing a line of the learner's code::

    <job>/work/                 the kernel's working folder (and its HOME: ~/data works)
    <job>/work/NAME             the staged months, under their TLC file names
    <job>/work/data/NAME
    <job>/data/NAME             ../data/NAME from the working folder
    <job>/.grader/bin/          wget and curl that serve the staged months
    <job>/.grader/python/       a sitecustomize that serves their TLC URLs to urllib,
                                so pandas.read_parquet(<URL>) reads the staged file

The staged entries are symbolic links to the files the key was computed on (checked by
sha256). A sandboxed kernel sees only its working folder and an allow-list of folders:
:attr:`Staging.read_paths` (the job folder and the folders of the linked files) are the
ones to show it, read-only (``Limits(read_paths=...)``), so the months cannot be changed.

A notebook that reads a path the grader cannot provide (a Kaggle ``../input/...``
folder, ``../../data``, a renamed download) still fails; :func:`explain_missing` turns its
error into a message naming that path and what was staged.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from . import tlc_mirror
from .cohorts import HomeworkError

if TYPE_CHECKING:  # pragma: no cover
    from .cohorts import Cohort
    from .keys import Key

#: the kernel's working folder inside a job folder (one level down, so ../data exists)
WORK = "work"
#: the module name the kernel imports the mirror under (a copy of tlc_mirror.py)
MIRROR_MODULE = "mlops_kit_tlc_mirror"

_ERRORS_OF_A_MISSING_FILE = ("FileNotFoundError", "URLError", "HTTPError", "OSError", "IOError")


@dataclass(frozen=True)
class Staging:
    """What :func:`stage` prepared for one graded run.

    Attributes:
        cwd: the kernel's working folder.
        files: ``{TLC file name: the real file}`` staged.
        env: the environment the kernel needs (``PATH``, ``PYTHONPATH``, ``HOME``, the
            mirror's table).
        read_paths: the folders a sandboxed kernel must be shown read-only: the job
            folder (``../data``, the hooks) and the folders holding the staged files.
        skipped: sentences on files that could not be staged (absent, other sha256).
    """

    cwd: Path
    files: dict[str, Path]
    env: dict[str, str]
    read_paths: tuple[str, ...] = ()
    skipped: list[str] = field(default_factory=list)

    def describe(self) -> str:
        """Return one sentence naming what was staged and where."""
        if not self.files:
            return "the grader staged no data file (the key's files are not on this machine)"
        names = ", ".join(sorted(self.files))
        return (
            f"the grader staged {names} in the working folder, in ./data/ and in ../data/ "
            "(~ is the working folder) and serves their TLC URLs (wget, curl, "
            "pandas.read_parquet)"
        )


def key_files(cohort: Cohort, key: Key) -> tuple[dict[str, Path], list[str]]:
    """Return the real files a key's answers belong to, and why any is missing.

    A key computed on real files lists their sha256 in ``inputs``: a file on disk under
    that name with another content is not staged (its answers would not be the key's). A
    key of published answers has no inputs: the cohort's months found on disk are staged
    (the published answers are the real files'). A synthetic key stages nothing.
    """
    from ..errors import KitError
    from ..fileio import file_sha256
    from ..tlc import parse_dataset, resolve

    if key.synthetic:
        return {}, ["the key was computed on synthetic data: no real file to stage"]
    found: dict[str, Path] = {}
    skipped: list[str] = []
    for dataset in cohort.datasets.values():
        name = parse_dataset(dataset).file_name
        try:
            where = resolve(dataset, source="real")
        except KitError:
            skipped.append(f"{name} is not on this machine")
            continue
        if not where.exists or where.origin == "download":
            skipped.append(f"{name} is not on this machine")
            continue
        expected = key.inputs.get(name)
        if expected is not None and file_sha256(where.path) != expected:
            skipped.append(f"{where.path} is not the file the key was computed on (sha256)")
            continue
        found[name] = where.path.resolve()
    return found, skipped


def data_env(cohort: Cohort, files: Mapping[str, Path]) -> dict[str, str]:
    """Point the kit's own notebooks at the real files the key was made on, when on disk.

    Kernels run with their own (empty) cache, so files the instructor downloaded into the
    kit's cache are shown to them as ``MLOPS_KIT_DATA_DIR`` (read-only for them): a
    notebook calling ``read_trips("green:2021-01")`` finds them there.

    Args:
        cohort: the cohort whose months the key's answers belong to.
        files: ``{TLC file name: real file}`` from :func:`key_files`.
    """
    folders = {path.parent for path in files.values()}
    if len(files) != len(cohort.datasets) or len(folders) != 1:
        return {}
    return {"MLOPS_KIT_DATA_DIR": str(folders.pop())}


def _link(target: Path, source: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.is_symlink() or target.exists():
        target.unlink()
    target.symlink_to(source)


def stage(job: str | os.PathLike, files: Mapping[str, str | os.PathLike]) -> Staging:
    """Prepare a job folder: the working folder, the staged months and the kernel hooks.

    Args:
        job: the submission's throw-away folder (created if missing).
        files: ``{TLC file name: real file}``, e.g. from :func:`key_files`.

    Returns:
        A :class:`Staging`; pass ``cwd`` and ``env`` to the runner.
    """
    job = Path(job).resolve()
    cwd = job / WORK
    cwd.mkdir(parents=True, exist_ok=True)
    sources = {name: Path(path).resolve() for name, path in files.items()}
    for name, source in sources.items():
        for target in (cwd / name, cwd / "data" / name, job / "data" / name):
            _link(target, source)
    hooks = job / ".grader"
    python_dir, bin_dir = hooks / "python", hooks / "bin"
    python_dir.mkdir(parents=True, exist_ok=True)
    bin_dir.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(Path(tlc_mirror.__file__), python_dir / f"{MIRROR_MODULE}.py")
    (python_dir / "sitecustomize.py").write_text(
        f"import {MIRROR_MODULE}\n{MIRROR_MODULE}.install()\n", encoding="utf-8"
    )
    for program in ("wget", "curl"):
        shim = bin_dir / program
        shim.write_text(
            f'#!/bin/sh\nexec "{sys.executable}" -m {MIRROR_MODULE} {program} "$@"\n',
            encoding="utf-8",
        )
        shim.chmod(0o755)
    python_path = os.pathsep.join(
        p for p in (str(python_dir), os.environ.get("PYTHONPATH", "")) if p
    )
    env = {
        "PATH": os.pathsep.join((str(bin_dir), os.environ.get("PATH", os.defpath))),
        "PYTHONPATH": python_path,
        "HOME": str(cwd),
        tlc_mirror.MIRROR_ENV: json.dumps({n: str(p) for n, p in sources.items()}),
    }
    folders = [str(job)] + sorted({str(p.parent) for p in sources.values()})
    return Staging(cwd=cwd, files=sources, env=env, read_paths=tuple(folders))


_QUOTED = re.compile(r"""['"]([^'"]+)['"]""")


def explain_missing(ename: str | None, evalue: str | None, staging: Staging) -> str | None:
    """Return the grader's message for a run that failed reading data, else None.

    ``FileNotFoundError: [Errno 2] No such file or directory: '../input/x.parquet'`` becomes
    "the notebook read ../input/x.parquet, which the grader cannot provide; the grader
    staged ...". Errors that are not about a missing file or URL return None.
    """
    if ename not in _ERRORS_OF_A_MISSING_FILE or not evalue:
        return None
    text = str(evalue)
    if ename in ("OSError", "IOError") and "No such file" not in text:
        return None
    url = re.search(r"https?://\S+", text)
    quoted = _QUOTED.findall(text)
    if url:
        what = url.group(0).rstrip("'\").,;")
    elif quoted:
        what = quoted[-1]
    else:
        what = text.split(":")[-1].strip() or text
    return f"the notebook read {what}, which the grader cannot provide; {staging.describe()}"


def months_to_stage(cohort: Cohort, key: Key, *, network: bool) -> dict[str, Path]:
    """Return the key's months on this machine for graded notebooks; refuse when none is.

    A graded kernel has no network: without the months on this machine every notebook
    fails on its first read, through no fault of its author, and those grades would be
    stored. Called once per run (the files' sha256 are read here), only when notebooks are
    to run; forms need no data, and a synthetic key none either.

    Args:
        cohort: the cohort being graded.
        key: the key its answers are graded with.
        network: the instructor lets kernels download the months themselves.

    Returns:
        ``{TLC file name: real file}`` (:func:`key_files`), possibly empty.

    Raises:
        HomeworkError: a real (computed or published) key, no network, no month to stage.
    """
    staged, _ = key_files(cohort, key)
    if key.synthetic or staged or network:
        return staged
    from ..tlc import parse_dataset

    ids = [str(d) for d in cohort.datasets.values()]
    names = ", ".join(parse_dataset(d).file_name for d in ids)
    where = os.environ.get("MLOPS_KIT_DATA_DIR")
    looked = (f"MLOPS_KIT_DATA_DIR={where} holds none of them" if where else
              "MLOPS_KIT_DATA_DIR is not set and the kit's cache holds none of them")  # fmt: skip
    raise HomeworkError(
        f"The {cohort.name} answers belong to {names}, and this machine has none of them "
        f"({looked}). Graded kernels have no network, so every notebook would fail on its "
        "first read through no fault of its author; nothing was graded.",
        f"Set MLOPS_KIT_DATA_DIR to the folder holding those files (or run mlops-kit data "
        f"fetch {' '.join(ids)} while online), then grade again. A class of forms needs no "
        "data; --allow-network lets the notebooks download the months themselves.",
    )
