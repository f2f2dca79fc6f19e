"""Raw rows → staging: one typed row per event, parsed in Python from the payload text.

Only the event types the revenue model reads are staged; every other row is counted and left
alone. A payload that cannot be read is counted as rejected (with its reason) and never stops
the batch: raw stays the source of truth and a later parser can backfill it.
"""

from __future__ import annotations

import operator
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import orjson

from revops.errors import EventError
from revops.transform import stage_salesforce, stage_stripe
from revops.transform.settings import RevenueSettings

if TYPE_CHECKING:
    from revops.warehouse.base import Warehouse

RAW_TYPES_SQL = (
    "(type LIKE 'stripe.invoice.%' OR type LIKE 'stripe.customer.%' "
    "OR type LIKE 'stripe.price.%' OR type LIKE 'stripe.plan.%' "
    "OR type LIKE 'salesforce.opportunity.%')"
)
STG_OPPORTUNITY = (
    "event_id",
    "raw_seq",
    "event_ts",
    "source_seq",
    "source_subseq",
    "type",
    "change_type",
    "changed_fields",
    "set_fields",
    "opportunity_id",
    "account_id",
    "opportunity_name",
    "amount",
    "currency",
    "stage_name",
    "close_date",
    "is_deleted",
)
STG_INVOICE = (
    "event_id",
    "raw_seq",
    "event_ts",
    "type",
    "invoice_id",
    *stage_stripe.INVOICE_FIELDS,
    "set_fields",
    "line_count",
)
STG_LINE = (
    "event_id",
    "line_no",
    "invoice_id",
    "line_id",
    "amount",
    "currency",
    "price_id",
    "is_recurring",
    "recurring_interval",
    "interval_count",
    "period_start",
    "period_end",
    "subscription_id",
    "proration",
)
STG_CUSTOMER = (
    "event_id",
    "raw_seq",
    "event_ts",
    "type",
    "customer_id",
    "email",
    "name",
    "account_id",
    "is_deleted",
)
STG_PRICE = (
    "event_id",
    "raw_seq",
    "event_ts",
    "type",
    "price_id",
    "currency",
    "unit_amount",
    "price_type",
    "recurring_interval",
    "interval_count",
    "product_id",
    "is_deleted",
)
# The payload column read as UTF-8 bytes where the engine hands them over without decoding
# them to text first (the parsers read bytes fastest); elsewhere as text.
PAYLOAD_BYTES = {"duckdb": "encode(payload) AS payload"}
# Staging rows an incremental run keeps in memory for the facts' fold; past this many the
# facts re-read each touched key's history from staging instead.
KEEP_ROWS = 200_000
CUSTOMER_TYPES = ("stripe.customer.created", "stripe.customer.updated", "stripe.customer.deleted")
STAGING_TABLES = ("stg_opportunity", "stg_invoice", "stg_invoice_line", "stg_customer", "stg_price")


@dataclass
class Affected:
    """Keys whose facts must be re-derived because staging changed."""

    opportunities: set[str] = field(default_factory=set)
    invoices: set[str] = field(default_factory=set)
    customers: set[str] = field(default_factory=set)
    prices: set[str] = field(default_factory=set)

    def __bool__(self) -> bool:
        return bool(self.opportunities or self.invoices or self.customers or self.prices)


@dataclass
class StagingBatch:
    """Rows for each staging table, built from one batch of raw rows."""

    opportunity: list[tuple[Any, ...]] = field(default_factory=list)
    invoice: list[tuple[Any, ...]] = field(default_factory=list)
    line: list[tuple[Any, ...]] = field(default_factory=list)
    customer: list[tuple[Any, ...]] = field(default_factory=list)
    price: list[tuple[Any, ...]] = field(default_factory=list)
    rejected: dict[str, int] = field(default_factory=dict)
    rejected_ids: list[str] = field(default_factory=list)

    @property
    def staged(self) -> int:
        """Staging rows (events) in the batch, lines not counted."""
        return len(self.opportunity) + len(self.invoice) + len(self.customer) + len(self.price)


def _json_list(value: list[str] | None) -> str | None:
    return None if value is None else orjson.dumps(value).decode()


