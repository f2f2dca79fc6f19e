"""Dead letters as an operator sees them: list, show, replay.

Replaying reads a dead letter's bytes again with the parser of the endpoint (or file ingest)
that rejected it; when they now parse, the events land through the loader's path (dedupe,
notifications, audit) and the letter is marked ``replayed_at``, all in one transaction.
Replaying is idempotent: a letter replayed twice lands nothing new the second time.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import orjson

from revops.audit import AuditEvent, record
from revops.errors import EventError, UsageError
from revops.ingest.land import LOCK_NAME, LandItem, land_envelopes
from revops.ingest.receiver import (
    NDJSON_TYPES,
    Parsed,
    Rejection,
    TypeFilter,
    media_type,
    parse_events,
    parse_salesforce,
    parse_stripe,
)

if TYPE_CHECKING:
    from revops.notify.rules import NotifyRule
    from revops.warehouse.base import Warehouse

EVERYTHING = TypeFilter(["*"])


@dataclass
class ReplayReport:
    """Which letters replayed (with the events they landed) and which still fail, and why."""

    replayed: list[int] = field(default_factory=list)
    failed: dict[int, str] = field(default_factory=dict)
    new: int = 0
    duplicates: int = 0

    def rows(self) -> list[dict[str, Any]]:
        """One row per letter for rendering."""
        out: list[dict[str, Any]] = [
            {"id": i, "result": "replayed", "reason": None} for i in self.replayed
        ]
        out += [{"id": i, "result": "failed", "reason": r} for i, r in self.failed.items()]
        return sorted(out, key=lambda r: r["id"])


def list_dead_letters(
    wh: Warehouse, *, limit: int = 100, source: str | None = None, include_replayed: bool = False
) -> list[dict[str, Any]]:
    """The newest dead letters first: id, time, source, reason, size, replayed_at."""
    sql = (
        "SELECT id, received_at, source, reason, octet_length(body) AS size, replayed_at "
        "FROM revops.dead_letters WHERE (? OR replayed_at IS NULL) "
        "AND (CAST(? AS VARCHAR) IS NULL OR source = ?) ORDER BY id DESC LIMIT ?"
    )
    return wh.query(sql, (include_replayed, source, source, limit))


def show_dead_letter(wh: Warehouse, letter_id: int) -> dict[str, Any]:
    """One dead letter with its detail decoded and its body as text (bytes kept as is)."""
    rows = wh.query(
        "SELECT id, received_at, source, reason, detail, replayed_at, body "
        "FROM revops.dead_letters WHERE id = ?",
        (letter_id,),
    )
    if not rows:
        raise UsageError(
            f"no dead letter {letter_id}",
            input=str(letter_id),
            hint="list them with: revops dlq list",
        )
    row = rows[0]
    row["detail"] = orjson.loads(row["detail"]) if row["detail"] else {}
    row["body"] = bytes(row["body"]) if row["body"] is not None else b""
    return row


def parse_letter(source: str, body: bytes, detail: dict[str, Any]) -> list[LandItem]:
    """The land items in a dead letter's bytes; raises :class:`EventError` when they still do
    not parse."""
    from revops.ingest.files import parse_line
    from revops.ingest.loader import land_item

    endpoint = detail.get("endpoint")
    try:
        parsed: Parsed
        if endpoint == "/webhooks/stripe":
            parsed = parse_stripe(body, EVERYTHING)
        elif endpoint == "/webhooks/salesforce":
            parsed = parse_salesforce(body, EVERYTHING)
        elif endpoint == "/events":
            kind = media_type(detail.get("content_type"))
            parsed = parse_events(
                body, kind if kind in NDJSON_TYPES else "application/json", EVERYTHING
            )
        else:
            hint = source if source in ("stripe", "salesforce", "envelope") else None
            return parse_line(body, hint)  # type: ignore[arg-type]
    except Rejection as rej:
        raise EventError(rej.message, reason=rej.reason) from rej
    return [land_item(m) for m in parsed.messages]


def replay(
    wh: Warehouse,
    ids: Sequence[int] | None = None,
    *,
    rules: Sequence[NotifyRule] = (),
    actor: str = "dlq",
) -> ReplayReport:
    """Replay the letters ``ids`` (None: every letter not yet replayed)."""
    if ids is None:
        ids = [
            int(r["id"])
            for r in wh.query(
                "SELECT id FROM revops.dead_letters WHERE replayed_at IS NULL ORDER BY id"
            )
        ]
    report = ReplayReport()
    for letter_id in ids:
        _replay_one(wh, int(letter_id), rules, actor, report)
    return report


def _replay_one(
    wh: Warehouse, letter_id: int, rules: Sequence[NotifyRule], actor: str, report: ReplayReport
) -> None:
    from revops.notify.rules import enqueue_notifications

    letter = show_dead_letter(wh, letter_id)
    try:
        items = parse_letter(letter["source"], letter["body"], letter["detail"])
    except EventError as exc:
        report.failed[letter_id] = f"{exc.reason}: {exc.message}"[:300]
        return
    with wh.transaction(lock=LOCK_NAME):
        landed = land_envelopes(wh, items, actor=actor)
        fresh = set(landed.new)
        if rules:
            enqueue_notifications(wh, rules, [i for i in items if i.envelope.event_id in fresh])
        wh.execute(
            "UPDATE revops.dead_letters SET replayed_at = ? WHERE id = ?",
            (datetime.now(UTC), letter_id),
        )
        record(
            wh,
            AuditEvent(
                actor,
                "dead_letters",
                "replay",
                "ok",
                None,
                None,
                {"id": letter_id, "new": len(landed.new), "duplicates": len(landed.duplicates)},
            ),
        )
    report.replayed.append(letter_id)
    report.new += len(landed.new)
    report.duplicates += len(landed.duplicates)
