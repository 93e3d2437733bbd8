"""Where the kit reads and writes, decided by small pure functions.

Nothing here runs at import time: call the functions when a path is needed. Each one
honours an environment variable first, so tests, CI and instructors can redirect it.

| variable              | meaning                                                     |
|-----------------------|-------------------------------------------------------------|
| ``MLOPS_KIT_DATA_DIR``  | a folder of real TLC files to read (never written to)      |
| ``MLOPS_KIT_CACHE_DIR`` | where downloads and synthetic files are kept               |
| ``MLOPS_KIT_OFFLINE``   | ``1`` to never try the network (falls back to synthetic)   |
"""

from __future__ import annotations

import os
from pathlib import Path

PROJECT_NAME = "mlops-kit"


def _env_path(name: str) -> Path | None:
    value = os.environ.get(name, "").strip()
    return Path(value).expanduser() if value else None


def data_dir() -> Path | None:
    """Return the folder of real TLC files named by ``MLOPS_KIT_DATA_DIR``, or None."""
    return _env_path("MLOPS_KIT_DATA_DIR")


def repo_root(start: Path | None = None) -> Path | None:
    """Return the mlops-kit checkout containing ``start`` (default: cwd), or None.

    A checkout is recognised by a ``pyproject.toml`` naming the ``mlops-kit`` project,
    so running the kit from any sub-folder of the repository finds the same root.
    """
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        candidate = folder / "pyproject.toml"
        if candidate.is_file():
            try:
                text = candidate.read_text(encoding="utf-8")
            except OSError:
                continue
            if f'name = "{PROJECT_NAME}"' in text:
                return folder
    return None


def cache_dir() -> Path:
    """Return where downloaded and synthetic data files live (not created here).

    Order: ``MLOPS_KIT_CACHE_DIR``; ``data/`` in the checkout when run from the repo;
    else the user cache folder (``~/.cache/mlops-kit`` on Linux).
    """
    override = _env_path("MLOPS_KIT_CACHE_DIR")
    if override is not None:
        return override
    root = repo_root()
    if root is not None:
        return root / "data"
    from platformdirs import user_cache_dir

    return Path(user_cache_dir(PROJECT_NAME))


def offline() -> bool:
    """Return True when ``MLOPS_KIT_OFFLINE`` asks the kit never to use the network."""
    return os.environ.get("MLOPS_KIT_OFFLINE", "").strip().lower() in {"1", "true", "yes"}
