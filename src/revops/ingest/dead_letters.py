"""Dead letters: what could not be processed, kept with its raw bytes and the reason.

Bodies are bounded (``MAX_BODY_BYTES``); a longer body is cut and ``detail.truncated`` says so,
with its original size.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import orjson

from revops.audit import AuditEvent, default_actor, record

if TYPE_CHECKING:
    from revops.warehouse.base import Warehouse

MAX_BODY_BYTES = 1024 * 1024
DEAD_LETTER_COLUMNS = ("id", "received_at", "source", "reason", "body", "detail")


def dead_letter(
    wh: Warehouse,
    source: str,
    reason: str,
    body: bytes | str | None,
    detail: dict[str, Any] | None = None,
    *,
    actor: str | None = None,
    request_id: str | None = None,
) -> int:
    """Store one dead letter and its audit row; returns the dead letter's id."""
    return dead_letter_many(
        wh, [(source, reason, body, detail)], actor=actor, request_id=request_id
    )[0]


def dead_letter_many(
    wh: Warehouse,
    letters: list[tuple[str, str, bytes | str | None, dict[str, Any] | None]],
    *,
    actor: str | None = None,
    request_id: str | None = None,
) -> list[int]:
    """Store several dead letters (source, reason, body, detail) in one transaction."""
    if not letters:
        return []
    now = datetime.now(UTC)
    rows = []
    audits = []
    with wh.transaction():
        for source, reason, body, detail in letters:
            raw = body.encode("utf-8", "surrogateescape") if isinstance(body, str) else body
            info = dict(detail or {})
            if raw is not None:
                info["size"] = len(raw)
                if len(raw) > MAX_BODY_BYTES:
                    raw = raw[:MAX_BODY_BYTES]
                    info["truncated"] = True
            letter_id = int(wh.query_value("SELECT nextval('revops.dead_letters_id_seq')"))
            rows.append(
                (letter_id, now, source, reason, raw, orjson.dumps(info, default=str).decode())
            )
            audits.append(
                AuditEvent(
                    actor or default_actor(),
                    "dead_letters",
                    "dead_letter",
                    "failed",
                    request_id,
                    None,
                    {"id": letter_id, "source": source, "reason": reason},
                )
            )
        wh.insert_rows("revops.dead_letters", DEAD_LETTER_COLUMNS, rows)
        record(wh, *audits)
    return [r[0] for r in rows]
