"""Run history: ``pipeline_runs`` (one row per run) and ``task_runs`` (one row per attempt).

Statuses — runs: running, success, failed, blocked (a data-quality check stopped it),
abandoned (its process ended without finishing); attempts: running, success, failed,
retrying (failed, another try follows), timed_out, upstream_failed (never started).
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any

import orjson

if TYPE_CHECKING:
    from revops.warehouse.base import Warehouse

MAX_ERROR = 2000


def _now() -> datetime:
    return datetime.now(UTC)


def _json(value: Any) -> str | None:
    if value is None:
        return None
    return orjson.dumps(value, default=str).decode()


def start_run(
    wh: Warehouse,
    run_id: str,
    pipeline: str,
    run_date: date | None,
    *,
    trigger: str,
    actor: str,
    detail: Any = None,
) -> None:
    """Insert a run as ``running`` (a second insert of the same id is ignored)."""
    wh.execute(
        "INSERT INTO revops.pipeline_runs (run_id, pipeline, run_date, status, started_at, "
        "trigger, actor, detail) VALUES (?, ?, ?, 'running', ?, ?, ?, ?) "
        "ON CONFLICT (run_id) DO NOTHING",
        (run_id, pipeline, run_date, _now(), trigger, actor, _json(detail)),
    )


def finish_run(
    wh: Warehouse, run_id: str, status: str, error: str | None = None, detail: Any = None
) -> None:
    """Set a run's final status, end time and error."""
    wh.execute(
        "UPDATE revops.pipeline_runs SET status = ?, ended_at = ?, error = ?, "
        "detail = coalesce(?, detail) WHERE run_id = ?",
        (status, _now(), (error or None) and error[:MAX_ERROR], _json(detail), run_id),
    )


def start_attempt(
    wh: Warehouse, run_id: str, task_id: str, attempt: int, timeout_s: float | None
) -> None:
    """Record the start of one attempt."""
    wh.execute(
        "INSERT INTO revops.task_runs (run_id, task_id, attempt, status, started_at, timeout_s) "
        "VALUES (?, ?, ?, 'running', ?, ?)",
        (run_id, task_id, attempt, _now(), timeout_s),
    )


def finish_attempt(
    wh: Warehouse,
    run_id: str,
    task_id: str,
    attempt: int,
    status: str,
    error: str | None = None,
    detail: Any = None,
) -> None:
    """Record how one attempt ended."""
    wh.execute(
        "UPDATE revops.task_runs SET status = ?, ended_at = ?, error = ?, detail = ? "
        "WHERE run_id = ? AND task_id = ? AND attempt = ?",
        (
            status,
            _now(),
            (error or None) and error[:MAX_ERROR],
            _json(detail),
            run_id,
            task_id,
            attempt,
        ),
    )


def record_not_started(wh: Warehouse, run_id: str, task_id: str, status: str) -> None:
    """A task that never ran (attempt 0), e.g. ``upstream_failed``."""
    now = _now()
    wh.execute(
        "INSERT INTO revops.task_runs (run_id, task_id, attempt, status, started_at, ended_at) "
        "VALUES (?, ?, 0, ?, ?, ?)",
        (run_id, task_id, status, now, now),
    )


def abandon_stale_runs(wh: Warehouse) -> int:
    """Mark ``running`` runs and attempts as ``abandoned`` (Airflow's runs excepted: Airflow
    owns those).

    Call only while holding the pipeline lock: then no live process owns them.
    """
    now = _now()
    n = wh.execute(
        "UPDATE revops.pipeline_runs SET status = 'abandoned', ended_at = ?, "
        "error = 'the process running it ended before it finished' WHERE status = 'running' "
        "AND coalesce(trigger, '') <> 'airflow'",
        (now,),
    )
    wh.execute(
        "UPDATE revops.task_runs SET status = 'abandoned', ended_at = ? WHERE status = 'running' "
        "AND run_id IN (SELECT run_id FROM revops.pipeline_runs WHERE status = 'abandoned')",
        (now,),
    )
    return max(0, n)


def completed_dates(wh: Warehouse, pipeline: str, start: date, end: date) -> set[date]:
    """Dates in [start, end] with a successful run of ``pipeline``."""
    rows = wh.query(
        "SELECT DISTINCT run_date FROM revops.pipeline_runs WHERE pipeline = ? "
        "AND status = 'success' AND run_date BETWEEN ? AND ?",
        (pipeline, start, end),
    )
    return {_as_date(r["run_date"]) for r in rows}


def active_run(wh: Warehouse) -> dict[str, Any] | None:
    """The most recent ``running`` run, if any."""
    rows = wh.query(
        "SELECT run_id, pipeline, run_date, started_at, trigger, actor "
        "FROM revops.pipeline_runs WHERE status = 'running' ORDER BY started_at DESC LIMIT 1"
    )
    return rows[0] if rows else None


def last_runs(wh: Warehouse, limit: int = 10) -> list[dict[str, Any]]:
    """The latest runs, newest first."""
    return wh.query(
        "SELECT run_id, pipeline, run_date, status, started_at, ended_at, trigger, actor, error "
        "FROM revops.pipeline_runs ORDER BY started_at DESC, run_id DESC LIMIT ?",
        (limit,),
    )


def run_tasks(wh: Warehouse, run_id: str) -> list[dict[str, Any]]:
    """Every attempt of one run, in start order."""
    return wh.query(
        "SELECT task_id, attempt, status, started_at, ended_at, error "
        "FROM revops.task_runs WHERE run_id = ? ORDER BY started_at, task_id, attempt",
        (run_id,),
    )


def _as_date(value: Any) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value))
