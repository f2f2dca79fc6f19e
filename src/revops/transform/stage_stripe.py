"""Stripe payloads → typed staging rows (invoices, invoice lines, customers, prices).

Reads every invoice shape revops has seen: the pre-2025 one (``paid``, ``charge``,
``subscription``, lines carrying ``price`` / ``plan`` with ``recurring``), the 2025-03-31.basil
one (``status_transitions``, ``parent.subscription_details``, lines with only
``pricing.price_details.price``) and the seed's flat ``stripe.invoice.paid`` payload. Amounts
become major units (see :mod:`revops.transform.money`).
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import msgspec

from revops.envelope import parse_timestamp
from revops.errors import EventError
from revops.transform.money import as_decimal, to_major
from revops.transform.settings import RevenueSettings

# Invoice statuses move only upwards through these levels (draft → open → uncollectible →
# paid / void); the level is the first ordering key of invoice snapshots (see facts).
STATUS_LEVEL = {"draft": 0, "open": 1, "uncollectible": 2, "paid": 3, "void": 3, "deleted": 4}
INVOICE_FIELDS = (
    "customer_id",
    "customer_email",
    "currency",
    "amount_due",
    "amount_paid",
    "amount_remaining",
    "status",
    "due_date",
    "created_at",
    "finalized_at",
    "paid_at",
    "voided_at",
    "period_start",
    "period_end",
    "opportunity_id",
    "subscription_id",
    "api_version",
    "livemode",
)


def _ts(value: Any) -> datetime | None:
    if type(value) is int and 0 < value < 10**11:  # Stripe: epoch seconds (the common case)
        return datetime.fromtimestamp(value, UTC)
    if value in (None, "", 0):
        return None
    try:
        return parse_timestamp(value)
    except EventError:
        return None


class _Object(msgspec.Struct):
    """A JSON object decoded with only the fields staging reads (the rest is skipped).

    ``get(key)`` reads like ``dict.get(key)`` (an absent field and ``null`` are both None), so
    the invoice row builders below take either a parsed dict or one of these. Reading a field
    the struct does not declare raises ``AttributeError``: the caller then parses the payload
    in full."""

    # ``obj.get(name)`` is ``getattr(obj, name)`` without a Python frame per call.
    get = object.__getattribute__


class _Price(_Object):
    id: Any = None
    type: Any = None
    recurring: Any = None  # a dict: its truthiness (empty or not) is read


class _Line(_Object):
    id: Any = None
    type: Any = None
    currency: Any = None
    amount: Any = None
    price: _Price | None = None
    plan: Any = None  # a dict: its truthiness is read
    pricing: Any = None
    parent: Any = None
    period: Any = None
    subscription: Any = None
    proration: Any = None


class _Lines(_Object):
    data: list[_Line] | None = None


class _Invoice(_Object):
    id: Any = None
    customer: Any = None
    customer_email: Any = None
    currency: Any = None
    amount_due: Any = None
    amount_paid: Any = None
    amount_remaining: Any = None
    status: Any = None
    paid: Any = None
    deleted: Any = None
    due_date: Any = None
    created: Any = None
    status_transitions: Any = None
    period_start: Any = None
    period_end: Any = None
    metadata: Any = None
    parent: Any = None
    subscription_details: Any = None
    subscription: Any = None
    lines: _Lines | None = None


class _InvoiceData(_Object):
    object: _Invoice | None = None


class InvoiceEvent(_Object):
    """A Stripe event of an invoice, decoded with only the fields staging reads."""

    object: Any = None
    api_version: Any = None
    livemode: Any = None
    data: _InvoiceData | None = None


_MAPPINGS = (dict, _Object)
INVOICE_EVENT_DECODER = msgspec.json.Decoder(InvoiceEvent)


def decode_invoice_event(payload: bytes | str) -> tuple[InvoiceEvent, _Invoice] | None:
    """The event and its invoice when ``payload`` is a plain Stripe invoice event; None when
    it is anything else (another shape, unexpected types, bad JSON): parse it in full then."""
    try:
        event = INVOICE_EVENT_DECODER.decode(payload)
    except msgspec.MsgspecError:
        return None
    if event.object != "event" or event.data is None or event.data.object is None:
        return None
    return event, event.data.object


def _id(value: Any) -> str | None:
    """An id that may come expanded (``{"id": …}``) or as a plain string."""
    if type(value) is str:  # the common case first
        return value or None
    if isinstance(value, _MAPPINGS):
        value = value.get("id")
    return str(value) if isinstance(value, str | int) and value != "" else None


def _dict(value: Any) -> Any:
    """``value`` when it is a JSON object (a dict or a decoded struct), else an empty dict."""
    return value if type(value) is dict or isinstance(value, _MAPPINGS) else {}


def business_date(value: datetime | None, tz: ZoneInfo) -> date | None:
    """The calendar day of ``value`` in the business time zone."""
    return value.astimezone(tz).date() if value is not None else None


def _invoice_status(inv: Any, event_type: str) -> str | None:
    if event_type.endswith(".deleted") or inv.get("deleted") is True:
        return "deleted"  # only drafts can be deleted; the invoice never existed for billing
    status = inv.get("status")
    if isinstance(status, str) and status:
        return status
    if inv.get("paid") is True or event_type.endswith((".paid", ".payment_succeeded")):
        return "paid"
    return None


def _metadata_value(inv: Any, key: str) -> str | None:
    """``key`` from the invoice metadata, else from its subscription's metadata."""
    parent = _dict(inv.get("parent"))
    for meta in (
        inv.get("metadata"),
        _dict(parent.get("subscription_details")).get("metadata"),
        _dict(inv.get("subscription_details")).get("metadata"),
    ):
        value = _dict(meta).get(key)
        if isinstance(value, str) and value.strip():
            return value.strip()
    return None


