"""``run_daily`` over ranges (order, skip, resume, force), the DAG's shape, the CLI."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from tests.pipeline.conftest import all_ok, make_settings

from revops.config import Settings
from revops.errors import UsageError
from revops.pipeline import daily
from revops.pipeline.config import PipelineConfig
from revops.pipeline.daily import daily_dates, daily_graph, default_day, run_daily
from revops.pipeline.graph import TaskContext

D1, D2, D3 = date(2024, 1, 14), date(2024, 1, 15), date(2024, 1, 16)
ROOT = Path(__file__).resolve().parents[2]


def _writing_kpis(fail_on: set[date]) -> Any:
    """Replaces the day's mart row (idempotent); fails on the given days."""

    def kpis(ctx: TaskContext) -> None:
        assert ctx.wh is not None and ctx.day is not None
        if ctx.day in fail_on:
            raise RuntimeError(f"no ads data for {ctx.day}")
        with ctx.wh.transaction():
            ctx.wh.execute("DELETE FROM revops.mart_daily_summary WHERE date = ?", (ctx.day,))
            ctx.wh.execute(
                "INSERT INTO revops.mart_daily_summary (date, period_start, "
                "period_end, total_customers) VALUES (?, ?, ?, 7)",
                (ctx.day, ctx.day, ctx.day),
            )

    return kpis


def test_range_runs_in_order_stops_at_failure_and_resumes(wh: Any) -> None:
    settings = make_settings(wh.url, retries=0)
    seen: list[tuple[date, str]] = []
    first = run_daily(
        settings,
        start=D1,
        end=D3,
        wh=wh,
        tasks={**all_ok(), daily.KPIS: _writing_kpis({D2})},
        on_failure=lambda f: None,
        progress=lambda d, status, run: seen.append((d, status)),
    )
    assert seen == [(D1, "success"), (D2, "failed")]
    assert first.exit_code == 1 and first.not_run == [D3]
    again: list[tuple[date, str]] = []
    second = run_daily(
        settings,
        start=D1,
        end=D3,
        wh=wh,
        tasks={**all_ok(), daily.KPIS: _writing_kpis(set())},
        progress=lambda d, status, run: again.append((d, status)),
    )
    assert again == [(D1, "skipped"), (D2, "success"), (D3, "success")]
    assert second.skipped == [D1] and second.exit_code == 0
    forced: list[date] = []
    run_daily(
        settings,
        start=D1,
        end=D3,
        wh=wh,
        force=True,
        tasks={**all_ok(), daily.KPIS: _writing_kpis(set())},
        progress=lambda d, status, run: forced.append(d),
    )
    assert forced == [D1, D2, D3]
    # every rerun replaced its day's slice: one row per day
    rows = wh.query(
        "SELECT date, count(*) AS n FROM revops.mart_daily_summary GROUP BY date ORDER BY date"
    )
    assert [(r["date"], r["n"]) for r in rows] == [(D1, 1), (D2, 1), (D3, 1)]


def test_single_date_always_reruns(wh: Any) -> None:
    settings = make_settings(wh.url)
    run_daily(settings, day=D1, wh=wh, tasks=all_ok())
    second = run_daily(settings, day=D1, wh=wh, tasks=all_ok())
    assert len(second.runs) == 1 and second.skipped == []


def test_dates_and_default_day() -> None:
    settings = Settings(data={"general": {"timezone": "Asia/Tokyo"}}, env={})
    # 2024-01-15 20:00 UTC is already the 16th in Tokyo: today's run date there
    assert default_day(settings, datetime(2024, 1, 15, 20, 0, tzinfo=UTC)) == D3
    assert daily_dates(settings, start=D1, end=D3) == [D1, D2, D3]
    with pytest.raises(UsageError):
        daily_dates(settings, start=D3, end=D1)
    with pytest.raises(UsageError):
        daily_dates(settings, day=D1, start=D1, end=D2)
    with pytest.raises(UsageError):
        daily_dates(settings, start=D1)


def test_graph_is_the_seeds_dag() -> None:
    graph = {t.task_id: t for t in daily_graph(PipelineConfig())}
    assert list(graph) == [
        "extract_ads_from_api",
        "extract_customers_from_crm",
        "extract_sales_from_csv",
        "validate_with_great_expectations",
        "merge_marketing_data",
        "calculate_marketing_kpis",
        "load_to_marketing_dwh",
        "generate_and_upload_reports",
        "send_marketing_notification",
    ]
    assert graph[daily.VALIDATE].upstream == (
        daily.EXTRACT_ADS,
        daily.EXTRACT_CRM,
        daily.EXTRACT_SALES,
    )
    assert graph[daily.NOTIFY].upstream == (daily.LOAD, daily.REPORT)
    minutes = [t.timeout_s / 60 for t in graph.values()]  # type: ignore[operator]
    assert minutes == [15, 10, 10, 15, 20, 10, 15, 15, 120]
    assert {t.retries for t in graph.values()} == {3}
    tuned = daily_graph(PipelineConfig(retries=1, timeouts={daily.MERGE: 45}))
    assert {t.task_id: t.timeout_s for t in tuned}[daily.MERGE] == 45 * 60
    with pytest.raises(UsageError):
        daily_graph(PipelineConfig(), {"no_such_task": lambda ctx: None})


def _cli(*args: str, cwd: Path, url: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("REVOPS_")}
    env.update(REVOPS_WAREHOUSE__URL=url, PYTHONPATH=str(ROOT / "src"))
    return subprocess.run(
        [sys.executable, "-m", "revops", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_cli_rejects_bad_dates_with_exit_2(tmp_path: Path) -> None:
    url = f"duckdb:///{tmp_path}/w.duckdb"
    bad = _cli("run", "daily", "--date", "15/01/2024", cwd=tmp_path, url=url)
    assert bad.returncode == 2 and "--date is not a date" in bad.stderr
    backwards = _cli(
        "run", "daily", "--from", "2024-01-16", "--to", "2024-01-14", cwd=tmp_path, url=url
    )
    assert backwards.returncode == 2 and "--from is after --to" in backwards.stderr


def test_cli_status_json_and_exit_code(tmp_path: Path) -> None:
    url = f"duckdb:///{tmp_path}/w.duckdb"
    out = _cli("status", "--format", "json", cwd=tmp_path, url=url)
    assert out.returncode == 0, out.stderr
    import orjson

    doc = orjson.loads(out.stdout)
    assert [c["status"] for c in doc["criteria"]] == ["no data"] * 3
    table = _cli("status", cwd=tmp_path, url=url)
    assert table.returncode == 0 and "withdrawal criteria" in table.stdout


def test_template_sections_validate_and_env_overrides_apply() -> None:
    import tomllib
    from importlib import resources

    from revops.config import load_settings
    from revops.pipeline.config import pipeline_config, schedule_config

    text = resources.files("revops.templates").joinpath("revops.toml").read_text("utf-8")
    data = tomllib.loads(text)
    config = pipeline_config(Settings(data=data, env={}))
    assert (config.retries, config.retry_backoff_s, config.max_parallel) == (3, 300.0, 3)
    assert schedule_config(Settings(data=data, env={})).cron == "0 7 * * *"
    env = {"REVOPS_PIPELINE__RETRIES": "5", "REVOPS_SCHEDULE__ENABLED": "false"}
    settings = load_settings(env=env)
    assert pipeline_config(settings).retries == 5
    assert schedule_config(settings).enabled is False
