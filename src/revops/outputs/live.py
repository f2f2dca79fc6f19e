"""The live hub: fans out "something changed" messages to every open dashboard stream.

Producers (the loader, the transform loop, the runner) call :meth:`LiveHub.publish` from any
thread. Consumers (one per ``GET /api/events`` connection) call :meth:`LiveHub.subscribe` from
an asyncio event loop and read :class:`LiveMessage` objects from the returned queue.

Without a Redis URL the hub fans out in process. With ``[live] redis_url`` set, ``publish``
sends to a Redis pub/sub channel and a listener thread delivers what arrives on that channel to
the local subscribers, so every ``revops serve`` instance sharing the Redis streams every
message, wherever it was produced. A message is delivered to each subscriber at most once; a
subscriber too slow to keep up loses its oldest messages rather than blocking producers.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import queue
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson
from pydantic import BaseModel, ConfigDict

from revops.errors import ConfigError

log = logging.getLogger(__name__)

DEFAULT_CHANNEL = "revops:live"
QUEUE_SIZE = 256


class LiveSettings(BaseModel):
    """``[live]``: where live updates are broadcast."""

    model_config = ConfigDict(extra="forbid")  # a misspelt key is an error, not ignored

    redis_url: str | None = None
    channel: str = DEFAULT_CHANNEL


@dataclass(frozen=True)
class LiveMessage:
    """One update: a topic (``events_landed``, ``marts_refreshed``, ``pipeline_run``) and data."""

    topic: str
    data: dict[str, Any]
    id: str = field(default_factory=lambda: uuid.uuid4().hex)
    at: str = field(default_factory=lambda: datetime.now(UTC).isoformat())

    def to_json(self) -> str:
        """The message as JSON text (what the stream sends and Redis carries)."""
        body = {"id": self.id, "topic": self.topic, "at": self.at, "data": self.data}
        return orjson.dumps(body, default=str).decode()

    @classmethod
    def from_json(cls, text: str | bytes) -> LiveMessage:
        """Parse :meth:`to_json` output; raises ``ValueError`` on anything else."""
        body = orjson.loads(text)
        if not isinstance(body, dict) or not isinstance(body.get("topic"), str):
            raise ValueError("not a live message")
        data = body.get("data")
        return cls(
            topic=body["topic"],
            data=data if isinstance(data, dict) else {},
            id=str(body.get("id") or uuid.uuid4().hex),
            at=str(body.get("at") or ""),
        )


@dataclass
class _Subscriber:
    loop: asyncio.AbstractEventLoop
    queue: asyncio.Queue[LiveMessage]


def _offer(queue: asyncio.Queue[LiveMessage], message: LiveMessage) -> None:
    # Runs on the subscriber's loop; a full queue drops its oldest message, never blocks.
    if queue.full():
        queue.get_nowait()
    queue.put_nowait(message)


class LiveHub:
    """In-process fan-out, optionally bridged through Redis pub/sub (see the module doc)."""

    def __init__(self, redis_url: str | None = None, channel: str = DEFAULT_CHANNEL) -> None:
        self.channel = channel
        self._redis_url = redis_url
        self._subscribers: list[_Subscriber] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._redis: Any = None
        self._listener: threading.Thread | None = None
        self._sender: threading.Thread | None = None
        self._outbound: queue.SimpleQueue[LiveMessage | None] = queue.SimpleQueue()
        self._listening = threading.Event()
        if redis_url:
            self._start_redis(redis_url)

    @property
    def redis_enabled(self) -> bool:
        """True when messages travel through Redis."""
        return self._redis is not None

    def __repr__(self) -> str:  # the Redis URL may carry a password: never show it
        mode = "redis" if self.redis_enabled else "in-process"
        return f"<LiveHub {mode} channel={self.channel!r} subscribers={len(self._subscribers)}>"

    # -- consumers -------------------------------------------------------------------------

    def subscribe(self) -> tuple[asyncio.Queue[LiveMessage], Callable[[], None]]:
        """A queue receiving every message published from now on, and its unsubscribe.

        Call from a running event loop; the queue belongs to that loop.
        """
        sub = _Subscriber(asyncio.get_running_loop(), asyncio.Queue(maxsize=QUEUE_SIZE))
        with self._lock:
            self._subscribers.append(sub)

        def unsubscribe() -> None:
            with self._lock:
                if sub in self._subscribers:
                    self._subscribers.remove(sub)

        return sub.queue, unsubscribe

    def subscriber_count(self) -> int:
        """How many streams are listening on this instance."""
        with self._lock:
            return len(self._subscribers)

    # -- producers -------------------------------------------------------------------------

    def publish(self, topic: str, data: dict[str, Any] | None = None) -> LiveMessage:
        """Send an update to every subscriber (of every instance when Redis is configured).

        Safe from any thread and never blocks on Redis. A Redis failure is logged and the
        message still reaches this instance's subscribers, so a Redis outage degrades to
        in-process delivery.
        """
        message = LiveMessage(topic=topic, data=dict(data or {}))
        if self._redis is not None and not self._stop.is_set():
            # A sender thread talks to Redis, so a slow or absent Redis never stalls the loader.
            self._outbound.put(message)
        else:
            self._deliver(message)
        return message

    def _send(self) -> None:
        while True:
            message = self._outbound.get()
            if message is None:
                return
            try:
                self._redis.publish(self.channel, message.to_json())
            except Exception as exc:
                log.warning(
                    "live: Redis publish failed (%s); delivering locally only", type(exc).__name__
                )
                self._deliver(message)

    def _deliver(self, message: LiveMessage) -> None:
        with self._lock:
            targets = list(self._subscribers)
        for sub in targets:
            try:
                sub.loop.call_soon_threadsafe(_offer, sub.queue, message)
            except RuntimeError:  # the subscriber's loop is closed: it is gone
                with self._lock:
                    if sub in self._subscribers:
                        self._subscribers.remove(sub)

    # -- Redis bridge ----------------------------------------------------------------------

    def _start_redis(self, url: str) -> None:
        try:
            import redis
        except ImportError as exc:
            raise ConfigError(
                "[live] redis_url is set but the redis client is not installed",
                where="[live] redis_url",
                hint="pip install 'revops[dashboard]'",
            ) from exc
        self._redis = redis.Redis.from_url(url, socket_connect_timeout=3, socket_timeout=5)
        self._listener = threading.Thread(
            target=self._listen, name="revops-live-redis", daemon=True
        )
        self._listener.start()
        self._sender = threading.Thread(target=self._send, name="revops-live-send", daemon=True)
        self._sender.start()

    def wait_listening(self, timeout: float = 5.0) -> bool:
        """Block until the Redis listener has subscribed (True), or ``timeout`` passes."""
        return self._listening.wait(timeout)

    def _listen(self) -> None:
        backoff = 0.5
        while not self._stop.is_set():
            pubsub = self._redis.pubsub(ignore_subscribe_messages=True)
            try:
                pubsub.subscribe(self.channel)
                self._listening.set()
                backoff = 0.5
                while not self._stop.is_set():
                    raw = pubsub.get_message(timeout=0.5)
                    if raw and raw.get("type") == "message":
                        self._receive(raw.get("data"))
            except Exception as exc:
                self._listening.clear()
                log.warning(
                    "live: Redis listener lost its connection (%s); retrying", type(exc).__name__
                )
                self._stop.wait(backoff)
                backoff = min(backoff * 2, 10.0)
            finally:
                with contextlib.suppress(Exception):
                    pubsub.close()

    def _receive(self, raw: Any) -> None:
        try:
            message = LiveMessage.from_json(raw)
        except ValueError:
            log.warning("live: ignored a malformed message on %s", self.channel)
            return
        self._deliver(message)

    def close(self) -> None:
        """Stop the Redis listener and drop every subscriber. Idempotent."""
        self._stop.set()
        if self._sender is not None:
            self._outbound.put(None)
            self._sender.join(timeout=5)
        if self._listener is not None:
            self._listener.join(timeout=5)
        if self._redis is not None:
            with contextlib.suppress(Exception):
                self._redis.close()
        with self._lock:
            self._subscribers.clear()


def hub_from_settings(settings: Any) -> LiveHub:
    """A hub configured from ``[live]`` (``REVOPS_LIVE__REDIS_URL`` overrides the file)."""
    live = settings.model("live", LiveSettings)
    return LiveHub(redis_url=live.redis_url or None, channel=live.channel)
