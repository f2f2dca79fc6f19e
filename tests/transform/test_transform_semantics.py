"""Latest-state rules, incremental = full, rollback, backfill, transactions (both engines)."""

from __future__ import annotations

from datetime import UTC, datetime

import orjson
import pytest

from revops import signals
from revops.envelope import Envelope
from revops.ingest import land_envelopes
from revops.transform import backfill, refresh_collections, run_transform

from .conftest import golden_lines, land, snapshot


def stripe_invoice(
    evt: str,
    created: int,
    status: str,
    *,
    invoice: str = "in_T",
    paid: int = 0,
    api: str = "2024-06-20",
) -> Envelope:
    obj = {
        "id": invoice,
        "object": "invoice",
        "currency": "usd",
        "customer": "cus_T",
        "amount_due": 1000,
        "amount_paid": 1000 if status == "paid" else 0,
        "amount_remaining": 0 if status == "paid" else 1000,
        "status": status,
        "created": 1735689600,
        "status_transitions": {"paid_at": paid or None, "finalized_at": 1735689600},
        "lines": {"object": "list", "data": [], "has_more": False},
    }
    event = {
        "id": evt,
        "object": "event",
        "api_version": api,
        "created": created,
        "type": f"invoice.{'paid' if status == 'paid' else 'updated'}",
        "data": {"object": obj},
        "livemode": False,
    }
    return Envelope(
        source="stripe",
        type="stripe." + event["type"],
        event_ts=created,
        event_id=evt,
        payload=event,
    )


def opp_event(
    replay: int,
    change: str,
    commit: int,
    ms: int,
    fields: dict,
    changed: list[str] | None = None,
    nulled: list[str] | None = None,
    record: str = "006T",
) -> Envelope:
    header = {
        "entityName": "Opportunity",
        "recordIds": [record],
        "changeType": change,
        "commitTimestamp": ms,
        "commitNumber": commit,
        "sequenceNumber": 1,
        "changedFields": changed or [],
        "nulledFields": nulled or [],
    }
    payload = {"payload": {"ChangeEventHeader": header, **fields}, "event": {"replayId": replay}}
    action = {
        "CREATE": "created",
        "UPDATE": "updated",
        "DELETE": "deleted",
        "UNDELETE": "undeleted",
    }.get(change, "gap")
    return Envelope(
        source="salesforce",
        type=f"salesforce.opportunity.{action}",
        event_ts=ms,
        event_id=f"salesforce:{record}:{replay}",
        payload=payload,
    )


def fact(wh, table: str, key: str, value: str) -> dict:
    rows = wh.query(f"SELECT * FROM revops.{table} WHERE {key} = ?", (value,))
    assert len(rows) == 1
    return rows[0]


def test_open_in_the_same_second_does_not_overwrite_paid(wh):
    t = 1736000000
    land_envelopes(
        wh,
        [stripe_invoice("evt_b_paid", t, "paid", paid=t), stripe_invoice("evt_a_open", t, "open")],
    )
    run_transform(wh)
    row = fact(wh, "fact_billing", "invoice_id", "in_T")
    assert row["status"] == "paid"
    assert row["paid_at"] == datetime.fromtimestamp(t, UTC)


def test_later_looking_open_delivered_after_paid_is_ignored(wh):
    t = 1736000000
    land_envelopes(wh, [stripe_invoice("evt_p", t, "paid", paid=t)])
    run_transform(wh)
    land_envelopes(wh, [stripe_invoice("evt_o", t + 60, "open")])
    report = run_transform(wh)
    assert report.events == 1 and report.facts_changed == 0
    assert fact(wh, "fact_billing", "invoice_id", "in_T")["status"] == "paid"


