"""The live feed: ``GET /api/events`` streams signals, in process and through Redis pub/sub."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import orjson
import pytest

from dashboard.harness import serve_dashboard, settings_for, wait_for
from revops import signals
from revops.outputs.live import LiveHub, LiveMessage
from revops.warehouse.base import Warehouse
from servicecheck import service_unavailable

REDIS_URL = "redis://127.0.0.1:6379/0"


class StreamReader:
    """Reads one SSE stream in a thread and keeps the (event, data) pairs it saw."""

    def __init__(self, url: str, headers: dict[str, str] | None = None) -> None:
        self.events: list[tuple[str, dict[str, Any]]] = []
        self.status: int | None = None
        self._thread = threading.Thread(target=self._run, args=(url, headers or {}), daemon=True)
        self._thread.start()

    def _run(self, url: str, headers: dict[str, str]) -> None:
        event = "message"
        try:
            with (
                httpx.Client(timeout=httpx.Timeout(5.0, read=None)) as client,
                client.stream("GET", url + "/api/events", headers=headers) as response,
            ):
                self.status = response.status_code
                for line in response.iter_lines():
                    if line.startswith("event:"):
                        event = line[6:].strip()
                    elif line.startswith("data:"):
                        self.events.append((event, orjson.loads(line[5:].strip())))
                        event = "message"
        except httpx.HTTPError:
            pass  # the server went away at the end of the test

    def named(self, name: str) -> list[dict[str, Any]]:
        return [data for event, data in self.events if event == name]


@contextmanager
def _reader(url: str) -> Iterator[StreamReader]:
    reader = StreamReader(url)
    wait_for(lambda: reader.named("ready"))
    yield reader


def test_signal_reaches_the_stream_in_process(duck: Warehouse) -> None:
    with serve_dashboard(duck, settings_for(duck.url)) as served, _reader(served.url) as reader:
        assert reader.named("ready") == [{"live": "in-process"}]
        signals.emit(
            signals.EVENTS_LANDED,
            event_ids=["stripe:evt_live"],
            types=["stripe.invoice.paid"],
            count=1,
        )
        signals.emit(signals.MARTS_REFRESHED, tables=["mart_won_to_paid"], events=1)
        landed = wait_for(lambda: reader.named("events_landed"))
        assert landed[0]["data"] == {
            "event_ids": ["stripe:evt_live"],
            "types": ["stripe.invoice.paid"],
            "count": 1,
        }
        refreshed = wait_for(lambda: reader.named("marts_refreshed"))
        assert refreshed[0]["data"]["tables"] == ["mart_won_to_paid"]
    # After the server stopped, its signal subscriptions are gone.
    assert wait_for(lambda: not served.app.state.live_hub.subscriber_count(), timeout=5)


def _redis_or_skip() -> None:
    try:
        import redis

        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping()
    except Exception as exc:
        service_unavailable("Redis at " + REDIS_URL, str(exc))


def test_two_servers_sharing_redis_both_stream_once(duck: Warehouse) -> None:
    _redis_or_skip()
    live = {"live": {"redis_url": REDIS_URL, "channel": f"revops:test:{uuid.uuid4().hex}"}}
    with (
        serve_dashboard(duck, settings_for(duck.url, data=live)) as a,
        serve_dashboard(duck, settings_for(duck.url, data=live)) as b,
    ):
        hub_a: LiveHub = a.app.state.live_hub
        hub_b: LiveHub = b.app.state.live_hub
        assert hub_a.wait_listening() and hub_b.wait_listening()
        with _reader(a.url) as on_a, _reader(b.url) as on_b:
            assert on_a.named("ready") == [{"live": "redis"}]
            # Produced on instance A only: B sees it because it travelled through Redis.
            sent = hub_a.publish(signals.EVENTS_LANDED, {"event_ids": ["stripe:evt_r"], "count": 1})
            marker = hub_b.publish(signals.PIPELINE_RUN, {"run_id": "r1"})
            for reader in (on_a, on_b):
                wait_for(lambda r=reader: r.named("pipeline_run"))
                ids = [m["id"] for m in reader.named("events_landed")]
                assert ids == [sent.id]  # exactly once per stream
                assert reader.named("pipeline_run")[0]["id"] == marker.id


def test_redis_outage_degrades_to_local_delivery() -> None:
    import asyncio

    hub = LiveHub(redis_url="redis://127.0.0.1:1/0", channel="revops:test:down")

    async def roundtrip() -> LiveMessage:
        queue, unsubscribe = hub.subscribe()
        try:
            hub.publish("marts_refreshed", {"tables": ["mart_nrr_monthly"]})
            return await asyncio.wait_for(queue.get(), 5)
        finally:
            unsubscribe()

    try:
        message = asyncio.run(roundtrip())
    finally:
        hub.close()
    assert message.topic == "marts_refreshed" and message.data == {"tables": ["mart_nrr_monthly"]}
    assert "redis://" not in repr(hub)


def test_live_message_round_trips_through_json() -> None:
    message = LiveMessage("events_landed", {"count": 2})
    assert LiveMessage.from_json(message.to_json()) == message
    with pytest.raises(ValueError):
        LiveMessage.from_json(b'["not", "a", "message"]')
