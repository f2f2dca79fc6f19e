"""``revops demo``: a seeded company run through the whole pipeline on a fresh DuckDB file.

Two halves, both on loopback and local files only:

1. **Revenue events**: Salesforce CDC and Stripe webhooks of months of deals and invoices, with
   redeliveries, out-of-order arrivals and malformed lines, ingested and transformed into
   Won→Paid, collections and NRR.
2. **The daily marketing pipeline**: a local ads API (OAuth2, pages), a SQLite CRM and monthly
   sales CSVs (CP932 and UTF-8, with dirty rows) extracted, checked, turned into channel KPIs and
   rendered as text, CSV and HTML reports in the workdir.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from revops.config import Settings

if TYPE_CHECKING:
    from revops.warehouse.base import Warehouse

KPI_WINDOW_DAYS = 30


@dataclass
class DemoResult:
    """Where the demo wrote things and what it measured."""

    workdir: Path
    warehouse_url: str
    ingest: dict[str, int]
    summary: str
    run_date: date | None = None
    pipeline_status: str | None = None
    report_html: Path | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """True when the daily pipeline (if it ran) succeeded."""
        return self.pipeline_status in (None, "success")


def demo_settings(url: str, workdir: Path, overrides: dict[str, Any] | None = None) -> Settings:
    """Settings of the demo: its warehouse, local reports and quick retries."""
    data: dict[str, Any] = {
        "warehouse": {"url": url},
        "reports": {"local_dir": str(workdir / "reports")},
        "pipeline": {"retries": 1, "retry_backoff_s": 1.0, "retry_backoff_max_s": 2.0},
        "kpi": {"window_days": KPI_WINDOW_DAYS},
    }
    env = dict(os.environ)
    for key, value in (overrides or {}).items():
        if key == "env":
            env.update(value)
        elif key != "files":
            data[key] = value
    return Settings(data=data, env=env)


def run_demo(
    workdir: Path,
    *,
    days: int = 180,
    seed: int = 7,
    end: date | None = None,
    echo: Callable[[str], Any] = print,
    pipeline: bool = True,
) -> DemoResult:
    """Generate the demo company, land its events in a fresh DuckDB file in ``workdir``, run
    the transforms and (with ``pipeline``) the daily marketing pipeline for ``end``.

    Deterministic for (days, seed, end); replaces any earlier demo warehouse in ``workdir``.
    """
    from revops.demo.summary import render_summary
    from revops.warehouse import connect, ensure_schema

    end = end or date.today()
    workdir.mkdir(parents=True, exist_ok=True)
    db = workdir / "revops.duckdb"
    for stale in (db, workdir / "revops.duckdb.wal"):
        stale.unlink(missing_ok=True)
    url = f"duckdb:///{db}"  # duckdb:////abs/path for an absolute workdir
    with connect(url) as wh:
        ensure_schema(wh)
        ingest = _revenue_events(wh, workdir, days=days, seed=seed, end=end, echo=echo)
        summary = render_summary(wh, ingest)
        result = DemoResult(workdir, url, ingest, summary)
        if pipeline:
            _daily_pipeline(wh, result, seed=seed, end=end, echo=echo)
    return result


def _revenue_events(
    wh: Warehouse, workdir: Path, *, days: int, seed: int, end: date, echo: Callable[[str], Any]
) -> dict[str, int]:
    from revops.demo.company import Company, deliveries
    from revops.ingest.files import ingest_lines
    from revops.transform import run_transform

    events = Company(seed=seed, days=days, end=end).run()
    sent = deliveries(events, seed=seed)
    ndjson = workdir / "events.ndjson"
    ndjson.write_bytes(b"\n".join(sent.lines) + b"\n")
    echo(
        f"generated {sent.events} Salesforce and Stripe events over {days} days "
        f"({sent.duplicates} redelivered, {sent.malformed} malformed) → {ndjson}"
    )
    with ndjson.open("rb") as fh:
        report = ingest_lines(wh, fh, name=str(ndjson), actor="demo")
    echo(
        f"ingested: read {report.read}, new {report.new}, duplicates {report.duplicates}, "
        f"dead-lettered {report.dead_lettered}"
    )
    tr = run_transform(wh, Settings(data={"warehouse": {"url": "demo"}}))
    echo(f"transformed {tr.events} events into facts and revenue marts in {tr.seconds:.2f} s")
    return report.as_dict()


def _daily_pipeline(
    wh: Warehouse, result: DemoResult, *, seed: int, end: date, echo: Callable[[str], Any]
) -> None:
    from revops.dev.ads_api import start_ads_api
    from revops.dev.demo_sources import write_demo_sources
    from revops.pipeline import run_daily
    from revops.sources.ads import extract_ads
    from revops.sources.sales import extract_sales

    data_end = end - timedelta(days=1)  # ads settle a day late: a run for D covers to D - 1
    # Nine campaigns: spend of the size a small team runs, so ROAS lands in a readable range.
    base_url, stop = start_ads_api(seed=seed, days=KPI_WINDOW_DAYS, end=data_end, campaign_count=9)
    try:
        overrides = write_demo_sources(
            result.workdir / "sources",
            seed=seed,
            end=data_end,
            days=KPI_WINDOW_DAYS,
            ads_base_url=base_url,
        )
        settings = demo_settings(result.warehouse_url, result.workdir, overrides)
        echo(
            f"local ads API on {base_url}; CRM {overrides['crm']['url']}; "
            f"{len(overrides['files'])} sales files"
        )
        # The daily run extracts one day of ads; the demo first backfills the KPI window.
        ads_rows = sum(
            extract_ads(wh, settings, data_end - timedelta(days=n)).loaded
            for n in range(1, KPI_WINDOW_DAYS)
        )
        for file in overrides["files"]:
            extract_sales(wh, settings, month=Path(file).stem.removeprefix("sales_"))
        echo(f"backfilled {ads_rows} ad rows for the {KPI_WINDOW_DAYS}-day window")
        daily = run_daily(settings, day=end, wh=wh, trigger="demo", actor="demo")
    finally:
        stop()
    result.run_date = end
    result.pipeline_status = str(daily.runs[-1].status) if daily.runs else "not run"
    html = sorted((result.workdir / "reports").rglob(f"marketing_report_{end.isoformat()}.html"))
    result.report_html = html[-1] if html else None
    result.summary += _marketing_summary(wh, end, result)


def _marketing_summary(wh: Warehouse, end: date, result: DemoResult) -> str:
    from revops.transform.marketing import read_kpis

    lines = [f"Daily marketing pipeline for {end} ({result.pipeline_status})"]
    tasks = wh.query(
        "SELECT task_id, status, max(attempt) AS attempts FROM revops.task_runs "
        "WHERE run_id = (SELECT run_id FROM revops.pipeline_runs ORDER BY started_at DESC "
        "LIMIT 1) GROUP BY task_id, status ORDER BY min(started_at), task_id"
    )
    lines.append("  tasks: " + ", ".join(f"{t['task_id']} {t['status']}" for t in tasks))
    kpis = read_kpis(wh, end)
    for row in sorted(kpis.channels, key=lambda r: -(r.get("roas") or -1)):
        roas = row.get("roas")
        cac = row.get("cac")
        lines.append(
            f"  {row['channel']:<10} cost ¥{float(row['ad_cost'] or 0):>12,.0f}  "
            f"revenue ¥{float(row['period_revenue'] or 0):>12,.0f}  "
            f"ROAS {'n/a' if roas is None else f'{roas:,.1f} %':>9}  "
            f"CAC {'n/a' if cac is None else f'¥{cac:,.0f}':>9}"
        )
    if kpis.summary:
        best = kpis.summary.get("best_channel")
        lines.append(f"  best channel: {best or 'n/a'}")
    return "\n".join(lines) + "\n"
