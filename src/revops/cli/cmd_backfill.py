"""``revops backfill``: re-derive tables for a date range from raw."""

from __future__ import annotations

import typer

from revops.cli import context
from revops.cli.cmd_run import _RangeProgress, parse_day
from revops.cli.render import echo, render
from revops.errors import UsageError


def backfill(
    ctx: typer.Context,
    start: str = typer.Option(..., "--from", help="First day YYYY-MM-DD."),
    end: str = typer.Option(..., "--to", help="Last day YYYY-MM-DD (inclusive)."),
    pipelines: bool = typer.Option(
        False, "--pipelines", help="Also rerun the daily pipeline for every date."
    ),
    fmt: str = typer.Option("table", "--format", help="table or json."),
) -> None:
    """Rebuild staging, facts and marts for events in the range from raw (raw is unchanged);
    with --pipelines rerun the daily pipeline for those dates too."""
    from revops.pipeline.backfill import backfill as run_backfill

    s, e = parse_day(start, "--from"), parse_day(end, "--to")
    if s is None or e is None:
        raise UsageError("--from and --to are required")
    days = (e - s).days + 1
    with _RangeProgress(days if pipelines else 0, enabled=fmt != "json") as progress:
        result = run_backfill(
            context.settings(ctx), start=s, end=e, pipelines=pipelines, progress=progress
        )
    if fmt == "json":
        echo(render([result.as_dict()], "json"))
    else:
        echo(f"backfill {s} .. {e}: rebuilt from raw ({result.run_id})\n")
        summary = result.as_dict()["transform"]
        if isinstance(summary, dict) and summary:
            echo(render([summary], "table"))
    raise typer.Exit(result.exit_code)


def register(app: typer.Typer) -> None:
    """Add ``revops backfill``."""
    app.command("backfill")(backfill)
