"""``revops run daily``: the daily pipeline for a date or a range of dates."""

from __future__ import annotations

import sys
from datetime import date
from typing import TYPE_CHECKING, Any

import typer

from revops.cli import context
from revops.cli.render import echo, render
from revops.errors import UsageError

if TYPE_CHECKING:
    from revops.pipeline.runner import RunResult

run_app = typer.Typer(help="Run a pipeline (the daily marketing DAG).", no_args_is_help=True)


def parse_day(value: str | None, option: str) -> date | None:
    """A ``YYYY-MM-DD`` option value, or a :class:`UsageError` naming the option."""
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise UsageError(
            f"{option} is not a date", input=value, hint="write it as YYYY-MM-DD"
        ) from None


@run_app.command("daily")
def daily(
    ctx: typer.Context,
    day: str = typer.Option(
        None,
        "--date",
        help="Run date YYYY-MM-DD; data through the day before (default: today in the "
        "business time zone).",
    ),
    start: str = typer.Option(None, "--from", help="First day of a range."),
    end: str = typer.Option(None, "--to", help="Last day of a range (inclusive)."),
    window_days: int = typer.Option(
        None, "--window-days", min=1, help="KPI window in days (default: the KPI settings)."
    ),
    force: bool = typer.Option(
        False, "--force", help="Rerun dates of a range that already succeeded."
    ),
    fmt: str = typer.Option("table", "--format", help="table or json."),
) -> None:
    """Run the daily DAG: extract ads, CRM and sales → checks → transform and KPIs → marts
    and report → notify. Exit 0 ok, 1 failed, 2 another run is active, 3 blocked by a check.
    """
    from revops.pipeline.daily import daily_dates, run_daily

    settings = context.settings(ctx)
    d, s, e = parse_day(day, "--date"), parse_day(start, "--from"), parse_day(end, "--to")
    dates = daily_dates(settings, day=d, start=s, end=e)
    with _RangeProgress(len(dates), enabled=fmt != "json") as progress:
        result = run_daily(
            settings, day=d, start=s, end=e, window_days=window_days, force=force, progress=progress
        )
    if fmt == "json":
        echo(render([result.as_dict()], "json"))
    else:
        failed = next((r for r in result.runs if not r.ok), None)
        if failed is not None:
            echo(render(task_rows(failed), "table", title=f"tasks of {failed.run_id}"))
            echo(f"error: {failed.error}\n")
        if result.not_run:
            echo(
                f"not run: {', '.join(d.isoformat() for d in result.not_run)} "
                "(run the same command again to resume)\n"
            )
    raise typer.Exit(result.exit_code)


def task_rows(run: RunResult) -> list[dict[str, Any]]:
    """One row per task of ``run``."""
    return [
        {
            "task": t.task_id,
            "status": t.status,
            "attempts": t.attempts,
            "error": (t.error or "")[:160],
        }
        for t in run.tasks.values()
    ]


class _RangeProgress:
    """A progress bar over dates on a terminal, one line per date otherwise."""

    def __init__(self, total: int, *, enabled: bool) -> None:
        self.total, self.enabled = total, enabled
        self.bar: Any = None
        self.task: Any = None

    def __enter__(self) -> Any:
        if self.enabled and self.total > 1 and sys.stderr.isatty():
            from rich.console import Console
            from rich.progress import Progress

            self.bar = Progress(console=Console(stderr=True))
            self.bar.start()
            self.task = self.bar.add_task("daily runs", total=self.total)
        return self.advance

    def advance(self, day: date, status: str, run: RunResult | None) -> None:
        line = f"{day.isoformat()}  {status}" + (f"  {run.run_id}" if run else "")
        if self.bar is not None:
            self.bar.console.print(line)
            self.bar.advance(self.task)
        elif self.enabled:
            echo(line + "\n")

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.stop()


def register(app: typer.Typer) -> None:
    """Add ``revops run daily``."""
    app.add_typer(run_app, name="run")
