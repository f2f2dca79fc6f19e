"""Benchmark of the marketing sources: sales CSV (UTF-8 and CP932) and CRM extraction.

Each measurement runs in its own child process, so its peak RSS is its own. Figures:

* sales CSV → ``raw_sales_orders`` of a DuckDB warehouse (read, detect encoding, clean per
  KPI.md, reject with line numbers, dedupe, load, commit): rows/s and peak RSS, on a realistic
  messy file and on a plain (numeric revenue) file;
* the seed's path on the plain file, reproduced: ``pandas.read_csv`` + ``drop_duplicates`` +
  the ``notna`` / ``>= 0`` filters (it cannot read ``¥1,234``, so it gets the plain file), with
  and without its ``to_csv`` output step;
* CRM: 1M orders (+ customers) from PostgreSQL on 127.0.0.1 into a DuckDB warehouse.

Usage::

    python benchmarks/sources.py --rows 1000000 --out benchmarks/RESULTS-sources.md
    python benchmarks/sources.py --rows 1000000 --rows 10000000 --crm-orders 1000000
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
SRC = HERE.parent / "src"
HEADER = "order_id,customer_id,order_date,revenue,product_category\n"
CATEGORIES = ("Software", "Hardware", "サポート", "Consulting")


# ---------------------------------------------------------------- data generation
def write_sales(path: Path, rows: int, encoding: str, messy: bool, seed: int = 1) -> None:
    """A sales file of ``rows`` rows: ~0.1 % missing revenue, ~0.1 % duplicate order ids."""
    rng = random.Random(seed)
    yen = "￥" if encoding == "cp932" else "¥"
    full = str.maketrans("0123456789", "０１２３４５６７８９")
    with path.open("wb") as fh:
        fh.write(HEADER.encode(encoding))
        buf: list[str] = []
        for i in range(rows):
            v = rng.randint(100, 500_000)
            if messy:
                kind = rng.random()
                rev = (
                    str(v)
                    if kind < 0.70
                    else f'"{v:,}"'
                    if kind < 0.80
                    else f'"{yen}{v:,}"'
                    if kind < 0.90
                    else f"{v}円"
                    if kind < 0.97
                    else str(v).translate(full)
                )
                day = f"2024-01-{i % 28 + 1:02d}" if kind < 0.9 else f"2024/1/{i % 28 + 1}"
            else:
                rev, day = str(v), f"2024-01-{i % 28 + 1:02d}"
            if i % 1000 == 7:
                rev = ""
            oid = i - 1 if i % 997 == 0 and i else i
            buf.append(
                f"O-{oid:09d},C{rng.randint(1, 99_999):06d},{day},{rev},{CATEGORIES[i % 4]}\n"
            )
            if len(buf) >= 200_000:
                fh.write("".join(buf).encode(encoding))
                buf = []
        fh.write("".join(buf).encode(encoding))


def prepare_crm(admin_url: str, orders: int) -> str:
    """A database ``revops_bench_crm`` with ``crm.customers`` and ``crm.orders``."""
    import psycopg

    name = "revops_bench_crm"
    with psycopg.connect(admin_url, autocommit=True) as con:
        con.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        con.execute(f"CREATE DATABASE {name}")
    url = admin_url.rsplit("/", 1)[0] + "/" + name
    customers = max(1, orders // 10)
    with psycopg.connect(url, autocommit=True) as con:
        con.execute("CREATE SCHEMA crm")
        con.execute(
            "CREATE TABLE crm.customers (customer_id TEXT PRIMARY KEY, customer_name "
            "TEXT, email TEXT, acquisition_date DATE, acquisition_source TEXT, "
            "acquisition_channel TEXT)"
        )
        con.execute(
            "CREATE TABLE crm.orders (order_id TEXT PRIMARY KEY, customer_id TEXT, "
            "order_date DATE, revenue NUMERIC(12, 2))"
        )
        con.execute(
            "INSERT INTO crm.customers SELECT 'C' || g, '顧客 ' || g, "
            "'c' || g || '@example.com', DATE '2024-01-01' + (g %% 90), "
            "'GGL-' || (g %% 40), (ARRAY['Google','Facebook','Instagram','Organic',"
            "'Referral'])[1 + g %% 5] FROM generate_series(1, %s) g",
            (customers,),
        )
        con.execute(
            "INSERT INTO crm.orders SELECT 'ORD-' || g, 'C' || (1 + g %% %s), "
            "DATE '2024-01-01' + (g %% 120), round((random() * 100000)::numeric, 2) "
            "FROM generate_series(1, %s) g",
            (customers, orders),
        )
        con.execute("ANALYZE")
    return url


# ---------------------------------------------------------------- children
def child_revops_csv(folder: str, month: str, memory_limit: str) -> dict[str, object]:
    from revops.config import Settings
    from revops.sources.sales import extract_sales
    from revops.warehouse import connect, ensure_schema

    with tempfile.TemporaryDirectory() as tmp:
        wh = connect(f"duckdb:///{tmp}/bench.duckdb")
        ensure_schema(wh)
        if memory_limit != "default":
            # What a deployment sets for a DuckDB warehouse (DuckDB's own default is 80 % of
            # RAM, which it fills with cached blocks when nothing else needs the memory).
            wh.execute(f"SET memory_limit = '{memory_limit}'", native=True)
        settings = Settings(data={"sales": {"path": folder}}, env={})
        started = time.perf_counter()
        report = extract_sales(wh, settings, month=month)
        seconds = time.perf_counter() - started
        wh.close()
    return {
        "seconds": seconds,
        "rows": report.loaded + report.rejected,
        "loaded": report.loaded,
        "rejected": report.rejected,
    }


def child_revops_clean(path: str) -> dict[str, object]:
    """Read, detect, split, clean and dedupe only (no warehouse): the seed path's scope."""
    import pyarrow as pa

    from revops.sources.sales_clean import clean_rows
    from revops.sources.sales_dedupe import OrderDeduper
    from revops.sources.sales_read import RawRows, read_sales_rows

    started = time.perf_counter()
    rows = good = 0
    with open(path, "rb") as fh, OrderDeduper() as dedupe:
        parts = read_sales_rows(fh, path, None)
        next(parts)
        for block in parts:
            assert isinstance(block, RawRows)
            rows += block.table.num_rows + len(block.malformed)
            cleaned = clean_rows(block.table, block.raw_lines)
            dedupe.add(cleaned.good["order_id"], cleaned.good["line_no"])
            good += cleaned.good.num_rows
            del block, cleaned
            pa.default_memory_pool().release_unused()  # as extract_sales does
        duplicates = sum(len(b) for b in dedupe.duplicate_lines())
    return {"seconds": time.perf_counter() - started, "rows": rows, "loaded": good - duplicates}


