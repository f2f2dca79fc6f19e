"""``revops extract ads|crm|sales``: run one source's extraction alone."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date, datetime, timedelta

import typer

from revops.cli import context
from revops.cli.render import echo, render
from revops.errors import UsageError

extract_app = typer.Typer(
    help="Extract one marketing source (ads, crm, sales) into raw tables.", no_args_is_help=True
)


def _day(value: str | None, ctx: typer.Context, *, default_offset: int) -> date:
    if value is None:
        return datetime.now(context.settings(ctx).timezone).date() - timedelta(days=default_offset)
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise UsageError(
            f"bad --date {value!r}", input=value, hint="write it as YYYY-MM-DD"
        ) from exc


def _show(report: object, fmt: str) -> None:
    if fmt == "json":
        echo(render(report.as_dict(), "json"))  # type: ignore[attr-defined, arg-type]
        return
    echo(report.summary() + "\n")  # type: ignore[attr-defined]
    for warning in report.warnings:  # type: ignore[attr-defined]
        echo(f"  warning: {warning}\n")
    for table, n in report.tables.items():  # type: ignore[attr-defined]
        echo(f"  {table}: {n} rows\n")


@contextmanager
def _page_progress() -> Iterator[Callable[[int, int], None] | None]:
    """A live line of pages and records on a terminal; nothing otherwise."""
    if not sys.stderr.isatty():
        yield None
        return
    from rich.progress import Progress, SpinnerColumn, TextColumn

    with Progress(SpinnerColumn(), TextColumn("{task.description}"), transient=True) as bar:
        task = bar.add_task("ads API: page 0", total=None)
        yield lambda page, n: bar.update(task, description=f"ads API: page {page}, {n} records")


@extract_app.command("ads")
def ads(
    ctx: typer.Context,
    day: str = typer.Option(
        None,
        "--date",
        help="Report date YYYY-MM-DD (default: yesterday "
        "in the business time zone; ads settle a day late).",
    ),
    allow_empty: bool = typer.Option(
        False, "--allow-empty", help="Accept a date with no campaigns."
    ),
    fmt: str = typer.Option("table", "--format", help="table or json."),
) -> None:
    """Replace one date of raw_ads with the ads API's report."""
    from revops.sources.ads import extract_ads

    when = _day(day, ctx, default_offset=1)
    with context.warehouse(ctx) as wh, _page_progress() as progress:
        report = extract_ads(
            wh, context.settings(ctx), when, allow_empty=allow_empty, progress=progress
        )
    _show(report, fmt)


@extract_app.command("crm")
def crm(
    ctx: typer.Context,
    fmt: str = typer.Option("table", "--format", help="table or json."),
) -> None:
    """Replace the CRM snapshot (raw_crm_customers, raw_crm_orders)."""
    from revops.sources.crm import extract_crm

    with context.warehouse(ctx) as wh:
        report = extract_crm(wh, context.settings(ctx))
    _show(report, fmt)


@extract_app.command("sales")
def sales(
    ctx: typer.Context,
    day: str = typer.Option(
        None,
        "--date",
        help="Run date D: read the months overlapping its KPI period (default: today).",
    ),
    month: str = typer.Option(None, "--month", help="Read exactly this month (YYYY-MM)."),
    encoding: str = typer.Option(
        None,
        "--encoding",
        help="Force the files' encoding (utf-8, cp932, shift_jis); default: detect.",
    ),
    fmt: str = typer.Option("table", "--format", help="table or json."),
) -> None:
    """Replace month slices of raw_sales_orders (and sales_rejects) from the sales CSVs."""
    from revops.sources.sales import extract_sales

    if day is not None and month is not None:
        raise UsageError("give --date or --month, not both")
    when = _day(day, ctx, default_offset=0) if day is not None else None
    with context.warehouse(ctx) as wh:
        report = extract_sales(wh, context.settings(ctx), month=month, day=when, encoding=encoding)
    _show(report, fmt)


def register(app: typer.Typer) -> None:
    """Add ``revops extract``."""
    app.add_typer(extract_app, name="extract")
