"""The neutral envelope every event travels in, and the event-id rule.

``{source, type, event_ts, event_id, correlation_id, payload}``: ``payload`` is the source's JSON
as received; ``type`` is ``<source>.<object>.<action>``; ``event_id`` prefers a natural key and
otherwise is ``<source>:sha256:<hex>`` of the canonical JSON (sorted keys, no spaces, UTF-8).
"""

from __future__ import annotations

import hashlib
import json
import re
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, field_validator, model_validator

from revops.errors import EventError

SOURCE_RE = re.compile(r"^[a-z][a-z0-9_]*$")


def canonical_json(value: Any) -> bytes:
    """Canonical JSON bytes: sorted keys, no spaces, UTF-8, non-ASCII kept."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def content_event_id(source: str, value: Any) -> str:
    """``<source>:sha256:<hex>`` of the canonical JSON of ``value``."""
    return f"{source}:sha256:{hashlib.sha256(canonical_json(value)).hexdigest()}"


def prefixed_event_id(source: str, natural: str) -> str:
    """Prefix a natural key with its source unless it already is."""
    natural = str(natural)
    return natural if natural.startswith(source + ":") else f"{source}:{natural}"


def parse_timestamp(value: Any, *, field: str = "event_ts") -> datetime:
    """Parse an ISO-8601 string, epoch seconds or epoch milliseconds into an aware UTC datetime.

    Numbers above 10^11 are taken as milliseconds (Salesforce CDC), others as seconds (Stripe).
    Naive ISO strings are taken as UTC.
    """
    if isinstance(value, datetime):
        dt = value
    elif isinstance(value, bool) or value is None:
        raise EventError(
            f"{field} is missing or not a timestamp", reason="bad_timestamp", input=repr(value)
        )
    elif isinstance(value, int | float):
        seconds = value / 1000 if abs(value) >= 1e11 else value
        try:
            dt = datetime.fromtimestamp(seconds, tz=UTC)
        except (OverflowError, OSError, ValueError) as exc:
            raise EventError(
                f"{field} is out of range", reason="bad_timestamp", input=repr(value)
            ) from exc
    elif isinstance(value, str):
        text = value.strip()
        if re.fullmatch(r"-?\d+(\.\d+)?", text):
            return parse_timestamp(float(text) if "." in text else int(text), field=field)
        try:
            dt = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
        except ValueError as exc:
            raise EventError(
                f"{field} is not an ISO-8601 timestamp",
                reason="bad_timestamp",
                input=text[:100],
                hint="use e.g. 2025-10-08T09:00:00Z",
            ) from exc
    else:
        raise EventError(
            f"{field} is not a timestamp", reason="bad_timestamp", input=repr(value)[:100]
        )
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.astimezone(UTC)


class Envelope(BaseModel):
    """One event in the neutral form; immutable.

    ``event_id`` is always prefixed with ``source``; ``event_ts`` is an aware UTC datetime.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    source: str
    type: str
    event_ts: datetime
    event_id: str
    correlation_id: str | None = None
    payload: dict[str, Any]

    @field_validator("source")
    @classmethod
    def _source_name(cls, value: str) -> str:
        if not SOURCE_RE.match(value):
            raise ValueError("source must be a lowercase name such as 'stripe' or 'salesforce'")
        return value

    @field_validator("event_ts", mode="before")
    @classmethod
    def _ts(cls, value: Any) -> datetime:
        return parse_timestamp(value)

    @model_validator(mode="after")
    def _consistent(self) -> Envelope:
        if not self.type.startswith(self.source + ".") or self.type.count(".") < 2:
            raise ValueError(
                f"type {self.type!r} must read '<source>.<object>.<action>' with source "
                f"{self.source!r}"
            )
        if not self.event_id.startswith(self.source + ":"):
            object.__setattr__(self, "event_id", prefixed_event_id(self.source, self.event_id))
        return self

    def to_json(self) -> dict[str, Any]:
        """The envelope as plain JSON-compatible data (event_ts in ISO-8601 with Z)."""
        return {
            "source": self.source,
            "type": self.type,
            "event_ts": self.event_ts.isoformat().replace("+00:00", "Z"),
            "event_id": self.event_id,
            "correlation_id": self.correlation_id,
            "payload": self.payload,
        }
