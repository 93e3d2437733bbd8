"""The gradebook: every graded submission in SQLite, written as soon as it is graded.

One row per (submission, key, path): the submission is the sha256 of the file's bytes,
so an edited resubmission is a new row and an unchanged one is found again and not re-run. Each
grade is committed in its own transaction the moment it is known: a grader killed midway
loses nothing already graded, and the next run picks up where it stopped.

Tables::

    grades(submission, key_id, student, path, kind, status, reason, score, max_score,
           flags, network, started, finished, seconds)
    answers(submission, key_id, qid, value, option, right, points, warnings, path)

One grading run at a time holds an output folder (:func:`lock_output`); a gradebook that is
not a readable database is reported with the fix (:func:`open_gradebook`).
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from .cohorts import HomeworkError

#: the gradebook file :func:`mlops_kit.homework.grading.grade` keeps in its output folder
GRADEBOOK_NAME = "gradebook.sqlite"
#: the lock file that keeps a second grading run out of an output folder
LOCK_NAME = ".grading.lock"

#: what a submission can end as (``invalid_form``: a CSV/JSON export that cannot be read)
STATUSES = (
    "graded",
    "timeout",
    "crashed",
    "out_of_memory",
    "invalid_notebook",
    "invalid_form",
    "no_answers",
    "output_too_large",
)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS grades (
    submission TEXT NOT NULL,
    key_id TEXT NOT NULL,
    student TEXT NOT NULL,
    path TEXT NOT NULL,
    kind TEXT NOT NULL,
    status TEXT NOT NULL,
    reason TEXT,
    score REAL NOT NULL,
    max_score REAL NOT NULL,
    flags TEXT NOT NULL,
    network TEXT,
    started TEXT,
    finished TEXT,
    seconds REAL,
    PRIMARY KEY (submission, key_id, path)
);
CREATE TABLE IF NOT EXISTS answers (
    submission TEXT NOT NULL,
    key_id TEXT NOT NULL,
    qid TEXT NOT NULL,
    value TEXT,
    option TEXT,
    right INTEGER NOT NULL,
    points REAL NOT NULL,
    warnings TEXT NOT NULL,
    path TEXT NOT NULL,
    PRIMARY KEY (submission, key_id, path, qid)
);
"""


@dataclass
class QuestionGrade:
    """How one question of one submission was graded."""

    qid: str
    value: Any
    option: str | None
    right: bool
    points: float
    warnings: list[str] = field(default_factory=list)


