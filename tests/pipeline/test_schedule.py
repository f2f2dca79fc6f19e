"""The schedule inside ``revops serve``: cron in the business time zone, no catch-up."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from revops.config import Settings
from revops.errors import ConfigError
from revops.pipeline import daily
from revops.pipeline.schedule import next_run_time, scheduled_run, start_scheduler

TOKYO = ZoneInfo("Asia/Tokyo")


@dataclass
class FakeRuntime:
    settings: Settings
    warehouse: Any


def test_next_run_is_seven_in_the_business_time_zone() -> None:
    # 08:00 in Tokyo on the 15th: today's 07:00 has passed and is not caught up
    after = datetime(2024, 1, 14, 23, 0, tzinfo=UTC)
    nxt = next_run_time("0 7 * * *", TOKYO, after)
    assert nxt is not None
    assert nxt.astimezone(UTC) == datetime(2024, 1, 15, 22, 0, tzinfo=UTC)
    # 06:59 Tokyo: the same morning
    nxt = next_run_time("0 7 * * *", TOKYO, datetime(2024, 1, 14, 21, 59, tzinfo=UTC))
    assert nxt is not None and nxt.astimezone(UTC) == datetime(2024, 1, 14, 22, 0, tzinfo=UTC)


def test_bad_cron_names_the_setting() -> None:
    with pytest.raises(ConfigError) as err:
        next_run_time("0 7 * *", TOKYO, datetime(2024, 1, 1, tzinfo=UTC))
    assert err.value.where == "[schedule] cron"


def test_disabled_schedule_starts_nothing(tmp_path: Any) -> None:
    settings = Settings(data={"schedule": {"enabled": False}}, env={})
    stop = start_scheduler(FakeRuntime(settings, None))
    assert not hasattr(stop, "scheduler")
    stop()


def test_scheduler_registers_one_non_overlapping_job(duck: Any) -> None:
    settings = Settings(data={"warehouse": {"url": duck.url}}, env={})
    stop = start_scheduler(FakeRuntime(settings, duck))
    try:
        job = stop.scheduler.get_job("revops.daily")  # type: ignore[attr-defined]
        assert job.max_instances == 1 and job.coalesce is True
        assert job.next_run_time.tzinfo is not None
        local = job.next_run_time.astimezone(TOKYO)
        assert (local.hour, local.minute) == (7, 0)
    finally:
        stop()


def test_scheduled_job_runs_the_daily_pipeline_on_the_server_warehouse(
    duck: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.pipeline.conftest import all_ok, make_settings

    settings = make_settings(duck.url)
    real = daily.run_daily

    def with_fake_tasks(*args: Any, **kwargs: Any) -> Any:
        return real(*args, tasks=all_ok(), on_failure=lambda f: None, **kwargs)

    monkeypatch.setattr(daily, "run_daily", with_fake_tasks)
    scheduled_run(FakeRuntime(settings, duck))()
    rows = duck.query("SELECT status, trigger, actor, run_date FROM revops.pipeline_runs")
    assert len(rows) == 1
    assert rows[0]["status"] == "success" and rows[0]["trigger"] == "schedule"
    assert rows[0]["actor"] == "scheduler"
    assert rows[0]["run_date"] == daily.default_day(settings)
