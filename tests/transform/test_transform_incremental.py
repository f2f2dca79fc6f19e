"""The incremental shortcuts give exactly what the full paths give (both engines where a
warehouse is involved): the invoice fast parser, each key's fold continued from its current
fact, and the mart scope taken from the facts a run changed."""

from __future__ import annotations

import copy
import random
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from revops.transform import run_transform
from revops.transform.settings import RevenueSettings
from revops.transform.staging import Stager, StagingBatch

from .conftest import FIXTURES, golden_lines, land, snapshot

TZ = ZoneInfo("Asia/Tokyo")


def _fixture(name: str) -> dict:
    return orjson.loads((FIXTURES / "stripe" / f"{name}.json").read_bytes())


def _invoice_payloads() -> list[dict]:
    """Every golden Stripe invoice event, and variants with odd but readable shapes."""
    events = [
        orjson.loads(p.read_bytes()) for p in sorted((FIXTURES / "stripe").glob("invoice_*.json"))
    ]
    variants = []
    base = _fixture("invoice_paid_annual_c5")
    for change in (
        lambda o: o["lines"]["data"][0]["price"].update(recurring={}),
        lambda o: o["lines"]["data"][0].update(plan={}),
        lambda o: o["lines"]["data"][0].update(price="price_as_string"),
        lambda o: o["lines"]["data"].append("not an object"),
        lambda o: o.update(lines=None),
        lambda o: o.update(lines=[]),
        lambda o: o.update(customer={"id": "cus_expanded", "object": "customer"}),
        lambda o: o.update(status=None, paid=True),
        lambda o: o.update(status_transitions="junk"),
        lambda o: o.update(metadata={"opportunity_id": "  006X  "}),
        lambda o: o.update(amount_due="12.5"),
        lambda o: o.update(currency=None),
        lambda o: o.update(id=None),
        lambda o: o.update(created="2025-01-02T03:04:05Z"),
    ):
        event = copy.deepcopy(base)
        change(event["data"]["object"])
        variants.append(event)
    no_object = copy.deepcopy(base)
    no_object["data"] = {"object": None}
    return [*events, *variants, no_object]


def _stage(stager: Stager, row: dict, *, fast: bool) -> StagingBatch | str | None:
    """The batch staged from ``row`` by one path, the name of the error it raised, or None
    when the fast path does not take the payload (it is then parsed in full)."""
    batch = StagingBatch()
    try:
        if fast:
            if not stager._fast_invoice(_head(row), row["type"], row, batch):
                return None
        else:
            stager._invoice(_head(row), row["type"], orjson.loads(row["payload"]), batch)
    except Exception as exc:  # the reason a payload is rejected must be the same too
        return type(exc).__name__
    return batch


def _head(row: dict) -> tuple:
    return (row["event_id"], row["raw_seq"], row["event_ts"])


@pytest.mark.parametrize("index", range(len(_invoice_payloads())))
def test_fast_invoice_staging_equals_the_full_parse(index):
    event = _invoice_payloads()[index]
    row = {
        "event_id": f"e{index}",
        "raw_seq": index + 1,
        "event_ts": datetime(2025, 1, 2, tzinfo=UTC),
        "type": "stripe.invoice.paid",
        "payload": orjson.dumps(event),
    }
    stager = Stager(RevenueSettings(), TZ)
    full = _stage(stager, row, fast=False)
    fast = _stage(stager, row, fast=True)
    if fast is None:
        return  # not a plain invoice event (or an unexpected type inside): read in full
    if isinstance(full, str) or isinstance(fast, str):
        assert fast == full
        return
    assert fast.invoice == full.invoice
    assert fast.line == full.line
    assert fast.invoice  # something was staged


def _customer_event(evt: str, created: int, account: str) -> bytes:
    event = _fixture("customer_updated_c1_account")
    event.update(id=evt, created=created)
    event["request"] = {"id": f"req_{evt}", "idempotency_key": f"k_{evt}"}
    event["data"]["object"]["metadata"] = {"sf_account_id": account}
    return orjson.dumps(event)


