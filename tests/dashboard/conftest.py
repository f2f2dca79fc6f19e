"""Dashboard fixtures (helpers live in ``harness``)."""

from __future__ import annotations

import pytest

from dashboard.harness import load_fixture
from revops.warehouse.base import Warehouse


@pytest.fixture
def loaded(wh: Warehouse) -> Warehouse:
    """The ``wh`` warehouse with :func:`load_fixture` rows."""
    load_fixture(wh)
    return wh
