"""Answer keys: the plain key instructors grade with, and the salted-hash key learners get.

A *plain key* (``mlops-kit homework key``) holds every answer in clear::

    {"format": "mlops-kit-key/1", "cohort": "practice", "synthetic": false,
     "inputs": {"green_tripdata_2021-01.parquet": "<sha256>", ...},
     "parameters": {...the notebook parameters the solution ran with...},
     "answers": {"q1": {"value": 20, "option": "20", "options": ["18", "19", "20", "21"]}}}

A *hashed key* (shipped as ``homework/<cohort>/key.json`` for self-checking) keeps the
options but replaces the right one by one salted SHA-256 per option::

    hash_i = sha256("<salt>|<cohort>|<qid>|<option_i>|right")   for the right option
    hash_i = sha256("<salt>|<cohort>|<qid>|<option_i>|wrong")   for the others

Checking an option means computing its "right" hash and comparing. That hides the answer
from a glance at the file and nothing more: with four options anyone can compute all
four hashes in a second (homework/README.md says so to learners and instructors).
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .cohorts import Cohort, HomeworkError, load_cohort
from .options import closest_option

PLAIN_FORMAT = "mlops-kit-key/1"
HASHED_FORMAT = "mlops-kit-hashed-key/1"

#: record names the notebooks use (``answer("q1", v)`` records ``answer:q1``)
ANSWER_PREFIX = "answer:"
INPUTS_RECORD = "homework:inputs"
SYNTHETIC_RECORD = "homework:synthetic"


class AnswerKeyError(HomeworkError):
    """A key file that is missing, unreadable, or for another cohort."""


def write_json_atomic(path: str | Path, obj: Any, *, mode: int | None = None) -> Path:
    """Write ``obj`` as JSON to ``path`` via a temp file in the same folder + os.replace.

    ``mode`` (``0o600`` for a plain key) is set before the file appears under its name.
    """
    from ..fileio import atomic_write

    return atomic_write(path, json.dumps(obj, indent=2, sort_keys=False) + "\n", mode=mode)


def answers_from_records(records: Mapping[str, Any]) -> dict[str, Any]:
    """Return ``{qid: value}`` from a notebook's records (names ``answer:<qid>``).

    Records come from notebooks that may be hostile: a name that is not text is skipped.
    """
    return {
        name[len(ANSWER_PREFIX) :]: value
        for name, value in records.items()
        if isinstance(name, str) and name.startswith(ANSWER_PREFIX)
    }


def _option_hash(salt: str, cohort: str, qid: str, option: str, verdict: str) -> str:
    text = f"{salt}|{cohort}|{qid}|{option}|{verdict}"
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Key:
    """A loaded key, plain or hashed, with one way to ask "is this option right?".

    Attributes:
        data: the JSON object as loaded.
        hashed: True for a salted-hash key (the right options are not in it).
    """

    data: Mapping[str, Any]
    hashed: bool

    @property
    def cohort(self) -> str:
        """Return the cohort the key belongs to."""
        return str(self.data["cohort"])

    @property
    def synthetic(self) -> bool:
        """True when the key was computed on synthetic data."""
        return bool(self.data.get("synthetic"))

    @property
    def inputs(self) -> dict[str, Any]:
        """Return ``{file name: sha256}`` of the data the key was computed on."""
        return dict(self.data.get("inputs") or {})

    @property
    def parameters(self) -> dict[str, Any]:
        """Return the notebook parameters the solution ran with."""
        return dict(self.data.get("parameters") or {})

    @property
    def ids(self) -> list[str]:
        """Return the question ids the key covers."""
        return list((self.data.get("questions") if self.hashed else self.data["answers"]) or {})

    def options(self, qid: str) -> list[str]:
        """Return the options of question ``qid`` as stored in the key."""
        entry = self._entry(qid)
        return list(entry.get("options") or [])

    def right_option(self, qid: str) -> str | None:
        """Return the right option (None for a hashed key, which does not know it)."""
        return None if self.hashed else self._entry(qid).get("option")

    def value(self, qid: str) -> Any:
        """Return the key's computed value (None for a hashed key)."""
        return None if self.hashed else self._entry(qid).get("value")

    def is_right(self, qid: str, option: str | None) -> bool:
        """Return True when ``option`` is the right one for ``qid``."""
        if option is None:
            return False
        entry = self._entry(qid)
        if not self.hashed:
            return option == entry.get("option")
        options = list(entry.get("options") or [])
        if option not in options:
            return False
        expected = entry["hashes"][options.index(option)]
        return _option_hash(entry["salt"], self.cohort, qid, option, "right") == expected

    def fingerprint(self) -> str:
        """Return a short sha256 of the key's content (regrade when the key changes)."""
        text = json.dumps(self.data, sort_keys=True, default=str)
        return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]

    def _entry(self, qid: str) -> Mapping[str, Any]:
        table = self.data.get("questions") if self.hashed else self.data.get("answers")
        try:
            return table[qid]
        except (KeyError, TypeError):
            raise AnswerKeyError(
                f"The {self.cohort} key has no question {qid!r}.",
                "Make the key again with `mlops-kit homework key` for this cohort.",
            ) from None


