"""The daily pipeline as an Airflow 3 DAG: the seed's ``marketing_data_integration_pipeline``.

A team on Airflow drops one small file into its dags folder::

    # dags/revops_daily.py
    from revops.pipeline.airflow_dag import build_dag

    dag = build_dag()

Each Airflow task runs the same callable as the built-in runner (``revops.pipeline.daily``),
with settings from ``REVOPS_CONFIG`` / ``REVOPS_*`` in the worker's environment. Airflow owns
retries (3, exponential from 5 minutes), per-task timeouts (the seed's), ``max_active_runs=1``,
``catchup=False`` and the failure callback (the same alert naming the task). Each attempt is
also written to ``pipeline_runs`` / ``task_runs``, so ``revops status`` sees Airflow's runs.
Task results pass between tasks as XCom (their JSON summaries). The run date is the logical
date in the business time zone (its data ends the day before, like the seed's ``ds``). With a
DuckDB warehouse (one writer process) the DAG runs one task at a time; use PostgreSQL to let
the extracts run in parallel.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from datetime import date, datetime, timedelta
from functools import partial
from typing import Any

from revops.pipeline import daily, history
from revops.pipeline.config import PipelineConfig, pipeline_config
from revops.pipeline.daily import DAILY_TASKS, TaskSpec, timeout_minutes
from revops.pipeline.graph import TaskContext, TaskFn
from revops.pipeline.runner import summarize


def build_dag(
    *,
    settings: Any = None,
    overrides: Mapping[str, TaskFn] | str | None = None,
    dag_id: str = daily.DAG_ID,
) -> Any:
    """The seed's DAG for Airflow 3 (imports Airflow; install ``revops[airflow]``).

    ``overrides`` replaces task callables by id, as a mapping or a ``module:attribute`` path
    to one (tests, custom steps).
    """
    import pendulum
    from airflow.providers.standard.operators.python import PythonOperator
    from airflow.sdk import DAG

    if settings is None:
        from revops.config import load_settings

        settings = load_settings()
    config = pipeline_config(settings)
    fns = _resolve(overrides)
    default_args = {
        "owner": daily.OWNER,
        "retries": config.retries,
        "retry_delay": timedelta(seconds=config.retry_backoff_s),
        "retry_exponential_backoff": True,
        "max_retry_delay": timedelta(seconds=config.retry_backoff_max_s),
        "execution_timeout": timedelta(minutes=config.default_timeout_min),
        "on_failure_callback": on_task_failure,
    }
    single_writer = settings.warehouse_url.lower().startswith("duckdb:")
    with DAG(
        dag_id=dag_id,
        default_args=default_args,
        description=daily.DESCRIPTION,
        schedule=_schedule(settings),
        start_date=pendulum.datetime(
            daily.START_DATE.year,
            daily.START_DATE.month,
            daily.START_DATE.day,
            tz=settings.timezone.key,
        ),
        catchup=False,
        max_active_runs=1,
        max_active_tasks=1 if single_writer else 16,
        tags=list(daily.TAGS),
    ) as dag:
        operators = {
            spec.task_id: PythonOperator(
                task_id=spec.task_id,
                python_callable=partial(
                    run_airflow_task, spec.task_id, fns.get(spec.task_id, spec.fn)
                ),
                execution_timeout=timedelta(minutes=_timeout(spec, config)),
            )
            for spec in DAILY_TASKS
        }
        for spec in DAILY_TASKS:
            for up in spec.upstream:
                operators[up] >> operators[spec.task_id]
    return dag


def _schedule(settings: Any) -> str:
    from revops.pipeline.config import schedule_config

    return schedule_config(settings).cron


def _timeout(spec: TaskSpec, config: PipelineConfig) -> float:
    return timeout_minutes(spec, config)


def _resolve(overrides: Mapping[str, TaskFn] | str | None) -> dict[str, TaskFn]:
    if overrides is None:
        return {}
    if isinstance(overrides, str):
        module, _, attr = overrides.partition(":")
        return dict(getattr(importlib.import_module(module), attr))
    return dict(overrides)


def data_day(context: Mapping[str, Any], tz: Any) -> date:
    """The run date of an Airflow run: its logical date in the business time zone ``tz``
    (``ds`` would be the UTC date); the run's data ends the day before."""
    moment = context.get("logical_date")
    if moment is None and context.get("dag_run") is not None:
        moment = context["dag_run"].run_after
    if moment is None:
        return date.fromisoformat(str(context["ds"]))
    return moment.astimezone(tz).date()


