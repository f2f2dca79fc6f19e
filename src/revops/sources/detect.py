"""Recognise a native record (Stripe event, Salesforce CDC event or neutral envelope)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import ValidationError

from revops.envelope import Envelope
from revops.errors import EventError
from revops.sources.salesforce import is_cdc_event, normalize_cdc_event
from revops.sources.stripe import is_stripe_event, normalize_stripe_event

SourceHint = Literal["stripe", "salesforce", "envelope"]
SOURCE_HINTS: tuple[str, ...] = ("stripe", "salesforce", "envelope")
# None: any well-formed source name is accepted in a neutral envelope.
KNOWN_SOURCES: frozenset[str] | None = None


def is_envelope(obj: Any) -> bool:
    """True when ``obj`` has the envelope's keys."""
    return isinstance(obj, dict) and {"source", "type", "payload"} <= obj.keys()


def normalize_envelope(
    obj: dict[str, Any], known_sources: frozenset[str] | None = KNOWN_SOURCES
) -> Envelope:
    """Validate a neutral envelope; without ``event_id`` one is derived from its content.

    When ``known_sources`` is given, a source outside it is refused (reason
    ``unknown_source``).
    """
    data = dict(obj)
    if (
        known_sources is not None
        and isinstance(data.get("source"), str)
        and data["source"] not in known_sources
    ):
        raise EventError(
            f"unknown source {data['source']!r}",
            reason="unknown_source",
            input=str(data["source"])[:60],
            hint="known sources: "
            + ", ".join(sorted(known_sources))
            + " (the list is [ingest] allowed_sources)",
        )
    if not data.get("event_id"):
        from revops.envelope import content_event_id

        source = data.get("source")
        if not isinstance(source, str):
            raise EventError("envelope has no source", reason="invalid_envelope")
        data["event_id"] = content_event_id(
            source, {k: v for k, v in data.items() if k not in ("event_id", "correlation_id")}
        )
    try:
        return Envelope.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "envelope"
        raise EventError(
            f"invalid envelope: {where}: {first['msg']}", reason="invalid_envelope", input=where
        ) from exc


def normalize_record(
    obj: Any, source: SourceHint | None = None, known_sources: frozenset[str] | None = KNOWN_SOURCES
) -> list[Envelope]:
    """Envelopes for one decoded JSON record; ``source`` forces how it is read.

    Raises :class:`EventError` (``reason`` ``unrecognised_event`` and others) for anything that
    is not a recognisable event.
    """
    if not isinstance(obj, dict):
        raise EventError(
            f"an event must be a JSON object, got {type(obj).__name__}", reason="not_an_object"
        )
    if source in (None, "envelope") and is_envelope(obj):
        return [normalize_envelope(obj, known_sources)]
    if source in (None, "stripe") and is_stripe_event(obj):
        return [normalize_stripe_event(obj)]
    if source in (None, "salesforce") and is_cdc_event(obj):
        return normalize_cdc_event(obj)
    if source in ("stripe", "salesforce") and is_envelope(obj) and obj.get("source") == source:
        return [normalize_envelope(obj, known_sources)]
    expected = {
        None: "a neutral envelope, a Stripe event or a Salesforce CDC event",
        "stripe": "a Stripe event object ('object': 'event')",
        "salesforce": "a Salesforce Change Data Capture event (with ChangeEventHeader)",
        "envelope": "a neutral envelope {source, type, event_ts, event_id, payload}",
    }[source]
    keys = ", ".join(sorted(obj)[:8])
    raise EventError(
        f"not a recognisable event: expected {expected}",
        reason="unrecognised_event",
        input=f"keys: {keys}",
        hint="pass --source to force how lines are read" if source is None else None,
    )
