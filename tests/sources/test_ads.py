"""The ads extractor against the local ads API over real HTTP on 127.0.0.1."""

from __future__ import annotations

import socket
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from revops.dev.demo_data import campaigns, report_row
from revops.errors import ConfigError, TerminalSourceError
from revops.sources.ads import AdsCampaign, AdsSettings, ads_auth, channel_for, extract_ads
from revops.sources.ads_http import AdsClient, SlidingWindowLimiter, parse_retry_after

DAY = date(2024, 3, 5)


def _ads_rows(wh, day=DAY):
    return wh.query(
        "SELECT campaign_id, channel, impressions, clicks, cost, conversions "
        "FROM revops.raw_ads WHERE date = ? ORDER BY campaign_id",
        (day,),
    )


class Recorder:
    """A sleep that records what it was asked to wait and returns at once."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


def _client(settings, sleep=None):
    cfg = settings.model("ads", AdsSettings)
    return AdsClient(cfg, ads_auth(settings, cfg), sleep=sleep or Recorder())


def test_many_pages_all_rows_loaded_with_channels(wh, ads_api, ads_settings):
    settings = ads_settings(ads_api, per_page=7)
    pages = []
    report = extract_ads(wh, settings, DAY, progress=lambda page, n: pages.append((page, n)))
    assert report.loaded == 120 and report.rejected == 0 and report.skipped == 0
    assert pages[-1] == (18, 120) and len(pages) == 18  # ceil(120 / 7)
    rows = _ads_rows(wh)
    assert len(rows) == 120
    by_channel = {}
    for r in rows:
        by_channel[r["channel"]] = by_channel.get(r["channel"], 0) + 1
    # Instagram records carry no channel: the [ads.channel_map] prefix IG- maps them.
    assert by_channel == {"Google": 40, "Facebook": 40, "Instagram": 40}
    first = next(c for c in campaigns(7) if c.campaign_id == rows[0]["campaign_id"])
    expected = report_row(7, DAY, first)
    assert rows[0]["impressions"] == expected["impressions"]
    assert Decimal(rows[0]["cost"]) == Decimal(str(expected["cost"]))
    audit = wh.query("SELECT status FROM revops.audit_events WHERE resource = 'ads'")
    assert [a["status"] for a in audit] == ["ok"]


def test_429_with_retry_after_mid_run_waits_what_the_api_asked(wh, ads_api, ads_settings):
    ads_api.state.add_fault("429", page=2, retry_after="2")
    ads_api.state.add_fault("429", page=3, retry_after="0")  # 0 means the floor, not a hot loop
    settings = ads_settings(ads_api, retry_after_max_s=120.0, backoff_floor_s=0.5)
    sleep = Recorder()
    client = _client(settings, sleep)
    report = extract_ads(wh, settings, DAY, client=client)
    assert report.loaded == 120
    assert sleep.waits == [2.0, 0.5]
    assert ads_api.state.stats()["statuses"] == [200, 429, 200, 429, 200]


def test_5xx_then_success_backs_off_with_jitter_within_bounds(wh, ads_api, ads_settings):
    ads_api.state.add_fault("status", status=503, page=1, times=3)
    settings = ads_settings(ads_api, backoff_floor_s=1.0, backoff_max_s=30.0)
    sleep = Recorder()
    report = extract_ads(wh, settings, DAY, client=_client(settings, sleep))
    assert report.loaded == 120
    assert len(sleep.waits) == 3
    for attempt, wait in enumerate(sleep.waits, start=1):
        assert 1.0 <= wait <= 2 ** (attempt - 1)


def test_token_expiry_mid_run_refreshes_once(wh, ads_api, ads_settings):
    ads_api.state.add_fault("expire_tokens", page=2)
    report = extract_ads(wh, ads_settings(ads_api), DAY)
    assert report.loaded == 120
    stats = ads_api.state.stats()
    assert stats["token_requests"] == 2
    assert stats["statuses"] == [200, 401, 200, 200]


def test_token_is_reused_until_shortly_before_it_expires(wh, ads_api, ads_settings):
    ads_api.state.token_ttl_s = 3600
    extract_ads(wh, ads_settings(ads_api, per_page=10), DAY)
    assert ads_api.state.stats()["token_requests"] == 1
    ads_api.state.token_ttl_s = 30  # shorter than the 60 s leeway: every request gets a new one
    extract_ads(wh, ads_settings(ads_api, per_page=40), DAY)
    assert ads_api.state.stats()["token_requests"] == 1 + 3


def test_a_401_that_persists_after_refresh_is_a_clear_error(wh, ads_api, ads_settings):
    ads_api.state.add_fault("expire_tokens", page=1, times=2)
    with pytest.raises(TerminalSourceError) as info:
        extract_ads(wh, ads_settings(ads_api), DAY)
    assert "401" in str(info.value) and "REVOPS_ADS__CLIENT_SECRET" in str(info.value)
    assert ads_api.state.stats()["token_requests"] == 2


def test_permanent_failure_leaves_the_previous_slice_untouched(wh, ads_api, ads_settings):
    settings = ads_settings(ads_api, per_page=50)
    extract_ads(wh, settings, DAY)
    before = _ads_rows(wh)
    ads_api.state.add_fault("status", status=500, page=3, times=99)
    with pytest.raises(TerminalSourceError) as info:
        extract_ads(wh, settings, DAY)
    text = str(info.value)
    assert "ads API" in text and "page 3" in text and "4 attempts" in text
    assert _ads_rows(wh) == before
    statuses = [
        r["status"]
        for r in wh.query(
            "SELECT status FROM revops.audit_events WHERE resource = 'ads' ORDER BY \"at\""
        )
    ]
    assert statuses == ["ok", "failed"]


def test_a_timeout_is_retried(wh, ads_api, ads_settings):
    ads_api.state.add_fault("delay", page=2, delay_s=0.6)
    settings = ads_settings(ads_api, timeout_s=0.2)
    report = extract_ads(wh, settings, DAY, client=_client(settings))
    assert report.loaded == 120


def test_unreachable_api_names_the_url_and_the_fix(wh, ads_settings, ads_api):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    settings = ads_settings(
        ads_api,
        base_url=f"http://127.0.0.1:{port}",
        token_url=None,
        REVOPS_ADS__TOKEN="revops-demo-token",
        max_retries=1,
    )
    with pytest.raises(TerminalSourceError) as info:
        extract_ads(wh, settings, DAY)
    text = str(info.value)
    assert f"127.0.0.1:{port}" in text and "cannot reach" in text and "base_url" in text


def test_wrong_secret_is_a_clear_error_without_the_secret(wh, ads_api, ads_settings):
    settings = ads_settings(ads_api, REVOPS_ADS__CLIENT_SECRET="not-the-secret")
    with pytest.raises(TerminalSourceError) as info:
        extract_ads(wh, settings, DAY)
    text = str(info.value)
    assert "invalid_client" in text and "REVOPS_ADS__CLIENT_SECRET" in text
    assert "not-the-secret" not in text
    assert wh.query_value("SELECT count(*) FROM revops.raw_ads") == 0


def test_static_token(wh, ads_api, ads_settings):
    settings = ads_settings(
        ads_api, token_url=None, client_id=None, REVOPS_ADS__TOKEN="revops-demo-token"
    )
    assert extract_ads(wh, settings, DAY).loaded == 120


def test_missing_credentials_is_a_config_error(ads_api, ads_settings, wh):
    settings = ads_settings(ads_api, token_url=None)
    settings.env.pop("REVOPS_ADS__CLIENT_SECRET")
    with pytest.raises(ConfigError) as info:
        extract_ads(wh, settings, DAY)
    assert "REVOPS_ADS__TOKEN" in str(info.value)


def test_no_rows_is_an_error_unless_allowed(wh, ads_api, ads_settings):
    ads_api.state.end, ads_api.state.days = DAY - timedelta(days=1), 1
    settings = ads_settings(ads_api)
    with pytest.raises(TerminalSourceError, match="no campaigns for 2024-03-05"):
        extract_ads(wh, settings, DAY)
    report = extract_ads(wh, settings, DAY, allow_empty=True)
    assert report.loaded == 0


def test_invalid_and_duplicate_records_are_dead_lettered_and_skipped(
    wh, ads_api, ads_settings, monkeypatch
):
    original = ads_api.state.records

    def records(day):
        rows = original(day)[:3]
        bad = dict(rows[0], campaign_id="GGL-BAD", clicks=-1)
        wrong_day = dict(rows[1], campaign_id="GGL-OLD", date="2024-03-04")
        return [*rows, dict(rows[0]), bad, wrong_day]

    monkeypatch.setattr(ads_api.state, "records", records)
    report = extract_ads(wh, ads_settings(ads_api), DAY)
    assert (report.loaded, report.skipped, report.rejected) == (3, 1, 2)
    assert report.reasons == {"invalid_record": 1, "wrong_date": 1}
    letters = wh.query("SELECT source, reason FROM revops.dead_letters ORDER BY reason")
    assert letters == [
        {"source": "ads", "reason": "invalid_record"},
        {"source": "ads", "reason": "wrong_date"},
    ]


def test_channel_rule_record_then_longest_prefix_then_default_then_unknown():
    cfg = AdsSettings(channel_map={"G": "Generic", "GGL-": "Google"}, default_channel="Display")
    record = AdsCampaign(
        campaign_id="GGL-1", date=DAY, impressions=1, clicks=1, cost=1, conversions=0
    )
    assert channel_for(record, cfg) == "Google"
    assert channel_for(record.model_copy(update={"channel": "Facebook"}), cfg) == "Facebook"
    assert channel_for(record.model_copy(update={"campaign_id": "X-1"}), cfg) == "Display"
    assert channel_for(record.model_copy(update={"campaign_id": "X-1"}), AdsSettings()) == "Unknown"


def test_retry_after_forms():
    now = datetime(2024, 3, 5, 12, 0, 0, tzinfo=UTC)
    assert parse_retry_after("7", now) == 7.0
    assert parse_retry_after("Tue, 05 Mar 2024 12:00:30 GMT", now) == 30.0
    assert parse_retry_after("Tue, 05 Mar 2024 11:00:00 GMT", now) is None  # in the past
    assert parse_retry_after("0", now) is None
    assert parse_retry_after("soon", now) is None
    assert parse_retry_after(None, now) is None


def test_sliding_window_rate_limit():
    clock = [0.0]
    waits = []

    def sleep(seconds):
        waits.append(seconds)
        clock[0] += seconds

    limiter = SlidingWindowLimiter(3, clock=lambda: clock[0], sleep=sleep)
    for _ in range(3):
        limiter.wait()
        clock[0] += 1.0
    assert waits == []
    limiter.wait()  # 4th call at t=3: waits until the first call leaves the window (t=60)
    assert waits == [57.0]
    limiter.wait()
    assert waits == [57.0, 1.0]
