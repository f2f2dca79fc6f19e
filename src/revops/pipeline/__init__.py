"""Orchestration: the daily DAG, its runner (retries, timeouts, history, one active run), the
schedule inside ``revops serve``, backfill, rollback, status and the same DAG for Airflow.

Public API::

    run_daily(settings, day=…, start=…, end=…, window_days=…, force=…)   -> DailyResult
    run_graph(tasks, wh=…, …)                                               -> RunResult
    backfill(settings, start=…, end=…, pipelines=…)                         -> BackfillResult
    rollback(settings, as_of=…, dry_run=…)                                  -> RollbackResult
    collect_status(wh, settings)                                            -> StatusReport
    schedule.start_scheduler(runtime)                                       -> stop()
"""

from revops.pipeline.daily import DAG_ID, DailyResult, daily_graph, run_daily
from revops.pipeline.graph import Task, TaskCancelled, TaskContext
from revops.pipeline.lock import RunActiveError
from revops.pipeline.runner import RetryPolicy, RunFailure, RunResult, run_graph

__all__ = [
    "DAG_ID",
    "DailyResult",
    "RetryPolicy",
    "RunActiveError",
    "RunFailure",
    "RunResult",
    "Task",
    "TaskCancelled",
    "TaskContext",
    "daily_graph",
    "run_daily",
    "run_graph",
]
