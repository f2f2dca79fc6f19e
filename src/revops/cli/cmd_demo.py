"""``revops demo``: the whole pipeline on a seeded synthetic company."""

from __future__ import annotations

from pathlib import Path

import typer

from revops.cli.render import echo


def demo(
    workdir: Path = typer.Option(
        Path("revops-demo"), "--workdir", help="Folder for the demo's files."
    ),
    days: int = typer.Option(180, "--days", min=30, max=1500, help="Days of company history."),
    seed: int = typer.Option(7, "--seed", help="Random seed (same seed, same company)."),
) -> None:
    """Generate a seeded company, run it through revops on a fresh DuckDB file, print a summary."""
    from revops.demo import run_demo

    result = run_demo(workdir, days=days, seed=seed, echo=lambda s: echo(s + "\n"))
    echo("\n" + result.summary)
    env = f"REVOPS_WAREHOUSE__URL={result.warehouse_url}"
    if result.report_html is not None:
        echo(f"\nHTML report: {result.report_html}\n")
    echo(
        "\nExplore further:\n"
        f'  {env} revops sql "SELECT * FROM revops.mart_won_to_paid LIMIT 5"\n'
        f"  {env} revops kpi --date {result.run_date or 'YYYY-MM-DD'}\n"
        f"  {env} revops status\n"
        f"  {env} revops serve        # dashboard on http://127.0.0.1:8787/\n"
    )
    if not result.ok:
        echo(f"\nthe daily pipeline ended {result.pipeline_status}: see `revops status`\n")
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    """Add ``demo`` to ``app``."""
    app.command("demo")(demo)
