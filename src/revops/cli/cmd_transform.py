"""``revops transform``: bring staging, facts and the revenue marts up to date."""

from __future__ import annotations

import typer

from revops.cli import context
from revops.cli.render import echo, render
from revops.errors import UsageError


def transform(
    ctx: typer.Context,
    full: bool = typer.Option(False, "--full", help="Rebuild everything from events_raw."),
    fmt: str = typer.Option("table", "--format", help="table or json."),
) -> None:
    """Transform new raw events into staging, facts and marts (incremental by default)."""
    if fmt not in ("table", "json"):
        raise UsageError(f"unknown --format {fmt!r}", hint="use table or json")
    from revops.transform import run_transform

    settings = context.settings(ctx)
    with context.warehouse(ctx) as wh:
        report = run_transform(wh, settings, full=full)
    data = report.as_dict()
    if fmt == "json":
        echo(render([data], "json"))
        return
    echo(
        f"{data['mode']}: read {data['events']} raw events, staged {data['staged']}, "
        f"facts changed {data['facts_changed']}, watermark {data['watermark']}, "
        f"{data['seconds']:.2f}s\n"
    )
    if data["marts_refreshed"]:
        echo("  marts refreshed: " + ", ".join(data["marts_refreshed"]) + "\n")
    for reason, n in sorted(data["rejected"].items()):
        echo(f"  not staged ({reason}): {n}\n")


def register(app: typer.Typer) -> None:
    """Add ``transform`` to ``app``."""
    app.command("transform")(transform)
