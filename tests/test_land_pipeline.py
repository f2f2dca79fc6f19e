"""The batch landing of ``ingest_lines`` (native fast paths, column chunks, a reader thread,
no lookup of stored ids until one is met) stores exactly what reading every line in full and
landing batch by batch stores: rows, ``raw_seq``, dead letters, audit rows and counts."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest

from revops.envelope import parse_timestamp
from revops.errors import EventError
from revops.ingest import files
from revops.ingest.dead_letters import dead_letter_many
from revops.ingest.files import IngestReport, ingest_lines, parse_line
from revops.ingest.land import land_envelopes
from revops.ingest.native_lines import micros, native_envelopes, read_native, ts_micros
from revops.sources.detect import normalize_record
from revops.warehouse import connect, ensure_schema

FIXTURES = Path(__file__).parent / "fixtures"


def _compact(path: Path) -> bytes:
    return orjson.dumps(orjson.loads(path.read_bytes()))


def _fixture_lines(folder: str) -> list[bytes]:
    return [_compact(p) for p in sorted((FIXTURES / folder).glob("*.json"))]


def _cdc(header: dict[str, Any], **top: Any) -> dict[str, Any]:
    base = {
        "entityName": "Opportunity",
        "recordIds": ["006X1"],
        "changeType": "UPDATE",
        "commitTimestamp": 1759914000123,
        "commitNumber": 2**53 + 7,
        "transactionKey": "tk-1",
        "sequenceNumber": 1,
    }
    base.update(header)
    return {"payload": {"ChangeEventHeader": base, "StageName": "Closed Won"}, **top}


def _odd_cdc_lines() -> list[bytes]:
    """CDC messages in every accepted shape and with every odd header the reader handles."""
    inner = _cdc({})["payload"]
    shapes: list[Any] = [
        inner,  # the payload itself
        {**inner, "replayId": 55},
        _cdc({}, event={"replayId": 9}),
        _cdc({}, event={"replayId": "r-10"}),
        _cdc({}, event={"replayId": None}),
        _cdc({}, event={"replayId": ""}),
        _cdc({}, event={}),
        _cdc({"sequenceNumber": 3}),
        _cdc({"recordIds": ["006X2", "006X3", "006X2"]}, event={"replayId": 11}),
        _cdc({"recordIds": [], "changeType": "GAP_OVERFLOW"}, event={"replayId": 12}),
        _cdc({"recordIds": None, "changeType": "gap_overflow"}, event={"replayId": 13}),
        _cdc({"recordIds": []}, event={"replayId": 14}),  # no record: dead letter
        _cdc({"changeType": "MERGE"}, event={"replayId": 15}),
        _cdc({"changeType": 5}, event={"replayId": 16}),
        _cdc({"entityName": ""}, event={"replayId": 17}),
        _cdc({"entityName": "AccountChangeEvent"}, event={"replayId": 18}),
        _cdc({"commitNumber": None}),  # neither replay id nor commit number
        _cdc({"commitNumber": "123"}),
        _cdc({"commitNumber": True}),
        _cdc({"commitNumber": 1.5}),
        _cdc({"commitNumber": 2**64 + 1}),  # read as a float by the full reader
        _cdc({"commitTimestamp": "2025-10-08T09:00:00Z"}, event={"replayId": 19}),
        _cdc({"commitTimestamp": 1759914000}, event={"replayId": 20}),
        _cdc({"commitTimestamp": -5}, event={"replayId": 21}),
        _cdc({"commitTimestamp": None}, event={"replayId": 22}),
        _cdc({"commitTimestamp": 10**20}, event={"replayId": 23}),
        _cdc({"recordIds": [7]}, event={"replayId": 24}),
        _cdc({"recordIds": "006X9"}, event={"replayId": 25}),
        _cdc({"transactionKey": 3}, event={"replayId": 26}),
        _cdc({}, event={"replayId": True}),
        _cdc({}, event={"replayId": 2.5}),
        _cdc({}, event="not an object"),
        {"data": {"payload": inner, "event": {"replayId": 27}}, "channel": "/data/X"},
        {"data": {"payload": inner}, "replayId": 28},
        {"payload": {"ChangeEventHeader": "nope"}},
        {"ChangeEventHeader": inner["ChangeEventHeader"], "object": "thing"},
        {"source": "salesforce", "type": "salesforce.opportunity.updated", **_cdc({})},
    ]
    return [json.dumps(s, separators=(",", ":")).encode() for s in shapes]


def _odd_stripe_lines() -> list[bytes]:
    base = orjson.loads(_fixture_lines("stripe")[0])
    variants: list[Any] = [
        {**base, "id": "evt_odd_1", "created": "2025-10-08T09:00:00Z"},
        {**base, "id": "evt_odd_2", "created": 1759914000123},
        {**base, "id": "evt_odd_3", "request": "req_string"},
        {**base, "id": "evt_odd_4", "request": None},
        {**base, "id": "evt_odd_5", "request": {"id": 5}},
        {**base, "id": "evt_odd_6", "created": None},
        {**base, "id": 7},
        {**base, "id": "evt_odd_8", "data": {"object": None}},
        {**base, "id": "evt_odd_9", "type": 9},
        {"source": "stripe", "type": "stripe.invoice.paid", "payload": {}, "event_ts": 1},
    ]
    return [orjson.dumps(v) for v in variants]


def _corpus(seed: int) -> list[bytes]:
    """Good, odd, bad and repeated lines of every kind, shuffled."""
    good = _fixture_lines("stripe") + _fixture_lines("salesforce")
    envelope = orjson.dumps(
        {
            "source": "crm",
            "type": "crm.deal.updated",
            "event_ts": "2025-10-08T09:00:00Z",
            "payload": {"deal": 1, "name": "株式会社"},
        }
    )
    stripe_bad_utf8 = good[0].replace(b'"object":"event"', b'"object":"event","x":"\xff"', 1)
    cdc_bad_utf8 = _fixture_lines("salesforce")[0].replace(b"{", b'{"x":"\xc3\x28",', 1)
    bad = [
        b"{not json",
        b"[1,2]",
        b'{"foo": 1}',
        good[1][:-1],  # truncated
        stripe_bad_utf8,
        cdc_bad_utf8,
        b"\xef\xbb\xbf" + good[2],  # BOM
        b" " * 3,
        b"",
    ]
    lines = good + good[:5] + _odd_cdc_lines() + _odd_stripe_lines() + [envelope] * 2 + bad
    random.Random(seed).shuffle(lines)
    return lines + good[3:9] + [b"  " + good[4] + b"\r"]


def _reference_ingest(wh: Any, lines: list[bytes], batch_size: int, source: Any) -> IngestReport:
    """The sequential landing: every line read in full, one transaction per batch."""
    report = IngestReport()
    batch: list[Any] = []
    letters: list[Any] = []

    def flush() -> None:
        if batch:
            res = land_envelopes(wh, batch, actor="ingest")
            report.new += len(res.new)
            report.duplicates += len(res.duplicates)
            batch.clear()
        if letters:
            report.dead_letter_ids += dead_letter_many(wh, letters, actor="ingest")
            letters.clear()

    for number, raw in enumerate(lines, start=1):
        line = raw.strip()
        if not line:
            continue
        report.read += 1
        try:
            batch.extend(parse_line(line, source))
        except EventError as exc:
            report.dead_lettered += 1
            report.reasons[exc.reason] = report.reasons.get(exc.reason, 0) + 1
            letters.append(
                (
                    source or files._guess_source(line),
                    exc.reason,
                    line,
                    {"file": "f", "line": number, "error": exc.message},
                )
            )
        if len(batch) >= batch_size or len(letters) >= 1000:
            flush()
    flush()
    return report


def _stored(wh: Any) -> dict[str, list[tuple[Any, ...]]]:
    raw = wh.query(
        "SELECT event_id, source, type, event_ts, payload, correlation_id, raw_seq "
        "FROM revops.events_raw ORDER BY raw_seq"
    )
    letters = wh.query(
        "SELECT id, source, reason, body, detail FROM revops.dead_letters ORDER BY id"
    )
    audits = wh.query(
        "SELECT resource, action, status, request_id, event_id, detail, actor "
        'FROM revops.audit_events ORDER BY "at"'
    )
    transactions = wh.query("SELECT COUNT(DISTINCT inserted_at) AS n FROM revops.events_raw")
    return {
        "raw": [
            (
                r["event_id"],
                r["source"],
                r["type"],
                r["event_ts"].astimezone(UTC),
                r["payload"],
                r["correlation_id"],
                r["raw_seq"],
            )
            for r in raw
        ],
        "letters": [
            (r["id"], r["source"], r["reason"], bytes(r["body"]), orjson.loads(r["detail"]))
            for r in letters
        ],
        # Every audit row; and the landing ones (one per batch) in the order of the batches.
        "audits": sorted((tuple(r.values()) for r in audits), key=repr),
        "batches": [r["detail"] for r in audits if r["action"] == "land"],
        "transactions": [(transactions[0]["n"],)],
    }


@pytest.mark.parametrize(
    ("batch_size", "chunk", "window", "source"),
    [
        (1, 1, 1, None),
        (2, 1, 3, None),
        (7, 3, 2, None),
        (7, 5000, 500, None),
        (1000, 4, 5, None),
        (1000, 5000, 500, None),
        (5, 2, 4, "stripe"),
        (5, 2, 4, "salesforce"),
        (5, 2, 4, "envelope"),
    ],
)
def test_batch_landing_stores_what_the_line_by_line_landing_stores(
    wh, tmp_path, monkeypatch, batch_size, chunk, window, source
):
    lines = _corpus(seed=batch_size * 31 + chunk)
    ref = connect(f"duckdb:///{tmp_path}/reference.duckdb")
    ensure_schema(ref)
    try:
        expected = _reference_ingest(ref, lines, batch_size, source)
        # A second delivery of the same lines: every event is a duplicate.
        expected_again = _reference_ingest(ref, lines, batch_size, source)
        want = _stored(ref)
    finally:
        ref.close()
    monkeypatch.setattr(files, "CHUNK_EVENTS", chunk)
    monkeypatch.setattr(files, "WINDOW_LINES", window)
    got = ingest_lines(wh, lines, name="f", batch_size=batch_size, source=source)
    got_again = ingest_lines(wh, lines, name="f", batch_size=batch_size, source=source)
    assert got.as_dict() == expected.as_dict()
    assert got_again.as_dict() == expected_again.as_dict()
    assert expected_again.new == 0 and expected_again.duplicates > 0
    stored = _stored(wh)
    for table in ("raw", "letters", "audits", "batches", "transactions"):
        assert stored[table] == want[table], table


def test_a_batch_that_meets_a_stored_id_lands_again_with_the_lookup(wh, monkeypatch):
    monkeypatch.setattr(files, "CHUNK_EVENTS", 2)
    lines = _fixture_lines("stripe")
    first = ingest_lines(wh, lines[3:5])
    assert first.new == 2
    # The stored events sit in the middle of the second batch's later chunks.
    report = ingest_lines(wh, lines, batch_size=len(lines))
    assert (report.new, report.duplicates) == (len(lines) - 2, 2)
    rows = wh.query("SELECT event_id, raw_seq FROM revops.events_raw ORDER BY raw_seq")
    assert [r["raw_seq"] for r in rows] == list(range(1, len(lines) + 1))
    assert len({r["event_id"] for r in rows}) == len(lines)
    audits = wh.query(
        "SELECT detail FROM revops.audit_events WHERE action = 'land' ORDER BY \"at\""
    )
    assert [orjson.loads(a["detail"]) for a in audits] == [
        {"new": 2, "duplicates": 0},
        {"new": len(lines) - 2, "duplicates": 2},
    ]


def test_an_error_while_reading_keeps_earlier_batches_and_loses_the_open_one(wh):
    lines = _fixture_lines("stripe")

    def broken():
        yield from lines[:5]
        raise OSError("disk gone")

    with pytest.raises(OSError, match="disk gone"):
        ingest_lines(wh, broken(), batch_size=2)
    rows = wh.query("SELECT COUNT(*) AS n FROM revops.events_raw")
    assert rows[0]["n"] == 4  # two batches of two committed; the fifth line's batch is not


def test_progress_counts_the_bytes_of_every_non_empty_line(wh):
    lines = [*_fixture_lines("stripe")[:4], b"", b"  ", b"{bad"]
    seen: list[int] = []
    ingest_lines(wh, lines, progress=seen.append)
    assert sum(seen) == sum(len(x) for x in lines if x.strip())


def test_native_reader_agrees_with_the_full_reader_on_every_line_it_accepts():
    lines = (
        _fixture_lines("stripe")
        + _fixture_lines("salesforce")
        + _odd_cdc_lines()
        + _odd_stripe_lines()
    )
    accepted = 0
    for source in (None, "stripe", "salesforce", "envelope"):
        for line in lines:
            fast = native_envelopes(line, source)
            try:
                full = normalize_record(orjson.loads(line), source)
            except EventError:
                assert fast is None, line
                continue
            if fast is None:
                continue
            accepted += 1
            assert [(e.event_id, e.source, e.type, e.event_ts, e.correlation_id) for e in fast] == [
                (e.event_id, e.source, e.type, e.event_ts, e.correlation_id) for e in full
            ]
    assert accepted > 40
    # Every golden native line takes the fast path.
    for line in _fixture_lines("stripe") + _fixture_lines("salesforce"):
        assert read_native(line, None) is not None, line[:80]


def test_event_times_in_microseconds_equal_parse_timestamp():
    rng = random.Random(7)
    values: list[Any] = [0, 1, 10**11 - 1, 10**11, 2**32 * 1000 - 1, 2**32 * 1000, -1, -(10**11)]
    values += [rng.randrange(0, 10**11) for _ in range(2000)]
    values += [rng.randrange(10**11, 2**32 * 1000) for _ in range(5000)]
    values += [rng.randrange(2**32 * 1000, 253_402_300_799_000) for _ in range(500)]
    values += [1759914000.5, "1759914000", "2025-10-08T09:00:00.123456+09:00", "1759914000123"]
    for value in values:
        assert ts_micros(value, "t") == micros(parse_timestamp(value, field="t")), value
    for value in (None, True, "soon", 10**20):
        with pytest.raises(EventError):
            ts_micros(value, "t")
    assert micros(datetime(2025, 1, 1)) == micros(datetime(2025, 1, 1, tzinfo=UTC))