def invoice_row(
    inv: Any,
    event: Any,
    event_type: str,
    event_ts: datetime,
    cfg: RevenueSettings,
    tz: ZoneInfo,
) -> dict[str, Any]:
    """One ``stg_invoice`` row (without the event columns) from a Stripe invoice object."""
    currency = (inv.get("currency") or None) and str(inv.get("currency")).lower()
    transitions = _dict(inv.get("status_transitions"))
    parent = _dict(inv.get("parent"))
    status = _invoice_status(inv, event_type)
    paid_at = _ts(transitions.get("paid_at"))
    if paid_at is None and status == "paid":
        paid_at = event_ts  # pre-2025 events may say paid without a transition time
    subscription = _id(inv.get("subscription")) or _id(
        _dict(parent.get("subscription_details")).get("subscription")
    )
    due = _ts(inv.get("due_date"))
    return {
        "invoice_id": _id(inv.get("id")),
        "customer_id": _id(inv.get("customer")),
        "customer_email": inv.get("customer_email") or None,
        "currency": currency,
        "amount_due": to_major(inv.get("amount_due"), currency),
        "amount_paid": to_major(inv.get("amount_paid"), currency),
        "amount_remaining": to_major(inv.get("amount_remaining"), currency),
        "status": status,
        "due_date": business_date(due, tz),
        "created_at": _ts(inv.get("created")),
        "finalized_at": _ts(transitions.get("finalized_at")),
        "paid_at": paid_at,
        "voided_at": _ts(transitions.get("voided_at")) or (event_ts if status == "void" else None),
        "period_start": _ts(inv.get("period_start")),
        "period_end": _ts(inv.get("period_end")),
        "opportunity_id": _metadata_value(inv, cfg.opportunity_key),
        "subscription_id": subscription,
        "api_version": event.get("api_version") or None,
        "livemode": event.get("livemode") if isinstance(event.get("livemode"), bool) else None,
        "set_fields": None,  # a Stripe snapshot sets every field
    }


def flat_invoice_row(
    p: dict[str, Any], event_ts: datetime, cfg: RevenueSettings, tz: ZoneInfo
) -> dict[str, Any]:
    """A ``stg_invoice`` row from the seed's flat payload; it sets only the keys it carries."""
    currency = (p.get("currency") or None) and str(p["currency"]).lower()

    def amount(key: str) -> Decimal | None:
        value = p.get(key)
        return to_major(value, currency) if cfg.flat_amounts_minor_units else as_decimal(value)

    status = p.get("status") if isinstance(p.get("status"), str) else None
    row: dict[str, Any] = {
        "invoice_id": _id(p.get("invoice_id") or p.get("id")),
        "customer_id": _id(p.get("customer_id") or p.get("customer")),
        "customer_email": p.get("customer_email") or None,
        "currency": currency,
        "amount_due": amount("amount_due"),
        "amount_paid": amount("amount_paid"),
        "amount_remaining": amount("amount_remaining"),
        "status": status,
        "due_date": business_date(_ts(p.get("due_date")), tz),
        "created_at": _ts(p.get("created_at") or p.get("created")),
        "finalized_at": _ts(p.get("finalized_at")),
        "paid_at": _ts(p.get("paid_at")),
        "voided_at": _ts(p.get("voided_at")),
        "period_start": _ts(p.get("period_start")),
        "period_end": _ts(p.get("period_end")),
        "opportunity_id": p.get("opportunity_id") or p.get(cfg.opportunity_key) or None,
        "subscription_id": _id(p.get("subscription_id")),
        "api_version": None,
        "livemode": None,
    }
    # The flat form is partial: only the values it carries are set (a missing key is unknown).
    present = {k for k in INVOICE_FIELDS if row[k] is not None}
    if status == "paid" and row["paid_at"] is None:
        row["paid_at"] = event_ts
        present.add("paid_at")
    if status == "paid" and row["amount_paid"] is None and row["amount_due"] is not None:
        # The seed's paid event carries only amount_due: a paid invoice received all of it.
        row["amount_paid"], row["amount_remaining"] = row["amount_due"], Decimal(0)
        present |= {"amount_paid", "amount_remaining"}
    if row["created_at"] is None:
        row["created_at"] = event_ts
        present.add("created_at")
    row["set_fields"] = sorted(present)
    return row


