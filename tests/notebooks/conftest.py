"""Fixtures of the notebook regression tier."""

import pytest


@pytest.fixture(scope="session")
def update_goldens(request) -> bool:
    return bool(request.config.getoption("--update-goldens"))
