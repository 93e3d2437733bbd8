"""What the scan found and what it means: evidence, the levels' requirements, the verdict.

An :class:`Evidence` is one thing a file *does* (a CI step that runs pytest, a call that
registers a model, a Prefect deployment on a cron schedule), with the file and line where
it does it. :data:`REQUIREMENTS` says which kind of evidence each level needs, following
the course's lecture (see :mod:`.levels`). :func:`judge` turns the evidence of one project
into a :class:`ProjectResult`: for every level what is met and what is missing (even above
the level reached, so a project with a registry but no tests is told both), the level
reached under the rule that a level needs every level below it, a one-line summary and a
confidence that says how much of the verdict rests on actions rather than on names.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from .levels import LEVELS, reached_level

#: what each kind of evidence means, in the order reports list them
EVIDENCE_KINDS: dict[str, str] = {
    "tests": "automated tests",
    "ci": "CI that runs the tests on every change",
    "pipeline": "a training pipeline that runs without a notebook",
    "tracking": "experiment tracking",
    "registry": "a model registry (or models picked from tracked runs)",
    "deployment": "automated deployment (a CD job or a pipeline step deploys the model)",
    "serving": "the model behind an API call",
    "monitoring": "monitoring of the deployed model",
    "retraining": "training that starts by itself (a schedule or a monitoring signal)",
    "promotion": "retrained models promoted and deployed without a person",
    "notebook": "notebooks",
    "container": "container images (Dockerfile, Compose)",
    "ci_config": "CI configuration (what runs on a change)",
}


@dataclass(frozen=True)
class Requirement:
    """What one level needs to see in a project: evidence of one of ``kinds``."""

    id: str
    level: int
    text: str
    kinds: tuple[str, ...]


REQUIREMENTS: tuple[Requirement, ...] = (
    Requirement("tests", 1, "automated tests", ("tests",)),
    Requirement("ci", 1, "CI that runs your tests", ("ci",)),
    Requirement("pipeline", 2, "a training pipeline that runs without a notebook", ("pipeline",)),
    Requirement("tracking", 2, "experiment tracking", ("tracking",)),
    Requirement("registry", 2, "a model registry", ("registry",)),
    Requirement("deployment", 3, "a pipeline that deploys the model", ("deployment",)),
    Requirement("serving", 3, "the model behind an API call", ("serving",)),
    Requirement("monitoring", 3, "monitoring of the deployed model", ("monitoring",)),
    Requirement("retraining", 4, "retraining that starts by itself", ("retraining",)),
    Requirement("promotion", 4, "retrained models promoted without a person", ("promotion",)),
)


@dataclass(frozen=True, order=True)
class Evidence:
    """One thing a file does, found by the scan.

    Attributes:
        kind: one of :data:`EVIDENCE_KINDS`.
        path: the file (or folder) relative to the scanned root, ``/``-separated.
        line: the line that does it (1-based), or 0 for a whole file or folder.
        detail: what it does there, in words (``runs `pytest -v` on push``).
        weak: True when the evidence rests on a stored artifact or a convention rather
            than an action (an ``mlruns`` store, a model picked from runs by metric).
    """

    kind: str
    path: str
    line: int
    detail: str
    weak: bool = False

    @property
    def where(self) -> str:
        """``path:line``, or the path alone for a whole file or folder."""
        return f"{self.path}:{self.line}" if self.line else self.path

    def to_dict(self) -> dict[str, Any]:
        """Return the evidence as a plain dict."""
        return {
            "kind": self.kind,
            "path": self.path,
            "line": self.line,
            "detail": self.detail,
            "weak": self.weak,
        }


def evidence_order(item: Evidence) -> tuple:
    """Sort key: kind in :data:`EVIDENCE_KINDS` order, then path, line and detail."""
    order = list(EVIDENCE_KINDS)
    rank = order.index(item.kind) if item.kind in order else len(order)
    return (rank, item.path, item.line, item.detail)


@dataclass(frozen=True)
class LevelCheck:
    """One level of one project: which requirements are met (with what) and which are not."""

    number: int
    met: tuple[tuple[Requirement, tuple[Evidence, ...]], ...]
    missing: tuple[Requirement, ...]

    @property
    def name(self) -> str:
        """The level's name."""
        return LEVELS[self.number].name

    @property
    def complete(self) -> bool:
        """True when every requirement of the level is met."""
        return not self.missing

    @property
    def score(self) -> float:
        """The share of the level's requirements that are met."""
        total = len(self.met) + len(self.missing)
        return len(self.met) / total if total else 1.0

    def to_dict(self) -> dict[str, Any]:
        """Return the check as a plain dict."""
        return {
            "level": self.number,
            "name": self.name,
            "met": [
                {"id": r.id, "text": r.text, "evidence": [e.where for e in items]}
                for r, items in self.met
            ],
            "missing": [{"id": r.id, "text": r.text} for r in self.missing],
        }


