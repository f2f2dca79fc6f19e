"""The loader: one transaction per micro-batch, ack after commit, retry through outages."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from pathlib import Path

import orjson
import pytest

from revops import signals
from revops.ingest.bus import BusMessage, SqliteBus
from revops.ingest.loader import Loader, load_micro_batch
from revops.notify.rules import default_rules
from revops.warehouse import connect, ensure_schema


def stripe_msg(n: int, type_: str = "invoice.paid") -> BusMessage:
    body = orjson.dumps(
        {
            "id": f"evt_{n}",
            "object": "event",
            "type": type_,
            "created": 1759914301,
            "data": {
                "object": {
                    "id": f"in_{n}",
                    "amount_paid": 500,
                    "currency": "usd",
                    "customer": "cus_1",
                    "customer_email": "a@example.com",
                }
            },
        }
    )
    return BusMessage(
        source="stripe",
        body=body,
        event_id=f"stripe:evt_{n}",
        type=f"stripe.{type_}",
        event_ts="2025-10-08T09:05:01+00:00",
        received_at=time.time(),
    )


def wait_until(predicate, timeout: float = 20.0):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not met before the deadline"
        time.sleep(0.02)


def test_micro_batch_lands_dead_letters_and_notifies_once(wh) -> None:  # type: ignore[no-untyped-def]
    letter = BusMessage(
        source="stripe",
        body=b"{bad",
        reason="malformed_json",
        detail='{"endpoint": "/webhooks/stripe"}',
        request_id="r-9",
    )
    first = load_micro_batch(
        wh,
        [stripe_msg(1), stripe_msg(2, "invoice.updated"), stripe_msg(1), letter],
        rules=default_rules(),
    )
    assert (first.new, first.duplicates) == (["stripe:evt_1", "stripe:evt_2"], ["stripe:evt_1"])
    assert (first.dead_letters, first.notifications) == (1, 1)
    again = load_micro_batch(wh, [stripe_msg(1)], rules=default_rules())
    assert (again.new, again.notifications) == ([], 0)

    raw = wh.query("SELECT event_id, payload FROM revops.events_raw ORDER BY raw_seq")
    assert [r["event_id"] for r in raw] == ["stripe:evt_1", "stripe:evt_2"]
    assert raw[0]["payload"] == stripe_msg(1).body.decode()  # stored exactly as received
    out = wh.query("SELECT key, payload FROM revops.notifications_outbox")
    assert [r["key"] for r in out] == ["invoice_paid:stripe:evt_1"]
    payload = orjson.loads(out[0]["payload"])
    assert payload["fields"] == {
        "invoice": "in_1",
        "amount": 500,
        "currency": "usd",
        "customer": "cus_1",
    }
    assert "a@example.com" not in out[0]["payload"]  # only the fields the rule names
    dl = wh.query("SELECT reason, body, detail FROM revops.dead_letters")
    assert bytes(dl[0]["body"]) == b"{bad"
    assert orjson.loads(dl[0]["detail"])["request_id"] == "r-9"


def test_loader_thread_acks_after_commit_and_signals(tmp_path: Path, wh) -> None:  # type: ignore[no-untyped-def]
    bus = SqliteBus(tmp_path / "bus.sqlite3")
    seen: list[dict] = []
    unsubscribe = signals.subscribe(signals.EVENTS_LANDED, lambda t, d: seen.append(d))
    stop = threading.Event()
    loader = Loader(wh, bus, max_wait_ms=10, stop_event=stop)
    thread = threading.Thread(target=loader.run)
    thread.start()
    try:
        bus.publish([stripe_msg(n) for n in range(5)]).result()
        wait_until(lambda: sum(d["count"] for d in seen) == 5)
        assert bus.depth() == 0
        assert wh.query_value("SELECT count(*) FROM revops.events_raw") == 5
        assert seen[0]["types"][0] == "stripe.invoice.paid"
    finally:
        stop.set()
        thread.join()
        unsubscribe()
        bus.close()


class TcpProxy:
    """A TCP forwarder to PostgreSQL that can be taken down and brought back (an outage)."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        self.up = True
        self.conns: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.server.accept()
            except OSError:
                return
            if not self.up:
                client.close()
                continue
            upstream = socket.create_connection(self.target)
            self.conns += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(a: socket.socket, b: socket.socket) -> None:
        try:
            while data := a.recv(65536):
                b.sendall(data)
        except OSError:
            pass
        finally:
            for s in (a, b):
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)

    def down(self) -> None:
        self.up = False
        conns, self.conns = self.conns, []
        for s in conns:
            # A socket its pipe already shut down refuses shutdown(): close it regardless.
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)
            s.close()

    def close(self) -> None:
        self.down()
        self.server.close()


