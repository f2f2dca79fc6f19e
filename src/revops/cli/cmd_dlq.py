"""``revops dlq list | show ID | replay ID… | replay --all``: inspect and replay dead letters."""

from __future__ import annotations

import typer

from revops.cli import context
from revops.cli.render import FORMATS, echo, render
from revops.errors import UsageError

dlq_app = typer.Typer(
    help="Dead letters: what could not be processed, kept with its bytes.", no_args_is_help=True
)


def _check(fmt: str) -> None:
    if fmt not in FORMATS:
        raise UsageError(f"unknown --format {fmt!r}", hint="use table, csv or json")


@dlq_app.command("list")
def list_cmd(
    ctx: typer.Context,
    limit: int = typer.Option(100, "--limit", help="At most this many, newest first."),
    source: str = typer.Option(None, "--source", help="Only this source."),
    all_: bool = typer.Option(False, "--all", help="Include letters already replayed."),
    fmt: str = typer.Option("table", "--format", help="table, csv or json."),
) -> None:
    """List dead letters not yet replayed (newest first)."""
    from revops.ingest.dlq import list_dead_letters

    _check(fmt)
    with context.warehouse(ctx) as wh:
        rows = list_dead_letters(wh, limit=limit, source=source, include_replayed=all_)
    echo(render(rows, fmt, title="dead letters"))


@dlq_app.command("show")
def show_cmd(
    ctx: typer.Context,
    letter_id: int = typer.Argument(..., help="The dead letter's id (see dlq list)."),
    fmt: str = typer.Option("table", "--format", help="table or json."),
) -> None:
    """Show one dead letter: reason, detail and its body as received."""
    from revops.ingest.dlq import show_dead_letter

    _check(fmt)
    with context.warehouse(ctx) as wh:
        row = show_dead_letter(wh, letter_id)
    body = row.pop("body").decode("utf-8", "replace")
    if fmt == "json":
        echo(render([{**row, "body": body}], "json"))
        return
    for key, value in row.items():
        echo(f"{key}: {value}\n")
    echo("body:\n" + body + ("\n" if not body.endswith("\n") else ""))


@dlq_app.command("replay")
def replay_cmd(
    ctx: typer.Context,
    ids: list[int] = typer.Argument(None, help="Ids of the letters to replay."),
    all_: bool = typer.Option(False, "--all", help="Replay every letter not yet replayed."),
    fmt: str = typer.Option("table", "--format", help="table, csv or json."),
) -> None:
    """Replay dead letters once their cause is fixed (idempotent); exits 1 if any still fail."""
    from revops.ingest.dlq import replay
    from revops.notify.rules import notify_config

    _check(fmt)
    if not ids and not all_:
        raise UsageError("name the dead letters to replay", hint="give ids or pass --all")
    if ids and all_:
        raise UsageError("give ids or --all, not both")
    notify = notify_config(context.settings(ctx))
    with context.warehouse(ctx) as wh:
        report = replay(wh, None if all_ else ids, rules=notify.rules if notify.enabled else ())
    echo(render(report.rows(), fmt, title="replay"))
    if fmt == "table":
        echo(
            f"replayed {len(report.replayed)}  failed {len(report.failed)}  "
            f"new events {report.new}  duplicates {report.duplicates}\n"
        )
    if report.failed:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    """Add ``dlq`` to ``app``."""
    app.add_typer(dlq_app, name="dlq")
