"""The golden real-format payloads through the normalizers (revops.sources) and the parsers."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import orjson
import pytest

from revops.sources.detect import normalize_record
from revops.transform import stage_salesforce, stage_stripe
from revops.transform.settings import RevenueSettings

from .conftest import FIXTURES, golden_files

TOKYO = ZoneInfo("Asia/Tokyo")


def load(folder: str, name: str) -> dict:
    return orjson.loads((FIXTURES / folder / f"{name}.json").read_bytes())


@pytest.mark.parametrize("path", golden_files(), ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_every_golden_payload_normalizes(path):
    obj = orjson.loads(path.read_bytes())
    envelopes = normalize_record(obj)
    assert envelopes
    for env in envelopes:
        assert env.event_id.startswith(env.source + ":")
        assert not env.event_id.startswith(env.source + ":" + env.source + ":")
        assert env.type.startswith(env.source + ".")
        assert env.event_ts.tzinfo is not None


def test_stripe_event_keeps_api_version_and_second_resolution_time():
    obj = load("stripe", "invoice_paid_basil_prepaid_c2")
    (env,) = normalize_record(obj)
    assert env.type == "stripe.invoice.paid"
    assert env.event_id == "stripe:evt_C2p"
    assert env.event_ts == datetime(2025, 1, 30, tzinfo=UTC)
    assert env.payload["api_version"] == "2025-03-31.basil"
    assert env.payload["livemode"] is False
    assert env.correlation_id == "req_C2p"


def test_cdc_event_naming_two_records_gives_two_envelopes_with_exact_commit_number():
    obj = load("salesforce", "cdc_create_o2_o3_multi")
    envs = normalize_record(obj)
    assert [e.event_id for e in envs] == ["salesforce:006O2:1002", "salesforce:006O3:1002"]
    assert {e.type for e in envs} == {"salesforce.opportunity.created"}
    assert envs[0].event_ts == datetime(2025, 1, 5, tzinfo=UTC)
    header = envs[0].payload["payload"]["ChangeEventHeader"]
    assert header["commitNumber"] == 2**53 + 21  # not rounded through a float


def test_cdc_gap_overflow_without_records_and_streaming_form():
    (overflow,) = normalize_record(load("salesforce", "cdc_gap_overflow"))
    assert overflow.type == "salesforce.opportunity.overflow"
    assert overflow.event_id == "salesforce:*:1051"
    (gap,) = normalize_record(load("salesforce", "cdc_gap_update_o9"))
    assert gap.type == "salesforce.opportunity.gap"
    (streamed,) = normalize_record(load("salesforce", "cdc_streaming_form_o1_name"))
    assert streamed.event_id == "salesforce:006O1:1060"
    assert streamed.type == "salesforce.opportunity.updated"


def test_seed_flat_forms_are_neutral_envelopes():
    (opp,) = normalize_record(load("seed", "salesforce_opportunity_updated"))
    assert opp.event_id == "salesforce:006xx00000ABCDEF:42"
    (inv,) = normalize_record(load("seed", "stripe_invoice_paid"))
    assert inv.event_id == "stripe:in_1ABCDxyz"
    assert inv.type == "stripe.invoice.paid"


def _invoice(name: str) -> tuple[dict, dict]:
    event = load("stripe", name)
    return event, event["data"]["object"]


def test_basil_invoice_paid_comes_from_status_transitions_and_parent():
    event, inv = _invoice("invoice_paid_basil_prepaid_c2")
    assert "paid" not in inv and "subscription" not in inv
    row = stage_stripe.invoice_row(
        inv,
        event,
        "stripe.invoice.paid",
        datetime(2025, 1, 30, tzinfo=UTC),
        RevenueSettings(),
        TOKYO,
    )
    assert row["status"] == "paid"
    assert row["paid_at"] == datetime(2025, 1, 30, tzinfo=UTC)
    assert row["subscription_id"] == "sub_C2"
    assert row["opportunity_id"] == "006O2"  # from parent.subscription_details.metadata
    assert row["amount_due"] == Decimal("5000")  # 500000 cents
    assert row["api_version"] == "2025-03-31.basil"
    (line,) = stage_stripe.line_rows(inv)
    assert line["price_id"] == "price_usd_month"
    assert line["is_recurring"] is True
    assert line["recurring_interval"] is None  # basil lines carry only the price id


def test_pre_2025_invoice_and_lines_with_price_recurring():
    event, inv = _invoice("invoice_paid_annual_c5")
    assert inv["paid"] is True and inv["charge"]
    row = stage_stripe.invoice_row(
        inv,
        event,
        "stripe.invoice.paid",
        datetime(2025, 1, 16, tzinfo=UTC),
        RevenueSettings(),
        TOKYO,
    )
    assert row["amount_paid"] == Decimal(1200000)  # JPY is zero-decimal: not divided
    assert row["subscription_id"] == "sub_C5"
    (line,) = stage_stripe.line_rows(inv)
    assert (line["recurring_interval"], line["interval_count"]) == ("year", 1)


def test_due_date_is_a_business_day():
    event, inv = _invoice("invoice_updated_partial_c3")
    row = stage_stripe.invoice_row(
        inv,
        event,
        "stripe.invoice.updated",
        datetime(2025, 2, 15, tzinfo=UTC),
        RevenueSettings(),
        TOKYO,
    )
    assert str(row["due_date"]) == "2025-02-20"
    assert (row["amount_paid"], row["amount_remaining"]) == (Decimal(400), Decimal(600))


def test_cdc_update_sets_only_changed_and_nulled_fields():
    obj = load("salesforce", "cdc_update_o4_won_nulls_close_date")
    row = stage_salesforce.cdc_row("salesforce:006O4:1013", obj)
    assert row["set_fields"] == ["stage_name", "close_date"]
    assert row["stage_name"] == "Closed Won" and row["close_date"] is None
    assert row["source_seq"] == 2**53 + 131


def test_customer_metadata_names_the_account_and_price_interval():
    obj = load("stripe", "customer_updated_c1_account")["data"]["object"]
    assert (
        stage_stripe.customer_row(obj, "stripe.customer.updated", RevenueSettings())["account_id"]
        == "001A1"
    )
    assert (
        stage_stripe.customer_row(
            obj, "stripe.customer.updated", RevenueSettings(account_key="other")
        )["account_id"]
        is None
    )
    price = load("stripe", "price_created_monthly_jpy")["data"]["object"]
    row = stage_stripe.price_row(price, "stripe.price.created")
    assert (row["recurring_interval"], row["interval_count"], row["unit_amount"]) == (
        "month",
        1,
        Decimal(100000),
    )


@pytest.mark.parametrize(
    ("amount", "currency", "major"),
    [
        (123456, "jpy", Decimal(123456)),
        (123456, "KRW", Decimal(123456)),
        (123456, "vnd", Decimal(123456)),
        (123456, "clp", Decimal(123456)),
        (123456, "usd", Decimal("1234.56")),
        (123456, "kwd", Decimal("123.456")),
        (None, "usd", None),
    ],
)
def test_minor_units_to_major(amount, currency, major):
    from revops.transform.money import to_major

    assert to_major(amount, currency) == major


def test_deleted_draft_invoice_is_marked_deleted():
    event, inv = _invoice("invoice_created_draft_c9")
    row = stage_stripe.invoice_row(
        inv,
        event,
        "stripe.invoice.deleted",
        datetime(2025, 3, 13, tzinfo=UTC),
        RevenueSettings(),
        TOKYO,
    )
    assert row["status"] == "deleted"
    assert stage_stripe.STATUS_LEVEL["deleted"] > stage_stripe.STATUS_LEVEL["draft"]
