"""The marketing marts against hand-computed fixtures, on DuckDB and PostgreSQL (``wh``)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from kpi_fixtures import (
    EXPECTED_1,
    EXPECTED_30,
    LOADED,
    MEASURES,
    RUN_DATE,
    SUMMARY_1,
    SUMMARY_30,
    SUMMARY_MEASURES,
    load_ads,
    load_all,
    load_customers,
    load_sales,
)

from revops import signals
from revops.errors import ConfigError, UsageError
from revops.transform.marketing import (
    compute_channel_kpis,
    latest_run_date,
    read_kpis,
)


def plain(value: Any) -> Any:
    """Numbers compared by value whatever the engine's type (Decimal, int, float)."""
    if isinstance(value, Decimal):
        return float(value)
    return value


def assert_channels(rows: list[dict[str, Any]], expected: dict[str, tuple]) -> None:
    assert [r["channel"] for r in rows] == sorted(expected)
    for row in rows:
        want = dict(zip(MEASURES, expected[row["channel"]], strict=True))
        got = {m: plain(row[m]) for m in MEASURES}
        for m in MEASURES:
            if want[m] is None:
                assert got[m] is None, (row["channel"], m, got[m])
            else:
                assert got[m] == pytest.approx(want[m], rel=1e-12), (row["channel"], m)


def assert_summary(summary: dict[str, Any] | None, expected: tuple) -> None:
    assert summary is not None
    want = dict(zip(SUMMARY_MEASURES, expected, strict=True))
    for m in SUMMARY_MEASURES:
        got = plain(summary[m])
        if want[m] is None or isinstance(want[m], str):
            assert got == want[m], m
        else:
            assert got == pytest.approx(want[m], rel=1e-12), m


def test_window_30_matches_hand_computed_rows(wh, settings):
    load_all(wh)
    result = compute_channel_kpis(wh, settings, RUN_DATE)
    assert result.date == date(2026, 2, 10)
    assert (result.period_start, result.period_end) == (date(2026, 1, 12), date(2026, 2, 10))
    assert result.window_days == 30
    assert_channels(result.channels, EXPECTED_30)
    assert_summary(result.summary, SUMMARY_30)
    # every row carries the same period
    assert {(r["date"], r["period_start"], r["period_end"]) for r in result.channels} == {
        (date(2026, 2, 10), date(2026, 1, 12), date(2026, 2, 10))
    }


def test_edge_cases_of_the_definitions(wh, settings):
    load_all(wh)
    rows = {r["channel"]: r for r in compute_channel_kpis(wh, settings, RUN_DATE).channels}
    assert rows["Instagram"]["ad_cost"] > 0 and rows["Instagram"]["cac"] is None
    assert rows["Organic"]["ad_cost"] == 0 and rows["Organic"]["roas"] is None
    assert rows["Organic"]["cac"] == 0  # 0 ad cost over 2 customers is a real 0
    assert plain(rows["Unknown"]["period_revenue"]) == 8000
    assert rows["Facebook"]["conversions"] > rows["Facebook"]["clicks"]
    assert rows["Facebook"]["cvr"] == pytest.approx(140.0)
    assert "Referral" not in rows  # its only activity is after the period


def test_period_spans_two_monthly_sales_files(wh, settings):
    load_all(wh)
    months = wh.query("SELECT DISTINCT month FROM revops.raw_sales_orders ORDER BY month")
    assert [m["month"] for m in months] == ["2026-01", "2026-02"]
    google = next(
        r for r in compute_channel_kpis(wh, settings, RUN_DATE).channels if r["channel"] == "Google"
    )
    # S1 (Jan 26) + S2 (Jan 12, the first day) from January, S6 from February
    assert plain(google["period_revenue"]) == 40000 + 30000 + 50000


def test_window_1_versus_30_and_replacement(wh, settings):
    load_all(wh)
    compute_channel_kpis(wh, settings, RUN_DATE)
    one = compute_channel_kpis(wh, settings, RUN_DATE, window_days=1)
    assert (one.period_start, one.period_end) == (date(2026, 2, 10), date(2026, 2, 10))
    assert_channels(one.channels, EXPECTED_1)
    assert_summary(one.summary, SUMMARY_1)
    # same date, another window: the date's rows were replaced, not added to
    assert wh.query_value("SELECT COUNT(*) FROM revops.mart_channel_kpi") == len(EXPECTED_1)
    assert wh.query_value("SELECT COUNT(*) FROM revops.mart_daily_summary") == 1


def test_window_days_from_settings(wh):
    from revops.config import Settings

    load_all(wh)
    result = compute_channel_kpis(wh, Settings(data={"kpi": {"window_days": 1}}, env={}), RUN_DATE)
    assert result.window_days == 1
    assert_channels(result.channels, EXPECTED_1)


def test_rerun_gives_identical_rows(wh, settings):
    load_all(wh)
    first = compute_channel_kpis(wh, settings, RUN_DATE)
    second = compute_channel_kpis(wh, settings, RUN_DATE)
    assert first == second
    assert read_kpis(wh, RUN_DATE) == second
    assert wh.query_value("SELECT COUNT(*) FROM revops.mart_channel_kpi") == len(EXPECTED_30)
    assert wh.query_value("SELECT COUNT(*) FROM revops.mart_daily_summary") == 1


