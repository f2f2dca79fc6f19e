"""CRM extractor: customers and orders from the CRM database → ``raw_crm_customers`` /
``raw_crm_orders``.

A snapshot: both tables are replaced together in ONE transaction, so a failure leaves the
previous snapshot untouched. Rows are streamed in chunks of ``[crm] chunk_size`` from a
read-only transaction (:mod:`revops.sources.crm_db`), so memory stays flat whatever the size.
Rows without their key (customer_id, order_id) cannot be stored and are counted as rejected.
No customers at all is an error (as in the seed: an empty CRM is almost always a wrong URL).
"""

from __future__ import annotations

import contextlib
import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from pydantic import BaseModel, Field

from revops.audit import audit
from revops.errors import ConfigError, RevopsError, TerminalSourceError
from revops.sources.crm_db import ArrowSchema, open_crm
from revops.sources.extract import ExtractReport, insert_arrow
from revops.warehouse.base import redact_url
from revops.warehouse.sql import quote_ident

if TYPE_CHECKING:
    from revops.config import Settings
    from revops.warehouse.base import Warehouse

DECIMAL = pa.decimal128(38, 6)
CUSTOMERS: ArrowSchema = {
    "customer_id": pa.string(),
    "customer_name": pa.string(),
    "email": pa.string(),
    "acquisition_date": pa.date32(),
    "acquisition_source": pa.string(),
    "acquisition_channel": pa.string(),
}
ORDERS: ArrowSchema = {
    "order_id": pa.string(),
    "customer_id": pa.string(),
    "order_date": pa.date32(),
    "revenue": DECIMAL,
}


class CrmSettings(BaseModel):
    """``[crm]``: where the CRM database is and what to read from it."""

    url: str | None = None
    customers_table: str = "customers"
    orders_table: str = "orders"
    customers_query: str | None = None
    orders_query: str | None = None
    chunk_size: int = Field(default=100_000, ge=1)
    connect_timeout_s: float = Field(default=10.0, gt=0)


def default_query(table: str, schema: ArrowSchema, *, cast_dates: bool = True) -> str:
    """``SELECT`` of the documented columns of ``table`` (dates cast to DATE, so a timestamp
    column reads as its date)."""
    casts = {"acquisition_date": "DATE", "order_date": "DATE"} if cast_dates else {}
    cols = ", ".join(
        f"CAST({quote_ident(c)} AS {casts[c]}) AS {quote_ident(c)}"
        if c in casts
        else quote_ident(c)
        for c in schema
    )
    return f"SELECT {cols} FROM {quote_ident(table)}"


def extract_crm(wh: Warehouse, settings: Settings) -> ExtractReport:
    """Replace the CRM snapshot (customers and orders) in one transaction.

    Writes an audit row (``crm`` / ``extract``), also on failure.
    """
    cfg = settings.model("crm", CrmSettings)
    if not cfg.url:
        raise ConfigError(
            "the CRM extractor needs the database's URL",
            where="[crm] url / REVOPS_CRM__URL",
            hint="e.g. postgresql://reader@crm-host:5432/crm or sqlite:///crm.sqlite",
        )
    report = ExtractReport(source="crm", slice="snapshot", inputs=[redact_url(cfg.url)])
    started = time.perf_counter()
    try:
        password = settings.secret("crm", "password")
        with (
            open_crm(cfg.url, password=password, timeout_s=cfg.connect_timeout_s) as db,
            wh.transaction(lock="extract:crm"),
        ):
            wh.execute("DELETE FROM revops.raw_crm_customers")
            wh.execute("DELETE FROM revops.raw_crm_orders")
            now = datetime.now(UTC)
            cast = db.casts_dates
            queries = (
                (
                    cfg.customers_query
                    or default_query(cfg.customers_table, CUSTOMERS, cast_dates=cast),
                    CUSTOMERS,
                    "raw_crm_customers",
                    "customer_id",
                ),
                (
                    cfg.orders_query or default_query(cfg.orders_table, ORDERS, cast_dates=cast),
                    ORDERS,
                    "raw_crm_orders",
                    "order_id",
                ),
            )
            for query, schema, table, key in queries:
                n = 0
                for chunk in db.stream(query, schema, cfg.chunk_size):
                    n += _load_chunk(wh, table, key, chunk, now, report)
                report.tables[table] = n
                report.loaded += n
            if not report.tables["raw_crm_customers"]:
                raise TerminalSourceError(
                    "the CRM returned no customers",
                    input=redact_url(cfg.url),
                    hint="check [crm] url, customers_table / customers_query",
                )
            report.seconds = round(time.perf_counter() - started, 3)
            audit(wh, "crm", "extract", "ok", detail=report.as_dict())
    except RevopsError as exc:
        with contextlib.suppress(RevopsError):  # must not hide the original error
            audit(wh, "crm", "extract", "failed", detail={"error": exc.message, "input": exc.input})
        raise
    return report


def _load_chunk(
    wh: Warehouse, table: str, key: str, chunk: pa.Table, now: datetime, report: ExtractReport
) -> int:
    keys = pc.utf8_trim_whitespace(chunk[key])
    missing = pc.fill_null(pc.or_kleene(pc.is_null(keys), pc.equal(keys, "")), True)
    bad = pc.sum(missing).as_py() or 0
    if bad:
        report.reject(f"missing_{key}", bad)
        chunk = chunk.filter(pc.invert(missing))
    stamp = pa.array(np.full(chunk.num_rows, int(now.timestamp() * 1_000_000), np.int64))
    chunk = chunk.append_column("loaded_at", stamp.cast(pa.timestamp("us", tz="UTC")))
    return insert_arrow(wh, f"revops.{table}", chunk)
