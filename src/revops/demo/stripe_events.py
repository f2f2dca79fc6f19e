"""Stripe event objects for the demo, in the pre-2025 and the 2025-03-31.basil shapes."""

from __future__ import annotations

import random
from datetime import datetime
from typing import Any

BASIL = "2025-03-31.basil"
LEGACY = "2024-06-20"


def _ts(dt: datetime | None) -> int | None:
    return int(dt.timestamp()) if dt is not None else None


class StripeIds:
    """Deterministic Stripe-looking ids (``evt_…``, ``in_…``, ``req_…``)."""

    ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng

    def new(self, prefix: str) -> str:
        """A fresh id with Stripe's prefix convention."""
        return prefix + "_1" + "".join(self.rng.choice(self.ALPHABET) for _ in range(23))


def event(
    ids: StripeIds,
    type_: str,
    obj: dict[str, Any],
    at: datetime,
    api_version: str,
    previous: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A Stripe event object wrapping ``obj``."""
    data: dict[str, Any] = {"object": obj}
    if previous:
        data["previous_attributes"] = previous
    return {
        "id": ids.new("evt"),
        "object": "event",
        "api_version": api_version,
        "created": _ts(at),
        "data": data,
        "livemode": False,
        "pending_webhooks": 1,
        "request": {"id": ids.new("req"), "idempotency_key": None},
        "type": type_,
    }


def customer(
    cus_id: str, email: str, name: str, account_id: str, created: datetime, currency: str
) -> dict[str, Any]:
    """A Stripe customer carrying the Salesforce account id in its metadata."""
    return {
        "id": cus_id,
        "object": "customer",
        "created": _ts(created),
        "currency": currency,
        "email": email,
        "name": name,
        "livemode": False,
        "metadata": {"sf_account_id": account_id},
    }


def invoice(
    *,
    inv_id: str,
    cus_id: str,
    email: str,
    currency: str,
    amount: int,
    status: str,
    created: datetime,
    period: tuple[datetime, datetime],
    price_id: str,
    interval: str,
    sub_id: str,
    due: datetime | None,
    finalized_at: datetime | None = None,
    paid_at: datetime | None = None,
    voided_at: datetime | None = None,
    uncollectible_at: datetime | None = None,
    amount_paid: int = 0,
    opportunity_id: str | None = None,
    api_version: str = BASIL,
    line_id: str = "il_demo",
) -> dict[str, Any]:
    """An invoice in the shape of ``api_version`` (basil: no ``paid``/``subscription``;
    the price id only on lines)."""
    start, end = _ts(period[0]), _ts(period[1])
    line: dict[str, Any] = {
        "id": line_id,
        "object": "line_item",
        "amount": amount,
        "currency": currency,
        "description": f"1 × Plan ({interval}ly)",
        "livemode": False,
        "period": {"start": start, "end": end},
        "quantity": 1,
    }
    inv: dict[str, Any] = {
        "id": inv_id,
        "object": "invoice",
        "customer": cus_id,
        "customer_email": email,
        "currency": currency,
        "amount_due": amount,
        "amount_paid": amount_paid,
        "amount_remaining": amount - amount_paid,
        "status": status,
        "created": _ts(created),
        "due_date": _ts(due),
        "collection_method": "send_invoice" if due else "charge_automatically",
        "period_start": start,
        "period_end": end,
        "livemode": False,
        "metadata": {"opportunity_id": opportunity_id} if opportunity_id else {},
        "status_transitions": {
            "finalized_at": _ts(finalized_at),
            "paid_at": _ts(paid_at),
            "voided_at": _ts(voided_at),
            "marked_uncollectible_at": _ts(uncollectible_at),
        },
        "lines": {"object": "list", "data": [line], "has_more": False, "total_count": 1},
    }
    if api_version == BASIL:
        line["pricing"] = {
            "type": "price_details",
            "price_details": {"price": price_id, "product": "prod_demo"},
        }
        line["parent"] = {
            "type": "subscription_item_details",
            "subscription_item_details": {"subscription": sub_id, "subscription_item": "si_demo"},
        }
        inv["parent"] = {
            "type": "subscription_details",
            "subscription_details": {"subscription": sub_id, "metadata": {}},
        }
    else:
        recurring = {"interval": interval, "interval_count": 1}
        line["price"] = {
            "id": price_id,
            "object": "price",
            "recurring": recurring,
            "unit_amount": amount,
            "currency": currency,
        }
        line["plan"] = {
            "id": price_id,
            "object": "plan",
            "interval": interval,
            "interval_count": 1,
            "amount": amount,
        }
        line["type"] = "subscription"
        line["subscription"] = sub_id
        inv["paid"] = status == "paid"
        inv["charge"] = "ch_demo" if status == "paid" else None
        inv["subscription"] = sub_id
    return inv


def price(
    price_id: str, currency: str, amount: int, interval: str, created: datetime
) -> dict[str, Any]:
    """A recurring price (so revops learns the interval for basil invoice lines)."""
    return {
        "id": price_id,
        "object": "price",
        "active": True,
        "currency": currency,
        "created": _ts(created),
        "unit_amount": amount,
        "type": "recurring",
        "recurring": {"interval": interval, "interval_count": 1, "usage_type": "licensed"},
        "product": "prod_demo",
        "livemode": False,
    }
