"""Dashboard test harness: hand-written mart rows and a real uvicorn server in a thread."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from revops.config import Settings
from revops.warehouse.base import Warehouse

NOW = datetime.now(UTC).replace(microsecond=0)
AS_OF = date(2026, 11, 30)
KPI_DATE = date(2026, 11, 30)


def wait_for(predicate: Callable[[], Any], timeout: float = 10.0, step: float = 0.05) -> Any:
    """Poll until ``predicate()`` is truthy; return its value or fail at the deadline."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        time.sleep(step)


def load_fixture(wh: Warehouse) -> None:
    """A small, hand-checkable data set in every table the dashboard reads."""
    for part in (_revenue, _collections, _nrr, _channels, _quality, _pipeline, _ingestion):
        part(wh)


# The fixture rows are tables: keep them one row per line.
# fmt: off
def _revenue(wh: Warehouse) -> None:
    """Won opportunities and their Won→Paid rows."""
    d = Decimal
    opps = [  # id, account, name, amount, currency, won days ago
        ("006A", "001A", "Acme renewal", d(1200000), "JPY", 40),
        ("006B", "001B", "Beta expansion", d(300000), "JPY", 20),
        ("006C", "001C", "Cobalt new", d(500000), "JPY", 10),
        ("006D", "001D", "Delta US", d(5000), "USD", 5),
    ]
    wh.insert_rows(
        "revops.fact_opportunity",
        ("opportunity_id", "account_id", "opportunity_name", "amount", "currency",
         "stage_name", "is_deleted", "won_at", "updated_at"),
        [(o, a, n, amt, cur, "Closed Won", False, NOW - timedelta(days=ago), NOW)
         for o, a, n, amt, cur, ago in opps],
    )
    wtp = [  # id, account, amount, won ago, paid after days, invoiced, paid, status
        ("006A", "001A", d(1200000), 40, 12.5, d(1200000), d(1200000), "paid"),
        ("006B", "001B", d(300000), 20, None, d(300000), d(100000), "partially_paid"),
        ("006C", "001C", d(500000), 10, None, d(500000), d(0), "invoiced"),
        ("006D", "001D", d(5000), 5, None, None, None, "not_invoiced"),
    ]
    wh.insert_rows(
        "revops.mart_won_to_paid",
        ("opportunity_id", "account_id", "amount", "won_at", "first_paid_at",
         "won_to_paid_days", "invoiced_amount", "paid_amount", "status"),
        [(o, a, amt, NOW - timedelta(days=ago),
          None if days is None else NOW - timedelta(days=ago - days), days, inv, paid, st)
         for o, a, amt, ago, days, inv, paid, st in wtp],
    )


def _collections(wh: Warehouse) -> None:
    """A collections snapshot (and an older one)."""
    d = Decimal
    coll = [  # invoice, customer, currency, remaining, days past due, bucket, status
        ("in_1", "cus_1", "JPY", d(100000), -3, "not_yet_due", "receivable"),
        ("in_2", "cus_2", "JPY", d(250000), 12, "1-30", "receivable"),
        ("in_3", "cus_3", "JPY", d(80000), 75, "61-90", "receivable"),
        ("in_4", "cus_4", "USD", d(1500), 40, "31-60", "receivable"),
        ("in_5", "cus_1", "JPY", d(0), None, "collected", "collected"),
        ("in_6", "cus_6", "JPY", d(40000), None, "uncollectible", "uncollectible"),
    ]
    wh.insert_rows(
        "revops.mart_collections",
        ("as_of", "invoice_id", "customer_id", "currency", "amount_remaining", "due_date",
         "days_past_due", "bucket", "collection_status"),
        [(AS_OF, i, c, cur, rem, None if dpd is None else AS_OF - timedelta(days=dpd), dpd, b, s)
         for i, c, cur, rem, dpd, b, s in coll]
        + [(AS_OF - timedelta(days=1), "in_old", "cus_9", "JPY", d(999), AS_OF, 0,
            "not_yet_due", "receivable")],
    )