def line_rows(inv: Any) -> list[dict[str, Any]]:
    """The ``stg_invoice_line`` rows of an invoice object (both line shapes)."""
    lines = _dict(inv.get("lines")).get("data")
    if not isinstance(lines, list):
        return []
    rows = []
    for number, line in enumerate(lines):
        if isinstance(line, _MAPPINGS):
            rows.append(_line_row(line, number, inv))
    return rows


def _line_row(line: Any, number: int, inv: Any) -> dict[str, Any]:
    currency = str(line.get("currency") or inv.get("currency") or "").lower() or None
    price = _dict(line.get("price"))
    plan = _dict(line.get("plan"))
    recurring = _dict(price.get("recurring")) or (
        {"interval": plan.get("interval"), "interval_count": plan.get("interval_count")}
        if plan
        else {}
    )
    parent = _dict(line.get("parent"))
    pricing_price = _dict(_dict(line.get("pricing")).get("price_details")).get("price")
    price_id = _id(pricing_price) or _id(line.get("price")) or _id(plan.get("id"))
    is_recurring: bool | None
    if recurring.get("interval"):
        is_recurring = True
    elif price.get("type") in ("recurring", "one_time"):
        is_recurring = price.get("type") == "recurring"
    elif line.get("type") in ("subscription", "invoiceitem"):
        is_recurring = line.get("type") == "subscription"
    elif parent.get("type") in ("subscription_item_details", "invoice_item_details"):
        is_recurring = parent.get("type") == "subscription_item_details"
    else:
        is_recurring = None  # decided from the price when revops has seen it
    period = _dict(line.get("period"))
    sub_details = _dict(parent.get("subscription_item_details"))
    count = recurring.get("interval_count")
    return {
        "line_no": number,
        "line_id": _id(line.get("id")),
        "amount": to_major(line.get("amount"), currency),
        "currency": currency,
        "price_id": price_id,
        "is_recurring": is_recurring,
        "recurring_interval": recurring.get("interval") or None,
        "interval_count": int(count) if isinstance(count, int | float) and count else None,
        "period_start": _ts(period.get("start")),
        "period_end": _ts(period.get("end")),
        "subscription_id": _id(line.get("subscription")) or _id(sub_details.get("subscription")),
        "proration": bool(line.get("proration") or sub_details.get("proration")),
    }


def customer_row(obj: dict[str, Any], event_type: str, cfg: RevenueSettings) -> dict[str, Any]:
    """A ``stg_customer`` row from a Stripe customer object."""
    account = _dict(obj.get("metadata")).get(cfg.account_key)
    return {
        "customer_id": _id(obj.get("id")),
        "email": obj.get("email") or None,
        "name": obj.get("name") or None,
        "account_id": account.strip() if isinstance(account, str) and account.strip() else None,
        "is_deleted": event_type.endswith(".deleted") or obj.get("deleted") is True,
    }


def price_row(obj: dict[str, Any], event_type: str) -> dict[str, Any]:
    """A ``stg_price`` row from a Stripe price (or legacy plan) object."""
    currency = str(obj.get("currency") or "").lower() or None
    recurring = _dict(obj.get("recurring"))
    if obj.get("object") == "plan":
        recurring = {"interval": obj.get("interval"), "interval_count": obj.get("interval_count")}
    count = recurring.get("interval_count")
    price_type = obj.get("type") or ("recurring" if recurring.get("interval") else None)
    return {
        "price_id": _id(obj.get("id")),
        "currency": currency,
        "unit_amount": to_major(obj.get("unit_amount", obj.get("amount")), currency),
        "price_type": price_type,
        "recurring_interval": recurring.get("interval") or None,
        "interval_count": int(count) if isinstance(count, int | float) and count else None,
        "product_id": _id(obj.get("product")),
        "is_deleted": event_type.endswith(".deleted"),
    }