def child_seed_csv(path: str, write: bool) -> dict[str, object]:
    import pandas as pd

    started = time.perf_counter()
    df = pd.read_csv(
        path,
        encoding="utf-8" if "utf-8" in path else "cp932",
        dtype={"customer_id": str, "product_category": str},
        parse_dates=["order_date"],
    )
    rows = len(df)
    df = df.drop_duplicates(subset=["order_id"])
    df = df[df["customer_id"].notna()]
    df = df[df["revenue"].notna()]
    df = df[df["revenue"] >= 0]
    if write:
        with tempfile.TemporaryDirectory() as tmp:
            df.to_csv(Path(tmp) / "sales_data.csv", index=False)
    return {
        "seconds": time.perf_counter() - started,
        "rows": rows,
        "loaded": len(df),
        "pandas": pd.__version__,
    }


def child_crm(url: str) -> dict[str, object]:
    from revops.config import Settings
    from revops.sources.crm import extract_crm
    from revops.warehouse import connect, ensure_schema

    with tempfile.TemporaryDirectory() as tmp:
        wh = connect(f"duckdb:///{tmp}/bench.duckdb")
        ensure_schema(wh)
        settings = Settings(
            data={
                "crm": {
                    "url": url,
                    "customers_table": "crm.customers",
                    "orders_table": "crm.orders",
                }
            },
            env={},
        )
        started = time.perf_counter()
        report = extract_crm(wh, settings)
        seconds = time.perf_counter() - started
        wh.close()
    return {"seconds": seconds, "rows": report.loaded, "tables": report.tables}


def run_child(*args: str) -> dict[str, object]:
    """Run this script as a child; its JSON result plus its peak RSS in MB."""
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    proc = subprocess.Popen(
        [sys.executable, __file__, "--child", *args], stdout=subprocess.PIPE, env=env, text=True
    )
    _, status, usage = os.wait4(proc.pid, 0)
    out = proc.stdout.read() if proc.stdout else ""
    if status != 0:
        raise SystemExit(f"child {args} failed ({status}): {out[-500:]}")
    result = json.loads(out.strip().splitlines()[-1])
    result["peak_rss_mb"] = round(usage.ru_maxrss / 1024)
    return result


