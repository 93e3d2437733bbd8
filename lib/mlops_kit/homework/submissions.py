"""Find and read what students submitted, as hostile data: no link followed, sizes capped.

A submissions folder holds files written by people who may want a better grade. The grader
reads them outside any sandbox, so everything here is careful:

- the folder is walked without following symbolic links; a submission that is a link (to
  the key, to ``/etc/shadow``...) or not a regular file (a FIFO would block the grader) is
  listed with a ``problem`` and refused, named as such, never opened;
- files are opened with ``O_NOFOLLOW`` and read up to a cap checked before parsing
  (:data:`MAX_NOTEBOOK_BYTES`, :data:`MAX_FORM_BYTES`);
- a student's identity comes from the file's path (the first folder under the submissions
  folder, else the file name), never from what the file says.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path

from .cohorts import HomeworkError

#: the suffixes of form exports (notebooks are ``.ipynb``)
FORM_SUFFIXES = (".csv", ".json")

#: a notebook larger than this is refused before it is parsed
MAX_NOTEBOOK_BYTES = 20_000_000
#: a form export larger than this is refused before it is parsed
MAX_FORM_BYTES = 1_000_000
#: how deep the walk goes below the submissions folder
MAX_DEPTH = 4


class SubmissionError(HomeworkError):
    """A submitted file the grader refuses to read (a link, not a file, too large)."""


@dataclass(frozen=True)
class Submission:
    """One submitted file, as found in the folder (nothing read yet).

    Attributes:
        path: the file's path (inside the submissions folder, not resolved).
        relative: its path relative to the folder, with ``/``.
        student: who submitted it, from the path.
        kind: ``notebook`` or ``form``.
        problem: why it will not be read (a link, not a regular file), or None.
    """

    path: Path
    relative: str
    student: str
    kind: str
    problem: str | None = None


def student_of(relative: str) -> str:
    """The student a submission belongs to: its first folder, else the file name's stem."""
    parts = Path(relative).parts
    return parts[0] if len(parts) > 1 else Path(relative).stem


def _kind(name: str) -> str | None:
    suffix = Path(name).suffix.lower()
    if suffix == ".ipynb":
        return "notebook"
    return "form" if suffix in FORM_SUFFIXES else None


def find_submissions(folder: str | Path) -> list[Submission]:
    """Return the submissions of a folder, sorted by relative path.

    Hidden files and folders and Jupyter checkpoints are skipped; sub-folders are searched
    (one folder per student works too) without following links. Links and special files
    with a submission's name are returned with a ``problem``, so the grader reports them.

    Raises:
        HomeworkError: when the folder does not exist (or is itself a link to elsewhere is
            fine: the instructor chose it).
    """
    root = Path(folder)
    if not root.is_dir():
        raise HomeworkError(
            f"The submissions folder {root} does not exist.",
            "Pass the folder holding the students' .ipynb / .csv / .json files.",
        )
    found: list[Submission] = []

    def visit(directory: Path, depth: int) -> None:
        try:
            entries = sorted(os.scandir(directory), key=lambda e: e.name)
        except OSError:
            return
        for entry in entries:
            if entry.name.startswith(".") or entry.name == ".ipynb_checkpoints":
                continue
            path = directory / entry.name
            relative = path.relative_to(root).as_posix()
            info = entry.stat(follow_symlinks=False)
            if stat.S_ISDIR(info.st_mode):
                if depth < MAX_DEPTH:
                    visit(path, depth + 1)
                continue
            kind = _kind(entry.name)
            if kind is None:
                continue
            problem = None
            if stat.S_ISLNK(info.st_mode):
                problem = (
                    f"{relative} is a symbolic link (to {os.readlink(path)!r}); the grader "
                    "does not follow links. Submit the file itself."
                )
            elif not stat.S_ISREG(info.st_mode):
                problem = f"{relative} is not a regular file. Submit the file itself."
            found.append(Submission(path, relative, student_of(relative), kind, problem))

    visit(root, 0)
    return found


def read_submission(path: str | Path, limit: int) -> bytes:
    """Read a submitted file without following a link, refusing one over ``limit`` bytes.

    Raises:
        SubmissionError: a link, not a regular file, larger than ``limit``, unreadable.
    """
    fix = "Submit the notebook or form export itself, under the size limit."
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        if os.path.islink(path):
            raise SubmissionError(f"{path} is a symbolic link; it was not followed.", fix) from exc
        raise SubmissionError(f"{path} cannot be read: {exc.strerror}.", fix) from exc
    with os.fdopen(fd, "rb") as handle:
        info = os.fstat(handle.fileno())
        if not stat.S_ISREG(info.st_mode):
            raise SubmissionError(f"{path} is not a regular file.", fix)
        if info.st_size > limit:
            raise SubmissionError(
                f"{path} is {info.st_size:,} bytes, over the grader's limit of {limit:,}.", fix
            )
        data = handle.read(limit + 1)
    if len(data) > limit:
        raise SubmissionError(f"{path} grew past the grader's limit of {limit:,} bytes.", fix)
    return data


def limit_for(kind: str) -> int:
    """The size cap of a ``notebook`` or a ``form``."""
    return MAX_NOTEBOOK_BYTES if kind == "notebook" else MAX_FORM_BYTES
