"""The dashboard's SQL: one builder per panel, DuckDB dialect, every value a bound parameter.

Each function takes a warehouse and a :class:`Filters` and returns plain JSON-ready rows
(Decimal → float, dates → ISO text). Optional filters add ``AND …`` clauses with ``?``
placeholders; nothing from a request is ever formatted into SQL. The adapter compiles the SQL
for PostgreSQL.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import orjson

from revops.warehouse.base import Warehouse

LIST_LIMIT = 200
TOKYO = ZoneInfo("Asia/Tokyo")
OPEN_STATUSES = ("not_invoiced", "invoiced", "partially_paid")
WON_STATUSES = ("paid", "partially_paid", "invoiced", "not_invoiced")
BUCKETS = ("not_yet_due", "1-30", "31-60", "61-90", "91-120", "120+")
# Latency bands in days; 15 days is the seed's target from Closed Won to Invoice Paid.
LATENCY_BANDS: tuple[tuple[str, float, float], ...] = (
    ("prepaid", -math.inf, 0.0),
    ("0-7", 0.0, 7.0),
    ("7-15", 7.0, 15.0),
    ("15-30", 15.0, 30.0),
    ("30-60", 30.0, 60.0),
    ("60+", 60.0, math.inf),
)


@dataclass(frozen=True)
class Filters:
    """What the page's filter bar chose: a date range (business days, inclusive), a currency."""

    date_from: date | None = None
    date_to: date | None = None
    currency: str | None = None
    tz: ZoneInfo = TOKYO

    def ts_bounds(self) -> tuple[datetime | None, datetime | None]:
        """The range as UTC instants [start, end) covering whole business days."""
        start = end = None
        if self.date_from:
            start = datetime.combine(self.date_from, time(), self.tz).astimezone(UTC)
        if self.date_to:
            end = datetime.combine(self.date_to + timedelta(days=1), time(), self.tz)
            end = end.astimezone(UTC)
        return start, end

    def currency_code(self) -> str | None:
        """The currency filter in upper case (marts store ISO codes), or None."""
        return self.currency.upper() if self.currency else None


class Where:
    """``WHERE`` clauses and their parameters, built up from optional filters."""

    def __init__(self) -> None:
        self.clauses: list[str] = []
        self.params: list[Any] = []

    def add(self, clause: str, *params: Any) -> Where:
        self.clauses.append(clause)
        self.params.extend(params)
        return self

    def ts_range(self, column: str, filters: Filters) -> Where:
        start, end = filters.ts_bounds()
        if start:
            self.add(f"{column} >= ?", start)
        if end:
            self.add(f"{column} < ?", end)
        return self

    def date_range(self, column: str, filters: Filters) -> Where:
        if filters.date_from:
            self.add(f"{column} >= ?", filters.date_from)
        if filters.date_to:
            self.add(f"{column} <= ?", filters.date_to)
        return self

    def currency(self, column: str, filters: Filters) -> Where:
        code = filters.currency_code()
        if code:
            self.add(f"upper({column}) = ?", code)
        return self

    def sql(self) -> str:
        return (" WHERE " + " AND ".join(self.clauses)) if self.clauses else ""


def jsonable(value: Any) -> Any:
    """A warehouse value as JSON: Decimal → float, date/datetime → ISO text."""
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _rows(wh: Warehouse, sql: str, params: list[Any] | tuple[Any, ...] = ()) -> list[dict]:
    return [{k: jsonable(v) for k, v in row.items()} for row in wh.query(sql, list(params))]


# -- Won → Paid ----------------------------------------------------------------------------

_WTP_FROM = (
    " FROM revops.mart_won_to_paid w"
    " LEFT JOIN revops.fact_opportunity o ON o.opportunity_id = w.opportunity_id"
)


def _wtp_where(filters: Filters) -> Where:
    return Where().ts_range("w.won_at", filters).currency("o.currency", filters)


def won_to_paid_status(wh: Warehouse, filters: Filters) -> list[dict]:
    """Opportunities won in the range, by status and currency: count and amounts."""
    where = _wtp_where(filters)
    sql = (
        "SELECT w.status, o.currency, count(*) AS opportunities, sum(w.amount) AS amount,"
        " sum(w.invoiced_amount) AS invoiced_amount, sum(w.paid_amount) AS paid_amount"
        + _WTP_FROM
        + where.sql()
        + " GROUP BY w.status, o.currency ORDER BY w.status, o.currency"
    )
    return _rows(wh, sql, where.params)