def load_key(key: str | Path | Mapping[str, Any] | Key, cohort: str | None = None) -> Key:
    """Read a key (path, dict or Key) and check it belongs to ``cohort`` when given.

    Raises:
        AnswerKeyError: when the file is missing, not a key, or for another cohort.
    """
    if isinstance(key, Key):
        loaded = key
    else:
        if isinstance(key, Mapping):
            data = dict(key)
        else:
            path = Path(key)
            try:
                data = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
                raise AnswerKeyError(
                    f"Cannot read the key {path}: {exc}.",
                    "Make one with `mlops-kit homework key --cohort C --out key.json`.",
                ) from exc
        fmt = data.get("format") if isinstance(data, Mapping) else None
        if fmt not in (PLAIN_FORMAT, HASHED_FORMAT) or "cohort" not in data:
            raise AnswerKeyError(
                f"{key if not isinstance(key, Mapping) else 'The object'} is not an "
                "mlops-kit answer key (no known 'format').",
                "Make one with `mlops-kit homework key --cohort C --out key.json`.",
            )
        loaded = Key(data=data, hashed=fmt == HASHED_FORMAT)
    if cohort is not None and loaded.cohort != str(cohort):
        raise AnswerKeyError(
            f"The key is for cohort {loaded.cohort}, not {cohort}.",
            f"Pass the key of cohort {cohort}, or --cohort {loaded.cohort}.",
        )
    return loaded


