"""``revops kpi``: the marketing KPIs of one run date (computed when needed)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

import typer

from revops.cli import context
from revops.cli.render import FORMATS, echo, render, to_json
from revops.errors import UsageError

DASH = "-"


def yen(value: Any) -> str:
    """An amount in yen, rounded to the yen: ``¥1,234,567``."""
    if value is None:
        return DASH
    amount = round(Decimal(value) if not isinstance(value, float) else Decimal(str(value)))
    return f"-¥{-amount:,}" if amount < 0 else f"¥{amount:,}"


def percent(value: float | None, digits: int = 1) -> str:
    """A percentage already × 100: ``150.0%``."""
    return DASH if value is None else f"{value:,.{digits}f}%"


def ratio(value: float | None) -> str:
    """A plain ratio to two decimals (LTV/CAC)."""
    return DASH if value is None else f"{value:,.2f}"


def count(value: Any) -> str:
    """A whole number with thousands separators."""
    return DASH if value is None else f"{int(value):,}"


def channel_table(channels: list[dict[str, Any]]) -> list[dict[str, str]]:
    """Channel rows for people, best ROAS first (channels without ad cost last)."""
    ordered = sorted(
        channels,
        key=lambda r: (
            r["roas"] is None,
            -(r["roas"] or 0.0),
            -float(r["period_revenue"] or 0),
            r["channel"],
        ),
    )
    return [
        {
            "channel": r["channel"],
            "ad cost": yen(r["ad_cost"]),
            "revenue": yen(r["period_revenue"]),
            "ROAS": percent(r["roas"]),
            "new customers": count(r["new_customers"]),
            "CAC": yen(r["cac"]),
            "avg LTV": yen(r["avg_ltv"]),
            "LTV/CAC": ratio(r["ltv_cac_ratio"]),
            "CVR": percent(r["cvr"], 2),
            "CTR": percent(r["ctr"], 2),
            "impressions": count(r["impressions"]),
            "clicks": count(r["clicks"]),
            "conversions": count(r["conversions"]),
        }
        for r in ordered
    ]


def summary_text(result: Any) -> str:
    """The daily summary as lines of text, the best channel last."""
    s = result.summary
    best = (
        f"{s['best_channel']} ({percent(s['best_channel_roas'])})"
        if s["best_channel"]
        else "none (no channel had ad cost)"
    )
    lines = [
        f"Summary {result.date.isoformat()} (period {result.period_start.isoformat()} .. "
        f"{result.period_end.isoformat()}, {result.window_days} days)",
        f"  total ad cost:   {yen(s['total_ad_cost'])}",
        f"  total revenue:   {yen(s['total_revenue'])}",
        f"  ROAS:            {percent(s['overall_roas'])}",
        f"  CAC:             {yen(s['overall_cac'])}",
        f"  new customers:   {count(s['total_customers'])}",
        f"  CVR:             {percent(s['avg_cvr'], 2)}",
        f"  best channel:    {best}",
    ]
    return "\n".join(lines) + "\n"


def machine_value(value: Any) -> Any:
    """Unrounded values for JSON: Decimals become numbers, dates ISO strings."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, date | datetime):
        return value.isoformat()
    return value


def as_json(result: Any) -> str:
    """The result as one JSON object: period, window, channels and summary (unrounded)."""
    data = {
        k: machine_value(v) for k, v in result.as_dict().items() if k not in ("channels", "summary")
    }
    data["window_days"] = result.window_days
    data["channels"] = [{k: machine_value(v) for k, v in r.items()} for r in result.channels]
    data["summary"] = (
        None if result.summary is None else {k: machine_value(v) for k, v in result.summary.items()}
    )
    return to_json(data)


def parse_day(text: str | None, settings: Any) -> date:
    """``--date`` as a date; today in the business time zone when omitted."""
    if text is None:
        return datetime.now(settings.timezone).date()
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise UsageError(
            f"--date {text!r} is not a date", input=text, hint="write it as YYYY-MM-DD"
        ) from exc


def kpi(
    ctx: typer.Context,
    day: str = typer.Option(
        None,
        "--date",
        help="Run date D (YYYY-MM-DD); the period ends "
        "on D − 1. Default: today in the business time zone.",
    ),
    window_days: int = typer.Option(
        None, "--window-days", help="Days in the period (default [kpi] window_days, 30)."
    ),
    fmt: str = typer.Option("table", "--format", help="table, csv (channel rows) or json."),
    recompute: bool = typer.Option(
        False, "--recompute", help="Compute again even when the date is stored."
    ),
) -> None:
    """Marketing KPIs per channel and the daily summary (CAC, LTV, ROAS, CVR, CTR, LTV/CAC).

    Computes and stores both marts for the date when they are not stored with this window.
    """
    if fmt not in FORMATS:
        raise UsageError(f"unknown --format {fmt!r}", hint="use table, csv or json")
    from revops.transform.marketing import ensure_kpis

    settings = context.settings(ctx)
    run_date = parse_day(day, settings)
    with context.warehouse(ctx) as wh:
        result = ensure_kpis(wh, settings, run_date, window_days=window_days, recompute=recompute)
    if fmt == "json":
        echo(as_json(result) + "\n")
    elif fmt == "csv":
        echo(render([{k: machine_value(v) for k, v in r.items()} for r in result.channels], "csv"))
    else:
        echo(
            render(
                channel_table(result.channels),
                "table",
                title=f"Marketing KPIs by channel, {result.date.isoformat()}",
            )
        )
        echo(summary_text(result))


def register(app: typer.Typer) -> None:
    """Add ``revops kpi`` to ``app``."""
    app.command("kpi")(kpi)
