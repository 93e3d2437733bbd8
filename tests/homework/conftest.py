"""Fixtures of the homework tier: one synthetic practice key for the whole session."""

from __future__ import annotations

import json

import pytest

#: synthetic rows per month: small, so each kernel run stays short
ROWS = 4000


@pytest.fixture(scope="session")
def practice_key_path(tmp_path_factory):
    """The plain practice key computed on synthetic data (one solution run per session)."""
    from mlops_kit.homework import make_key

    folder = tmp_path_factory.mktemp("instructor-keys")
    path = folder / "practice.json"
    make_key("practice", source="synthetic", rows=ROWS, out=path, timeout_cell=120)
    return path


@pytest.fixture(scope="session")
def practice_key(practice_key_path):
    return json.loads(practice_key_path.read_text())
