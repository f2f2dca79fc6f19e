"""The JSON API behind every dashboard panel (``/api/...``); thin: parse, query, return."""

from datetime import UTC, date, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query

from revops.outputs.dashboard import models, queries
from revops.outputs.dashboard.context import Dashboard
from revops.outputs.dashboard.receiver import receiver_figures

DateFrom = Annotated[date | None, Query(description="first business day (inclusive)")]
DateTo = Annotated[date | None, Query(description="last business day (inclusive)")]
Currency = Annotated[str | None, Query(description="ISO currency code, e.g. JPY", max_length=8)]


def api_router(dash: Dashboard) -> APIRouter:
    """Routes ``/api/...``, each behind the dashboard's access check."""
    router = APIRouter(prefix="/api", tags=["dashboard"], dependencies=[Depends(dash.access.check)])

    def filters(
        date_from: DateFrom = None, date_to: DateTo = None, currency: Currency = None
    ) -> queries.Filters:
        return queries.Filters(date_from, date_to, currency or None, dash.tz)

    F = Annotated[queries.Filters, Depends(filters)]

    @router.get("/meta", response_model=models.Meta, summary="Settings the page needs")
    def meta() -> dict:
        return dash.meta(queries.currencies(dash.warehouse))

    @router.get(
        "/won-to-paid",
        response_model=models.WonToPaid,
        summary="Won→Paid: counts by status, latency distribution, open list",
    )
    def won_to_paid(f: F) -> dict:
        wh = dash.warehouse
        by_status = queries.won_to_paid_status(wh, f)
        open_count = sum(
            r["opportunities"] for r in by_status if r["status"] in queries.OPEN_STATUSES
        )
        return {
            "by_status": by_status,
            "latency": queries.won_to_paid_latency(wh, f),
            "open": queries.won_to_paid_open(wh, f, datetime.now(UTC)),
            "open_count": open_count,
        }

    @router.get(
        "/collections",
        response_model=models.Collections,
        summary="Collections: aging buckets per currency and the overdue list",
    )
    def collections(f: F) -> dict:
        as_of = queries.collections_as_of(dash.warehouse, f)
        if as_of is None:
            return {"as_of": None, "buckets": [], "overdue": [], "overdue_count": 0}
        overdue, overdue_count = queries.collections_overdue(dash.warehouse, f, as_of)
        return {
            "as_of": as_of.isoformat(),
            "buckets": queries.collections_buckets(dash.warehouse, f, as_of),
            "overdue": overdue,
            "overdue_count": overdue_count,
        }

    @router.get(
        "/nrr",
        response_model=models.Nrr,
        summary="NRR and GRR by month and currency with the MRR movements",
    )
    def nrr(f: F) -> dict:
        return {"months": queries.nrr_monthly(dash.warehouse, f)}

    @router.get(
        "/channels",
        response_model=models.Channels,
        summary="Channel KPIs of one date and window, with the daily summary",
    )
    def channels(
        day: Annotated[
            date | None, Query(alias="date", description="KPI date (default: latest)")
        ] = None,
        window_days: Annotated[int | None, Query(ge=1, le=3660)] = None,
    ) -> dict:
        wh = dash.warehouse
        choices = queries.channel_dates(wh)
        if day is None and choices:
            day = date.fromisoformat(choices[0]["date"])
        if day is not None and window_days is None:
            windows = [c["window_days"] for c in choices if c["date"] == day.isoformat()]
            window_days = windows[0] if windows else None
        if day is None:
            return {
                "date": None,
                "window_days": None,
                "choices": [],
                "channels": [],
                "summary": None,
            }
        return {
            "date": day.isoformat(),
            "window_days": window_days,
            "choices": choices,
            "channels": queries.channel_kpis(wh, day, window_days),
            "summary": queries.daily_summary(wh, day, window_days),
        }

    @router.get(
        "/quality",
        response_model=models.Quality,
        summary="Data quality: the latest run of every suite, and failures in range",
    )
    def quality(f: F) -> dict:
        return {
            "latest": queries.dq_latest(dash.warehouse),
            "failures": queries.dq_failures(dash.warehouse, f),
        }

    @router.get(
        "/pipeline",
        response_model=models.Pipeline,
        summary="Pipeline runs in range and the tasks of one run (default: latest)",
    )
    def pipeline(f: F, run_id: Annotated[str | None, Query(max_length=200)] = None) -> dict:
        runs = queries.pipeline_runs(dash.warehouse, f)
        chosen = run_id or (runs[0]["run_id"] if runs else None)
        tasks = queries.task_runs(dash.warehouse, chosen) if chosen else []
        return {"runs": runs, "run_id": chosen, "tasks": tasks}

    @router.get(
        "/ingestion",
        response_model=models.Ingestion,
        summary="Ingestion: freshness per source and type, duplicates, dead letters",
    )
    def ingestion(f: F) -> dict:
        wh = dash.warehouse
        return {
            "freshness": queries.freshness(wh, f),
            "receiver": receiver_figures(),
            "duplicates": queries.duplicates(wh, f),
            "dead_letter_counts": queries.dead_letter_counts(wh, f),
            "dead_letters": queries.dead_letter_list(wh, f),
        }

    return router
