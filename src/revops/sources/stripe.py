"""Stripe event objects → envelopes.

Any event type is accepted. The payload is the event exactly as Stripe sent it, so
``api_version`` and ``livemode`` are kept; both the pre-2025 invoice shape (``paid``, ``charge``,
``subscription``) and the 2025-03-31.basil shape (``status_transitions``, ``parent``) pass
through unchanged and are interpreted by the transforms.
"""

from __future__ import annotations

from typing import Any

from revops.envelope import Envelope, parse_timestamp
from revops.errors import EventError


def is_stripe_event(obj: Any) -> bool:
    """True when ``obj`` looks like a Stripe event object."""
    return (
        isinstance(obj, dict)
        and obj.get("object") == "event"
        and isinstance(obj.get("type"), str)
        and isinstance(obj.get("data"), dict)
    )


def normalize_stripe_event(obj: dict[str, Any]) -> Envelope:
    """Wrap one Stripe event in an envelope with id ``stripe:<evt id>``.

    Raises :class:`EventError` when the id, type, created time or ``data.object`` is missing.
    """
    event_id = obj.get("id")
    if not isinstance(event_id, str) or not event_id:
        raise EventError(
            "Stripe event has no id",
            reason="missing_field",
            input="id",
            hint="a Stripe event carries 'id': 'evt_…'",
        )
    data = obj.get("data")
    if not isinstance(data, dict) or not isinstance(data.get("object"), dict):
        raise EventError(
            "Stripe event has no data.object",
            reason="missing_field",
            input=f"{event_id}: data.object",
        )
    if "created" not in obj:
        raise EventError(
            "Stripe event has no 'created' time",
            reason="missing_field",
            input=f"{event_id}: created",
        )
    request = obj.get("request")
    correlation = request.get("id") if isinstance(request, dict) else None
    return Envelope.model_construct(
        source="stripe",
        type=f"stripe.{obj['type']}",
        event_ts=parse_timestamp(obj["created"], field="created"),
        event_id=f"stripe:{event_id}",
        correlation_id=correlation if isinstance(correlation, str) else None,
        payload=obj,
    )
