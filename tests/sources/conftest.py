"""Fixtures of the sources tests: the local ads API on 127.0.0.1 and settings for it."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from revops.config import Settings
from revops.dev.ads_api import AdsApiServer, AdsApiState, demo_ads_settings


@pytest.fixture
def ads_api() -> Iterator[AdsApiServer]:
    """The local ads API (120 campaigns a day, seed 7) in a background thread."""
    server = AdsApiServer(state=AdsApiState(seed=7, campaign_count=120)).start()
    try:
        yield server
    finally:
        server.stop()


def make_ads_settings(server: AdsApiServer, **overrides: Any) -> Settings:
    """Settings reading ``server`` with tiny backoff waits (tests never sleep long)."""
    section, env = demo_ads_settings(server.base_url)
    section.update(
        {
            "backoff_floor_s": 0.001,
            "backoff_max_s": 0.01,
            "retry_after_max_s": 0.01,
            "timeout_s": 2.0,
        }
    )
    env = dict(env)
    for key, value in overrides.items():
        if key.startswith("REVOPS_"):
            env[key] = value
        elif value is None:
            section.pop(key, None)
        else:
            section[key] = value
    return Settings(data={"ads": section}, env=env)


@pytest.fixture
def ads_settings() -> Any:
    """Factory: ``ads_settings(server, **overrides)`` → Settings for the local ads API."""
    return make_ads_settings
