"""Orchestration figures: runner overhead per daily run and `revops status` latency.

Usage: python benchmarks/pipeline_bench.py [--runs N] [--events N] [--pg URL] [--out FILE]

1. Runner overhead: N runs of the 9-task daily graph with no-op tasks (history, audit and
   thread start per attempt are what is measured).
2. Status: `collect_status` over `--events` events landed in the last day (the seed's scale is
   10-30k a day) plus as many older ones, with one revenue transform audited every 5 minutes.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from revops.config import Settings
from revops.pipeline.daily import DAILY_TASKS, run_daily
from revops.pipeline.status import collect_status
from revops.warehouse import connect, ensure_schema

RAW = (
    "event_id",
    "source",
    "type",
    "event_ts",
    "payload",
    "correlation_id",
    "inserted_at",
    "raw_seq",
)


def noop(ctx):
    return None


def bench_runner(url: str, runs: int) -> float:
    wh = connect(url)
    ensure_schema(wh)
    settings = Settings(data={"warehouse": {"url": url}, "pipeline": {"retries": 0}}, env={})
    tasks = {s.task_id: noop for s in DAILY_TASKS}
    start = datetime(2024, 1, 1).date()
    t0 = time.perf_counter()
    run_daily(
        settings,
        start=start,
        end=start + timedelta(days=runs - 1),
        wh=wh,
        tasks=tasks,
        on_failure=lambda f: None,
    )
    elapsed = time.perf_counter() - t0
    wh.close()
    return elapsed / runs


def bench_status(url: str, events: int) -> tuple[float, int]:
    wh = connect(url)
    ensure_schema(wh)
    now = datetime.now(UTC)
    rows = []
    for i in range(2 * events):
        recent = i < events
        ins = now - timedelta(seconds=(i * 86000 // events) if recent else 90000 + i)
        typ = ("stripe.invoice.paid", "salesforce.opportunity.updated", "stripe.invoice.updated")[
            i % 3
        ]
        rows.append(
            (
                f"e{i}",
                typ.split(".")[0],
                typ,
                ins - timedelta(seconds=30 + i % 60),
                f'{{"n":{i}}}',
                None,
                ins,
                i + 1,
            )
        )
    for k in range(0, len(rows), 20000):
        wh.insert_rows("revops.events_raw", RAW, rows[k : k + 20000])
    audits = [
        (now - timedelta(minutes=5 * m), "transform", "revenue", "transform", "ok")
        for m in range(300)
    ]
    wh.insert_rows("revops.audit_events", ("at", "actor", "resource", "action", "status"), audits)
    t0 = time.perf_counter()
    report = collect_status(wh, now=now)
    elapsed = time.perf_counter() - t0
    wh.close()
    return elapsed, sum(r["events"] for r in report.freshness)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--events", type=int, default=3000)
    parser.add_argument("--pg", default=None, help="an empty PostgreSQL database URL")
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    lines = []
    with tempfile.TemporaryDirectory() as tmp:
        targets = [("DuckDB", f"duckdb:///{Path(tmp) / 'b.duckdb'}")]
        if args.pg:
            targets.append(("PostgreSQL", args.pg))
        for name, url in targets:
            per_run = bench_runner(url, args.runs)
            lines.append(
                f"| {name} | daily run of 9 no-op tasks ({args.runs} runs) | "
                f"{per_run * 1000:.0f} ms per run, {per_run / 9 * 1000:.1f} ms per task |"
            )
        for name, url in targets:
            if name == "DuckDB":
                url = f"duckdb:///{Path(tmp) / 's.duckdb'}"
            else:
                wh = connect(url)
                wh.execute("DROP SCHEMA revops CASCADE", native=True)
                wh.close()
            seconds, seen = bench_status(url, args.events)
            lines.append(
                f"| {name} | `collect_status` over {seen} events of the last day "
                f"(+{args.events} older) | {seconds * 1000:.0f} ms |"
            )
    text = "\n".join(lines)
    print(text)
    if args.out:
        Path(args.out).write_text(text + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
