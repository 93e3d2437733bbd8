"""Answer keys: the plain key instructors grade with, and the salted-hash key learners get.

A *plain key* (``mlops-kit homework key``) holds every answer in clear::

    {"format": "mlops-kit-key/1", "cohort": "practice", "source": "computed", "synthetic": false,
     "inputs": {"green_tripdata_2021-01.parquet": "<sha256>", ...},
     "parameters": {...the notebook parameters the solution ran with...},
     "answers": {"q1": {"value": 20, "option": "20", "options": ["18", "19", "20", "21"],
                        "source": "computed"}}}

Where the answers come from (``source``, in the key and in every row):

* ``published``: the course's published answers from ``questions.yaml``, for a cohort
  that has all of them. No data is read: each row holds the published option and no
  computed value. This is what ``homework key`` writes for 2022-2025 when the real
  months are not on disk (the usual case on a laptop and in CI), and it says so.
* ``computed``: ``solution.ipynb`` ran on the real TLC files (their sha256 are in
  ``inputs``). For a cohort with published answers, the computed options are checked
  against them and any disagreement is listed per question in ``disagreements``.
* ``synthetic``: the solution ran on the kit's seeded synthetic months. Only on request
  (``source="synthetic"``): its "right" options are not the course's, so every row, the
  grader's exit status and the feedback pages say so, and ``grade`` refuses such a key
  unless told to accept it.

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

#: where a key's answers come from (see the module docstring)
KEY_SOURCES = ("computed", "published", "synthetic")
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
    def source(self) -> str:
        """Return ``published``, ``computed`` or ``synthetic`` (older keys: from ``synthetic``)."""
        found = self.data.get("source")
        if found in KEY_SOURCES:
            return str(found)
        return "synthetic" if self.synthetic else "computed"

    @property
    def published(self) -> bool:
        """True for a key holding the course's published answers (no data was read)."""
        return self.source == "published"

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
        """Return True when ``option`` is the right one for ``qid``.

        A question without options (graded by value) has no right option: use
        :meth:`value` and compare numbers.
        """
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
    cohorts (``practice``) get their options generated around the value; a question
    without options keeps its value only (it is graded by value).

    Raises:
        HomeworkError: when a question has no computed answer.
    """
    co = load_cohort(cohort)
    source = "synthetic" if synthetic else "computed"
    missing = [qid for qid in co.ids if answers.get(qid) is None]
    if missing:
        raise HomeworkError(
            f"The solution of cohort {co.name} recorded no answer for {', '.join(missing)}.",
            "Check that solution.ipynb calls answer() for every question and ran to the end.",
        )
    table: dict[str, Any] = {}
    for q in co.questions:
        value = answers[q.id]
        if q.by_value:
            options, right = [], None
        elif co.generated:
            options, right = co.options_for(q.id, value)
        else:
            options = list(q.options)
            right = closest_option(value, options, q.kind).option
        table[q.id] = {"value": value, "option": right, "options": options, "source": source}
    return {
        "format": PLAIN_FORMAT,
        "cohort": co.name,
        "source": source,
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
        if not options:  # graded by value: a salted hash of one number hides nothing
            questions[qid] = {"options": [], "salt": q_salt, "hashes": []}
            continue
        hashes = [
            _option_hash(q_salt, key.cohort, qid, o, "right" if o == entry["option"] else "wrong")
            for o in options
        ]
        questions[qid] = {"options": options, "salt": q_salt, "hashes": hashes}
    return {
        "format": HASHED_FORMAT,
        "cohort": key.cohort,
        "source": key.source,
        "synthetic": key.synthetic,
        "inputs": key.inputs,
        "parameters": key.parameters,
        "created": key.data.get("created"),
        "questions": questions,
    }


def refuse_synthetic(key: Key, *, allow: bool = False) -> None:
    """Refuse to grade with a key computed on synthetic data, unless ``allow``.

    Its right answers are not the course's: real answers would be marked wrong.

    Raises:
        AnswerKeyError: a synthetic key and ``allow`` is False.
    """
    if key.synthetic and not allow:
        raise AnswerKeyError(
            f"The {key.cohort} key was computed on SYNTHETIC data: its right answers are not "
            "the course's, so real answers would be marked wrong.",
            f"Make the key without --source synthetic (mlops-kit homework key --cohort "
            f"{key.cohort}: the published answers, or computed on the real months), or pass "
            "--allow-synthetic-key to grade a rehearsal on synthetic data.",
        )


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


def published_key(cohort: str | Path | Cohort) -> dict[str, Any]:
    """Return the plain key of the course's published answers (pure: no data is read).

    Each row holds the published option (or, for a question without options, the
    published value) and ``"source": "published"``; no computed value.

    Raises:
        HomeworkError: when the cohort lacks a published answer (the practice cohort,
            or a question the course never answered): compute the key from the data.
    """
    co = load_cohort(cohort)
    missing = [q.id for q in co.questions if q.answer is None]
    if co.generated or missing:
        what = (
            "generates its options from the data"
            if co.generated
            else (f"has no published answer for {', '.join(missing)}")
        )
        raise HomeworkError(
            f"Cohort {co.name} {what}, so its key cannot come from published answers.",
            "Compute it from the data: mlops-kit homework key --cohort "
            f"{co.name} --source real (or --source synthetic for a key on synthetic data).",
        )
    table: dict[str, Any] = {}
    for q in co.questions:
        if q.by_value:
            value = q.published_value()
            value = int(value) if q.kind == "count" else value
            entry = {"value": value, "option": None, "options": []}
        else:
            entry = {"value": None, "option": q.answer, "options": list(q.options)}
        table[q.id] = {**entry, "source": "published"}
    return {
        "format": PLAIN_FORMAT,
        "cohort": co.name,
        "source": "published",
        "synthetic": False,
        "inputs": {},
        "parameters": {},
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "answers": table,
    }


def compare_with_published(cohort: str | Cohort, key: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Return one row per question whose computed answer disagrees with the published one.

    A question with options disagrees when the computed value maps to another option
    than the published answer; a question without options when the computed value is not
    within :func:`value_tolerance` of the published value. Questions the course did not
    answer are skipped.
    """
    co = load_cohort(cohort)
    rows = []
    for q in co.questions:
        entry = (key.get("answers") or {}).get(q.id) or {}
        if q.answer is None:
            continue
        if q.by_value:
            value = entry.get("value")
            published = q.published_value()
            try:
                agrees = abs(float(value) - published) <= value_tolerance(q.kind)
            except (TypeError, ValueError):
                agrees = False
            if not agrees:
                rows.append({"qid": q.id, "computed": value, "published": q.answer, "value": value})
        elif entry.get("option") != q.answer:
            rows.append(
                {
                    "qid": q.id,
                    "computed": entry.get("option"),
                    "published": q.answer,
                    "value": entry.get("value"),
                }
            )
    return rows


