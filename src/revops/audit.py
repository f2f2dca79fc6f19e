"""Audit trail: a row in ``audit_events`` for every receive, load, transform, check, report,
notification and failure."""

from __future__ import annotations

import getpass
import os
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import orjson

if TYPE_CHECKING:
    from revops.warehouse.base import Warehouse

AUDIT_COLUMNS = ("at", "actor", "resource", "action", "status", "request_id", "event_id", "detail")


def default_actor() -> str:
    """Who is acting: ``REVOPS_ACTOR`` if set, else the OS user."""
    actor = os.environ.get("REVOPS_ACTOR")
    if actor:
        return actor
    try:
        return getpass.getuser()
    except Exception:
        return "revops"


@dataclass(frozen=True)
class AuditEvent:
    """One audit row; ``detail`` is JSON-serialisable and must hold no secrets."""

    actor: str
    resource: str
    action: str
    status: str
    request_id: str | None = None
    event_id: str | None = None
    detail: Any = None
    at: datetime | None = None

    def row(self) -> tuple[Any, ...]:
        """The row in :data:`AUDIT_COLUMNS` order."""
        detail = None if self.detail is None else orjson.dumps(self.detail, default=str).decode()
        return (
            self.at or datetime.now(UTC),
            self.actor,
            self.resource,
            self.action,
            self.status,
            self.request_id,
            self.event_id,
            detail,
        )


def record(wh: Warehouse, *events: AuditEvent) -> None:
    """Append audit rows (in the caller's transaction when there is one)."""
    record_many(wh, events)


def record_many(wh: Warehouse, events: Iterable[AuditEvent]) -> None:
    """Append many audit rows in one bulk insert."""
    rows = [e.row() for e in events]
    if rows:
        wh.insert_rows("revops.audit_events", AUDIT_COLUMNS, rows)


def audit(
    wh: Warehouse,
    resource: str,
    action: str,
    status: str,
    *,
    actor: str | None = None,
    request_id: str | None = None,
    event_id: str | None = None,
    detail: Any = None,
) -> None:
    """Append one audit row."""
    record(
        wh,
        AuditEvent(
            actor or default_actor(), resource, action, status, request_id, event_id, detail
        ),
    )
