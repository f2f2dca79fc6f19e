"""The dashboard in Debian's Chromium (headless, via Playwright): every page renders without
console errors, shows the marts' figures, updates live without a reload; screenshots go to
``test-artifacts/``."""

from __future__ import annotations

import hashlib
import hmac
import os
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from dashboard.harness import Served, load_fixture, serve_app, serve_dashboard, settings_for
from revops import signals
from revops.envelope import Envelope
from revops.ingest import land_envelopes
from revops.warehouse import Warehouse, connect, ensure_schema
from servicecheck import service_unavailable

CHROMIUM = os.environ.get("REVOPS_TEST_CHROMIUM", "/usr/bin/chromium")
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
PAGES = ["won-to-paid", "collections", "nrr", "channels", "quality", "pipeline", "ingestion"]
TOKEN = "browser-test-token"

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        service_unavailable("Chromium at " + CHROMIUM, "not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        instance = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield instance
        instance.close()


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Warehouse]:
    wh = connect(f"duckdb:///{tmp_path_factory.mktemp('dash')}/revops.duckdb")
    ensure_schema(wh)
    load_fixture(wh)
    yield wh
    wh.close()


@pytest.fixture(scope="module")
def server(warehouse: Warehouse) -> Iterator[Served]:
    settings = settings_for(warehouse.url, {"REVOPS_DASHBOARD__TOKEN": TOKEN})
    with serve_dashboard(warehouse, settings) as served:
        yield served


def _open(browser: Any, server: Served, **context: Any) -> tuple[Any, Any, list[str]]:
    ctx = browser.new_context(locale="ja-JP", timezone_id="Asia/Tokyo", **context)
    page = ctx.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(f"{server.url}/?token={TOKEN}")  # trades the token for a session cookie
    return ctx, page, errors


def _show(page: Any, name: str) -> None:
    page.evaluate(f"location.hash = '#{name}'")
    page.wait_for_selector(f'[data-testid="page-{name}"]', timeout=10_000)


def _text(page: Any, testid: str) -> str:
    return page.locator(f'[data-testid="{testid}"] .tile-value').inner_text().strip()


def _yen(value: Decimal | float | int) -> str:
    return f"¥{round(float(value)):,}"


def test_unauthenticated_page_gets_401(browser: Any, server: Served) -> None:
    ctx = browser.new_context()
    try:
        response = ctx.new_page().goto(server.url + "/")
        assert response is not None and response.status == 401
    finally:
        ctx.close()


def test_every_page_renders_the_marts(browser: Any, server: Served, warehouse: Warehouse) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    ctx, page, errors = _open(browser, server, viewport={"width": 1360, "height": 900})
    try:
        page.wait_for_selector('[data-testid="page-won-to-paid"]')
        counts = {
            r["status"]: r["n"]
            for r in warehouse.query(
                "SELECT status, count(*) AS n FROM revops.mart_won_to_paid GROUP BY status"
            )
        }
        for status, n in counts.items():
            assert _text(page, f"wtp-count-{status}") == str(n)
        unpaid = page.locator('[data-testid="wtp-open"] tbody tr').first
        assert unpaid.locator('[data-col="amount"]').inner_text() == "¥300,000"
        assert unpaid.locator('[data-col="remaining"]').inner_text() == "¥200,000"
        page.screenshot(path=str(ARTIFACTS / "dashboard-won-to-paid.png"), full_page=True)

        _show(page, "collections")
        receivable = warehouse.query_value(
            "SELECT sum(amount_remaining) FROM revops.mart_collections WHERE as_of = ? "
            "AND currency = 'JPY' AND collection_status = 'receivable'",
            (datetime(2026, 11, 30).date(),),
        )
        assert _text(page, "col-receivable-JPY") == _yen(receivable) == "¥430,000"
        assert _text(page, "col-receivable-USD") == "$1,500.00"
        overdue = page.locator('[data-testid="col-overdue"] tbody tr')
        assert overdue.count() == 3
        page.screenshot(path=str(ARTIFACTS / "dashboard-collections.png"), full_page=True)

        _show(page, "nrr")
        nrr = warehouse.query_value(
            "SELECT nrr FROM revops.mart_nrr_monthly WHERE month = DATE '2026-11-01'"
        )
        assert _text(page, "nrr-last-JPY") == f"{nrr * 100:.1f}%" == "90.0%"
        assert _text(page, "mrr-last-JPY") == "¥1,247,000"
        page.screenshot(path=str(ARTIFACTS / "dashboard-nrr.png"), full_page=True)

        _show(page, "channels")
        summary = warehouse.query("SELECT * FROM revops.mart_daily_summary")[0]
        assert _text(page, "ch-best") == summary["best_channel"]
        assert _text(page, "ch-cost") == _yen(summary["total_ad_cost"])
        assert _text(page, "ch-roas") == f"{summary['overall_roas']:.1f}%"
        first = page.locator('[data-testid="ch-table"] tbody tr').first
        assert first.locator('[data-col="roas"]').inner_text() == "400.0%"
        assert first.locator('[data-col="cac"]').inner_text() == "¥20,000"
        page.screenshot(path=str(ARTIFACTS / "dashboard-channels.png"), full_page=True)

        _show(page, "quality")
        assert _text(page, "dq-failed") == "1" and _text(page, "dq-passed") == "2"
        page.screenshot(path=str(ARTIFACTS / "dashboard-quality.png"), full_page=True)

        _show(page, "pipeline")
        assert page.locator('[data-testid="pl-runs"] tbody tr').count() == 2
        assert page.locator('[data-testid="pl-tasks"] tbody tr').count() == 3
        page.screenshot(path=str(ARTIFACTS / "dashboard-pipeline.png"), full_page=True)

        _show(page, "ingestion")
        assert _text(page, "in-dup-rate") == "62.5%"
        assert _text(page, "in-events") == "3"
        page.screenshot(path=str(ARTIFACTS / "dashboard-ingestion.png"), full_page=True)

        page.select_option('select[name="currency"]', "USD")
        _show(page, "won-to-paid")
        page.wait_for_function(
            "document.body.dataset.loaded && !document.querySelector("
            '\'[data-testid="wtp-count-paid"][data-value="1"]\')'
        )
        assert _text(page, "wtp-won") == "1"
        assert errors == []
    finally:
        ctx.close()


