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
            assert first.json() == {"accepted": 1, "duplicates": 0, "ignored": 0,
                                    "event_ids": ["stripe:evt_test_000001"]}
            again = post_stripe(c, server.url, 1)
            assert again.json()["duplicates"] == 1 and again.json()["accepted"] == 0
            # Out of order: the older "open" update arrives after "paid".
            older = post_stripe(c, server.url, 2, type_="invoice.updated", status="open",
                                created=1759914000)
            assert older.json()["accepted"] == 1

            body = stripe_event(3)
            bad_sig = c.post(server.url + "/webhooks/stripe", content=body,
                             headers=stripe_headers(body, secret="whsec_wrong"))
            expired = c.post(server.url + "/webhooks/stripe", content=body,
                             headers=stripe_headers(body, timestamp=1_000_000_000))
            no_sig = c.post(server.url + "/webhooks/stripe", content=body,
                            headers={"Content-Type": "application/json"})
            wrong_type = c.post(server.url + "/webhooks/stripe", content=body,
                                headers={**stripe_headers(body), "Content-Type": "text/plain"})
            huge = b'{"x": "' + b"a" * 70_000 + b'"}'
            too_big = c.post(server.url + "/webhooks/stripe", content=huge,
                             headers=stripe_headers(huge))
            not_json = b"{this is not json"
            garbage = c.post(server.url + "/webhooks/stripe", content=not_json,
                             headers=stripe_headers(not_json))
            not_event = b'{"object": "customer", "id": "cus_1"}'
            unknown = c.post(server.url + "/webhooks/stripe", content=not_event,
                             headers=stripe_headers(not_event))
            assert [r.status_code for r in (bad_sig, expired, no_sig, wrong_type, too_big,
                                            garbage, unknown)] == [400, 400, 400, 415, 413,
                                                                   400, 400]
            assert [r.json()["reason"] for r in (bad_sig, expired, no_sig, garbage, unknown)] \
                == ["bad_signature", "expired_signature", "missing_signature",
                    "malformed_json", "unrecognised_event"]

            cdc = cdc_event("006xx00000ABCDEF")
            sf_unsigned = c.post(server.url + "/webhooks/salesforce", content=cdc,
                                 headers={"Content-Type": "application/json"})
            sf_bad = c.post(server.url + "/webhooks/salesforce", content=cdc,
                            headers={"Content-Type": "application/json",
                                     "Authorization": "Bearer nope"})
            sf_ok = c.post(server.url + "/webhooks/salesforce", content=b"[" + cdc + b"]",
                           headers={"Content-Type": "application/json",
                                    "Authorization": f"Bearer {SF_TOKEN}"})
            sf_hmac = c.post(server.url + "/webhooks/salesforce", content=cdc,
                             headers=hmac_headers(cdc))
            assert (sf_unsigned.status_code, sf_bad.status_code) == (401, 401)
            assert sf_ok.json()["event_ids"] == ["salesforce:006xx00000ABCDEF:"
                                                 "10732465012345678901"]
            assert sf_hmac.json()["duplicates"] == 1

            envelope = orjson.dumps({"source": "crm", "type": "crm.customer.created",
                                     "event_ts": "2025-10-08T09:00:00Z", "event_id": "c-1",
                                     "payload": {"customer_id": "c-1"}})
            ndjson = envelope + b"\n" + envelope + b"\n"
            ev = c.post(server.url + "/events", content=ndjson,
                        headers={**hmac_headers(ndjson, EVENTS_SECRET),
                                 "Content-Type": "application/x-ndjson"})
            assert ev.json() == {"accepted": 1, "duplicates": 1, "ignored": 0,
                                 "event_ids": ["crm:c-1", "crm:c-1"]}

            ready = c.get(server.url + "/readyz")
            assert ready.status_code == 200 and ready.json()["warehouse"] == "ok"

            def landed() -> bool:
                text = c.get(server.url + "/metrics").text
                return 'revops_loader_events_total{result="new"} 4.0' in text
            wait_for(landed)
            metrics = c.get(server.url + "/metrics").text
            assert 'revops_requests_rejected_total{reason="bad_signature",source="stripe"} 1.0' \
                in metrics
            assert 'revops_events_duplicate_total{source="stripe"} 1.0' in metrics

        # While the server holds the DuckDB file, other commands say so plainly.
        other = subprocess.run([sys.executable, "-m", "revops", "sql", "SELECT 1"],
                               cwd=tmp_path, env=server.env, capture_output=True, text=True,
                               timeout=60)
        assert other.returncode == 1
        assert "the warehouse file is held by process" in other.stderr
        assert str(server.proc.pid) in other.stderr  # type: ignore[union-attr]
        assert "Traceback" not in other.stderr

        assert server.terminate() == 0
    finally:
        server.close()
    wh = connect(url)
    try:
        ids = [r["event_id"] for r in wh.query(
            "SELECT event_id FROM revops.events_raw ORDER BY raw_seq")]
        assert sorted(ids) == ["crm:c-1", "salesforce:006xx00000ABCDEF:10732465012345678901",
                               "stripe:evt_test_000001", "stripe:evt_test_000002"]
        letters = wh.query("SELECT source, reason, body FROM revops.dead_letters ORDER BY id")
        assert [(r["source"], r["reason"]) for r in letters] == [
            ("stripe", "malformed_json"), ("stripe", "unrecognised_event")]
        assert bytes(letters[0]["body"]) == not_json
        rejected = wh.query_value("SELECT count(*) FROM revops.audit_events "
                                  "WHERE action = 'receive' AND status = 'rejected'")
        assert rejected == 9
        outbox = [r["key"] for r in wh.query(
            "SELECT key FROM revops.notifications_outbox ORDER BY key")]
        assert outbox == ["invoice_paid:stripe:evt_test_000001",
                          "opportunity_closed_won:salesforce:006xx00000ABCDEF:"
                          "10732465012345678901"]
    finally:
        wh.close()


def test_kill_9_mid_stream_loses_no_acknowledged_event(tmp_path: Path, warehouse_url: str
                                                       ) -> None:
    env = serve_env(warehouse_url)
    server = ServeProcess(tmp_path, env).start()
    acked: set[str] = set()
    lock = threading.Lock()
    killed = threading.Event()

    def sender(worker: int) -> None:
        with httpx.Client(timeout=5) as c:
            for i in range(400):
                n = worker * 10_000 + i
                try:
                    r = post_stripe(c, server.url, n)
                except httpx.HTTPError:
                    return  # the server is gone: this event was never acknowledged
                if r.status_code == 200:
                    with lock:
                        acked.update(r.json()["event_ids"])
                        if len(acked) >= 150 and not killed.is_set():
                            killed.set()
                            server.kill()

    try:
        with ThreadPoolExecutor(4) as pool:
            list(pool.map(sender, range(4)))
        assert killed.is_set() and len(acked) >= 150
        restarted = ServeProcess(tmp_path, env, port=server.port).start()
        try:
            with httpx.Client(timeout=10) as c:
                # The senders redeliver everything they sent (acknowledged or not).
                for n in sorted(int(e.rsplit("_", 1)[1]) for e in acked)[:50]:
                    assert post_stripe(c, restarted.url, n).status_code == 200
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
        seqs = [r["raw_seq"] for r in wh.query(
            "SELECT raw_seq FROM revops.events_raw ORDER BY raw_seq")]
        assert seqs == list(range(1, len(seqs) + 1))
    finally:
        wh.close()
