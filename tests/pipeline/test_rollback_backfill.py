"""Rollback and backfill under the pipeline lock, with an injected transform; and the
end-to-end rollback on the real transform once it is merged."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from tests.pipeline.conftest import all_ok, make_settings
from tests.pipeline.test_status import RAW

from revops.pipeline.backfill import backfill
from revops.pipeline.lock import RunActiveError, pipeline_lock
from revops.pipeline.rollback import rollback

T1 = datetime(2024, 1, 15, 1, 0, tzinfo=UTC)
T2 = datetime(2024, 1, 15, 3, 0, tzinfo=UTC)
AS_OF = datetime(2024, 1, 15, 2, 0, tzinfo=UTC)


def fake_transform(
    wh: Any, settings: Any = None, *, full: bool = False, as_of: datetime | None = None
) -> dict[str, Any]:
    """Rebuild fact_opportunity from the raw rows inserted up to ``as_of``."""
    with wh.transaction():
        wh.execute("DELETE FROM revops.fact_opportunity")
        wh.execute(
            "INSERT INTO revops.fact_opportunity (opportunity_id, stage_name, "
            "updated_at) SELECT event_id, type, event_ts FROM revops.events_raw "
            "WHERE inserted_at <= coalesce(CAST(? AS TIMESTAMPTZ), now())",
            (as_of,),
        )
    return {"full": full, "as_of": as_of}


def land_batches(wh: Any) -> None:
    rows = [
        (
            "salesforce:006A:1",
            "salesforce",
            "salesforce.opportunity.created",
            T1,
            "{}",
            None,
            T1,
            1,
        ),
        (
            "salesforce:006B:1",
            "salesforce",
            "salesforce.opportunity.created",
            T1,
            "{}",
            None,
            T1,
            2,
        ),
        (
            "salesforce:006C:1",
            "salesforce",
            "salesforce.opportunity.created",
            T2,
            "{}",
            None,
            T2,
            3,
        ),
    ]
    wh.insert_rows("revops.events_raw", RAW, rows)


def facts(wh: Any) -> list[str]:
    return [
        r["opportunity_id"]
        for r in wh.query(
            "SELECT opportunity_id FROM revops.fact_opportunity ORDER BY opportunity_id"
        )
    ]


def test_rollback_dry_run_shows_changes_and_changes_nothing(wh: Any) -> None:
    land_batches(wh)
    fake_transform(wh)
    assert facts(wh) == ["salesforce:006A:1", "salesforce:006B:1", "salesforce:006C:1"]
    settings = make_settings(wh.url)
    result = rollback(
        settings, as_of=AS_OF, dry_run=True, wh=wh, actor="alice", transform=fake_transform
    )
    change = {c.table: c for c in result.changes}["fact_opportunity"]
    assert (change.rows_before, change.rows_after, change.added, change.removed) == (3, 2, 0, 1)
    assert change.sample_removed[0]["opportunity_id"] == "salesforce:006C:1"
    assert facts(wh) == ["salesforce:006A:1", "salesforce:006B:1", "salesforce:006C:1"]
    unchanged = {c.table for c in result.changes if not c.changed}
    assert "mart_won_to_paid" in unchanged
    audit = wh.query("SELECT actor, status FROM revops.audit_events WHERE action = 'rollback'")
    assert audit == [{"actor": "alice", "status": "dry_run"}]


def test_rollback_applies_the_state_as_of_the_moment(wh: Any) -> None:
    land_batches(wh)
    fake_transform(wh)
    result = rollback(
        make_settings(wh.url), as_of=AS_OF, wh=wh, actor="bob", transform=fake_transform
    )
    assert result.applied
    assert facts(wh) == ["salesforce:006A:1", "salesforce:006B:1"]
    audit = wh.query(
        "SELECT actor, status, request_id FROM revops.audit_events WHERE action = 'rollback'"
    )
    assert audit == [{"actor": "bob", "status": "ok", "request_id": result.run_id}]
    run = wh.query("SELECT pipeline, status, actor FROM revops.pipeline_runs")
    assert run == [{"pipeline": "rollback", "status": "success", "actor": "bob"}]


def test_rollback_is_refused_while_a_run_is_active(wh: Any) -> None:
    settings = make_settings(wh.url)
    with pipeline_lock(settings, "daily-2024-01-15-x", "daily"), pytest.raises(RunActiveError):
        rollback(settings, as_of=AS_OF, wh=wh, transform=fake_transform)


def test_backfill_rebuilds_then_reruns_each_date(wh: Any) -> None:
    calls: list[tuple[datetime, datetime]] = []

    def transform_backfill(
        wh: Any, settings: Any = None, *, start: datetime, end: datetime
    ) -> dict[str, Any]:
        calls.append((start, end))
        return {"rebuilt_days": (end - start).days}

    start, end = date(2024, 1, 10), date(2024, 1, 12)
    # a date that already succeeded is rerun anyway: a backfill means "do it again"
    from revops.pipeline.daily import run_daily

    run_daily(make_settings(wh.url), day=date(2024, 1, 11), wh=wh, tasks=all_ok())
    result = backfill(
        make_settings(wh.url),
        start=start,
        end=end,
        pipelines=True,
        wh=wh,
        actor="carol",
        transform=transform_backfill,
        tasks=all_ok(),
    )
    # whole business days (Asia/Tokyo): [01-10 00:00+09:00, 01-13 00:00+09:00)
    assert [(a.isoformat(), b.isoformat()) for a, b in calls] == [
        ("2024-01-10T00:00:00+09:00", "2024-01-13T00:00:00+09:00")
    ]
    assert result.exit_code == 0
    assert result.pipelines is not None
    # run dates 01-11 .. 01-13 make the marts of 01-10 .. 01-12
    assert [r.day for r in result.pipelines.runs] == [start + timedelta(days=n) for n in (1, 2, 3)]
    rows = wh.query(
        "SELECT pipeline, run_date, status, trigger FROM revops.pipeline_runs "
        "WHERE trigger = 'backfill' ORDER BY run_date"
    )
    assert [(r["run_date"], r["status"]) for r in rows] == [
        (date(2024, 1, 11), "success"),
        (date(2024, 1, 12), "success"),
        (date(2024, 1, 13), "success"),
    ]
    audit = wh.query(
        "SELECT actor, status, detail FROM revops.audit_events WHERE action = 'backfill'"
    )
    assert audit[0]["actor"] == "carol" and audit[0]["status"] == "ok"
    assert '"rebuilt_days":3' in audit[0]["detail"]


def _golden(*dirs: str) -> list[bytes]:
    import orjson

    root = Path(__file__).resolve().parents[1] / "fixtures"
    return [
        orjson.dumps(orjson.loads(p.read_bytes()))
        for d in dirs
        for p in sorted((root / d).glob("*.json"))
    ]


def test_rollback_before_a_batch_reproduces_the_marts_of_that_moment(wh: Any) -> None:
    """Land deals, transform, save every fact and mart; land invoices, transform; roll back
    to the moment in between: every table equals what was saved."""
    transform = pytest.importorskip("revops.transform", reason="needs the transform area")
    from revops.ingest.files import ingest_lines
    from revops.pipeline.rollback import ROLLBACK_TABLES, _existing_tables, _snapshot

    settings = make_settings(wh.url)
    first = ingest_lines(wh, _golden("salesforce", "seed"))
    assert first.dead_lettered == 0 and first.new > 0
    transform.run_transform(wh, settings)
    tables = _existing_tables(wh, ROLLBACK_TABLES)
    saved = {t: _snapshot(wh, t) for t in tables}
    moment = datetime.now(UTC)
    second = ingest_lines(wh, _golden("stripe"))
    assert second.dead_lettered == 0 and second.new > 0
    transform.run_transform(wh, settings)
    later = {t: _snapshot(wh, t) for t in tables}
    assert later != saved  # the invoices changed facts and marts
    assert sum(saved["mart_won_to_paid"].values()) > 0
    preview = rollback(settings, as_of=moment, dry_run=True, wh=wh)
    assert {t: _snapshot(wh, t) for t in tables} == later
    assert any(c.changed for c in preview.changes)
    rollback(settings, as_of=moment, wh=wh, actor="dave")
    assert {t: _snapshot(wh, t) for t in tables} == saved


def test_cli_rollback_dry_run_and_backfill_on_the_real_transform(tmp_path: Path) -> None:
    pytest.importorskip("revops.transform", reason="needs the transform area")
    import os
    import subprocess
    import sys

    from revops.ingest.files import ingest_lines
    from revops.warehouse import connect, ensure_schema

    url = f"duckdb:///{tmp_path}/w.duckdb"
    wh = connect(url)
    ensure_schema(wh)
    ingest_lines(wh, _golden("salesforce", "seed", "stripe"))
    wh.close()
    root = Path(__file__).resolve().parents[2]
    env = {k: v for k, v in os.environ.items() if not k.startswith("REVOPS_")}
    env.update(REVOPS_WAREHOUSE__URL=url, REVOPS_ACTOR="erin", PYTHONPATH=str(root / "src"))

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "revops", *args],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )

    filled = cli("backfill", "--from", "2024-06-01", "--to", "2026-06-30")
    assert filled.returncode == 0, filled.stderr
    preview = cli("rollback", "--as-of", "2000-01-01T00:00:00", "--dry-run")
    assert preview.returncode == 0, preview.stderr
    assert "would change (dry run, nothing changed)" in preview.stdout
    assert "mart_won_to_paid" in preview.stdout
    wh = connect(url)
    try:
        kept = wh.query_value("SELECT count(*) FROM revops.mart_won_to_paid")
        who = wh.query(
            "SELECT actor, status FROM revops.audit_events WHERE action IN "
            "('rollback', 'backfill') ORDER BY \"at\""
        )
    finally:
        wh.close()
    assert kept > 0  # the dry run changed nothing
    assert who == [{"actor": "erin", "status": "ok"}, {"actor": "erin", "status": "dry_run"}]