@pytest.mark.postgres
def test_warehouse_outage_keeps_events_on_the_bus_until_it_is_back(
    tmp_path: Path, pg_database: str
) -> None:
    from urllib.parse import urlsplit

    parts = urlsplit(pg_database)
    proxy = TcpProxy((parts.hostname or "127.0.0.1", parts.port or 5432))
    url = pg_database.replace(f"{parts.hostname}:{parts.port}", f"127.0.0.1:{proxy.port}")
    wh = connect(url)
    ensure_schema(wh)
    wh.execute("DELETE FROM revops.events_raw")
    bus = SqliteBus(tmp_path / "bus.sqlite3")
    stop = threading.Event()
    loader = Loader(wh, bus, max_wait_ms=10, max_backoff_s=0.5, stop_event=stop)
    thread = threading.Thread(target=loader.run)
    thread.start()
    try:
        bus.publish([stripe_msg(1)]).result()
        wait_until(lambda: bus.depth() == 0)
        proxy.down()
        bus.publish([stripe_msg(2), stripe_msg(3)]).result()
        wait_until(lambda: loader.failures >= 2)
        assert bus.depth() == 2 and not loader.healthy  # still waiting, not lost
        proxy.up = True
        wait_until(lambda: bus.depth() == 0)
        assert loader.healthy
    finally:
        stop.set()
        thread.join()
        bus.close()
        wh.close()
        proxy.close()
    check = connect(pg_database)
    try:
        ids = [
            r["event_id"]
            for r in check.query("SELECT event_id FROM revops.events_raw ORDER BY raw_seq")
        ]
        assert ids == ["stripe:evt_1", "stripe:evt_2", "stripe:evt_3"]
    finally:
        check.close()


def test_audits_shipped_on_the_bus_are_written(wh) -> None:  # type: ignore[no-untyped-def]
    """Receiver processes ship the audit rows of their rejections as one bus message."""
    from revops.audit import AuditEvent
    from revops.ingest.loader import audit_message

    ensure_schema(wh)
    shipped = audit_message(
        [
            AuditEvent(
                "receiver", "webhook:stripe", "receive", "rejected", "r-1", None, {"reason": "x"}
            ),
            AuditEvent("receiver", "webhook:events", "receive", "rejected", "r-2"),
        ]
    )
    result = load_micro_batch(wh, [stripe_msg(1), shipped])
    assert result.new == ["stripe:evt_1"]
    rows = wh.query(
        "SELECT resource, request_id FROM revops.audit_events "
        "WHERE action = 'receive' AND status = 'rejected' ORDER BY request_id"
    )
    assert [(r["resource"], r["request_id"]) for r in rows] == [
        ("webhook:stripe", "r-1"),
        ("webhook:events", "r-2"),
    ]
    assert wh.query_value("SELECT count(*) FROM revops.dead_letters") == 0


def _publish_steadily(bus: SqliteBus, rate: float, seconds: float, start: int) -> int:
    """Publish ``rate`` messages a second for ``seconds`` (ten per step); returns how many."""
    step = 10 / rate
    deadline = time.monotonic() + seconds
    n = start
    while time.monotonic() < deadline:
        bus.publish([stripe_msg(n + k) for k in range(10)]).result()
        n += 10
        time.sleep(step)
    return n - start


def test_loader_lets_a_burst_pass_then_lands_it_all(tmp_path: Path) -> None:
    bus = SqliteBus(tmp_path / "bus.sqlite3", synchronous="normal")
    loader = Loader(None, bus, defer_above_per_s=200, max_defer_s=10)  # type: ignore[arg-type]
    try:
        # A slow flow is landed at once.
        loader._mark = (bus.backlog(), time.monotonic())
        _publish_steadily(bus, 50, 0.3, 0)
        assert loader.defer_to_burst() == 0.0
        assert loader.deferrals == 0
        # A burst (about 2,000/s) is waited out: the wait ends soon after it stops.
        loader._mark = (bus.backlog(), time.monotonic())
        bus.publish([stripe_msg(1000 + k) for k in range(200)]).result()
        burst = threading.Thread(target=_publish_steadily, args=(bus, 2000, 0.6, 2000))
        burst.start()
        waited = loader.defer_to_burst()
        burst.join()
        assert loader.deferrals == 1
        assert 0.4 <= waited < 3.0
        # Then it lands what gathered, batch after batch, before deferring again.
        assert loader.defer_to_burst() == 0.0
        assert loader.deferrals == 1
    finally:
        bus.close()


def test_a_deferral_ends_after_max_defer_s(tmp_path: Path) -> None:
    bus = SqliteBus(tmp_path / "bus.sqlite3", synchronous="normal")
    loader = Loader(None, bus, defer_above_per_s=200, max_defer_s=0.5)  # type: ignore[arg-type]
    try:
        loader._mark = (bus.backlog(), time.monotonic())
        bus.publish([stripe_msg(k) for k in range(200)]).result()
        burst = threading.Thread(target=_publish_steadily, args=(bus, 2000, 2.0, 1000))
        burst.start()
        waited = loader.defer_to_burst()
        burst.join()
        assert 0.5 <= waited < 1.5
    finally:
        bus.close()


def test_loader_lands_a_burst_once_it_has_passed(tmp_path: Path, duck) -> None:  # type: ignore[no-untyped-def]
    bus = SqliteBus(tmp_path / "bus.sqlite3", synchronous="normal")
    stop = threading.Event()
    # The loader sees a burst when more than defer_above_per_s x 0.1 s events arrive while it
    # lands a batch: large batches and a low threshold keep that true on a loaded machine.
    loader = Loader(
        duck, bus, batch_size=500, max_wait_ms=200, stop_event=stop, defer_above_per_s=100
    )
    thread = threading.Thread(target=loader.run)
    thread.start()
    try:
        published = _publish_steadily(bus, 3000, 1.0, 0)
        wait_until(lambda: bus.depth() == 0)
        assert loader.deferrals >= 1
        assert duck.query_value("SELECT count(*) FROM revops.events_raw") == published
    finally:
        stop.set()
        thread.join()
        bus.close()
