"""Benchmark: both marketing marts for one date, DuckDB and PostgreSQL vs the seed's pandas path.

Data (generated inside each warehouse with SQL ``range()`` / ``generate_series``, the same
deterministic rows on both engines): sales rows, CRM customers, CRM orders and ad rows.
``--spread year`` (default) spreads the dates over 365 days, the period holding about 1/12 of
them; ``--spread window`` dates every row inside the 30-day period (the worst case for revops,
which reads only the period). ``--order monthly`` (default) stores the rows month by month with
the days scattered inside each month, as the sales loader stores its monthly files;
``ascending`` orders them by date, ``scattered`` scatters the dates over all rows.
``--buyers random`` (default) picks each sale's customer by a non-linear hash (repeat buyers
as in random draws); ``stride`` is the generator of the earlier figures.

Measured, each in a fresh process:
- ``duckdb`` / ``postgres``: :func:`revops.transform.marketing.compute_channel_kpis` for one
  date (compute both marts, replace the date's rows in one transaction, read them back, audit);
- ``pandas``: the seed's Tasks 5 and 6 (merge by customer, group by channel, row-wise
  ``DataFrame.apply`` ratios, summary) on the same rows already in memory as DataFrames, with
  the customers' ``lifetime_value`` precomputed as the seed's Task 2 CRM query delivers it:
  every loaded row (``--seed-rows all``, default) or only the period's (``--seed-rows period``).
Peak memory is the peak increase of anonymous resident memory (RssAnon) during the runs,
sampled every 10 ms: of this process for DuckDB and pandas, of the PostgreSQL backend and its
parallel workers for PostgreSQL.

    python benchmarks/kpi.py                      # full size: 10M / 1M / 2M / 100k
    python benchmarks/kpi.py --scale 0.01         # quick check while developing
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

RUN_DATE = date(2026, 3, 1)
END = RUN_DATE - timedelta(days=1)
WINDOW = 30
PG_ADMIN = os.environ.get("REVOPS_BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")

AD_CHANNELS = ("Google", "Facebook", "Instagram", "Yahoo", "LINE", "TikTok")
CRM_CHANNELS = (*AD_CHANNELS, "Organic", "Referral")


def channel_case(expr: str, names: tuple[str, ...]) -> str:
    """A portable CASE picking a channel name by ``expr % len(names)`` (fixed literals)."""
    whens = " ".join(f"WHEN {i} THEN '{n}'" for i, n in enumerate(names))
    return f"CASE {expr} % {len(names)} {whens} END"


def generation_sql(engine: str, order: str = "ascending", buyers: str = "random") -> list[str]:
    """INSERT … SELECT statements generating the raw rows; ``{p}`` is the placeholder.

    Values are bound in the order of :func:`generation_params`. ``buyers``: ``random`` picks
    each sale's customer by a non-linear hash of the row number (repeat buyers as in real
    data: about 1.5 sales per buying customer in a 30-day period of a year of history);
    ``stride`` is the earlier generator (customer = row number × 7919 mod customers), whose
    consecutive rows never repeat a customer.
    """

    def day(k: int) -> str:
        d0 = "(i * {p} - (i * {p}) % {p}) / {p}"  # floor(i * days / n), exact on both engines
        if order == "ascending":
            return f"CAST({{p}} AS DATE) + CAST({d0} AS INTEGER)"
        if order == "monthly":  # the month of the ascending date, the day scattered in it
            ascending = f"CAST({{p}} AS DATE) + CAST({d0} AS INTEGER)"
            return (
                f"CAST(date_trunc('month', {ascending}) AS DATE) + CAST((i * {k}) % 28 AS INTEGER)"
            )
        return f"CAST({{p}} AS DATE) + CAST((i * {k}) % {{p}} AS INTEGER)"  # scattered

    series = (
        "range({p})"
        if engine == "duckdb"
        else "generate_series(CAST(0 AS BIGINT), CAST({p} AS BIGINT) - 1)"
    )
    month = "strftime(d, '%Y-%m')" if engine == "duckdb" else "to_char(d, 'YYYY-MM')"
    src = f"{series} AS t(i)"
    # No "/" on integers: DuckDB divides in floating point, PostgreSQL truncates.
    ads = f"""
