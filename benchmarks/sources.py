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


def child_duckdb_csv(path: str, memory_limit: str) -> dict[str, object]:
    """DuckDB's own CSV reader casting the same rows straight into a table of
    ``raw_sales_orders``'s columns (the warehouse's ``raw_sales_orders_rows``), with
    none of the work revops does besides (no cleaning, rejects, dedupe or line numbers): what
    a load done wholly inside DuckDB would cost at the least. UTF-8 only (DuckDB reads CP932
    only with an extension that would need a download)."""
    from revops.warehouse import connect, ensure_schema

    with tempfile.TemporaryDirectory() as tmp:
        wh = connect(f"duckdb:///{tmp}/bench.duckdb")
        ensure_schema(wh)
        if memory_limit != "default":
            wh.execute(f"SET memory_limit = '{memory_limit}'", native=True)
        started = time.perf_counter()
        with wh.transaction():
            loaded = wh.execute(
                "INSERT INTO revops.raw_sales_orders_rows SELECT order_id, customer_id, "
                "try_cast(order_date AS DATE), coalesce(try_cast(revenue AS DECIMAL(38, 6)), 0), "
                "product_category, ?, ?, 0, now() "
                "FROM read_csv(?, all_varchar = true, header = true)",
                ("2024-01", "sales_2024-01.csv", path),
                native=True,
            )
        seconds = time.perf_counter() - started
        wh.close()
    return {"seconds": seconds, "rows": loaded, "loaded": loaded}


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
    result["cpu_s"] = round(usage.ru_utime + usage.ru_stime, 2)  # the whole child, all threads
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
        default=["128MB"],
        help="DuckDB warehouse memory_limit values to measure extract_sales with "
        "(the first one is the headline's; 'default' = DuckDB's own, 80 %% of RAM)",
    )
    parser.add_argument("--skip-sales", action="store_true")
    parser.add_argument(
        "--duckdb-csv",
        action="store_true",
        help="also measure DuckDB's own CSV reader casting the UTF-8 plain file straight into "
        "raw_sales_orders (no cleaning, rejects, dedupe or line numbers)",
    )
    parser.add_argument(
        "--keep-files", action="store_true", help="keep the generated CSVs for the next run"
    )
    parser.add_argument("--child", nargs="+")
    args = parser.parse_args()
    if args.child:
        kind, *rest = args.child
        fn = {
            "revops": lambda: child_revops_csv(rest[0], rest[1], rest[2]),
            "seed": lambda: child_seed_csv(rest[0], rest[1] == "write"),
            "duckdb-csv": lambda: child_duckdb_csv(rest[0], rest[1]),
            "crm": lambda: child_crm(rest[0]),
        }[kind]
        print(json.dumps(fn(), default=str))
        return
    load_start = os.getloadavg()
    rows_list = args.rows or [1_000_000]
    work = Path(args.workdir)
    results: list[dict[str, object]] = []
    for rows in [] if args.skip_sales else rows_list:
        for encoding in args.encodings:
            for messy in (False, True):
                kind = "messy" if messy else "plain"
                folder = work / f"{rows}-{encoding}-{kind}"
                folder.mkdir(parents=True, exist_ok=True)
                path = folder / "sales_2024-01.csv"
                if not path.exists():
                    print(f"generating {path} …", flush=True)
                    write_sales(path, rows, encoding, messy)
                key = {"rows": rows, "encoding": encoding, "file": kind}
                for limit in args.duckdb_memory_limit:
                    r = run_child("revops", str(folder), "2024-01", limit)
                    results.append({**key, "path": "revops", "limit": limit, **r})
                    print(results[-1], flush=True)
                if not messy and encoding == "utf-8" and args.duckdb_csv:
                    r = run_child("duckdb-csv", str(path), args.duckdb_memory_limit[0])
                    results.append(
                        {**key, "path": "duckdb-csv", "limit": args.duckdb_memory_limit[0], **r}
                    )
                    print(results[-1], flush=True)
                if not messy:  # the seed path cannot read ¥1,234 or 1,234円
                    for write in (True, False):
                        s = run_child("seed", str(path), "write" if write else "read")
                        step = "read+clean+to_csv" if write else "read+clean"
                        results.append({**key, "path": f"seed {step}", "pandas": s["pandas"], **s})
                        print(results[-1], flush=True)
                if not args.keep_files:
                    path.unlink()  # keep the disk free between sizes
    crm: dict[str, object] | None = None
    if args.crm_orders:
        url = prepare_crm(args.pg_url, args.crm_orders)
        crm = run_child("crm", url)
        print(crm, flush=True)
    loads = (load_start, os.getloadavg())
    write_results(Path(args.out), results, crm, sys.argv[1:], loads)


def _rate(r: dict[str, object]) -> float:
    return float(r["rows"]) / float(r["seconds"])  # type: ignore[arg-type]


