"""Helpers of the transform tests: the golden fixture events and warehouse snapshots."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson
import pytest

from revops.config import Settings
from revops.ingest.files import ingest_lines

FIXTURES = Path(__file__).parent.parent / "fixtures"
GOLDEN_DIRS = ("stripe", "salesforce", "seed")
SNAPSHOT_TABLES = {
    "fact_opportunity": "opportunity_id",
    "fact_billing": "invoice_id",
    "fact_invoice_line": "invoice_id, line_no",
    "fact_customer": "customer_id",
    "fact_price": "price_id",
    "id_mappings": "billing_customer_id",
    "cdc_refetch": "event_id",
    "won_invoice_link": "opportunity_id, invoice_id",
    "mart_won_to_paid": "opportunity_id",
    "mart_nrr_monthly": "month, currency",
    "nrr_monthly_total": "currency, month",
    "mart_collections": "invoice_id, as_of",
}


def golden_files() -> list[Path]:
    """Every golden payload file, in a fixed order."""
    return [p for d in GOLDEN_DIRS for p in sorted((FIXTURES / d).glob("*.json"))]


def golden_lines() -> list[bytes]:
    """The golden payloads as NDJSON lines (one event per line)."""
    return [orjson.dumps(orjson.loads(p.read_bytes())) for p in golden_files()]


def land(wh: Any, lines: list[bytes]) -> None:
    """Land NDJSON lines; every line must be accepted."""
    report = ingest_lines(wh, lines)
    assert report.dead_lettered == 0, report.reasons


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return format(value.normalize(), "f")
    if isinstance(value, float):
        return round(value, 9)
    if hasattr(value, "isoformat"):
        return value.isoformat() if not hasattr(value, "timestamp") else value.timestamp()
    return value


# Columns that legitimately differ between two moments: when a Stripe mapping row was
# written, and today's date of the automatically kept collections (a run may cross midnight).
VOLATILE = {
    ("id_mappings", "updated_at"),
    ("mart_collections", "as_of"),
    ("mart_collections", "days_past_due"),
}


def snapshot(wh: Any) -> dict[str, list[tuple[Any, ...]]]:
    """Facts and marts as comparable, ordered rows (engine differences removed)."""
    out = {}
    for table, order in SNAPSHOT_TABLES.items():
        rows = wh.query(f"SELECT * FROM revops.{table} ORDER BY {order}")
        out[table] = [
            tuple(_plain(v) for k, v in r.items() if (table, k) not in VOLATILE) for r in rows
        ]
    return out


def stg_row(wh: Any, table: str, event_id: str) -> dict[str, Any]:
    """One staging row by event id."""
    rows = wh.query(f"SELECT * FROM revops.{table} WHERE event_id = ?", (event_id,))
    assert len(rows) == 1, (table, event_id, rows)
    return rows[0]


@pytest.fixture
def tokyo() -> Settings:
    """Settings with the default business time zone (Asia/Tokyo) and no config file."""
    return Settings(data={"general": {"timezone": "Asia/Tokyo"}}, env={})
