"""Runner semantics with injected tasks: retries, failure, alert, timeouts, parallelism."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from tests.pipeline.conftest import DAY, all_ok, make_settings, ok_task

from revops.errors import DataQualityError, TerminalSourceError
from revops.pipeline import daily
from revops.pipeline.daily import run_daily
from revops.pipeline.graph import Task, TaskContext
from revops.pipeline.runner import RetryPolicy, RunFailure, run_graph

FAST = RetryPolicy(backoff_s=0.01, backoff_max_s=0.05, max_parallel=3, cancel_grace_s=5.0)


def attempts(wh: Any, run_id: str, task_id: str) -> list[tuple[int, str]]:
    rows = wh.query(
        "SELECT attempt, status FROM revops.task_runs WHERE run_id = ? AND "
        "task_id = ? ORDER BY attempt",
        (run_id, task_id),
    )
    return [(int(r["attempt"]), r["status"]) for r in rows]


def run_status(wh: Any, run_id: str) -> str:
    return wh.query_value("SELECT status FROM revops.pipeline_runs WHERE run_id = ?", (run_id,))


def test_task_failing_twice_then_succeeding_is_retried(wh: Any) -> None:
    calls = {"n": 0}

    def flaky(ctx: TaskContext) -> str:
        calls["n"] += 1
        if calls["n"] <= 2:
            raise ConnectionError(f"ads API reset the connection (try {ctx.attempt})")
        return "loaded"

    alerts: list[RunFailure] = []
    overrides = {**all_ok(), daily.EXTRACT_ADS: flaky}
    result = run_daily(
        make_settings(wh.url), day=DAY, wh=wh, tasks=overrides, on_failure=alerts.append
    )
    run = result.runs[0]
    assert result.exit_code == 0 and run.status == "success"
    assert calls["n"] == 3
    assert attempts(wh, run.run_id, daily.EXTRACT_ADS) == [
        (1, "retrying"),
        (2, "retrying"),
        (3, "success"),
    ]
    assert attempts(wh, run.run_id, daily.NOTIFY) == [(1, "success")]
    assert run_status(wh, run.run_id) == "success"
    errors = wh.query(
        "SELECT error FROM revops.task_runs WHERE run_id = ? AND task_id = ? AND attempt = 2",
        (run.run_id, daily.EXTRACT_ADS),
    )
    assert errors[0]["error"] == "ConnectionError: ads API reset the connection (try 2)"
    assert alerts == []
    n_tasks = wh.query_value(
        "SELECT count(DISTINCT task_id) FROM revops.task_runs WHERE run_id = ?", (run.run_id,)
    )
    assert n_tasks == 9


def _seed_previous_mart(wh: Any) -> None:
    wh.execute(
        "INSERT INTO revops.mart_daily_summary (date, period_start, period_end, "
        "total_ad_cost, total_revenue, total_customers, best_channel) "
        "VALUES (?, ?, ?, 2450000, 8230000, 500, 'Google')",
        (DAY, DAY, DAY),
    )


def _failing_kpis(ctx: TaskContext) -> None:
    """Replaces the day's mart slice inside a transaction, then fails: nothing may change."""
    assert ctx.wh is not None
    with ctx.wh.transaction():
        ctx.wh.execute("DELETE FROM revops.mart_daily_summary WHERE date = ?", (ctx.day,))
        ctx.wh.execute(
            "INSERT INTO revops.mart_daily_summary (date, period_start, period_end, "
            "total_ad_cost) VALUES (?, ?, ?, 1)",
            (ctx.day, ctx.day, ctx.day),
        )
        raise RuntimeError("division by zero in the KPI step")


