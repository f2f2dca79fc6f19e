"""Landing envelopes in ``events_raw``: append-only, deduplicated on ``event_id`` forever.

A second delivery of an event adds no row and is counted as a duplicate. Each batch is one
transaction: either the whole batch lands (with its audit row) or nothing does. Rows get a
monotonically increasing ``raw_seq`` under a writer lock, so the transforms' watermark never
skips a row committed late.

Rows travel column by column (:class:`RawRows`): no object per event, event times as integer
microseconds, payloads as their UTF-8 bytes. DuckDB takes them as a typed Arrow table,
PostgreSQL as a binary ``COPY`` built from the same columns.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import orjson

from revops.audit import AuditEvent, default_actor, record
from revops.envelope import Envelope
from revops.ingest.native_lines import binary_array, from_micros, invalid_utf8, micros

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
    file or a socket: bytes are handed to the warehouse without a Python decode.
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
class RawRows:
    """Rows for ``events_raw`` column by column, in input order (without the columns landing
    fills in: ``inserted_at`` and ``raw_seq``).

    ``event_ts`` holds microseconds since the Unix epoch; ``payload`` UTF-8 JSON bytes, known
    to be valid UTF-8 when ``checked`` (otherwise checked when inserted). ``payload_parts``,
    when set, are Arrow ``large_binary`` arrays whose concatenation is ``payload`` (built
    while the lines were hot in the reader's cache; the Arrow insert takes them as they are).
    """

    event_id: list[str] = field(default_factory=list)
    source: list[str] = field(default_factory=list)
    type: list[str] = field(default_factory=list)
    event_ts: list[int] = field(default_factory=list)
    payload: list[bytes] = field(default_factory=list)
    correlation_id: list[str | None] = field(default_factory=list)
    checked: bool = True
    payload_parts: list[Any] | None = None

    def __len__(self) -> int:
        return len(self.event_id)

    def tuples(self) -> Iterator[tuple[str, str, str, int, bytes, str | None]]:
        """(event_id, source, type, event_ts, payload, correlation_id) row by row."""
        return zip(
            self.event_id,
            self.source,
            self.type,
            self.event_ts,
            self.payload,
            self.correlation_id,
            strict=True,
        )

    def append(
        self,
        event_id: str,
        source: str,
        type_: str,
        event_ts: int,
        payload: bytes,
        correlation_id: str | None,
    ) -> None:
        """Add one row."""
        self.event_id.append(event_id)
        self.source.append(source)
        self.type.append(type_)
        self.event_ts.append(event_ts)
        self.payload.append(payload)
        self.correlation_id.append(correlation_id)

    def add_item(self, item: LandItem) -> None:
        """Add the row of a land item (its payload is checked on insert if it came as bytes)."""
        env = item.envelope
        if isinstance(item.payload_text, bytes):
            self.checked = False
        self.append(
            env.event_id,
            env.source,
            env.type,
            micros(env.event_ts),
            item.payload_utf8(),
            env.correlation_id,
        )

    def extend(self, other: RawRows) -> None:
        """Add ``other``'s rows after these."""
        if self.payload_parts is not None and other.payload_parts is not None:
            self.payload_parts.extend(other.payload_parts)
        else:
            self.payload_parts = None
        self.event_id.extend(other.event_id)
        self.source.extend(other.source)
        self.type.extend(other.type)
        self.event_ts.extend(other.event_ts)
        self.payload.extend(other.payload)
        self.correlation_id.extend(other.correlation_id)
        self.checked = self.checked and other.checked

    @classmethod
    def of_items(cls, items: Sequence[LandItem]) -> RawRows:
        """The rows of ``items``."""
        rows = cls()
        for item in items:
            rows.add_item(item)
        return rows

    def take(self, positions: list[int]) -> RawRows:
        """The rows at ``positions``, in that order."""
        return RawRows(
            [self.event_id[i] for i in positions],
            [self.source[i] for i in positions],
            [self.type[i] for i in positions],
            [self.event_ts[i] for i in positions],
            [self.payload[i] for i in positions],
            [self.correlation_id[i] for i in positions],
            self.checked,
        )


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
    return _advance_seq(wh, n)


def _advance_seq(wh: Warehouse, n: int) -> int:
    """:func:`reserve_seq` once its state row exists (as it does after the first call in a
    transaction)."""
    rows = wh.query(
        "UPDATE revops.transform_state SET watermark = watermark + ?, updated_at = ? "
        "WHERE name = ? RETURNING watermark",
        (n, datetime.now(UTC), SEQ_STATE),
    )
    return int(rows[0]["watermark"]) - n + 1


class BatchLander:
    """Lands rows chunk by chunk inside one transaction that the caller holds (with the
    writer lock :data:`LOCK_NAME`); ids seen in an earlier chunk are duplicates too.

    With ``check_existing`` false the ids are not looked up in ``events_raw`` first: a
    stored id then makes the insert fail with :class:`ConstraintViolation` (the transaction
    is lost) and the caller lands the batch again with the lookup. Fresh data, the bulk of
    any load, is spared a lookup per chunk (on DuckDB a scan of every stored id). Call
    :meth:`close` before the transaction commits.
    """

    def __init__(self, wh: Warehouse, *, check_existing: bool = True) -> None:
        self.wh = wh
        self.check_existing = check_existing
        self.result = LandResult()
        self.now = datetime.now(UTC)
        self._seen: set[str] = set()
        self._next_seq: int | None = None
        self._unwritten = 0

    def add(self, rows: RawRows) -> None:
        """Append the rows of ``rows`` that are new to ``events_raw`` and to this batch."""
        if not rows:
            return
        ids = rows.event_id
        distinct = set(ids)
        existing = _existing(self.wh, list(dict.fromkeys(ids))) if self.check_existing else set()
        seen, new, duplicates = self._seen, self.result.new, self.result.duplicates
        if not existing and len(distinct) == len(ids) and seen.isdisjoint(distinct):
            seen |= distinct  # all new: the common case, without a step per event
            new.extend(ids)
            keep = rows
        else:
            fresh: list[int] = []
            for n, eid in enumerate(ids):
                if eid in existing or eid in seen:
                    duplicates.append(eid)
                else:
                    seen.add(eid)
                    fresh.append(n)
                    new.append(eid)
            if not fresh:
                return
            keep = rows if len(fresh) == len(rows) else rows.take(fresh)
        _insert_raw(self.wh, keep, self._reserve(len(keep)), self.now)

    def _reserve(self, n: int) -> int:
        # The first chunk reserves its values in transform_state; later chunks continue
        # from there and close() records them in one statement (the lock is held).
        if self._next_seq is None:
            first = reserve_seq(self.wh, n)
        else:
            first = self._next_seq
            self._unwritten += n
        self._next_seq = first + n
        return first

    def close(self, *, actor: str | None, request_id: str | None, audit: bool = True) -> None:
        """Record the reserved ``raw_seq`` values and the batch's audit row (new and
        duplicate counts) unless ``audit`` is false."""
        if self._unwritten:
            _advance_seq(self.wh, self._unwritten)
            self._unwritten = 0
        if not audit:
            return
        result = self.result
        record(
            self.wh,
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


def _insert_raw(wh: Warehouse, rows: RawRows, first: int, now: datetime) -> None:
    """Append ``rows`` to events_raw with ``raw_seq`` from ``first``, through the engine's
    bulk path: a typed Arrow table (DuckDB) or a binary COPY (PostgreSQL); inferring types
    row by row and decoding each payload to a Python string cost more than the insert itself
    (measured)."""
    insert_arrow = getattr(wh, "insert_arrow", None)
    copy_binary = getattr(wh, "copy_binary", None)
    if insert_arrow is not None:
        insert_arrow("revops.events_raw", _arrow_table(rows, first, now))
    elif copy_binary is not None:
        if not rows.checked:
            _check_utf8(rows.payload)
        copy_binary("revops.events_raw", RAW_COLUMNS, _pg_binary_copy(rows, first, now))
    else:
        if not rows.checked:
            _check_utf8(rows.payload)
        wh.insert_rows(
            "revops.events_raw",
            RAW_COLUMNS,
            [
                (e, s, t, from_micros(ts), p.decode("utf-8"), c, now, first + n)
                for n, (e, s, t, ts, p, c) in enumerate(rows.tuples())
            ],
        )


def _check_utf8(payloads: list[bytes]) -> None:
    bad = invalid_utf8(payloads)
    if bad:
        raise ValueError(f"payload {min(bad)} of the batch is not valid UTF-8")


def _arrow_table(rows: RawRows, first: int, now: datetime):  # type: ignore[no-untyped-def]
    import pyarrow as pa

    ts = pa.timestamp("us", tz="UTC")
    text = pa.large_string()
    if rows.payload_parts is not None and rows.checked:
        payload = pa.chunked_array([p.view(text) for p in rows.payload_parts], type=text)
    else:
        raw = binary_array(rows.payload)
        # Checked payloads are valid UTF-8: a view; otherwise the cast checks them.
        payload = raw.view(text) if rows.checked else raw.cast(text)
    n = len(rows)
    return pa.table(
        {
            "event_id": pa.array(rows.event_id, pa.string()),
            "source": pa.array(rows.source, pa.string()),
            "type": pa.array(rows.type, pa.string()),
            "event_ts": pa.array(rows.event_ts, pa.int64()).view(ts),
            "payload": payload,
            "correlation_id": pa.array(rows.correlation_id, pa.string()),
            "inserted_at": pa.array([micros(now)] * n, pa.int64()).view(ts),
            "raw_seq": pa.array(range(first, first + n), pa.int64()),
        }
    )


# PostgreSQL's binary COPY: signature, flags, header extension length; then per row the
# field count and each field as its length and bytes (-1 for NULL); then -1.
_PG_SIGNATURE = b"PGCOPY\n\xff\r\n\x00" + struct.pack(">ii", 0, 0)
_PG_TRAILER = struct.pack(">h", -1)
_PG_NULL = struct.pack(">i", -1)
_PG_EPOCH_US = 946_684_800_000_000  # 2000-01-01 in µs since the Unix epoch
_ROW_START = struct.Struct(">hi").pack  # field count, length of the first field
_LEN = struct.Struct(">i").pack
_INT8 = struct.Struct(">iq").pack  # length 8 and a big-endian int64 (timestamptz, bigint)
_PG_BLOCK_ROWS = 256


def _pg_binary_copy(rows: RawRows, first: int, now: datetime) -> Iterator[bytes]:
    """``rows`` as the data of a binary ``COPY events_raw (RAW_COLUMNS)``, in blocks of
    :data:`_PG_BLOCK_ROWS` rows: the server reads one block while the next is built."""
    out = [_PG_SIGNATURE]
    put = out.append
    fields = len(RAW_COLUMNS)
    inserted = _INT8(8, micros(now) - _PG_EPOCH_US)
    encoded: dict[str, bytes] = {}
    seq = first
    for eid, src, typ, ts, body, corr in rows.tuples():
        e = eid.encode()
        s = encoded.get(src) or encoded.setdefault(src, _LEN(len(src.encode())) + src.encode())
        t = encoded.get(typ) or encoded.setdefault(typ, _LEN(len(typ.encode())) + typ.encode())
        put(_ROW_START(fields, len(e)))
        put(e)
        put(s)
        put(t)
        put(_INT8(8, ts - _PG_EPOCH_US))
        put(_LEN(len(body)))
        put(body)
        if corr is None:
            put(_PG_NULL)
        else:
            c = corr.encode()
            put(_LEN(len(c)))
            put(c)
        put(inserted)
        put(_INT8(8, seq))
        seq += 1
        if (seq - first) % _PG_BLOCK_ROWS == 0:
            yield b"".join(out)
            out.clear()
    put(_PG_TRAILER)
    yield b"".join(out)


def land_rows(
    wh: Warehouse,
    rows: RawRows,
    *,
    actor: str | None = None,
    request_id: str | None = None,
    audit: bool = True,
) -> LandResult:
    """Append the new rows of ``rows`` to ``events_raw`` in one transaction (with its audit
    row unless ``audit`` is false)."""
    if not rows:
        return LandResult()
    with wh.transaction(lock=LOCK_NAME):
        lander = BatchLander(wh)
        lander.add(rows)
        lander.close(actor=actor, request_id=request_id, audit=audit)
    return lander.result


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
    if not items:
        return LandResult()
    rows = RawRows.of_items([i if isinstance(i, LandItem) else LandItem(i) for i in items])
    return land_rows(wh, rows, actor=actor, request_id=request_id, audit=audit)
