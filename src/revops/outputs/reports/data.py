"""What one report shows, read from the marts in one place.

:func:`load_report_data` is the only reader; text, CSV, HTML and Slack builders work on the
:class:`ReportData` it returns, so every output of a run shows the same figures.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from revops.errors import RevopsError
from revops.outputs.reports import queries

if TYPE_CHECKING:
    from zoneinfo import ZoneInfo

    from revops.warehouse.base import Warehouse

AGING_BUCKETS = ("not_yet_due", "1-30", "31-60", "61-90", "91-120", "120+")


@dataclass(frozen=True)
class DqStatus:
    """Data-quality status of one run: per suite expectations and failures."""

    run_id: str | None
    suites: list[dict[str, Any]] = field(default_factory=list)
    failures: list[dict[str, Any]] = field(default_factory=list)

    @property
    def checked(self) -> bool:
        """True when any expectation was recorded for the run."""
        return bool(self.suites)

    @property
    def passed(self) -> bool:
        """True when every recorded expectation succeeded (vacuously true when none ran)."""
        return all(int(s["failed"]) == 0 for s in self.suites)

    @property
    def blocked(self) -> bool:
        """True when a ``block``-severity expectation failed."""
        return any(int(s.get("failed_block") or 0) > 0 for s in self.suites)


@dataclass(frozen=True)
class ReportData:
    """Every figure of the report of run date ``day`` (period ending ``day - 1``)."""

    day: date
    summary: dict[str, Any]
    channels: list[dict[str, Any]]
    trend: list[dict[str, Any]]
    latency_days: list[float]
    won_not_paid: list[dict[str, Any]]
    collections_as_of: date | None
    collections: list[dict[str, Any]]
    nrr: list[dict[str, Any]]
    dq: DqStatus

    @property
    def period_start(self) -> date:
        """First day of the KPI period."""
        return self.summary["period_start"]

    @property
    def period_end(self) -> date:
        """Last day of the KPI period (the marts' ``date``)."""
        return self.summary["period_end"]


def period_end_for(day: date) -> date:
    """The marts' date for the report of run date ``day``: ads settle a day late (KPI.md)."""
    return day - timedelta(days=1)


def _day_start_utc(day: date, tz: ZoneInfo) -> datetime:
    return datetime.combine(day, time.min, tzinfo=tz).astimezone(UTC)


def load_dq_status(
    wh: Warehouse, *, run_id: str | None = None, before: datetime | None = None
) -> DqStatus:
    """Quality status of ``run_id``, else of the latest run checked before ``before``."""
    if run_id is None or not wh.query_value(
        "SELECT count(*) FROM revops.dq_results WHERE run_id = ?", (run_id,)
    ):
        cutoff = before or datetime.now(UTC)
        run_id = wh.query_value(queries.DQ_LATEST_RUN, (cutoff,))
    if run_id is None:
        return DqStatus(None)
    return DqStatus(
        run_id, wh.query(queries.DQ_BY_SUITE, (run_id,)), wh.query(queries.DQ_FAILURES, (run_id,))
    )


def _collections(wh: Warehouse, day: date) -> tuple[date | None, list[dict[str, Any]]]:
    as_of = wh.query_value(queries.COLLECTIONS_AS_OF, (day,))
    if as_of is None:
        return None, []
    rows = wh.query(queries.COLLECTIONS_BY_BUCKET, (as_of,))
    order = {b: i for i, b in enumerate(AGING_BUCKETS)}
    rows.sort(key=lambda r: (str(r["currency"]), order.get(r["bucket"], 99), str(r["bucket"])))
    return as_of, rows


def _first_of_month(day: date, months_back: int) -> date:
    index = day.year * 12 + day.month - 1 - months_back
    return date(index // 12, index % 12 + 1, 1)


def load_report_data(
    wh: Warehouse,
    day: date,
    *,
    tz: ZoneInfo,
    run_id: str | None = None,
    trend_days: int = 14,
    nrr_months: int = 12,
) -> ReportData:
    """Read every figure of the report of run date ``day``.

    Raises :class:`RevopsError` when the marketing marts hold no summary for the period,
    since a report of nothing would look like a report of zeros.
    """
    end = period_end_for(day)
    summaries = wh.query(queries.DAILY_SUMMARY, (end,))
    if not summaries:
        raise RevopsError(
            f"no marketing KPIs for the period ending {end.isoformat()}",
            input=f"report date {day.isoformat()}",
            where="revops.mart_daily_summary",
            hint=f"compute them first: revops kpi --date {day.isoformat()}",
        )
    cutoff = _day_start_utc(day, tz)
    latency = [
        float(r["won_to_paid_days"]) for r in wh.query(queries.WON_TO_PAID_LATENCY, (cutoff,))
    ]
    open_won = wh.query(queries.WON_NOT_PAID, (cutoff,))
    for row in open_won:
        row["days_open"] = (cutoff - row["won_at"]).total_seconds() / 86400
    as_of, collections = _collections(wh, day)
    nrr = wh.query(queries.NRR_TREND, (_first_of_month(end, nrr_months - 1), end))
    return ReportData(
        day=day,
        summary=summaries[0],
        channels=wh.query(queries.CHANNEL_KPI, (end,)),
        trend=wh.query(queries.SPEND_TREND, (end - timedelta(days=trend_days - 1), end)),
        latency_days=latency,
        won_not_paid=open_won,
        collections_as_of=as_of,
        collections=collections,
        nrr=nrr,
        dq=load_dq_status(wh, run_id=run_id, before=cutoff + timedelta(days=1)),
    )


def as_number(value: Any) -> float | None:
    """A mart value as float for charts (None stays None)."""
    if value is None:
        return None
    return float(value) if isinstance(value, Decimal | int | float) else float(str(value))
