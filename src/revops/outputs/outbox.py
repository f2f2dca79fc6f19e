"""The notification outbox: at most one message per key, sent after the fact it reports.

``enqueue`` inserts a row keyed by e.g. ``<rule>:<event_id>`` or ``<run_id>:<kind>``; a second
enqueue of the same key is a no-op, so redeliveries never notify twice. ``deliver_pending``
sends what is due through a sender per channel and retries failures with exponential backoff;
a failing channel never raises into the caller. ``resend`` re-queues sent messages on demand.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import orjson

from revops.audit import AuditEvent, record

if TYPE_CHECKING:
    from revops.warehouse.base import Warehouse

Sender = Callable[[dict[str, Any]], None]
OUTBOX_COLUMNS = (
    "key",
    "channel",
    "kind",
    "payload",
    "status",
    "attempts",
    "created_at",
    "next_attempt_at",
)
MAX_ATTEMPTS = 8
BASE_BACKOFF_S = 2.0
MAX_BACKOFF_S = 600.0


@dataclass(frozen=True)
class DeliveryReport:
    """What one :func:`deliver_pending` pass did."""

    sent: int
    failed: int
    gave_up: int


def enqueue(wh: Warehouse, key: str, channel: str, kind: str, payload: Mapping[str, Any]) -> bool:
    """Queue one message; returns False when ``key`` was already queued (nothing changes)."""
    now = datetime.now(UTC)
    n = wh.execute(
        "INSERT INTO revops.notifications_outbox "
        "(key, channel, kind, payload, status, attempts, created_at, next_attempt_at) "
        "VALUES (?, ?, ?, ?, 'pending', 0, ?, ?) ON CONFLICT (key) DO NOTHING",
        (key, channel, kind, orjson.dumps(dict(payload), default=str).decode(), now, now),
    )
    return n != 0


def backoff(attempts: int) -> timedelta:
    """Delay before the next try after ``attempts`` failures (exponential, capped)."""
    return timedelta(seconds=min(MAX_BACKOFF_S, BASE_BACKOFF_S * 2 ** max(0, attempts - 1)))


def deliver_pending(
    wh: Warehouse,
    senders: Mapping[str, Sender],
    *,
    now: datetime | None = None,
    limit: int = 100,
    max_attempts: int = MAX_ATTEMPTS,
) -> DeliveryReport:
    """Send every due message whose channel has a sender; never raises for a failed send."""
    now = now or datetime.now(UTC)
    rows = wh.query(
        "SELECT key, channel, kind, payload, attempts FROM revops.notifications_outbox "
        "WHERE status IN ('pending', 'retrying') AND next_attempt_at <= ? "
        "ORDER BY created_at, key LIMIT ?",
        (now, limit),
    )
    sent = failed = gave_up = 0
    for row in rows:
        sender = senders.get(row["channel"])
        if sender is None:
            continue
        attempts = int(row["attempts"]) + 1
        try:
            sender(orjson.loads(row["payload"]))
        except Exception as exc:
            status = "failed" if attempts >= max_attempts else "retrying"
            gave_up += status == "failed"
            failed += 1
            error = f"{type(exc).__name__}: {exc}"[:500]
            wh.execute(
                "UPDATE revops.notifications_outbox SET status = ?, attempts = ?, "
                "next_attempt_at = ?, last_error = ? WHERE key = ?",
                (status, attempts, now + backoff(attempts), error, row["key"]),
            )
            record(
                wh,
                AuditEvent(
                    "notifier",
                    f"notify:{row['channel']}",
                    row["kind"],
                    status,
                    None,
                    None,
                    {"key": row["key"], "attempt": attempts, "error": error},
                ),
            )
            continue
        sent += 1
        wh.execute(
            "UPDATE revops.notifications_outbox SET status = 'sent', attempts = ?, sent_at = ?, "
            "last_error = NULL WHERE key = ?",
            (attempts, datetime.now(UTC), row["key"]),
        )
        record(
            wh,
            AuditEvent(
                "notifier",
                f"notify:{row['channel']}",
                row["kind"],
                "sent",
                None,
                None,
                {"key": row["key"], "attempt": attempts},
            ),
        )
    return DeliveryReport(sent, failed, gave_up)


def resend(wh: Warehouse, *, since: datetime, kind: str | None = None) -> int:
    """Queue again the messages created at or after ``since``; returns how many."""
    sql = (
        "UPDATE revops.notifications_outbox SET status = 'pending', attempts = 0, "
        "next_attempt_at = ?, last_error = NULL WHERE created_at >= ?"
    )
    params: list[Any] = [datetime.now(UTC), since]
    if kind:
        sql += " AND kind = ?"
        params.append(kind)
    return max(0, wh.execute(sql, params))


def backlog(wh: Warehouse) -> dict[str, int]:
    """Count of messages by status."""
    rows = wh.query(
        "SELECT status, count(*) AS n FROM revops.notifications_outbox "
        "GROUP BY status ORDER BY status"
    )
    return {r["status"]: int(r["n"]) for r in rows}


def slack_sender(webhook_url: str, *, timeout: float = 10.0) -> Sender:
    """A sender posting ``{"text", "blocks"}`` payloads to a Slack incoming webhook
    (slack_sdk's WebhookClient); raises on any non-200 answer."""
    from slack_sdk.webhook import WebhookClient

    client = WebhookClient(webhook_url, timeout=int(timeout))

    def send(payload: dict[str, Any]) -> None:
        resp = client.send(text=payload.get("text", ""), blocks=payload.get("blocks"))
        if resp.status_code != 200:
            raise RuntimeError(f"Slack answered {resp.status_code}: {str(resp.body)[:200]}")

    return send
