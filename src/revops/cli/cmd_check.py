"""``revops check``: run the data-quality suites."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from revops.cli import context
from revops.cli.render import echo, render, to_json
from revops.errors import UsageError

_FAILURE_COLUMNS = ("suite", "expectation", "column", "severity", "unexpected_count")


def _failure(row: dict[str, Any]) -> dict[str, Any]:
    """A failed result for the terminal: what GX found (error, observed value or sample)."""
    found = row["error"] or row["observed_value"] or row["unexpected_sample"]
    return {**{k: row[k] for k in _FAILURE_COLUMNS}, "found": found}


def check(
    ctx: typer.Context,
    suites: Annotated[
        list[str] | None, typer.Argument(help="Suites to run (default: all).")
    ] = None,
    day: Annotated[
        str | None, typer.Option("--date", help="Check that day's slice (YYYY-MM-DD).")
    ] = None,
    fmt: Annotated[str, typer.Option("--format", help="table or json.")] = "table",
) -> None:
    """Validate the warehouse with the expectation suites.

    Prints one line per suite (``ads: ✅ PASS (9/9)``) and the failed expectations; results go
    to dq_results and Data Docs to the reports folder. Exits 3 when a block-severity
    expectation failed; warn-severity failures queue a Slack warning and exit 0.
    """
    if fmt not in ("table", "json"):
        raise UsageError(f"unknown --format {fmt!r}", hint="use table or json")
    from revops.quality import run_checks

    settings = context.settings(ctx)
    with context.warehouse(ctx) as wh:
        report = run_checks(wh, settings, suites or None, day=day)
    if fmt == "json":
        echo(to_json(report.as_dict()) + "\n")
    else:
        echo("\n".join(report.summary()) + "\n")
        if report.failures:
            echo(
                render(
                    [_failure(r) for r in report.failures],
                    "table",
                    title="failed expectations",
                )
            )
        if report.data_docs:
            echo(f"Data Docs: {report.data_docs}\n")
    report.raise_if_blocked()


def register(app: typer.Typer) -> None:
    """Add ``check`` to ``app``."""
    app.command("check")(check)
