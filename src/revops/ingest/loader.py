"""The loader: micro-batches from the bus into ``events_raw``, acked only after commit.

One batch is one warehouse transaction: the new events, their notification messages, the dead
letters that came with the batch and the audit rows commit together or not at all. Only then
is the batch acked on the bus, so a crash between the two redelivers the batch and the
warehouse's dedupe makes the second landing a no-op. A failing warehouse leaves the batch on
the bus; the loader retries the same batch with exponential backoff until it is back.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

import orjson

from revops import metrics, signals
from revops.audit import AuditEvent, record_many
from revops.envelope import Envelope
from revops.ingest.bus import Bus, BusMessage, Delivery
from revops.ingest.dead_letters import dead_letter_many
from revops.ingest.land import LOCK_NAME, LandItem, land_envelopes

if TYPE_CHECKING:
    from revops.notify.rules import NotifyRule, OutboxEntry
    from revops.warehouse.base import Warehouse

log = logging.getLogger(__name__)
Letter = tuple[str, str, bytes | str | None, dict[str, Any] | None]
ACTOR = "loader"
# Receiver processes ship the audit rows of the requests they rejected as one bus message of
# this type (no event id): a JSON array of [actor, resource, action, status, request_id,
# event_id, detail, at].
AUDIT_MESSAGE_TYPE = "revops.audit"
# How often a deferred landing looks at the arrival rate again (and its shortest window).
DEFER_QUIET_S = 0.1


def audit_message(events: Sequence[AuditEvent]) -> BusMessage:
    """One bus message carrying ``events`` to ``audit_events`` (written by the loader)."""
    rows = [
        [e.actor, e.resource, e.action, e.status, e.request_id, e.event_id, e.detail, e.at]
        for e in events
    ]
    return BusMessage(
        source="revops", type=AUDIT_MESSAGE_TYPE, body=orjson.dumps(rows), received_at=time.time()
    )


def _shipped_audits(msg: BusMessage) -> list[AuditEvent]:
    out = []
    for actor, resource, action, status, rid, event_id, detail, at in orjson.loads(msg.body):
        when = datetime.fromisoformat(at) if at else None
        out.append(AuditEvent(actor, resource, action, status, rid, event_id, detail, when))
    return out


@dataclass
class BatchResult:
    """What one micro-batch did."""

    new: list[str] = field(default_factory=list)
    duplicates: list[str] = field(default_factory=list)
    types: list[str] = field(default_factory=list)
    received_at: list[float] = field(default_factory=list)
    dead_letters: int = 0
    notifications: int = 0


def land_item(msg: BusMessage, *, parse: bool = True) -> LandItem:
    """The envelope carried by an event message, with its payload text as received.

    With ``parse=False`` the envelope's payload is left empty: landing needs only the text,
    and the loader decodes a body again only when a notification rule may concern it.
    """
    if msg.event_id is None or msg.type is None or msg.event_ts is None:
        raise ValueError("the message has no event_id, type or event_ts")
    payload = orjson.loads(msg.body) if parse else {}
    if not isinstance(payload, dict):
        raise ValueError(f"the payload is a JSON {type(payload).__name__}, not an object")
    env = Envelope.model_construct(
        source=msg.source,
        type=msg.type,
        event_ts=datetime.fromisoformat(msg.event_ts),
        event_id=msg.event_id,
        correlation_id=msg.correlation_id,
        payload=payload,
    )
    return LandItem(env, msg.body.decode("utf-8"))


def _letter(msg: BusMessage) -> Letter:
    detail = orjson.loads(msg.detail) if msg.detail else {}
    detail.setdefault("request_id", msg.request_id)
    return (msg.source, msg.reason or "rejected", msg.body, detail)


def load_micro_batch(
    wh: Warehouse,
    messages: Sequence[BusMessage],
    *,
    rules: Sequence[NotifyRule] = (),
    audits: Sequence[AuditEvent] = (),
) -> BatchResult:
    """Land ``messages`` (events and dead letters) in one transaction.

    Notifications come from ``rules`` (or from a message's ``notify``, which earlier versions
    computed at receipt); they are enqueued only for events new to ``events_raw``, in the
    transaction that stores them.
    Idempotent: events already in ``events_raw`` count as duplicates and enqueue nothing.
    """
    from revops.notify.rules import RuleSet, enqueue_entries

    ruleset = RuleSet(rules)

    result = BatchResult()
    letters = [_letter(m) for m in messages if m.is_dead_letter]
    audits = list(audits)
    events, items = [], []
    for m in messages:
        if m.is_dead_letter:
            continue
        if m.event_id is None and m.type == AUDIT_MESSAGE_TYPE:
            try:
                audits.extend(_shipped_audits(m))
                continue
            except (ValueError, TypeError):
                pass  # kept as a dead letter below
        try:
            parse = m.notify is None and ruleset.concerns(m.type or "")
            items.append(land_item(m, parse=parse))
            events.append(m)
        except (ValueError, TypeError) as exc:
            # A message the receiver let through but that cannot be read back must not
            # block the bus: it is kept as a dead letter instead.
            letters.append(
                (
                    m.source,
                    "corrupt_bus_message",
                    m.body,
                    {"event_id": m.event_id, "error": str(exc)[:300]},
                )
            )
    with wh.transaction(lock=LOCK_NAME):
        landed = land_envelopes(wh, items, actor=ACTOR, audit=bool(items))
        fresh = set(landed.new)
        entries: list[OutboxEntry] = []
        for msg, item in zip(events, items, strict=True):
            if msg.event_id not in fresh:
                continue
            if msg.notify is not None:
                entries.extend(tuple(e) for e in orjson.loads(msg.notify))
            elif item.envelope.payload:
                entries.extend(ruleset.entries([item.envelope]))
        if entries:
            result.notifications = enqueue_entries(wh, entries)
        if letters:
            dead_letter_many(wh, letters, actor="receiver")
        if audits:
            record_many(wh, audits)
    result.new, result.duplicates = landed.new, landed.duplicates
    result.dead_letters = len(letters)
    by_id = {m.event_id: m for m in events}
    result.types = [by_id[e].type or "" for e in landed.new]
    result.received_at = [by_id[e].received_at for e in landed.new]
    return result


class Loader:
    """The loader thread: consume, land, ack, signal; retry a failed batch with backoff.

    After each commit it emits ``events_landed`` (``event_ids``, ``types``, ``count``).
    """

    def __init__(
        self,
        wh: Warehouse,
        bus: Bus,
        *,
        batch_size: int = 1000,
        max_wait_ms: int = 50,
        max_backoff_s: float = 30.0,
        rules: Sequence[NotifyRule] = (),
        stop_event: threading.Event | None = None,
        audits: deque[AuditEvent] | None = None,
        on_landed: Callable[[BatchResult], None] | None = None,
        defer_above_per_s: float = 0.0,
        max_defer_s: float = 5.0,
    ) -> None:
        self.wh = wh
        self.bus = bus
        self.batch_size = batch_size
        self.defer_above_per_s = defer_above_per_s
        self.max_defer_s = max_defer_s
        self.deferrals = 0
        # (messages left waiting after the last consume, when): the arrival rate since then
        self._mark = (0, 0.0)
        self._draining = False  # landing what a deferral let gather
        self.max_wait = max_wait_ms / 1000
        self.max_backoff = max_backoff_s
        self.rules = list(rules)
        self.stop_event = stop_event or threading.Event()
        self.audits: deque[AuditEvent] = audits if audits is not None else deque(maxlen=10_000)
        self.on_landed = on_landed
        self.failures = 0
        self.healthy = True
        self._pending: list[Delivery] = []

    def load_once(self, timeout: float = 1.0, *, defer: bool = False) -> int:
        """Consume and land one micro-batch (or retry the pending one); returns its size.

        With ``defer``, a burst is let pass first (see :meth:`defer_to_burst`).
        Raises whatever the warehouse raised; the batch then stays pending for the next call.
        """
        if not self._pending:
            if defer:
                self.defer_to_burst()
            self._pending = self.bus.consume(self.batch_size, timeout, self.max_wait)
            backlog = getattr(self.bus, "backlog", None)
            if backlog is not None and self.defer_above_per_s:
                self._mark = (backlog(), time.monotonic())
                if len(self._pending) < self.batch_size:
                    self._draining = False  # caught up
        audits = [self.audits.popleft() for _ in range(len(self.audits))]
        if not self._pending and not audits:
            return 0
        try:
            result = load_micro_batch(
                self.wh, [d.message for d in self._pending], rules=self.rules, audits=audits
            )
        except BaseException:
            self.audits.extendleft(reversed(audits))
            raise
        batch, self._pending = self._pending, []
        self.bus.ack(batch)
        self._observe(len(batch), result)
        return len(batch)

    def defer_to_burst(self) -> float:
        """While a burst arrives, let it pass before landing; returns the seconds waited.

        A burst is messages arriving at ``defer_above_per_s`` or faster. Receiving them (each
        acknowledgement waits for its bus commit) then keeps the CPU while they wait, durable,
        on the bus; landing starts once the arrival rate drops below the threshold, or after
        ``max_defer_s`` at the latest, and goes on in full batches until it has caught up
        before it defers again. Slower flows land at once, so the marts stay fresh.
        """
        backlog = getattr(self.bus, "backlog", None)
        if not self.defer_above_per_s or backlog is None or self._draining:
            return 0.0
        started = time.monotonic()
        seen = backlog()
        left, at = self._mark
        if (seen - left) / max(started - at, DEFER_QUIET_S) < self.defer_above_per_s:
            return 0.0
        self.deferrals += 1
        while not self.stop_event.wait(DEFER_QUIET_S):
            now = backlog()
            if (now - seen) / DEFER_QUIET_S < self.defer_above_per_s:
                break
            if time.monotonic() - started >= self.max_defer_s:
                break
            seen = now
        self._draining = True
        return time.monotonic() - started

    def _observe(self, size: int, result: BatchResult) -> None:
        if size:
            metrics.batch_size.observe(size)
        metrics.landed.labels("new").inc(len(result.new))
        metrics.landed.labels("duplicate").inc(len(result.duplicates))
        if result.new:
            signals.emit(
                signals.EVENTS_LANDED,
                event_ids=result.new,
                types=result.types,
                count=len(result.new),
            )
        if self.on_landed is not None:
            self.on_landed(result)

    def run(self) -> None:
        """Load until ``stop_event`` is set; warehouse failures are retried with backoff."""
        delay = 0.0
        while not self.stop_event.is_set():
            if delay and self.stop_event.wait(delay):
                break
            try:
                self.load_once(timeout=1.0, defer=True)
            except Exception as exc:  # the loader must outlive outages
                self.failures += 1
                self.healthy = False
                metrics.loader_failures.inc()
                delay = min(self.max_backoff, max(0.25, delay * 2))
                log.warning(
                    "loader: batch of %d failed (%s); retrying in %.1f s",
                    len(self._pending),
                    str(exc).splitlines()[0][:200],
                    delay,
                )
                continue
            self.healthy = True
            delay = 0.0

    def drain(self, seconds: float) -> int:
        """Land what is waiting for up to ``seconds`` (at shutdown); returns events landed."""
        deadline = time.monotonic() + seconds
        total = 0
        while time.monotonic() < deadline:
            try:
                n = self.load_once(timeout=0.0)
            except Exception as exc:  # what is left stays on the bus
                log.warning(
                    "loader: drain stopped (%s); %d messages stay on the bus",
                    str(exc).splitlines()[0][:200],
                    self.bus.depth(),
                )
                break
            if n == 0:
                break
            total += n
        return total
