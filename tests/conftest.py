"""Shared fixtures and the test tiers.

Tiers are markers (``unit``, ``notebooks``, ``homework``, ``runner``, ``realdata``) given
by folder, so ``pytest -m unit`` runs the fast ones. Tests never touch the network
except 127.0.0.1 servers they start themselves, and never write into the checkout:
the kit's cache is redirected to a temporary folder for the whole session.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

TESTS = Path(__file__).parent
ROOT = TESTS.parent

_FOLDER_MARKERS = {"unit": "unit", "notebooks": "notebooks", "homework": "homework"}


def pytest_addoption(parser):
    parser.addoption(
        "--update-goldens",
        action="store_true",
        help="rewrite tests/goldens/ from fresh executions instead of comparing (make goldens)",
    )


def pytest_collection_modifyitems(config, items):
    for item in items:
        rel = Path(str(item.fspath)).resolve().relative_to(TESTS.resolve())
        marker = _FOLDER_MARKERS.get(rel.parts[0]) if len(rel.parts) > 1 else None
        if marker:
            item.add_marker(getattr(pytest.mark, marker))


@pytest.fixture(scope="session", autouse=True)
def _isolated_cache(tmp_path_factory):
    """Point MLOPS_KIT_CACHE_DIR at one temp folder for the session (synthetic files are shared)."""
    cache = tmp_path_factory.mktemp("mlops-kit-cache")
    old = os.environ.get("MLOPS_KIT_CACHE_DIR")
    os.environ["MLOPS_KIT_CACHE_DIR"] = str(cache)
    os.environ.setdefault("JUPYTER_PREFER_ENV_PATH", "1")
    os.environ.setdefault("MPLBACKEND", "Agg")
    yield cache
    if old is None:
        os.environ.pop("MLOPS_KIT_CACHE_DIR", None)
    else:
        os.environ["MLOPS_KIT_CACHE_DIR"] = old


@pytest.fixture(scope="session")
def real_data_dir() -> Path:
    """The folder of real TLC files from MLOPS_KIT_DATA_DIR; skips the test when unset."""
    value = os.environ.get("MLOPS_KIT_DATA_DIR", "").strip()
    if not value or not Path(value).is_dir():
        pytest.skip(
            "real TLC data not available: set MLOPS_KIT_DATA_DIR to a folder of TLC parquet files"
        )
    return Path(value)


@pytest.fixture
def real_file(real_data_dir):
    """Return a function that gives the path of a real TLC file, skipping when it is absent."""

    def get(name: str) -> Path:
        path = real_data_dir / name
        if not path.is_file():
            pytest.skip(f"{name} not in MLOPS_KIT_DATA_DIR={real_data_dir}")
        return path

    return get