class Stager:
    """Parses raw rows into staging rows and records which keys they touch."""

    def __init__(self, cfg: RevenueSettings, tz: ZoneInfo, *, keep: bool = False) -> None:
        self.cfg = cfg
        self.tz = tz
        self.affected = Affected()
        # With ``keep``, the staging rows of the run by kind and key, as the facts' fold reads
        # them (None when not kept, or when there were too many to hold).
        self.new_rows: dict[str, dict[str, list[dict[str, Any]]]] | None = (
            {"opportunity": {}, "invoice": {}, "customer": {}, "price": {}} if keep else None
        )
        # Kept with them: the stg_invoice_line rows of each invoice event of the run, by event.
        self.new_lines: dict[str, list[tuple[Any, ...]]] | None = {} if keep else None
        self._kept = 0

    def stage_rows(self, raw: list[dict[str, Any]]) -> StagingBatch:
        """Staging rows of ``raw`` (dicts with event_id, type, event_ts, payload, raw_seq)."""
        batch = StagingBatch()
        for row in raw:
            try:
                self._stage_one(row, batch)
            except (
                EventError,
                orjson.JSONDecodeError,
                KeyError,
                TypeError,
                ValueError,
                AttributeError,
            ) as exc:
                reason = exc.reason if isinstance(exc, EventError) else type(exc).__name__
                batch.rejected[reason] = batch.rejected.get(reason, 0) + 1
                if len(batch.rejected_ids) < 20:
                    batch.rejected_ids.append(row["event_id"])
        return batch

    def _stage_one(self, row: dict[str, Any], batch: StagingBatch) -> None:
        type_ = row["type"]
        head = (row["event_id"], row["raw_seq"], _aware(row["event_ts"]))
        if type_.startswith("stripe.invoice.") and self._fast_invoice(head, type_, row, batch):
            return
        payload = orjson.loads(row["payload"])
        if not isinstance(payload, dict):
            raise EventError("payload is not a JSON object", reason="not_an_object")
        if type_.startswith("salesforce.opportunity."):
            self._opportunity(head, type_, payload, batch)
        elif type_.startswith("stripe.invoice."):
            self._invoice(head, type_, payload, batch)
        elif type_ in CUSTOMER_TYPES:
            obj = _object(payload)
            r = stage_stripe.customer_row(obj, type_, self.cfg)
            _require(r["customer_id"], "customer id")
            self._add(
                batch.customer,
                "customer",
                STG_CUSTOMER,
                r["customer_id"],
                (*head, type_, *(r[c] for c in STG_CUSTOMER[4:])),
            )
            self.affected.customers.add(r["customer_id"])
        elif type_.startswith(("stripe.price.", "stripe.plan.")):
            obj = _object(payload)
            r = stage_stripe.price_row(obj, type_)
            _require(r["price_id"], "price id")
            self._add(
                batch.price,
                "price",
                STG_PRICE,
                r["price_id"],
                (*head, type_, *(r[c] for c in STG_PRICE[4:])),
            )
            self.affected.prices.add(r["price_id"])

    def _add(
        self,
        rows: list[tuple[Any, ...]],
        kind: str,
        columns: tuple[str, ...],
        key: str,
        row: tuple[Any, ...],
    ) -> None:
        """Append a staging row to the batch and keep it, by key, for the facts' fold."""
        rows.append(row)
        if self.new_rows is not None:
            self._kept += 1
            if self._kept > KEEP_ROWS:
                self.new_rows = self.new_lines = None  # too many: facts re-read staging
            else:
                self.new_rows[kind].setdefault(key, []).append(dict(zip(columns, row, strict=True)))

    def _fast_invoice(
        self, head: tuple[Any, ...], type_: str, row: dict[str, Any], batch: StagingBatch
    ) -> bool:
        """Stage a plain Stripe invoice event from only the fields staging reads; False when
        the payload is not one (then it is parsed in full, giving the same rows)."""
        decoded = stage_stripe.decode_invoice_event(row["payload"])
        if decoded is None:
            return False
        event, inv = decoded
        try:
            built = self._invoice_rows(head, type_, inv, event)
        except Exception:  # the full parse decides what is wrong with it
            return False
        self._append_invoice(head, type_, *built, batch)
        return True

    def _invoice_rows(
        self, head: tuple[Any, ...], type_: str, inv: Any, event: Any
    ) -> tuple[dict[str, Any], list[dict[str, Any]], int | None]:
        r = stage_stripe.invoice_row(inv, event, type_, head[2], self.cfg, self.tz)
        lines = stage_stripe.line_rows(inv)
        line_count: int | None = (
            len(lines)
            if isinstance(stage_stripe._dict(inv.get("lines")).get("data"), list)
            else None
        )
        return r, lines, line_count

    def _opportunity(
        self, head: tuple[Any, ...], type_: str, payload: dict[str, Any], batch: StagingBatch
    ) -> None:
        if stage_salesforce.is_cdc_payload(payload):
            r = stage_salesforce.cdc_row(head[0], payload)
        else:
            r = stage_salesforce.flat_row(payload)
        changed = r["changed_fields"]
        self._add(
            batch.opportunity,
            "opportunity",
            STG_OPPORTUNITY,
            r["opportunity_id"],
            (
                head[0],
                head[1],
                head[2],
                r["source_seq"],
                r["source_subseq"],
                type_,
                r["change_type"],
                orjson.dumps(changed).decode() if changed is not None else None,
                _json_list(r["set_fields"]),
                r["opportunity_id"],
                *(r[c] for c in STG_OPPORTUNITY[10:]),
            ),
        )
        self.affected.opportunities.add(r["opportunity_id"])

    def _invoice(
        self, head: tuple[Any, ...], type_: str, payload: dict[str, Any], batch: StagingBatch
    ) -> None:
        if payload.get("object") in ("event", "invoice") or isinstance(payload.get("data"), dict):
            inv = _object(payload)
            event = payload if payload.get("object") != "invoice" else {}
            r, lines, line_count = self._invoice_rows(head, type_, inv, event)
        else:
            r = stage_stripe.flat_invoice_row(payload, head[2], self.cfg, self.tz)
            lines, line_count = [], None
        self._append_invoice(head, type_, r, lines, line_count, batch)

    def _append_invoice(
        self,
        head: tuple[Any, ...],
        type_: str,
        r: dict[str, Any],
        lines: list[dict[str, Any]],
        line_count: int | None,
        batch: StagingBatch,
    ) -> None:
        _require(r["invoice_id"], "invoice id")
        self._add(
            batch.invoice,
            "invoice",
            STG_INVOICE,
            r["invoice_id"],
            (
                *head,
                type_,
                r["invoice_id"],
                *_INVOICE_VALUES(r),
                _json_list(r["set_fields"]),
                line_count,
            ),
        )
        rows = [(head[0], line["line_no"], r["invoice_id"], *_LINE_VALUES(line)) for line in lines]
        batch.line += rows
        if self.new_lines is not None:
            self.new_lines[head[0]] = rows
        self.affected.invoices.add(r["invoice_id"])
        if r["customer_id"]:
            self.affected.customers.add(r["customer_id"])