def revops_run_id(context: Mapping[str, Any]) -> str:
    """The ``pipeline_runs`` id of an Airflow run."""
    return f"airflow-{context['run_id']}"


def run_airflow_task(task_id: str, fn: TaskFn, **context: Any) -> Any:
    """Run one daily task inside Airflow; returns its JSON summary (the task's XCom)."""
    from revops.config import load_settings
    from revops.warehouse import open_warehouse

    settings = load_settings()
    ti = context["ti"]
    day = data_day(context, settings.timezone)
    run_id = revops_run_id(context)
    spec = next(s for s in DAILY_TASKS if s.task_id == task_id)
    results = {up: ti.xcom_pull(task_ids=up) for up in spec.upstream}
    attempt = int(getattr(ti, "try_number", 1) or 1)
    wh = open_warehouse(settings)
    try:
        history.start_run(
            wh,
            run_id,
            daily.PIPELINE,
            day,
            trigger="airflow",
            actor="airflow",
        )
        history.start_attempt(wh, run_id, task_id, attempt, None)
        ctx = TaskContext(
            run_id=run_id,
            task_id=task_id,
            attempt=attempt,
            day=day,
            wh=wh,
            settings=settings,
            params={"window_days": pipeline_config(settings).window_days},
            results=results,
        )
        try:
            value = fn(ctx)
        except Exception as exc:
            history.finish_attempt(
                wh, run_id, task_id, attempt, "failed", f"{type(exc).__name__}: {exc}"
            )
            raise
        summary = summarize(value)
        history.finish_attempt(wh, run_id, task_id, attempt, "success", detail=summary)
        if task_id == daily.NOTIFY:
            history.finish_run(wh, run_id, "success")
        return summary
    finally:
        wh.close()


def on_task_failure(context: Mapping[str, Any]) -> None:
    """The seed's ``send_error_notification``: record the failed run and alert once,
    naming the task."""
    from revops.config import load_settings
    from revops.outputs.reports import notify_failure
    from revops.warehouse import open_warehouse

    settings = load_settings()
    ti = context["task_instance"]
    error = context.get("exception")
    run_id = revops_run_id(context)
    wh = open_warehouse(settings)
    try:
        history.finish_run(wh, run_id, "failed", f"{ti.task_id}: {error}")
        notify_failure(
            wh, settings, run_id, ti.task_id, error, day=data_day(context, settings.timezone)
        )
    finally:
        wh.close()


def _main(argv: list[str] | None = None) -> int:
    """``python -m revops.pipeline.airflow_dag --test YYYY-MM-DD``: one local ``dag.test()``."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m revops.pipeline.airflow_dag")
    parser.add_argument(
        "--test",
        metavar="LOGICAL_DATE",
        required=True,
        help="run dag.test() for this logical date (the run date; data through the day before)",
    )
    parser.add_argument("--overrides", help="module:attribute of task overrides")
    args = parser.parse_args(argv)
    dag = build_dag(overrides=args.overrides)
    logical = datetime.fromisoformat(args.test)
    if logical.tzinfo is None:
        from revops.config import load_settings

        logical = logical.replace(tzinfo=load_settings().timezone)
    run = dag.test(logical_date=logical)
    state = str(getattr(run, "state", run))
    print(f"dag {dag.dag_id} run {getattr(run, 'run_id', '?')}: {state}")
    return 0 if state.endswith("success") else 1


if __name__ == "__main__":
    raise SystemExit(_main())
