"""Backfill: re-derive staging, facts and marts for a date range from raw, and optionally
rerun the daily pipeline for those dates, under the pipeline lock."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any

from revops.audit import audit, default_actor
from revops.errors import UsageError
from revops.pipeline import history
from revops.pipeline.daily import DailyResult, Progress, run_dates_locked
from revops.pipeline.lock import pipeline_lock
from revops.pipeline.runner import summarize

if TYPE_CHECKING:
    from revops.config import Settings
    from revops.warehouse.base import Warehouse

PIPELINE = "backfill"
TransformBackfill = Callable[..., Any]


@dataclass
class BackfillResult:
    """The transform's report and, with ``--pipelines``, the daily runs made."""

    run_id: str
    start: date
    end: date
    transform: Any
    pipelines: DailyResult | None = None

    @property
    def exit_code(self) -> int:
        """0, or the exit code of the first failing daily run."""
        return self.pipelines.exit_code if self.pipelines is not None else 0

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready summary."""
        return {
            "run_id": self.run_id,
            "from": self.start.isoformat(),
            "to": self.end.isoformat(),
            "transform": summarize(self.transform),
            "pipelines": self.pipelines.as_dict() if self.pipelines else None,
            "exit_code": self.exit_code,
        }


def backfill(
    settings: Settings,
    *,
    start: date,
    end: date,
    pipelines: bool = False,
    wh: Warehouse | None = None,
    actor: str | None = None,
    transform: TransformBackfill | None = None,
    tasks: Any = None,
    on_failure: Any = None,
    progress: Progress | None = None,
) -> BackfillResult:
    """Rebuild derived tables for events of the business days [start, end] from raw (the
    transform's ``backfill``), then with ``pipelines`` rerun the daily pipeline (forced) for
    the run dates start + 1 .. end + 1, whose marts are the days start .. end.

    Idempotent: raw is never changed and every rebuilt slice replaces itself. Holds the
    pipeline lock throughout; raises ``RunActiveError`` when a run is active. ``transform``,
    ``tasks`` and ``on_failure`` replace the real steps (tests).
    """
    if start > end:
        raise UsageError("--from is after --to", input=f"{start} .. {end}", hint="swap them")
    actor = actor or default_actor()
    run_id = f"{PIPELINE}-{start}..{end}-{uuid.uuid4().hex[:8]}"
    with pipeline_lock(settings, run_id, PIPELINE, start):
        own = wh is None
        if own:
            from revops.warehouse import open_warehouse

            wh = open_warehouse(settings)
        assert wh is not None
        try:
            history.abandon_stale_runs(wh)
            report = _rebuild(settings, wh, run_id, start, end, actor, transform)
            result = BackfillResult(run_id, start, end, report)
            if pipelines:
                # A run for date D makes the marts of D - 1: run D1 + 1 .. D2 + 1.
                dates = [start + timedelta(days=n + 1) for n in range((end - start).days + 1)]
                result.pipelines = run_dates_locked(
                    settings,
                    wh,
                    dates,
                    trigger=PIPELINE,
                    actor=actor,
                    tasks=tasks,
                    on_failure=on_failure,
                    progress=progress,
                )
            return result
        finally:
            if own:
                wh.close()


def _rebuild(
    settings: Settings,
    wh: Warehouse,
    run_id: str,
    start: date,
    end: date,
    actor: str,
    transform: TransformBackfill | None,
) -> Any:
    if transform is None:
        from revops.transform import backfill as transform_backfill

        transform = transform_backfill
    history.start_run(
        wh, run_id, PIPELINE, start, trigger="cli", actor=actor, detail={"from": start, "to": end}
    )
    try:
        # The transform re-derives events with event_ts in [start, end): whole business days.
        report = transform(
            wh,
            settings,
            start=_day_start(start, settings),
            end=_day_start(end + timedelta(days=1), settings),
        )
    except Exception as exc:
        error = f"{type(exc).__name__}: {exc}"
        history.finish_run(wh, run_id, "failed", error)
        audit(
            wh,
            "pipeline:backfill",
            "backfill",
            "failed",
            actor=actor,
            request_id=run_id,
            detail={"from": start, "to": end, "error": error},
        )
        raise
    history.finish_run(
        wh, run_id, "success", detail={"from": start, "to": end, "transform": summarize(report)}
    )
    audit(
        wh,
        "pipeline:backfill",
        "backfill",
        "ok",
        actor=actor,
        request_id=run_id,
        detail={"from": start, "to": end, "transform": summarize(report)},
    )
    return report


def _day_start(day: date, settings: Settings) -> datetime:
    """Midnight of ``day`` in the business time zone."""
    return datetime.combine(day, time.min, tzinfo=settings.timezone)
