"""``revops notify resend --since TS`` and ``revops notify status``: the notification outbox."""

from __future__ import annotations

from datetime import UTC, datetime

import typer

from revops.cli import context
from revops.cli.render import echo, render
from revops.errors import UsageError

notify_app = typer.Typer(
    help="Notifications for important events (the outbox).", no_args_is_help=True
)


def parse_since(text: str) -> datetime:
    """An ISO-8601 time or date (UTC when no zone is given)."""
    try:
        value = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError as exc:
        raise UsageError(
            "--since is not an ISO-8601 time",
            input=text,
            hint="e.g. --since 2025-10-08T09:00:00Z or --since 2025-10-08",
        ) from exc
    return value if value.tzinfo else value.replace(tzinfo=UTC)


@notify_app.command("resend")
def resend_cmd(
    ctx: typer.Context,
    since: str = typer.Option(
        ...,
        "--since",
        help="Resend messages created at or after this "
        "time (ISO-8601, UTC unless a zone is given).",
    ),
    kind: str = typer.Option(None, "--kind", help="Only this rule / kind."),
    deliver: bool = typer.Option(
        False,
        "--deliver",
        help="Also send them now (needs "
        "REVOPS_SLACK__WEBHOOK_URL); else the server's notifier does.",
    ),
) -> None:
    """Queue notifications again so they are sent once more."""
    from revops.outputs.outbox import deliver_pending, resend, slack_sender

    when = parse_since(since)
    settings = context.settings(ctx)
    with context.warehouse(ctx) as wh:
        n = resend(wh, since=when, kind=kind)
        echo(f"queued {n} notification(s) again\n")
        if deliver:
            url = settings.require_secret("slack", "webhook_url", "sending notifications")
            report = deliver_pending(wh, {"slack": slack_sender(url)})
            echo(f"sent {report.sent}  failed {report.failed}\n")
            if report.failed:
                raise typer.Exit(1)


@notify_app.command("status")
def status_cmd(
    ctx: typer.Context,
    fmt: str = typer.Option("table", "--format", help="table, csv or json."),
) -> None:
    """Count outbox messages by status (pending, retrying, sent, failed)."""
    from revops.outputs.outbox import backlog

    with context.warehouse(ctx) as wh:
        counts = backlog(wh)
    echo(
        render(
            [{"status": k, "messages": v} for k, v in counts.items()], fmt, title="notifications"
        )
    )


def register(app: typer.Typer) -> None:
    """Add ``notify`` to ``app``."""
    app.add_typer(notify_app, name="notify")
