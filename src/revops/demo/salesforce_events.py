"""Salesforce Change Data Capture events for the demo, in the streaming (CometD) JSON form."""

from __future__ import annotations

from datetime import datetime
from typing import Any

OPPORTUNITY_FIELDS = ("Name", "AccountId", "Amount", "CurrencyIsoCode", "StageName", "CloseDate")


class CdcClock:
    """Hands out increasing replay ids and commit numbers (beyond 2^53, like a real org)."""

    def __init__(self, seed: int) -> None:
        self.replay = 10_000 + seed * 1000
        self.commit = 2**53 + 1_000_003 * (seed + 1)

    def next(self) -> tuple[int, int]:
        """(replay id, commit number) of the next event."""
        self.replay += 1
        self.commit += 7919
        return self.replay, self.commit


def _ms(ts: datetime) -> int:
    return int(ts.timestamp() * 1000)


def opportunity_event(
    clock: CdcClock,
    change_type: str,
    record_id: str,
    at: datetime,
    fields: dict[str, Any],
    *,
    user: str = "005xx000001Sv6AAAS",
) -> dict[str, Any]:
    """One CDC event for an Opportunity: CREATE carries every field, UPDATE only the changed
    ones (unchanged fields are null, as Salesforce sends them)."""
    replay, commit = clock.next()
    changed = sorted(fields) + (["LastModifiedDate"] if change_type == "UPDATE" else [])
    payload: dict[str, Any] = {
        "ChangeEventHeader": {
            "entityName": "Opportunity",
            "recordIds": [record_id],
            "changeType": change_type,
            "changeOrigin": "com/salesforce/api/soap/61.0;client=SfdcInternalAPI/",
            "transactionKey": f"000{replay:x}-{commit % 10**6:06d}",
            "sequenceNumber": 1,
            "commitTimestamp": _ms(at),
            "commitNumber": commit,
            "commitUser": user,
            "changedFields": changed if change_type == "UPDATE" else [],
            "nulledFields": [],
            "diffFields": [],
        },
    }
    for name in OPPORTUNITY_FIELDS:
        payload[name] = fields.get(name) if change_type in ("CREATE", "UPDATE") else None
    payload["LastModifiedDate"] = at.isoformat().replace("+00:00", "Z")
    if change_type == "CREATE":
        payload["CreatedDate"] = payload["LastModifiedDate"]
    return {
        "schema": "IeRuaY6cbI_HsV8Rv1Mc5g",
        "payload": payload,
        "event": {"replayId": replay},
    }