def test_cdc_update_applies_only_changed_and_nulled_fields(wh):
    base = 1736000000000
    full = {
        "Name": "Deal",
        "AccountId": "001X",
        "Amount": 500,
        "StageName": "Prospecting",
        "CloseDate": "2025-03-31",
        "CurrencyIsoCode": "USD",
    }
    nulls = dict.fromkeys(full)
    land_envelopes(
        wh,
        [
            opp_event(1, "CREATE", 2**53 + 1, base, full),
            opp_event(
                2,
                "UPDATE",
                2**53 + 2,
                base + 1000,
                {**nulls, "StageName": "Closed Won"},
                changed=["StageName"],
            ),
            opp_event(3, "UPDATE", 2**53 + 3, base + 2000, nulls, changed=[], nulled=["Amount"]),
        ],
    )
    run_transform(wh)
    row = fact(wh, "fact_opportunity", "opportunity_id", "006T")
    assert (row["opportunity_name"], row["account_id"], row["stage_name"]) == (
        "Deal",
        "001X",
        "Closed Won",
    )
    assert row["amount"] is None and str(row["close_date"]) == "2025-03-31"
    assert row["won_at"] == datetime.fromtimestamp((base + 1000) / 1000, UTC)


def test_same_timestamp_cdc_events_order_by_commit_number(wh):
    ms = 1736000000000
    land_envelopes(
        wh,
        [
            opp_event(
                9, "UPDATE", 2**53 + 9, ms, {"StageName": "Closed Lost"}, changed=["StageName"]
            ),
            opp_event(8, "CREATE", 2**53 + 8, ms, {"Name": "Tie", "StageName": "Closed Won"}),
        ],
    )
    run_transform(wh)
    row = fact(wh, "fact_opportunity", "opportunity_id", "006T")
    assert row["stage_name"] == "Closed Lost"  # the greater commit number is the latest


def test_delete_and_undelete_set_is_deleted_and_gaps_are_listed_for_refetch(wh):
    ms = 1736000000000
    land_envelopes(
        wh,
        [
            opp_event(1, "CREATE", 1, ms, {"Name": "D", "StageName": "Closed Won"}),
            opp_event(2, "DELETE", 2, ms + 1000, {}),
            opp_event(3, "GAP_UPDATE", 3, ms + 500, {}, record="006G"),
        ],
    )
    run_transform(wh)
    assert fact(wh, "fact_opportunity", "opportunity_id", "006T")["is_deleted"] is True
    assert wh.query_value("SELECT count(*) FROM revops.mart_won_to_paid") == 0
    gaps = wh.query("SELECT record_id, change_type FROM revops.cdc_refetch")
    assert gaps == [{"record_id": "006G", "change_type": "GAP_UPDATE"}]
    land_envelopes(
        wh,
        [
            opp_event(4, "UNDELETE", 4, ms + 2000, {"Name": "D"}),
            opp_event(5, "CREATE", 5, ms + 3000, {"Name": "G"}, record="006G"),
        ],
    )
    run_transform(wh)
    row = fact(wh, "fact_opportunity", "opportunity_id", "006T")
    assert row["is_deleted"] is False and row["stage_name"] == "Closed Won"
    assert wh.query_value("SELECT count(*) FROM revops.cdc_refetch") == 0
    assert wh.query_value("SELECT count(*) FROM revops.mart_won_to_paid") == 1


def test_incremental_in_batches_equals_full_rebuild_and_is_idempotent(wh):
    lines = golden_lines()
    for start in range(0, len(lines), 7):
        land(wh, lines[start : start + 7])
        run_transform(wh)
    incremental = snapshot(wh)
    again = run_transform(wh)
    assert (again.events, again.facts_changed) == (0, 0)
    assert snapshot(wh) == incremental
    full = run_transform(wh, full=True)
    assert full.mode == "full" and full.events == 43
    assert snapshot(wh) == incremental


def test_as_of_rebuilds_from_rows_inserted_until_then(wh):
    lines = golden_lines()
    land(wh, lines[:10])
    run_transform(wh)
    before = snapshot(wh)
    wh.execute(
        "UPDATE revops.events_raw SET inserted_at = ? WHERE raw_seq > 0",
        (datetime(2020, 1, 1, tzinfo=UTC),),
    )  # all early
    land(wh, lines[10:])
    run_transform(wh)
    assert snapshot(wh) != before
    report = run_transform(wh, as_of=datetime(2020, 1, 2, tzinfo=UTC))
    assert report.mode == "as_of" and report.watermark == 10
    assert snapshot(wh) == before


