"""Benchmark: landing and transforming realistic events on DuckDB and PostgreSQL.

For each N: write N real-format events (Stripe invoice / customer events in both API shapes,
Salesforce CDC; about 3 KB each) to NDJSON on disk; land them with ``ingest_lines`` (NDJSON on
disk → committed rows in ``events_raw``) and, in the same run, insert the same rows with the
engine's own bulk path (DuckDB from Arrow, PostgreSQL binary COPY) into a copy of ``events_raw``
as the ceiling; time the full transform; then, in each of ``--rounds`` rounds, land 10,000 new
events and time the incremental transform that brings everything up to date. Finally the
incremental result is checked against a full rebuild of the same events (every fact, link and
mart table compared row for row; the rebuild is timed too).

    python benchmarks/transform.py --n 100000 [--engines duckdb,postgres] [--out FILE]

``--workdir DIR`` keeps the generated NDJSON (and the warehouse files) in DIR and reuses event
files already written there by an earlier run with the same N (generation is deterministic and
not timed; at 5M it takes longer than the measured steps). ``--no-ceiling`` skips the bulk
ceiling (reported as not measured). ``--base save`` keeps a copy of the DuckDB warehouse
after landing and the full transform in DIR; ``--base from`` starts a later run from that copy
and measures only the incremental rounds and the check.
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import copy
import os
import platform
import random
import shutil
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
# DuckDB's own cache would otherwise grow to 80 % of the machine's memory, which with the
# Python side of a 5M-event full rebuild does not fit a 24 GB machine shared with others
# (``[warehouse] memory_limit``; the 100k and 1M warehouses fit in it whole).
DUCKDB_MEMORY = "8GB"
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
    """Write ``count`` events in chunks (never all in memory); returns the file size.

    A file already completed by an earlier run (marked ``<name>.done``) is reused: the events
    depend only on the seed, ``start`` and ``count``, and ids are drawn from the factory's
    counter and random generator, so both are set exactly as writing would leave them."""
    done = path.with_name(path.name + ".done")
    if done.exists() and done.read_text() == f"{start} {count} {factory.n}\n" and path.exists():
        n, state = ast.literal_eval(path.with_name(path.name + ".next").read_text())
        factory.n = n
        factory.rng.setstate(state)
        return path.stat().st_size
    first_n = factory.n
    with path.open("wb") as fh:
        for first in range(start, start + count, CHUNK):
            for line in factory.batch(first, min(CHUNK, start + count - first)):
                fh.write(line + b"\n")
    path.with_name(path.name + ".next").write_text(repr((factory.n, factory.rng.getstate())))
    done.write_text(f"{start} {count} {first_n}\n")
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
        path = workdir / f"bench_{n}.duckdb"
        for old in (path, path.with_name(path.name + ".wal")):
            with contextlib.suppress(FileNotFoundError):
                old.unlink()
        url = f"duckdb:///{path}"
        return connect(url, memory_limit=DUCKDB_MEMORY), url
    import psycopg

    name = f"revops_bench_transform_{n}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{name}"')
    url = PG_ADMIN.rsplit("/", 1)[0] + "/" + name
    return connect(url), url


# Tables an incremental run must leave exactly as a full rebuild does (with their order keys);
# the columns that legitimately differ between two runs are left out of the comparison.
VERIFY_TABLES = {
    "fact_opportunity": (),
    "fact_billing": (),
    "fact_invoice_line": (),
    "fact_customer": (),
    "fact_price": (),
    "id_mappings": (),
    "cdc_refetch": (),
    "won_invoice_link": (),
    "mrr_customer_monthly": (),
    "nrr_customer_movement": (),
    "nrr_monthly_total": (),
    "mart_won_to_paid": (),
    "mart_nrr_monthly": (),
    "mart_collections": ("as_of", "days_past_due"),  # today's date: a run may cross midnight
}


def _columns(wh: Any, table: str, skip: tuple[str, ...]) -> str:
    rows = wh.query(
        "SELECT column_name FROM information_schema.columns "
        "WHERE table_schema = 'revops' AND table_name = ? ORDER BY ordinal_position",
        (table,),
    )
    return ", ".join(r["column_name"] for r in rows if r["column_name"] not in skip)


def verify_against_full(wh: Any) -> tuple[float, dict[str, int]]:
    """Copy the incremental result, rebuild everything with a full transform (timed) and count,
    per table, the rows that are in one result and not the other (all must be 0)."""
    wh.execute("CREATE SCHEMA IF NOT EXISTS revops_bench")
    for table, skip in VERIFY_TABLES.items():
        wh.execute(f"DROP TABLE IF EXISTS revops_bench.incr_{table}")
        wh.execute(
            f"CREATE TABLE revops_bench.incr_{table} AS "
            f"SELECT {_columns(wh, table, skip)} FROM revops.{table}"
        )
    started = time.perf_counter()
    run_transform(wh, full=True)
    full_s = time.perf_counter() - started
    diffs = {}
    for table, skip in VERIFY_TABLES.items():
        cols = _columns(wh, table, skip)
        a, b = f"revops_bench.incr_{table}", f"(SELECT {cols} FROM revops.{table})"
        diffs[table] = int(
            wh.query_value(
                f"SELECT (SELECT count(*) FROM (SELECT * FROM {a} EXCEPT ALL "
                f"SELECT * FROM {b} AS f) AS x) + (SELECT count(*) FROM (SELECT * FROM {b} AS f "
                f"EXCEPT ALL SELECT * FROM {a}) AS y)"
            )
        )
        wh.execute(f"DROP TABLE revops_bench.incr_{table}")
    return full_s, diffs


def bench_one(
    engine: str,
    n: int,
    workdir: Path,
    ndjson: Path,
    more_paths: list[Path],
    *,
    ceiling: bool = True,
    base: str = "",
    verify: bool = True,
) -> dict[str, Any]:
    saved = workdir / f"base_{n}.duckdb"
    land_s = full_s = ceiling_eps = None
    if base == "from" and engine == "duckdb":
        # The warehouse an earlier run of this script landed and fully transformed (same
        # events, same code): only the incremental rounds and the check are measured.
        path = workdir / f"bench_{n}.duckdb"
        wh, _ = open_engine(engine, workdir, n)
        wh.close()
        shutil.copyfile(saved, path)
        wh = connect(f"duckdb:///{path}", memory_limit=DUCKDB_MEMORY)
    else:
        wh, _ = open_engine(engine, workdir, n)
        ensure_schema(wh)
        ceiling_eps = engine_bulk_rate(wh, ndjson) if ceiling else None
        started = time.perf_counter()
        with ndjson.open("rb") as fh:
            # Same transaction size as the bulk ceiling ([ingest] batch_size = 50000).
            report = ingest_lines(wh, fh, name=str(ndjson), batch_size=CHUNK)
        land_s = time.perf_counter() - started
        assert report.new == n, report.as_dict()
        started = time.perf_counter()
        run_transform(wh, full=True)
        full_s = time.perf_counter() - started  # wall clock, commit included
        if base == "save" and engine == "duckdb":
            wh.execute("CHECKPOINT")
            shutil.copyfile(workdir / f"bench_{n}.duckdb", saved)
    rounds = []
    for more_path in more_paths:
        with more_path.open("rb") as fh:
            ingest_lines(wh, fh, name=str(more_path))
        started, cpu = time.perf_counter(), time.process_time()
        incr = run_transform(wh)
        rounds.append(time.perf_counter() - started)
        cpu = time.process_time() - cpu  # this process (DuckDB's threads included)
        assert incr.events == INCREMENT, incr.as_dict()
        print(
            f"  {engine}: +{INCREMENT:,} incremental {rounds[-1]:.2f}s (CPU {cpu:.2f}s)", flush=True
        )
    if land_s is not None:
        print(f"  {engine}: landing {land_s:.1f}s, full transform {full_s:.1f}s", flush=True)
    rebuild_s, diffs = verify_against_full(wh) if verify else (None, {})
    wh.close()
    if any(diffs.values()):
        raise AssertionError(f"incremental differs from a full rebuild: {diffs}")
    return {
        "engine": engine,
        "n": n,
        "land_eps": n / land_s if land_s else None,
        "ceiling_eps": ceiling_eps,
        "land_ratio": (n / land_s) / ceiling_eps if ceiling_eps and land_s else None,
        "full_s": full_s,
        "incr_rounds": rounds,
        "incr_s": sorted(rounds)[len(rounds) // 2],
        "rebuild_s": rebuild_s,
        "verified": verify,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", default="100000", help="comma-separated event counts")
    parser.add_argument("--engines", default="duckdb,postgres")
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "RESULTS-transform.md"))
    parser.add_argument("--note", default="", help="a line about the machine, for the file")
    parser.add_argument(
        "--rounds", type=int, default=3, help="incremental rounds of 10,000 events (median kept)"
    )
    parser.add_argument(
        "--workdir", default=None, help="keep (and reuse) the generated events in this folder"
    )
    parser.add_argument(
        "--no-ceiling", action="store_true", help="skip the engine bulk ceiling (not measured)"
    )
    parser.add_argument(
        "--no-verify",
        action="store_true",
        help="skip the check against a full rebuild (reported as not checked in this run)",
    )
    parser.add_argument(
        "--base",
        choices=("", "save", "from"),
        default="",
        help="DuckDB: save the landed, fully transformed warehouse in --workdir, or start from "
        "the one saved there (landing and full transform then not measured in this run)",
    )
    args = parser.parse_args(argv)
    results: list[dict[str, Any]] = []
    with contextlib.ExitStack() as stack:
        if args.workdir:
            workdir = Path(args.workdir)
            workdir.mkdir(parents=True, exist_ok=True)
        else:
            workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="revops-bench-")))
        for n in (int(x) for x in args.n.split(",")):
            factory = EventFactory(seed=n, customers=max(n // 40, 10))
            ndjson = workdir / f"events_{n}.ndjson"
            size = write_ndjson(ndjson, factory, 0, n)
            more_paths = []
            for i in range(args.rounds):
                more = workdir / f"more_{n}_{i}.ndjson"
                write_ndjson(more, factory, n + i * INCREMENT, INCREMENT)
                more_paths.append(more)
            print(f"N={n}: {size / n:.0f} bytes/event on disk", flush=True)
            for engine in args.engines.split(","):
                r = bench_one(
                    engine,
                    n,
                    workdir,
                    ndjson,
                    more_paths,
                    ceiling=not args.no_ceiling,
                    base=args.base,
                    verify=not args.no_verify,
                )
                r["bytes_per_event"] = size / n
                results.append(r)
                write_results(Path(args.out), results, args, argv)  # keep what is measured
                ceiling = (
                    f"bulk ceiling {r['ceiling_eps']:9,.0f} rows/s  ({r['land_ratio']:.0%})"
                    if r["ceiling_eps"]
                    else "bulk ceiling not measured"
                )
                land = (
                    f"land {r['land_eps']:9,.0f} ev/s  {ceiling}  full transform {r['full_s']:.2f}s"
                    if r["land_eps"]
                    else "landing and full transform from the saved base"
                )
                print(
                    f"  {engine:8s} {land}  +{INCREMENT:,} incremental "
                    + " / ".join(f"{x:.2f}s" for x in r["incr_rounds"])
                    + (
                        f"  (full rebuild after them {r['rebuild_s']:.2f}s, equal to the "
                        "incremental result)"
                        if r["verified"]
                        else "  (not checked against a full rebuild in this run)"
                    ),
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
        "| landing / bulk | full transform s | +10,000 events incremental s (median; rounds) "
        "| incremental = full |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in results:
        ceiling = (
            (f"{r['ceiling_eps']:,.0f}", f"{r['land_ratio']:.0%}")
            if r["ceiling_eps"]
            else ("not measured", "—")
        )
        rounds = " / ".join(f"{x:.2f}" for x in r["incr_rounds"])
        land = f"{r['land_eps']:,.0f}" if r["land_eps"] else "(saved base)"
        full = f"{r['full_s']:.2f}" if r["full_s"] else "(saved base)"
        lines.append(
            f"| {r['engine']} | {r['n']:,} | {r['bytes_per_event']:.0f} | "
            f"{land} | {ceiling[0]} | {ceiling[1]} | "
            f"{full} | {r['incr_s']:.2f} ({rounds}) | "
            + (f"yes (rebuilt in {r['rebuild_s']:.2f} s) |" if r["verified"] else "not checked |")
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
        "opportunities, customer updates) landed, then `run_transform()` timed, commit "
        "included; repeated for each round on top of the previous one (N, N + 10k, …).",
        "- incremental = full: after the rounds, every fact, link, per-customer MRR/NRR and "
        "mart table is copied, a full rebuild of the same events runs (timed), and the two "
        "results are compared row for row (EXCEPT ALL both ways; only the collections' "
        "as-of date and days past due are left out); the run fails on any difference.",
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"wrote {path}")


if __name__ == "__main__":
    raise SystemExit(main())
