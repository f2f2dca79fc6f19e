"""Dashboard figures: API latency over a large Won→Paid mart, and live fan-out latency
(publish → every open SSE stream received it), in process and through Redis.

    python benchmarks/dashboard_live.py [--opportunities 100000] [--streams 50] [--messages 20]

Prints the figures and appends them to benchmarks/RESULTS-dashboard.md.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import httpx
import orjson

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "src"), str(ROOT / "tests")]

from dashboard.harness import serve_dashboard, settings_for, wait_for  # noqa: E402
from revops.warehouse import connect, ensure_schema  # noqa: E402


def fill(wh, n: int) -> None:
    now = datetime.now(UTC)
    statuses = ("paid", "partially_paid", "invoiced", "not_invoiced")
    rows, opps = [], []
    for i in range(n):
        status = statuses[i % 4]
        won = now - timedelta(days=i % 365, hours=i % 24)
        days = (i % 40) + 0.5 if status == "paid" else None
        rows.append(
            (
                f"006{i:08d}",
                f"001{i % 5000:05d}",
                Decimal(100000 + i),
                won,
                won + timedelta(days=days) if days else None,
                days,
                Decimal(100000 + i),
                Decimal(100000 + i if status == "paid" else 0),
                status,
            )
        )
        opps.append((f"006{i:08d}", "JPY" if i % 10 else "USD", now))
    wh.insert_rows(
        "revops.mart_won_to_paid",
        (
            "opportunity_id",
            "account_id",
            "amount",
            "won_at",
            "first_paid_at",
            "won_to_paid_days",
            "invoiced_amount",
            "paid_amount",
            "status",
        ),
        rows,
    )
    wh.insert_rows("revops.fact_opportunity", ("opportunity_id", "currency", "updated_at"), opps)


def api_latency(url: str, path: str, n: int) -> list[float]:
    out = []
    with httpx.Client(base_url=url, timeout=60) as client:
        client.get(path).raise_for_status()  # warm the SQL compile cache
        for _ in range(n):
            start = time.perf_counter()
            client.get(path).raise_for_status()
            out.append((time.perf_counter() - start) * 1000)
    return out


class Stream(threading.Thread):
    def __init__(self, url: str) -> None:
        super().__init__(daemon=True)
        self.url, self.ready, self.seen = url, threading.Event(), {}

    def run(self) -> None:
        try:
            with (
                httpx.Client(timeout=httpx.Timeout(5, read=None)) as c,
                c.stream("GET", self.url + "/api/events") as r,
            ):
                for line in r.iter_lines():
                    if line.startswith("event: ready") or line.startswith("event:ready"):
                        self.ready.set()
                    elif line.startswith("data:") and '"topic"' in line:
                        msg = orjson.loads(line[5:])
                        self.seen[msg["data"]["seq"]] = time.perf_counter()
        except httpx.HTTPError:
            pass


def fanout(servers, streams: int, messages: int) -> list[float]:
    readers = [Stream(servers[i % len(servers)].url) for i in range(streams)]
    for r in readers:
        r.start()
    for r in readers:
        r.ready.wait(10)
    hub = servers[0].app.state.live_hub
    lat = []
    for seq in range(messages):
        sent = time.perf_counter()
        hub.publish("events_landed", {"seq": seq, "event_ids": ["stripe:evt_bench"]})
        wait_for(lambda s=seq: all(s in r.seen for r in readers), timeout=30, step=0.001)
        lat.append((max(r.seen[seq] for r in readers) - sent) * 1000)
    return lat


def fmt(values: list[float]) -> str:
    q = statistics.quantiles(values, n=20, method="inclusive") if len(values) > 1 else values * 19
    return f"p50 {statistics.median(values):.1f} ms, p95 {q[18]:.1f} ms, max {max(values):.1f} ms"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--opportunities", type=int, default=100_000)
    ap.add_argument("--streams", type=int, default=50)
    ap.add_argument("--messages", type=int, default=20)
    ap.add_argument("--requests", type=int, default=30)
    args = ap.parse_args()
    tmp = tempfile.mkdtemp()
    wh = connect(f"duckdb:///{tmp}/bench.duckdb")
    ensure_schema(wh)
    fill(wh, args.opportunities)
    lines = [
        f"## dashboard ({datetime.now(UTC):%Y-%m-%d %H:%M} UTC)",
        "",
        "Machine shared with other jobs (2 cores); the clients ran in the same process "
        "as the servers: figures are lower bounds.",
        f"Command: `python benchmarks/dashboard_live.py --opportunities "
        f"{args.opportunities} --streams {args.streams} --messages {args.messages}`",
        "",
    ]
    with serve_dashboard(wh, settings_for(wh.url)) as one:
        for path in ("/api/won-to-paid", "/api/won-to-paid?currency=USD&date_from=2026-06-01"):
            lines.append(
                f"- GET {path} over {args.opportunities:,} opportunities "
                f"(DuckDB): {fmt(api_latency(one.url, path, args.requests))}"
            )
        lines.append(
            f"- live fan-out in process, {args.streams} streams: "
            f"{fmt(fanout([one], args.streams, args.messages))} (publish → last stream)"
        )
    live = {
        "live": {
            "redis_url": "redis://127.0.0.1:6379/0",
            "channel": f"revops:bench:{uuid.uuid4().hex}",
        }
    }
    with (
        serve_dashboard(wh, settings_for(wh.url, data=live)) as a,
        serve_dashboard(wh, settings_for(wh.url, data=live)) as b,
    ):
        a.app.state.live_hub.wait_listening()
        b.app.state.live_hub.wait_listening()
        lines.append(
            f"- live fan-out through Redis, 2 servers, {args.streams} streams: "
            f"{fmt(fanout([a, b], args.streams, args.messages))}"
        )
    text = "\n".join(lines) + "\n"
    print(text)
    with open(ROOT / "benchmarks" / "RESULTS-dashboard.md", "a", encoding="utf-8") as f:
        f.write(text + "\n")


if __name__ == "__main__":
    main()
