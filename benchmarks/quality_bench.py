"""Data-quality check throughput: the ads suite (9 expectations) over N rows of raw_ads.

Usage: python benchmarks/quality_bench.py [ROWS ...] [--pg URL] [--sample-rows N] [--out FILE]

DuckDB: rows are read into a dataframe and validated by Great Expectations (pandas); above
``--sample-rows`` a uniform sample of that size is validated. PostgreSQL (``--pg``): the
expectations run in the database. Prints one line per run and appends them to --out.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from datetime import UTC, date, datetime
from pathlib import Path

import pyarrow as pa

from revops.config import Settings
from revops.quality import run_checks
from revops.warehouse import connect, ensure_schema


def _fill(wh, rows: int) -> None:
    now = datetime.now(UTC)
    batch = 200_000
    for start in range(0, rows, batch):
        n = min(batch, rows - start)
        ids = range(start, start + n)
        cols = {
            "date": [date(2026, 11, 30)] * n,
            "campaign_id": [f"c{i % 5000}" for i in ids],
            "channel": ["Google"] * n,
            "impressions": [1000 + i % 97 for i in ids],
            "clicks": [i % 50 for i in ids],
            "cost": [float(i % 1000) / 10 for i in ids],
            "conversions": [i % 3 for i in ids],
            "loaded_at": [now] * n,
        }
        if hasattr(wh, "insert_arrow"):
            wh.insert_arrow("revops.raw_ads", pa.table(cols))
        else:
            wh.insert_rows("revops.raw_ads", list(cols), list(zip(*cols.values(), strict=True)))


def bench(url: str, rows: int, sample_rows: int, reset) -> str:
    reset()
    wh = connect(url)
    ensure_schema(wh)
    _fill(wh, rows)
    settings = Settings(data={"quality": {"sample_rows": sample_rows, "data_docs": False}}, env={})
    run_checks(wh, settings, ["fact_opportunity"])  # warm up: GX import, first context
    started = time.perf_counter()
    report = run_checks(wh, settings, ["ads"])
    seconds = time.perf_counter() - started
    wh.close()
    summary = report.summary()[0]
    return (
        f"| {wh.dialect} | {rows:,} | {sample_rows:,} | {seconds:.2f} s | "
        f"{rows / seconds:,.0f} rows/s | {summary} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("rows", nargs="*", type=int, default=[10_000])
    parser.add_argument("--pg", default=None)
    parser.add_argument("--sample-rows", type=int, default=1_000_000)
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    lines = []
    with tempfile.TemporaryDirectory() as tmp:
        for rows in args.rows:
            path = Path(tmp) / f"b{rows}.duckdb"

            def reset_duck(path: Path = path) -> None:
                path.unlink(missing_ok=True)

            lines.append(bench(f"duckdb:///{path}", rows, args.sample_rows, reset_duck))
            print(lines[-1], flush=True)
            if args.pg:

                def reset_pg() -> None:
                    import psycopg

                    with psycopg.connect(args.pg, autocommit=True) as con:
                        con.execute("DROP SCHEMA IF EXISTS revops CASCADE")

                lines.append(bench(args.pg, rows, args.sample_rows, reset_pg))
                print(lines[-1], flush=True)
    if args.out:
        with open(args.out, "a", encoding="utf-8") as fh:
            fh.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