def won_to_paid_latency(wh: Warehouse, filters: Filters) -> dict[str, Any]:
    """Distribution of ``won_to_paid_days`` over paid opportunities won in the range
    (computed in the warehouse: one row whatever the number of opportunities)."""
    where = _wtp_where(filters).add("w.won_to_paid_days IS NOT NULL")
    counts, params = [], []
    for n, (_, lo, hi) in enumerate(LATENCY_BANDS):
        tests = []
        if not math.isinf(lo):
            tests.append("d >= ?")
            params.append(lo)
        if not math.isinf(hi):
            tests.append("d < ?")
            params.append(hi)
        counts.append(f"sum(CASE WHEN {' AND '.join(tests)} THEN 1 ELSE 0 END) AS band_{n}")
    sql = (
        "SELECT count(*) AS paid, avg(d) AS avg_days, quantile_cont(d, 0.5) AS median_days,"
        " quantile_cont(d, 0.9) AS p90_days,"
        " sum(CASE WHEN d < 15 THEN 1 ELSE 0 END) AS within_15_days, "
        + ", ".join(counts)
        + " FROM (SELECT w.won_to_paid_days AS d"
        + _WTP_FROM
        + where.sql()
        + ") t"
    )
    row = _rows(wh, sql, params + where.params)[0]
    bands = [
        {
            "band": name,
            "low": None if math.isinf(lo) else lo,
            "high": None if math.isinf(hi) else hi,
            "opportunities": int(row[f"band_{n}"] or 0),
        }
        for n, (name, lo, hi) in enumerate(LATENCY_BANDS)
    ]
    return {
        "paid": int(row["paid"] or 0),
        "avg_days": row["avg_days"],
        "median_days": row["median_days"],
        "p90_days": row["p90_days"],
        "within_15_days": int(row["within_15_days"] or 0),
        "bands": bands,
    }


def won_to_paid_open(wh: Warehouse, filters: Filters, now: datetime) -> list[dict]:
    """Won but not fully paid opportunities, oldest first, with age in days (at most
    :data:`LIST_LIMIT`; :func:`won_to_paid_status` counts them all)."""
    marks = ", ".join("?" for _ in OPEN_STATUSES)
    where = _wtp_where(filters).add(f"w.status IN ({marks})", *OPEN_STATUSES)
    sql = (
        "SELECT w.opportunity_id, o.opportunity_name, w.account_id, o.currency, w.status,"
        " w.amount, w.invoiced_amount, w.paid_amount, w.won_at"
        + _WTP_FROM
        + where.sql()
        + f" ORDER BY w.won_at, w.opportunity_id LIMIT {LIST_LIMIT}"
    )
    out = []
    for row in wh.query(sql, where.params):
        item = {k: jsonable(v) for k, v in row.items()}
        won_at = row["won_at"]
        item["age_days"] = (now - won_at).total_seconds() / 86400 if won_at else None
        out.append(item)
    return out


# -- Collections ---------------------------------------------------------------------------


def collections_as_of(wh: Warehouse, filters: Filters) -> date | None:
    """The latest ``as_of`` of ``mart_collections`` on or before the range's end."""
    where = Where()
    if filters.date_to:
        where.add("as_of <= ?", filters.date_to)
    value = wh.query_value(
        "SELECT max(as_of) AS as_of FROM revops.mart_collections" + where.sql(), where.params
    )
    if isinstance(value, datetime):
        return value.date()
    return value


def collections_buckets(wh: Warehouse, filters: Filters, as_of: date) -> list[dict]:
    """Invoices and amount remaining per currency and aging bucket (or non-receivable status)."""
    where = Where().add("as_of = ?", as_of).currency("currency", filters)
    sql = (
        "SELECT currency, coalesce(bucket, collection_status) AS bucket,"
        " count(*) AS invoices, sum(amount_remaining) AS amount_remaining"
        " FROM revops.mart_collections"
        + where.sql()
        + " GROUP BY currency, coalesce(bucket, collection_status)"
        " ORDER BY currency, bucket"
    )
    rows = _rows(wh, sql, where.params)
    order = {b: i for i, b in enumerate(BUCKETS)}
    return sorted(
        rows, key=lambda r: (r["currency"] or "", order.get(r["bucket"], 99), r["bucket"] or "")
    )


def collections_overdue(wh: Warehouse, filters: Filters, as_of: date) -> tuple[list[dict], int]:
    """Receivable invoices past due on ``as_of``, most overdue first (at most
    :data:`LIST_LIMIT`), and how many there are in all."""
    where = (
        Where()
        .add("as_of = ?", as_of)
        .add("days_past_due > 0")
        .add("amount_remaining > 0")
        .currency("currency", filters)
    )
    where.add(
        "coalesce(collection_status, '') NOT IN ('collected', 'paid', 'void', 'uncollectible')"
    )
    sql = (
        "SELECT invoice_id, customer_id, currency, amount_remaining, due_date, days_past_due,"
        " bucket, collection_status, count(*) OVER () AS total FROM revops.mart_collections"
        + where.sql()
        + f" ORDER BY days_past_due DESC, invoice_id LIMIT {LIST_LIMIT}"
    )
    rows = _rows(wh, sql, where.params)
    total = int(rows[0]["total"]) if rows else 0
    return [{k: v for k, v in r.items() if k != "total"} for r in rows], total


