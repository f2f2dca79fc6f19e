"""Small persistent state of the transform in ``revops.transform_state``."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from revops.warehouse.base import Warehouse

WATERMARK = "revenue.raw_seq"
NRR_MAX_MONTH = "revenue.nrr_max_month"
COLLECTIONS_AS_OF = "revenue.collections_as_of"
# Set once ``fact_invoice_line`` holds every invoice's lines (a warehouse made before the
# table existed fills it on its next run).
INVOICE_LINES = "revenue.invoice_lines"
# Set once ``nrr_monthly_total`` holds the sums of every movement (a warehouse made before the
# table existed fills it on its next run).
NRR_TOTALS = "revenue.nrr_totals"


def get_state(wh: Warehouse, name: str, default: int | None = 0) -> int | None:
    """The stored value of ``name``, or ``default``."""
    value = wh.query_value("SELECT watermark FROM revops.transform_state WHERE name = ?", (name,))
    return default if value is None else int(value)


def set_state(wh: Warehouse, name: str, value: int) -> None:
    """Store ``value`` under ``name`` (insert or update)."""
    wh.execute(
        "INSERT INTO revops.transform_state (name, watermark, updated_at) VALUES (?, ?, ?) "
        "ON CONFLICT (name) DO UPDATE SET watermark = excluded.watermark, "
        "updated_at = excluded.updated_at",
        (name, value, datetime.now(UTC)),
    )
