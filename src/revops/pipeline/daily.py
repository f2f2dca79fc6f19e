"""The daily marketing pipeline: the seed's DAG as data, and ``run_daily`` over dates.

Graph (task ids as in the seed)::

    extract_ads_from_api        ─┐
    extract_customers_from_crm  ─┼─► validate_with_great_expectations ─► merge_marketing_data
    extract_sales_from_csv      ─┘   ─► calculate_marketing_kpis ─┬─► load_to_marketing_dwh
                                                                   └─► generate_and_upload_reports
    load_to_marketing_dwh + generate_and_upload_reports ─► send_marketing_notification

Each task calls one library function of another component, imported when the task runs. A
blocking data-quality result stops the run before KPIs, marts and outputs change (exit 3).
``day`` is the *run date* D (like the seed's ``ds``): a run for D covers data through D − 1,
because ads settle a day late (see KPI.md), so the ads extract fetches D − 1. The default D is
today in the business time zone — the 07:00 run processes yesterday.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from revops.errors import DataQualityError, DeliveryError, UsageError
from revops.pipeline import history
from revops.pipeline.config import PipelineConfig, pipeline_config
from revops.pipeline.graph import Task, TaskContext, TaskFn
from revops.pipeline.lock import pipeline_lock
from revops.pipeline.runner import RetryPolicy, RunFailure, RunResult, new_run_id, run_graph

if TYPE_CHECKING:
    from revops.config import Settings
    from revops.warehouse.base import Warehouse

PIPELINE = "daily"
DAG_ID = "marketing_data_integration_pipeline"
DESCRIPTION = "Marketing data integration pipeline (ads API, CRM, sales CSV → checks → KPIs)"
SCHEDULE = "0 7 * * *"
START_DATE = date(2024, 1, 1)
TAGS = ("production", "marketing", "kpi", "final-project")
OWNER = "marketing_analytics_team"

EXTRACT_ADS = "extract_ads_from_api"
EXTRACT_CRM = "extract_customers_from_crm"
EXTRACT_SALES = "extract_sales_from_csv"
VALIDATE = "validate_with_great_expectations"
MERGE = "merge_marketing_data"
KPIS = "calculate_marketing_kpis"
LOAD = "load_to_marketing_dwh"
REPORT = "generate_and_upload_reports"
NOTIFY = "send_marketing_notification"


# -- the tasks ----------------------------------------------------------------------------


def extract_ads_task(ctx: TaskContext) -> Any:
    """Task 1: the campaign rows of D − 1 (ads settle a day late) into ``raw_ads``."""
    from revops.sources.ads import extract_ads

    if ctx.day is None:
        raise UsageError("the ads extract needs a run date")
    return extract_ads(ctx.warehouse, ctx.settings, ctx.day - timedelta(days=1))


def extract_crm_task(ctx: TaskContext) -> Any:
    """Task 2: customers and orders from the CRM database."""
    from revops.sources.crm import extract_crm

    return extract_crm(ctx.warehouse, ctx.settings)


def extract_sales_task(ctx: TaskContext) -> Any:
    """Task 3: the month's sales CSV (cleaned, rejects quarantined)."""
    from revops.sources.sales import extract_sales

    return extract_sales(ctx.warehouse, ctx.settings, day=ctx.day)


def validate_task(ctx: TaskContext) -> Any:
    """Task 4: the expectation suites; a blocking failure raises :class:`DataQualityError`."""
    from revops.quality import run_checks

    report = run_checks(ctx.warehouse, ctx.settings, day=ctx.day, run_id=ctx.run_id)
    if report.blocked:
        raise DataQualityError(
            f"a blocking data-quality check failed for {ctx.day}: {report.summary()}",
            where=f"dq_results, run_id {ctx.run_id}",
            hint="fix the source data (see `revops check`), then run the date again; "
            "no KPI, mart or report was changed",
        )
    return report


def merge_task(ctx: TaskContext) -> Any:
    """Task 5: incremental staging → facts → revenue marts."""
    from revops.transform import run_transform

    return run_transform(ctx.warehouse, ctx.settings)


def kpi_task(ctx: TaskContext) -> Any:
    """Task 6: per-channel KPIs and the daily summary for the day's period."""
    from revops.transform.marketing import compute_channel_kpis

    return compute_channel_kpis(
        ctx.warehouse, ctx.settings, ctx.day, window_days=ctx.params.get("window_days")
    )


def load_task(ctx: TaskContext) -> Any:
    """Task 7: publish the marts (replace the day's slice where they are published)."""
    from revops.outputs.publish import publish_marts

    return publish_marts(ctx.settings, ctx.warehouse, ctx.day)


@dataclass(frozen=True)
class ReportOutcome:
    """What task 8 hands to the notification: the rendered bundle and where it went."""

    bundle: Any
    delivery: Any

    def as_dict(self) -> dict[str, Any]:
        """The delivery's summary."""
        as_dict = getattr(self.delivery, "as_dict", None)
        return as_dict() if callable(as_dict) else {}


