"""Service availability for tests: skip with the reason, or fail when CI requires services.

Import it as ``from servicecheck import service_unavailable`` (``tests/`` is on the path).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

PG_ADMIN_URL = os.environ.get("REVOPS_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
REQUIRE_SERVICES = os.environ.get("REVOPS_REQUIRE_SERVICES") == "1"
FIXTURES = Path(__file__).parent / "fixtures"


def service_unavailable(what: str, why: str) -> None:
    """Skip (or, in CI, fail) a test whose service is missing."""
    message = f"{what} is not reachable: {why}"
    if REQUIRE_SERVICES:
        pytest.fail(message + " (REVOPS_REQUIRE_SERVICES=1, so this is a failure)")
    pytest.skip(message)