@dataclass(frozen=True)
class ProjectResult:
    """The verdict on one project (a folder of a repository) from its evidence.

    Attributes:
        path: the project's folder relative to the scanned root (``.`` for the root).
        level: the level reached (0-4): every requirement of it and of every level below.
        levels: a :class:`LevelCheck` for each level 1-4.
        evidence: the evidence used, sorted by kind, path and line.
        confidence: ``high``, ``medium`` or ``low``.
        confidence_reason: what the confidence rests on, in one sentence.
        summary: the whole picture in one sentence.
        parts: the project's folders that hold their own dependency file, Dockerfile,
            Makefile or pipeline definition (``.`` for the project's own folder).
    """

    path: str
    level: int
    levels: tuple[LevelCheck, ...]
    evidence: tuple[Evidence, ...]
    confidence: str
    confidence_reason: str
    summary: str
    parts: tuple[str, ...] = ()

    @property
    def name(self) -> str:
        """The name of the level reached."""
        return LEVELS[self.level].name

    @property
    def scores(self) -> dict[int, float]:
        """Level -> share of its requirements met (level 0: 1.0)."""
        return {0: 1.0, **{check.number: check.score for check in self.levels}}

    @property
    def missing_for_next(self) -> list[Requirement]:
        """The requirements of the next level not met (empty at level 4)."""
        if self.level + 1 >= len(LEVELS):
            return []
        return list(self.levels[self.level].missing)

    def met_count(self) -> int:
        """How many requirements are met over all levels (a tie-breaker between projects)."""
        return sum(len(check.met) for check in self.levels)

    def to_dict(self) -> dict[str, Any]:
        """Return the verdict as a plain dict."""
        return {
            "path": self.path,
            "parts": list(self.parts),
            "level": self.level,
            "name": self.name,
            "summary": self.summary,
            "confidence": self.confidence,
            "confidence_reason": self.confidence_reason,
            "levels": [check.to_dict() for check in self.levels],
            "evidence": [item.to_dict() for item in self.evidence],
        }


def _and(words: list[str]) -> str:
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]


def summarize(level: int, levels: tuple[LevelCheck, ...]) -> str:
    """Say in one sentence which levels are met and what the next one needs.

    ``Levels 2 and 3 are met; level 1 needs CI that runs your tests.``
    """
    complete = [check.number for check in levels if check.complete]
    above = [n for n in complete if n > level]
    nxt = level + 1
    if nxt >= len(LEVELS):
        return "Every level is met."
    needs = "; ".join(r.text for r in levels[nxt - 1].missing)
    if above:
        which = _and([str(n) for n in above])
        verb = "is" if len(above) == 1 else "are"
        noun = "Level" if len(above) == 1 else "Levels"
        return f"{noun} {which} {verb} met, but level {nxt} needs {needs} first."
    if level == 0:
        return f"Level 1 needs {needs}."
    return f"Level {level} is met; level {nxt} needs {needs}."


def confidence_of(
    levels: tuple[LevelCheck, ...], evidence: tuple[Evidence, ...], truncated: int
) -> tuple[str, str]:
    """Rate the verdict: how much of what decides it rests on actions rather than names.

    A requirement counts as firmly met when at least one of its pieces of evidence is not
    weak. The verdict is ``high`` when every met requirement is firmly met and no file was
    cut, ``medium`` when some rest only on weak evidence (or files were read in part), and
    ``low`` when the project shows almost nothing either way (fewer than two pieces of
    evidence: an empty folder looks like level 0 whether or not it is one).
    """
    met = [(r, items) for check in levels for r, items in check.met]
    soft = [r.text for r, items in met if all(item.weak for item in items)]
    strong = sum(not item.weak for item in evidence)
    counted = f"{len(evidence)} pieces of evidence, {strong} from what the files do"
    if len(evidence) < 2:
        return "low", f"{counted}: too little to tell"
    if soft:
        return "medium", f"{counted}; resting on weak evidence: {'; '.join(soft)}"
    if truncated:
        return "medium", f"{counted}; {truncated} files read only in part"
    return "high", counted


def judge(
    path: str, evidence: Iterable[Evidence], truncated: int = 0, parts: tuple[str, ...] = ()
) -> ProjectResult:
    """Return the verdict on one project from its evidence (see :class:`ProjectResult`)."""
    items = tuple(sorted(set(evidence), key=evidence_order))
    by_kind: dict[str, list[Evidence]] = {}
    for item in items:
        by_kind.setdefault(item.kind, []).append(item)
    checks = []
    for number in range(1, len(LEVELS)):
        met, missing = [], []
        for requirement in (r for r in REQUIREMENTS if r.level == number):
            found = [e for kind in requirement.kinds for e in by_kind.get(kind, [])]
            if found:
                met.append((requirement, tuple(found)))
            else:
                missing.append(requirement)
        checks.append(LevelCheck(number, tuple(met), tuple(missing)))
    levels = tuple(checks)
    level = reached_level({check.number: check.complete for check in levels})
    confidence, reason = confidence_of(levels, items, truncated)
    return ProjectResult(
        path=path,
        level=level,
        levels=levels,
        evidence=items,
        confidence=confidence,
        confidence_reason=reason,
        summary=summarize(level, levels),
        parts=parts,
    )


