"""A small marketing data set whose KPIs are computed by hand below.

Run date 2026-02-11 → end 2026-02-10. Window 30 → P = [2026-01-12, 2026-02-10], which spans
the January and February sales files. Window 1 → P = [2026-02-10].
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

from revops.warehouse import Warehouse
from revops.warehouse.slices import COLUMNS as SALES_COLUMNS
from revops.warehouse.slices import sales_rows_table

RUN_DATE = date(2026, 2, 11)
END = date(2026, 2, 10)
LOADED = datetime(2026, 2, 11, 1, 0, tzinfo=UTC)

# date, campaign_id, campaign_name, channel, impressions, clicks, cost, conversions
ADS = [
    (date(2026, 2, 10), "G1", "Google brand", "Google", 10000, 200, 50000, 10),
    (date(2026, 1, 20), "G2", "Google generic", "Google", 5000, 100, 30000, 5),
    (date(2026, 1, 11), "G3", "Google old", "Google", 99999, 999, 99999, 99),  # before P
    (date(2026, 2, 11), "G4", "Google today", "Google", 7777, 77, 7777, 7),  # after end
    (date(2026, 2, 10), "F1", "Facebook retarget", "Facebook", 8000, 40, 20000, 70),
    (date(2026, 1, 15), "F2", "Facebook prospect", "Facebook", 2000, 10, 20000, 0),
    (date(2026, 2, 1), "I1", "Instagram stories", "Instagram", 3000, 30, 15000, 3),
    (date(2026, 2, 5), "Y1", "Yahoo search", "Yahoo", 1000, 20, 10000, 2),
]

# customer_id, acquisition_date, acquisition_channel
CUSTOMERS = [
    ("C1", date(2026, 2, 10), "Google"),
    ("C2", date(2026, 1, 25), "Google"),
    ("C3", date(2026, 1, 5), "Google"),  # acquired before P: not new, its sales still count
    ("C4", date(2026, 2, 3), "Facebook"),
    ("C5", date(2026, 2, 10), "Organic"),
    ("C6", date(2026, 1, 12), "Organic"),  # acquired on the first day of P
    ("C7", date(2026, 2, 11), "Referral"),  # acquired after end: Referral has no row
    ("C8", date(2026, 1, 20), "Yahoo"),
]

# order_id, customer_id, order_date, revenue (CRM orders: lifetime value)
CRM_ORDERS = [
    ("O1", "C1", date(2026, 2, 10), 10000),
    ("O2", "C1", date(2026, 2, 11), 99999),  # after end: not in LTV
    ("O3", "C2", date(2026, 1, 26), 20000),
    ("O4", "C2", date(2026, 1, 30), 5000),
    ("O5", "C3", date(2026, 1, 6), 70000),  # C3 is not a new customer
    ("O6", "C4", date(2026, 2, 4), 8000),
    ("O7", "C5", date(2026, 2, 10), 3000),
    ("O8", "C6", date(2026, 1, 13), 4000),
    ("O9", "C8", date(2026, 1, 21), 6000),
]

# order_id, customer_id, order_date, revenue, month (file)
SALES = [
    ("S1", "C2", date(2026, 1, 26), 40000, "2026-01"),
    ("S2", "C3", date(2026, 1, 12), 30000, "2026-01"),
    ("S3", "C6", date(2026, 1, 13), 5000, "2026-01"),
    ("S4", "C2", date(2026, 1, 11), 88888, "2026-01"),  # before P
    ("S5", "X9", date(2026, 1, 31), 7000, "2026-01"),  # customer unknown to the CRM
    ("S6", "C1", date(2026, 2, 10), 50000, "2026-02"),
    ("S7", "C4", date(2026, 2, 4), 60000, "2026-02"),
    ("S8", "C5", date(2026, 2, 10), 2000, "2026-02"),
    ("S9", "C8", date(2026, 2, 1), 10000, "2026-02"),
    ("S10", "X9", date(2026, 2, 10), 1000, "2026-02"),
    ("S11", "C7", date(2026, 2, 11), 9999, "2026-02"),  # after end
]

N = None  # a NULL ratio

# Hand-computed, window 30 (P = 2026-01-12 .. 2026-02-10).
# channel: impressions, clicks, ad_cost, conversions, new_customers, total_ltv, period_revenue,
#          cac, avg_ltv, roas, cvr, ctr, ltv_cac_ratio
EXPECTED_30 = {
    # G1+G2; C1, C2 new; LTV O1+O3+O4; revenue S1+S2+S6 (January and February files)
    "Google": (15000, 300, 80000, 15, 2, 35000, 120000, 40000.0, 17500.0, 150.0, 5.0, 2.0, 0.4375),
    # conversions 70 above clicks 50: cvr 140, never capped; roas ties Google's 150
    "Facebook": (10000, 50, 40000, 70, 1, 8000, 60000, 40000.0, 8000.0, 150.0, 140.0, 0.5, 0.2),
    # ad cost, no customers: cac, avg_ltv and ltv_cac_ratio NULL; roas 0 (revenue 0)
    "Instagram": (3000, 30, 15000, 3, 0, 0, 0, N, N, 0.0, 10.0, 1.0, N),
    "Yahoo": (1000, 20, 10000, 2, 1, 6000, 10000, 10000.0, 6000.0, 100.0, 10.0, 2.0, 0.6),
    # customers, no ad cost: cac 0, roas / cvr / ctr / ltv_cac_ratio NULL
    "Organic": (0, 0, 0, 0, 2, 7000, 7000, 0.0, 3500.0, N, N, N, N),
    # S5 + S10 from customer X9, unknown to the CRM
    "Unknown": (0, 0, 0, 0, 0, 0, 8000, N, N, N, N, N, N),
}
# total_ad_cost, total_revenue, total_customers, overall_cac, overall_roas, avg_cvr,
# best_channel, best_channel_roas. Best: Google and Facebook tie at roas 150; Google has the
# larger period_revenue. avg_cvr = Σ conversions / Σ clicks = 90 / 400.
SUMMARY_30 = (145000, 205000, 6, 145000 / 6, 205000 / 145000 * 100, 22.5, "Google", 150.0)

# Hand-computed, window 1 (P = 2026-02-10).
EXPECTED_1 = {
    "Google": (10000, 200, 50000, 10, 1, 10000, 50000, 50000.0, 10000.0, 100.0, 5.0, 2.0, 0.2),
    "Facebook": (8000, 40, 20000, 70, 0, 0, 0, N, N, 0.0, 175.0, 0.5, N),
    "Organic": (0, 0, 0, 0, 1, 3000, 2000, 0.0, 3000.0, N, N, N, N),
    "Unknown": (0, 0, 0, 0, 0, 0, 1000, N, N, N, N, N, N),
}
SUMMARY_1 = (70000, 53000, 2, 35000.0, 53000 / 70000 * 100, 80 / 240 * 100, "Google", 100.0)

MEASURES = (
    "impressions",
    "clicks",
    "ad_cost",
    "conversions",
    "new_customers",
    "total_ltv",
    "period_revenue",
    "cac",
    "avg_ltv",
    "roas",
    "cvr",
    "ctr",
    "ltv_cac_ratio",
)
SUMMARY_MEASURES = (
    "total_ad_cost",
    "total_revenue",
    "total_customers",
    "overall_cac",
    "overall_roas",
    "avg_cvr",
    "best_channel",
    "best_channel_roas",
)


def load_ads(wh: Warehouse, rows: list[tuple]) -> None:
    """Insert raw_ads rows (date, campaign_id, name, channel, impr, clicks, cost, conv)."""
    wh.insert_rows(
        "revops.raw_ads",
        (
            "date",
            "campaign_id",
            "campaign_name",
            "channel",
            "impressions",
            "clicks",
            "cost",
            "conversions",
            "loaded_at",
        ),
        [(*r[:6], Decimal(r[6]), r[7], LOADED) for r in rows],
    )


def load_customers(wh: Warehouse, rows: list[tuple]) -> None:
    """Insert raw_crm_customers rows (customer_id, acquisition_date, channel)."""
    wh.insert_rows(
        "revops.raw_crm_customers",
        (
            "customer_id",
            "customer_name",
            "email",
            "acquisition_date",
            "acquisition_source",
            "acquisition_channel",
            "loaded_at",
        ),
        [
            (cid, f"Customer {cid}", f"{cid.lower()}@example.com", day, None, channel, LOADED)
            for cid, day, channel in rows
        ],
    )


def load_crm_orders(wh: Warehouse, rows: list[tuple]) -> None:
    """Insert raw_crm_orders rows (order_id, customer_id, order_date, revenue)."""
    wh.insert_rows(
        "revops.raw_crm_orders",
        ("order_id", "customer_id", "order_date", "revenue", "loaded_at"),
        [(oid, cid, day, Decimal(rev), LOADED) for oid, cid, day, rev in rows],
    )


def load_sales(wh: Warehouse, rows: list[tuple]) -> None:
    """Insert raw_sales_orders rows (order_id, customer_id, order_date, revenue, month)."""
    wh.insert_rows(
        sales_rows_table(wh),
        SALES_COLUMNS,
        [
            (oid, cid, day, Decimal(rev), "software", month, f"sales_{month}.csv", i + 2, LOADED)
            for i, (oid, cid, day, rev, month) in enumerate(rows)
        ],
    )


def load_all(wh: Warehouse) -> None:
    """The whole hand-computed data set."""
    load_ads(wh, ADS)
    load_customers(wh, CUSTOMERS)
    load_crm_orders(wh, CRM_ORDERS)
    load_sales(wh, SALES)