def test_other_dates_are_left_alone(wh, settings):
    load_all(wh)
    compute_channel_kpis(wh, settings, RUN_DATE)
    compute_channel_kpis(wh, settings, date(2026, 2, 10))
    compute_channel_kpis(wh, settings, RUN_DATE, window_days=1)
    assert_channels(read_kpis(wh, RUN_DATE).channels, EXPECTED_1)
    assert read_kpis(wh, date(2026, 2, 10)).computed
    assert latest_run_date(wh) == RUN_DATE


def test_empty_period(wh, settings):
    load_all(wh)
    result = compute_channel_kpis(wh, settings, date(2025, 6, 1))
    assert result.channels == []
    assert result.computed
    s = result.summary
    assert (plain(s["total_ad_cost"]), plain(s["total_revenue"]), s["total_customers"]) == (0, 0, 0)
    assert s["overall_cac"] is None and s["overall_roas"] is None and s["avg_cvr"] is None
    assert s["best_channel"] is None and s["best_channel_roas"] is None


def test_no_channel_with_ad_cost_has_no_best_channel(wh, settings):
    load_customers(wh, [("C1", date(2026, 2, 10), "Organic")])
    load_sales(wh, [("S1", "C1", date(2026, 2, 10), 500, "2026-02")])
    s = compute_channel_kpis(wh, settings, RUN_DATE).summary
    assert s["best_channel"] is None and s["best_channel_roas"] is None
    assert s["overall_roas"] is None and s["overall_cac"] == 0


def test_best_channel_ties_break_on_revenue_then_name(wh, settings):
    day = date(2026, 2, 10)
    # three channels at roas 200 with equal revenue: the name decides, by code point
    # ("Zeta" < "alpha" < "bing" whatever the database collation)
    load_ads(
        wh,
        [
            (day, "a", None, "bing", 10, 1, 100, 0),
            (day, "b", None, "Zeta", 10, 1, 100, 0),
            (day, "c", None, "alpha", 10, 1, 100, 0),
            (day, "d", None, "Low", 10, 1, 100, 0),
        ],
    )
    load_customers(
        wh,
        [
            ("C1", date(2025, 1, 1), "bing"),
            ("C2", date(2025, 1, 1), "Zeta"),
            ("C3", date(2025, 1, 1), "alpha"),
            ("C4", date(2025, 1, 1), "Low"),
        ],
    )
    load_sales(
        wh,
        [
            ("S1", "C1", day, 200, "2026-02"),
            ("S2", "C2", day, 200, "2026-02"),
            ("S3", "C3", day, 200, "2026-02"),
            ("S4", "C4", day, 100, "2026-02"),
        ],
    )
    s = compute_channel_kpis(wh, settings, RUN_DATE, window_days=1).summary
    assert (s["best_channel"], s["best_channel_roas"]) == ("Zeta", 200.0)


def test_audit_row_and_signal(wh, settings):
    load_all(wh)
    seen: list[dict[str, Any]] = []
    unsubscribe = signals.subscribe(signals.MARTS_REFRESHED, lambda t, d: seen.append(d))
    try:
        compute_channel_kpis(wh, settings, RUN_DATE)
    finally:
        unsubscribe()
    assert seen == [{"tables": ["mart_channel_kpi", "mart_daily_summary"], "date": "2026-02-10"}]
    rows = wh.query(
        "SELECT resource, action, status, detail FROM revops.audit_events "
        "WHERE resource = 'marketing_marts'"
    )
    assert [(r["resource"], r["action"], r["status"]) for r in rows] == [
        ("marketing_marts", "transform", "ok")
    ]
    assert '"window_days":30' in rows[0]["detail"] and '"channels":6' in rows[0]["detail"]


def test_not_computed_date_reads_empty(wh):
    result = read_kpis(wh, RUN_DATE)
    assert not result.computed and result.channels == [] and result.best_channel is None
    assert latest_run_date(wh) is None


def test_bad_window_is_refused(wh, settings):
    with pytest.raises(UsageError, match="window_days"):
        compute_channel_kpis(wh, settings, RUN_DATE, window_days=0)
    from revops.config import Settings

    with pytest.raises(ConfigError, match=r"kpi\.window_days"):
        compute_channel_kpis(wh, Settings(data={"kpi": {"window_days": "x"}}, env={}), RUN_DATE)


def test_customer_without_channel_counts_as_unknown(wh, settings):
    wh.insert_rows(
        "revops.raw_crm_customers",
        ("customer_id", "acquisition_date", "acquisition_channel", "loaded_at"),
        [("C1", date(2026, 2, 10), None, LOADED)],
    )
    load_sales(wh, [("S1", "C1", date(2026, 2, 10), 300, "2026-02")])
    rows = compute_channel_kpis(wh, settings, RUN_DATE).channels
    assert [(r["channel"], r["new_customers"], plain(r["period_revenue"])) for r in rows] == [
        ("Unknown", 1, 300)
    ]