@dataclass(frozen=True)
class ScanResult:
    """The result of :func:`~mlops_kit.lessons.maturity.scan.scan`.

    The repository is reported as its best-supported project (the highest level, then the
    most requirements met, then the shallowest folder), never as the union of unrelated
    projects: a course repository of many modules is as mature as its best module.

    Attributes:
        project: the verdict on the reported project.
        projects: every project found, best first.
        files_scanned: how many files were looked at.
        truncated: files read only in part (size cap) or not at all (file cap).
    """

    project: ProjectResult
    projects: tuple[ProjectResult, ...]
    files_scanned: int
    truncated: list[str] = field(default_factory=list)

    # the reported project's verdict, read through
    @property
    def level(self) -> int:
        """The level of the reported project."""
        return self.project.level

    @property
    def name(self) -> str:
        """The name of that level."""
        return self.project.name

    @property
    def evidence(self) -> list[Evidence]:
        """The reported project's evidence."""
        return list(self.project.evidence)

    @property
    def scores(self) -> dict[int, float]:
        """Level -> share of its requirements met, for the reported project."""
        return self.project.scores

    @property
    def levels(self) -> tuple[LevelCheck, ...]:
        """The reported project's per-level checks."""
        return self.project.levels

    @property
    def missing_for_next(self) -> list[Requirement]:
        """The requirements of the next level not met by the reported project."""
        return self.project.missing_for_next

    @property
    def summary(self) -> str:
        """The reported project's whole picture in one sentence."""
        return self.project.summary

    @property
    def confidence(self) -> str:
        """The reported project's confidence (``high``, ``medium`` or ``low``)."""
        return self.project.confidence

    def kinds(self) -> set[str]:
        """Return the kinds of evidence found in the reported project."""
        return {item.kind for item in self.project.evidence}

    def evidence_table(self):
        """Return the reported project's evidence as a DataFrame (kind, where, detail)."""
        import pandas as pd

        rows = [
            {"kind": e.kind, "where": e.where, "detail": e.detail + (" (weak)" if e.weak else "")}
            for e in self.project.evidence
        ]
        return pd.DataFrame(rows, columns=["kind", "where", "detail"])

    def levels_table(self):
        """Return one row per level: met requirements, missing ones, and the share met."""
        import pandas as pd

        rows = [
            {
                "level": check.number,
                "name": check.name,
                "met": "; ".join(r.text for r, _ in check.met) or "-",
                "missing": "; ".join(r.text for r in check.missing) or "-",
                "share met": f"{check.score:.0%}",
            }
            for check in self.project.levels
        ]
        return pd.DataFrame(rows).set_index("level")

    def projects_table(self):
        """Return one row per project found: folder, level, share met per level."""
        import pandas as pd

        rows = [
            {
                "project": item.path,
                "level": item.level,
                "requirements met": item.met_count(),
                "confidence": item.confidence,
                "summary": item.summary,
            }
            for item in self.projects
        ]
        return pd.DataFrame(rows)

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-able summary (what ``mlops-kit maturity --scan --json`` prints)."""
        return {
            "level": self.level,
            "name": self.name,
            "project": self.project.path,
            "summary": self.summary,
            "confidence": self.project.confidence,
            "confidence_reason": self.project.confidence_reason,
            "scores": {str(k): v for k, v in self.scores.items()},
            "levels": [check.to_dict() for check in self.project.levels],
            "missing_for_next": [{"id": r.id, "text": r.text} for r in self.missing_for_next],
            "evidence": [item.to_dict() for item in self.project.evidence],
            "projects": [
                {
                    "path": item.path,
                    "parts": list(item.parts),
                    "level": item.level,
                    "summary": item.summary,
                    "confidence": item.confidence,
                    "requirements_met": item.met_count(),
                }
                for item in self.projects
            ],
            "files_scanned": self.files_scanned,
            "truncated": list(self.truncated),
        }


def best_project(projects: Iterable[ProjectResult]) -> list[ProjectResult]:
    """Sort projects best-supported first: level, requirements met, firm evidence, depth."""

    def key(item: ProjectResult) -> tuple:
        firm = sum(not e.weak for e in item.evidence)
        depth = 0 if item.path == "." else item.path.count("/") + 1
        return (-item.level, -item.met_count(), -firm, depth, item.path)

    return sorted(projects, key=key)
