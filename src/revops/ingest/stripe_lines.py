"""Recognising a native Stripe event line from the few fields landing needs.

Landing stores a native line as received and needs only its id, type, created time and
request id. Decoding every field of a 3 KB invoice event into Python objects (and freeing
them) cost as much as the warehouse's bulk insert of the row; decoding just those fields and
skipping the rest is an order of magnitude cheaper (measured). Anything that is not plainly a
well-formed Stripe event returns None, and the caller reads it the full way, so errors and
odd shapes are reported exactly as before.
"""

from __future__ import annotations

from typing import Any

import msgspec

from revops.envelope import Envelope, parse_timestamp
from revops.errors import EventError


class _Head(msgspec.Struct):
    """The top-level fields of a Stripe event that landing reads; others are skipped."""

    object: Any = None
    type: Any = None
    id: Any = None
    created: Any = msgspec.UNSET
    request: Any = None
    data: msgspec.Raw = msgspec.UNSET
    # Present on a neutral envelope: such a line is not taken as a Stripe event here.
    source: msgspec.Raw = msgspec.UNSET
    payload: msgspec.Raw = msgspec.UNSET


class _Data(msgspec.Struct):
    object: msgspec.Raw = msgspec.UNSET


_HEAD = msgspec.json.Decoder(_Head)
_DATA = msgspec.json.Decoder(_Data)


def stripe_event_envelope(line: bytes) -> Envelope | None:
    """The envelope of a well-formed native Stripe event line, or None to read it in full.

    The envelope carries no parsed ``payload`` (an empty dict): it is for landing, which
    stores ``line`` itself. Equal in id, type, time and correlation id to
    :func:`revops.sources.stripe.normalize_stripe_event` on the parsed line.
    """
    try:
        head = _HEAD.decode(line)
        if (
            head.object != "event"
            or not isinstance(head.type, str)
            or not isinstance(head.id, str)
            or not head.id
            or head.created is msgspec.UNSET
            or head.data is msgspec.UNSET
            or head.source is not msgspec.UNSET
            or head.payload is not msgspec.UNSET
        ):
            return None
        inner = _DATA.decode(head.data).object
        if inner is msgspec.UNSET or not bytes(inner).startswith(b"{"):
            return None
        # Skipped strings are not checked for UTF-8 by the decoder; the full reader is.
        line.decode("utf-8")
        event_ts = parse_timestamp(head.created, field="created")
    except (msgspec.DecodeError, UnicodeDecodeError, EventError):
        return None
    request = head.request
    correlation = request.get("id") if isinstance(request, dict) else None
    return Envelope.model_construct(
        source="stripe",
        type=f"stripe.{head.type}",
        event_ts=event_ts,
        event_id=f"stripe:{head.id}",
        correlation_id=correlation if isinstance(correlation, str) else None,
        payload={},
    )