# ---------------------------------------------------------------- main
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, action="append", help="sales rows (repeatable)")
    parser.add_argument("--encodings", nargs="+", default=["utf-8", "cp932"])
    parser.add_argument("--crm-orders", type=int, default=1_000_000)
    parser.add_argument(
        "--pg-url",
        default=os.environ.get(
            "REVOPS_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
        ),
    )
    parser.add_argument(
        "--workdir", default=os.path.join(tempfile.gettempdir(), "revops-bench-sources")
    )
    parser.add_argument("--out", default=str(HERE / "RESULTS-sources.md"))
    parser.add_argument(
        "--duckdb-memory-limit",
        nargs="+",
        default=["default", "128MB"],
        help="DuckDB warehouse memory_limit values to measure extract_sales with",
    )
    parser.add_argument("--skip-sales", action="store_true")
    parser.add_argument(
        "--keep-files", action="store_true", help="keep the generated CSVs for the next run"
    )
    parser.add_argument("--child", nargs="+")
    args = parser.parse_args()
    if args.child:
        kind, *rest = args.child
        fn = {
            "revops": lambda: child_revops_csv(rest[0], rest[1], rest[2]),
            "revops-clean": lambda: child_revops_clean(rest[0]),
            "seed": lambda: child_seed_csv(rest[0], rest[1] == "write"),
            "crm": lambda: child_crm(rest[0]),
        }[kind]
        print(json.dumps(fn(), default=str))
        return
    load_start = os.getloadavg()
    rows_list = args.rows or [1_000_000]
    work = Path(args.workdir)
    lines = ["| what | rows | seconds | rows/s | peak RSS MB |", "|---|---:|---:|---:|---:|"]
    results: list[dict[str, object]] = []
    for rows in [] if args.skip_sales else rows_list:
        for encoding in args.encodings:
            for messy in (True, False):
                folder = work / f"{rows}-{encoding}-{'messy' if messy else 'plain'}"
                folder.mkdir(parents=True, exist_ok=True)
                path = folder / "sales_2024-01.csv"
                if not path.exists():
                    print(f"generating {path} …", flush=True)
                    write_sales(path, rows, encoding, messy)
                kind = "messy" if messy else "plain"
                for limit in args.duckdb_memory_limit:
                    r = run_child("revops", str(folder), "2024-01", limit)
                    what = (
                        f"revops extract_sales → DuckDB (memory_limit {limit}), {encoding}, {kind}"
                    )
                    results.append({"what": what, **r})
                r = run_child("revops-clean", str(path))
                results.append({"what": f"revops read+clean+dedupe only, {encoding}, {kind}", **r})
                if not messy:
                    for write in (False, True):
                        s = run_child("seed", str(path), "write" if write else "read")
                        what = (
                            f"seed path (pandas {s['pandas']}) {encoding}, plain, "
                            f"{'read+clean+to_csv' if write else 'read+clean'}"
                        )
                        results.append({"what": what, **s})
                if not args.keep_files:
                    path.unlink()  # keep the disk free between sizes
                print(results[-4:], flush=True)
    if args.crm_orders:
        url = prepare_crm(args.pg_url, args.crm_orders)
        r = run_child("crm", url)
        results.append({"what": f"revops CRM, PostgreSQL → DuckDB ({r['tables']})", **r})
        print(results[-1], flush=True)
    for r in results:
        rate = float(r["rows"]) / float(r["seconds"])  # type: ignore[arg-type]
        lines.append(
            f"| {r['what']} | {r['rows']:,} | {float(r['seconds']):.2f} | "  # type: ignore[arg-type]
            f"{rate:,.0f} | {r['peak_rss_mb']} |"
        )
    loads = (load_start, os.getloadavg())
    write_results(Path(args.out), lines, sys.argv[1:], loads)


def write_results(
    out: Path, table: list[str], argv: list[str], loads: tuple[tuple[float, ...], ...]
) -> None:
    import duckdb
    import pandas
    import pyarrow

    now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    text = "\n".join(
        [
            "# Sources benchmark (sales CSV, CRM)",
            "",
            f"Measured {now} with `python benchmarks/sources.py {' '.join(argv)}` on "
            f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
            f"pyarrow {pyarrow.__version__}, duckdb {duckdb.__version__}, pandas "
            f"{pandas.__version__}.",
            "",
            "**The machine was shared with other people's test and benchmark runs while these "
            f"figures were taken (load average {loads[0][0]:.1f} / {loads[0][1]:.1f} / "
            f"{loads[0][2]:.1f} at the start, {loads[1][0]:.1f} / {loads[1][1]:.1f} / "
            f"{loads[1][2]:.1f} at the end, on {os.cpu_count()} cores): they are lower "
            "bounds.**",
            "",
            "Rows = every data row of the file. *extract_sales → DuckDB* covers reading, "
            "encoding detection, cleaning, rejects with line numbers, dedupe, the load into a "
            "DuckDB warehouse file and the commit (through Parquet scratch files, one write "
            "per row); *read+clean+dedupe only* is the same without "
            "the warehouse (the seed path's scope). The seed path cannot read messy revenue "
            "(`¥1,234`), so it runs on the plain file only; its to_csv step (the seed's output) "
            "is shown separately. Files: ~0.1 % missing revenue, ~0.1 % duplicate order ids; "
            'messy files have 30 % of revenues written `"1,234"`, `"¥1,234"`, `1234円` or '
            "in full-width digits and 10 % of dates as `2024/1/5`.",
            "",
            *table,
            "",
        ]
    )
    out.write_text(text, encoding="utf-8")
    print(text)


if __name__ == "__main__":
    main()
