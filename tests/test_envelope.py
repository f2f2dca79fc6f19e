"""Envelope and event ids: natural keys, content hashes, normalizers."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from revops.envelope import Envelope, canonical_json, content_event_id, parse_timestamp
from revops.errors import EventError
from revops.sources.detect import normalize_record

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=5), children, max_size=4)
    ),
    max_leaves=12,
)
payloads = st.dictionaries(st.text(min_size=1, max_size=6), json_values, min_size=1, max_size=6)


@settings(max_examples=60, deadline=None)
@given(payloads)
def test_content_id_is_stable_under_key_order(payload):
    reordered = json.loads(json.dumps(dict(reversed(list(payload.items())))))
    assert content_event_id("stripe", payload) == content_event_id("stripe", reordered)


@settings(max_examples=60, deadline=None)
@given(payloads, payloads)
def test_content_id_differs_for_different_content(a, b):
    if canonical_json(a) != canonical_json(b):
        assert content_event_id("x", a) != content_event_id("x", b)


def test_neutral_envelope_without_id_gets_a_content_id_and_prefix_once():
    env = normalize_record(
        {
            "source": "salesforce",
            "type": "salesforce.opportunity.updated",
            "event_ts": "2025-10-08T09:00:00Z",
            "payload": {"opportunity_id": "006A"},
        }
    )[0]
    assert env.event_id.startswith("salesforce:sha256:")
    seeded = normalize_record(
        {
            "source": "stripe",
            "type": "stripe.invoice.paid",
            "event_ts": "2025-10-08T09:05:00Z",
            "event_id": "in_1ABCDxyz",
            "payload": {"invoice_id": "in_1ABCDxyz"},
        }
    )[0]
    assert seeded.event_id == "stripe:in_1ABCDxyz"
    again = Envelope.model_validate({**seeded.to_json(), "event_id": "stripe:in_1ABCDxyz"})
    assert again.event_id == "stripe:in_1ABCDxyz"


def test_stripe_event_keeps_api_version_and_livemode():
    obj = {
        "id": "evt_1",
        "object": "event",
        "type": "invoice.paid",
        "created": 1728378301,
        "api_version": "2025-03-31.basil",
        "livemode": False,
        "data": {"object": {"id": "in_1", "object": "invoice"}},
        "request": {"id": "req_9"},
    }
    env = normalize_record(obj)[0]
    assert (env.source, env.type, env.event_id, env.correlation_id) == (
        "stripe",
        "stripe.invoice.paid",
        "stripe:evt_1",
        "req_9",
    )
    assert env.event_ts == datetime(2024, 10, 8, 9, 5, 1, tzinfo=UTC)
    assert env.payload["api_version"] == "2025-03-31.basil" and env.payload["livemode"] is False


def test_cdc_event_gives_one_envelope_per_record_and_keeps_big_commit_numbers():
    commit = 2**53 + 12345
    obj = {
        "payload": {
            "ChangeEventHeader": {
                "entityName": "Opportunity",
                "recordIds": ["006A", "006B"],
                "changeType": "UPDATE",
                "commitTimestamp": 1728378000123,
                "commitNumber": commit,
                "sequenceNumber": 1,
                "changedFields": ["StageName"],
            },
            "StageName": "Closed Won",
        }
    }
    envs = normalize_record(obj)
    assert [e.event_id for e in envs] == [f"salesforce:006A:{commit}", f"salesforce:006B:{commit}"]
    assert envs[0].type == "salesforce.opportunity.updated"
    assert envs[0].event_ts == datetime(2024, 10, 8, 9, 0, 0, 123000, tzinfo=UTC)
    with_replay = normalize_record({**obj, "event": {"replayId": 77}})
    assert with_replay[0].event_id == "salesforce:006A:77"


@pytest.mark.parametrize(
    "change, action",
    [
        ("CREATE", "created"),
        ("DELETE", "deleted"),
        ("UNDELETE", "undeleted"),
        ("GAP_UPDATE", "gap"),
        ("GAP_OVERFLOW", "overflow"),
    ],
)
def test_cdc_change_types(change, action):
    header = {
        "entityName": "Opportunity",
        "recordIds": [] if change == "GAP_OVERFLOW" else ["006A"],
        "changeType": change,
        "commitTimestamp": 1728378000000,
        "commitNumber": 5,
    }
    env = normalize_record({"ChangeEventHeader": header})[0]
    assert env.type == f"salesforce.opportunity.{action}"


@pytest.mark.parametrize(
    "obj, reason",
    [
        (
            {"id": "evt_1", "object": "event", "type": "invoice.paid", "data": {"object": {}}},
            "missing_field",
        ),
        (
            {"source": "stripe", "type": "invoice.paid", "event_ts": "2025-01-01", "payload": {}},
            "invalid_envelope",
        ),
        (
            {
                "ChangeEventHeader": {
                    "entityName": "Opportunity",
                    "changeType": "NOPE",
                    "commitTimestamp": 1,
                    "recordIds": ["a"],
                }
            },
            "bad_field",
        ),
        ({"what": 1}, "unrecognised_event"),
        (
            {"source": "stripe", "type": "stripe.invoice.paid", "event_ts": True, "payload": {}},
            "bad_timestamp",
        ),
        (
            {
                "source": "stripe",
                "type": "stripe.invoice.paid",
                "event_ts": "2025-01-01",
                "payload": "paid",
            },
            "invalid_envelope",
        ),
    ],
)
def test_bad_events_name_a_reason(obj, reason):
    with pytest.raises(EventError) as info:
        normalize_record(obj)
    assert info.value.reason == reason


def test_unknown_source_is_refused_when_sources_are_listed():
    obj = {
        "source": "hubspot",
        "type": "hubspot.deal.updated",
        "event_ts": "2025-01-01",
        "payload": {},
    }
    assert normalize_record(obj)[0].source == "hubspot"
    with pytest.raises(EventError) as info:
        normalize_record(obj, known_sources=frozenset({"stripe", "salesforce"}))
    assert info.value.reason == "unknown_source"
    assert "allowed_sources" in str(info.value)


def test_timestamps():
    assert parse_timestamp(1728378301) == datetime(2024, 10, 8, 9, 5, 1, tzinfo=UTC)
    assert parse_timestamp("2025-10-08T09:00:00+09:00") == datetime(2025, 10, 8, 0, 0, tzinfo=UTC)
    assert parse_timestamp("2025-10-08T09:00:00") == datetime(2025, 10, 8, 9, 0, tzinfo=UTC)
    with pytest.raises(EventError):
        parse_timestamp("yesterday")
