"""The homework as data: one folder per cohort with its questions, notebooks and key.

Each cohort of the course ran the module-1 homework on different months of the TLC data
with the same steps (read, duration in minutes, keep 1-60 min, one-hot pickup and
dropoff IDs, linear regression, RMSE). The kit keeps each cohort in
``homework/<cohort>/``::

    questions.yaml    id, text, kind, options and the published answer per question
    homework.ipynb    the learner's notebook: a cell per question ending in answer()
    solution.ipynb    the reference solution: computes every answer from the data
    key.json          the self-check key, salted hashes only (where one could be made)

``load_cohort("2024")`` reads ``questions.yaml`` into a :class:`Cohort`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import KitError
from .options import check_kind, generate_options, parse_option

#: the file name of the self-check key shipped in a cohort folder
SHIPPED_KEY = "key.json"


class HomeworkError(KitError):
    """Base class for homework problems (cohorts, keys, submissions)."""


class UnknownCohortError(HomeworkError):
    """A cohort name with no ``homework/<cohort>/questions.yaml``."""


@dataclass(frozen=True)
class Question:
    """One homework question.

    Attributes:
        id: ``q1`` ... as used by ``answer("q1", value)``.
        title: a short name (``Standard deviation``).
        text: the question as the course asks it.
        kind: ``count``, ``number`` or ``share`` (a fraction between 0 and 1).
        options: the option labels; empty when the kit generates them (``practice``) or
            when the course asked for a value without options (2022's "How many records
            did you drop?"): such a question is graded by value.
        answer: the published answer (an option label, or the value of a question
            without options) or None.
        points: what a right answer is worth.
        decimals: digits shown for generated options and in reports.
        generate: the rule for generated options (``step``, ``minimum``, ``maximum``).
        headings: words learners title this question's part of their notebook with,
            besides the title (``validation`` for "Evaluating the model"): read by
            :mod:`~mlops_kit.homework.shown_answers`.
    """

    id: str
    title: str
    text: str
    kind: str
    options: tuple[str, ...] = ()
    answer: str | None = None
    points: float = 1.0
    decimals: int = 2
    generate: Mapping[str, Any] | None = None
    headings: tuple[str, ...] = ()

    def option_values(self) -> list[float]:
        """Return the options as numbers."""
        return [parse_option(o, self.kind) for o in self.options]

    @property
    def by_value(self) -> bool:
        """True for a question without options, graded by its value (no generation rule)."""
        return not self.options and self.generate is None

    def published_value(self) -> float | None:
        """Return the published answer as a number (None when the course published none)."""
        return None if self.answer is None else parse_option(self.answer, self.kind)


@dataclass(frozen=True)
class Cohort:
    """A cohort's homework: datasets, questions and where its files are.

    Attributes:
        name: ``2022`` ... ``2025`` or ``practice``.
        title: one line for reports.
        datasets: ``{"train": "yellow:2023-01", "val": "yellow:2023-02"}``.
        questions: in order.
        folder: the cohort's folder (None for a cohort built in memory).
        source_url: where the course published the homework.
        options_rule: ``{"seed": ..., "count": ...}`` when options are generated.
        notes: free text shown in the README and reports.
    """

    name: str
    title: str
    datasets: Mapping[str, str]
    questions: tuple[Question, ...]
    folder: Path | None = None
    source_url: str | None = None
    options_rule: Mapping[str, Any] | None = None
    notes: str = ""
    extra: Mapping[str, Any] = field(default_factory=dict)

    @property
    def ids(self) -> list[str]:
        """Return the question ids in order."""
        return [q.id for q in self.questions]

    def question(self, qid: str) -> Question:
        """Return the question ``qid`` or raise :class:`HomeworkError` naming the valid ids."""
        for q in self.questions:
            if q.id == qid:
                return q
        raise HomeworkError(
            f"Cohort {self.name} has no question {qid!r}.",
            f"Use one of {', '.join(self.ids)}.",
        )

    @property
    def published(self) -> bool:
        """True when every question has a published answer (a key can be made without data)."""
        return not self.generated and all(q.answer is not None for q in self.questions)

    @property
    def generated(self) -> bool:
        """True when the kit generates the options around the computed answers."""
        return self.options_rule is not None

    @property
    def max_score(self) -> float:
        """Return the sum of the questions' points."""
        return float(sum(q.points for q in self.questions))

    def path(self, name: str) -> Path:
        """Return a file of the cohort's folder (``homework.ipynb``, ``key.json`` ...)."""
        if self.folder is None:
            raise HomeworkError(
                f"Cohort {self.name} has no folder on disk.",
                "Load it with load_cohort() from a homework/<cohort>/ folder.",
            )
        return self.folder / name

    def options_for(self, qid: str, value: float | None = None) -> tuple[list[str], str | None]:
        """Return ``(options, right option)`` for a question.

        Course cohorts have fixed options (the right one is the published answer, or
        None). Generated cohorts need the computed ``value``: the options come from
        :func:`~mlops_kit.homework.options.generate_options` with the cohort's seed.
        """
        q = self.question(qid)
        if not self.generated:
            return list(q.options), q.answer
        if value is None:
            raise HomeworkError(
                f"Question {qid} of cohort {self.name} has generated options and no value.",
                "Make the key first (mlops-kit homework key): it holds the options.",
            )
        rule = dict(q.generate or {})
        return generate_options(
            float(value),
            kind=q.kind,
            step=float(rule["step"]),
            count=int(rule.get("count", self.options_rule.get("count", 4))),
            seed=f"{self.options_rule.get('seed', 0)}:{self.name}:{qid}",
            decimals=q.decimals,
            minimum=rule.get("minimum"),
            maximum=rule.get("maximum"),
        )


def homework_root() -> Path | None:
    """Return the folder holding the cohorts, or None when the kit runs without it.

    Order: ``MLOPS_KIT_HOMEWORK_DIR``; ``homework/`` of the checkout (found from the
    package's own location, so it works from any working directory).
    """
    override = os.environ.get("MLOPS_KIT_HOMEWORK_DIR", "").strip()
    if override:
        return Path(override).expanduser()
    candidate = Path(__file__).resolve().parents[3] / "homework"
    if candidate.is_dir():
        return candidate
    from ..config import repo_root

    root = repo_root()
    return root / "homework" if root is not None else None


def list_cohorts(root: Path | None = None) -> list[str]:
    """Return the names of the cohorts found under ``root`` (default: homework_root())."""
    root = root or homework_root()
    if root is None or not root.is_dir():
        return []
    return sorted(p.parent.name for p in root.glob("*/questions.yaml"))


def cohort_from_dict(data: Mapping[str, Any], folder: Path | None = None) -> Cohort:
    """Build a :class:`Cohort` from the parsed ``questions.yaml`` (validated)."""
    where = f"{folder / 'questions.yaml'}" if folder else "questions.yaml"
    try:
        name = str(data["cohort"])
        datasets = dict(data["datasets"])
        raw_questions = list(data["questions"])
    except (KeyError, TypeError) as exc:
        raise HomeworkError(
            f"{where} lacks {exc} (needs cohort, datasets, questions).",
            "Copy the layout of homework/2024/questions.yaml.",
        ) from None
    rule = data.get("options_rule")
    questions = []
    for raw in raw_questions:
        kind = check_kind(str(raw.get("kind", "number")))
        options = tuple(str(o) for o in raw.get("options") or ())
        published = raw.get("answer")
        published = None if published is None else str(published)
        if published is not None and options and published not in options:
            raise HomeworkError(
                f"{where}: the answer {published!r} of {raw.get('id')} is not one of its options.",
                "Write the published answer exactly as one of the option labels.",
            )
        if not options and rule is None and published is None:
            raise HomeworkError(
                f"{where}: question {raw.get('id')} has no options, no answer and the cohort "
                "no options_rule.",
                "List the course's options, give the published value (a question graded by "
                "value), or add an options_rule to generate them.",
            )
        if published is not None and not options:
            parse_option(published, kind)
        for o in options:
            parse_option(o, kind)
        questions.append(
            Question(
                id=str(raw["id"]),
                title=str(raw.get("title", raw["id"])),
                text=str(raw.get("text", "")).strip(),
                kind=kind,
                options=options,
                answer=published,
                points=float(raw.get("points", 1)),
                decimals=int(raw.get("decimals", 0 if kind != "number" else 2)),
                generate=raw.get("generate"),
                headings=tuple(str(h) for h in raw.get("headings") or ()),
            )
        )
    return Cohort(
        name=name,
        title=str(data.get("title", f"Module 1 homework, cohort {name}")),
        datasets=datasets,
        questions=tuple(questions),
        folder=folder,
        source_url=data.get("source_url"),
        options_rule=rule,
        notes=str(data.get("notes", "")).strip(),
        extra={k: v for k, v in data.items() if k not in {"questions"}},
    )


def load_cohort(cohort: str | Path | Cohort) -> Cohort:
    """Read a cohort: a name (``"2024"``, ``"practice"``) or a folder with questions.yaml.

    Raises:
        UnknownCohortError: when no such cohort exists (the message lists the known ones).
    """
    if isinstance(cohort, Cohort):
        return cohort
    import yaml

    text = str(cohort)
    folder = Path(text)
    if not (folder / "questions.yaml").is_file():
        root = homework_root()
        folder = root / text if root is not None else folder
    path = folder / "questions.yaml"
    if not path.is_file():
        known = ", ".join(list_cohorts()) or "none found"
        raise UnknownCohortError(
            f"No homework cohort {text!r} (looked for {path}).",
            f"Use one of: {known}; or set MLOPS_KIT_HOMEWORK_DIR to the homework folder.",
        )
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise HomeworkError(
            f"Cannot read {path}: {exc}.", "Fix the YAML (see homework/2024/questions.yaml)."
        ) from exc
    return cohort_from_dict(data or {}, folder=folder)
