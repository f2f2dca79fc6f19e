"""Gathering the publishes of concurrent requests into one bus publish (one group commit)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from revops.ingest.bus import BusError, BusMessage, SqliteBus
from revops.serve.gather import Gatherer


def msg(n: int) -> BusMessage:
    return BusMessage(
        source="stripe",
        body=b'{"n": %d}' % n,
        event_id=f"stripe:evt_{n}",
        type="stripe.invoice.paid",
        event_ts="2025-10-08T09:00:00+00:00",
    )


class RecordingBus:
    """Answers every message as new (or fails), recording each publish."""

    def __init__(self, error: Exception | None = None) -> None:
        self.calls: list[list[str | None]] = []
        self.idle: list[bool] = []
        self.error = error

    def publish_async(self, messages: Sequence[BusMessage], idle: bool = False) -> Any:
        self.calls.append([m.event_id for m in messages])
        self.idle.append(idle)
        future = asyncio.get_running_loop().create_future()
        if self.error is not None:
            future.set_exception(self.error)
        else:
            future.set_result([True] * len(messages))
        return future


def test_without_known_connections_every_request_publishes_at_once() -> None:
    bus = RecordingBus()
    gather = Gatherer(bus)

    async def main() -> list[list[bool]]:
        return [await gather.publish([msg(1)]), await gather.publish([msg(2), msg(3)])]

    assert asyncio.run(main()) == [[True], [True, True]]
    assert bus.calls == [["stripe:evt_1"], ["stripe:evt_2", "stripe:evt_3"]]
    assert bus.idle == [False, False]  # nothing known of the connections


def test_requests_of_every_open_connection_share_one_publish(tmp_path: Path) -> None:
    bus = SqliteBus(tmp_path / "bus.sqlite3")
    gather = Gatherer(bus, window_s=30, open_connections=lambda: 3)
    try:

        async def main() -> list[list[bool]]:
            return await asyncio.gather(
                gather.publish([msg(1), msg(2)]),
                gather.publish([msg(2)]),  # a duplicate of the first request's second event
                gather.publish([msg(3)]),
            )

        started = time.monotonic()
        assert asyncio.run(main()) == [[True, True], [False], [True]]
        assert time.monotonic() - started < 10  # the third request did not wait the window
        assert bus.commits == 1
        assert bus.depth() == 3
    finally:
        bus.close()


def test_a_connection_that_sends_nothing_holds_a_publish_for_the_window_only() -> None:
    bus = RecordingBus()
    gather = Gatherer(bus, window_s=0.05, open_connections=lambda: 4)

    async def main() -> list[list[bool]]:
        return await asyncio.gather(gather.publish([msg(1)]), gather.publish([msg(2)]))

    started = time.monotonic()
    assert asyncio.run(main()) == [[True], [True]]
    assert time.monotonic() - started >= 0.05
    assert bus.calls == [["stripe:evt_1", "stripe:evt_2"]]
    assert bus.idle == [False]  # another connection may still send: flushed by a syncer


def test_a_group_of_every_connection_asks_for_the_flush_on_the_loop() -> None:
    bus = RecordingBus()
    gather = Gatherer(bus, window_s=30, open_connections=lambda: 2)

    async def main() -> list[list[bool]]:
        return await asyncio.gather(gather.publish([msg(1)]), gather.publish([msg(2)]))

    assert asyncio.run(main()) == [[True], [True]]
    assert bus.idle == [True]


def test_a_bus_error_fails_every_request_of_the_group() -> None:
    gather = Gatherer(RecordingBus(BusError("disk full")), open_connections=lambda: 2)

    async def main() -> list[Any]:
        return await asyncio.gather(
            gather.publish([msg(1)]), gather.publish([msg(2)]), return_exceptions=True
        )

    assert [type(r) for r in asyncio.run(main())] == [BusError, BusError]


def test_a_request_that_goes_away_leaves_the_others_answered() -> None:
    bus = RecordingBus()
    gather = Gatherer(bus, window_s=30, open_connections=lambda: 3)

    async def main() -> list[Any]:
        gone = asyncio.ensure_future(gather.publish([msg(1)]))
        await asyncio.sleep(0)
        gone.cancel()
        return await asyncio.gather(
            gather.publish([msg(2)]), gather.publish([msg(3)]), return_exceptions=True
        )

    assert asyncio.run(main()) == [[True], [True]]
    assert bus.calls == [["stripe:evt_1", "stripe:evt_2", "stripe:evt_3"]]


def test_a_new_event_loop_starts_afresh() -> None:
    bus = RecordingBus()
    gather = Gatherer(bus, window_s=0.05, open_connections=lambda: 5)

    async def abandon() -> None:
        gather.publish([msg(1)])  # its loop ends before the window does

    async def publish() -> list[bool]:
        return await gather.publish([msg(2)])

    asyncio.run(abandon())
    assert asyncio.run(publish()) == [True]
    assert bus.calls == [["stripe:evt_2"]]
