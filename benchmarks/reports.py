"""How long one day's report takes to render from marts of a given size (DuckDB).

Usage: python benchmarks/reports.py [--deals N] [--invoices N] [--channels N] [--out FILE]

Builds a DuckDB file with synthetic marts (channels, 90 days of summaries, N Won→Paid deals,
N receivables, 24 months of NRR in 3 currencies), then times reading the figures, the text
and CSV, the six charts, the HTML page and the email message. Prints the figures and appends
them to the output file (default benchmarks/RESULTS-reports.md).
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from revops.config import Settings
from revops.outputs.delivery import build_email
from revops.outputs.reports import render_report
from revops.outputs.reports.data import load_report_data
from revops.outputs.reports.render import render_charts, render_csv, render_html, render_text
from revops.outputs.reports.settings import EmailSettings
from revops.transform.marketing import CHANNEL_COLUMNS, SUMMARY_COLUMNS
from revops.warehouse import connect, ensure_schema

DAY = date(2026, 11, 16)
END = DAY - timedelta(days=1)


def fill(wh, channels: int, deals: int, invoices: int) -> None:
    rnd = random.Random(7)
    kpi = []
    for i in range(channels):
        cost, rev, new = rnd.randint(0, 2_000_000), rnd.randint(0, 8_000_000), rnd.randint(0, 500)
        clicks = rnd.randint(0, 10_000)
        kpi.append(
            (
                END,
                END - timedelta(days=29),
                END,
                f"channel_{i:03d}",
                clicks * 30,
                clicks,
                Decimal(cost),
                clicks // 20,
                new,
                Decimal(rev),
                Decimal(rev),
                cost / new if new else None,
                rev / new if new else None,
                rev / cost * 100 if cost else None,
                5.0 if clicks else None,
                3.3 if clicks else None,
                None,
            )
        )
    wh.insert_rows(
        "revops.mart_channel_kpi",
        CHANNEL_COLUMNS,
        kpi,
    )
    wh.insert_rows(
        "revops.mart_daily_summary",
        SUMMARY_COLUMNS,
        [
            (
                END - timedelta(days=i),
                END - timedelta(days=29 + i),
                END - timedelta(days=i),
                Decimal(2_450_000 - i * 1000),
                Decimal(8_230_000 - i * 5000),
                600,
                4083.3,
                335.9,
                3.7,
                "channel_000",
                425.3,
            )
            for i in range(90)
        ],
    )
    won = datetime(2026, 1, 1, tzinfo=UTC)
    rows = []
    for i in range(deals):
        w = won + timedelta(minutes=rnd.randint(0, 300 * 24 * 60))
        paid = rnd.random() < 0.8
        d = rnd.expovariate(1 / 12)
        rows.append(
            (
                f"006{i:09d}",
                f"001{i % 5000:06d}",
                Decimal(100_000),
                w,
                w + timedelta(days=d) if paid else None,
                d if paid else None,
                Decimal(100_000),
                Decimal(100_000 if paid else 0),
                "paid" if paid else "invoiced",
            )
        )
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
    buckets = ["not_yet_due", "1-30", "31-60", "61-90", "91-120", "120+", "collected"]
    wh.insert_rows(
        "revops.mart_collections",
        (
            "as_of",
            "invoice_id",
            "customer_id",
            "currency",
            "amount_remaining",
            "due_date",
            "days_past_due",
            "bucket",
            "collection_status",
        ),
        [
            (
                DAY,
                f"in_{i}",
                f"cus_{i % 9000}",
                rnd.choice(["JPY", "USD", "EUR"]),
                Decimal(rnd.randint(1, 500_000)),
                END,
                0,
                rnd.choice(buckets),
                "open",
            )
            for i in range(invoices)
        ],
    )
    nrr = []
    for cur in ("JPY", "USD", "EUR"):
        for m in range(24):
            month = date(2024 + (11 + m) // 12, (11 + m) % 12 + 1, 1)
            nrr.append(
                (
                    month,
                    cur,
                    Decimal(1_000_000),
                    Decimal(1),
                    Decimal(1),
                    Decimal(1),
                    Decimal(1),
                    Decimal(0),
                    Decimal(1_010_000),
                    1.0 + rnd.uniform(-0.1, 0.1),
                    0.97,
                )
            )
    wh.insert_rows(
        "revops.mart_nrr_monthly",
        (
            "month",
            "currency",
            "start_mrr",
            "new",
            "expansion",
            "contraction",
            "churn",
            "reactivation",
            "end_mrr",
            "nrr",
            "grr",
        ),
        nrr,
    )


def timed(label: str, fn, results: list[tuple[str, float]]):
    t = time.perf_counter()
    value = fn()
    results.append((label, time.perf_counter() - t))
    return value


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--deals", type=int, default=100_000)
    parser.add_argument("--invoices", type=int, default=100_000)
    parser.add_argument("--channels", type=int, default=20)
    parser.add_argument("--out", default=str(Path(__file__).with_name("RESULTS-reports.md")))
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp())
    wh = connect(f"duckdb:///{folder}/bench.duckdb")
    ensure_schema(wh)
    fill(wh, args.channels, args.deals, args.invoices)
    tz = ZoneInfo("Asia/Tokyo")
    results: list[tuple[str, float]] = []
    timed(
        "import + warm-up render (matplotlib, fonts)",
        lambda: render_charts(load_report_data(wh, DAY, tz=tz)),
        results,
    )
    data = timed("read figures from the marts", lambda: load_report_data(wh, DAY, tz=tz), results)
    timed("text + CSV", lambda: (render_text(data), render_csv(data)), results)
    images = timed("six charts (PNG)", lambda: render_charts(data), results)
    timed("HTML page (charts given)", lambda: render_html(data, images=images), results)
    settings = Settings(data={"reports": {"local_dir": str(folder / "reports")}}, env={})
    bundle = timed(
        "render_report end to end (3 files written)",
        lambda: render_report(wh, settings, DAY),
        results,
    )
    timed(
        "email message (CID images, attachments)",
        lambda: build_email(
            EmailSettings.model_validate({"to": ["a@example.test"]}), bundle
        ).as_bytes(),
        results,
    )
    sizes = {kind: path.stat().st_size for kind, _, path in bundle.files()}
    lines = [
        f"\n## reports: render one day (deals={args.deals:,}, invoices={args.invoices:,}, "
        f"channels={args.channels})\n",
        f"Command: `python benchmarks/reports.py --deals {args.deals} --invoices "
        f"{args.invoices} --channels {args.channels}` on DuckDB. The machine (2 cores) "
        "was shared with other work while measuring: figures are upper bounds of the "
        "time it takes.\n",
        "| step | seconds |",
        "|---|---|",
    ]
    lines += [f"| {label} | {seconds:.3f} |" for label, seconds in results]
    lines.append(
        f"\nFile sizes: text {sizes['text']:,} B, CSV {sizes['csv']:,} B, "
        f"HTML {sizes['html']:,} B.\n"
    )
    text = "\n".join(lines)
    print(text)
    with open(args.out, "a", encoding="utf-8") as fh:
        fh.write(text)
    wh.close()


if __name__ == "__main__":
    main()
