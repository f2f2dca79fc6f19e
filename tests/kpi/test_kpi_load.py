"""The load: atomic per date, readers see the old or the new day, engines agree."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from kpi_fixtures import EXPECTED_1, EXPECTED_30, RUN_DATE, load_all

from revops.errors import WarehouseError
from revops.transform.marketing import compute_channel_kpis, read_kpis
from revops.warehouse import connect, ensure_schema

DEADLINE = 30.0  # seconds to wait for the other thread; never reached when things work


def channels_of(result) -> set[str]:
    return {r["channel"] for r in result.channels}


def test_reader_during_the_load_sees_the_old_day(wh, settings):
    """The writer holds its transaction open after loading; a reader on another connection
    (another thread) still sees the whole old day, then the whole new one after the commit."""
    load_all(wh)
    old = compute_channel_kpis(wh, settings, RUN_DATE)  # window 30
    loaded, release = threading.Event(), threading.Event()
    errors: list[BaseException] = []

    def writer() -> None:
        try:
            with wh.transaction():
                compute_channel_kpis(wh, settings, RUN_DATE, window_days=1)
                loaded.set()
                assert release.wait(DEADLINE)
        except BaseException as exc:
            errors.append(exc)
            loaded.set()

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        assert loaded.wait(DEADLINE)
        during = read_kpis(wh, RUN_DATE)
    finally:
        release.set()
        thread.join(DEADLINE)
    assert not errors
    assert during == old
    assert channels_of(read_kpis(wh, RUN_DATE)) == set(EXPECTED_1)


def test_concurrent_reads_never_see_a_mix(wh, settings):
    """Loads alternating between two windows while another thread reads: every read is
    exactly one of the two days, channel rows and summary together."""
    load_all(wh)
    day_30 = compute_channel_kpis(wh, settings, RUN_DATE)
    day_1 = compute_channel_kpis(wh, settings, RUN_DATE, window_days=1)
    done = threading.Event()
    errors: list[BaseException] = []

    def writer() -> None:
        try:
            for i in range(12):
                compute_channel_kpis(wh, settings, RUN_DATE, window_days=30 if i % 2 else 1)
        except BaseException as exc:
            errors.append(exc)
        finally:
            done.set()

    thread = threading.Thread(target=writer)
    thread.start()
    reads = 0
    try:
        while not done.is_set() or reads == 0:
            seen = read_kpis(wh, RUN_DATE)
            assert seen in (day_30, day_1), seen
            reads += 1
    finally:
        thread.join(DEADLINE)
    assert not errors
    assert reads > 0


def test_failed_load_keeps_the_old_day(wh, settings, monkeypatch):
    load_all(wh)
    old = compute_channel_kpis(wh, settings, RUN_DATE)
    from revops.transform import marketing

    monkeypatch.setattr(
        marketing, "INSERT_SUMMARY_SQL", "INSERT INTO revops.no_such_table SELECT ?, ?, ?, ?, ?"
    )
    with pytest.raises(WarehouseError):
        compute_channel_kpis(wh, settings, RUN_DATE, window_days=1)
    assert read_kpis(wh, RUN_DATE) == old
    status = wh.query(
        "SELECT status FROM revops.audit_events WHERE resource = 'marketing_marts' ORDER BY \"at\""
    )
    assert [r["status"] for r in status] == ["ok", "failed"]


@pytest.mark.postgres
def test_duckdb_and_postgresql_give_the_same_rows(tmp_path: Path, pg_database, settings):
    import psycopg

    with psycopg.connect(pg_database, autocommit=True) as con:
        con.execute("DROP SCHEMA IF EXISTS revops CASCADE")
    results = {}
    for name, url in (("duckdb", f"duckdb:///{tmp_path}/same.duckdb"), ("postgres", pg_database)):
        with connect(url) as wh:
            ensure_schema(wh)
            load_all(wh)
            results[name] = (
                compute_channel_kpis(wh, settings, RUN_DATE),
                compute_channel_kpis(wh, settings, RUN_DATE, window_days=1),
            )
    duck, pg = results["duckdb"], results["postgres"]
    for a, b in zip(duck, pg, strict=True):
        assert a.channels == b.channels
        assert a.summary == b.summary
    assert channels_of(duck[0]) == set(EXPECTED_30)