def value_tolerance(kind: str) -> float:
    """Return how far a value may be from a question-without-options' answer and be right.

    Counts must be exact (half a record of rounding); numbers and shares get the
    option matcher's :data:`~mlops_kit.homework.options.VALUE_TOLERANCE`.
    """
    from .options import VALUE_TOLERANCE

    return 0.5 if kind == "count" else VALUE_TOLERANCE


def real_files_on_disk(cohort: str | Cohort) -> bool:
    """True when every month the cohort reads is on disk (``MLOPS_KIT_DATA_DIR`` or cache).

    Nothing is downloaded: a month that would have to be fetched counts as absent.
    """
    from ..errors import KitError
    from ..tlc import resolve

    co = load_cohort(cohort)
    for dataset in co.datasets.values():
        try:
            found = resolve(dataset, source="real")
        except KitError:
            return False
        if not found.exists or found.origin not in ("data_dir", "cache", "path"):
            return False
    return True


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
    """Make a cohort's plain key: from the real data, the published answers, or synthetic.

    ``source`` decides where the answers come from:

    * ``auto``: with the cohort's real months on disk, run ``solution.ipynb`` on them
      (and, for a course cohort, check the result against the published answers); without
      them, a course cohort with every answer published gets the published key (no data
      read), and the practice cohort runs its solution on the real files (downloading
      them when allowed). A run that fell back to synthetic data is refused: a synthetic
      key is only made on request.
    * ``real``: run the solution on the real files (downloaded if needed).
    * ``published``: the published answers, without reading data.
    * ``synthetic``: run the solution on the kit's synthetic months (marked as such).

    The key records the answers with the options they map to, where they came from
    (``source``), the sha256 of the input files, and for a computed course key the
    ``disagreements`` with the published answers (one row per question, empty when all
    agree).

    Args:
        cohort: the cohort name or folder.
        source: ``auto``, ``real``, ``published`` or ``synthetic`` (above).
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
        HomeworkError: when the solution does not run to the end, misses an answer, or
            (``auto``) ran on synthetic data; when ``published`` is asked of a cohort
            without every published answer.
    """
    if source not in ("auto", "real", "published", "synthetic"):
        raise HomeworkError(
            f"source={source!r} is not a key source.",
            "Use auto, real, published or synthetic.",
        )
    co = load_cohort(cohort)
    if source == "published" or (source == "auto" and co.published and not real_files_on_disk(co)):
        key = published_key(co)
    else:
        key = _computed_key(
            co,
            source=source,
            rows=rows,
            seed=seed,
            timeout_cell=timeout_cell,
            timeout_total=timeout_total,
        )
    if out is not None:
        write_json_atomic(out, key, mode=0o600)  # the plain key: the instructor's eyes only
    if hashed_out is not None:
        write_json_atomic(hashed_out, hash_key(key, salt=salt))
    return key


