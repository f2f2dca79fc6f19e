"""``revops serve`` as a real subprocess: answers, bad input, kill -9, restart, SIGTERM."""

from __future__ import annotations

import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import orjson
import pytest
from serve_harness import (
    EVENTS_SECRET,
    SF_TOKEN,
    ServeProcess,
    cdc_event,
    hmac_headers,
    serve_env,
    stripe_event,
    stripe_headers,
    wait_for,
)

from revops.warehouse import connect

pytestmark = pytest.mark.slow


def post_stripe(client: httpx.Client, url: str, n: int, **kw: object) -> httpx.Response:
    body = stripe_event(n, **kw)  # type: ignore[arg-type]
    return client.post(url + "/webhooks/stripe", content=body, headers=stripe_headers(body))


def test_answers_bad_requests_and_duplicates_then_drains_on_sigterm(tmp_path: Path) -> None:
    url = f"duckdb:///{tmp_path}/revops.duckdb"
    server = ServeProcess(tmp_path, serve_env(url)).start()
    try:
        with httpx.Client(timeout=10) as c:
            first = post_stripe(c, server.url, 1)
            assert first.status_code == 200
            assert first.json() == {
                "accepted": 1,
                "duplicates": 0,
                "ignored": 0,
                "event_ids": ["stripe:evt_test_000001"],
            }
            again = post_stripe(c, server.url, 1)
            assert again.json()["duplicates"] == 1 and again.json()["accepted"] == 0
            # Out of order: the older "open" update arrives after "paid".
            older = post_stripe(
                c, server.url, 2, type_="invoice.updated", status="open", created=1759914000
            )
            assert older.json()["accepted"] == 1

            body = stripe_event(3)
            bad_sig = c.post(
                server.url + "/webhooks/stripe",
                content=body,
                headers=stripe_headers(body, secret="whsec_wrong"),
            )
            expired = c.post(
                server.url + "/webhooks/stripe",
                content=body,
                headers=stripe_headers(body, timestamp=1_000_000_000),
            )
            no_sig = c.post(
                server.url + "/webhooks/stripe",
                content=body,
                headers={"Content-Type": "application/json"},
            )
            wrong_type = c.post(
                server.url + "/webhooks/stripe",
                content=body,
                headers={**stripe_headers(body), "Content-Type": "text/plain"},
            )
            huge = b'{"x": "' + b"a" * 70_000 + b'"}'
            too_big = c.post(
                server.url + "/webhooks/stripe", content=huge, headers=stripe_headers(huge)
            )
            not_json = b"{this is not json"
            garbage = c.post(
                server.url + "/webhooks/stripe", content=not_json, headers=stripe_headers(not_json)
            )
            not_event = b'{"object": "customer", "id": "cus_1"}'
            unknown = c.post(
                server.url + "/webhooks/stripe",
                content=not_event,
                headers=stripe_headers(not_event),
            )
            assert [
                r.status_code
                for r in (bad_sig, expired, no_sig, wrong_type, too_big, garbage, unknown)
            ] == [400, 400, 400, 415, 413, 400, 400]
            assert [r.json()["reason"] for r in (bad_sig, expired, no_sig, garbage, unknown)] == [
                "bad_signature",
                "expired_signature",
                "missing_signature",
                "malformed_json",
                "unrecognised_event",
            ]

            cdc = cdc_event("006xx00000ABCDEF")
            sf_unsigned = c.post(
                server.url + "/webhooks/salesforce",
                content=cdc,
                headers={"Content-Type": "application/json"},
            )
            sf_bad = c.post(
                server.url + "/webhooks/salesforce",
                content=cdc,
                headers={"Content-Type": "application/json", "Authorization": "Bearer nope"},
            )
            sf_ok = c.post(
                server.url + "/webhooks/salesforce",
                content=b"[" + cdc + b"]",
                headers={"Content-Type": "application/json", "Authorization": f"Bearer {SF_TOKEN}"},
            )
            sf_hmac = c.post(
                server.url + "/webhooks/salesforce", content=cdc, headers=hmac_headers(cdc)
            )
            assert (sf_unsigned.status_code, sf_bad.status_code) == (401, 401)
            assert sf_ok.json()["event_ids"] == ["salesforce:006xx00000ABCDEF:10732465012345678901"]
            assert sf_hmac.json()["duplicates"] == 1

            envelope = orjson.dumps(
                {
                    "source": "crm",
                    "type": "crm.customer.created",
                    "event_ts": "2025-10-08T09:00:00Z",
                    "event_id": "c-1",
                    "payload": {"customer_id": "c-1"},
                }
            )
            ndjson = envelope + b"\n" + envelope + b"\n"
            ev = c.post(
                server.url + "/events",
                content=ndjson,
                headers={
                    **hmac_headers(ndjson, EVENTS_SECRET),
                    "Content-Type": "application/x-ndjson",
                },
            )
            assert ev.json() == {
                "accepted": 1,
                "duplicates": 1,
                "ignored": 0,
                "event_ids": ["crm:c-1", "crm:c-1"],
            }

            ready = c.get(server.url + "/readyz")
            assert ready.status_code == 200 and ready.json()["warehouse"] == "ok"

            def landed() -> bool:
                text = c.get(server.url + "/metrics").text
                return 'revops_loader_events_total{result="new"} 4.0' in text

            wait_for(landed)
            metrics = c.get(server.url + "/metrics").text
            assert (
                'revops_requests_rejected_total{reason="bad_signature",source="stripe"} 1.0'
                in metrics
            )
            assert 'revops_events_duplicate_total{source="stripe"} 1.0' in metrics

        # While the server holds the DuckDB file, other commands say so plainly.
        other = subprocess.run(
            [sys.executable, "-m", "revops", "sql", "SELECT 1"],
            cwd=tmp_path,
            env=server.env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert other.returncode == 1
        assert "the warehouse file is held by process" in other.stderr
        assert str(server.proc.pid) in other.stderr  # type: ignore[union-attr]
        assert "Traceback" not in other.stderr

        assert server.terminate() == 0
    finally:
        server.close()
    wh = connect(url)
    try:
        ids = [
            r["event_id"]
            for r in wh.query("SELECT event_id FROM revops.events_raw ORDER BY raw_seq")
        ]
        assert sorted(ids) == [
            "crm:c-1",
            "salesforce:006xx00000ABCDEF:10732465012345678901",
            "stripe:evt_test_000001",
            "stripe:evt_test_000002",
        ]
        letters = wh.query("SELECT source, reason, body FROM revops.dead_letters ORDER BY id")
        assert [(r["source"], r["reason"]) for r in letters] == [
            ("stripe", "malformed_json"),
            ("stripe", "unrecognised_event"),
        ]
        assert bytes(letters[0]["body"]) == not_json
        rejected = wh.query_value(
            "SELECT count(*) FROM revops.audit_events "
            "WHERE action = 'receive' AND status = 'rejected'"
        )
        assert rejected == 9
        outbox = [
            r["key"] for r in wh.query("SELECT key FROM revops.notifications_outbox ORDER BY key")
        ]
        assert outbox == [
            "invoice_paid:stripe:evt_test_000001",
            "opportunity_closed_won:salesforce:006xx00000ABCDEF:10732465012345678901",
        ]
    finally:
        wh.close()


OPPORTUNITIES = [f"006K{n:05d}" for n in range(20)]


def stream_event(n: int) -> bytes:
    return stripe_event(
        n, opportunity=OPPORTUNITIES[n % len(OPPORTUNITIES)], created=1759914301 + n
    )


def post_won(client: httpx.Client, url: str) -> None:
    for k, opp in enumerate(OPPORTUNITIES):
        body = cdc_event(opp, commit=1000 + k)
        r = client.post(url + "/webhooks/salesforce", content=body, headers=hmac_headers(body))
        assert r.status_code == 200


def clean_run_marts(tmp_path: Path, events: list[tuple[str, bytes]]) -> list[dict]:
    """mart_won_to_paid of a clean run: every event landed once, one full transform."""
    from revops.ingest.files import parse_line
    from revops.ingest.land import land_envelopes
    from revops.transform import run_transform
    from revops.warehouse import ensure_schema

    wh = connect(f"duckdb:///{tmp_path}/clean.duckdb")
    try:
        ensure_schema(wh)
        items = [i for source, body in events for i in parse_line(body, source)]  # type: ignore[arg-type]
        land_envelopes(wh, items)
        run_transform(wh, None, full=True)
        return wh.query("SELECT * FROM revops.mart_won_to_paid ORDER BY opportunity_id")
    finally:
        wh.close()


def test_kill_9_mid_stream_loses_no_acknowledged_event(tmp_path: Path, warehouse_url: str) -> None:
    env = serve_env(warehouse_url)
    server = ServeProcess(tmp_path, env).start()
    acked: set[str] = set()
    sent: set[int] = set()
    lock = threading.Lock()
    killed = threading.Event()

    def sender(worker: int) -> None:
        with httpx.Client(timeout=5) as c:
            for i in range(150):
                n = worker * 1000 + i
                body = stream_event(n)
                with lock:
                    sent.add(n)
                try:
                    r = c.post(
                        server.url + "/webhooks/stripe", content=body, headers=stripe_headers(body)
                    )
                except httpx.HTTPError:
                    return  # the server is gone: this event was never acknowledged
                if r.status_code == 200:
                    with lock:
                        acked.update(r.json()["event_ids"])
                        if len(acked) >= 200 and not killed.is_set():
                            killed.set()
                            server.kill()

    try:
        with httpx.Client(timeout=10) as c:
            post_won(c, server.url)
        with ThreadPoolExecutor(4) as pool:
            list(pool.map(sender, range(4)))
        assert killed.is_set() and len(acked) >= 200
        restarted = ServeProcess(tmp_path, env, port=server.port).start()
        try:
            # Senders redeliver everything they sent, acknowledged or not, in another order.
            def resend(numbers: list[int]) -> None:
                with httpx.Client(timeout=10) as c:
                    for n in numbers:
                        body = stream_event(n)
                        r = c.post(
                            restarted.url + "/webhooks/stripe",
                            content=body,
                            headers=stripe_headers(body),
                        )
                        assert r.status_code == 200

            ordered = sorted(sent, reverse=True)
            with ThreadPoolExecutor(4) as pool:
                list(pool.map(resend, [ordered[k::4] for k in range(4)]))
            with httpx.Client(timeout=10) as c:
                post_won(c, restarted.url)
            assert restarted.terminate() == 0
        finally:
            restarted.close()
    finally:
        server.close()
    wh = connect(warehouse_url)
    try:
        rows = wh.query("SELECT event_id, count(*) AS n FROM revops.events_raw GROUP BY 1")
        stored = {r["event_id"]: r["n"] for r in rows}
        assert acked <= stored.keys()
        assert set(stored.values()) == {1}
        assert len(stored) == len(sent) + len(OPPORTUNITIES)
        seqs = [
            r["raw_seq"] for r in wh.query("SELECT raw_seq FROM revops.events_raw ORDER BY raw_seq")
        ]
        assert seqs == list(range(1, len(seqs) + 1))
        served = wh.query("SELECT * FROM revops.mart_won_to_paid ORDER BY opportunity_id")
    finally:
        wh.close()
    events = [
        ("salesforce", cdc_event(opp, commit=1000 + k)) for k, opp in enumerate(OPPORTUNITIES)
    ]
    events += [("stripe", stream_event(n)) for n in sorted(sent)]
    clean = clean_run_marts(tmp_path, events)
    assert len(clean) == len(OPPORTUNITIES)
    assert {r["status"] for r in clean} == {"paid"}
    assert served == clean


@pytest.mark.postgres
def test_receipt_becomes_visible_in_the_mart_while_serving(
    tmp_path: Path, pg_database: str
) -> None:
    import psycopg

    with psycopg.connect(pg_database, autocommit=True) as con:
        con.execute("DROP SCHEMA IF EXISTS revops CASCADE")
    server = ServeProcess(tmp_path, serve_env(pg_database)).start()
    wh = None
    try:
        with httpx.Client(timeout=10) as c:
            won = cdc_event("006E2E0001", commit=77)
            assert (
                c.post(
                    server.url + "/webhooks/salesforce", content=won, headers=hmac_headers(won)
                ).status_code
                == 200
            )
            paid = stripe_event(42, opportunity="006E2E0001")
            assert (
                c.post(
                    server.url + "/webhooks/stripe", content=paid, headers=stripe_headers(paid)
                ).status_code
                == 200
            )
            # PostgreSQL allows reading while the server writes: poll the mart itself.
            wh = connect(pg_database)

            def visible() -> list[dict]:
                try:
                    return wh.query(
                        "SELECT status, paid_amount FROM revops.mart_won_to_paid "
                        "WHERE opportunity_id = ? AND status = 'paid'",
                        ("006E2E0001",),
                    )
                except Exception:  # the schema may not exist yet
                    return []

            row = wait_for(visible)[0]
            assert row["paid_amount"] == 1200000
            metrics = c.get(server.url + "/metrics").text
            count = [
                line
                for line in metrics.splitlines()
                if line.startswith("revops_receipt_to_mart_seconds_count")
            ]
            assert count and float(count[0].split()[-1]) >= 1
        assert server.terminate() == 0
    finally:
        if wh is not None:
            wh.close()
        server.close()