def test_empty_warehouse_renders_every_page(browser: Any, tmp_path: Path) -> None:
    wh = connect(f"duckdb:///{tmp_path}/empty.duckdb")
    ensure_schema(wh)
    settings = settings_for(wh.url, {"REVOPS_DASHBOARD__TOKEN": TOKEN})
    try:
        with serve_dashboard(wh, settings) as served:
            ctx, page, errors = _open(browser, served, viewport={"width": 1360, "height": 900})
            try:
                for name in PAGES:
                    _show(page, name)
                    assert page.locator('[data-testid="page-error"]').count() == 0, name
                _show(page, "won-to-paid")
                assert _text(page, "wtp-won") == "0"
                page.screenshot(path=str(ARTIFACTS / "dashboard-empty.png"), full_page=True)
                assert errors == []
            finally:
                ctx.close()
    finally:
        wh.close()


def test_phone_layout(browser: Any, server: Served) -> None:
    ctx, page, errors = _open(
        browser, server, viewport={"width": 390, "height": 844}, is_mobile=True
    )
    try:
        page.wait_for_selector('[data-testid="page-won-to-paid"]')
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 390  # nothing overflows sideways; wide tables scroll inside cards
        page.screenshot(path=str(ARTIFACTS / "dashboard-phone.png"), full_page=True)
        assert errors == []
    finally:
        ctx.close()


def test_landed_payment_appears_without_reload(
    browser: Any, server: Served, warehouse: Warehouse
) -> None:
    ctx, page, errors = _open(browser, server, viewport={"width": 1360, "height": 900})
    try:
        page.wait_for_selector('[data-testid="page-won-to-paid"]')
        page.wait_for_function("document.getElementById('live').dataset.state === 'live'")
        page.evaluate("window.__sameDocument = true")
        before = int(_text(page, "wtp-count-paid"))
        # A Stripe invoice.paid lands; the transform marks the opportunity paid (stand-in
        # for run_transform until that area is merged) and both signals fire.
        envelope = Envelope(
            source="stripe",
            type="stripe.invoice.paid",
            event_ts=datetime.now(UTC),
            event_id="stripe:evt_browser_paid",
            payload={"id": "evt_browser_paid", "type": "invoice.paid"},
        )
        result = land_envelopes(warehouse, [envelope])
        signals.emit(
            signals.EVENTS_LANDED,
            event_ids=result.new,
            types=["stripe.invoice.paid"],
            count=len(result.new),
        )
        warehouse.execute(
            "UPDATE revops.mart_won_to_paid SET status = 'paid', paid_amount = invoiced_amount,"
            " first_paid_at = ?, won_to_paid_days = 10.0 WHERE opportunity_id = '006C'",
            (datetime.now(UTC),),
        )
        signals.emit(signals.MARTS_REFRESHED, tables=["mart_won_to_paid"], events=1)
        page.wait_for_selector(
            '[data-testid="activity"] >> text=stripe:evt_browser_paid', timeout=10_000
        )
        page.wait_for_function(
            f"document.querySelector('[data-testid=\"wtp-count-paid\"]')"
            f".dataset.value === '{before + 1}'",
            timeout=10_000,
        )
        assert page.evaluate("window.__sameDocument") is True  # no reload happened
        page.screenshot(path=str(ARTIFACTS / "dashboard-live-update.png"), full_page=True)
        assert errors == []
    finally:
        ctx.close()


def _signed_stripe(body: bytes, secret: str) -> dict[str, str]:
    stamp = int(time.time())
    mac = hmac.new(secret.encode(), f"{stamp}.".encode() + body, hashlib.sha256).hexdigest()
    return {"Stripe-Signature": f"t={stamp},v1={mac}", "Content-Type": "application/json"}


