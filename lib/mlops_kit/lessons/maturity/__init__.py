"""The MLOps maturity model: five levels, a self-assessment, and a scan of a project.

The course's first module places a team on the five levels of Microsoft's MLOps maturity
model (Azure Architecture Center). The levels measure how much of the path from a notebook
to a model that maintains itself is automated:

====  ===============================  =================================================
 0    No MLOps                         everything by hand, one person, no tracking
 1    DevOps but no MLOps              code has tests and CI; models are still hand-made
 2    Automated training               training is a tracked, repeatable pipeline
 3    Automated model deployment       a CI/CD pipeline releases models with tests
 4    Full MLOps automated operations  production metrics trigger retraining by themselves
====  ===============================  =================================================

A level counts only when every level below it is reached too: a project with a model
registry but no tests is still at level 0, and the report says what to add first.

The modules, one concern each:

- :mod:`.levels`: the model as data (:data:`LEVELS`, :data:`AREAS`) and the rule that a
  level needs every level below it (:func:`reached_level`);
- :mod:`.assessment`: the yes/no questions (:data:`QUESTIONS`) and :func:`assess`, with
  :func:`load_answers` / :func:`coerce_answers` to read answers;
- :mod:`.scan`: :func:`scan` estimates a repository's level from what its files do, with
  the help of :mod:`.pyfacts` and :mod:`.pyrules` (Python and notebooks), :mod:`.ci` and
  :mod:`.commands` (CI/CD pipelines and the commands they run), :mod:`.configs` (other
  configuration files, read with :mod:`.yamlnodes`) and :mod:`.projects` (which folders
  are projects of their own);
- :mod:`.evidence`: what was found and the verdict: :class:`Evidence`, the levels'
  :data:`REQUIREMENTS`, per-level met and missing, confidence, :class:`ScanResult`;
- :mod:`.plot`: :func:`plot_assessment`, the share of each level met;
- :mod:`.demo`: :func:`write_demo_project`, a tiny project at a chosen level.

The names below are the public API the notebooks, the CLI and the tests use.
"""

from .assessment import (
    QUESTIONS,
    Assessment,
    BadAnswerError,
    Question,
    UnknownQuestionError,
    assess,
    coerce_answers,
    load_answers,
    questions_for_level,
)
from .demo import write_demo_project
from .evidence import (
    EVIDENCE_KINDS,
    REQUIREMENTS,
    Evidence,
    LevelCheck,
    ProjectResult,
    Requirement,
    ScanResult,
)
from .levels import (
    AREAS,
    LECTURE_URL,
    LEVELS,
    MICROSOFT_URL,
    SOURCES_NOTE,
    Level,
    level,
    levels_table,
    principles_by_level,
    reached_level,
)
from .plot import plot_assessment
from .scan import ScanPathError, scan, scan_from_evidence

__all__ = [
    "AREAS",
    "EVIDENCE_KINDS",
    "LECTURE_URL",
    "LEVELS",
    "MICROSOFT_URL",
    "QUESTIONS",
    "REQUIREMENTS",
    "SOURCES_NOTE",
    "Assessment",
    "BadAnswerError",
    "Evidence",
    "Level",
    "LevelCheck",
    "ProjectResult",
    "Question",
    "Requirement",
    "ScanPathError",
    "ScanResult",
    "UnknownQuestionError",
    "assess",
    "coerce_answers",
    "level",
    "levels_table",
    "load_answers",
    "plot_assessment",
    "principles_by_level",
    "questions_for_level",
    "reached_level",
    "scan",
    "scan_from_evidence",
    "write_demo_project",
]
