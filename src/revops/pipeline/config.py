"""The ``[pipeline]`` and ``[schedule]`` settings of the orchestration runner.

Defaults follow the seed's Airflow DAG: 3 retries with exponential backoff from 5 minutes,
per-task timeouts in minutes, a 2-hour default timeout, a daily run at 07:00 in the business
time zone.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict, Field

if TYPE_CHECKING:
    from revops.config import Settings


class PipelineConfig(BaseModel):
    """``[pipeline]``: how the runner retries, times out and parallelises tasks."""

    model_config = ConfigDict(extra="forbid")

    retries: int = Field(default=3, ge=0, le=20)
    retry_backoff_s: float = Field(default=300.0, ge=0)  # first retry delay; doubles per retry
    retry_backoff_max_s: float = Field(default=3600.0, ge=0)
    default_timeout_min: float = Field(default=120.0, gt=0)
    timeouts: dict[str, float] = Field(default_factory=dict)  # task id -> minutes
    max_parallel: int = Field(default=3, ge=1, le=32)
    cancel_grace_s: float = Field(default=30.0, ge=0)
    window_days: int | None = Field(default=None, ge=1)


class ScheduleConfig(BaseModel):
    """``[schedule]``: when ``revops serve`` runs the daily pipeline."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = True
    cron: str = "0 7 * * *"


def pipeline_config(settings: Settings | None) -> PipelineConfig:
    """``[pipeline]`` validated (defaults when ``settings`` is None)."""
    if settings is None:
        return PipelineConfig()
    return settings.model("pipeline", PipelineConfig)


def schedule_config(settings: Settings) -> ScheduleConfig:
    """``[schedule]`` validated."""
    return settings.model("schedule", ScheduleConfig)
