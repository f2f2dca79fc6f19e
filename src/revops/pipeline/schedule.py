"""The daily pipeline's schedule inside ``revops serve``.

``[schedule] cron`` (default ``0 7 * * *``, the seed's) is read in the business time zone.
Like the seed's ``catchup=False``, a time missed while the server was down is not run later:
the next run is the next cron time after start. Runs never overlap (one job instance, and the
pipeline lock across processes). Uses APScheduler 3 (extra ``revops[schedule]``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from revops.errors import ConfigError, RevopsError
from revops.pipeline.config import schedule_config

if TYPE_CHECKING:
    from zoneinfo import ZoneInfo

    from revops.config import Settings
    from revops.warehouse.base import Warehouse

log = logging.getLogger(__name__)
JOB_ID = "revops.daily"
#: A 07:00 run that starts late by up to this much (a busy process) still runs, once.
MISFIRE_GRACE_S = 300


class Runtime(Protocol):
    """What the scheduler needs from ``revops serve``."""

    settings: Settings
    warehouse: Warehouse


def build_trigger(cron: str, tz: ZoneInfo) -> Any:
    """An APScheduler cron trigger for a five-field crontab line in ``tz``."""
    try:
        from apscheduler.triggers.cron import CronTrigger
    except ImportError as exc:
        raise ConfigError(
            "the daily schedule needs APScheduler",
            hint="pip install 'revops[schedule]', or set [schedule] enabled = false",
        ) from exc
    try:
        return CronTrigger.from_crontab(cron, timezone=tz)
    except ValueError as exc:
        raise ConfigError(
            f"invalid cron expression: {exc}",
            input=cron,
            where="[schedule] cron",
            hint="five fields: minute hour day month weekday, e.g. 0 7 * * *",
        ) from exc


def next_run_time(cron: str, tz: ZoneInfo, after: datetime) -> datetime | None:
    """The first scheduled time strictly after ``after``."""
    trigger = build_trigger(cron, tz)
    return trigger.get_next_fire_time(
        None, after.astimezone(tz).replace(microsecond=0) + _one_second()
    )


def _one_second() -> Any:
    from datetime import timedelta

    return timedelta(seconds=1)


def scheduled_run(runtime: Runtime) -> Callable[[], None]:
    """The job: run the daily pipeline for today (data through yesterday) on the server's warehouse.

    Never raises: a run that fails has already recorded and alerted; a run refused because
    another is active is logged.
    """

    def job() -> None:
        from revops.pipeline.daily import run_daily
        from revops.pipeline.lock import RunActiveError

        try:
            result = run_daily(
                runtime.settings, wh=runtime.warehouse, trigger="schedule", actor="scheduler"
            )
        except RunActiveError as exc:
            log.warning("scheduled daily run skipped: %s", exc)
            return
        except RevopsError as exc:
            log.error("scheduled daily run could not start: %s", exc)
            return
        except Exception:
            log.exception("scheduled daily run crashed")
            return
        for run in result.runs:
            log.info("scheduled daily run %s for %s: %s", run.run_id, run.day, run.status)

    return job


def start_scheduler(runtime: Runtime) -> Callable[[], None]:
    """Start the daily schedule in a background thread; returns a function that stops it.

    With ``[schedule] enabled = false`` nothing starts and the stop function does nothing.
    """
    config = schedule_config(runtime.settings)
    if not config.enabled:
        return lambda: None
    tz = runtime.settings.timezone
    trigger = build_trigger(config.cron, tz)
    from apscheduler.schedulers.background import BackgroundScheduler

    scheduler = BackgroundScheduler(timezone=tz)
    scheduler.add_job(
        scheduled_run(runtime),
        trigger,
        id=JOB_ID,
        name="daily pipeline",
        max_instances=1,
        coalesce=True,
        misfire_grace_time=MISFIRE_GRACE_S,
        replace_existing=True,
    )
    scheduler.start()
    job = scheduler.get_job(JOB_ID)
    log.info(
        "daily pipeline scheduled (%s, %s); next run %s",
        config.cron,
        tz.key,
        job.next_run_time if job else None,
    )

    def stop() -> None:
        if scheduler.running:
            scheduler.shutdown(wait=False)

    stop.scheduler = scheduler  # type: ignore[attr-defined]
    return stop
