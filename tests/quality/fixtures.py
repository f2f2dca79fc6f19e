"""Fixture rows for the shipped suites: a clean set every expectation passes and a bad set
in which every expectation (except the column-exists ones) fails."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from revops.warehouse.base import Warehouse
from revops.warehouse.slices import sales_rows_table

NOW = datetime(2026, 12, 1, 0, 0, tzinfo=UTC)
DAY = date(2026, 11, 30)
ADS = (
    "date",
    "campaign_id",
    "channel",
    "impressions",
    "clicks",
    "cost",
    "conversions",
    "loaded_at",
)
CUSTOMERS = ("customer_id", "customer_name", "acquisition_channel", "loaded_at")
ORDERS = ("order_id", "customer_id", "revenue", "loaded_at")
SALES = ("order_id", "customer_id", "revenue", "month", "source_file", "line_no", "loaded_at")
BILLING = ("invoice_id", "status", "amount_due", "amount_paid", "amount_remaining")
OPPORTUNITY = ("opportunity_id", "stage_name", "amount")
KPI = (
    "date",
    "period_start",
    "period_end",
    "channel",
    "impressions",
    "clicks",
    "ad_cost",
    "conversions",
    "new_customers",
    "total_ltv",
    "period_revenue",
    "roas",
    "cac",
)

# Columns the revops schema declares NOT NULL but a loaded table elsewhere may leave null:
# the bad fixture drops the constraint to prove the expectation catches what it guards.
NULLABLE_FOR_BAD = (
    ("raw_ads", "campaign_id"),
    ("raw_crm_customers", "customer_id"),
    ("raw_sales_orders", "customer_id"),
)


def _insert(
    wh: Warehouse, table: str, columns: tuple[str, ...], rows: list[tuple[Any, ...]]
) -> None:
    name = sales_rows_table(wh) if table == "raw_sales_orders" else f"revops.{table}"
    wh.insert_rows(name, columns, rows)


def _sales(
    revenues: list[float], customers: list[str | None] | None = None, ids: list[str] | None = None
) -> list[tuple[Any, ...]]:
    n = len(revenues)
    customers = customers or [f"u{i % 3}" for i in range(n)]
    ids = ids or [f"s{i}" for i in range(n)]
    return [
        (ids[i], customers[i], revenues[i], "2026-11", "sales_2026-11.csv", i + 2, NOW)
        for i in range(n)
    ]


def _kpi(channel: str, *measures: Any) -> tuple[Any, ...]:
    return (DAY, date(2026, 11, 1), DAY, channel, *measures)


def load_clean(wh: Warehouse) -> None:
    """Rows every shipped expectation passes."""
    _insert(
        wh,
        "raw_ads",
        ADS,
        [
            (DAY, "c1", "Google", 1000, 50, 120.5, 3, NOW),
            (DAY, "c2", "Facebook", 10, 10, 0, 0, NOW),
        ],
    )
    _insert(
        wh,
        "raw_crm_customers",
        CUSTOMERS,
        [("u1", "Ann", "Google", NOW), ("u2", "Bob", "Referral", NOW), ("u3", "Cy", "Other", NOW)],
    )
    _insert(
        wh,
        "raw_crm_orders",
        ORDERS,
        [("o1", "u1", 100, NOW), ("o2", "u1", 250.5, NOW), ("o3", "u2", 0, NOW)],
    )
    _insert(wh, "raw_sales_orders", SALES, _sales([1000.0 * (i + 1) for i in range(20)]))
    _insert(
        wh,
        "fact_billing",
        BILLING,
        [
            ("in_1", "paid", 100, 100, 0),
            ("in_2", "open", 50, 0, 50),
            ("in_3", "draft", 0, 0, 0),
            ("in_4", "void", 30, 0, 30),
            ("in_5", "uncollectible", 80, 30.25, 49.75),
        ],
    )
    _insert(
        wh,
        "fact_opportunity",
        OPPORTUNITY,
        [("op1", "Closed Won", 1000), ("op2", "Prospecting", 0)],
    )
    _insert(
        wh,
        "mart_channel_kpi",
        KPI,
        [
            _kpi("Google", 1000, 50, 100, 3, 2, 700, 250, 250.0, 50.0),
            _kpi("Organic", 0, 0, 0, 0, 0, 0, 0, None, None),
        ],
    )


def load_bad(wh: Warehouse) -> None:
    """Rows in which every shipped expectation but the column-exists ones fails."""
    for table, column in NULLABLE_FOR_BAD:
        name = sales_rows_table(wh) if table == "raw_sales_orders" else f"revops.{table}"
        wh.execute(f"ALTER TABLE {name} ALTER COLUMN {column} DROP NOT NULL")
    # One good row, one row breaking impressions/clicks/cost >= 0, not-null and impressions
    # >= clicks (-5 < -1).
    _insert(
        wh,
        "raw_ads",
        ADS,
        [
            (DAY, "c1", "Google", 1000, 50, 120.5, 3, NOW),
            (DAY, None, "Google", -5, -1, -2.5, 0, NOW),
        ],
    )
    # u1 twice (not unique), a null id, u2's only order is negative, TikTok is not a channel.
    _insert(
        wh,
        "raw_crm_customers",
        CUSTOMERS,
        [
            ("u1", "Ann", "Google", NOW),
            ("u1", "Ann B", "Google", NOW),
            (None, "Nobody", "Organic", NOW),
            ("u2", "Bob", "TikTok", NOW),
        ],
    )
    _insert(wh, "raw_crm_orders", ORDERS, [("o1", "u2", -10, NOW)])
    # s0 twice, -1 and 20,000,000 outside [0, 10,000,000], a null customer; the 0.95
    # quantile is 5,000,000 or more on every engine (top 4 of 20 rows are >= 5,000,000).
    revenues = [-1.0, 20_000_000.0, 5_000_000.0, 5_000_000.0] + [1000.0] * 16
    customers: list[str | None] = ["u1"] * 20
    customers[5] = None
    ids = ["s0", *[f"s{i}" for i in range(19)]]
    _insert(wh, "raw_sales_orders", SALES, _sales(revenues, customers, ids))
    # in_1: status not Stripe's, paid < 0, remaining != due - paid; in_2: paid > due.
    _insert(
        wh, "fact_billing", BILLING, [("in_1", "unpaid", 10, -1, 5), ("in_2", "paid", 10, 20, -10)]
    )
    _insert(wh, "fact_opportunity", OPPORTUNITY, [("op1", None, -1), ("op2", "Won", 5)])
    _insert(
        wh,
        "mart_channel_kpi",
        KPI,
        [
            # every measure negative (ratios present, denominators non-zero: consistent)
            _kpi("Google", -1, -1, -1, -1, -1, -1, -1, 100.0, 1.0),
            # ad_cost 0 but roas 0 instead of NULL; new_customers 5 but cac NULL
            _kpi("Organic", 0, 0, 0, 0, 5, 0, 0, 0.0, None),
        ],
    )


# Unexpected counts the bad fixture must produce, hand-counted from the rows above:
# (suite, expectation, column) -> unexpected_count (None: GX reports an observed value).
BAD_UNEXPECTED = {
    ("ads", "expect_column_values_to_be_between", "impressions"): 1,
    ("ads", "expect_column_values_to_be_between", "clicks"): 1,
    ("ads", "expect_column_values_to_be_between", "cost"): 1,
    ("ads", "expect_column_values_to_not_be_null", "campaign_id"): 1,
    ("ads", "expect_column_pair_values_a_to_be_greater_than_b", "impressions,clicks"): 1,
    ("crm", "expect_column_values_to_be_unique", "customer_id"): 2,
    ("crm", "expect_column_values_to_not_be_null", "customer_id"): 1,
    ("crm", "expect_column_values_to_be_between", "lifetime_value"): 1,
    ("crm", "expect_column_values_to_be_in_set", "acquisition_channel"): 1,
    ("sales", "expect_column_values_to_be_unique", "order_id"): 2,
    ("sales", "expect_column_values_to_be_between", "revenue"): 2,
    ("sales", "expect_column_values_to_not_be_null", "customer_id"): 1,
    ("sales", "expect_column_quantile_values_to_be_between", "revenue"): None,
    ("fact_billing", "expect_column_values_to_be_in_set", "status"): 1,
    ("fact_billing", "expect_column_values_to_be_between", "amount_paid"): 1,
    (
        "fact_billing",
        "expect_column_pair_values_a_to_be_greater_than_b",
        "amount_due,amount_paid",
    ): 1,
    (
        "fact_billing",
        "expect_column_pair_values_to_be_equal",
        "amount_remaining,expected_amount_remaining",
    ): 1,
    ("fact_opportunity", "expect_column_values_to_not_be_null", "stage_name"): 1,
    ("fact_opportunity", "expect_column_values_to_be_between", "amount"): 1,
    **{
        ("mart_channel_kpi", "expect_column_values_to_be_between", c): 1
        for c in (
            "impressions",
            "clicks",
            "ad_cost",
            "conversions",
            "new_customers",
            "total_ltv",
            "period_revenue",
        )
    },
    (
        "mart_channel_kpi",
        "expect_column_pair_values_to_be_equal",
        "roas_is_null,ad_cost_is_zero",
    ): 1,
    (
        "mart_channel_kpi",
        "expect_column_pair_values_to_be_equal",
        "cac_is_null,new_customers_is_zero",
    ): 1,
}
