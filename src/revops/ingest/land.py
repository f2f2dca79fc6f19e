"""Landing envelopes in ``events_raw``: append-only, deduplicated on ``event_id`` forever.

A second delivery of an event adds no row and is counted as a duplicate. Each call is one
transaction: either the whole batch lands (with its audit row) or nothing does. Rows get a
monotonically increasing ``raw_seq`` under a writer lock, so the transforms' watermark never
skips a row committed late.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import orjson

from revops.audit import AuditEvent, default_actor, record
from revops.envelope import Envelope

if TYPE_CHECKING:
    from revops.warehouse.base import Warehouse

RAW_COLUMNS = (
    "event_id",
    "source",
    "type",
    "event_ts",
    "payload",
    "correlation_id",
    "inserted_at",
    "raw_seq",
)
SEQ_STATE = "events_raw.seq"
LOCK_NAME = "revops.events_raw"


@dataclass(frozen=True)
class LandItem:
    """An envelope and, when known, its payload exactly as received.

    ``payload_text`` is the received JSON as text, or as its UTF-8 bytes when it came from a
    file or a socket: bytes are handed to the warehouse without a Python decode (DuckDB takes
    them through Arrow, which checks the UTF-8 in one vectorised pass).
    """

    envelope: Envelope
    payload_text: str | bytes | None = None

    def payload_json(self) -> str:
        """The payload as JSON text (the received text when there is one)."""
        if isinstance(self.payload_text, bytes):
            return self.payload_text.decode("utf-8")
        if self.payload_text is not None:
            return self.payload_text
        return orjson.dumps(self.envelope.payload).decode()

    def payload_utf8(self) -> bytes:
        """The payload as UTF-8 JSON bytes (the received bytes when there are some)."""
        if isinstance(self.payload_text, bytes):
            return self.payload_text
        if self.payload_text is not None:
            return self.payload_text.encode("utf-8")
        return orjson.dumps(self.envelope.payload)


@dataclass
class LandResult:
    """Which event ids landed new and which were duplicates, in input order."""

    new: list[str] = field(default_factory=list)
    duplicates: list[str] = field(default_factory=list)

    def merge(self, other: LandResult) -> None:
        """Add ``other``'s ids to this result."""
        self.new.extend(other.new)
        self.duplicates.extend(other.duplicates)


def _existing(wh: Warehouse, ids: list[str]) -> set[str]:
    found: set[str] = set()
    for start in range(0, len(ids), 10_000):
        chunk = ids[start : start + 10_000]
        rows = wh.query(
            "SELECT event_id FROM revops.events_raw "
            "WHERE event_id IN (SELECT unnest(CAST(? AS VARCHAR[])))",
            (chunk,),
        )
        found.update(r["event_id"] for r in rows)
    return found


def reserve_seq(wh: Warehouse, n: int) -> int:
    """Reserve ``n`` consecutive ``raw_seq`` values; returns the first. Call under the lock."""
    wh.execute(
        "INSERT INTO revops.transform_state (name, watermark, updated_at) VALUES (?, 0, ?) "
        "ON CONFLICT (name) DO NOTHING",
        (SEQ_STATE, datetime.now(UTC)),
    )
    rows = wh.query(
        "UPDATE revops.transform_state SET watermark = watermark + ?, updated_at = ? "
        "WHERE name = ? RETURNING watermark",
        (n, datetime.now(UTC), SEQ_STATE),
    )
    return int(rows[0]["watermark"]) - n + 1


def _insert_raw(wh: Warehouse, fresh: list[LandItem], first: int, now: datetime) -> None:
    """Append ``fresh`` to events_raw with ``raw_seq`` from ``first``.

    Where the adapter takes Arrow (DuckDB) the columns are built typed and column by column:
    inferring types row by row and decoding each payload to a Python string cost more than
    the insert itself (measured)."""
    insert_arrow = getattr(wh, "insert_arrow", None)
    if insert_arrow is None:
        rows = [
            (
                i.envelope.event_id,
                i.envelope.source,
                i.envelope.type,
                i.envelope.event_ts,
                i.payload_json(),
                i.envelope.correlation_id,
                now,
                first + n,
            )
            for n, i in enumerate(fresh)
        ]
        wh.insert_rows("revops.events_raw", RAW_COLUMNS, rows)
        return
    import pyarrow as pa

    envs = [i.envelope for i in fresh]
    ts = pa.timestamp("us", tz="UTC")
    table = pa.table(
        {
            "event_id": pa.array([e.event_id for e in envs], pa.string()),
            "source": pa.array([e.source for e in envs], pa.string()),
            "type": pa.array([e.type for e in envs], pa.string()),
            "event_ts": pa.array([e.event_ts for e in envs], ts),
            "payload": pa.array([i.payload_utf8() for i in fresh], pa.binary()).cast(pa.string()),
            "correlation_id": pa.array([e.correlation_id for e in envs], pa.string()),
            "inserted_at": pa.array([now] * len(envs), ts),
            "raw_seq": pa.array(range(first, first + len(envs)), pa.int64()),
        }
    )
    insert_arrow("revops.events_raw", table)


def land_envelopes(
    wh: Warehouse,
    items: Sequence[LandItem | Envelope],
    *,
    actor: str | None = None,
    request_id: str | None = None,
    audit: bool = True,
) -> LandResult:
    """Append the new envelopes of ``items`` to ``events_raw`` in one transaction.

    Idempotent: ids already in ``events_raw`` (or earlier in the same batch) are returned as
    duplicates and not written again.
    """
    result = LandResult()
    if not items:
        return result
    lands = [i if isinstance(i, LandItem) else LandItem(i) for i in items]
    with wh.transaction(lock=LOCK_NAME):
        ids = list(dict.fromkeys(i.envelope.event_id for i in lands))
        existing = _existing(wh, ids)
        fresh: list[LandItem] = []
        seen: set[str] = set()
        for item in lands:
            eid = item.envelope.event_id
            if eid in existing or eid in seen:
                result.duplicates.append(eid)
            else:
                seen.add(eid)
                fresh.append(item)
                result.new.append(eid)
        if fresh:
            _insert_raw(wh, fresh, reserve_seq(wh, len(fresh)), datetime.now(UTC))
        if audit:
            record(
                wh,
                AuditEvent(
                    actor or default_actor(),
                    "events_raw",
                    "land",
                    "ok",
                    request_id,
                    result.new[0] if len(result.new) == 1 else None,
                    {"new": len(result.new), "duplicates": len(result.duplicates)},
                ),
            )
    return result
