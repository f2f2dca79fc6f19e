"""Receiver logic: Stripe signatures through the stripe library, HMAC / token auth, parsing."""

from __future__ import annotations

import hashlib
import hmac
import time

import orjson
import pytest
import stripe

from revops.ingest.receiver import (
    Credentials,
    Rejection,
    TypeFilter,
    check_content_type,
    parse_events,
    parse_salesforce,
    parse_stripe,
    split_secrets,
    verify_hmac,
    verify_stripe,
)

SECRET = "whsec_unit"
EVENT = orjson.dumps(
    {
        "id": "evt_1",
        "object": "event",
        "type": "invoice.paid",
        "created": 1759914301,
        "data": {"object": {"id": "in_1"}},
    }
)
ALL = TypeFilter(["*"])


def header(body: bytes, secret: str = SECRET, ts: int | None = None) -> str:
    return stripe.WebhookSignature.generate_signature_header(body.decode(), secret, timestamp=ts)


def reason(fn, *args) -> str:  # type: ignore[no-untyped-def]
    with pytest.raises(Rejection) as info:
        fn(*args)
    return f"{info.value.status} {info.value.reason}"


def test_stripe_signature_accepts_any_rotated_secret() -> None:
    creds = Credentials(split_secrets(f"whsec_old, {SECRET}"))
    verify_stripe(EVENT, header(EVENT), creds, 300)
    verify_stripe(EVENT, header(EVENT, "whsec_old"), creds, 300)


def test_stripe_signature_failures_name_the_reason() -> None:
    creds = Credentials((SECRET,))
    old = int(time.time()) - 301
    assert reason(verify_stripe, EVENT, None, creds, 300) == "400 missing_signature"
    assert reason(verify_stripe, EVENT, header(EVENT, "whsec_x"), creds, 300) == "400 bad_signature"
    assert reason(verify_stripe, EVENT + b" ", header(EVENT), creds, 300) == "400 bad_signature"
    assert (
        reason(verify_stripe, EVENT, header(EVENT, ts=old), creds, 300) == "400 expired_signature"
    )
    assert reason(verify_stripe, EVENT, "garbage", creds, 300) == "400 bad_signature"


def test_hmac_signature_or_bearer_token() -> None:
    creds = Credentials(("k1",), "tok")
    good = "sha256=" + hmac.new(b"k1", b"body", hashlib.sha256).hexdigest()
    verify_hmac(b"body", {"x-revops-signature": good}, creds)
    verify_hmac(b"body", {"authorization": "Bearer tok"}, creds)
    assert reason(verify_hmac, b"other", {"x-revops-signature": good}, creds) == "401 bad_signature"
    assert reason(verify_hmac, b"body", {"authorization": "Bearer no"}, creds) == "401 bad_token"
    assert reason(verify_hmac, b"body", {}, creds) == "401 missing_credentials"
    assert repr(creds) == "Credentials(secrets=1, token=set)"  # never the values


def test_content_types() -> None:
    assert (
        check_content_type("application/json; charset=utf-8", ("application/json",))
        == "application/json"
    )
    assert check_content_type("application/vnd.x+json", ("application/json",))
    assert (
        reason(check_content_type, "text/plain", ("application/json",))
        == "415 unsupported_media_type"
    )
    assert reason(check_content_type, None, ("application/json",)) == "415 unsupported_media_type"


def test_parse_keeps_the_body_as_received_and_filters_types() -> None:
    parsed = parse_stripe(EVENT, ALL, "req-1")
    assert [m.event_id for m in parsed.messages] == ["stripe:evt_1"]
    assert parsed.messages[0].body == EVENT and parsed.messages[0].request_id == "req-1"
    only_subs = parse_stripe(EVENT, TypeFilter(["stripe.customer.subscription.*"]))
    assert (only_subs.messages, only_subs.ignored) == ([], 1)


def test_bad_bodies_are_dead_lettered_with_a_reason() -> None:
    for body, expected in (
        (b"{nope", "malformed_json"),
        (b"[1]", "not_an_object"),
        (b'{"object": "customer"}', "unrecognised_event"),
    ):
        with pytest.raises(Rejection) as info:
            parse_stripe(body, ALL)
        assert (info.value.status, info.value.reason, info.value.dead_letter) == (
            400,
            expected,
            True,
        )
    assert reason(parse_salesforce, b"[]", ALL) == "400 empty_batch"
    assert (
        reason(parse_events, b'{"a": 1}\n', "application/x-ndjson", ALL) == "400 invalid_envelope"
    )


def test_salesforce_array_gives_one_message_per_record() -> None:
    cdc = {
        "ChangeEventHeader": {
            "entityName": "Opportunity",
            "recordIds": ["006A", "006B"],
            "changeType": "UPDATE",
            "commitTimestamp": 1759914000000,
            "commitNumber": 10732465012345678901,
        },
        "StageName": "Closed Won",
    }
    parsed = parse_salesforce(orjson.dumps([cdc]), ALL)
    assert [m.event_id for m in parsed.messages] == [
        "salesforce:006A:10732465012345678901",
        "salesforce:006B:10732465012345678901",
    ]
    assert orjson.loads(parsed.messages[0].body) == cdc
    assert parsed.messages[0].type == "salesforce.opportunity.updated"
