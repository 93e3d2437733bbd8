"""The kit's own error types, and the rule for where each one lives.

Every error a learner or an instructor can cause with bad input is a :class:`KitError`.
Its message is one paragraph that names the problem *and* the fix, so the CLI can print
it without a traceback and a notebook shows something a learner can act on.

The rule: the families that several layers raise (data, parameters, notebooks, saved
models) are defined here; an error that only one subpackage raises is defined in the module
that raises it, subclassing one of these. Either way it is listed below, and a test keeps
this list equal to the kit's ``KitError`` subclasses.

Defined here: ``KitError``, ``DataError``, ``DatasetNameError``, ``DataNotFoundError``,
``MonthNotPublishedError``, ``DownloadError``, ``CorruptDataError``, ``MissingColumnsError``,
``ParameterError``, ``UnknownParameterError``, ``BadParameterError``,
``InvalidNotebookError``, ``ModelBundleError``.

Defined beside their cause:

- tlc: ``UnknownSchemaError`` (a service/month whose columns the kit does not know),
  ``OfflineError`` (a download with no network at all), ``ColumnTypeError`` (pickup times
  stored as text);
- lessons: ``UnknownCheckError`` (doctor), ``SshConfigError`` (ssh config),
  ``UnknownQuestionError``, ``BadAnswerError``, ``ScanPathError`` (maturity);
- execution: ``GridError``, ``BatchError`` (batches), ``SandboxUnavailableError`` (sandbox);
- homework: ``HomeworkError``, ``UnknownCohortError``, ``FormError``, ``OptionError``,
  ``AnswerKeyError``, ``SubmissionError``.
"""

from __future__ import annotations


class KitError(Exception):
    """Base class: a problem the user can fix, described in plain words.

    Args:
        problem: what went wrong, naming the thing (dataset, file, parameter) involved.
        fix: what to do about it, as one imperative sentence.
    """

    def __init__(self, problem: str, fix: str | None = None):
        self.problem = problem
        self.fix = fix
        super().__init__(problem if not fix else f"{problem} Fix: {fix}")


class DataError(KitError):
    """Base class for problems with trip data."""


class DatasetNameError(DataError):
    """A dataset id such as ``green:2021-01`` could not be parsed."""


class DataNotFoundError(DataError):
    """The file for a dataset is neither on disk nor downloadable."""


class MonthNotPublishedError(DataNotFoundError):
    """TLC answers 403/404 for the month: it was never published (or not yet)."""


class DownloadError(DataNotFoundError):
    """The download failed: no network, a timeout, or a connection cut mid-file."""


class CorruptDataError(DataError):
    """A file exists but is not a readable parquet (truncated, HTML error page, ...)."""


class MissingColumnsError(DataError):
    """A file lacks columns the caller needs."""


class ParameterError(KitError):
    """Base class for bad notebook or CLI parameters."""


class UnknownParameterError(ParameterError):
    """A parameter the notebook does not declare."""


class BadParameterError(ParameterError):
    """A parameter of the wrong type or out of range."""


class InvalidNotebookError(KitError):
    """A file that is not a valid Jupyter notebook."""


class ModelBundleError(KitError):
    """A saved model bundle is missing, unreadable, or does not match its sidecar."""