def test_always_failing_task_stops_run_alerts_once_and_keeps_marts(wh: Any) -> None:
    _seed_previous_mart(wh)
    alerts: list[RunFailure] = []
    overrides = {**all_ok(), daily.KPIS: _failing_kpis}
    result = run_daily(
        make_settings(wh.url, retries=2), day=DAY, wh=wh, tasks=overrides, on_failure=alerts.append
    )
    run = result.runs[0]
    assert result.exit_code == 1 and run.status == "failed"
    assert run.failed_task == daily.KPIS
    assert len(alerts) == 1
    assert alerts[0].task_id == daily.KPIS and alerts[0].attempts == 3
    assert "division by zero" in str(alerts[0].error)
    assert attempts(wh, run.run_id, daily.KPIS) == [(1, "retrying"), (2, "retrying"), (3, "failed")]
    for downstream in (daily.LOAD, daily.REPORT, daily.NOTIFY):
        assert attempts(wh, run.run_id, downstream) == [(0, "upstream_failed")]
    rows = wh.query(
        "SELECT total_ad_cost, total_revenue, best_channel FROM revops.mart_daily_summary"
    )
    assert rows == [
        {
            "total_ad_cost": Decimal("2450000"),
            "total_revenue": Decimal("8230000"),
            "best_channel": "Google",
        }
    ]
    stored = wh.query(
        "SELECT status, error FROM revops.pipeline_runs WHERE run_id = ?", (run.run_id,)
    )
    assert stored[0]["status"] == "failed"
    assert stored[0]["error"].startswith("calculate_marketing_kpis: RuntimeError: division")
    audit = wh.query(
        "SELECT action, status FROM revops.audit_events WHERE request_id = ? "
        "AND action = 'run' ORDER BY \"at\"",
        (run.run_id,),
    )
    assert [a["status"] for a in audit] == ["started", "failed"]


def test_default_alert_is_the_failure_notification(wh: Any) -> None:
    """Without an injected alert the run calls the reports' notify_failure once."""
    pytest.importorskip("revops.outputs.reports", reason="the reports area is not merged yet")
    result = run_daily(
        make_settings(wh.url, retries=0),
        day=DAY,
        wh=wh,
        tasks={**all_ok(), daily.KPIS: _failing_kpis},
    )
    run = result.runs[0]
    rows = wh.query("SELECT key, kind FROM revops.notifications_outbox")
    assert rows == [{"key": f"{run.run_id}:failure", "kind": "failure"}]


def test_blocking_quality_check_stops_before_marts_exit_3(wh: Any) -> None:
    _seed_previous_mart(wh)
    calls: list[str] = []

    def blocked(ctx: TaskContext) -> None:
        calls.append(ctx.task_id)
        raise DataQualityError("sales.revenue has negative values")

    def kpis(ctx: TaskContext) -> None:
        calls.append(ctx.task_id)

    alerts: list[RunFailure] = []
    overrides = {**all_ok(), daily.VALIDATE: blocked, daily.KPIS: kpis}
    result = run_daily(
        make_settings(wh.url), day=DAY, wh=wh, tasks=overrides, on_failure=alerts.append
    )
    run = result.runs[0]
    assert run.status == "blocked" and result.exit_code == 3
    assert calls == [daily.VALIDATE]  # not retried, nothing downstream ran
    assert attempts(wh, run.run_id, daily.VALIDATE) == [(1, "failed")]
    assert [a.task_id for a in alerts] == [daily.VALIDATE]
    assert wh.query_value("SELECT count(*) FROM revops.mart_daily_summary") == 1


def test_terminal_source_error_is_not_retried(wh: Any) -> None:
    calls = {"n": 0}

    def terminal(ctx: TaskContext) -> None:
        calls["n"] += 1
        raise TerminalSourceError("the ads API answered 401 after a token refresh")

    result = run_graph([Task("extract", terminal, retries=3)], wh=wh, policy=FAST)
    assert result.status == "failed" and calls["n"] == 1


def test_extracts_run_in_parallel(wh: Any) -> None:
    """The three extracts wait for each other at a barrier: it only opens when all three
    run at once."""
    barrier = threading.Barrier(3, timeout=20)

    def extract(ctx: TaskContext) -> str:
        barrier.wait()
        return ctx.task_id

    overrides = {
        **all_ok(),
        daily.EXTRACT_ADS: extract,
        daily.EXTRACT_CRM: extract,
        daily.EXTRACT_SALES: extract,
    }
    result = run_daily(make_settings(wh.url, retries=0), day=DAY, wh=wh, tasks=overrides)
    assert result.runs[0].status == "success"
    assert result.runs[0].tasks[daily.EXTRACT_CRM].value == daily.EXTRACT_CRM


def test_upstream_results_reach_downstream_tasks(wh: Any) -> None:
    seen: dict[str, Any] = {}

    def notify(ctx: TaskContext) -> None:
        seen.update(ctx.upstream(daily.REPORT))

    result = run_daily(
        make_settings(wh.url),
        day=DAY,
        wh=wh,
        tasks={**all_ok(), daily.NOTIFY: notify},
        window_days=7,
    )
    assert result.runs[0].ok
    assert seen == {"task": daily.REPORT, "day": DAY}