# -- NRR -----------------------------------------------------------------------------------


def nrr_monthly(wh: Warehouse, filters: Filters) -> list[dict]:
    """NRR, GRR and the MRR movements per month and currency, oldest month first."""
    where = Where().date_range("month", filters).currency("currency", filters)
    sql = (
        "SELECT month, currency, start_mrr, new, expansion, contraction, churn, reactivation,"
        " end_mrr, nrr, grr FROM revops.mart_nrr_monthly"
        + where.sql()
        + " ORDER BY currency, month"
    )
    return _rows(wh, sql, where.params)


# -- Channel KPIs --------------------------------------------------------------------------

_WINDOW = "(date_diff('day', period_start, period_end) + 1)"


def channel_dates(wh: Warehouse) -> list[dict]:
    """Every (date, window_days) that ``mart_channel_kpi`` holds, newest first."""
    sql = (
        f"SELECT DISTINCT date, {_WINDOW} AS window_days FROM revops.mart_channel_kpi"
        " ORDER BY date DESC, window_days LIMIT 400"
    )
    return _rows(wh, sql)


def channel_kpis(wh: Warehouse, day: date, window_days: int | None) -> list[dict]:
    """The channel rows of ``day`` (and of the window when given), by ROAS then revenue."""
    where = Where().add("date = ?", day)
    if window_days:
        where.add(f"{_WINDOW} = ?", window_days)
    sql = (
        "SELECT date, period_start, period_end, channel, impressions, clicks, ad_cost,"
        " conversions, new_customers, total_ltv, period_revenue, cac, avg_ltv, roas, cvr, ctr,"
        " ltv_cac_ratio FROM revops.mart_channel_kpi"
        + where.sql()
        + " ORDER BY roas DESC NULLS LAST, period_revenue DESC, channel"
    )
    return _rows(wh, sql, where.params)


def daily_summary(wh: Warehouse, day: date, window_days: int | None) -> dict | None:
    """The ``mart_daily_summary`` row of ``day`` (and window), or None."""
    where = Where().add("date = ?", day)
    if window_days:
        where.add(f"{_WINDOW} = ?", window_days)
    sql = (
        "SELECT date, period_start, period_end, total_ad_cost, total_revenue, total_customers,"
        " overall_cac, overall_roas, avg_cvr, best_channel, best_channel_roas"
        " FROM revops.mart_daily_summary" + where.sql() + " ORDER BY period_start LIMIT 1"
    )
    rows = _rows(wh, sql, where.params)
    return rows[0] if rows else None


# -- Data quality --------------------------------------------------------------------------

_DQ_COLUMNS = (
    'r.run_id, r.suite, r.expectation, r."column", r.severity, r.success, r.observed_value,'
    " r.unexpected_count, r.unexpected_percent, r.unexpected_sample, r.checked_at"
)


def dq_latest(wh: Warehouse) -> list[dict]:
    """The results of the latest run of every suite (failures first within a suite)."""
    sql = (
        "WITH runs AS (SELECT suite, run_id, max(checked_at) AS last_checked FROM revops.dq_results"
        " GROUP BY suite, run_id),"
        " ranked AS (SELECT suite, run_id, row_number() OVER"
        " (PARTITION BY suite ORDER BY last_checked DESC, run_id DESC) AS rn FROM runs)"
        f" SELECT {_DQ_COLUMNS} FROM revops.dq_results r"
        " JOIN ranked l ON l.suite = r.suite AND l.run_id = r.run_id AND l.rn = 1"
        ' ORDER BY r.suite, r.success, r.expectation, r."column"'
    )
    return _rows(wh, sql)


def dq_failures(wh: Warehouse, filters: Filters) -> list[dict]:
    """Failed expectations checked in the range, newest first."""
    where = Where().add("NOT r.success").ts_range("r.checked_at", filters)
    sql = (
        f"SELECT {_DQ_COLUMNS} FROM revops.dq_results r"
        + where.sql()
        + f" ORDER BY r.checked_at DESC, r.suite, r.expectation LIMIT {LIST_LIMIT}"
    )
    return _rows(wh, sql, where.params)