def _nrr(wh: Warehouse) -> None:
    """Three NRR months."""
    d = Decimal
    wh.insert_rows(
        "revops.mart_nrr_monthly",
        ("month", "currency", "start_mrr", "new", "expansion", "contraction", "churn",
         "reactivation", "end_mrr", "nrr", "grr"),
        [
            (date(2026, 9, 1), "JPY", d(1000000), d(200000), d(0), d(0), d(0), d(0),
             d(1200000), None, None),
            (date(2026, 10, 1), "JPY", d(1200000), d(100000), d(60000), d(30000), d(0), d(0),
             d(1330000), 1.025, 0.975),
            (date(2026, 11, 1), "JPY", d(1330000), d(0), d(0), d(0), d(133000), d(50000),
             d(1247000), 0.9, 0.9),
        ],
    )


def _channels(wh: Warehouse) -> None:
    """Channel KPIs and the daily summary of KPI_DATE."""
    d = Decimal
    channels = [  # channel, impr, clicks, cost, conv, new cust, ltv, revenue
        ("Google Ads", 100000, 2000, d(400000), 80, 20, d(2400000), d(1600000)),
        ("Meta", 80000, 1000, d(300000), 30, 10, d(900000), d(450000)),
        ("Organic", 0, 0, d(0), 0, 5, d(300000), d(200000)),
    ]
    start = KPI_DATE - timedelta(days=29)
    rows = []
    for ch, imp, clk, cost, conv, new, ltv, rev in channels:
        cac = float(cost) / new if new else None
        avg_ltv = float(ltv) / new if new else None
        rows.append((KPI_DATE, start, KPI_DATE, ch, imp, clk, cost, conv, new, ltv, rev, cac,
                     avg_ltv, float(rev) / float(cost) * 100 if cost else None,
                     conv / clk * 100 if clk else None, clk / imp * 100 if imp else None,
                     avg_ltv / cac if cac else None))
    wh.insert_rows(
        "revops.mart_channel_kpi",
        ("date", "period_start", "period_end", "channel", "impressions", "clicks", "ad_cost",
         "conversions", "new_customers", "total_ltv", "period_revenue", "cac", "avg_ltv",
         "roas", "cvr", "ctr", "ltv_cac_ratio"),
        rows,
    )
    wh.insert_rows(
        "revops.mart_daily_summary",
        ("date", "period_start", "period_end", "total_ad_cost", "total_revenue",
         "total_customers", "overall_cac", "overall_roas", "avg_cvr", "best_channel",
         "best_channel_roas"),
        [(KPI_DATE, start, KPI_DATE, d(700000), d(2250000), 35, 20000.0,
          2250000 / 700000 * 100, 110 / 3000 * 100, "Google Ads", 400.0)],
    )


def _quality(wh: Warehouse) -> None:
    """Two runs of one suite and one of another."""
    checked = NOW - timedelta(hours=2)
    wh.insert_rows(
        "revops.dq_results",
        ("run_id", "suite", "expectation", "column", "severity", "success", "observed_value",
         "unexpected_count", "unexpected_percent", "unexpected_sample", "checked_at"),
        [
            ("dq-old", "ads", "expect_column_values_to_not_be_null", "cost", "error", False,
             None, 4, 2.0, '["r1"]', checked - timedelta(days=1)),
            ("dq-2", "ads", "expect_column_values_to_not_be_null", "cost", "error", True,
             None, 0, 0.0, None, checked),
            ("dq-2", "ads", "expect_column_values_to_be_between", "clicks", "warning", False,
             "-3", 1, 0.5, '["row 7"]', checked),
            ("dq-3", "crm", "expect_column_values_to_be_unique", "customer_id", "error", True,
             None, 0, 0.0, None, checked),
        ],
    )


