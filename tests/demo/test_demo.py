"""revops demo: deterministic company, delivery noise, and a summary that matches the marts."""

from __future__ import annotations

from datetime import date

import orjson

from revops.demo import run_demo
from revops.demo.company import Company, deliveries
from revops.warehouse import connect

END = date(2026, 6, 1)


def test_same_seed_same_company_and_noise():
    a = deliveries(Company(seed=3, days=60, end=END).run(), seed=3)
    b = deliveries(Company(seed=3, days=60, end=END).run(), seed=3)
    c = deliveries(Company(seed=4, days=60, end=END).run(), seed=4)
    assert a.lines == b.lines
    assert a.lines != c.lines
    assert a.duplicates > 0 and a.malformed == 3
    assert len(a.lines) == a.events + a.duplicates + a.malformed


def test_company_uses_both_stripe_api_shapes_and_cdc_change_types():
    events = Company(seed=7, days=120, end=END).run()
    versions = {e.get("api_version") for e in events if e.get("object") == "event"}
    assert versions == {"2024-06-20", "2025-03-31.basil"}
    changes = {e["payload"]["ChangeEventHeader"]["changeType"] for e in events if "payload" in e}
    assert {"CREATE", "UPDATE", "DELETE", "UNDELETE"} <= changes
    currencies = {
        e["data"]["object"].get("currency")
        for e in events
        if e.get("type", "").startswith("invoice.")
    }
    assert currencies == {"jpy", "usd"}


def test_demo_summary_matches_the_marts(tmp_path):
    lines: list[str] = []
    result = run_demo(tmp_path, days=90, seed=5, end=END, echo=lines.append)
    assert result.ingest["dead_lettered"] == 3
    assert result.ingest["duplicates"] > 0
    with connect(result.warehouse_url) as wh:
        raw = wh.query_value("SELECT count(*) FROM revops.events_raw")
        paid = wh.query_value("SELECT count(*) FROM revops.mart_won_to_paid WHERE status = 'paid'")
        letters = wh.query("SELECT reason FROM revops.dead_letters ORDER BY id")
    assert raw == result.ingest["new"]
    assert f"paid {paid}" in result.summary
    assert {r["reason"] for r in letters} == {
        "malformed_json",
        "unrecognised_event",
        "missing_field",
    }
    assert f"dead letters {len(letters)}" in result.summary
    sent = (tmp_path / "events.ndjson").read_bytes().splitlines()
    assert len(sent) == result.ingest["read"]
    assert orjson.loads(sent[0])  # real JSON on disk
