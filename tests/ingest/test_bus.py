"""The SQLite bus: durable publish with group commit, dedupe, consume, ack, redelivery."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest

from revops.errors import ConfigError
from revops.ingest.bus import BusMessage, SqliteBus, open_bus


def msg(n: int, event_id: str | None = None) -> BusMessage:
    return BusMessage(
        source="stripe",
        body=b'{"n": %d}' % n,
        event_id=event_id or f"stripe:evt_{n}",
        type="stripe.invoice.paid",
        event_ts="2025-10-08T09:00:00+00:00",
    )


def test_publish_flags_duplicates_and_ack_removes(tmp_path: Path) -> None:
    bus = SqliteBus(tmp_path / "bus.sqlite3")
    try:
        assert bus.publish([msg(1), msg(2), msg(1)]).result() == [True, True, False]
        assert bus.publish([msg(2)]).result() == [False]
        dead = BusMessage(source="stripe", body=b"{bad", reason="malformed_json")
        assert bus.publish([dead, dead]).result() == [True, True]  # letters never dedupe
        assert bus.depth() == 4
        got = bus.consume(10, timeout=1)
        assert [d.message.event_id for d in got] == ["stripe:evt_1", "stripe:evt_2", None, None]
        assert got[0].message.body == b'{"n": 1}'
        assert bus.consume(10, timeout=0) == []  # handed out already
        bus.ack(got[:2])
        assert bus.depth() == 2
    finally:
        bus.close()


def test_unacked_messages_are_delivered_again_after_reopen(tmp_path: Path) -> None:
    bus = SqliteBus(tmp_path / "bus.sqlite3")
    bus.publish([msg(1), msg(2), msg(3)]).result()
    first = bus.consume(2, timeout=1)
    bus.ack(first[:1])
    bus.close()
    again = SqliteBus(tmp_path / "bus.sqlite3")
    try:
        assert [d.message.event_id for d in again.consume(10, timeout=1)] == [
            "stripe:evt_2",
            "stripe:evt_3",
        ]
        assert again.publish([msg(1)]).result() == [False]  # still remembered as seen
    finally:
        again.close()


def test_concurrent_publishers_share_commits(tmp_path: Path) -> None:
    bus = SqliteBus(tmp_path / "bus.sqlite3")
    try:
        barrier = threading.Barrier(16)

        def publish(worker: int) -> None:
            barrier.wait()
            futures = [bus.publish([msg(worker * 1000 + i)]) for i in range(50)]
            assert all(f.result() == [True] for f in futures)

        threads = [threading.Thread(target=publish, args=(w,)) for w in range(16)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert bus.depth() == 800
        assert bus.fsyncs < 800  # publishers from threads share the WAL flushes
    finally:
        bus.close()


def test_publishes_on_one_event_loop_share_one_commit(tmp_path: Path) -> None:
    import asyncio

    bus = SqliteBus(tmp_path / "bus.sqlite3")
    try:

        async def publish_all() -> list[list[bool]]:
            return await asyncio.gather(*(bus.publish_async([msg(n)]) for n in range(64)))

        before = bus.commits
        assert asyncio.run(publish_all()) == [[True]] * 64
        assert bus.commits - before == 1  # one transaction for the whole loop iteration
        assert bus.depth() == 64
    finally:
        bus.close()


def test_an_idle_publish_is_flushed_on_the_loop_and_durable(tmp_path: Path) -> None:
    import asyncio

    bus = SqliteBus(tmp_path / "bus.sqlite3")
    try:

        async def publish() -> list[bool]:
            return await bus.publish_async([msg(1), msg(1), msg(2)], idle=True)

        before = bus.fsyncs
        assert asyncio.run(publish()) == [True, False, True]
        assert bus.fsyncs - before == 1
        other = SqliteBus(tmp_path / "bus.sqlite3", role="publisher")
        try:
            assert other.publish([msg(2)]).result() == [False]  # stored, seen from elsewhere
        finally:
            other.close()
    finally:
        bus.close()


def test_consume_waits_for_a_batch_to_fill(tmp_path: Path) -> None:
    bus = SqliteBus(tmp_path / "bus.sqlite3")
    try:
        bus.publish([msg(1)]).result()
        timer = threading.Timer(0.05, lambda: bus.publish([msg(2), msg(3)]))
        timer.start()
        got = bus.consume(3, timeout=1, max_wait=5)
        timer.join()
        assert len(got) == 3
    finally:
        bus.close()


def test_acknowledged_publish_survives_kill_9(tmp_path: Path) -> None:
    path = tmp_path / "bus.sqlite3"
    script = textwrap.dedent(f"""
        import os, sys
        from revops.ingest.bus import SqliteBus, BusMessage
        bus = SqliteBus({str(path)!r})
        for n in range(200):
            bus.publish([BusMessage(source="s", body=b"{{}}", event_id=f"s:{{n}}",
                                    type="s.x.y", event_ts="2025-01-01T00:00:00+00:00")]
                        ).result()
            print(n, flush=True)
        os.kill(os.getpid(), 9)
    """)
    src = Path(__file__).resolve().parents[2] / "src"
    proc = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        env={"PYTHONPATH": str(src)},
        timeout=60,
    )
    assert proc.returncode == -9
    acknowledged = len(proc.stdout.split())
    bus = SqliteBus(path)
    try:
        assert bus.depth() == acknowledged == 200
    finally:
        bus.close()


def test_bus_url_must_be_sqlite() -> None:
    with pytest.raises(ConfigError, match="unsupported bus URL"):
        open_bus("nats://127.0.0.1:4222")
    with pytest.raises(ConfigError, match="sqlite:///"):
        open_bus("sqlite://")


@pytest.mark.parametrize(
    ("synchronous", "flushes"), [("full", True), ("normal", False), ("extra", False)]
)
def test_full_durability_flushes_the_wal_before_answering(
    tmp_path: Path, synchronous: str, flushes: bool
) -> None:
    bus = SqliteBus(tmp_path / "bus.sqlite3", synchronous=synchronous)
    try:
        assert bus.publish([msg(1)]).result() == [True]
        assert (bus.fsyncs >= 1) is flushes
        assert bus.wal_path.exists()
    finally:
        bus.close()
    with pytest.raises(ConfigError, match="synchronous"):
        SqliteBus(tmp_path / "other.sqlite3", synchronous="sometimes")


def test_one_process_holds_a_bus_file(tmp_path: Path) -> None:
    from revops.ingest.bus import BusError

    bus = SqliteBus(tmp_path / "bus.sqlite3")
    try:
        with pytest.raises(BusError, match=f"held by process {os.getpid()}"):
            SqliteBus(tmp_path / "bus.sqlite3")
    finally:
        bus.close()
    SqliteBus(tmp_path / "bus.sqlite3").close()  # free again once closed


def test_bodies_round_trip_byte_for_byte(tmp_path: Path) -> None:
    bus = SqliteBus(tmp_path / "bus.sqlite3")
    try:
        event = BusMessage(
            source="stripe",
            body='{"name": "株式会社\\u0000"}'.encode(),
            event_id="stripe:evt_u",
            type="stripe.x.y",
            event_ts="2025",
        )
        letter = BusMessage(source="stripe", body=b"\xff\xfe\x00 not utf-8", reason="bad")
        bus.publish([event, letter]).result()
        got = bus.consume(10, timeout=1)
        assert [d.message for d in got] == [
            BusMessage(**{**event.__dict__, "received_at": got[0].message.received_at}),
            BusMessage(**{**letter.__dict__, "received_at": got[1].message.received_at}),
        ]
    finally:
        bus.close()


def test_publisher_processes_share_the_owners_file(tmp_path: Path) -> None:
    """A receiver process publishes as ``role="publisher"``; the owner sees its messages in the
    file, dedupes across both, and counts the depth from the file."""
    path = tmp_path / "bus.sqlite3"
    owner = SqliteBus(path, external_publishers=True)
    publisher = SqliteBus(path, role="publisher")
    try:
        assert publisher._lock_fd is None  # only the owner holds <bus>.lock
        assert publisher.publish([msg(1), msg(2)]).result() == [True, True]
        assert owner.publish([msg(2), msg(3)]).result() == [False, True]
        assert publisher.publish([msg(3), msg(4)]).result() == [False, True]
        got = owner.consume(10, timeout=5)
        assert [d.message.event_id for d in got] == [f"stripe:evt_{n}" for n in (1, 2, 3, 4)]
        assert owner.depth() == 4
        owner.ack(got[:3])
        owner._depth_cache = (0.0, 0)  # skip the cache: the depth is read from the file
        assert owner.depth() == 1
        with pytest.raises(Exception, match="cannot consume"):
            publisher.consume(1, timeout=0)
    finally:
        publisher.close()
        owner.close()


def test_publisher_acknowledgement_survives_kill_9(tmp_path: Path) -> None:
    """A publisher process's acknowledged messages are durable when it is killed."""
    path = tmp_path / "bus.sqlite3"
    SqliteBus(path).close()  # the owner created the file
    script = textwrap.dedent(f"""
        import asyncio, os
        from revops.ingest.bus import SqliteBus, BusMessage
        bus = SqliteBus({str(path)!r}, role="publisher")
        async def main():
            for n in range(100):
                flags = await bus.publish_async([BusMessage(source="s", body=b"{{}}",
                    event_id=f"s:{{n}}", type="s.x.y", event_ts="2025-01-01T00:00:00+00:00")])
                print(n, flags[0], flush=True)
            os.kill(os.getpid(), 9)
        asyncio.run(main())
    """)
    src = Path(__file__).resolve().parents[2] / "src"
    proc = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        env={"PYTHONPATH": str(src)},
        timeout=60,
    )
    assert proc.returncode == -9
    assert proc.stdout.split()[1::2] == ["True"] * 100
    bus = SqliteBus(path)
    try:
        assert bus.depth() == 100
    finally:
        bus.close()
