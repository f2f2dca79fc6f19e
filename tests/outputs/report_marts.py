"""Hand-made mart rows for the report tests, with the figures they must show.

Run date 2026-11-16: the period is 2026-10-17 .. 2026-11-15 (KPI.md: ends the day before).
The channel figures are the seed's example (total ad cost ¥2,450,000, revenue ¥8,230,000).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from revops.config import Settings
from revops.transform.marketing import CHANNEL_COLUMNS, SUMMARY_COLUMNS
from revops.warehouse.base import Warehouse

DAY = date(2026, 11, 16)
END = date(2026, 11, 15)
START = date(2026, 10, 17)
RUN_ID = "run-20261116"

# channel: impressions, clicks, ad_cost, conversions, new_customers, total_ltv, period_revenue
CHANNELS = {
    "Google": (120_000, 3_600, 1_200_000, 180, 240, 3_600_000, 5_103_600),
    "Facebook": (150_000, 3_000, 900_000, 90, 180, 1_800_000, 2_126_700),
    "Instagram": (70_000, 1_400, 350_000, 28, 80, 560_000, 299_700),
    "Organic": (0, 0, 0, 0, 100, 900_000, 700_000),
}
KPI_COLUMNS = CHANNEL_COLUMNS


def _div(a: float, b: float, scale: float = 1.0) -> float | None:
    return None if b == 0 else a / b * scale


def channel_rows(end: date = END, factor: float = 1.0) -> list[tuple]:
    rows = []
    for name, (imp, clk, cost, conv, new, ltv, rev) in CHANNELS.items():
        cost, rev = cost * factor, rev * factor
        cac, avg_ltv = _div(cost, new), _div(ltv, new)
        rows.append(
            (
                end,
                end - timedelta(days=29),
                end,
                name,
                imp,
                clk,
                Decimal(str(cost)),
                conv,
                new,
                Decimal(ltv),
                Decimal(str(rev)),
                cac,
                avg_ltv,
                _div(rev, cost, 100),
                _div(conv, clk, 100),
                _div(clk, imp, 100),
                None if not cac or avg_ltv is None else avg_ltv / cac,
            )
        )
    return rows


def summary_row(end: date = END, factor: float = 1.0) -> tuple:
    rows = channel_rows(end, factor)
    cost = sum(float(r[6]) for r in rows)
    rev = sum(float(r[10]) for r in rows)
    new = sum(r[8] for r in rows)
    conv, clk = sum(r[7] for r in rows), sum(r[5] for r in rows)
    best = max((r for r in rows if r[6] > 0), key=lambda r: (r[13], r[10]))
    return (
        end,
        end - timedelta(days=29),
        end,
        Decimal(str(cost)),
        Decimal(str(rev)),
        new,
        _div(cost, new),
        _div(rev, cost, 100),
        _div(conv, clk, 100),
        best[3],
        best[13],
    )


def insert_marketing(wh: Warehouse, trend_days: int = 14) -> None:
    wh.insert_rows("revops.mart_channel_kpi", KPI_COLUMNS, channel_rows())
    # Earlier days: the same mix at a slowly growing scale, for the spend-vs-revenue chart.
    summaries = [summary_row(END - timedelta(days=i), 1 - i * 0.02) for i in range(trend_days)]
    wh.insert_rows("revops.mart_daily_summary", SUMMARY_COLUMNS, summaries)


WON = datetime(2026, 10, 1, 9, 0, tzinfo=UTC)
PAID_DAYS = [3.5, 7.0, 10.25, 14.0, 21.0, 30.0]
OPEN_WON = [  # id, name, amount, won_at, invoiced, paid, status
    (
        "006OPEN1",
        "Acme renewal",
        Decimal(480_000),
        datetime(2026, 11, 1, 0, 0, tzinfo=UTC),
        Decimal(0),
        Decimal(0),
        "not_invoiced",
    ),
    (
        "006OPEN2",
        "Globex expansion",
        Decimal(1_200_000),
        datetime(2026, 11, 5, 3, 0, tzinfo=UTC),
        Decimal(1_200_000),
        Decimal(0),
        "invoiced",
    ),
    (
        "006OPEN3",
        "Initech",
        Decimal(300_000),
        datetime(2026, 11, 10, 15, 0, tzinfo=UTC),
        Decimal(300_000),
        Decimal(100_000),
        "partially_paid",
    ),
]


def insert_revenue(wh: Warehouse) -> None:
    w2p, opp = [], []
    for i, d in enumerate(PAID_DAYS):
        won = WON + timedelta(days=i)
        w2p.append(
            (
                f"006PAID{i}",
                f"001A{i}",
                Decimal(100_000),
                won,
                won + timedelta(days=d),
                d,
                Decimal(100_000),
                Decimal(100_000),
                "paid",
            )
        )
        opp.append(
            (
                f"006PAID{i}",
                f"001A{i}",
                f"Deal {i}",
                Decimal(100_000),
                "JPY",
                "Closed Won",
                won.date(),
                False,
                won,
                won,
            )
        )
    for oid, name, amount, won, inv, paid, status in OPEN_WON:
        w2p.append((oid, "001X", amount, won, None, None, inv, paid, status))
        opp.append((oid, "001X", name, amount, "JPY", "Closed Won", won.date(), False, won, won))
    # A deal won after the report's day is not in this report.
    w2p.append(
        (
            "006LATER",
            "001Y",
            Decimal(1),
            datetime(2026, 11, 20, tzinfo=UTC),
            None,
            None,
            Decimal(0),
            Decimal(0),
            "not_invoiced",
        )
    )
    wh.insert_rows(
        "revops.mart_won_to_paid",
        (
            "opportunity_id",
            "account_id",
            "amount",
            "won_at",
            "first_paid_at",
            "won_to_paid_days",
            "invoiced_amount",
            "paid_amount",
            "status",
        ),
        w2p,
    )
    wh.insert_rows(
        "revops.fact_opportunity",
        (
            "opportunity_id",
            "account_id",
            "opportunity_name",
            "amount",
            "currency",
            "stage_name",
            "close_date",
            "is_deleted",
            "won_at",
            "updated_at",
        ),
        opp,
    )
    coll = []
    buckets = {
        "not_yet_due": [200_000, 150_000],
        "1-30": [80_000],
        "31-60": [50_000, 25_000],
        "61-90": [],
        "91-120": [10_000],
        "120+": [5_000],
        "collected": [999_000],
    }
    n = 0
    for bucket, amounts in buckets.items():
        for amount in amounts:
            n += 1
            status = "collected" if bucket == "collected" else "open"
            remaining = Decimal(0) if status == "collected" else Decimal(amount)
            coll.append((DAY, f"in_{n}", "cus_1", "JPY", remaining, END, 0, bucket, status))
    coll.append((DAY, "in_usd", "cus_2", "USD", Decimal("1234.50"), END, 12, "1-30", "open"))
    coll.append(
        (
            DAY - timedelta(days=1),
            "in_old",
            "cus_1",
            "JPY",
            Decimal(1),
            END,
            0,
            "not_yet_due",
            "open",
        )
    )  # an older snapshot: not shown
    wh.insert_rows(
        "revops.mart_collections",
        (
            "as_of",
            "invoice_id",
            "customer_id",
            "currency",
            "amount_remaining",
            "due_date",
            "days_past_due",
            "bucket",
            "collection_status",
        ),
        coll,
    )
    nrr = []
    mrr = [1_000_000, 1_050_000, 1_080_000, 1_020_000, 1_100_000, 1_150_000, 1_180_000]
    for i in range(1, len(mrr)):
        month = date(2026, 4 + i, 1)
        start, end_mrr = mrr[i - 1], mrr[i]
        churn = 20_000
        nrr.append(
            (
                month,
                "JPY",
                Decimal(start),
                Decimal(10_000),
                Decimal(end_mrr - start + 10_000 if end_mrr > start else 0),
                Decimal(0),
                Decimal(churn),
                Decimal(0),
                Decimal(end_mrr),
                (end_mrr - 10_000) / start,
                (start - churn) / start,
            )
        )
    wh.insert_rows(
        "revops.mart_nrr_monthly",
        (
            "month",
            "currency",
            "start_mrr",
            "new",
            "expansion",
            "contraction",
            "churn",
            "reactivation",
            "end_mrr",
            "nrr",
            "grr",
        ),
        nrr,
    )


DQ_SUITES = {"ads": (9, []), "crm": (5, ["expect_column_values_to_be_in_set"]), "sales": (7, [])}


def insert_dq(wh: Warehouse, run_id: str = RUN_ID, severity: str = "warn") -> None:
    rows = []
    at = datetime(2026, 11, 15, 22, 5, tzinfo=UTC)  # 07:05 on the 16th in Tokyo
    for suite, (total, failing) in DQ_SUITES.items():
        for i in range(total):
            name = failing[i] if i < len(failing) else f"expect_{suite}_{i}"
            ok = i >= len(failing)
            rows.append(
                (
                    run_id,
                    suite,
                    name,
                    "acquisition_channel" if not ok else None,
                    severity,
                    ok,
                    None if ok else "['TikTok']",
                    0 if ok else 3,
                    0.0 if ok else 0.5,
                    None,
                    at,
                )
            )
    wh.insert_rows(
        "revops.dq_results",
        (
            "run_id",
            "suite",
            "expectation",
            "column",
            "severity",
            "success",
            "observed_value",
            "unexpected_count",
            "unexpected_percent",
            "unexpected_sample",
            "checked_at",
        ),
        rows,
    )


def insert_all(wh: Warehouse) -> None:
    insert_marketing(wh)
    insert_revenue(wh)
    insert_dq(wh)


def make_settings(tmp_path: Path, **sections: dict) -> Settings:
    """Settings with the local report folder under ``tmp_path`` and fast retries."""
    data: dict = {
        "reports": {
            "local_dir": str(tmp_path / "reports"),
            "retries": 2,
            "retry_base_seconds": 0.01,
        }
    }
    for name, values in sections.items():
        data.setdefault(name, {}).update(values)
    env = data.pop("env", {})
    return Settings(data=data, env=env)
