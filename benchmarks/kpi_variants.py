"""Benchmark: the channel mart's SQL against a join-first variant, on DuckDB.

Generates the rows of ``benchmarks/kpi.py`` (same options) in a temporary DuckDB file, then
times the SELECT of :data:`revops.transform.marketing.INSERT_CHANNEL_SQL` (the period's sales
summed per customer, then joined to the CRM customers) and a variant that joins the sales rows
to the customers first and sums per channel, alternating, in one process. Both give the same
totals (printed); only the SELECT is timed, not the insert, the summary or the audit.

    python benchmarks/kpi_variants.py --spread year --order monthly
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

import kpi  # the sibling benchmark: its generator and constants

JOIN_FIRST_SQL = """
WITH ads AS (
    SELECT channel, SUM(impressions) AS impressions, SUM(clicks) AS clicks,
           SUM(cost) AS ad_cost, SUM(conversions) AS conversions
    FROM revops.raw_ads WHERE date BETWEEN ? AND ? GROUP BY channel
),
new_customer AS (
    SELECT customer_id, COALESCE(acquisition_channel, 'Unknown') AS channel
    FROM revops.raw_crm_customers WHERE acquisition_date BETWEEN ? AND ?
),
acquired AS (SELECT channel, COUNT(*) AS new_customers FROM new_customer GROUP BY channel),
ltv AS (
    SELECT n.channel, SUM(o.revenue) AS total_ltv
    FROM revops.raw_crm_orders AS o JOIN new_customer AS n ON n.customer_id = o.customer_id
    WHERE o.order_date <= ? AND o.revenue IS NOT NULL GROUP BY n.channel
),
sales AS (
    SELECT COALESCE(c.acquisition_channel, 'Unknown') AS channel,
           SUM(s.revenue) AS period_revenue
    FROM revops.raw_sales_orders AS s
    LEFT JOIN revops.raw_crm_customers AS c ON c.customer_id = s.customer_id
    WHERE s.order_date BETWEEN ? AND ?
    GROUP BY COALESCE(c.acquisition_channel, 'Unknown')
),
channels AS (
    SELECT channel FROM ads UNION SELECT channel FROM acquired UNION SELECT channel FROM sales
)
SELECT k.channel, a.ad_cost, n.new_customers, l.total_ltv, r.period_revenue
FROM channels AS k
LEFT JOIN ads AS a ON a.channel = k.channel
LEFT JOIN acquired AS n ON n.channel = k.channel
LEFT JOIN ltv AS l ON l.channel = k.channel
LEFT JOIN sales AS r ON r.channel = k.channel
"""


def variants() -> dict[str, tuple[str, tuple[Any, ...]]]:
    """name → (SELECT, parameters) for the benchmark's period."""
    from revops.transform import marketing

    start = kpi.END - timedelta(days=kpi.WINDOW - 1)
    end = kpi.END
    kept = "WITH" + marketing.INSERT_CHANNEL_SQL.split("WITH", 1)[1]
    period = marketing.Period(kpi.RUN_DATE, start, end)
    return {
        "kept (sum per customer, then join)": (kept, marketing.channel_params(period)),
        "join first, then sum per channel": (
            JOIN_FIRST_SQL,
            (start, end, start, end, end, start, end),
        ),
    }


def totals(name: str, rows: list[tuple[Any, ...]]) -> list[int]:
    """Σ ad_cost, new_customers, total_ltv, period_revenue over the channel rows."""
    idx = (6, 8, 9, 10) if name.startswith("kept") else (1, 2, 3, 4)
    return [round(sum(float(r[i] or 0) for r in rows)) for i in idx]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--spread", choices=("window", "year"), default="year")
    parser.add_argument("--order", choices=("ascending", "monthly", "scattered"), default="monthly")
    parser.add_argument("--buyers", choices=("random", "stride"), default="random")
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--out", type=Path, default=None, help="append the figures here")
    args = parser.parse_args()
    import duckdb

    sizes = {
        k: max(1, int(v * args.scale))
        for k, v in {
            "sales": 10_000_000,
            "customers": 1_000_000,
            "orders": 2_000_000,
            "ads": 100_000,
        }.items()
    }
    with tempfile.TemporaryDirectory(prefix="revops-bench-") as tmp:
        path = f"{tmp}/bench.duckdb"
        kpi.generate(f"duckdb:///{path}", "duckdb", sizes, args.spread, args.order, args.buyers)
        con = duckdb.connect(path, read_only=True)
        times: dict[str, list[float]] = {name: [] for name in variants()}
        checks: dict[str, list[int]] = {}
        for _ in range(args.repeat):  # alternate, so both see the same load
            for name, (sql, params) in variants().items():
                t0 = time.perf_counter()
                rows = con.execute(sql, params).fetchall()
                times[name].append(time.perf_counter() - t0)
                checks[name] = totals(name, rows)
        con.close()
    command = "python benchmarks/kpi_variants.py " + " ".join(sys.argv[1:])
    lines = [
        f"#### Channel-mart SQL variants, {args.spread} spread, {args.order} dates, "
        f"{args.buyers} buyers, {sizes['sales']:,} sales rows",
        "",
        f"Command: `{command.strip()}` (DuckDB {duckdb.__version__}, shared 2-core machine)",
        "",
        "| variant | median | fastest | runs | totals (ad cost, customers, LTV, revenue) |",
        "|---|---|---|---|---|",
    ]
    for name, ts in times.items():
        lines.append(
            f"| {name} | {statistics.median(ts):.3f} s | {min(ts):.3f} s | {len(ts)} "
            f"| {checks[name]} |"
        )
    text = "\n".join(lines) + "\n"
    print(text)
    if args.out:
        with args.out.open("a", encoding="utf-8") as fh:
            fh.write("\n" + text)


if __name__ == "__main__":
    main()