def report_task(ctx: TaskContext) -> ReportOutcome:
    """Task 8: render the report and deliver it; a failed destination fails the attempt."""
    from revops.outputs.delivery import deliver_report
    from revops.outputs.reports import render_report

    bundle = render_report(ctx.warehouse, ctx.settings, ctx.day, run_id=ctx.run_id)
    delivery = deliver_report(ctx.settings, bundle, wh=ctx.warehouse)
    if getattr(delivery, "ok", True) is False:
        failed = ", ".join(
            f"{getattr(o, 'destination', o)}: {getattr(o, 'reason', '')}"
            for o in getattr(delivery, "failed", [])
        )
        raise DeliveryError(
            f"the report for {ctx.day} was not delivered everywhere",
            input=failed or None,
            hint="check the [reports] destinations; the run retries delivery",
        )
    return ReportOutcome(bundle, delivery)


def notify_task(ctx: TaskContext) -> Any:
    """Task 9: the completion message (once per run, through the outbox)."""
    from revops.outputs.reports import notify_completion

    outcome = ctx.upstream(REPORT)
    bundle = getattr(outcome, "bundle", None)
    delivery = getattr(outcome, "delivery", None)
    return notify_completion(
        ctx.warehouse, ctx.settings, ctx.run_id, ctx.day, bundle, delivery, None
    )


@dataclass(frozen=True)
class TaskSpec:
    """One task of the daily DAG: id, callable, upstream ids, the seed's timeout (minutes)."""

    task_id: str
    fn: TaskFn
    upstream: tuple[str, ...]
    timeout_min: float | None


DAILY_TASKS: tuple[TaskSpec, ...] = (
    TaskSpec(EXTRACT_ADS, extract_ads_task, (), 15),
    TaskSpec(EXTRACT_CRM, extract_crm_task, (), 10),
    TaskSpec(EXTRACT_SALES, extract_sales_task, (), 10),
    TaskSpec(VALIDATE, validate_task, (EXTRACT_ADS, EXTRACT_CRM, EXTRACT_SALES), 15),
    TaskSpec(MERGE, merge_task, (VALIDATE,), 20),
    TaskSpec(KPIS, kpi_task, (MERGE,), 10),
    TaskSpec(LOAD, load_task, (KPIS,), 15),
    TaskSpec(REPORT, report_task, (KPIS,), 15),
    TaskSpec(NOTIFY, notify_task, (LOAD, REPORT), None),  # seed: the DAG default (2 hours)
)


def timeout_minutes(spec: TaskSpec, config: PipelineConfig) -> float:
    """A task's timeout: ``[pipeline.timeouts] <task_id>``, else the seed's, else the default."""
    if spec.task_id in config.timeouts:
        return float(config.timeouts[spec.task_id])
    return spec.timeout_min if spec.timeout_min is not None else config.default_timeout_min


def daily_graph(
    config: PipelineConfig | None = None, overrides: Mapping[str, TaskFn] | None = None
) -> list[Task]:
    """The daily DAG as runner tasks; ``overrides`` replaces callables by task id (tests)."""
    config = config or PipelineConfig()
    overrides = dict(overrides or {})
    unknown = set(overrides) - {s.task_id for s in DAILY_TASKS}
    if unknown:
        raise UsageError("unknown task ids in overrides", input=", ".join(sorted(unknown)))
    return [
        Task(
            s.task_id,
            overrides.get(s.task_id, s.fn),
            s.upstream,
            config.retries,
            timeout_minutes(s, config) * 60.0,
        )
        for s in DAILY_TASKS
    ]


def retry_policy(config: PipelineConfig) -> RetryPolicy:
    """The runner policy of ``[pipeline]``."""
    return RetryPolicy(
        config.retry_backoff_s,
        config.retry_backoff_max_s,
        config.max_parallel,
        config.cancel_grace_s,
    )


def failure_alert(wh: Warehouse, settings: Settings) -> Callable[[RunFailure], None]:
    """The seed's ``on_failure_callback``: an alert naming the failed task (once per run)."""

    def alert(failure: RunFailure) -> None:
        from revops.outputs.reports import notify_failure

        notify_failure(
            wh, settings, failure.run_id, failure.task_id, failure.error, day=failure.day
        )

    return alert


# -- running dates ------------------------------------------------------------------------


