"""``revops rollback``: facts and marts as they were at a past moment."""

from __future__ import annotations

from datetime import datetime

import typer

from revops.cli import context
from revops.cli.render import echo, render
from revops.errors import UsageError


def parse_moment(value: str, tz: object) -> datetime:
    """An ISO timestamp; without an offset it is read in the business time zone."""
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise UsageError(
            "--as-of is not a timestamp",
            input=value,
            hint="write it as 2024-01-15T09:30:00+09:00 (no offset: the business time zone)",
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=tz)  # type: ignore[arg-type]


def rollback(
    ctx: typer.Context,
    as_of: str = typer.Option(..., "--as-of", help="The moment to return to (ISO timestamp)."),
    dry_run: bool = typer.Option(
        False, "--dry-run", help="Show what would change; change nothing."
    ),
    fmt: str = typer.Option("table", "--format", help="table or json."),
) -> None:
    """Rebuild facts and marts from the raw rows inserted up to --as-of, showing what changes
    (the audit records who ran it)."""
    from revops.pipeline.rollback import rollback as run_rollback

    settings = context.settings(ctx)
    moment = parse_moment(as_of, settings.timezone)
    result = run_rollback(settings, as_of=moment, dry_run=dry_run)
    if fmt == "json":
        echo(render([result.as_dict()], "json"))
        return
    verb = "would change (dry run, nothing changed)" if dry_run else "changed"
    echo(f"rollback to {moment.isoformat()}: {verb}\n")
    echo(render(result.rows(), "table"))
    if dry_run:
        echo("run again without --dry-run to apply it\n")


def register(app: typer.Typer) -> None:
    """Add ``revops rollback``."""
    app.command("rollback")(rollback)