def _pipeline(wh: Warehouse) -> None:
    """Two runs; the latest has a retried task."""
    run_start = NOW - timedelta(hours=3)
    wh.insert_rows(
        "revops.pipeline_runs",
        ("run_id", "pipeline", "run_date", "status", "started_at", "ended_at", "error"),
        [("daily-2026-11-30", "daily", KPI_DATE, "success", run_start,
          run_start + timedelta(minutes=4), None),
         ("daily-2026-11-29", "daily", KPI_DATE - timedelta(days=1), "failed",
          run_start - timedelta(days=1), run_start - timedelta(days=1, minutes=-2),
          "extract_ads: 429 Too Many Requests")],
    )
    wh.insert_rows(
        "revops.task_runs",
        ("run_id", "task_id", "attempt", "status", "started_at", "ended_at", "error"),
        [("daily-2026-11-30", "extract_ads", 1, "failed", run_start,
          run_start + timedelta(seconds=5), "timeout"),
         ("daily-2026-11-30", "extract_ads", 2, "success", run_start + timedelta(seconds=10),
          run_start + timedelta(seconds=40), None),
         ("daily-2026-11-30", "kpi", 1, "success", run_start + timedelta(seconds=60),
          run_start + timedelta(seconds=90), None)],
    )


def _ingestion(wh: Warehouse) -> None:
    """Raw events, landing audits and dead letters."""
    landed = NOW - timedelta(hours=1)
    wh.insert_rows(
        "revops.events_raw",
        ("event_id", "source", "type", "event_ts", "payload", "correlation_id", "inserted_at",
         "raw_seq"),
        [("stripe:evt_1", "stripe", "stripe.invoice.paid", landed - timedelta(seconds=2), "{}",
          None, landed, 1),
         ("stripe:evt_2", "stripe", "stripe.invoice.paid", landed - timedelta(seconds=4), "{}",
          None, landed, 2),
         ("salesforce:0061:1", "salesforce", "salesforce.opportunity.updated",
          landed - timedelta(seconds=60), "{}", None, landed, 3)],
    )
    wh.insert_rows(
        "revops.audit_events",
        ("at", "actor", "resource", "action", "status", "request_id", "event_id", "detail"),
        [(landed, "test", "events_raw", "land", "ok", None, None,
          '{"new": 3, "duplicates": 1}'),
         (landed, "test", "events_raw", "land", "ok", None, None,
          '{"new": 0, "duplicates": 4}')],
    )
    wh.insert_rows(
        "revops.dead_letters",
        ("id", "received_at", "source", "reason", "body", "detail", "replayed_at"),
        [(1, landed, "stripe", "bad_signature", b"{}", "signature mismatch", None),
         (2, landed, "salesforce", "invalid_json", b"{", "line 1", landed)],
    )
# fmt: on


def settings_for(
    url: str, env: dict[str, str] | None = None, data: dict[str, Any] | None = None
) -> Settings:
    """Settings pointing at ``url`` with ``env`` as the only environment."""
    merged = {"warehouse": {"url": url}, **(data or {})}
    return Settings(data=merged, env=dict(env or {}))


@dataclass
class Runtime:
    """What ``revops serve`` hands to :func:`revops.outputs.dashboard.install`."""

    settings: Settings
    warehouse: Warehouse
    stop_event: threading.Event = field(default_factory=threading.Event)


@dataclass
class Served:
    url: str
    app: Any
    runtime: Runtime


@contextmanager
def serve_app(app: Any, before_exit: Callable[[], None] | None = None) -> Iterator[str]:
    """Serve ``app`` with uvicorn on a free port of 127.0.0.1 in a thread; yields its URL."""
    import uvicorn

    config = uvicorn.Config(
        app, host="127.0.0.1", port=0, log_level="warning", timeout_graceful_shutdown=3
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    wait_for(lambda: server.started or not thread.is_alive())
    assert server.started, "uvicorn did not start"
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        if before_exit:
            before_exit()
        server.should_exit = True
        thread.join(timeout=15)


@contextmanager
def serve_dashboard(wh: Warehouse, settings: Settings) -> Iterator[Served]:
    """The dashboard installed in a fresh FastAPI app, served by uvicorn on a free port."""
    from fastapi import FastAPI

    from revops.outputs.dashboard import install

    app = FastAPI(title="revops")
    runtime = Runtime(settings=settings, warehouse=wh)
    install(app, runtime)
    # Setting stop_event first ends open streams, so shutdown does not wait on them.
    with serve_app(app, before_exit=runtime.stop_event.set) as url:
        yield Served(url, app, runtime)
