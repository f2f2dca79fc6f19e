"""Publishing the marts to a second, real PostgreSQL database (the marketing DWH)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import date

import pytest
from kpi_fixtures import EXPECTED_1, EXPECTED_30, RUN_DATE, load_all

from revops.config import Settings
from revops.errors import ConfigError, RevopsError
from revops.outputs.publish import publish_marts
from revops.transform.marketing import compute_channel_kpis


@pytest.fixture
def dwh_url(pg_database: str) -> Iterator[str]:
    """A second database on the test server, standing in for the marketing DWH."""
    import psycopg

    admin_url = pg_database.rsplit("/", 1)[0] + "/postgres"
    name = f"revops_dwh_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield pg_database.rsplit("/", 1)[0] + "/" + name
    finally:
        with psycopg.connect(admin_url, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def dwh_rows(url: str, sql: str) -> list[tuple]:
    import psycopg

    with psycopg.connect(url) as con:
        return con.execute(sql).fetchall()


def publish_settings(url: str, **extra: str) -> Settings:
    return Settings(
        data={"publish": {"url": url, **extra}},
        env={"REVOPS_PUBLISH__PASSWORD": "not-needed-with-trust"},
    )


def test_unset_url_is_a_no_op(wh, settings):
    assert publish_marts(settings, wh, RUN_DATE) == 0


@pytest.mark.postgres
def test_publish_creates_tables_and_replaces_the_date(wh, settings, dwh_url):
    load_all(wh)
    compute_channel_kpis(wh, settings, RUN_DATE)
    compute_channel_kpis(wh, settings, date(2026, 2, 10))
    conf = publish_settings(dwh_url)
    # first use creates the tables; channel rows + the summary row
    assert publish_marts(conf, wh, RUN_DATE) == len(EXPECTED_30) + 1
    assert publish_marts(conf, wh, date(2026, 2, 10)) > 0
    assert publish_marts(conf, wh, RUN_DATE) == len(EXPECTED_30) + 1  # rerun: no duplicates
    rows = dwh_rows(
        dwh_url,
        "SELECT channel, roas, period_revenue FROM public.mart_channel_kpi "
        "WHERE date = '2026-02-10' ORDER BY channel",
    )
    assert [r[0] for r in rows] == sorted(EXPECTED_30)
    google = next(r for r in rows if r[0] == "Google")
    assert google[1] == 150.0 and google[2] == 120000
    summary = dwh_rows(
        dwh_url,
        "SELECT best_channel, total_customers, period_start "
        "FROM public.mart_daily_summary WHERE date = '2026-02-10'",
    )
    assert summary == [("Google", 6, date(2026, 1, 12))]
    assert dwh_rows(dwh_url, "SELECT COUNT(DISTINCT date) FROM public.mart_daily_summary") == [(2,)]

    # recomputed with another window: publishing replaces the date's rows on the target
    compute_channel_kpis(wh, settings, RUN_DATE, window_days=1)
    assert publish_marts(conf, wh, RUN_DATE) == len(EXPECTED_1) + 1
    assert dwh_rows(
        dwh_url, "SELECT COUNT(*) FROM public.mart_channel_kpi WHERE date = '2026-02-10'"
    ) == [(len(EXPECTED_1),)]
    audit = wh.query(
        "SELECT status FROM revops.audit_events WHERE resource = "
        "'marketing_marts' AND action = 'publish'"
    )
    assert [a["status"] for a in audit] == ["ok"] * 4


@pytest.mark.postgres
def test_publish_into_a_named_schema(wh, settings, dwh_url):
    load_all(wh)
    compute_channel_kpis(wh, settings, RUN_DATE)
    assert publish_marts(publish_settings(dwh_url, schema="marketing"), wh, RUN_DATE) == 7
    assert dwh_rows(dwh_url, "SELECT COUNT(*) FROM marketing.mart_channel_kpi") == [(6,)]


def test_uncomputed_date_and_bad_schema_are_refused(wh, settings):
    conf = publish_settings("postgresql://postgres@127.0.0.1:1/none")
    with pytest.raises(RevopsError, match="no marketing KPIs stored for 2026-02-10"):
        publish_marts(conf, wh, RUN_DATE)
    with pytest.raises(ConfigError, match="publish"):
        publish_marts(publish_settings("postgresql://x/y", schema="a; DROP"), wh, RUN_DATE)


@pytest.mark.postgres
def test_failed_publish_leaves_the_target_untouched(wh, settings, dwh_url):
    load_all(wh)
    compute_channel_kpis(wh, settings, RUN_DATE)
    conf = publish_settings(dwh_url)
    publish_marts(conf, wh, RUN_DATE)
    # schema drift on the target: the summary insert fails after the channel rows were
    # replaced, and the whole date rolls back
    with __import__("psycopg").connect(dwh_url, autocommit=True) as con:
        con.execute("ALTER TABLE public.mart_daily_summary DROP COLUMN best_channel_roas")
    compute_channel_kpis(wh, settings, RUN_DATE, window_days=1)
    with pytest.raises(RevopsError, match="best_channel_roas"):
        publish_marts(conf, wh, RUN_DATE)
    assert dwh_rows(dwh_url, "SELECT COUNT(*) FROM public.mart_channel_kpi") == [(6,)]
    audit = wh.query("SELECT status FROM revops.audit_events WHERE action = 'publish'")
    assert [a["status"] for a in audit] == ["ok", "failed"]