def test_cooperative_task_over_its_timeout_is_stopped(wh: Any) -> None:
    stopped = threading.Event()

    def slow(ctx: TaskContext) -> None:
        try:
            while not ctx.wait(0.01):
                pass
            ctx.check()
        finally:
            stopped.set()

    alerts: list[RunFailure] = []
    result = run_graph(
        [
            Task("extract_sales_from_csv", slow, retries=0, timeout_s=0.2),
            Task("after", ok_task, ("extract_sales_from_csv",)),
        ],
        wh=wh,
        policy=FAST,
        on_failure=alerts.append,
    )
    assert result.status == "failed"
    assert stopped.is_set()  # the attempt really ended, it was not just abandoned
    assert attempts(wh, result.run_id, "extract_sales_from_csv") == [(1, "timed_out")]
    assert "exceeded its timeout of 0.2 s and was stopped" in result.error
    assert [a.task_id for a in alerts] == ["extract_sales_from_csv"]
    assert attempts(wh, result.run_id, "after") == [(0, "upstream_failed")]


def test_timed_out_attempt_is_retried_when_it_stopped(wh: Any) -> None:
    def first_slow(ctx: TaskContext) -> str:
        if ctx.attempt == 1:
            ctx.wait(30)
            ctx.check()
        return "done"

    result = run_graph([Task("t", first_slow, retries=1, timeout_s=0.2)], wh=wh, policy=FAST)
    assert result.status == "success"
    assert attempts(wh, result.run_id, "t") == [(1, "timed_out"), (2, "success")]


def test_running_sql_statement_is_interrupted_at_timeout(wh: Any) -> None:
    """A task stuck in one long SQL statement is stopped by interrupting the statement."""
    long_sql = (
        "SELECT pg_sleep(60)"
        if wh.dialect == "postgres"
        else "SELECT count(*) FROM range(10000000000000) t(i) WHERE i % 7 = 3"
    )
    ended = threading.Event()

    def stuck(ctx: TaskContext) -> None:
        try:
            assert ctx.wh is not None
            ctx.wh.query(long_sql, native=True)
        finally:
            ended.set()

    result = run_graph(
        [Task("merge_marketing_data", stuck, retries=0, timeout_s=0.5)], wh=wh, policy=FAST
    )
    assert result.status == "failed"
    assert ended.is_set()
    assert attempts(wh, result.run_id, "merge_marketing_data") == [(1, "timed_out")]
    assert "and was stopped" in result.error


def test_task_that_ignores_cancellation_is_left_behind_and_not_retried(wh: Any) -> None:
    release = threading.Event()
    calls = {"n": 0}

    def deaf(ctx: TaskContext) -> None:
        calls["n"] += 1
        release.wait(30)  # ignores ctx.cancel_event

    policy = RetryPolicy(backoff_s=0.01, cancel_grace_s=0.2)
    try:
        result = run_graph([Task("t", deaf, retries=3, timeout_s=0.2)], wh=wh, policy=policy)
    finally:
        release.set()
    assert result.status == "failed" and calls["n"] == 1
    assert "did not stop within 0.2 s" in result.error
    assert attempts(wh, result.run_id, "t") == [(1, "timed_out")]


def test_backoff_doubles_and_is_capped() -> None:
    policy = RetryPolicy(backoff_s=300, backoff_max_s=1000)
    assert [policy.delay(n) for n in (1, 2, 3, 4)] == [300, 600, 1000, 1000]


def test_stale_running_rows_are_abandoned_when_the_lock_is_taken(wh: Any) -> None:
    wh.execute(
        "INSERT INTO revops.pipeline_runs (run_id, pipeline, run_date, status, "
        "started_at) VALUES ('daily-old', 'daily', ?, 'running', ?)",
        (DAY, datetime(2024, 1, 1, tzinfo=UTC)),
    )
    run_daily(make_settings(wh.url), day=DAY, wh=wh, tasks=all_ok())
    assert run_status(wh, "daily-old") == "abandoned"


def test_missing_component_is_not_retried(wh: Any) -> None:
    def missing(ctx: TaskContext) -> None:
        import revops.no_such_component  # type: ignore[import-not-found]  # noqa: F401

    result = run_graph([Task("extract", missing, retries=3)], wh=wh, policy=FAST)
    assert result.status == "failed"
    assert attempts(wh, result.run_id, "extract") == [(1, "failed")]
    assert "ModuleNotFoundError" in (result.error or "")