INSERT INTO revops.raw_ads
SELECT CAST({{p}} AS DATE) - CAST(((i - i % 500) / 500) % {{p}} AS INTEGER), 'K' || (i % 500),
       'campaign ' || (i % 500), {channel_case("(i % 500)", AD_CHANNELS)},
       50 * (20 + i % 180), 20 + i % 180,
       CAST((20 + i % 180) * (30 + i % 70) AS DECIMAL(38, 6)),
       1 + i % 5, current_timestamp
FROM {src}"""
    customers = f"""
INSERT INTO revops.raw_crm_customers
SELECT 'C' || i, 'Customer ' || i, 'c' || i || '@example.com',
       {day(13)}, 'K' || (i % 500),
       {channel_case("i", CRM_CHANNELS)}, current_timestamp
FROM {src}"""
    orders = f"""
INSERT INTO revops.raw_crm_orders
SELECT 'O' || i, 'C' || ((i * 104729) % {{p}}),
       {day(17)},
       CAST(500 + (i * 53) % 20000 AS DECIMAL(38, 6)), current_timestamp
FROM {src}"""
    # x² mod the prime 2³¹ − 1 of x = a linear hash of i: not linear in i, so customers repeat
    # as random draws do (exact on both engines: BIGINT arithmetic below 2⁶³, operands ≥ 0).
    mixed = "((i * 48271 + 11) % 2147483647)"
    buyer = (
        f"({mixed} * {mixed}) % 2147483647 % {{p}}" if buyers == "random" else "(i * 7919) % {p}"
    )
    # DuckDB's raw_sales_orders is a view over this table and the Parquet slices
    rows_table = "raw_sales_orders_rows" if engine == "duckdb" else "raw_sales_orders"
    sales = f"""
INSERT INTO revops.{rows_table}
SELECT order_id, customer_id, d, revenue, category, {month}, 'sales_' || {month} || '.csv',
       i + 2, current_timestamp
