"""Salesforce opportunity events → typed ``stg_opportunity`` rows.

Change Data Capture events carry only what changed: ``set_fields`` names the fact columns an
event sets (CREATE: all; UPDATE: ``changedFields`` ∪ ``nulledFields``; DELETE / UNDELETE:
``is_deleted``, plus what an UNDELETE carries; GAP_* / GAP_OVERFLOW: nothing). The seed's flat
``salesforce.opportunity.updated`` payload sets the keys it carries.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from revops.errors import EventError
from revops.sources.salesforce import cdc_header, record_id_of
from revops.transform.money import as_decimal

# Salesforce field → fact_opportunity column.
CDC_FIELDS = {
    "Name": "opportunity_name",
    "AccountId": "account_id",
    "Amount": "amount",
    "CurrencyIsoCode": "currency",
    "StageName": "stage_name",
    "CloseDate": "close_date",
}
FACT_FIELDS = (
    "account_id",
    "opportunity_name",
    "amount",
    "currency",
    "stage_name",
    "close_date",
    "is_deleted",
)
GAP_TYPES = ("GAP_CREATE", "GAP_UPDATE", "GAP_DELETE", "GAP_UNDELETE", "GAP_OVERFLOW")


def parse_close_date(value: Any) -> date | None:
    """A Salesforce date: ``YYYY-MM-DD`` text, or days since 1970-01-01 (Pub/Sub API)."""
    if value is None or value == "" or isinstance(value, bool):
        return None
    if isinstance(value, int):
        return date(1970, 1, 1) + timedelta(days=value)
    try:
        return date.fromisoformat(str(value)[:10])
    except ValueError:
        return None


def _field_names(value: Any) -> list[str] | None:
    """Field names of changedFields / nulledFields; None when absent or bitmap-encoded."""
    if not isinstance(value, list):
        return None
    names = [str(v).split(".", 1)[0] for v in value if isinstance(v, str)]
    if any(n.startswith("0x") for n in names):
        return None  # Pub/Sub API bitmaps: decoding needs the schema, fall back to values
    return names


def _value(column: str, raw: Any) -> Any:
    if column == "amount":
        return as_decimal(raw)
    if column == "close_date":
        return parse_close_date(raw)
    if column == "currency":
        return str(raw).upper() if raw else None
    return str(raw) if raw not in (None, "") else None


def cdc_row(event_id: str, payload: dict[str, Any]) -> dict[str, Any]:
    """The staging columns of one CDC envelope (one record of the event)."""
    body, header, _ = cdc_header(payload)
    change = str(header.get("changeType") or "").upper()
    record = record_id_of(event_id) or str((header.get("recordIds") or ["*"])[0])
    values: dict[str, Any] = {c: None for c in FACT_FIELDS}
    present = [f for f in CDC_FIELDS if body.get(f) is not None]
    if change == "CREATE":
        sets = list(FACT_FIELDS)
        values["is_deleted"] = False
    elif change == "UPDATE":
        changed = _field_names(header.get("changedFields"))
        nulled = _field_names(header.get("nulledFields")) or []
        names = (changed if changed is not None else present) + nulled
        sets = [CDC_FIELDS[n] for n in dict.fromkeys(names) if n in CDC_FIELDS]
    elif change == "DELETE":
        sets, values["is_deleted"] = ["is_deleted"], True
    elif change == "UNDELETE":
        sets = ["is_deleted", *(CDC_FIELDS[f] for f in present)]
        values["is_deleted"] = False
    else:
        sets = []
    nulled_set = set(_field_names(header.get("nulledFields")) or [])
    for field, column in CDC_FIELDS.items():
        if column in sets and field not in nulled_set:
            values[column] = _value(column, body.get(field))
    return {
        "opportunity_id": record,
        "change_type": change,
        "changed_fields": header.get("changedFields") if change == "UPDATE" else None,
        "source_seq": _int(header.get("commitNumber")),
        "source_subseq": _int(header.get("sequenceNumber")),
        "set_fields": sets,
        "entity": str(header.get("entityName") or "Opportunity"),
        **values,
    }


def flat_row(payload: dict[str, Any]) -> dict[str, Any]:
    """The staging columns of the seed's flat opportunity payload."""
    record = payload.get("opportunity_id") or payload.get("Id") or payload.get("id")
    if not isinstance(record, str) or not record:
        raise EventError(
            "opportunity event has no opportunity_id",
            reason="missing_field",
            input="payload.opportunity_id",
        )
    values = {c: _value(c, payload.get(c)) for c in FACT_FIELDS if c != "is_deleted"}
    deleted = payload.get("is_deleted")
    values["is_deleted"] = deleted if isinstance(deleted, bool) else None
    sets = [
        c
        for c in FACT_FIELDS
        if c in payload and (c != "is_deleted" or values["is_deleted"] is not None)
    ]
    return {
        "opportunity_id": record,
        "change_type": "SNAPSHOT",
        "changed_fields": None,
        "source_seq": _int(payload.get("sequence")),
        "source_subseq": None,
        "set_fields": sets,
        "entity": "Opportunity",
        **values,
    }


def is_cdc_payload(payload: dict[str, Any]) -> bool:
    """True when the payload is a Change Data Capture message."""
    try:
        cdc_header(payload)
    except EventError:
        return False
    return True


def _int(value: Any) -> int | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return None
