"""The versions of the libraries a notebook's results depend on.

A notebook run on scikit-learn 1.8 and the same notebook run on 1.9 may print different
numbers (or fail: see :mod:`mlops_kit.execution.drift`). Two places need to say which
releases were used: a batch's fingerprint (:func:`mlops_kit.execution.batch.jobs.job_fingerprint`),
so an upgrade never reuses a stale result, and the banner of ``build/index.html``, so a
reader knows what produced the pages. Both read :func:`library_versions`.
"""

from __future__ import annotations

import functools
import platform
from importlib import metadata

#: the distributions whose versions are recorded, in the order they are shown
LIBRARIES = (
    "numpy",
    "pandas",
    "pyarrow",
    "scipy",
    "scikit-learn",
    "matplotlib",
    "seaborn",
    "papermill",
    "nbclient",
    "nbformat",
    "ipykernel",
    "jupyter_client",
)


@functools.cache
def library_versions() -> dict[str, str | None]:
    """Return ``{"python": ..., "numpy": ..., ...}``: installed versions, None when missing.

    Read from the installed distributions' metadata, without importing the libraries;
    computed once per process.
    """
    found: dict[str, str | None] = {"python": platform.python_version()}
    for name in LIBRARIES:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = None
    return found


def versions_line(versions: dict[str, str | None] | None = None) -> str:
    """One line, ``python X.Y.Z, numpy X.Y.Z, ...``; libraries not installed are left out."""
    versions = library_versions() if versions is None else versions
    return ", ".join(f"{name} {version}" for name, version in versions.items() if version)