def _data_problem(result: Any) -> str | None:
    """The problem (without its fix) when the solution stopped on a kit's data error."""
    from .. import errors, tlc

    name = str(getattr(result, "ename", "") or "")
    cls = getattr(errors, name, None) or getattr(tlc, name, None)
    if result.status != "cell_error" or not (isinstance(cls, type)
                                             and issubclass(cls, errors.DataError)):  # fmt: skip
        return None
    text = " ".join(str(getattr(result, "evalue", "") or "").split())
    return text.partition(" Fix: ")[0]


def _computed_key(
    co: Cohort, *, source: str, rows: int, seed: int, timeout_cell: float, timeout_total: float
) -> dict[str, Any]:
    """Run the cohort's solution through the runner and build its key."""
    from ..execution.runner import run_notebook

    notebook = co.path("solution.ipynb")
    params = solution_parameters(notebook, source=source, rows=rows, seed=seed)
    result = run_notebook(
        notebook, params, None, timeout_cell=timeout_cell, timeout_total=timeout_total
    )
    problem = _data_problem(result)
    if problem is not None:
        ids = " ".join(str(d) for d in co.datasets.values())
        published = " (or take the course's published answers: --source published)"
        raise HomeworkError(
            f"The solution of cohort {co.name} could not read its months: {problem}",
            f"Put the months in a folder and set MLOPS_KIT_DATA_DIR to it (or fetch them "
            f"while online: mlops-kit data fetch {ids}), then make the key again"
            f"{published if co.published else ''}.",
        )
    if result.status != "ok":
        raise HomeworkError(
            f"The solution of cohort {co.name} did not run to the end "
            f"({result.status}, parameters {params}): {result.error}"
        )
    records = result.records
    synthetic = bool(records.get(SYNTHETIC_RECORD, source == "synthetic"))
    if synthetic and source != "synthetic":
        raise HomeworkError(
            f"The solution of cohort {co.name} found no real data files and ran on the kit's "
            "synthetic months: a key made from them would mark real answers wrong.",
            "Put the real months in MLOPS_KIT_DATA_DIR (mlops-kit data fetch ...), or ask "
            "for a synthetic key on purpose with --source synthetic.",
        )
    key = build_key(
        co,
        answers_from_records(records),
        synthetic=synthetic,
        inputs=records.get(INPUTS_RECORD) or {},
        parameters=params,
    )
    if not synthetic and any(q.answer is not None for q in co.questions):
        key["disagreements"] = compare_with_published(co, key)
    return key