# -- Pipeline ------------------------------------------------------------------------------


def pipeline_runs(wh: Warehouse, filters: Filters) -> list[dict]:
    """Pipeline runs started in the range, newest first, with their task counts."""
    where = Where().ts_range("p.started_at", filters)
    sql = (
        "SELECT p.run_id, p.pipeline, p.run_date, p.status, p.started_at, p.ended_at, p.error,"
        " (SELECT count(*) FROM revops.task_runs t WHERE t.run_id = p.run_id) AS attempts,"
        " (SELECT count(*) FROM revops.task_runs t WHERE t.run_id = p.run_id"
        "  AND t.status IN ('failed', 'error', 'timed_out', 'blocked')) AS failed_attempts"
        " FROM revops.pipeline_runs p"
        + where.sql()
        + f" ORDER BY p.started_at DESC, p.run_id LIMIT {LIST_LIMIT}"
    )
    return _rows(wh, sql, where.params)


def task_runs(wh: Warehouse, run_id: str) -> list[dict]:
    """Every task attempt of one run, in start order."""
    sql = (
        "SELECT run_id, task_id, attempt, status, started_at, ended_at, error,"
        " epoch(ended_at) - epoch(started_at) AS duration_seconds"
        " FROM revops.task_runs WHERE run_id = ? ORDER BY started_at, task_id, attempt"
    )
    return _rows(wh, sql, [run_id])


# -- Ingestion -----------------------------------------------------------------------------


def freshness(wh: Warehouse, filters: Filters) -> list[dict]:
    """Delay from event time to landing (seconds) per source and type, for rows landed in range."""
    where = Where().ts_range("inserted_at", filters)
    lag = "(epoch(inserted_at) - epoch(event_ts))"
    sql = (
        f"SELECT source, type, count(*) AS events, avg({lag}) AS avg_lag_seconds,"
        f" quantile_cont({lag}, 0.95) AS p95_lag_seconds, max({lag}) AS max_lag_seconds,"
        " max(inserted_at) AS last_inserted_at FROM revops.events_raw"
        + where.sql()
        + " GROUP BY source, type ORDER BY source, type"
    )
    return _rows(wh, sql, where.params)


def duplicates(wh: Warehouse, filters: Filters) -> dict[str, Any]:
    """Deliveries and duplicates counted from the landing audit rows in range."""
    where = (
        Where().add("resource = ?", "events_raw").add("action = ?", "land").ts_range("at", filters)
    )
    rows = wh.query("SELECT detail FROM revops.audit_events" + where.sql(), where.params)
    new = dup = 0
    for row in rows:
        try:
            detail = orjson.loads(row["detail"] or "{}")
        except orjson.JSONDecodeError:
            continue
        if isinstance(detail, dict):
            new += int(detail.get("new") or 0)
            dup += int(detail.get("duplicates") or 0)
    deliveries = new + dup
    return {
        "deliveries": deliveries,
        "new": new,
        "duplicates": dup,
        "duplicate_rate": dup / deliveries if deliveries else None,
    }


def dead_letter_counts(wh: Warehouse, filters: Filters) -> list[dict]:
    """Dead letters received in range per source and reason, pending vs replayed."""
    where = Where().ts_range("received_at", filters)
    sql = (
        "SELECT source, reason, count(*) AS total,"
        " sum(CASE WHEN replayed_at IS NULL THEN 1 ELSE 0 END) AS pending,"
        " max(received_at) AS last_received_at FROM revops.dead_letters"
        + where.sql()
        + " GROUP BY source, reason ORDER BY source, reason"
    )
    return _rows(wh, sql, where.params)


def dead_letter_list(wh: Warehouse, filters: Filters) -> list[dict]:
    """The latest dead letters in range (without their bodies)."""
    where = Where().ts_range("received_at", filters)
    sql = (
        "SELECT id, received_at, source, reason, detail, replayed_at FROM revops.dead_letters"
        + where.sql()
        + f" ORDER BY received_at DESC, id DESC LIMIT {LIST_LIMIT}"
    )
    return _rows(wh, sql, where.params)


# -- Filter choices ------------------------------------------------------------------------


def currencies(wh: Warehouse) -> list[str]:
    """Currencies present in the revenue marts (for the filter bar), sorted."""
    sql = (
        "SELECT DISTINCT upper(currency) AS currency FROM ("
        " SELECT currency FROM revops.fact_opportunity"
        " UNION ALL SELECT currency FROM revops.mart_collections"
        " UNION ALL SELECT currency FROM revops.mart_nrr_monthly) t"
        " WHERE currency IS NOT NULL ORDER BY currency"
    )
    return [r["currency"] for r in wh.query(sql)]