_INVOICE_VALUES = operator.itemgetter(*stage_stripe.INVOICE_FIELDS)
_LINE_VALUES = operator.itemgetter(*STG_LINE[3:])


def _object(payload: dict[str, Any]) -> dict[str, Any]:
    """``data.object`` of a Stripe event, or the payload itself when it is the object."""
    if payload.get("object") not in (None, "event") and "data" not in payload:
        return payload
    data = payload.get("data")
    obj = data.get("object") if isinstance(data, dict) else None
    if not isinstance(obj, dict):
        raise EventError("Stripe event has no data.object", reason="missing_field")
    return obj


def _require(value: Any, what: str) -> None:
    if not value:
        raise EventError(f"event has no {what}", reason="missing_field")


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def write_batch(wh: Warehouse, batch: StagingBatch, *, replace: bool) -> None:
    """Insert the batch's staging rows; ``replace`` first removes rows of the same events."""
    tables = (
        ("revops.stg_opportunity", STG_OPPORTUNITY, batch.opportunity),
        ("revops.stg_invoice", STG_INVOICE, batch.invoice),
        ("revops.stg_customer", STG_CUSTOMER, batch.customer),
        ("revops.stg_price", STG_PRICE, batch.price),
    )
    if replace:
        for table, _, rows in tables:
            if rows:
                wh.execute(
                    f"DELETE FROM {table} WHERE event_id IN (SELECT unnest(CAST(? AS VARCHAR[])))",
                    ([r[0] for r in rows],),
                )
        if batch.invoice:
            wh.execute(
                "DELETE FROM revops.stg_invoice_line WHERE event_id IN "
                "(SELECT unnest(CAST(? AS VARCHAR[])))",
                ([r[0] for r in batch.invoice],),
            )
    for table, columns, rows in tables:
        if rows:
            wh.insert_rows(table, columns, rows)
    if batch.line:
        wh.insert_rows("revops.stg_invoice_line", STG_LINE, batch.line)


def raw_batches(
    wh: Warehouse, where: str, params: tuple[Any, ...], batch_size: int, low: int, high: int
) -> Iterator[list[dict[str, Any]]]:
    """Revenue raw rows with ``low < raw_seq <= high`` matching ``where``, in raw_seq order,
    one window of ``batch_size`` sequence numbers at a time.

    Windows, not ``ORDER BY … LIMIT``: a top-N would read every remaining payload on each
    page. ``raw_seq`` is dense (reserved per landing transaction), so a window holds at most
    ``batch_size`` rows; the scan touches only that stretch (DuckDB zone maps, PostgreSQL's
    index on raw_seq)."""
    payload = PAYLOAD_BYTES.get(wh.dialect, "payload")
    start = low
    while start < high:
        end = min(start + batch_size, high)
        rows = wh.query(
            f"SELECT event_id, type, event_ts, {payload}, raw_seq FROM revops.events_raw "
            f"WHERE raw_seq > ? AND raw_seq <= ? AND {RAW_TYPES_SQL} AND {where} "
            "ORDER BY raw_seq",
            (start, end, *params),
        )
        if rows:
            yield rows
        start = end