FROM (SELECT i, 'S' || i AS order_id,
             CASE WHEN i % 50 = 0 THEN 'X' || (i % 1000) ELSE 'C' || ({buyer}) END
                 AS customer_id,
             {day(31)} AS d,
             CAST(1000 + (i * 37) % 50000 AS DECIMAL(38, 6)) AS revenue,
             'category ' || (i % 5) AS category
      FROM {src}) AS g"""
    statements = (ads, customers, orders, sales)
    if engine == "duckdb":
        return [s.replace("{p}", "?") for s in statements]
    return [s.replace("%", "%%").replace("{p}", "%s") for s in statements]  # psycopg's marks


def generation_params(
    sizes: dict[str, int], spread: str, order: str = "ascending"
) -> list[tuple[Any, ...]]:
    """Bound values of :func:`generation_sql`, statement by statement."""
    days = WINDOW if spread == "window" else 365
    start = END - timedelta(days=days - 1)

    def ascending(n: int) -> tuple[Any, ...]:
        return (start, days, days, n, n) if order != "scattered" else (start, days)

    return [
        (END, days, sizes["ads"]),  # one row per campaign and day, back from the end
        (*ascending(sizes["customers"]), sizes["customers"]),
        (sizes["customers"], *ascending(sizes["orders"]), sizes["orders"]),
        (sizes["customers"], *ascending(sizes["sales"]), sizes["sales"]),
    ]


def generate(
    url: str,
    engine: str,
    sizes: dict[str, int],
    spread: str,
    order: str = "ascending",
    buyers: str = "random",
) -> float:
    """Create the schema and generate the rows; returns the seconds it took."""
    from revops.warehouse import connect, ensure_schema

    t0 = time.perf_counter()
    with connect(url) as wh:
        ensure_schema(wh)
        for stmt, params in zip(
            generation_sql(engine, order, buyers),
            generation_params(sizes, spread, order),
            strict=True,
        ):
            wh.execute(stmt, params, native=True)
        if engine == "postgres":
            wh.execute("ANALYZE", native=True)
        else:
            to_slice_files(wh)
            wh.execute("CHECKPOINT", native=True)
    return time.perf_counter() - t0


def to_slice_files(wh: Any) -> None:
    """Move the generated sales rows of a DuckDB warehouse into month slice files, as
    ``revops extract sales`` stores them (one Parquet file per month, ``raw_sales_orders`` a
    view over them)."""
    import pyarrow.parquet as pq

    from revops.warehouse.slices import ROWS, SliceFiles, arrow_schema

    schema = arrow_schema()
    months = [r["month"] for r in wh.query(f"SELECT DISTINCT month FROM {ROWS} ORDER BY month")]
    with SliceFiles(wh) as files, wh.transaction():
        for month in months:
            rows = wh.query_arrow(f"SELECT * FROM {ROWS} WHERE month = ?", (month,), native=True)
            path = files.new_path(month)
            pq.write_table(rows.cast(schema), path, row_group_size=122_880, compression="snappy")
            files.replace(month, [(path, rows.num_rows)])
        files.publish()


class RssSampler:
    """Samples the summed RssAnon of some processes every 10 ms; keeps the peak."""

    def __init__(self, pids: Any) -> None:
        self.pids = pids  # a callable returning the pids to sum
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    @staticmethod
    def anon_kb(pid: int) -> int:
        try:
            with open(f"/proc/{pid}/status", encoding="ascii") as fh:
                for line in fh:
                    if line.startswith("RssAnon:"):
                        return int(line.split()[1])
        except OSError:
            pass
        return 0

    def now(self) -> int:
        return sum(self.anon_kb(p) for p in self.pids())

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self.now())
            self._stop.wait(0.01)

    def __enter__(self) -> RssSampler:
        self.baseline = self.now()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self.now())

    @property
    def peak_increase_mb(self) -> float:
        return max(0, self.peak - self.baseline) / 1024


def parallel_workers_of(leader: int) -> list[int]:
    """PostgreSQL parallel workers serving backend ``leader`` (found by process title)."""
    tag = f"parallel worker for PID {leader}".encode()
    found = []
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                with open(f"/proc/{entry.name}/cmdline", "rb") as fh:
                    if tag in fh.read():
                        found.append(int(entry.name))
            except OSError:
                continue
    return found


def timed_runs(fn: Any, repeat: int, sampler: RssSampler) -> dict[str, Any]:
    times = []
    with sampler:
        for _ in range(repeat):
            t0 = time.perf_counter()
            out = fn()
            times.append(time.perf_counter() - t0)
    rest = times[1:] or times
    return {
        "first_s": times[0],
        "median_s": statistics.median(rest),
        "min_s": min(times),
        "runs": len(times),
        "peak_mb": sampler.peak_increase_mb,
        "check": out,
    }


def measure_warehouse(url: str, engine: str, repeat: int) -> dict[str, Any]:
    # The audit row's insert builds an Arrow array of a time-zone-aware datetime, which
    # imports pyarrow and pandas on first use (about 1 s once per process): not timed here.
    import pyarrow as pa

    from revops.config import Settings
    from revops.transform.marketing import compute_channel_kpis
    from revops.warehouse import connect

    pa.array([datetime.now(UTC)])

    settings = Settings(data={}, env={})
    with connect(url) as wh:
        if engine == "postgres":
            backend = int(wh.query_value("SELECT pg_backend_pid()"))
            work_mem = os.environ.get("REVOPS_BENCH_PG_WORK_MEM")
            if work_mem:  # this session only; the server default is left alone
                wh.query("SELECT set_config('work_mem', ?, false)", (work_mem,))
            sampler = RssSampler(lambda: [backend, *parallel_workers_of(backend)])
        else:
            sampler = RssSampler(lambda: [os.getpid()])

        def run() -> Any:
            s = compute_channel_kpis(wh, settings, RUN_DATE, window_days=WINDOW).summary
            return {
                "total_ad_cost": float(s["total_ad_cost"]),
                "total_revenue": float(s["total_revenue"]),
                "total_customers": int(s["total_customers"]),
                "best_channel": s["best_channel"],
            }

        return timed_runs(run, repeat, sampler)


def seed_inputs(duck_url: str, rows: str = "all") -> tuple[Any, Any, Any]:
    """The seed's three DataFrames, read from the DuckDB warehouse (not timed).

    ``rows="all"``: every loaded row (the seed's Tasks 5 and 6 have no period: they process
    whatever Tasks 1–3 extracted). ``rows="period"``: only the rows revops reads for the
    period (ads and sales dated in it, customers acquired in it), as if the seed's extraction
    had already cut the same period — the strictest comparison.

    ``crm_df`` carries lifetime_value / order_count / last_order_date as the seed's Task 2 CRM
    query returns them; ``ads_df`` names its channel column ``acquisition_channel``, the column
    the seed groups ads by (its ads data has none).
    """
    from revops.warehouse import connect

    start = END - timedelta(days=WINDOW - 1)
    cut = rows == "period"
    in_period = f" BETWEEN DATE '{start}' AND DATE '{END}'"  # fixed constants of the benchmark
    with connect(duck_url, read_only=True) as wh:
        ads = wh.query_arrow(
            "SELECT date, campaign_id, campaign_name, channel AS acquisition_channel, "
            "impressions, clicks, CAST(cost AS DOUBLE) AS cost, conversions "
            "FROM revops.raw_ads" + (" WHERE date" + in_period if cut else "")
        ).to_pandas()
        crm = wh.query_arrow(
            "SELECT c.customer_id, c.customer_name, c.email, c.acquisition_date, "
            "c.acquisition_source, c.acquisition_channel, "
            "COALESCE(SUM(CAST(o.revenue AS DOUBLE)), 0) AS lifetime_value, "
            "COUNT(o.order_id) AS order_count, MAX(o.order_date) AS last_order_date "
            "FROM revops.raw_crm_customers c LEFT JOIN revops.raw_crm_orders o "
            "ON c.customer_id = o.customer_id "
            + ("WHERE c.acquisition_date" + in_period if cut else "")
            + " GROUP BY ALL"
        ).to_pandas()
        sales = wh.query_arrow(
            "SELECT order_id, customer_id, order_date, CAST(revenue AS DOUBLE) AS revenue, "
            "product_category FROM revops.raw_sales_orders"
            + (" WHERE order_date" + in_period if cut else "")
        ).to_pandas()
    return ads, crm, sales


def seed_tasks_5_and_6(ads_df: Any, crm_df: Any, sales_df: Any) -> dict[str, Any]:
    """The seed's approach to Tasks 5 (merge) and 6 (KPIs), reproduced for comparison.

    Kept as the seed does it — row-wise ``apply`` with 0 for undefined ratios, the overall
    CVR as a mean of channel ratios, ``idxmax`` for the best channel — because this is the
    reference being measured, not revops' definition.
    """
    customer_sales = (
        sales_df.groupby("customer_id").agg({"revenue": "sum", "order_id": "count"}).reset_index()
    )
    customer_sales.columns = ["customer_id", "period_revenue", "period_orders"]
    crm = crm_df.merge(customer_sales, on="customer_id", how="left")
    crm["period_revenue"] = crm["period_revenue"].fillna(0)
    crm["period_orders"] = crm["period_orders"].fillna(0)
    channel_customers = (
        crm.groupby("acquisition_channel")
        .agg({"customer_id": "count", "lifetime_value": "sum", "period_revenue": "sum"})
        .reset_index()
    )
    channel_customers.columns = ["channel", "new_customers", "total_ltv", "period_revenue"]
    ads = (
        ads_df.groupby("acquisition_channel")
        .agg({"impressions": "sum", "clicks": "sum", "cost": "sum", "conversions": "sum"})
        .reset_index()
    )
    ads.columns = ["channel", "impressions", "clicks", "ad_cost", "conversions"]
    df = channel_customers.merge(ads, on="channel", how="outer").fillna(0)

    df["cac"] = df.apply(
        lambda r: r["ad_cost"] / r["new_customers"] if r["new_customers"] > 0 else 0, axis=1
    )
    df["avg_ltv"] = df.apply(
        lambda r: r["total_ltv"] / r["new_customers"] if r["new_customers"] > 0 else 0, axis=1
    )
    df["roas"] = df.apply(
        lambda r: r["period_revenue"] / r["ad_cost"] * 100 if r["ad_cost"] > 0 else 0, axis=1
    )
    df["cvr"] = df.apply(
        lambda r: r["conversions"] / r["clicks"] * 100 if r["clicks"] > 0 else 0, axis=1
    )
    df["ctr"] = df.apply(
        lambda r: r["clicks"] / r["impressions"] * 100 if r["impressions"] > 0 else 0, axis=1
    )
    df["ltv_cac_ratio"] = df.apply(lambda r: r["avg_ltv"] / r["cac"] if r["cac"] > 0 else 0, axis=1)
    total_cost, total_customers = df["ad_cost"].sum(), df["new_customers"].sum()
    return {
        "total_ad_cost": float(total_cost),
        "total_revenue": float(df["period_revenue"].sum()),
        "total_customers": int(total_customers),
        "overall_cac": total_cost / total_customers if total_customers > 0 else 0,
        "overall_roas": (df["period_revenue"].sum() / total_cost * 100 if total_cost > 0 else 0),
        "avg_cvr": df["cvr"].mean(),
        "best_channel": df.loc[df["roas"].idxmax(), "channel"] if len(df) > 0 else "N/A",
        "best_channel_roas": df["roas"].max(),
    }


def measure_pandas(duck_url: str, repeat: int, rows: str = "all") -> dict[str, Any]:
    import pandas as pd

    ads, crm, sales = seed_inputs(duck_url, rows)
    sampler = RssSampler(lambda: [os.getpid()])

    def run() -> Any:
        out = seed_tasks_5_and_6(ads, crm, sales)
        return {
            k: out[k] for k in ("total_ad_cost", "total_revenue", "total_customers", "best_channel")
        }

    result = timed_runs(run, repeat, sampler)
    result["pandas"] = pd.__version__
    return result


def child(args: argparse.Namespace) -> None:
    """One measurement in this (fresh) process; prints a JSON line."""
    if args.engine == "pandas":
        out = measure_pandas(args.url, args.repeat, args.seed_rows)
    else:
        out = measure_warehouse(args.url, args.engine, args.repeat)
    print("RESULT " + json.dumps(out, default=str))


def run_child(engine: str, url: str, repeat: int, seed_rows: str = "all") -> dict[str, Any]:
    cmd = [sys.executable, __file__, "--child", engine, "--url", url, "--repeat", str(repeat)]
    cmd += ["--seed-rows", seed_rows]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    line = next((x for x in proc.stdout.splitlines() if x.startswith("RESULT ")), None)
    if proc.returncode != 0 or line is None:
        raise SystemExit(f"{engine} measurement failed:\n{proc.stdout}\n{proc.stderr}")
    return json.loads(line[len("RESULT ") :])


def create_pg_database() -> str:
    import psycopg

    name = f"revops_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    return name


def drop_pg_database(name: str) -> None:
    import psycopg

    with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def report(
    order: str,
    sizes: dict[str, int],
    spread: str,
    gen: dict[str, float],
    results: dict[str, dict[str, Any]],
    command: str,
    labels: str = "",
) -> str:
    import duckdb
    import pandas as pd

    lines = [
        f"### KPI marts, {spread} spread, {order} dates{labels}: {sizes['sales']:,} sales rows, "
        f"{sizes['customers']:,} customers, {sizes['orders']:,} CRM orders, "
        f"{sizes['ads']:,} ad rows",
        "",
        f"Command: `{command}`  ",
        f"DuckDB {duckdb.__version__}, pandas {pd.__version__}, PostgreSQL 15 with "
        "shared_buffers 128 MB and work_mem "
        + (os.environ.get("REVOPS_BENCH_PG_WORK_MEM") or "4MB (server defaults)")
        + ", 2 cores **shared with other jobs "
        "running at the same time**: figures are lower bounds.  ",
        "Data generation (not timed below): "
        + ", ".join(f"{k} {v:.1f} s" for k, v in gen.items())
        + ".",
        "",
        "| path | first run | median of the rest | fastest | runs | peak memory increase |",
        "|---|---|---|---|---|---|",
    ]
    for name, r in results.items():
        lines.append(
            f"| {name} | {r['first_s']:.3f} s | {r['median_s']:.3f} s "
            f"| {r['min_s']:.3f} s | {r['runs']} "
            f"| {r['peak_mb']:.0f} MB |"
        )
    if "pandas" in results and "duckdb" in results:
        speedup = results["pandas"]["median_s"] / results["duckdb"]["median_s"]
        lines += ["", f"DuckDB vs the seed's pandas path (medians): **{speedup:.1f}×** faster."]
    if "pandas" in results and "postgres" in results:
        speedup = results["pandas"]["median_s"] / results["postgres"]["median_s"]
        lines += [f"PostgreSQL vs the seed's pandas path (medians): {speedup:.2f}×."]
    lines += ["", "Checks (totals of the last run):", ""]
    lines += [f"- {name}: {json.dumps(r['check'], default=str)}" for name, r in results.items()]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--scale", type=float, default=1.0, help="multiply the default sizes (10M / 1M / 2M / 100k)"
    )
    parser.add_argument("--spread", choices=("window", "year"), default="year")
    parser.add_argument(
        "--order",
        choices=("ascending", "monthly", "scattered"),
        default="monthly",
        help="dates ascending with the row number, in 30-day slices scattered inside "
        "(as the sales loader stores month files), or scattered over all rows",
    )
    parser.add_argument(
        "--buyers",
        choices=("random", "stride"),
        default="random",
        help="how sales pick their customer (stride: the generator of the earlier figures)",
    )
    parser.add_argument(
        "--seed-rows",
        choices=("all", "period"),
        default="all",
        help="rows given to the seed's pandas path: every loaded row, or only the period's",
    )
    parser.add_argument("--engines", default="duckdb,postgres,pandas")
    parser.add_argument("--repeat", type=int, default=8)
    parser.add_argument(
        "--out", type=Path, default=None, help="append the figures (markdown) to this file"
    )
    parser.add_argument(
        "--pg-work-mem", help="work_mem of the PostgreSQL session measured (e.g. 256MB)"
    )
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        args.engine = args.child
        child(args)
        return
    if args.pg_work_mem:
        os.environ["REVOPS_BENCH_PG_WORK_MEM"] = args.pg_work_mem
    sizes = {
        k: max(1, int(v * args.scale))
        for k, v in {
            "sales": 10_000_000,
            "customers": 1_000_000,
            "orders": 2_000_000,
            "ads": 100_000,
        }.items()
    }
    engines = args.engines.split(",")
    results: dict[str, dict[str, Any]] = {}
    gen: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="revops-bench-") as tmp:
        duck_url = f"duckdb:///{tmp}/bench.duckdb"
        if "duckdb" in engines or "pandas" in engines:
            gen["DuckDB"] = generate(
                duck_url, "duckdb", sizes, args.spread, args.order, args.buyers
            )
            print(f"generated DuckDB data in {gen['DuckDB']:.1f} s", flush=True)
        if "duckdb" in engines:
            results["duckdb"] = run_child("duckdb", duck_url, args.repeat)
            print("duckdb", results["duckdb"], flush=True)
        if "pandas" in engines:
            results["pandas (seed Tasks 5+6)"] = run_child(
                "pandas", duck_url, args.repeat, args.seed_rows
            )
            print("pandas", results["pandas (seed Tasks 5+6)"], flush=True)
        if "postgres" in engines:
            name = create_pg_database()
            try:
                pg_url = PG_ADMIN.rsplit("/", 1)[0] + "/" + name
                gen["PostgreSQL"] = generate(
                    pg_url, "postgres", sizes, args.spread, args.order, args.buyers
                )
                print(f"generated PostgreSQL data in {gen['PostgreSQL']:.1f} s", flush=True)
                results["postgres"] = run_child("postgres", pg_url, max(2, args.repeat // 2))
                print("postgres", results["postgres"], flush=True)
            finally:
                drop_pg_database(name)
    if "pandas (seed Tasks 5+6)" in results:
        results["pandas"] = results.pop("pandas (seed Tasks 5+6)")
    command = "python benchmarks/kpi.py " + " ".join(sys.argv[1:])
    labels = f", {args.buyers} buyers" + (
        ", seed given the period's rows only" if args.seed_rows == "period" else ""
    )
    text = report(args.order, sizes, args.spread, gen, results, command.strip(), labels)
    print(text)
    if args.out:
        with args.out.open("a", encoding="utf-8") as fh:
            fh.write("\n" + text)


if __name__ == "__main__":
    main()
