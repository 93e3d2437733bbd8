"""The result store: every finished job's result in one SQLite file, so a batch can resume.

A batch writes each result as soon as it arrives (:meth:`ResultStore.put`), keyed by the
job's fingerprint (:func:`~mlops_kit.execution.batch.jobs.job_fingerprint`). Kill the
batch and run it again: :meth:`ResultStore.reusable` hands back what finished, and only
the jobs left (or changed) run. The store also caches file hashes by size and modification
time, so a large data file is hashed once, not at every re-run.
"""

from __future__ import annotations

import json
import sqlite3
import time
import uuid
from pathlib import Path
from typing import Any

from ...fileio import file_sha256
from ..runner import RunResult
from .jobs import BatchError, Job, job_fingerprint, result_dict

#: the SQLite file :func:`default_store_path` names inside a batch's output folder
STORE_NAME = "batch.sqlite"

#: stored results with these statuses are run again on a re-run: they depend on the
#: machine (a kernel that died, a slow disk, a memory limit) more than on the notebook
RERUN_STATUSES = frozenset({"kernel_died", "timeout", "out_of_memory"})

#: statuses that never produce an executed notebook (refused before a kernel started)
NO_OUTPUT_STATUSES = frozenset({"bad_parameters", "invalid_notebook"})

_SCHEMA = """
CREATE TABLE IF NOT EXISTS results (
    fingerprint TEXT PRIMARY KEY,
    key TEXT NOT NULL,
    notebook TEXT NOT NULL,
    output TEXT,
    status TEXT NOT NULL,
    seconds REAL,
    result TEXT NOT NULL,
    run_id TEXT NOT NULL,
    finished_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS runs (
    run_id TEXT PRIMARY KEY,
    started_at REAL NOT NULL,
    jobs INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS file_hashes (
    path TEXT PRIMARY KEY,
    size INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL,
    sha256 TEXT NOT NULL
);
"""


def default_store_path(output_dir: str | Path) -> Path:
    """Return where a batch writing into ``output_dir`` keeps its results database."""
    return Path(output_dir) / STORE_NAME