def test_backfill_rederives_a_range_and_leaves_everything_current(wh):
    land(wh, golden_lines())
    run_transform(wh)
    expected = snapshot(wh)
    wh.execute("DELETE FROM revops.stg_invoice")
    wh.execute("DELETE FROM revops.stg_invoice_line")
    report = backfill(
        wh, start=datetime(2024, 1, 1, tzinfo=UTC), end=datetime(2026, 1, 1, tzinfo=UTC)
    )
    assert report.mode == "backfill" and report.staged > 0
    assert snapshot(wh) == expected


def test_outer_transaction_rollback_leaves_no_trace(wh):
    land(wh, golden_lines())
    with pytest.raises(RuntimeError), wh.transaction():
        report = run_transform(wh)
        assert report.facts_changed > 0
        refresh_collections(wh, as_of=datetime(2025, 3, 15, tzinfo=UTC))
        raise RuntimeError("dry run")
    assert wh.query_value("SELECT count(*) FROM revops.fact_billing") == 0
    assert (
        wh.query_value("SELECT count(*) FROM revops.transform_state WHERE name = 'revenue.raw_seq'")
        == 0
    )


def test_run_emits_marts_refreshed_and_writes_an_audit_row(wh):
    seen: list[dict] = []
    unsubscribe = signals.subscribe(signals.MARTS_REFRESHED, lambda t, d: seen.append(d))
    try:
        land(wh, golden_lines()[:5])
        report = run_transform(wh)
        run_transform(wh)  # nothing new: no signal
    finally:
        unsubscribe()
    assert seen == [{"tables": report.marts_refreshed, "events": 5}]
    rows = wh.query(
        "SELECT actor, status, detail FROM revops.audit_events "
        "WHERE resource = 'revenue' AND action = 'transform' ORDER BY \"at\""
    )
    assert [r["status"] for r in rows] == ["ok", "ok"]
    assert orjson.loads(rows[0]["detail"])["events"] == 5


def test_unreadable_payload_is_counted_not_fatal(wh):
    land_envelopes(
        wh,
        [
            Envelope(
                source="stripe",
                type="stripe.invoice.paid",
                event_ts=1736000000,
                event_id="evt_bad",
                payload={"object": "event", "data": {"object": {}}},
            )
        ],
    )
    report = run_transform(wh)
    assert report.rejected == {"missing_field": 1}
    assert report.rejected_event_ids == ["stripe:evt_bad"]


def test_backfill_inside_an_outer_transaction_rolls_back_with_it(wh):
    land(wh, golden_lines())
    run_transform(wh)
    expected = snapshot(wh)
    with pytest.raises(RuntimeError), wh.transaction():
        wh.execute("DELETE FROM revops.stg_opportunity")
        backfill(wh, start=datetime(2030, 1, 1, tzinfo=UTC), end=datetime(2031, 1, 1, tzinfo=UTC))
        raise RuntimeError("dry run")
    assert snapshot(wh) == expected
    assert wh.query_value("SELECT count(*) FROM revops.stg_opportunity") == 21


def test_a_new_business_time_zone_rebuilds_everything(wh):
    from revops.config import Settings

    land(wh, golden_lines())
    run_transform(wh)  # Asia/Tokyo by default
    tokyo_due = fact(wh, "fact_billing", "invoice_id", "in_C1m2")["collection_due_date"]
    utc = Settings(data={"general": {"timezone": "UTC"}}, env={})
    backfill(wh, utc, start=datetime(2030, 1, 1, tzinfo=UTC), end=datetime(2031, 1, 1, tzinfo=UTC))
    after = snapshot(wh)
    run_transform(wh, utc, full=True)
    assert snapshot(wh) == after
    utc_due = fact(wh, "fact_billing", "invoice_id", "in_C1m2")["collection_due_date"]
    # created 2025-01-31T15:00Z: February 1st in Tokyo, January 31st in UTC
    assert (str(tokyo_due), str(utc_due)) == ("2025-02-01", "2025-01-31")
