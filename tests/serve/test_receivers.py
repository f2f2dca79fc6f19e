"""Receiver processes: their metrics merge into the main process's, and a killed receiver is
replaced while the server keeps acknowledging."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import httpx
from serve_harness import ServeProcess, serve_env, stripe_event, stripe_headers, wait_for

from revops.metrics import merge_expositions

MAIN = b"""# HELP revops_webhooks_received_total Requests received
# TYPE revops_webhooks_received_total counter
revops_webhooks_received_total{source="stripe"} 2.0
revops_webhooks_received_created{source="stripe"} 1.7e+09
# HELP revops_bus_depth Messages waiting
# TYPE revops_bus_depth gauge
revops_bus_depth 7.0
"""
RECEIVER = b"""# HELP revops_webhooks_received_total Requests received
# TYPE revops_webhooks_received_total counter
revops_webhooks_received_total{source="stripe"} 3.0
revops_webhooks_received_total{source="events"} 1.0
revops_webhooks_received_created{source="stripe"} 1.7e+09
# HELP revops_bus_depth Messages waiting
# TYPE revops_bus_depth gauge
revops_bus_depth 0.0
"""


def test_expositions_of_several_processes_are_summed() -> None:
    merged = merge_expositions([MAIN, RECEIVER, RECEIVER]).decode().splitlines()
    assert merged == [
        "# HELP revops_webhooks_received_total Requests received",
        "# TYPE revops_webhooks_received_total counter",
        'revops_webhooks_received_total{source="stripe"} 8.0',
        'revops_webhooks_received_total{source="events"} 2.0',
        "# HELP revops_bus_depth Messages waiting",
        "# TYPE revops_bus_depth gauge",
        "revops_bus_depth 7.0",
    ]


def _children(pid: int) -> list[int]:
    out = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                out.append(int(entry.name))
    return out


def test_a_killed_receiver_is_replaced_and_nothing_acknowledged_is_lost(tmp_path: Path) -> None:
    server = ServeProcess(tmp_path, serve_env(f"duckdb:///{tmp_path}/revops.duckdb")).start()
    try:
        assert server.proc is not None
        pid = server.proc.pid
        with httpx.Client(base_url=server.url, timeout=30) as client:
            receivers = wait_for(lambda: len(_children(pid)) == 2 and _children(pid))
            assert client.get("/readyz").json()["receivers"] == "2/2"
            body = stripe_event(1)
            assert client.post("/webhooks/stripe", content=body, headers=stripe_headers(body))
            os.kill(receivers[0], signal.SIGKILL)
            wait_for(lambda: receivers[0] not in _children(pid) and len(_children(pid)) == 2)
            wait_for(lambda: client.get("/readyz").json().get("receivers") == "2/2")
            for n in range(2, 12):
                body = stripe_event(n)
                answer = client.post("/webhooks/stripe", content=body, headers=stripe_headers(body))
                assert answer.status_code == 200, answer.text
            text = client.get("/metrics").text
            # counted by the receivers, summed by the main process
            assert 'revops_webhooks_received_total{source="stripe"}' in text
        assert server.terminate() == 0
        assert not _children(pid)  # the receivers stopped with it
    finally:
        server.close()
    from revops.warehouse import connect

    wh = connect(f"duckdb:///{tmp_path}/revops.duckdb", read_only=True)
    try:
        assert wh.query_value("SELECT count(*) FROM revops.events_raw") == 11
    finally:
        wh.close()


def test_the_dashboard_stream_is_relayed_on_the_same_port(tmp_path: Path) -> None:
    """A receiver relays ``GET /api/events`` (SSE) to the main process, streaming: the landing
    of a webhook posted on the same port arrives on it, and SIGTERM still exits 0."""
    server = ServeProcess(tmp_path, serve_env(f"duckdb:///{tmp_path}/revops.duckdb")).start()
    try:
        with (
            httpx.Client(base_url=server.url, timeout=30) as client,
            client.stream("GET", "/api/events") as stream,
        ):
            assert stream.status_code == 200
            assert stream.headers["content-type"].startswith("text/event-stream")
            lines = stream.iter_lines()
            assert next(line for line in lines if line.startswith("event:")) == "event: ready"
            body = stripe_event(7)
            answer = client.post("/webhooks/stripe", content=body, headers=stripe_headers(body))
            assert answer.status_code == 200
            landed = next(line for line in lines if line == "event: events_landed")
            assert landed
            data = next(line for line in lines if line.startswith("data:"))
            assert "stripe:evt_test_000007" in data
        assert server.terminate() == 0
    finally:
        server.close()