def _stripe_invoice(event_id: str, status: str, now: int) -> dict[str, Any]:
    """A Stripe invoice event (2025-03-31.basil shape) billing opportunity 006LIVE."""
    paid = status == "paid"
    return {
        "id": event_id,
        "object": "event",
        "type": "invoice.paid" if paid else "invoice.finalized",
        "created": now if paid else now - 3600,
        "api_version": "2025-03-31.basil",
        "livemode": False,
        "data": {
            "object": {
                "id": "in_live",
                "object": "invoice",
                "status": status,
                "currency": "jpy",
                "amount_due": 500000,
                "amount_paid": 500000 if paid else 0,
                "amount_remaining": 0 if paid else 500000,
                "customer": "cus_live",
                "created": now - 7200,
                "metadata": {"opportunity_id": "006LIVE"},
                "status_transitions": {
                    "finalized_at": now - 7200,
                    "paid_at": now if paid else None,
                },
            }
        },
    }


def _won_opportunity(now: int) -> dict[str, Any]:
    won = datetime.fromtimestamp(now - 3 * 86400, UTC).isoformat()
    payload = {
        "opportunity_id": "006LIVE",
        "opportunity_name": "Live deal",
        "account_id": "001LIVE",
        "amount": 500000,
        "currency": "JPY",
        "stage_name": "Closed Won",
        "is_deleted": False,
    }
    return {
        "source": "salesforce",
        "type": "salesforce.opportunity.updated",
        "event_ts": won,
        "event_id": "006LIVE:1",
        "payload": payload,
    }


def test_signed_webhook_turns_won_into_paid_in_revops_serve(browser: Any, tmp_path: Path) -> None:
    """The real server and transforms: a deal won and invoiced is on the page; a signed
    Stripe ``invoice.paid`` webhook is received, landed by the loader and transformed by the
    serve runtime, and the open page shows the deal paid within seconds, without a reload."""
    serve_app_module = pytest.importorskip("revops.serve.app")
    transform = pytest.importorskip("revops.transform")
    from revops.ingest.files import ingest_lines
    from revops.serve.runtime import ServeRuntime

    secret = "whsec_dashboard_test"
    env = {"REVOPS_STRIPE__WEBHOOK_SECRET": secret, "REVOPS_DASHBOARD__TOKEN": TOKEN}
    settings = settings_for(f"duckdb:///{tmp_path}/revops.duckdb", env)
    runtime = ServeRuntime(settings, schedule=False)
    now = int(time.time())
    lines = [
        orjson.dumps(_won_opportunity(now)),
        orjson.dumps(_stripe_invoice("evt_fin", "open", now)),
    ]
    assert ingest_lines(runtime.warehouse, lines).new == 2
    transform.run_transform(runtime.warehouse, settings)
    app = serve_app_module.create_app(settings, runtime)
    with serve_app(app) as url:
        ctx, page, errors = _open(
            browser, Served(url, app, runtime), viewport={"width": 1360, "height": 900}
        )
        try:
            page.wait_for_selector('[data-testid="page-won-to-paid"]')
            page.wait_for_function("document.getElementById('live').dataset.state === 'live'")
            assert _text(page, "wtp-count-invoiced") == "1"
            assert _text(page, "wtp-count-paid") == "0"
            page.evaluate("window.__sameDocument = true")
            body = orjson.dumps(_stripe_invoice("evt_serve_paid", "paid", now))
            answer = httpx.post(
                url + "/webhooks/stripe", content=body, headers=_signed_stripe(body, secret)
            )
            assert answer.status_code == 200, answer.text
            page.wait_for_selector(
                '[data-testid="activity"] >> text=stripe:evt_serve_paid', timeout=15_000
            )
            page.wait_for_function(
                "document.querySelector('[data-testid=\"wtp-count-paid\"]').dataset.value === '1'",
                timeout=15_000,
            )
            assert _text(page, "wtp-count-invoiced") == "0"
            assert page.evaluate("window.__sameDocument") is True  # no reload happened
            mart = runtime.warehouse.query(
                "SELECT status, won_to_paid_days FROM revops.mart_won_to_paid"
            )
            assert mart == [{"status": "paid", "won_to_paid_days": pytest.approx(3.0, abs=0.01)}]
            assert _text(page, "wtp-median") == "3.0 d"
            ingestion = httpx.get(
                url + "/api/ingestion", headers={"Authorization": f"Bearer {TOKEN}"}
            ).json()
            receiver = ingestion["receiver"]
            assert receiver["accepted"] >= 1 and receiver["receipt_to_mart_events"] >= 1
            assert receiver["receipt_to_mart_avg_seconds"] < 60
            page.screenshot(path=str(ARTIFACTS / "dashboard-serve-webhook.png"), full_page=True)
            assert errors == []
        finally:
            ctx.close()
