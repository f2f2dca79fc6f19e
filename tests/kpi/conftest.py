"""Fixtures of the marketing KPI tests."""

from __future__ import annotations

import pytest

from revops.config import Settings


@pytest.fixture
def settings() -> Settings:
    """Default settings (window 30, no publish target), isolated from the environment."""
    return Settings(data={}, env={})
