"""Benchmark: landing and transforming realistic events on DuckDB and PostgreSQL.

For each N: write N real-format events (Stripe invoice / customer events in both API shapes,
Salesforce CDC; about 3 KB each) to NDJSON on disk; land them with ``ingest_lines`` (NDJSON on
disk → committed rows in ``events_raw``) and, in the same run, insert the same rows with the
engine's own bulk path (DuckDB from Arrow, PostgreSQL binary COPY) into a copy of ``events_raw``
as the ceiling; time the full transform; then land 10,000 new events and time the incremental
transform that brings everything up to date.

    python benchmarks/transform.py --n 100000 [--engines duckdb,postgres] [--out FILE]
"""

from __future__ import annotations

import argparse
import copy
import os
import platform
import random
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from revops.ingest.files import ingest_lines  # noqa: E402
from revops.ingest.land import RAW_COLUMNS  # noqa: E402
from revops.sources.detect import normalize_record  # noqa: E402
from revops.transform import run_transform  # noqa: E402
from revops.warehouse import connect, ensure_schema  # noqa: E402

FIXTURES = ROOT / "tests" / "fixtures"
PG_ADMIN = os.environ.get("REVOPS_BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
INCREMENT = 10_000
T0 = int(datetime(2024, 1, 1, tzinfo=UTC).timestamp())
FILLER = (
    "Thank you for your business. Payment is due within 30 days. "
    "お支払いは請求書記載の期日までにお願いいたします。"
)


def _fixture(folder: str, name: str) -> dict[str, Any]:
    return orjson.loads((FIXTURES / folder / f"{name}.json").read_bytes())


TEMPLATES = {
    "basil": _fixture("stripe", "invoice_paid_basil_c1_m1"),
    "old": _fixture("stripe", "invoice_paid_annual_c5"),
    "customer": _fixture("stripe", "customer_updated_c1_account"),
    "create": _fixture("salesforce", "cdc_create_o1"),
    "update": _fixture("salesforce", "cdc_update_o1_won"),
}


TAX_RATE = {
    "id": "txr_jp_consumption",
    "object": "tax_rate",
    "active": True,
    "country": "JP",
    "created": T0,
    "description": "Japan consumption tax",
    "display_name": "消費税",
    "effective_percentage": 10.0,
    "inclusive": False,
    "jurisdiction": "JP",
    "jurisdiction_level": "country",
    "livemode": False,
    "metadata": {},
    "percentage": 10.0,
    "state": None,
    "tax_type": "jct",
}
# Fields every real invoice carries that the transform does not read (they make the size real).
INVOICE_EXTRAS = {
    "account_name": "Example KK",
    "account_tax_ids": None,
    "application": None,
    "automatic_tax": {
        "disabled_reason": None,
        "enabled": False,
        "liability": None,
        "provider": None,
        "status": None,
    },
    "customer_name": "株式会社サンプル",
    "customer_phone": None,
    "customer_shipping": None,
    "customer_tax_exempt": "none",
    "customer_tax_ids": [],
    "default_payment_method": None,
    "default_source": None,
    "default_tax_rates": [TAX_RATE],
    "discounts": [],
    "effective_at": T0,
    "ending_balance": 0,
    "from_invoice": None,
    "issuer": {"type": "self"},
    "last_finalization_error": None,
    "latest_revision": None,
    "on_behalf_of": None,
    "payment_settings": {
        "default_mandate": None,
        "payment_method_options": {
            "acss_debit": None,
            "bancontact": None,
            "card": {"request_three_d_secure": "automatic"},
            "customer_balance": None,
            "konbini": None,
            "sepa_debit": None,
            "us_bank_account": None,
        },
        "payment_method_types": ["card", "konbini", "customer_balance"],
    },
    "post_payment_credit_notes_amount": 0,
    "pre_payment_credit_notes_amount": 0,
    "receipt_number": None,
    "rendering": {
        "amount_tax_display": "include_inclusive_tax",
        "pdf": {"page_size": "a4"},
        "template": None,
    },
    "shipping_cost": None,
    "shipping_details": None,
    "starting_balance": 0,
    "statement_descriptor": None,
    "test_clock": None,
    "threshold_reason": None,
    "total_discount_amounts": [],
    "total_excluding_tax": 0,
    "total_taxes": [],
    "transfer_data": None,
    "webhooks_delivered_at": T0,
}


class EventFactory:
    """Realistic events with fresh ids: invoices (finalized → paid → updated), customers,
    opportunities (CDC create → won)."""

    def __init__(self, seed: int, customers: int) -> None:
        self.rng = random.Random(seed)
        self.customers = customers
        self.n = 0

    def _stripe(self, kind: str, typ: str, created: int, obj: dict[str, Any]) -> dict[str, Any]:
        self.n += 1
        ev = copy.deepcopy(TEMPLATES[kind])
        ev.update(id=f"evt_b{self.n:09d}", type=typ, created=created)
        ev["request"] = {"id": f"req_b{self.n:09d}", "idempotency_key": f"k{self.n}"}
        ev["data"] = {"object": obj}
        return ev

    def invoice_events(self, k: int) -> list[dict[str, Any]]:
        kind = "basil" if k % 2 else "old"
        inv = copy.deepcopy(TEMPLATES[kind]["data"]["object"])
        cust = f"cus_b{k % self.customers:07d}"
        start = T0 + (k % 700) * 86400
        amount = self.rng.choice((5000, 10000, 29900, 100000))
        inv.update(
            id=f"in_b{k:09d}",
            customer=cust,
            created=start,
            amount_due=amount,
            footer=FILLER,
            description=FILLER[:80],
            customer_address={
                "city": "Shibuya",
                "country": "JP",
                "line1": "1-2-3",
                "postal_code": "150-0002",
                "state": "Tokyo",
            },
            custom_fields=[{"name": "PO", "value": f"PO-{k}"}],
            **INVOICE_EXTRAS,
        )
        inv["metadata"] = {"opportunity_id": f"006b{k // 3:08d}"} if k % 3 == 0 else {}
        for line in inv["lines"]["data"]:
            line.update(id=f"il_b{k:09d}", amount=amount)
            line["period"] = {"start": start, "end": start + 30 * 86400}
        out = []
        for step, (typ, status, paid) in enumerate(
            (
                ("invoice.finalized", "open", 0),
                ("invoice.paid", "paid", amount),
                ("invoice.updated", "paid", amount),
            )
        ):
            snap = copy.deepcopy(inv)
            snap.update(status=status, amount_paid=paid, amount_remaining=amount - paid)
            snap["status_transitions"] = {
                "finalized_at": start,
                "marked_uncollectible_at": None,
                "paid_at": start + 86400 if paid else None,
                "voided_at": None,
            }
            out.append(self._stripe(kind, typ, start + step * 86400, snap))
        return out

    def customer_event(self, c: int) -> dict[str, Any]:
        obj = copy.deepcopy(TEMPLATES["customer"]["data"]["object"])
        obj.update(
            id=f"cus_b{c:07d}",
            email=f"billing{c}@example.jp",
            metadata={"sf_account_id": f"001b{c:07d}"},
            description=FILLER,
        )
        return self._stripe("customer", "customer.updated", T0 + c, obj)

    def opportunity_events(self, o: int) -> list[dict[str, Any]]:
        out = []
        for kind, extra in (
            (
                "create",
                {
                    "Name": f"Deal {o}",
                    "AccountId": f"001b{o % self.customers:07d}",
                    "Amount": 120000,
                    "Description": FILLER * 8,
                },
            ),
            ("update", {"StageName": "Closed Won"}),
        ):
            self.n += 1
            ev = copy.deepcopy(TEMPLATES[kind])
            header = ev["payload"]["ChangeEventHeader"]
            header.update(
                recordIds=[f"006b{o:08d}"],
                commitNumber=2**53 + self.n,
                commitTimestamp=(T0 + (o % 700) * 86400 + self.n % 1000) * 1000,
                transactionKey=f"tx{self.n}",
            )
            ev["payload"].update(extra)
            ev["event"] = {"replayId": self.n}
            out.append(ev)
        return out

    def batch(self, start: int, count: int) -> list[bytes]:
        """``count`` events; the mix is 3 invoice events : 2 CDC events : ~0.2 customers."""
        lines: list[bytes] = []
        k = start
        while len(lines) < count:
            for ev in self.invoice_events(k):
                lines.append(orjson.dumps(ev))
            if k % 3 == 0:
                lines.extend(orjson.dumps(e) for e in self.opportunity_events(k // 3))
            if k % 5 == 0:
                lines.append(orjson.dumps(self.customer_event((k // 5) % self.customers)))
            k += 1
        return lines[:count]


CHUNK = 50_000


def write_ndjson(path: Path, factory: EventFactory, start: int, count: int) -> int:
    """Write ``count`` events in chunks (never all in memory); returns the file size."""
    with path.open("wb") as fh:
        for first in range(start, start + count, CHUNK):
            for line in factory.batch(first, min(CHUNK, start + count - first)):
                fh.write(line + b"\n")
    return path.stat().st_size


def ndjson_chunks(path: Path) -> Iterator[list[bytes]]:
    """The file's lines, ``CHUNK`` at a time."""
    chunk: list[bytes] = []
    with path.open("rb") as fh:
        for line in fh:
            chunk.append(line.rstrip(b"\n"))
            if len(chunk) == CHUNK:
                yield chunk
                chunk = []
    if chunk:
        yield chunk


def ceiling_rows(lines: list[bytes], first_seq: int) -> list[tuple[Any, ...]]:
    """The rows ingest lands for ``lines``, prepared in memory (not timed)."""
    now = datetime.now(UTC)
    rows = []
    for seq, line in enumerate(lines, start=first_seq):
        env = normalize_record(orjson.loads(line))[0]
        rows.append(
            (
                env.event_id,
                env.source,
                env.type,
                env.event_ts,
                line.decode(),
                env.correlation_id,
                now,
                seq,
            )
        )
    return rows


def _arrow_rows(rows: list[tuple[Any, ...]]) -> Any:
    """``rows`` as a typed Arrow table with events_raw's columns."""
    import pyarrow as pa

    ts = pa.timestamp("us", tz="UTC")
    types = [pa.string(), pa.string(), pa.string(), ts, pa.string(), pa.string(), ts, pa.int64()]
    cols = list(zip(*rows, strict=True))
    return pa.table({c: pa.array(v, t) for c, v, t in zip(RAW_COLUMNS, cols, types, strict=True)})


def _binary_copy(rows: list[tuple[Any, ...]]) -> bytes:
    """``rows`` as the data of a binary COPY (signature, rows, trailer)."""
    import struct

    pg_epoch = datetime(2000, 1, 1, tzinfo=UTC)
    out = [b"PGCOPY\n\xff\r\n\x00" + struct.pack(">ii", 0, 0)]
    for row in rows:
        out.append(struct.pack(">h", len(row)))
        for value in row:
            if value is None:
                out.append(struct.pack(">i", -1))
            elif isinstance(value, datetime):
                us = (value - pg_epoch) // timedelta(microseconds=1)
                out.append(struct.pack(">iq", 8, us))
            elif isinstance(value, int):
                out.append(struct.pack(">iq", 8, value))
            else:
                text = value.encode()
                out.append(struct.pack(">i", len(text)) + text)
    out.append(struct.pack(">h", -1))
    return b"".join(out)


def engine_bulk_rate(wh: Any, path: Path) -> float:
    """Rows/s of the engine's own bulk insert (DuckDB from Arrow, PostgreSQL COPY) of the
    same rows into a copy of events_raw, one transaction per chunk; only inserts are timed."""
    wh.execute("CREATE SCHEMA IF NOT EXISTS revops_bench")
    wh.execute("DROP TABLE IF EXISTS revops_bench.events_raw_ceiling")
    wh.execute(
        "CREATE TABLE revops_bench.events_raw_ceiling (event_id VARCHAR PRIMARY KEY, "
        "source VARCHAR NOT NULL, type VARCHAR NOT NULL, event_ts TIMESTAMPTZ NOT NULL, "
        "payload VARCHAR NOT NULL, correlation_id VARCHAR, inserted_at TIMESTAMPTZ "
        "NOT NULL, raw_seq BIGINT NOT NULL)"
    )
    elapsed, total = 0.0, 0
    for lines in ndjson_chunks(path):
        rows = ceiling_rows(lines, total + 1)
        if total == 0:  # warm up the bulk path (driver imports, first COPY), untimed
            with wh.transaction():
                wh.insert_rows("revops_bench.events_raw_ceiling", RAW_COLUMNS, rows[:100])
            total, rows = 100, rows[100:]
        # The engine's own rate: its input built untimed, in the engine's fastest form (a
        # typed Arrow table for DuckDB, the data of a binary COPY for PostgreSQL).
        table = _arrow_rows(rows) if wh.dialect == "duckdb" else None
        data = _binary_copy(rows) if table is None else None
        started = time.perf_counter()
        with wh.transaction():
            if table is not None:
                wh.insert_arrow("revops_bench.events_raw_ceiling", table)
            else:
                wh.copy_binary("revops_bench.events_raw_ceiling", RAW_COLUMNS, data)
        elapsed += time.perf_counter() - started
        total += len(rows)
    wh.execute("DROP TABLE revops_bench.events_raw_ceiling")
    return total / elapsed


def open_engine(engine: str, workdir: Path, n: int) -> tuple[Any, str]:
    if engine == "duckdb":
        url = f"duckdb:///{workdir}/bench_{n}.duckdb"
        return connect(url), url
    import psycopg

    name = f"revops_bench_transform_{n}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{name}"')
    url = PG_ADMIN.rsplit("/", 1)[0] + "/" + name
    return connect(url), url


def bench_one(
    engine: str,
    n: int,
    workdir: Path,
    ndjson: Path,
    more_path: Path,
) -> dict[str, Any]:
    wh, _ = open_engine(engine, workdir, n)
    ensure_schema(wh)
    ceiling = engine_bulk_rate(wh, ndjson)
    started = time.perf_counter()
    with ndjson.open("rb") as fh:
        # Same transaction size as the bulk ceiling ([ingest] batch_size = 50000).
        report = ingest_lines(wh, fh, name=str(ndjson), batch_size=CHUNK)
    land_s = time.perf_counter() - started
    assert report.new == n, report.as_dict()
    started = time.perf_counter()
    run_transform(wh, full=True)
    full_s = time.perf_counter() - started  # wall clock, commit included
    with more_path.open("rb") as fh:
        ingest_lines(wh, fh, name=str(more_path))
    started = time.perf_counter()
    incr = run_transform(wh)
    incr_s = time.perf_counter() - started
    wh.close()
    return {
        "engine": engine,
        "n": n,
        "land_eps": n / land_s,
        "ceiling_eps": ceiling,
        "land_ratio": (n / land_s) / ceiling,
        "full_s": full_s,
        "incr_s": incr_s,
        "incr_events": incr.events,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", default="100000", help="comma-separated event counts")
    parser.add_argument("--engines", default="duckdb,postgres")
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "RESULTS-transform.md"))
    parser.add_argument("--note", default="", help="a line about the machine, for the file")
    args = parser.parse_args(argv)
    results = []
    with tempfile.TemporaryDirectory(prefix="revops-bench-") as tmp:
        workdir = Path(tmp)
        for n in (int(x) for x in args.n.split(",")):
            factory = EventFactory(seed=n, customers=max(n // 40, 10))
            ndjson, more_path = workdir / f"events_{n}.ndjson", workdir / f"more_{n}.ndjson"
            size = write_ndjson(ndjson, factory, 0, n)
            write_ndjson(more_path, factory, n, INCREMENT)
            print(f"N={n}: {size / n:.0f} bytes/event on disk", flush=True)
            for engine in args.engines.split(","):
                r = bench_one(engine, n, workdir, ndjson, more_path)
                r["bytes_per_event"] = size / n
                results.append(r)
                write_results(Path(args.out), results, args, argv)  # keep what is measured
                print(
                    f"  {engine:8s} land {r['land_eps']:9,.0f} ev/s  bulk ceiling "
                    f"{r['ceiling_eps']:9,.0f} rows/s  ({r['land_ratio']:.0%})  full "
                    f"transform {r['full_s']:.2f}s  +{INCREMENT:,} incremental "
                    f"{r['incr_s']:.2f}s",
                    flush=True,
                )
    write_results(Path(args.out), results, args, argv)
    return 0


def write_results(
    path: Path, results: list[dict[str, Any]], args: Any, argv: list[str] | None
) -> None:
    command = "python benchmarks/transform.py " + " ".join(
        argv if argv is not None else sys.argv[1:]
    )
    lines = [
        "# Transform benchmark (landing, full and incremental transform)",
        "",
        f"Command: `{command}`",
        "",
        f"Machine: {platform.machine()}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()}, {platform.system()} {platform.release()}. "
        + (args.note or ""),
        "",
        "| engine | N | bytes/event | landing ev/s (NDJSON → events_raw) | engine bulk rows/s "
        "| landing / bulk | full transform s | +10,000 events incremental s |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        lines.append(
            f"| {r['engine']} | {r['n']:,} | {r['bytes_per_event']:.0f} | "
            f"{r['land_eps']:,.0f} | {r['ceiling_eps']:,.0f} | {r['land_ratio']:.0%} | "
            f"{r['full_s']:.2f} | {r['incr_s']:.2f} |"
        )
    lines += [
        "",
        "- landing: `ingest_lines` from the NDJSON file on disk (parse, detect, envelope, dedupe "
        "against events_raw, insert, audit) with 50,000-event transactions, to committed rows.",
        "- engine bulk: the same rows, prepared in memory beforehand (not timed), inserted into "
        "a copy of events_raw (same columns and primary key) with the engine's bulk path "
        "(DuckDB: INSERT from a typed Arrow table built untimed; PostgreSQL: binary COPY of data "
        "built untimed), 50,000 rows per transaction.",
        "- full transform: `run_transform(full=True)` over the N events (staging, facts, marts).",
        "- incremental: 10,000 new events (new invoices of existing customers, new and won "
        "opportunities, customer updates) landed, then `run_transform()` timed.",
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"wrote {path}")


if __name__ == "__main__":
    raise SystemExit(main())
