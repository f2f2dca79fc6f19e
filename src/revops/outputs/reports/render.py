"""Render the text report, the channel KPI CSV and the HTML report of one day.

Rendering is deterministic for the same marts (the PNGs carry no timestamp), so re-rendering
a day overwrites the same files with the same bytes.
"""

from __future__ import annotations

import base64
import csv
import io
import statistics
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any

from revops.outputs.reports import charts
from revops.outputs.reports.data import ReportData
from revops.outputs.reports.formatting import FILTERS, raw, roas_tier
from revops.transform.marketing import CHANNEL_COLUMNS

# The KPI CSV carries the mart's columns, in the mart's order.
CSV_COLUMNS = CHANNEL_COLUMNS
STATUS_LABELS = {
    "not_invoiced": "未請求",
    "invoiced": "請求済・未入金",
    "partially_paid": "一部入金",
}
BUCKET_LABELS = {
    "not_yet_due": "期日前",
    "1-30": "1〜30日超過",
    "31-60": "31〜60日超過",
    "61-90": "61〜90日超過",
    "91-120": "91〜120日超過",
    "120+": "120日超",
    "collected": "回収済",
    "uncollectible": "回収不能",
    "void": "無効",
}


@dataclass(frozen=True)
class ReportKeys:
    """Object keys of one day's files, the same under every destination (the seed's layout)."""

    text: str
    csv: str
    html: str

    @classmethod
    def for_day(cls, day: date) -> ReportKeys:
        """``reports/daily/YYYY/MM/marketing_report_D.txt`` and friends."""
        ym = f"{day:%Y}/{day:%m}"
        stem = f"reports/daily/{ym}/marketing_report_{day.isoformat()}"
        return cls(
            f"{stem}.txt", f"data/kpi/{ym}/channel_kpi_{day.isoformat()}.csv", f"{stem}.html"
        )

    def items(self) -> list[tuple[str, str]]:
        """``(kind, key)`` pairs in upload order."""
        return [("text", self.text), ("csv", self.csv), ("html", self.html)]


@cache
def _environment() -> Any:
    from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

    env = Environment(
        loader=PackageLoader("revops.outputs.reports", "templates"),
        autoescape=select_autoescape(["html.j2"]),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters.update(FILTERS)
    return env


def _context(data: ReportData) -> dict[str, Any]:
    return {
        "day": data.day.isoformat(),
        "period_start": data.period_start.isoformat(),
        "period_end": data.period_end.isoformat(),
        "s": data.summary,
        "channels": data.channels,
    }


def render_text(data: ReportData) -> str:
    """The seed's text report: Japanese labels, yen with separators, channels by ROAS."""
    return _environment().get_template("marketing_report.txt.j2").render(**_context(data))


def render_csv(data: ReportData) -> str:
    """The channel KPI CSV: one row per channel, unrounded values, NULL as an empty cell."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for row in data.channels:
        writer.writerow([raw(row[c]) for c in CSV_COLUMNS])
    return buf.getvalue()


def latency_stats(days: list[float]) -> dict[str, Any]:
    """Count, median and share within 15 days (the seed's bar) of paid Won→Paid latencies."""
    if not days:
        return {"count": 0, "median": None, "within_15": None}
    within = sum(1 for d in days if d <= 15)
    return {
        "count": len(days),
        "median": statistics.median(days),
        "within_15": within / len(days) * 100,
    }


def open_amounts(rows: list[dict[str, Any]]) -> list[tuple[str, Decimal]]:
    """Total amount of open Won-not-paid deals per currency."""
    totals: dict[str, Decimal] = {}
    for row in rows:
        cur = str(row.get("currency") or "JPY")
        totals[cur] = totals.get(cur, Decimal(0)) + Decimal(str(row["amount"] or 0))
    return sorted(totals.items())


def render_charts(data: ReportData) -> dict[str, bytes | None]:
    """Every chart of the HTML report as PNG bytes (None where there is no data)."""
    return {
        "roas": charts.channel_bars(
            data.channels, "roas", "ROAS by channel (%)", "%", reference=100.0
        ),
        "cac": charts.channel_bars(data.channels, "cac", "CAC by channel (¥)", "¥"),
        "spend": charts.spend_vs_revenue(data.trend),
        "latency": charts.latency_histogram(data.latency_days),
        "collections": charts.collections_buckets(data.collections),
        "nrr": charts.nrr_trend(data.nrr),
    }


def _chart_macro(images: dict[str, bytes | None]) -> Callable[[str, str], Any]:
    from markupsafe import Markup, escape

    def chart(name: str, alt: str) -> Any:
        png = images.get(name)
        if png is None:
            return Markup('<p class="empty" data-chart="{}">データなし</p>').format(name)
        uri = "data:image/png;base64," + base64.b64encode(png).decode("ascii")
        return Markup(
            f'<img class="chart" id="chart-{escape(name)}" data-chart="{escape(name)}"'
            f' src="{uri}" alt="{escape(alt)}" width="640">'
        )

    return chart


def dq_badge(data: ReportData) -> tuple[str, str, str]:
    """``(state, label, css class)`` of the run's data-quality status."""
    dq = data.dq
    if not dq.checked:
        return "unchecked", "❔ 品質チェック結果なし", "warn"
    if dq.blocked:
        return "blocked", "⛔ 品質チェックで停止", "bad"
    if not dq.passed:
        return "warn", "⚠️ 一部のデータに品質問題あり", "warn"
    return "ok", "✅ 全データ品質OK", "ok"


def render_html(
    data: ReportData, *, run_id: str | None = None, images: dict[str, bytes | None] | None = None
) -> str:
    """The HTML report: self-contained (charts as data: URIs, no scripts, no web fonts)."""
    images = render_charts(data) if images is None else images
    state, label, css = dq_badge(data)
    tier = roas_tier(data.summary["overall_roas"])
    return (
        _environment()
        .get_template("report.html.j2")
        .render(
            **_context(data),
            run_id=run_id,
            trend=data.trend,
            latency=latency_stats(data.latency_days),
            won_not_paid=data.won_not_paid,
            open_amounts=open_amounts(data.won_not_paid),
            collections=data.collections,
            collections_as_of=data.collections_as_of,
            nrr=data.nrr,
            dq=data.dq,
            dq_state=state,
            dq_label=label,
            dq_class=css,
            tier=tier,
            tier_class=tier.css,
            chart=_chart_macro(images),
            status_labels=STATUS_LABELS,
            bucket_labels=BUCKET_LABELS,
        )
    )


def write_atomic(path: Path, text: str) -> None:
    """Write ``text`` as UTF-8 through a temporary file so a reader never sees half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8", newline="")
    tmp.replace(path)
