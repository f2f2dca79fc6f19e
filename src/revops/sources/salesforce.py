"""Salesforce Change Data Capture events → envelopes, one per record id.

Accepted shapes: the event payload itself (with ``ChangeEventHeader`` at the top), the Pub/Sub
API / CometD form ``{"payload": {...}, "event": {"replayId": n}}`` and the streaming form
``{"data": {"payload": {...}, "event": {...}}, "channel": "..."}``.

``event_id`` is ``salesforce:<record id>:<replay id>``, or ``salesforce:<record id>:<commit
number>`` when no replay id came with the event (``.<sequenceNumber>`` is appended when the
transaction changed the record more than once). ``commitNumber`` is an integer beyond 2^53 and is
never passed through a float.
"""

from __future__ import annotations

from typing import Any

from revops.envelope import Envelope, parse_timestamp
from revops.errors import EventError

CHANGE_ACTIONS = {
    "CREATE": "created",
    "UPDATE": "updated",
    "DELETE": "deleted",
    "UNDELETE": "undeleted",
    "GAP_CREATE": "gap",
    "GAP_UPDATE": "gap",
    "GAP_DELETE": "gap",
    "GAP_UNDELETE": "gap",
    "GAP_OVERFLOW": "overflow",
}
WILDCARD_RECORD = "*"


def _split(obj: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """(payload, event-info) of a CDC message in any accepted shape, or None."""
    if isinstance(obj.get("ChangeEventHeader"), dict):
        return obj, {}
    for inner in (obj, obj.get("data")):
        if isinstance(inner, dict):
            payload = inner.get("payload")
            if isinstance(payload, dict) and isinstance(payload.get("ChangeEventHeader"), dict):
                event = inner.get("event")
                return payload, event if isinstance(event, dict) else {}
    return None


def is_cdc_event(obj: Any) -> bool:
    """True when ``obj`` is a Change Data Capture event in an accepted shape."""
    return isinstance(obj, dict) and _split(obj) is not None


def cdc_header(obj: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any], Any]:
    """(payload, ChangeEventHeader, replay id or None) of a CDC message."""
    split = _split(obj)
    if split is None:
        raise EventError("not a Change Data Capture event", reason="unrecognised_event")
    payload, event = split
    replay = event.get("replayId", obj.get("replayId"))
    return payload, payload["ChangeEventHeader"], replay


def _as_int(value: Any, name: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool):
        raise EventError(f"{name} is not an integer", reason="bad_field", input=repr(value))
    try:
        return int(value)
    except (TypeError, ValueError) as exc:
        raise EventError(
            f"{name} is not an integer", reason="bad_field", input=repr(value)[:60]
        ) from exc


def normalize_cdc_event(obj: dict[str, Any]) -> list[Envelope]:
    """One envelope per record id named by the event's ``ChangeEventHeader``.

    GAP_OVERFLOW events that name no record get one envelope with record id ``*``.
    """
    _, header, replay = cdc_header(obj)
    change = str(header.get("changeType") or "").upper()
    if change not in CHANGE_ACTIONS:
        raise EventError(
            "unknown CDC changeType",
            reason="bad_field",
            input=repr(header.get("changeType")),
            hint="expected one of " + ", ".join(sorted(CHANGE_ACTIONS)),
        )
    entity = header.get("entityName")
    if not isinstance(entity, str) or not entity:
        raise EventError(
            "CDC header has no entityName",
            reason="missing_field",
            input="ChangeEventHeader.entityName",
        )
    if "commitTimestamp" not in header:
        raise EventError(
            "CDC header has no commitTimestamp",
            reason="missing_field",
            input="ChangeEventHeader.commitTimestamp",
        )
    event_ts = parse_timestamp(header["commitTimestamp"], field="commitTimestamp")
    commit = _as_int(header.get("commitNumber"), "commitNumber")
    sequence = _as_int(header.get("sequenceNumber"), "sequenceNumber")
    replay_key = str(replay) if replay not in (None, "") else None
    if replay_key is None and commit is None:
        raise EventError(
            "CDC event has neither a replay id nor a commitNumber",
            reason="missing_field",
            input="ChangeEventHeader.commitNumber",
        )
    if replay_key is None:
        replay_key = commit_replay_key(commit, sequence)
    record_ids = header.get("recordIds") or []
    if not isinstance(record_ids, list):
        raise EventError(
            "CDC recordIds is not a list", reason="bad_field", input=repr(record_ids)[:60]
        )
    if not record_ids:
        if change != "GAP_OVERFLOW":
            raise EventError(
                "CDC event names no recordIds",
                reason="missing_field",
                input="ChangeEventHeader.recordIds",
            )
        record_ids = [WILDCARD_RECORD]
    type_ = cdc_type(entity, change)
    correlation = header.get("transactionKey")
    return [
        Envelope.model_construct(
            source="salesforce",
            type=type_,
            event_ts=event_ts,
            event_id=cdc_event_id(record_id, replay_key),
            correlation_id=correlation if isinstance(correlation, str) else None,
            payload=obj,
        )
        for record_id in dict.fromkeys(str(r) for r in record_ids)
    ]


def commit_replay_key(commit: int, sequence: int | None) -> str:
    """The replay key of an event without a replay id: its commit number, with the sequence
    number of the records after the first one of a transaction."""
    return str(commit) + (f".{sequence}" if sequence and sequence > 1 else "")


def cdc_type(entity: str, change: str) -> str:
    """The envelope type of a change event: ``salesforce.<object>.<action>``."""
    return f"salesforce.{entity.lower().removesuffix('changeevent')}.{CHANGE_ACTIONS[change]}"


def cdc_event_id(record_id: str, replay_key: str) -> str:
    """The event id of one record of a change event (one envelope per record id)."""
    return f"salesforce:{record_id}:{replay_key}"


def record_id_of(event_id: str) -> str:
    """The Salesforce record id inside a CDC ``event_id``."""
    parts = event_id.split(":")
    return parts[1] if len(parts) >= 3 else ""