class ResultStore:
    """Results of finished jobs in one SQLite file, written as each job finishes.

    The database runs in WAL mode and commits every result on its own, so killing the
    batch (Ctrl-C, SIGKILL, a closed laptop) loses nothing that had finished. A row is keyed
    by the job's fingerprint (:func:`job_fingerprint`); ``run_id`` says which run wrote it.

    Args:
        path: the ``.sqlite`` file (created with its folder when missing).
    """

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # the batch's main thread is the only writer; results arrive there
        self._db = sqlite3.connect(str(self.path), timeout=30, check_same_thread=False)
        try:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.executescript(_SCHEMA)
            self._db.commit()
            problem = self._db.execute("PRAGMA quick_check").fetchone()[0]
            if problem != "ok":
                raise sqlite3.DatabaseError(problem)
        except sqlite3.OperationalError as exc:  # cannot open, read-only, locked, I/O
            self._db.close()
            raise BatchError(
                f"The results database {self.path} cannot be used ({exc}).",
                "Give the batch an output folder you can write to (--output DIR), and stop "
                "any other program that has the file open.",
            ) from exc
        except sqlite3.DatabaseError as exc:
            self._db.close()
            raise BatchError(
                f"The results database {self.path} is damaged or is not a SQLite database "
                f"({exc}), so the batch cannot tell which jobs already finished.",
                f"Move it aside (mv {self.path} {self.path}.broken) and run again, or run "
                "again with --force, which moves it aside and rebuilds it; either way every "
                "job runs again.",
            ) from exc
        self.last_run_id: str | None = None

    @classmethod
    def rebuilt(cls, path: str | Path) -> tuple[ResultStore, str | None]:
        """Open the store at ``path`` emptied of results (``--force``), even a damaged one.

        A damaged file is moved aside to ``PATH.broken`` (with its ``-wal`` and ``-shm``
        files) and a new store is created.

        Returns:
            The store, and a note saying where a damaged file went (None when it was sound).
        """
        try:
            store = cls(path)
        except BatchError as exc:
            cause = exc.__cause__
            if isinstance(cause, sqlite3.OperationalError) or not Path(path).is_file():
                raise  # not damage: moving the file aside would not help
            broken = Path(f"{path}.broken")
            Path(path).replace(broken)
            for suffix in ("-wal", "-shm"):
                Path(f"{path}{suffix}").unlink(missing_ok=True)
            return cls(path), f"The damaged results database was moved to {broken}."
        store.forget_results()
        return store, None

    def __enter__(self) -> ResultStore:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        """Close the database (results are already committed)."""
        self._db.close()

    def begin_run(self, jobs: int) -> str:
        """Record the start of a run and return its id (stored with each result it writes)."""
        run_id = uuid.uuid4().hex[:12]
        with self._db:
            self._db.execute("INSERT INTO runs VALUES (?, ?, ?)", (run_id, time.time(), jobs))
        self.last_run_id = run_id
        return run_id

    def file_sha256(self, path: Path) -> str:
        """Return a file's sha256, reusing the stored one while its size and mtime match."""
        path = Path(path).resolve()
        stat = path.stat()
        row = self._db.execute(
            "SELECT size, mtime_ns, sha256 FROM file_hashes WHERE path = ?", (str(path),)
        ).fetchone()
        if row and row[0] == stat.st_size and row[1] == stat.st_mtime_ns:
            return row[2]
        digest = file_sha256(path)
        with self._db:
            self._db.execute(
                "INSERT OR REPLACE INTO file_hashes VALUES (?, ?, ?, ?)",
                (str(path), stat.st_size, stat.st_mtime_ns, digest),
            )
        return digest

    def fingerprint(self, job: Job) -> str:
        """Return :func:`job_fingerprint` with input files hashed through this store's cache."""
        return job_fingerprint(job, self.file_sha256)

    def get(self, fingerprint: str) -> dict[str, Any] | None:
        """Return the stored result (``RunResult.to_dict()`` form) of a fingerprint, or None."""
        row = self._db.execute(
            "SELECT result FROM results WHERE fingerprint = ?", (fingerprint,)
        ).fetchone()
        return json.loads(row[0]) if row else None

    def put(self, fingerprint: str, job: Job, result: RunResult, run_id: str) -> None:
        """Store one finished result and commit at once."""
        data = result_dict(result)
        with self._db:
            self._db.execute(
                "INSERT OR REPLACE INTO results VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    fingerprint,
                    str(job.key),
                    str(job.notebook),
                    None if job.output is None else str(job.output),
                    data.get("status", ""),
                    data.get("seconds"),
                    json.dumps(data),  # records keep the order they were made in
                    run_id,
                    time.time(),
                ),
            )

    def forget_results(self) -> None:
        """Delete every stored result (``--force``): the next run executes every job again."""
        with self._db:
            self._db.execute("DELETE FROM results")

    def rows(self, run_id: str | None = None) -> list[dict[str, Any]]:
        """Return stored rows (key, status, seconds, run_id, ...), optionally of one run."""
        query = "SELECT fingerprint, key, notebook, output, status, seconds, run_id FROM results"
        args: tuple = ()
        if run_id is not None:
            query += " WHERE run_id = ?"
            args = (run_id,)
        cursor = self._db.execute(query + " ORDER BY finished_at", args)
        names = [d[0] for d in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]

    def reusable(self, fingerprint: str, job: Job) -> dict[str, Any] | None:
        """Return the stored result a re-run may reuse for this job, or None to run it.

        A result is reused when its status does not depend on the machine
        (:data:`RERUN_STATUSES` are run again) and its executed notebook still exists.
        """
        stored = self.get(fingerprint)
        if stored is None or stored.get("status") in RERUN_STATUSES:
            return None
        if stored.get("status") not in NO_OUTPUT_STATUSES and job.output is not None:
            if not Path(job.output).is_file():
                return None
        return stored
