"""Every shipped expectation passes on clean rows and fails on bad rows, on each warehouse."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest
from tests.quality.conftest import make_settings
from tests.quality.fixtures import BAD_UNEXPECTED, DAY, load_bad, load_clean

from revops.quality import load_suites, run_checks
from revops.warehouse.base import Warehouse

SEED_SUMMARY = [
    "ads: ✅ PASS (9/9)",
    "crm: ✅ PASS (5/5)",
    "fact_billing: ✅ PASS (4/4)",
    "fact_opportunity: ✅ PASS (2/2)",
    "mart_channel_kpi: ✅ PASS (9/9)",
    "sales: ✅ PASS (7/7)",
]


def test_shipped_suites_are_the_issue_s():
    counts = {s.name: len(s.expectations) for s in load_suites()}
    assert counts == {
        "ads": 9,
        "crm": 5,
        "sales": 7,
        "fact_billing": 4,
        "fact_opportunity": 2,
        "mart_channel_kpi": 9,
    }
    assert all(s.severity == "warn" for s in load_suites())


def test_clean_rows_pass_every_expectation(wh: Warehouse, tmp_path: Path):
    load_clean(wh)
    settings = make_settings(tmp_path, data_docs=True)
    report = run_checks(wh, settings, run_id="run-clean")
    assert report.summary() == SEED_SUMMARY
    assert not report.blocked and report.warnings == [] and report.success
    stored = wh.query(
        "SELECT suite, expectation, success, severity, rows_checked, rows_total "
        "FROM revops.dq_results WHERE run_id = ? ORDER BY suite",
        ("run-clean",),
    )
    assert len(stored) == 36 and all(r["success"] for r in stored)
    assert {(r["suite"], r["rows_total"]) for r in stored} == {
        ("ads", 2),
        ("crm", 3),
        ("sales", 20),
        ("fact_billing", 5),
        ("fact_opportunity", 2),
        ("mart_channel_kpi", 2),
    }
    # Data Docs for this run, one validation page per suite.
    docs = tmp_path / "reports" / "quality" / "run-clean"
    assert report.data_docs == docs / "index.html"
    pages = sorted(p.name for p in (docs / "validations").rglob("*.html"))
    assert len(pages) == 6
    assert "mart_channel_kpi" in (docs / "index.html").read_text(encoding="utf-8")
    assert wh.query_value("SELECT count(*) FROM revops.notifications_outbox") == 0
    audits = wh.query(
        "SELECT resource, status FROM revops.audit_events WHERE action = 'check' "
        "AND request_id = ? ORDER BY resource",
        ("run-clean",),
    )
    assert [a["resource"] for a in audits] == [f"quality:{s.split(':')[0]}" for s in SEED_SUMMARY]
    assert {a["status"] for a in audits} == {"passed"}


def test_bad_rows_fail_every_expectation(wh: Warehouse, settings):
    load_bad(wh)
    report = run_checks(wh, settings, run_id="run-bad")
    by_key = {(r["suite"], r["expectation"], r["column"]): r for r in report.results}
    exists = {k for k in by_key if k[1] == "expect_column_to_exist"}
    assert set(by_key) - exists == set(BAD_UNEXPECTED)
    for key, unexpected in BAD_UNEXPECTED.items():
        row = by_key[key]
        assert row["success"] is False, key
        assert row["error"] is None, key
        assert row["unexpected_count"] == unexpected, key
    assert all(by_key[k]["success"] for k in exists)
    quantile = orjson.loads(
        by_key[("sales", "expect_column_quantile_values_to_be_between", "revenue")][
            "observed_value"
        ]
    )
    assert quantile["quantiles"] == [0.95] and quantile["values"][0] >= 5_000_000
    ads = by_key[("ads", "expect_column_values_to_be_between", "cost")]
    assert orjson.loads(ads["unexpected_sample"]) == [-2.5]
    assert ads["unexpected_percent"] == pytest.approx(50.0)
    assert report.summary() == [
        "ads: ❌ FAIL (4/9)",
        "crm: ❌ FAIL (1/5)",
        "fact_billing: ❌ FAIL (0/4)",
        "fact_opportunity: ❌ FAIL (0/2)",
        "mart_channel_kpi: ❌ FAIL (0/9)",
        "sales: ❌ FAIL (3/7)",
    ]
    # warn severity: not blocked, one notification for the run
    assert not report.blocked and len(report.warnings) == len(BAD_UNEXPECTED)
    outbox = wh.query("SELECT key, channel, kind, payload FROM revops.notifications_outbox")
    assert [(o["key"], o["channel"], o["kind"]) for o in outbox] == [
        ("run-bad:dq_warning", "slack", "dq_warning")
    ]
    payload = orjson.loads(outbox[0]["payload"])
    assert "ads: ❌ FAIL (4/9)" in payload["text"] and payload["blocks"]
    assert "expect_column_values_to_be_between(cost): 1 unexpected" in payload["text"]


def test_missing_columns_fail_the_exists_expectations(wh: Warehouse, tmp_path: Path):
    """The exists expectations fail (and the ones on those columns report an error) when the
    source lacks the columns; the suites are the shipped ones pointed at such a table."""
    wh.execute("CREATE TABLE revops.qa_no_columns (other VARCHAR)")
    wh.execute(
        "CREATE TABLE revops.qa_no_customer_id (lifetime_value DOUBLE, acquisition_channel VARCHAR)"
    )
    wh.execute("INSERT INTO revops.qa_no_columns VALUES ('x')")
    wh.execute("INSERT INTO revops.qa_no_customer_id VALUES (1, 'Google')")
    folder = tmp_path / "suites"
    folder.mkdir()
    shipped = {s.name: s.path for s in load_suites(["ads", "crm", "sales"])}
    for name, table in (
        ("ads", "qa_no_columns"),
        ("sales", "qa_no_columns"),
        ("crm", "qa_no_customer_id"),
    ):
        text = shipped[name].read_text(encoding="utf-8")
        text = (
            text.replace("table: raw_ads", f"table: {table}")
            .replace("table: raw_sales_orders", f"table: {table}")
            .replace("query_file: crm_customers.sql", f"table: {table}")
            .replace("date_column: date", "")
        )
        (folder / f"{name}.yaml").write_text(text, encoding="utf-8")
    report = run_checks(
        wh, make_settings(tmp_path, suites_dir=str(folder)), ["ads", "crm", "sales"]
    )
    exists = [r for r in report.results if r["expectation"] == "expect_column_to_exist"]
    assert [(r["suite"], r["column"]) for r in exists] == [
        ("ads", "campaign_id"),
        ("ads", "impressions"),
        ("ads", "clicks"),
        ("ads", "cost"),
        ("crm", "customer_id"),
        ("sales", "order_id"),
        ("sales", "customer_id"),
        ("sales", "revenue"),
    ]
    assert not any(r["success"] for r in exists)
    on_missing = [
        r
        for r in report.results
        if r not in exists and r["column"] not in ("lifetime_value", "acquisition_channel")
    ]
    assert on_missing and all(not r["success"] and r["error"] for r in on_missing)
    assert report.summary() == ["ads: ❌ FAIL (0/9)", "crm: ❌ FAIL (2/5)", "sales: ❌ FAIL (0/7)"]


def test_date_checks_only_that_day(wh: Warehouse, settings):
    load_clean(wh)
    # The day before is broken: negative cost.
    wh.execute(
        "INSERT INTO revops.raw_ads (date, campaign_id, channel, impressions, clicks, "
        "cost, conversions, loaded_at) VALUES (DATE '2026-11-29', 'c9', 'Google', 1, 0, "
        "-3, 0, TIMESTAMPTZ '2026-11-29 00:00:00+00')"
    )
    that_day = run_checks(wh, settings, ["ads"], day=DAY)
    assert that_day.summary() == ["ads: ✅ PASS (9/9)"]
    assert {r["rows_total"] for r in that_day.results} == {2}
    every_day = run_checks(wh, settings, "ads")
    assert every_day.summary() == ["ads: ❌ FAIL (8/9)"]