@dataclass
class Grade:
    """One graded submission (what the gradebook stores and the reports show).

    Attributes:
        submission: sha256 of the submitted file's bytes.
        key_id: fingerprint of the key it was graded with.
        student: from the form, else the file name without suffix.
        path: the submitted file.
        kind: ``notebook`` or ``form``.
        status: one of :data:`STATUSES`.
        reason: one paragraph when the status is not ``graded`` (or a note when it is).
        score: points earned; max_score: points possible.
        flags: e.g. ``stale_outputs`` when saved outputs disagree with the re-execution.
        network: ``cut``, ``not_cut`` (the OS did not allow it) or None (not run).
        answers: per question.
    """

    submission: str
    key_id: str
    student: str
    path: str
    kind: str
    status: str
    reason: str | None
    score: float
    max_score: float
    flags: list[str] = field(default_factory=list)
    network: str | None = None
    started: str | None = None
    finished: str | None = None
    seconds: float | None = None
    answers: list[QuestionGrade] = field(default_factory=list)

    def answer(self, qid: str) -> QuestionGrade | None:
        """Return the grade of question ``qid`` (None when not answered)."""
        return next((a for a in self.answers if a.qid == qid), None)

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-friendly dict."""
        return asdict(self)


class Gradebook:
    """A SQLite gradebook; use as a context manager or call :meth:`close`.

    Args:
        path: the ``.sqlite`` file (created with its folder when missing).
    """

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(self.path, timeout=30)
        self._db.executescript(_SCHEMA)
        self._db.commit()

    def __enter__(self) -> Gradebook:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        """Close the database (everything put is already committed)."""
        self._db.close()

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with self._db:  # commits on success, rolls back on error
            yield self._db

    def put(self, grade: Grade) -> None:
        """Store (or replace) one grade and its answers in a single transaction."""
        with self._transaction() as db:
            db.execute(
                "DELETE FROM answers WHERE submission = ? AND key_id = ? AND path = ?",
                (grade.submission, grade.key_id, grade.path),
            )
            db.execute(
                "INSERT OR REPLACE INTO grades VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (
                    grade.submission,
                    grade.key_id,
                    grade.student,
                    grade.path,
                    grade.kind,
                    grade.status,
                    grade.reason,
                    grade.score,
                    grade.max_score,
                    json.dumps(grade.flags),
                    grade.network,
                    grade.started,
                    grade.finished,
                    grade.seconds,
                ),
            )
            db.executemany(
                "INSERT INTO answers VALUES (?,?,?,?,?,?,?,?,?)",
                [
                    (
                        grade.submission,
                        grade.key_id,
                        a.qid,
                        json.dumps(a.value),
                        a.option,
                        int(bool(a.right)),
                        a.points,
                        json.dumps(a.warnings),
                        grade.path,
                    )
                    for a in grade.answers
                ],
            )

    def get(self, submission: str, key_id: str, path: str | None = None) -> Grade | None:
        """Return the stored grade of a submission under a key (and at a path), or None."""
        query = "SELECT * FROM grades WHERE submission = ? AND key_id = ?"
        args: tuple = (submission, key_id)
        if path is not None:
            query += " AND path = ?"
            args += (path,)
        row = self._db.execute(query, args).fetchone()
        return None if row is None else self._grade(row)

    def grades(self) -> list[Grade]:
        """Return every stored grade (all keys, all versions of every submission)."""
        rows = self._db.execute("SELECT * FROM grades ORDER BY student, finished").fetchall()
        return [self._grade(r) for r in rows]

    def __len__(self) -> int:
        return int(self._db.execute("SELECT COUNT(*) FROM grades").fetchone()[0])

    def _grade(self, row: tuple) -> Grade:
        (sub, key_id, student, path, kind, status, reason, score, max_score, flags, network,
         started, finished, seconds) = row  # fmt: skip
        answers = [
            QuestionGrade(qid, json.loads(value), option, bool(right), points, json.loads(w))
            for qid, value, option, right, points, w in self._db.execute(
                "SELECT qid, value, option, right, points, warnings FROM answers "
                "WHERE submission = ? AND key_id = ? AND path = ? ORDER BY qid",
                (sub, key_id, path),
            )
        ]
        return Grade(
            sub, key_id, student, path, kind, status, reason, score, max_score,
            json.loads(flags), network, started, finished, seconds, answers,
        )  # fmt: skip


@contextlib.contextmanager
def lock_output(out: Path) -> Iterator[None]:
    """Hold the output folder for this run; refuse while another run holds it.

    The lock is an advisory ``flock`` on a file in the folder: the system releases it when
    its holder dies, so a killed run's lock is taken over without anyone removing a file.
    """
    try:
        import fcntl
    except ImportError:  # Windows: one run at a time is the instructor's to ensure
        yield
        return
    path = out / LOCK_NAME
    fd = os.open(path, os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0), 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            holder = os.pread(fd, 100, 0).decode("ascii", "replace").strip() or "?"
            raise HomeworkError(
                f"Another grading run is writing to {out} (process {holder}); two runs on "
                "one output folder would grade every submission twice and mix their reports.",
                "Wait for it to finish (or stop it), or pass another --out folder.",
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        yield
    finally:
        os.close(fd)


def open_gradebook(path: Path) -> Gradebook:
    """Open the gradebook, or explain in one paragraph that it is corrupt and what to do.

    Raises:
        HomeworkError: the file is not a readable SQLite database.
    """
    try:
        return Gradebook(path)
    except sqlite3.DatabaseError as exc:
        raise HomeworkError(
            f"The gradebook {path} is not a readable SQLite database ({exc}); it may have been "
            "truncated or overwritten.",
            f"Move it aside (mv {path} {path}.bad) and grade again: every submission is then "
            "graded afresh into a new gradebook.",
        ) from exc
