"""``revops report``: render a day's reports and deliver them."""

from __future__ import annotations

from datetime import date, datetime
from typing import TYPE_CHECKING

import typer

from revops.cli import context
from revops.cli.render import echo, to_json
from revops.errors import DeliveryError, UsageError

if TYPE_CHECKING:
    from revops.config import Settings


def _parse_day(value: str | None, settings: Settings) -> date:
    if value is None:
        return datetime.now(settings.timezone).date()
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise UsageError(
            "--date is not a date", input=value, hint="give the run date as YYYY-MM-DD"
        ) from exc


def report(
    ctx: typer.Context,
    day: str = typer.Option(
        None,
        "--date",
        help="Run date YYYY-MM-DD (period ends the day "
        "before); default today in the business time zone.",
    ),
    run_id: str = typer.Option(
        None,
        "--run-id",
        help="Pipeline run whose quality results to show (default: the latest checked run).",
    ),
    deliver: bool = typer.Option(
        True,
        "--deliver/--no-deliver",
        help="Copy to the configured destinations and email it (default on).",
    ),
    notify: bool = typer.Option(
        False,
        "--notify",
        help="Queue the Slack completion message (sent when REVOPS_SLACK__WEBHOOK_URL is set).",
    ),
    fmt: str = typer.Option("text", "--format", help="text or json."),
) -> None:
    """Render the text report, KPI CSV and HTML report of a day, then deliver them.

    Exits 1 when a destination did not receive the report (the files stay in local_dir).
    """
    from revops.outputs.delivery import DeliveryResult, deliver_report
    from revops.outputs.reports import notify_completion, render_report

    if fmt not in ("text", "json"):
        raise UsageError(f"unknown --format {fmt!r}", hint="use text or json")
    settings = context.settings(ctx)
    run_day = _parse_day(day, settings)
    with context.warehouse(ctx) as wh:
        bundle = render_report(wh, settings, run_day, run_id=run_id)
        result = (
            deliver_report(settings, bundle, wh)
            if deliver
            else DeliveryResult(tuple(str(p) for _, _, p in bundle.files()))
        )
        if notify:
            notify_completion(
                wh,
                settings,
                run_id or f"report-{run_day.isoformat()}",
                run_day,
                bundle,
                result,
                None,
            )
    if fmt == "json":
        echo(to_json({"report": bundle.as_dict(), "delivery": result.as_dict()}) + "\n")
    else:
        for path in result.local:
            echo(f"wrote {path}\n")
        for o in result.outcomes:
            state = "delivered" if o.ok else "FAILED"
            extra = f" after {o.attempts} attempts: {o.reason}" if not o.ok else ""
            echo(f"{state} {o.destination}{extra}\n")
    if not result.ok:
        names = ", ".join(o.destination for o in result.failed)
        raise DeliveryError(
            f"the report of {run_day.isoformat()} was not delivered to {names}",
            where="[reports] destinations / [email]",
            hint="the files are in the local folder; fix the destination and "
            f"run `revops report --date {run_day.isoformat()}` again",
        )


def register(app: typer.Typer) -> None:
    """Add ``report`` to the CLI."""
    app.command("report")(report)