def _invoice_event(name: str, evt: str, created: int, **changes) -> bytes:
    event = _fixture(name)
    event.update(id=evt, created=created)
    event["request"] = {"id": f"req_{evt}", "idempotency_key": f"k_{evt}"}
    event["data"]["object"].update(changes)
    return orjson.dumps(event)


def _price_event(evt: str, created: int, interval: str) -> bytes:
    event = _fixture("price_created_monthly_jpy")
    event.update(id=evt, created=created, type="price.updated")
    event["request"] = {"id": f"req_{evt}", "idempotency_key": f"k_{evt}"}
    event["data"]["object"]["recurring"]["interval"] = interval
    return orjson.dumps(event)


def _changes() -> list[bytes]:
    """Later events on keys the golden events already made: a customer mapped to another
    account (and an older-looking snapshot of it arriving late), an invoice moved to another
    customer, a same-second and an older snapshot of a paid invoice, a price changing its
    interval, and the same customer re-sent unchanged with another event id."""
    return [
        _customer_event("evt_chg_c1_a", 1767225600, "001A4"),
        _customer_event("evt_chg_c1_old", 1735000000, "001A2"),
        _customer_event("evt_chg_c1_same", 1767225600, "001A4"),
        _invoice_event("invoice_paid_c4", "evt_chg_c4_move", 1767225600, customer="cus_C1"),
        _invoice_event("invoice_paid_c4", "evt_chg_c4_same_second", 1741564800, status="open"),
        _invoice_event("invoice_paid_basil_c1_m1", "evt_chg_c1m1_old", 1700000000, amount_paid=1),
        _price_event("evt_chg_price", 1767225600, "year"),
    ]


def _clean(wh, lines: list[bytes]) -> dict:
    land(wh, lines)
    run_transform(wh, full=True)
    return snapshot(wh)


def _reset(wh) -> None:
    tables = wh.query(
        "SELECT table_name FROM information_schema.tables "
        "WHERE table_schema = 'revops' AND table_type = 'BASE TABLE'"
    )
    for t in tables:
        wh.execute(f'DELETE FROM revops."{t["table_name"]}"')


_EXPECTED: dict[str, dict] = {}


