"""The HTML report in headless Chromium: it renders offline and shows the marts' figures."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import report_marts as marts

from revops.outputs.reports import render_report
from revops.outputs.reports.formatting import count, money, pct, ratio_pct, yen

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


@pytest.fixture(scope="module")
def browser():
    from servicecheck import service_unavailable

    if not os.path.exists(CHROMIUM):
        service_unavailable("Chromium", f"{CHROMIUM} is missing (scripts/setup-dev installs it)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield browser
        browser.close()


def _cell(page, row_selector: str, figure: str) -> tuple[str, str]:
    element = page.locator(f'{row_selector} [data-figure="{figure}"]').first
    return element.inner_text().strip(), element.get_attribute("data-value") or ""


def _close(value: str, expected) -> bool:
    if expected is None:
        return value == ""
    return float(value) == pytest.approx(float(expected), rel=1e-9, abs=1e-9)


@pytest.mark.slow
def test_report_page_shows_the_marts(filled, tmp_path, browser, request):
    bundle = render_report(filled, marts.make_settings(tmp_path), marts.DAY, run_id=marts.RUN_ID)
    page = browser.new_page(viewport={"width": 800, "height": 1000})
    outside: list[str] = []

    def guard(route):
        if route.request.url.startswith(("file:", "data:")):
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    page.route("**/*", guard)
    page.goto(bundle.html_path.as_uri())
    assert outside == [], "the report must not load anything from a network"

    charts = page.locator("img.chart")
    assert charts.count() == 6
    widths = page.eval_on_selector_all("img.chart", "els => els.map(e => e.naturalWidth)")
    assert all(w > 300 for w in widths), widths

    (summary,) = filled.query(
        "SELECT * FROM revops.mart_daily_summary WHERE date = ?", (marts.END,)
    )
    for figure, shown in [
        ("total_ad_cost", yen),
        ("total_revenue", yen),
        ("overall_roas", pct),
        ("overall_cac", yen),
        ("total_customers", lambda v: count(v, "人")),
        ("avg_cvr", lambda v: pct(v, 2)),
    ]:
        text, value = _cell(page, ".cards", figure)
        assert text == shown(summary[figure]), figure
        assert _close(value, summary[figure]), figure
    assert _cell(page, ".cards", "best_channel")[0] == summary["best_channel"] == "Google"
    assert page.locator("#roas-tier").inner_text().strip() == "🚀 ROAS 335.9% 素晴らしい!"

    channels = filled.query("SELECT * FROM revops.mart_channel_kpi WHERE date = ?", (marts.END,))
    shown_order = page.eval_on_selector_all(
        "#channels tbody tr", "rows => rows.map(r => r.dataset.channel)"
    )
    assert shown_order == ["Google", "Facebook", "Instagram", "Organic"]
    assert len(channels) == 4
    for row in channels:
        sel = f'#channels tr[data-channel="{row["channel"]}"]'
        for figure, shown in [
            ("ad_cost", yen),
            ("period_revenue", yen),
            ("roas", pct),
            ("cac", yen),
            ("cvr", lambda v: pct(v, 2)),
        ]:
            text, value = _cell(page, sel, figure)
            assert text == shown(row[figure]), (row["channel"], figure)
            assert _close(value, row[figure]), (row["channel"], figure)

    trend = filled.query(
        "SELECT date, total_ad_cost FROM revops.mart_daily_summary ORDER BY date DESC LIMIT 7"
    )
    for row in trend:
        text, _ = _cell(page, f'#trend tr[data-date="{row["date"].isoformat()}"]', "total_ad_cost")
        assert text == yen(row["total_ad_cost"])

    assert _cell(page, "#won-to-paid", "paid_deals") == ("6件", "6")
    assert _cell(page, "#won-to-paid", "median_days")[0] == "12.1日"  # (10.25 + 14) / 2
    assert _cell(page, "#won-to-paid", "within_15_days")[0] == "66.7%"  # 4 of 6
    assert _cell(page, "#won-to-paid", "open_won")[0] == "3件"
    assert _cell(page, "#won-to-paid", "open_won_amount")[0] == "¥1,980,000"

    buckets = filled.query(
        "SELECT bucket, currency, sum(amount_remaining) AS amount, count(*) AS n "
        "FROM revops.mart_collections WHERE as_of = ? GROUP BY bucket, currency",
        (marts.DAY,),
    )
    assert page.locator("#collections tbody tr").count() == len(buckets) == 7
    for row in buckets:
        sel = f'#collections tr[data-bucket="{row["bucket"]}"][data-currency="{row["currency"]}"]'
        assert _cell(page, sel, "amount_remaining")[0] == money(row["amount"], row["currency"])
        assert _cell(page, sel, "invoices")[0] == str(row["n"])
    assert (
        _cell(page, '#collections tr[data-bucket="not_yet_due"]', "amount_remaining")[0]
        == "¥350,000"
    )

    for row in filled.query("SELECT month, currency, nrr, grr FROM revops.mart_nrr_monthly"):
        sel = f'#nrr tr[data-month="{row["month"].isoformat()}"][data-currency="JPY"]'
        assert _cell(page, sel, "nrr")[0] == ratio_pct(row["nrr"])
        assert _cell(page, sel, "grr")[0] == ratio_pct(row["grr"])

    assert page.locator("#dq-badge").get_attribute("data-value") == "warn"
    assert _cell(page, '#dq tr[data-suite="crm"]', "dq_passed")[0] == "4/5"
    assert _cell(page, '#dq tr[data-suite="ads"]', "dq_suite_status")[1] == "pass"

    ARTIFACTS.mkdir(exist_ok=True)
    engine = request.node.callspec.params.get("warehouse_url", "duckdb")
    shot = ARTIFACTS / f"report-{engine}.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 50_000
    page.close()
