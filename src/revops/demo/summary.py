"""The demo's closing summary, read from the marts."""

from __future__ import annotations

import statistics
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from revops.warehouse.base import Warehouse

BUCKETS = ("not_yet_due", "1-30", "31-60", "61-90", "91-120", "120+")


def won_to_paid(wh: Warehouse) -> dict[str, Any]:
    """Counts by status and the median Won→Paid days of paid deals."""
    rows = wh.query(
        "SELECT status, count(*) AS n FROM revops.mart_won_to_paid GROUP BY status ORDER BY status"
    )
    days = [
        float(r["d"])
        for r in wh.query(
            "SELECT won_to_paid_days AS d FROM revops.mart_won_to_paid "
            "WHERE won_to_paid_days IS NOT NULL"
        )
    ]
    return {
        "by_status": {r["status"]: int(r["n"]) for r in rows},
        "median_days": statistics.median(days) if days else None,
        "paid_deals": len(days),
    }


def collections(wh: Warehouse) -> list[dict[str, Any]]:
    """Receivables by bucket and currency for the latest as-of date."""
    return wh.query(
        "SELECT bucket, currency, count(*) AS invoices, sum(amount_remaining) AS amount "
        "FROM revops.mart_collections "
        "WHERE as_of = (SELECT max(as_of) FROM revops.mart_collections) "
        "AND collection_status = 'receivable' GROUP BY bucket, currency "
        "ORDER BY currency, bucket"
    )


def last_nrr(wh: Warehouse) -> list[dict[str, Any]]:
    """The NRR rows of the last complete month, per currency."""
    return wh.query(
        "SELECT month, currency, start_mrr, end_mrr, nrr, grr FROM revops.mart_nrr_monthly "
        "WHERE month = (SELECT max(month) FROM revops.mart_nrr_monthly "
        "               WHERE month < date_trunc('month', current_date)) "
        "ORDER BY currency"
    )


def _money(value: Any, currency: str) -> str:
    amount = float(value or 0)
    if currency.lower() == "jpy":
        return f"¥{amount:,.0f}"
    return f"{currency.upper()} {amount:,.2f}"


def _pct(value: Any) -> str:
    return "n/a" if value is None else f"{float(value) * 100:.1f} %"


def render_summary(wh: Warehouse, ingest: dict[str, int]) -> str:
    """A readable summary of the demo's warehouse."""
    out: list[str] = []
    w2p = won_to_paid(wh)
    median = w2p["median_days"]
    out.append("Won → Paid")
    out.append(
        "  median days (paid deals): "
        + ("n/a" if median is None else f"{median:.1f}")
        + f"  over {w2p['paid_deals']}"
    )
    out.append(
        "  deals by status: " + ", ".join(f"{k} {v}" for k, v in sorted(w2p["by_status"].items()))
        if w2p["by_status"]
        else "  no won deals"
    )
    out.append("Collections (open receivables by days past due)")
    rows = collections(wh)
    if not rows:
        out.append("  nothing receivable")
    order = {b: i for i, b in enumerate(BUCKETS)}
    for r in sorted(rows, key=lambda r: (r["currency"], order.get(r["bucket"], 99))):
        out.append(
            f"  {r['currency'].upper():4} {r['bucket']:>12}: {int(r['invoices']):4} "
            f"invoices  {_money(r['amount'], r['currency'])}"
        )
    out.append("NRR (last complete month)")
    nrr = last_nrr(wh)
    if not nrr:
        out.append("  not enough history")
    for r in nrr:
        out.append(
            f"  {r['month']:%Y-%m} {r['currency'].upper():4} NRR {_pct(r['nrr'])}  "
            f"GRR {_pct(r['grr'])}  MRR {_money(r['start_mrr'], r['currency'])} → "
            f"{_money(r['end_mrr'], r['currency'])}"
        )
    out.append("Ingestion")
    dead = wh.query_value("SELECT count(*) FROM revops.dead_letters")
    out.append(
        f"  deliveries {ingest['read']}, new events {ingest['new']}, duplicates "
        f"{ingest['duplicates']}, dead letters {int(dead or 0)}"
    )
    return "\n".join(out) + "\n"
