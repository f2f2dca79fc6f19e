"""Gather the publishes of concurrent webhook requests into one bus publish.

Every bus publish is one group commit and one WAL flush, and their cost is mostly per group
(the transaction, the flush, the hand-offs between the event loop and the flushing thread),
hardly per event. Requests that arrive one after the other each start their own group when
they are committed as soon as they are parsed. :class:`Gatherer` holds a request's events
until no other request can still join them, then publishes them all at once:

* every open connection already has a request waiting here (HTTP/1.1 carries one request at a
  time per connection, so nothing else can arrive before one of them is answered), or
* ``window_s`` has passed since the first of them (a connection may stay idle).

Each request is answered with its own share of the bus's answer, once the group is durable.
A group that every connection waits for is published ``idle``: the loop has nothing else to
do meanwhile, so the bus flushes it right there instead of handing the flush to a thread.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import Any

from revops.ingest.bus import BusMessage

WINDOW_S = 0.002


def no_connections() -> int:
    """The default count of open connections: none known, so every publish goes at once."""
    return 0


def tcp_connections(server: Any) -> Callable[[], int]:
    """Open TCP connections of a uvicorn server (Unix-socket ones, the main process's metrics
    scrapes and relays, carry no webhooks and do not count)."""
    connections = server.server_state.connections
    return lambda: sum(1 for c in connections if getattr(c, "client", None))


class Gatherer:
    """Publishes of concurrent requests on one event loop, gathered into one bus publish."""

    def __init__(
        self,
        bus: Any,
        window_s: float = WINDOW_S,
        open_connections: Callable[[], int] = no_connections,
    ) -> None:
        self.bus = bus
        self.window_s = window_s
        self.open_connections = open_connections
        self._loop: asyncio.AbstractEventLoop | None = None
        self._waiting: list[tuple[Sequence[BusMessage], asyncio.Future[list[bool]]]] = []
        self._timer: asyncio.TimerHandle | None = None
        self._publishing: set[asyncio.Future[list[bool]]] = set()

    def publish(self, messages: Sequence[BusMessage]) -> asyncio.Future[list[bool]]:
        """Publish ``messages`` with those of the other requests waiting; resolves to one flag
        per message (True when new), once they are durable."""
        loop = asyncio.get_running_loop()
        if loop is not self._loop:  # a new loop (tests): nothing of an old one is kept
            self._loop, self._waiting, self._timer = loop, [], None
        future: asyncio.Future[list[bool]] = loop.create_future()
        self._waiting.append((messages, future))
        connections = self.open_connections()
        if len(self._waiting) >= connections:
            # With every connection waiting here the loop has nothing to do until the group
            # is durable: the bus may as well flush it right on the loop.
            self._flush(idle=connections > 0)
        elif self._timer is None:
            self._timer = loop.call_later(self.window_s, self._flush)
        return future

    def _flush(self, idle: bool = False) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        batch, self._waiting = self._waiting, []
        try:
            done = asyncio.ensure_future(  # noqa: RUF006 - kept in self._publishing
                self.bus.publish_async([m for messages, _ in batch for m in messages], idle)
            )
        except Exception as exc:  # every request gets the bus's error
            _fail(batch, exc)
            return
        self._publishing.add(done)  # a task of a coroutine must not be collected meanwhile
        done.add_done_callback(lambda d: self._answer(batch, d))

    def _answer(
        self,
        batch: list[tuple[Sequence[BusMessage], asyncio.Future[list[bool]]]],
        done: asyncio.Future[list[bool]],
    ) -> None:
        """Hand each request its share of the flags (or the bus's error)."""
        self._publishing.discard(done)
        if done.cancelled():
            _fail(batch, asyncio.CancelledError())
            return
        error = done.exception()
        if error is not None:
            _fail(batch, error)
            return
        flags = done.result()
        at = 0
        for messages, future in batch:
            if not future.done():  # a request whose client went away is cancelled
                future.set_result(flags[at : at + len(messages)])
            at += len(messages)


def _fail(
    batch: list[tuple[Sequence[BusMessage], asyncio.Future[list[bool]]]], exc: BaseException
) -> None:
    for _, future in batch:
        if not future.done():
            future.set_exception(exc)
