"""Ingest benchmark: durable webhooks per second through ``revops serve``.

A bounded load generator on loopback sends real-format signed Stripe ``invoice.paid`` events
(about 3 KB) at concurrency 1, 16 and 64 to three servers, one after the other, on the same
stack (uvicorn, one worker, FastAPI):

* ``revops serve``: verify, publish to the SQLite WAL bus (group commit, fsync), answer once
  durable; the loader lands the events in the warehouse behind it.
* the receiver ceiling: the same route verifying the signature and parsing the body, storing
  nothing.
* the seed's design: verify, then one synchronous PostgreSQL transaction per request (the event
  and an audit row).

Figures: acknowledged webhooks/s, ack latency p50 / p99, and receipt → mart p50 / p95 from the
server's ``revops_receipt_to_mart_seconds`` histogram when transforms are installed. At the end
the server is stopped with SIGTERM and the warehouse is checked to hold every acknowledged event.

    python benchmarks/ingest.py [--requests 10000] [--seconds 20] [--out FILE]
"""

from __future__ import annotations

import argparse
import asyncio
import copy
import os
import platform
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src"
FIXTURE = ROOT / "tests" / "serve" / "fixtures" / "stripe_invoice_paid.json"
SECRET = "whsec_benchmark_0123456789"
PG_ADMIN = os.environ.get("REVOPS_BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
CONCURRENCY = (1, 16, 64)

sys.path.insert(0, str(SRC))

from starlette.requests import Request  # noqa: E402 - resolved by FastAPI at route creation
from starlette.responses import Response  # noqa: E402

# -- servers --------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def reference_app(role: str, pg_url: str | None):  # type: ignore[no-untyped-def]
    """The ceiling (verify + parse) or the seed's design (+ one transaction per request)."""
    from fastapi import FastAPI

    from revops.ingest.receiver import (
        JSON_TYPES,
        Credentials,
        Rejection,
        TypeFilter,
        check_content_type,
        parse_stripe,
        verify_stripe,
    )

    creds = Credentials((SECRET,))
    accept = TypeFilter(["*"])
    app = FastAPI()
    import orjson

    def receive(request_headers, body: bytes):  # type: ignore[no-untyped-def]
        check_content_type(request_headers.get("content-type"), JSON_TYPES)
        verify_stripe(body, request_headers.get("stripe-signature"), creds, 300)
        return parse_stripe(body, accept)

    if role == "ceiling":
        # The receiver processes' own stack: Starlette routes on uvicorn, no FastAPI.
        from starlette.applications import Starlette
        from starlette.routing import Route

        async def ceiling(request: Request) -> Response:
            body = await request.body()
            try:
                parsed = receive(request.headers, body)
            except Rejection as rej:
                return Response(orjson.dumps(rej.body()), status_code=rej.status)
            return Response(
                orjson.dumps(
                    {
                        "accepted": len(parsed.messages),
                        "duplicates": 0,
                        "event_ids": [m.event_id for m in parsed.messages],
                    }
                ),
                media_type="application/json",
            )

        return Starlette(routes=[Route("/webhooks/stripe", ceiling, methods=["POST"])])

    from revops.warehouse import connect, ensure_schema

    wh = connect(pg_url or PG_ADMIN)
    ensure_schema(wh)

    def seed(request: Request, body: bytes) -> Response:
        try:
            parsed = receive(request.headers, body)
        except Rejection as rej:
            return Response(orjson.dumps(rej.body()), status_code=rej.status)
        m = parsed.messages[0]
        with wh.transaction():
            wh.execute(
                "INSERT INTO revops.events_raw (event_id, source, type, event_ts, "
                "payload, correlation_id, inserted_at, raw_seq) VALUES "
                "(?, ?, ?, ?, ?, NULL, now(), nextval('revops.events_raw_seq')) "
                "ON CONFLICT (event_id) DO NOTHING",
                (m.event_id, m.source, m.type, m.event_ts, m.body.decode()),
            )
            wh.execute(
                "INSERT INTO revops.audit_events (at, actor, resource, action, status, "
                "event_id) VALUES (now(), 'receiver', 'events_raw', 'receive', 'ok', ?)",
                (m.event_id,),
            )
        return Response(
            orjson.dumps({"accepted": 1, "duplicates": 0, "event_ids": [m.event_id]}),
            media_type="application/json",
        )

    async def seed_route(request: Request) -> Response:
        from starlette.concurrency import run_in_threadpool

        body = await request.body()
        return await run_in_threadpool(seed, request, body)

    app.add_api_route("/webhooks/stripe", seed_route, methods=["POST"])
    return app


def run_reference(role: str, port: int, pg_url: str | None, processes: int = 1) -> None:
    """One reference server; the ceiling with ``processes`` > 1 is laid out like serve's
    receivers: that many processes sharing one listening socket."""
    import uvicorn

    if role == "ceiling" and processes > 1:
        from revops.serve.supervisor import bind_public

        # As serve's receivers: one SO_REUSEPORT socket per process on the same port.
        socks = [bind_public("127.0.0.1", port, reuse_port=True) for _ in range(processes)]
        children = [
            subprocess.Popen(
                [sys.executable, __file__, "--role", "ceiling-child", "--fd", str(sock.fileno())],
                pass_fds=(sock.fileno(),),
            )
            for sock in socks
        ]
        signal.signal(signal.SIGTERM, lambda *_: [c.terminate() for c in children])
        for child in children:
            child.wait()
        return
    if role == "ceiling-child":
        config = uvicorn.Config(
            reference_app("ceiling", None),
            log_level="warning",
            access_log=False,
            server_header=False,
            date_header=False,
        )
        uvicorn.Server(config).run(sockets=[socket.socket(fileno=port)])
        return
    uvicorn.run(
        reference_app(role, pg_url),
        host="127.0.0.1",
        port=port,
        log_level="warning",
        access_log=False,
        server_header=False,
        date_header=False,
        backlog=2048,
    )


def start(cmd: list[str], env: dict[str, str], port: int, cwd: Path) -> subprocess.Popen:
    log = open(cwd / f"server-{port}.log", "ab")  # noqa: SIM115 - lives as long as the server
    proc = subprocess.Popen(cmd, env=env, cwd=cwd, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"server exited: {(cwd / f'server-{port}.log').read_text()}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return proc
        except OSError:
            time.sleep(0.1)
    raise SystemExit("server did not start")


# -- load -----------------------------------------------------------------------------------


def make_requests(n: int, offset: int) -> list[bytes]:
    """Signed HTTP requests carrying distinct ~3 KB invoice.paid events."""
    import orjson
    import stripe

    template = orjson.loads(FIXTURE.read_bytes())
    out = []
    now = int(time.time())
    for i in range(n):
        event = copy.deepcopy(template)
        event["id"] = f"evt_bench_{offset + i:08d}"
        event["created"] = now
        event["data"]["object"]["id"] = f"in_bench_{offset + i:08d}"
        body = orjson.dumps(event)
        sig = stripe.WebhookSignature.generate_signature_header(
            body.decode(), SECRET, timestamp=now
        )
        head = (
            "POST /webhooks/stripe HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            "Content-Type: application/json; charset=utf-8\r\n"
            f"Stripe-Signature: {sig}\r\nContent-Length: {len(body)}\r\n\r\n"
        )
        out.append(head.encode() + body)
    return out


async def _read_response(reader: asyncio.StreamReader) -> int:
    status_line = await reader.readline()
    if not status_line:
        raise ConnectionError("closed")
    status = int(status_line.split()[1])
    length = 0
    while True:
        line = await reader.readline()
        if line in (b"\r\n", b""):
            break
        if line[:15].lower() == b"content-length:":
            length = int(line[15:].strip())
    if length:
        await reader.readexactly(length)
    return status


async def _load(
    port: int, requests: list[bytes], concurrency: int, seconds: float
) -> tuple[list[float], int, float]:
    queue = iter(requests)
    latencies: list[float] = []
    failures = 0
    deadline = time.perf_counter() + seconds

    async def worker() -> None:
        nonlocal failures
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            for req in queue:
                if time.perf_counter() > deadline:
                    return
                t0 = time.perf_counter()
                writer.write(req)
                status = await _read_response(reader)
                if status == 200:
                    latencies.append(time.perf_counter() - t0)
                else:
                    failures += 1
        finally:
            writer.close()

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return latencies, failures, time.perf_counter() - started


def tree_cpu(pid: int) -> float:
    """CPU seconds used so far by process ``pid`` and its descendants (Linux /proc)."""
    tick = os.sysconf("SC_CLK_TCK")
    stats: dict[int, tuple[int, float]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        stats[int(entry.name)] = (int(fields[1]), (int(fields[11]) + int(fields[12])) / tick)
    total, todo = 0.0, [pid]
    while todo:
        current = todo.pop()
        total += stats.get(current, (0, 0.0))[1]
        todo.extend(child for child, (parent, _) in stats.items() if parent == current)
    return total


def machine_busy() -> tuple[int, int]:
    """(busy, total) jiffies of all cores so far."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return sum(values) - values[3] - values[4], sum(values)


def measure(
    port: int, n: int, concurrency: int, seconds: float, offset: int, pid: int | None = None
) -> dict:
    import resource

    requests = make_requests(n, offset)
    cpu0 = resource.getrusage(resource.RUSAGE_SELF)
    server0 = tree_cpu(pid) if pid else 0.0
    busy0 = machine_busy()
    latencies, failures, elapsed = asyncio.run(_load(port, requests, concurrency, seconds))
    cpu1 = resource.getrusage(resource.RUSAGE_SELF)
    server1 = tree_cpu(pid) if pid else 0.0
    busy1 = machine_busy()
    latencies.sort()
    loadgen = (cpu1.ru_utime + cpu1.ru_stime - cpu0.ru_utime - cpu0.ru_stime) / elapsed
    cores = os.cpu_count() or 1

    def pct(p: float) -> float:
        return (
            latencies[min(len(latencies) - 1, int(p * len(latencies)))] * 1000
            if latencies
            else float("nan")
        )

    return {
        "c": concurrency,
        "ok": len(latencies),
        "failed": failures,
        "rate": len(latencies) / elapsed,
        "p50": pct(0.50),
        "p99": pct(0.99),
        # CPU as % of one core over the measurement; "machine" counts every process.
        "loadgen_cpu": 100 * loadgen,
        "server_cpu": 100 * (server1 - server0) / elapsed,
        "machine_cpu": 100 * cores * (busy1[0] - busy0[0]) / max(1, busy1[1] - busy0[1]),
    }


def mart_buckets(port: int) -> list[tuple[float, float]]:
    """Cumulative buckets (upper bound s, count) of the server's receipt → mart histogram."""
    import httpx

    text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10).text
    buckets = []
    for line in text.splitlines():
        if line.startswith("revops_receipt_to_mart_seconds_bucket"):
            le = line.split('le="', 1)[1].split('"', 1)[0]
            bound = float("inf") if le == "+Inf" else float(le)
            buckets.append((bound, float(line.split()[-1])))
    return buckets


def quantiles(before: list, after: list) -> tuple[float, float, int] | None:
    """p50 / p95 (bucket upper bounds, s) and count of the observations between two reads."""
    old = dict(before)
    delta = [(le, count - old.get(le, 0.0)) for le, count in after]
    total = delta[-1][1] if delta else 0
    if not total:
        return None

    def q(p: float) -> float:
        return next(le for le, count in delta if count >= p * total)

    return q(0.50), q(0.95), int(total)


def metric(port: int, name: str) -> float:
    """The value of one unlabelled (or first labelled) sample of ``name``."""
    import httpx

    for line in httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10).text.splitlines():
        if line.startswith(name):
            return float(line.split()[-1])
    return 0.0


def wait_caught_up(port: int, timeout: float = 120.0) -> None:
    """Wait until every landed event has been through a transform (the marts caught up)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        landed = metric(port, 'revops_loader_events_total{result="new"}')
        seen = metric(port, "revops_receipt_to_mart_seconds_count")
        if metric(port, "revops_bus_depth") == 0 and seen >= landed:
            return
        time.sleep(0.2)


def paced(port: int, rate: float, seconds: float, offset: int) -> tuple[float, float, int] | None:
    """Send ``rate`` events/s for ``seconds`` on one connection; their receipt → mart
    quantiles once the transforms have caught up."""
    wait_caught_up(port)
    before = mart_buckets(port)
    requests = make_requests(int(rate * seconds), offset)

    async def send() -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        start = time.perf_counter()
        for n, req in enumerate(requests):
            delay = start + n / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            writer.write(req)
            await _read_response(reader)
        writer.close()

    asyncio.run(send())
    deadline = time.monotonic() + 60
    got = None
    while time.monotonic() < deadline:
        got = quantiles(before, mart_buckets(port))
        if got and got[2] >= len(requests):
            break
        time.sleep(0.2)
    return got


# -- the run --------------------------------------------------------------------------------


def fsync_latency(folder: Path, n: int = 200) -> float:
    """Median ms of appending 16 KB and fdatasync-ing it in ``folder`` (the bus's disk)."""
    path = folder / "fsync-probe"
    fd = os.open(path, os.O_RDWR | os.O_CREAT)
    times = []
    try:
        for _ in range(n):
            t0 = time.perf_counter()
            os.write(fd, b"x" * 16384)
            os.fdatasync(fd)
            times.append(time.perf_counter() - t0)
    finally:
        os.close(fd)
        path.unlink()
    return statistics.median(times) * 1000


def bench_interleaved(
    servers: dict[str, int], args: argparse.Namespace, serve_port: int, pids: dict[str, int]
) -> list[dict]:
    """Each concurrency level on every server back to back, so that a machine whose load
    changes over time weighs on all of them alike; the server is let catch up (bus empty,
    marts transformed) before the references are measured."""
    rows = []
    for k, port in enumerate(servers.values()):
        measure(port, 300, 8, 10, 90_000_000 + k * 1000)  # warm-up: imports, caches, pools
    wait_caught_up(serve_port)
    for i, c in enumerate(CONCURRENCY):
        n = args.requests if c > 1 else max(500, args.requests // 5)
        for k, (name, port) in enumerate(servers.items()):
            offset = k * 10_000_000 + (i + 1) * 1_000_000
            row = measure(port, n, c, args.seconds, offset, pids.get(name))
            row["server"] = name
            rows.append(row)
            print(
                f"{name:>8}  c={c:<3} {row['rate']:8.0f}/s  p50 {row['p50']:6.1f} ms  "
                f"p99 {row['p99']:6.1f} ms  ok {row['ok']}  failed {row['failed']}  "
                f"cpu: server {row['server_cpu']:.0f} %, load generator "
                f"{row['loadgen_cpu']:.0f} %, machine {row['machine_cpu']:.0f} %",
                flush=True,
            )
            if port == serve_port:
                wait_caught_up(serve_port)
    order = {name: n for n, name in enumerate(servers)}
    return sorted(rows, key=lambda r: (order[r["server"]], r["c"]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=10_000, help="per concurrency level")
    parser.add_argument("--seconds", type=float, default=20.0, help="time bound per level")
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "RESULTS-ingest.md"))
    parser.add_argument(
        "--role", choices=["ceiling", "ceiling-child", "seed"], help=argparse.SUPPRESS
    )
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--fd", type=int, help=argparse.SUPPRESS)
    parser.add_argument(
        "--processes",
        type=int,
        default=2,
        help="receiver processes of serve, and processes of the ceiling (0: serve receives "
        "in its main process, the ceiling runs one process)",
    )
    parser.add_argument("--pg-url", help=argparse.SUPPRESS)
    parser.add_argument("--skip-seed", action="store_true", help="no PostgreSQL reference")
    parser.add_argument(
        "--paced-rate", type=float, default=100.0, help="events/s of the receipt → mart phase"
    )
    parser.add_argument("--paced-seconds", type=float, default=10.0)
    args = parser.parse_args()
    if args.role:
        port = args.fd if args.role == "ceiling-child" else args.port
        run_reference(args.role, port, args.pg_url, args.processes)
        return

    work = Path(tempfile.mkdtemp(prefix="revops-bench-"))
    fsync_before = fsync_latency(work)
    env = {k: v for k, v in os.environ.items() if not k.startswith("REVOPS_")}
    env.update(
        {
            "PYTHONPATH": str(SRC),
            "REVOPS_STRIPE__WEBHOOK_SECRET": SECRET,
            "REVOPS_WAREHOUSE__URL": f"duckdb:///{work}/revops.duckdb",
            "REVOPS_SERVE__RECEIVER_PROCESSES": str(args.processes),
        }
    )
    rows: list[dict] = []

    procs: dict[str, subprocess.Popen] = {}
    ports: dict[str, int] = {}
    ports["serve"] = free_port()
    serve_cmd = [
        sys.executable,
        "-m",
        "revops",
        "serve",
        "--port",
        str(ports["serve"]),
        "--no-schedule",
        "--log-level",
        "warning",
    ]
    procs["serve"] = start(serve_cmd, env, ports["serve"], work)
    ports["ceiling"] = free_port()
    ceiling_cmd = [
        sys.executable,
        __file__,
        "--role",
        "ceiling",
        "--port",
        str(ports["ceiling"]),
        "--processes",
        str(args.processes),
    ]
    procs["ceiling"] = start(ceiling_cmd, env, ports["ceiling"], work)
    if args.processes > 1:  # the first ceiling: one process
        ports["ceiling-1p"] = free_port()
        one_cmd = [
            *ceiling_cmd[:5],
            str(ports["ceiling-1p"]),
            "--processes",
            "1",
        ]
        procs["ceiling-1p"] = start(one_cmd, env, ports["ceiling-1p"], work)
    seed_db = None
    if not args.skip_seed:
        seed_db = create_seed_database()
        ports["seed"] = free_port()
        seed_cmd = [
            sys.executable,
            __file__,
            "--role",
            "seed",
            "--port",
            str(ports["seed"]),
            "--pg-url",
            seed_db,
        ]
        procs["seed"] = start(seed_cmd, env, ports["seed"], work)
    try:
        before = mart_buckets(ports["serve"])
        pids = {name: proc.pid for name, proc in procs.items()}
        rows = bench_interleaved(ports, args, ports["serve"], pids)
        burst = quantiles(before, mart_buckets(ports["serve"]))
        for name in ("ceiling", "ceiling-1p", "seed"):
            if name in procs:  # the steady phase measures the server alone
                procs[name].terminate()
                procs[name].wait(60)
        steady = paced(ports["serve"], args.paced_rate, args.paced_seconds, 40_000_000)
        mart = (burst, steady)
        print(f"receipt -> mart: during the bursts {burst}, at {args.paced_rate:g}/s {steady}")
    finally:
        procs["serve"].send_signal(signal.SIGTERM)
        code = procs["serve"].wait(300)
        for proc in procs.values():
            if proc.poll() is None:
                proc.terminate()
                proc.wait(60)
        if seed_db:
            drop_seed_database(seed_db)
    acked = sum(r["ok"] for r in rows if r["server"] == "serve") + 300
    acked += int(args.paced_rate * args.paced_seconds)
    from revops.warehouse import connect

    wh = connect(f"duckdb:///{work}/revops.duckdb", read_only=True)
    stored = int(wh.query_value("SELECT count(*) FROM revops.events_raw"))
    wh.close()
    print(f"serve exit code {code}; events_raw holds {stored} of {acked} acknowledged")
    fsync_ms = (fsync_before, fsync_latency(work))
    write_results(args, rows, mart, stored, acked, code, fsync_ms)


def create_seed_database() -> str:
    """A fresh PostgreSQL database for the seed's design; returns its URL."""
    import uuid

    import psycopg

    name = f"revops_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    return PG_ADMIN.rsplit("/", 1)[0] + "/" + name


def drop_seed_database(url: str) -> None:
    import psycopg

    name = url.rsplit("/", 1)[1]
    with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def write_results(
    args: argparse.Namespace,
    rows: list[dict],
    mart: tuple,
    stored: int,
    acked: int,
    code: int,
    fsync_ms: tuple[float, float],
) -> None:
    by = {(r["server"], r["c"]): r for r in rows}
    lines = [
        "# Ingest benchmark (`revops serve`)",
        "",
        f"Measured {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} on {os.cpu_count()} "
        f"cores ({platform.machine()}, Python {platform.python_version()}). **The machine was "
        "shared with other work while this ran (the *machine CPU* column counts every process "
        f"on its {os.cpu_count()} cores: beyond what the server and the load generator used, "
        "the rest was other people's jobs), and the load generator ran on the same cores: the "
        "figures are lower bounds.**",
        "",
        f"Command: `python benchmarks/ingest.py --requests {args.requests} "
        f"--seconds {args.seconds:g} --paced-rate {args.paced_rate:g} "
        f"--paced-seconds {args.paced_seconds:g} --processes {args.processes}`",
        "",
        "Real-format signed Stripe `invoice.paid` events (~3 KB), HTTP/1.1 keep-alive. "
        f"*serve*: `revops serve` with `[serve] receiver_processes = {args.processes}`: "
        "receiver processes sharing the port verify, parse and publish to the SQLite WAL bus "
        "and answer only once durable (`[bus] synchronous = full`: group commit, then one WAL "
        "fsync per waiting commit); the main process lands the events into DuckDB and runs the "
        "incremental transforms (at a lower CPU priority, and landing only once a burst has "
        "passed). *ceiling*: the receivers' stack "
        f"(uvicorn + Starlette, {max(1, args.processes)} process(es), one SO_REUSEPORT socket "
        "each on the same port), verify + parse, stores nothing; *ceiling-1p*: the same in one "
        "process. *seed*: verify, then one PostgreSQL transaction per "
        "request (event + audit row), one uvicorn process with FastAPI.",
        "",
        f"Disk: appending 16 KB + fdatasync took {fsync_ms[0]:.2f} ms (median) before the run "
        f"and {fsync_ms[1]:.2f} ms after it. Every acknowledgement of *serve* waits for such a "
        "flush (shared by all the requests of a group), so at a fixed concurrency the disk's "
        "flush latency bounds the rate.",
        "",
        "The three servers run side by side; each concurrency level is measured on each of "
        "them back to back (after *serve* has caught up), so changes in the machine's load "
        "weigh on all three alike. CPU columns: % of one core over the measurement, for the "
        "server (all its processes), the load generator, and the whole machine "
        f"(at most {100 * (os.cpu_count() or 1)} %).",
        "",
        "| server | concurrency | webhooks/s | ack p50 ms | ack p99 ms | ok | failed "
        "| server CPU | load generator CPU | machine CPU |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r['server']} | {r['c']} | {r['rate']:.0f} | {r['p50']:.1f} | "
            f"{r['p99']:.1f} | {r['ok']} | {r['failed']} | {r['server_cpu']:.0f} % | "
            f"{r['loadgen_cpu']:.0f} % | {r['machine_cpu']:.0f} % |"
        )
    lines.append("")
    s16, c16 = by.get(("serve", 16)), by.get(("ceiling", 16))
    if s16 and c16:
        lines.append(
            f"serve at c16: {s16['rate']:.0f}/s = {100 * s16['rate'] / c16['rate']:.0f} % "
            f"of the same run's ceiling ({c16['rate']:.0f}/s); ack p99 "
            f"{s16['p99']:.1f} ms. Targets: >= 3,000/s, >= 60 % of the ceiling, "
            "p99 <= 50 ms."
        )
    one = by.get(("ceiling-1p", 16))
    if s16 and one:
        lines.append(
            f"Against the one-process ceiling ({one['rate']:.0f}/s): "
            f"{100 * s16['rate'] / one['rate']:.0f} %."
        )
    if ("seed", 16) in by:
        lines.append(f"seed design at c16: {by[('seed', 16)]['rate']:.0f}/s.")
    lines.append("")
    burst, steady = mart
    lines.append(
        "Receipt → marts: from the receipt of an event to the end of the incremental transform "
        "run that included it (so it is visible in `mart_won_to_paid` and the other marts), "
        "read from the server's `revops_receipt_to_mart_seconds` histogram; figures are "
        "bucket upper bounds. Landing and transforms yield to ingestion (`[loader] "
        "defer_above_per_s = 1000`, `max_defer_s = 5`: while events arrive faster, the loader "
        "lands nothing and the events wait, durable, on the bus; `[serve] "
        "transform_min_interval_s = 0.5`, `transform_max_duty = 0.33`): during the saturating "
        "bursts the marts fall behind and catch up afterwards."
    )
    lines.append("")
    phases = (
        (f"steady {args.paced_rate:g} events/s for {args.paced_seconds:g} s", steady),
        ("during the bursts above", burst),
    )
    for label, value in phases:
        if value:
            lines.append(
                f"- {label}: p50 <= {value[0]:g} s, p95 <= {value[1]:g} s ({value[2]} events)"
            )
        else:
            lines.append(
                f"- {label}: not measured (no transforms installed: "
                "`revops.transform.run_transform` missing)"
            )
    lines.append("")
    lines.append(
        f"After SIGTERM (exit code {code}) events_raw held {stored} events for "
        f"{acked} acknowledged requests."
    )
    Path(args.out).write_text("\n".join(lines) + "\n", encoding="utf-8")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
