"""Landing in events_raw: append-only, dedupe forever, dead letters, NDJSON ingest."""

from __future__ import annotations

import orjson

from revops.envelope import Envelope
from revops.ingest import land_envelopes
from revops.ingest.files import ingest_lines


def env(i: int, ts: str = "2025-10-08T09:00:00Z") -> Envelope:
    return Envelope(
        source="salesforce",
        type="salesforce.opportunity.updated",
        event_ts=ts,
        event_id=f"006A:{i}",
        payload={"opportunity_id": "006A", "n": i},
    )


def test_second_delivery_adds_no_row(wh):
    first = land_envelopes(wh, [env(1), env(2)])
    again = land_envelopes(wh, [env(2), env(3), env(3)])
    assert first.new == ["salesforce:006A:1", "salesforce:006A:2"]
    assert again.new == ["salesforce:006A:3"]
    assert again.duplicates == ["salesforce:006A:2", "salesforce:006A:3"]
    rows = wh.query("SELECT event_id, raw_seq FROM revops.events_raw ORDER BY raw_seq")
    assert [r["event_id"] for r in rows] == [
        "salesforce:006A:1",
        "salesforce:006A:2",
        "salesforce:006A:3",
    ]
    assert [r["raw_seq"] for r in rows] == [1, 2, 3]


def test_ingest_lines_dead_letters_bad_lines_and_keeps_good_ones(wh):
    good = orjson.dumps(env(1).to_json())
    lines = [good, b"{not json", b"[1,2]", b'{"foo": 1}', good, b""]
    report = ingest_lines(wh, lines, name="events.ndjson")
    assert (report.read, report.new, report.duplicates, report.dead_lettered) == (5, 1, 1, 3)
    assert report.reasons == {"malformed_json": 1, "not_an_object": 1, "unrecognised_event": 1}
    letters = wh.query("SELECT reason, body, detail FROM revops.dead_letters ORDER BY id")
    assert [r["reason"] for r in letters] == [
        "malformed_json",
        "not_an_object",
        "unrecognised_event",
    ]
    assert bytes(letters[0]["body"]) == b"{not json"
    assert orjson.loads(letters[0]["detail"])["line"] == 2


def test_oversized_line_is_dead_lettered(wh):
    big = orjson.dumps({**env(9).to_json(), "payload": {"x": "a" * 5000}})
    report = ingest_lines(wh, [big], max_event_bytes=1000)
    assert report.reasons == {"oversized": 1}
    assert wh.query_value("SELECT count(*) FROM revops.events_raw") == 0


def test_duckdb_memory_limit_is_applied_and_checked(tmp_path):
    import pytest

    from revops.errors import ConfigError
    from revops.warehouse import connect

    with connect(f"duckdb:///{tmp_path}/a.duckdb", memory_limit="256MB") as wh:
        limit = wh.query_value("SELECT current_setting('memory_limit')")
    assert limit.replace(" ", "") in ("244.1MiB", "256.0MB", "256MB")
    with pytest.raises(ConfigError, match="memory limit"):
        connect(f"duckdb:///{tmp_path}/b.duckdb", memory_limit="lots'; DROP")


def test_native_line_lands_byte_for_byte_with_its_fields(wh):
    # A Stripe event as sent (spacing, key order and non-ASCII text kept), landed from bytes.
    line = (
        '{"id": "evt_1", "object": "event", "type": "invoice.paid", "created": 1759914000,'
        ' "request": {"id": "req_9"}, "data": {"object": {"id": "in_1", "customer_name":'
        ' "株式会社サンプル"}}}'
    ).encode()
    report = ingest_lines(wh, [line + b"\n", b"  " + line])
    assert (report.new, report.duplicates) == (1, 1)
    rows = wh.query(
        "SELECT event_id, source, type, event_ts, payload, correlation_id, raw_seq "
        "FROM revops.events_raw"
    )
    assert len(rows) == 1
    row = rows[0]
    assert row["payload"] == line.decode("utf-8")
    assert (row["event_id"], row["source"], row["type"], row["correlation_id"]) == (
        "stripe:evt_1",
        "stripe",
        "stripe.invoice.paid",
        "req_9",
    )
    assert row["event_ts"].timestamp() == 1759914000
    assert row["raw_seq"] == 1


def test_stripe_fast_path_reads_what_the_full_reader_reads():
    from pathlib import Path

    from revops.ingest.native_lines import stripe_event_envelope
    from revops.sources.detect import normalize_record

    fixtures = sorted((Path(__file__).parent / "fixtures" / "stripe").glob("*.json"))
    assert fixtures
    for path in fixtures:
        line = orjson.dumps(orjson.loads(path.read_bytes()))
        fast = stripe_event_envelope(line)
        full = normalize_record(orjson.loads(line))
        assert fast is not None, path.name
        assert (fast.event_id, fast.source, fast.type, fast.event_ts, fast.correlation_id) == (
            full[0].event_id,
            full[0].source,
            full[0].type,
            full[0].event_ts,
            full[0].correlation_id,
        ), path.name


def test_odd_stripe_lines_are_read_in_full_and_reported_as_before(wh):
    from revops.ingest.native_lines import stripe_event_envelope

    odd = [
        b'{"id": "evt_2", "object": "event", "type": "invoice.paid", "data": {"object": {}}}',
        b'{"id": "", "object": "event", "type": "invoice.paid", "created": 1, '
        b'"data": {"object": {}}}',
        b'{"id": "evt_3", "object": "event", "type": "invoice.paid", "created": 1, '
        b'"data": {"object": "in_1"}}',
        b'{"id": "evt_4", "object": "event", "type": "invoice.paid", "created": 1, '
        b'"data": {"object": {"name": "\xff"}}}',
        b'{"id": "evt_5", "object": "event", "type": "invoice.paid", "created": 1, '
        b'"data": {"object": {}}',
    ]
    assert [stripe_event_envelope(line) for line in odd] == [None] * 5
    report = ingest_lines(wh, odd)
    assert report.new == 0
    assert report.reasons == {"missing_field": 3, "malformed_json": 2}