@settings(
    max_examples=6,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(seed=st.integers(0, 2**32 - 1), batches=st.integers(1, 4))
def test_later_events_on_existing_keys_equal_a_full_rebuild(wh, seed, batches):
    lines = golden_lines()
    changes = _changes()
    if wh.dialect not in _EXPECTED:
        _reset(wh)
        _EXPECTED[wh.dialect] = _clean(wh, lines + changes)
    _reset(wh)
    land(wh, lines)
    run_transform(wh)
    rng = random.Random(seed)
    rng.shuffle(changes)
    cuts = sorted(rng.sample(range(1, len(changes)), batches - 1)) if batches > 1 else []
    for start, end in zip([0, *cuts], [*cuts, len(changes)], strict=True):
        land(wh, changes[start:end])
        report = run_transform(wh)
        assert report.mode == "incremental"
    assert snapshot(wh) == _EXPECTED[wh.dialect]
    # A second run changes nothing.
    assert run_transform(wh).facts_changed == 0
    assert snapshot(wh) == _EXPECTED[wh.dialect]


def test_a_run_too_large_to_keep_in_memory_re_reads_staging(wh, monkeypatch):
    from revops.transform import staging

    monkeypatch.setattr(staging, "KEEP_ROWS", 5)
    lines = golden_lines()
    land(wh, lines[:10])
    run_transform(wh)
    land(wh, lines[10:] + _changes())
    run_transform(wh)
    incremental = snapshot(wh)
    run_transform(wh, full=True)
    assert snapshot(wh) == incremental


def test_current_invoice_lines_are_those_of_each_facts_lines_event(wh):
    land(wh, golden_lines()[:10])
    run_transform(wh)
    land(wh, golden_lines()[10:] + _changes())
    run_transform(wh)
    current = wh.query(
        "SELECT l.invoice_id, l.line_no, l.event_id FROM revops.fact_invoice_line AS l "
        "ORDER BY 1, 2"
    )
    expected = wh.query(
        "SELECT l.invoice_id, l.line_no, l.event_id FROM revops.stg_invoice_line AS l "
        "JOIN revops.fact_billing AS b ON b.lines_event_id = l.event_id ORDER BY 1, 2"
    )
    assert current == expected and current


def test_a_warehouse_without_current_invoice_lines_fills_them_on_its_next_run(wh):
    lines = golden_lines()
    land(wh, lines[:10])
    run_transform(wh)
    # As a warehouse made before the table existed: no current lines, no state saying so.
    wh.execute("DELETE FROM revops.fact_invoice_line")
    wh.execute("DELETE FROM revops.transform_state WHERE name = 'revenue.invoice_lines'")
    land(wh, lines[10:] + _changes())
    run_transform(wh)
    incremental = snapshot(wh)
    run_transform(wh, full=True)
    assert snapshot(wh) == incremental


def test_per_customer_months_that_vanish_are_deleted_as_a_full_rebuild_does(wh):
    land(wh, golden_lines())
    run_transform(wh)
    months = "SELECT count(*) FROM revops.mrr_customer_monthly WHERE customer_id = 'cus_C1'"
    before = wh.query_value(months)
    # A later snapshot voids a paid monthly invoice: its month's MRR (and movements) go.
    event = _fixture("invoice_paid_basil_c1_m3")
    event.update(id="evt_chg_c1m3_void", created=1767225600, type="invoice.voided")
    event["request"] = {"id": "req_evt_chg_c1m3_void", "idempotency_key": "k_void"}
    event["data"]["object"].update(status="void", amount_paid=0)
    land(wh, [orjson.dumps(event)])
    run_transform(wh)
    assert wh.query_value(months) < before
    tables = {
        "mrr_customer_monthly": "customer_id, currency, month",
        "nrr_customer_movement": "customer_id, currency, month",
        "mart_nrr_monthly": "month, currency",
    }

    def rows() -> dict:
        return {t: wh.query(f"SELECT * FROM revops.{t} ORDER BY {k}") for t, k in tables.items()}

    incremental, incremental_snapshot = rows(), snapshot(wh)
    run_transform(wh, full=True)
    assert rows() == incremental
    assert snapshot(wh) == incremental_snapshot


def test_a_warehouse_without_nrr_totals_fills_them_on_its_next_run(wh):
    lines = golden_lines()
    land(wh, lines[:10])
    run_transform(wh)
    assert wh.query_value("SELECT count(*) FROM revops.nrr_monthly_total")
    # As a warehouse made before the table existed: no sums, no state saying so.
    wh.execute("DELETE FROM revops.nrr_monthly_total")
    wh.execute("DELETE FROM revops.transform_state WHERE name = 'revenue.nrr_totals'")
    land(wh, lines[10:] + _changes())
    run_transform(wh)
    incremental = snapshot(wh)
    run_transform(wh, full=True)
    assert snapshot(wh) == incremental


def test_nrr_totals_are_the_sums_of_the_movements_after_incremental_runs(wh):
    lines = golden_lines() + _changes()
    for start in range(0, len(lines), 7):
        land(wh, lines[start : start + 7])
        run_transform(wh)
    totals = wh.query(
        "SELECT currency, month, movements, prev_mrr, mrr, retained, cohort_mrr "
        "FROM revops.nrr_monthly_total ORDER BY 1, 2"
    )
    expected = wh.query(
        "SELECT currency, month, count(*) AS movements, sum(prev_mrr) AS prev_mrr, "
        "sum(mrr) AS mrr, sum(retained) AS retained, "
        "sum(CASE WHEN prev_mrr > 0 THEN mrr ELSE 0 END) AS cohort_mrr "
        "FROM revops.nrr_customer_movement GROUP BY 1, 2 ORDER BY 1, 2"
    )
    assert totals == expected and totals