def build_key(
    cohort: str | Cohort,
    answers: Mapping[str, Any],
    *,
    synthetic: bool,
    inputs: Mapping[str, Any] | None = None,
    parameters: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Turn computed answers into a plain key (pure: no I/O).

    Course cohorts map each value to the closest of the course's options; generated
    cohorts (``practice``) get their options generated around the value.

    Raises:
        HomeworkError: when a question has no computed answer.
    """
    co = load_cohort(cohort)
    missing = [qid for qid in co.ids if answers.get(qid) is None]
    if missing:
        raise HomeworkError(
            f"The solution of cohort {co.name} recorded no answer for {', '.join(missing)}.",
            "Check that solution.ipynb calls answer() for every question and ran to the end.",
        )
    table: dict[str, Any] = {}
    for q in co.questions:
        value = answers[q.id]
        if co.generated:
            options, right = co.options_for(q.id, value)
        else:
            options = list(q.options)
            right = closest_option(value, options, q.kind).option
        table[q.id] = {"value": value, "option": right, "options": options}
    return {
        "format": PLAIN_FORMAT,
        "cohort": co.name,
        "synthetic": bool(synthetic),
        "inputs": dict(inputs or {}),
        "parameters": dict(parameters or {}),
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "answers": table,
    }


def hash_key(plain: Mapping[str, Any] | Key, *, salt: str | None = None) -> dict[str, Any]:
    """Return the salted-hash form of a plain key (what is shipped to learners).

    Args:
        plain: a plain key.
        salt: a fixed salt for reproducible files; default a fresh random one per question.
    """
    key = load_key(plain)
    if key.hashed:
        return dict(key.data)
    questions = {}
    for qid in key.ids:
        entry = key._entry(qid)
        q_salt = salt if salt is not None else secrets.token_hex(16)
        options = list(entry["options"])
        hashes = [
            _option_hash(q_salt, key.cohort, qid, o, "right" if o == entry["option"] else "wrong")
            for o in options
        ]
        questions[qid] = {"options": options, "salt": q_salt, "hashes": hashes}
    return {
        "format": HASHED_FORMAT,
        "cohort": key.cohort,
        "synthetic": key.synthetic,
        "inputs": key.inputs,
        "parameters": key.parameters,
        "created": key.data.get("created"),
        "questions": questions,
    }


def inputs_fit(key: Key, inputs: Mapping[str, Any] | None, synthetic: bool | None) -> bool:
    """True when a run on ``inputs`` can be checked against ``key``.

    Keys computed on real files fit runs that read byte-identical files (same sha256);
    a synthetic key fits only runs whose synthetic inputs are described the same way.
    """
    if not inputs:
        return False
    if synthetic is not None and bool(synthetic) != key.synthetic:
        return False
    return dict(inputs) == key.inputs


def shipped_key(cohort: str | Cohort) -> Key | None:
    """Return the hashed self-check key shipped with the cohort, or None."""
    co = load_cohort(cohort)
    if co.folder is None:
        return None
    path = co.folder / "key.json"
    return load_key(path, co.name) if path.is_file() else None


def solution_parameters(
    notebook: str | Path, *, source: str = "auto", rows: int = 0, seed: int = 42
) -> dict[str, Any]:
    """Return the data parameters a homework notebook declares, set to the given values."""
    from ..execution.runner import notebook_parameters

    declared = notebook_parameters(notebook)
    wanted = {"source": source, "rows": int(rows or 0), "seed": int(seed)}
    return {name: value for name, value in wanted.items() if name in declared}


def make_key(
    cohort: str | Path | Cohort,
    *,
    source: str = "auto",
    rows: int = 0,
    seed: int = 42,
    out: str | Path | None = None,
    hashed_out: str | Path | None = None,
    timeout_cell: float = 900,
    timeout_total: float = 3600,
    salt: str | None = None,
) -> dict[str, Any]:
    """Run the cohort's ``solution.ipynb`` through the runner and build the plain key.

    The solution computes every answer from the data; the key records them with the
    options they map to, the sha256 of the input files and whether they were synthetic.

    Args:
        cohort: the cohort name or folder.
        source: ``auto`` (real files when found, else synthetic), ``real`` or ``synthetic``.
        rows: synthetic rows per month (0: the generator's default); for real data a
            sample size (0: the whole month, which the published answers need).
        seed: seed of the synthetic data.
        out: write the plain key there (atomically, readable by its owner only: 0600).
        hashed_out: also write the salted-hash key there (for shipping to learners).
        timeout_cell: seconds a solution cell may take.
        timeout_total: seconds the whole solution may take.
        salt: a fixed salt for the hashed key (default: random per question).

    Returns:
        The plain key as a dict.

    Raises:
        HomeworkError: when the solution does not run to the end or misses an answer.
    """
    from ..execution.runner import run_notebook

    co = load_cohort(cohort)
    notebook = co.path("solution.ipynb")
    params = solution_parameters(notebook, source=source, rows=rows, seed=seed)
    result = run_notebook(
        notebook, params, None, timeout_cell=timeout_cell, timeout_total=timeout_total
    )
    if result.status != "ok":
        raise HomeworkError(
            f"The solution of cohort {co.name} did not run to the end "
            f"({result.status}, parameters {params}): {result.error}"
        )
    records = result.records
    key = build_key(
        co,
        answers_from_records(records),
        synthetic=bool(records.get(SYNTHETIC_RECORD, source == "synthetic")),
        inputs=records.get(INPUTS_RECORD) or {},
        parameters=params,
    )
    if out is not None:
        write_json_atomic(out, key, mode=0o600)  # the plain key: the instructor's eyes only
    if hashed_out is not None:
        write_json_atomic(hashed_out, hash_key(key, salt=salt))
    return key
