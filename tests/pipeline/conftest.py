"""Fixtures for the orchestration tests: settings for a warehouse, injected task callables."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

import pytest

from revops.config import Settings
from revops.pipeline.daily import DAILY_TASKS
from revops.pipeline.graph import TaskContext

DAY = date(2024, 1, 15)


def make_settings(url: str, **pipeline: Any) -> Settings:
    """Settings for ``url`` with fast retries (overridable)."""
    section = {
        "retries": 3,
        "retry_backoff_s": 0.01,
        "retry_backoff_max_s": 0.05,
        "cancel_grace_s": 5.0,
        **pipeline,
    }
    return Settings(
        data={
            "warehouse": {"url": url},
            "pipeline": section,
            "general": {"timezone": "Asia/Tokyo"},
        },
        env={},
    )


@pytest.fixture
def settings_for() -> Callable[..., Settings]:
    return make_settings


def ok_task(ctx: TaskContext) -> dict[str, Any]:
    """A task that succeeds and says which task and day it was."""
    return {"task": ctx.task_id, "day": ctx.day}


def all_ok() -> dict[str, Callable[[TaskContext], Any]]:
    """Overrides replacing every daily task with :func:`ok_task`."""
    return {spec.task_id: ok_task for spec in DAILY_TASKS}
