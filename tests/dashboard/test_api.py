"""The JSON API behind every panel, on DuckDB and PostgreSQL, against hand-computed figures."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

import httpx
import pytest

from dashboard.harness import AS_OF, serve_dashboard, settings_for
from revops.outputs.dashboard import live_data
from revops.warehouse.base import Warehouse


@contextmanager
def _client(wh: Warehouse, env: dict[str, str] | None = None) -> Iterator[httpx.Client]:
    settings = settings_for(wh.url, env, {"dashboard": {"user": "ops"}})
    with serve_dashboard(wh, settings) as served, httpx.Client(base_url=served.url) as c:
        yield c


@pytest.fixture
def client(loaded: Warehouse) -> Iterator[httpx.Client]:
    with _client(loaded) as c:
        yield c


def test_won_to_paid_counts_latency_and_open_list(client: httpx.Client) -> None:
    body = client.get("/api/won-to-paid").json()
    counts = {(r["status"], r["currency"]): r["opportunities"] for r in body["by_status"]}
    assert counts == {
        ("paid", "JPY"): 1,
        ("partially_paid", "JPY"): 1,
        ("invoiced", "JPY"): 1,
        ("not_invoiced", "USD"): 1,
    }
    lat = body["latency"]
    assert lat["paid"] == 1 and lat["median_days"] == 12.5 and lat["within_15_days"] == 1
    assert {b["band"]: b["opportunities"] for b in lat["bands"]}["7-15"] == 1
    # Oldest first; the paid one is not open; ages are whole days in the fixture.
    assert [r["opportunity_id"] for r in body["open"]] == ["006B", "006C", "006D"]
    assert [round(r["age_days"]) for r in body["open"]] == [20, 10, 5]
    assert body["open"][0]["paid_amount"] == 100000.0
    assert body["open_count"] == 3


def test_latency_distribution_is_hand_computed(wh: Warehouse) -> None:
    won = datetime(2026, 10, 1, tzinfo=UTC)
    days = [-0.5, 1.0, 2.0, 10.0, 40.0]
    wh.insert_rows(
        "revops.mart_won_to_paid",
        ("opportunity_id", "won_at", "won_to_paid_days", "status"),
        [(f"006L{i}", won, d, "paid") for i, d in enumerate(days)]
        + [("006Lopen", won, None, "invoiced")],
    )
    with _client(wh) as client:
        lat = client.get("/api/won-to-paid").json()["latency"]
    assert lat["paid"] == 5 and lat["within_15_days"] == 4
    assert lat["avg_days"] == pytest.approx(52.5 / 5)
    assert lat["median_days"] == pytest.approx(2.0)
    assert lat["p90_days"] == pytest.approx(10.0 + 0.6 * 30.0)  # rank 3.6 of 0..4
    bands = {b["band"]: b["opportunities"] for b in lat["bands"]}
    assert bands == {"prepaid": 1, "0-7": 2, "7-15": 1, "15-30": 0, "30-60": 1, "60+": 0}


def test_date_range_is_in_business_days(wh: Warehouse) -> None:
    # 15:30 UTC on 31 October is 00:30 on 1 November in Tokyo, the default business zone.
    won = datetime(2026, 10, 31, 15, 30, tzinfo=UTC)
    wh.insert_rows(
        "revops.mart_won_to_paid",
        ("opportunity_id", "won_at", "status"),
        [("006TZ", won, "invoiced")],
    )
    with _client(wh) as client:
        november = client.get("/api/won-to-paid", params={"date_from": "2026-11-01"}).json()
        october = client.get("/api/won-to-paid", params={"date_to": "2026-10-31"}).json()
    assert [r["opportunity_id"] for r in november["open"]] == ["006TZ"]
    assert october["open"] == [] and october["open_count"] == 0


def test_won_to_paid_filters_by_currency_and_date(client: httpx.Client) -> None:
    usd = client.get("/api/won-to-paid", params={"currency": "usd"}).json()
    assert [r["opportunity_id"] for r in usd["open"]] == ["006D"]
    # A range that ends before anything was won shows nothing.
    old = client.get("/api/won-to-paid", params={"date_to": "2020-01-01"}).json()
    assert old["by_status"] == [] and old["latency"]["paid"] == 0 and old["open"] == []


def test_collections_buckets_per_currency_and_overdue(client: httpx.Client) -> None:
    body = client.get("/api/collections").json()
    assert body["as_of"] == AS_OF.isoformat()
    jpy = {r["bucket"]: r["amount_remaining"] for r in body["buckets"] if r["currency"] == "JPY"}
    assert jpy == {
        "not_yet_due": 100000.0,
        "1-30": 250000.0,
        "61-90": 80000.0,
        "collected": 0.0,
        "uncollectible": 40000.0,
    }
    assert [r["bucket"] for r in body["buckets"] if r["currency"] == "JPY"][:3] == [
        "not_yet_due",
        "1-30",
        "61-90",
    ]
    assert [r["invoice_id"] for r in body["overdue"]] == ["in_3", "in_4", "in_2"]
    assert body["overdue_count"] == 3
    only_usd = client.get("/api/collections", params={"currency": "USD"}).json()
    assert [r["invoice_id"] for r in only_usd["overdue"]] == ["in_4"]
    earlier = client.get("/api/collections", params={"date_to": "2026-11-29"}).json()
    assert earlier["as_of"] == "2026-11-29" and earlier["overdue"] == []


def test_nrr_months_with_movements(client: httpx.Client) -> None:
    months = client.get("/api/nrr", params={"date_from": "2026-10-01"}).json()["months"]
    assert [m["month"] for m in months] == ["2026-10-01", "2026-11-01"]
    assert months[0]["nrr"] == pytest.approx(1.025) and months[1]["churn"] == 133000.0


def test_channels_default_to_latest_date_and_rank_by_roas(client: httpx.Client) -> None:
    body = client.get("/api/channels").json()
    assert body["date"] == "2026-11-30" and body["window_days"] == 30
    assert [r["channel"] for r in body["channels"]] == ["Google Ads", "Meta", "Organic"]
    google = body["channels"][0]
    assert google["roas"] == pytest.approx(400.0) and google["cac"] == pytest.approx(20000.0)
    assert body["summary"]["best_channel"] == "Google Ads"
    none = client.get("/api/channels", params={"date": "2026-11-30", "window_days": 7}).json()
    assert none["channels"] == [] and none["summary"] is None


def test_quality_latest_run_per_suite_and_failures(client: httpx.Client) -> None:
    body = client.get("/api/quality").json()
    latest = {(r["run_id"], r["expectation"]) for r in body["latest"]}
    assert latest == {
        ("dq-2", "expect_column_values_to_not_be_null"),
        ("dq-2", "expect_column_values_to_be_between"),
        ("dq-3", "expect_column_values_to_be_unique"),
    }
    assert [r["run_id"] for r in body["failures"]] == ["dq-2", "dq-old"]


def test_pipeline_runs_and_tasks(client: httpx.Client) -> None:
    body = client.get("/api/pipeline").json()
    assert [r["run_id"] for r in body["runs"]] == ["daily-2026-11-30", "daily-2026-11-29"]
    assert body["runs"][0]["attempts"] == 3 and body["runs"][0]["failed_attempts"] == 1
    assert [(t["task_id"], t["attempt"]) for t in body["tasks"]] == [
        ("extract_ads", 1),
        ("extract_ads", 2),
        ("kpi", 1),
    ]
    assert body["tasks"][1]["duration_seconds"] == pytest.approx(30.0)
    other = client.get("/api/pipeline", params={"run_id": "daily-2026-11-29"}).json()
    assert other["run_id"] == "daily-2026-11-29" and other["tasks"] == []


def test_ingestion_freshness_duplicates_dead_letters(client: httpx.Client) -> None:
    body = client.get("/api/ingestion").json()
    fresh = {r["type"]: r for r in body["freshness"]}
    assert fresh["stripe.invoice.paid"]["events"] == 2
    assert fresh["stripe.invoice.paid"]["avg_lag_seconds"] == pytest.approx(3.0)
    assert fresh["stripe.invoice.paid"]["max_lag_seconds"] == pytest.approx(4.0)
    assert fresh["salesforce.opportunity.updated"]["avg_lag_seconds"] == pytest.approx(60.0)
    assert body["duplicates"] == {
        "deliveries": 8,
        "new": 3,
        "duplicates": 5,
        "duplicate_rate": 5 / 8,
    }
    pending = {r["source"]: r["pending"] for r in body["dead_letter_counts"]}
    assert pending == {"stripe": 1, "salesforce": 0}
    assert [r["id"] for r in body["dead_letters"]] == [2, 1]
    if body["receiver"] is not None:  # revops serve is installed: its figures ride along
        assert set(body["receiver"]) >= {"accepted", "duplicates", "receipt_to_mart_events"}


def test_openapi_describes_every_panel(client: httpx.Client) -> None:
    spec = client.get("/openapi.json").json()
    for path in (
        "/api/won-to-paid",
        "/api/collections",
        "/api/nrr",
        "/api/channels",
        "/api/quality",
        "/api/pipeline",
        "/api/ingestion",
        "/api/events",
        "/api/meta",
    ):
        assert path in spec["paths"], path
    schema = spec["paths"]["/api/won-to-paid"]["get"]["responses"]["200"]["content"]
    assert schema["application/json"]["schema"]["$ref"].endswith("/WonToPaid")


def test_every_panel_answers_on_an_empty_warehouse(wh: Warehouse) -> None:
    with _client(wh) as client:
        for path in (
            "/api/won-to-paid",
            "/api/collections",
            "/api/nrr",
            "/api/channels",
            "/api/quality",
            "/api/pipeline",
            "/api/ingestion",
            "/api/meta",
        ):
            assert client.get(path).status_code == 200, path
        assert client.get("/api/ingestion").json()["duplicates"]["duplicate_rate"] is None
        assert client.get("/api/collections").json()["as_of"] is None
        page = client.get("/")
        assert page.status_code == 200 and "/dashboard/static/app.js" in page.text
        assert "default-src 'self'" in page.headers["content-security-policy"]


def test_bad_filter_is_a_422_naming_the_parameter(duck: Warehouse) -> None:
    with _client(duck) as client:
        answer = client.get("/api/nrr", params={"date_from": "yesterday"})
        assert answer.status_code == 422 and "date_from" in answer.text


def test_live_data_trims_event_ids() -> None:
    data = live_data({"event_ids": [f"e{i}" for i in range(80)], "types": ["a", "a", "b"]})
    assert len(data["event_ids"]) == 50 and data["count"] == 80 and data["types"] == ["a", "b"]


# -- access (engine-independent: DuckDB only) -----------------------------------------


@pytest.mark.parametrize(
    "path", ["/", "/api/won-to-paid", "/api/events", "/dashboard/static/app.js"]
)
def test_token_protects_pages_api_stream_and_assets(duck: Warehouse, path: str) -> None:
    with _client(duck, {"REVOPS_DASHBOARD__TOKEN": "s3cret-token"}) as client:
        denied = client.get(path)
        assert denied.status_code == 401
        assert denied.headers["www-authenticate"].startswith("Bearer")
        assert "s3cret" not in denied.text
        wrong = client.get(path, headers={"Authorization": "Bearer nope"})
        assert wrong.status_code == 401
        if path != "/api/events":  # an open stream would not end; its 401 is what matters
            ok = client.get(path, headers={"Authorization": "Bearer s3cret-token"})
            assert ok.status_code == 200


def test_token_in_url_becomes_a_session_cookie(duck: Warehouse) -> None:
    with _client(duck, {"REVOPS_DASHBOARD__TOKEN": "s3cret-token"}) as client:
        assert client.get("/?token=wrong", follow_redirects=False).status_code == 401
        hop = client.get("/?token=s3cret-token", follow_redirects=False)
        assert hop.status_code == 303 and hop.headers["location"] == "/"
        assert "s3cret-token" not in hop.headers["set-cookie"]
        assert client.get("/api/nrr").status_code == 200  # the cookie now rides along


def test_basic_auth(duck: Warehouse) -> None:
    with _client(duck, {"REVOPS_DASHBOARD__PASSWORD": "pw"}) as client:

        def basic(user: str, pw: str) -> dict[str, str]:
            return {"Authorization": "Basic " + base64.b64encode(f"{user}:{pw}".encode()).decode()}

        denied = client.get("/api/nrr")
        assert denied.status_code == 401 and denied.headers["www-authenticate"].startswith("Basic")
        assert client.get("/api/nrr", headers=basic("ops", "bad")).status_code == 401
        assert client.get("/api/nrr", headers=basic("revops", "pw")).status_code == 401
        assert client.get("/api/nrr", headers=basic("ops", "pw")).status_code == 200
        assert client.get("/", headers=basic("ops", "pw")).status_code == 200
