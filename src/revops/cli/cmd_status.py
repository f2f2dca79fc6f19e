"""``revops status``: pipeline health and the withdrawal criteria (exit 1 when one fails)."""

from __future__ import annotations

import typer

from revops.cli import context
from revops.cli.render import echo, render, to_json
from revops.errors import UsageError


def status(
    ctx: typer.Context,
    fmt: str = typer.Option("table", "--format", help="table or json."),
    runs: int = typer.Option(10, "--runs", min=1, help="How many recent runs to list."),
) -> None:
    """Freshness per source type, failures, last runs and tasks, dead letters, notification
    backlog and the withdrawal criteria; exits 1 when a criterion is not met."""
    from revops.pipeline.status import collect_status

    if fmt not in ("table", "json"):
        raise UsageError(f"unknown --format {fmt!r}", hint="use table or json")
    settings = context.settings(ctx)
    with context.warehouse(ctx) as wh:
        report = collect_status(wh, settings, runs=runs)
    if fmt == "json":
        echo(to_json(report.as_dict()) + "\n")
    else:
        for title, rows in report.sections():
            echo(render(rows, "table", title=title))
    raise typer.Exit(report.exit_code)


def register(app: typer.Typer) -> None:
    """Add ``revops status``."""
    app.command("status")(status)
