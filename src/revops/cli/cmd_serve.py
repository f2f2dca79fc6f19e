"""``revops serve``: receiver, loader, continuous transforms and notifier in one process."""

from __future__ import annotations

import typer

from revops.cli import context


def serve(
    ctx: typer.Context,
    host: str = typer.Option(
        None, "--host", help="Address to listen on ([serve] host, default 127.0.0.1)."
    ),
    port: int = typer.Option(None, "--port", help="Port ([serve] port, default 8787)."),
    no_schedule: bool = typer.Option(
        False, "--no-schedule", help="Do not run the daily pipeline scheduler."
    ),
    log_level: str = typer.Option("info", "--log-level", help="debug, info, warning, error."),
) -> None:
    """Receive webhooks and keep the warehouse fresh until SIGTERM / SIGINT (then drain, exit 0).

    With a DuckDB warehouse this process holds the file: other revops commands that need it
    say so; use PostgreSQL for concurrent access.
    """
    from revops.serve.run import serve as run_server

    run_server(
        context.settings(ctx), host=host, port=port, schedule=not no_schedule, log_level=log_level
    )


def register(app: typer.Typer) -> None:
    """Add ``serve`` to ``app``."""
    app.command("serve")(serve)