@dataclass
class DailyResult:
    """Runs made (in date order), dates skipped as already complete, and the exit code."""

    dates: list[date]
    runs: list[RunResult] = field(default_factory=list)
    skipped: list[date] = field(default_factory=list)

    @property
    def exit_code(self) -> int:
        """0 when every date ran or was skipped; else the failing run's code (1, or 3)."""
        return next((r.exit_code for r in self.runs if not r.ok), 0)

    @property
    def not_run(self) -> list[date]:
        """Dates neither run nor skipped (after a failure stopped the range)."""
        seen = {r.day for r in self.runs} | set(self.skipped)
        return [d for d in self.dates if d not in seen]

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready summary."""
        return {
            "exit_code": self.exit_code,
            "runs": [r.as_dict() for r in self.runs],
            "skipped": [d.isoformat() for d in self.skipped],
            "not_run": [d.isoformat() for d in self.not_run],
        }


Progress = Callable[[date, str, RunResult | None], None]


def default_day(settings: Settings, now: datetime | None = None) -> date:
    """Today in the business time zone: the run date whose data ends yesterday."""
    tz = settings.timezone
    current = now.astimezone(tz) if now else datetime.now(tz)
    return current.date()


def daily_dates(
    settings: Settings,
    *,
    day: date | None = None,
    start: date | None = None,
    end: date | None = None,
) -> list[date]:
    """The dates a ``run daily`` call covers, in order."""
    if day is not None and (start is not None or end is not None):
        raise UsageError("give either --date or --from/--to, not both")
    if day is not None:
        return [day]
    if start is None and end is None:
        return [default_day(settings)]
    if start is None or end is None:
        raise UsageError("a range needs both --from and --to", input=f"{start} .. {end}")
    if start > end:
        raise UsageError("--from is after --to", input=f"{start} .. {end}", hint="swap the dates")
    return [start + timedelta(days=n) for n in range((end - start).days + 1)]


def run_daily(
    settings: Settings,
    *,
    day: date | None = None,
    start: date | None = None,
    end: date | None = None,
    window_days: int | None = None,
    force: bool = False,
    wh: Warehouse | None = None,
    trigger: str = "cli",
    actor: str | None = None,
    tasks: Sequence[Task] | Mapping[str, TaskFn] | None = None,
    on_failure: Callable[[RunFailure], None] | None = None,
    progress: Progress | None = None,
) -> DailyResult:
    """Run the daily pipeline for one date or a range, holding the pipeline lock.

    A range runs in date order, skips dates that already have a successful run (unless
    ``force``) and stops at the first failing date, so running it again resumes there. A
    single ``day`` always runs (a rerun is idempotent: every task replaces its own slice).
    Raises :class:`~revops.pipeline.lock.RunActiveError` when another run is active. The
    warehouse is opened (after the lock) unless ``wh`` is given; ``tasks`` replaces the graph
    or some of its callables.
    """
    dates = daily_dates(settings, day=day, start=start, end=end)
    ranged = day is None and len(dates) > 1
    lock_id = (
        new_run_id(PIPELINE, dates[0]) if not ranged else f"{PIPELINE}-{dates[0]}..{dates[-1]}"
    )
    result = DailyResult(dates)
    with pipeline_lock(settings, lock_id, PIPELINE, dates[0] if not ranged else None):
        own = wh is None
        if own:
            from revops.warehouse import open_warehouse

            wh = open_warehouse(settings)
        assert wh is not None
        try:
            history.abandon_stale_runs(wh)
            _run_dates(
                settings,
                wh,
                dates,
                result,
                window_days=window_days,
                force=force or not ranged,
                trigger=trigger,
                actor=actor,
                tasks=tasks,
                on_failure=on_failure,
                progress=progress,
                first_run_id=None if ranged else lock_id,
            )
        finally:
            if own:
                wh.close()
    return result


def _run_dates(
    settings: Settings,
    wh: Warehouse,
    dates: list[date],
    result: DailyResult,
    *,
    window_days: int | None,
    force: bool,
    trigger: str,
    actor: str | None,
    tasks: Sequence[Task] | Mapping[str, TaskFn] | None,
    on_failure: Callable[[RunFailure], None] | None,
    progress: Progress | None,
    first_run_id: str | None = None,
) -> None:
    config = pipeline_config(settings)
    graph = list(tasks) if isinstance(tasks, Sequence) else daily_graph(config, tasks)
    done = set() if force else history.completed_dates(wh, PIPELINE, dates[0], dates[-1])
    params = {"window_days": window_days or config.window_days}
    alert = on_failure or failure_alert(wh, settings)
    for n, d in enumerate(dates):
        if d in done:
            result.skipped.append(d)
            if progress:
                progress(d, "skipped", None)
            continue
        run = run_graph(
            graph,
            wh=wh,
            settings=settings,
            pipeline=PIPELINE,
            day=d,
            run_id=first_run_id if n == 0 and first_run_id else None,
            params=params,
            policy=retry_policy(config),
            on_failure=alert,
            trigger=trigger,
            actor=actor,
        )
        result.runs.append(run)
        if progress:
            progress(d, run.status, run)
        if not run.ok:
            return


def run_dates_locked(
    settings: Settings,
    wh: Warehouse,
    dates: list[date],
    *,
    trigger: str,
    actor: str | None = None,
    force: bool = True,
    tasks: Sequence[Task] | Mapping[str, TaskFn] | None = None,
    on_failure: Callable[[RunFailure], None] | None = None,
    progress: Progress | None = None,
) -> DailyResult:
    """Run the daily pipeline for ``dates`` when the caller already holds the pipeline lock
    (backfill)."""
    result = DailyResult(dates)
    _run_dates(
        settings,
        wh,
        dates,
        result,
        window_days=None,
        force=force,
        trigger=trigger,
        actor=actor,
        tasks=tasks,
        on_failure=on_failure,
        progress=progress,
    )
    return result
