"""Fixtures for the report tests: settings pointing at a temp folder, marts filled in."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))


@pytest.fixture
def filled(wh):
    """The warehouse of each engine with the hand-made marts of ``marts.py``."""
    import report_marts as marts

    marts.insert_all(wh)
    return wh


@pytest.fixture
def filled_duck(duck):
    """DuckDB only, for tests whose subject is not the warehouse (SMTP, S3, the CLI)."""
    import report_marts as marts

    marts.insert_all(duck)
    return duck