def headline(results: list[dict[str, object]]) -> list[str]:
    """revops extract_sales (to committed rows) beside the seed path, per size and encoding."""
    lines = [
        "| rows | encoding | revops extract_sales, plain file | revops, messy file "
        "| seed path (read+clean+to_csv), plain file | revops ÷ seed | peak RSS MB "
        "revops plain / messy / seed |",
        "|---:|---|---:|---:|---:|---:|---:|",
    ]
    limit = next((r["limit"] for r in results if r["path"] == "revops"), None)

    def pick(rows: object, encoding: object, file: str, path: str) -> dict[str, object] | None:
        for r in results:
            same = (r["rows"], r["encoding"], r["file"], r["path"]) == (rows, encoding, file, path)
            if same and (path != "revops" or r["limit"] == limit):
                return r
        return None

    for rows, encoding in dict.fromkeys((r["rows"], r["encoding"]) for r in results):
        plain = pick(rows, encoding, "plain", "revops")
        messy = pick(rows, encoding, "messy", "revops")
        seed = pick(rows, encoding, "plain", "seed read+clean+to_csv")
        if plain is None or seed is None:
            continue

        def cell(r: dict[str, object] | None) -> str:
            if r is None:
                return "—"
            return f"{float(r['seconds']):.2f} s = {_rate(r) / 1e6:.2f}M rows/s"  # type: ignore[arg-type]

        ratio = float(seed["seconds"]) / float(plain["seconds"])  # type: ignore[arg-type]
        messy_rss = messy["peak_rss_mb"] if messy else "—"
        rss = f"{plain['peak_rss_mb']} / {messy_rss} / {seed['peak_rss_mb']}"
        lines.append(
            f"| {rows:,} | {encoding} | {cell(plain)} | {cell(messy)} | {cell(seed)} | "
            f"{ratio:.1f}× | {rss} |"
        )
    return lines


def detail(results: list[dict[str, object]]) -> list[str]:
    lines = [
        "| rows | encoding | file | what | seconds | rows/s | CPU s | peak RSS MB | loaded |",
        "|---:|---|---|---|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        if r["path"] == "revops":
            what = f"revops extract_sales → DuckDB (memory_limit {r['limit']})"
        elif r["path"] == "duckdb-csv":
            what = (
                "DuckDB read_csv cast into raw_sales_orders, nothing else "
                f"(memory_limit {r['limit']})"
            )
        else:
            what = f"seed path (pandas {r['pandas']}) {str(r['path'])[5:]}"
        lines.append(
            f"| {r['rows']:,} | {r['encoding']} | {r['file']} | {what} | "
            f"{float(r['seconds']):.2f} | {_rate(r):,.0f} | {r['cpu_s']} | "  # type: ignore[arg-type]
            f"{r['peak_rss_mb']} | {r['loaded']:,} |"
        )
    return lines


def write_results(
    out: Path,
    results: list[dict[str, object]],
    crm: dict[str, object] | None,
    argv: list[str],
    loads: tuple[tuple[float, ...], ...],
) -> None:
    import duckdb
    import pandas
    import pyarrow

    now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    parts = [
        "# Sources benchmark (sales CSV, CRM)",
        "",
        f"Measured {now} with `python benchmarks/sources.py {' '.join(argv)}` on "
        f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"pyarrow {pyarrow.__version__}, duckdb {duckdb.__version__}, pandas "
        f"{pandas.__version__}. Load average {loads[0][0]:.1f} / {loads[0][1]:.1f} / "
        f"{loads[0][2]:.1f} at the start, {loads[1][0]:.1f} / {loads[1][1]:.1f} / "
        f"{loads[1][2]:.1f} at the end (the machine is shared: other people's jobs ran "
        "beside this one).",
        "",
    ]
    if results:
        parts += [
            "*revops extract_sales* is the whole extraction into a DuckDB warehouse file: read, "
            "detect the encoding, clean per KPI.md, reject with line numbers and raw text, "
            "dedupe order ids, load `raw_sales_orders` / `sales_rejects` and commit. The *seed "
            "path* is the seed's pandas code reproduced: `read_csv` + `drop_duplicates` + the "
            "`notna` / `>= 0` filters + its `to_csv` output; it cannot read `¥1,234` or "
            "`1,234円`, so it runs on the plain file only. Files: ~0.1 % missing revenue, "
            "~0.1 % duplicate order ids; *messy* files have 30 % of revenues written "
            '`"1,234"`, `"¥1,234"`, `1234円` or in full-width digits and 10 % of dates as '
            "`2024/1/5`. Rows = every data row of the file; peak RSS is the child process's "
            "(one process per measurement).",
            "",
            *headline(results),
            "",
            "Every measurement (CPU s = user + system seconds of the child, all threads: the "
            "figure least moved by other jobs):",
            "",
            *detail(results),
            "",
        ]
    if crm is not None:
        rate = float(crm["rows"]) / float(crm["seconds"])  # type: ignore[arg-type]
        parts += [
            "CRM: 1 customer per 10 orders, PostgreSQL on 127.0.0.1 → DuckDB:",
            "",
            "| what | rows | seconds | rows/s | CPU s | peak RSS MB |",
            "|---|---:|---:|---:|---:|---:|",
            f"| revops CRM ({crm['tables']}) | {crm['rows']:,} | "
            f"{float(crm['seconds']):.2f} | {rate:,.0f} | {crm['cpu_s']} | "  # type: ignore[arg-type]
            f"{crm['peak_rss_mb']} |",
            "",
        ]
    text = "\n".join(parts)
    out.write_text(text, encoding="utf-8")
    print(text)


if __name__ == "__main__":
    main()
