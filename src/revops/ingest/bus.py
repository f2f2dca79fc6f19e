"""The bus: an at-least-once queue between the receiver and the loader.

The interface is small (:class:`Bus`: publish, consume, ack, depth, close) so a distributed
broker can stand behind it later. The default, :class:`SqliteBus`, is one SQLite file in WAL
mode written by a single thread with **group commit**: every publish waiting when a commit
starts shares that commit (one fsync), and a publish's future resolves only once its commit is
durable. A message stays on the bus until the consumer acks it, so a crash at any moment
redelivers, never loses, what was acknowledged to a sender.

Duplicates are recognised at the bus within a dedupe window (``seen``, one small row per
event id); the warehouse dedupes forever behind it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import queue
import sqlite3
import threading
import time
from collections.abc import Awaitable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import orjson

from revops.errors import ConfigError, RevopsError

log = logging.getLogger(__name__)

SCHEMA = """
CREATE TABLE IF NOT EXISTS messages (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    source TEXT NOT NULL,
    event_id TEXT,
    type TEXT,
    event_ts TEXT,
    correlation_id TEXT,
    request_id TEXT,
    received_at REAL NOT NULL,
    reason TEXT,
    detail TEXT,
    notify TEXT,
    body BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS seen (
    event_id TEXT PRIMARY KEY,
    at REAL NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS seen_at ON seen (at);
"""
COLUMNS = (
    "source",
    "event_id",
    "type",
    "event_ts",
    "correlation_id",
    "request_id",
    "received_at",
    "reason",
    "detail",
    "notify",
    "body",
)
PRUNE_EVERY_S = 300.0
CHECKPOINT_EVERY_S = 1.0
SYNCERS = 2
POLL_S = 0.01  # how often an owner with publisher processes looks for their messages
DEPTH_CACHE_S = 0.25
READ_BATCH = """
SELECT json_group_array(json_array(seq, source, event_id, type, event_ts, correlation_id,
    request_id, received_at, reason, detail, notify,
    CASE WHEN reason IS NULL THEN CAST(body AS TEXT) ELSE hex(body) END, reason IS NULL))
FROM (SELECT * FROM messages WHERE seq > ? ORDER BY seq LIMIT ?)
"""
# [bus] synchronous → SQLite's own setting. "full" adds our fsync of the WAL after each commit
# (pipelined, see SqliteBus); "extra" lets SQLite fsync inside every commit.
SYNC_PRAGMAS = {"full": "NORMAL", "normal": "NORMAL", "extra": "FULL"}


class BusError(RevopsError):
    """The bus could not store or read messages."""


@dataclass(frozen=True)
class BusMessage:
    """One message: an event (``event_id`` set) or a dead letter (``reason`` set).

    ``body`` is the event's payload JSON as received, or a dead letter's raw bytes.
    ``notify`` may hold notifications already computed for the event (JSON; earlier versions
    computed them at receipt), enqueued by the loader only once the event is stored; without
    it the loader evaluates the rules itself.
    """

    source: str
    body: bytes
    event_id: str | None = None
    type: str | None = None
    event_ts: str | None = None
    correlation_id: str | None = None
    request_id: str | None = None
    received_at: float = 0.0
    reason: str | None = None
    detail: str | None = None
    notify: str | None = None

    @property
    def is_dead_letter(self) -> bool:
        """True for a message that records a rejected body."""
        return self.reason is not None

    def row(self) -> tuple[Any, ...]:
        """The message's values in :data:`COLUMNS` order."""
        return (
            self.source,
            self.event_id,
            self.type,
            self.event_ts,
            self.correlation_id,
            self.request_id,
            self.received_at or time.time(),
            self.reason,
            self.detail,
            self.notify,
            self.body,
        )


@dataclass(frozen=True)
class Delivery:
    """A consumed message and its position, to ack once processed."""

    seq: int
    message: BusMessage


class Bus(Protocol):
    """At-least-once queue; every method is safe to call from any thread."""

    def publish(self, messages: Sequence[BusMessage]) -> Future[list[bool]]:
        """Store ``messages``; the future resolves once they are durable, to one flag per
        message: True when new, False when a duplicate event id (not stored again)."""
        ...

    def publish_async(
        self, messages: Sequence[BusMessage], idle: bool = False
    ) -> Awaitable[list[bool]]:
        """:meth:`publish` for a caller on an asyncio event loop. ``idle``: the loop has
        nothing else to do until these are durable (an implementation may then wait for them
        on the loop instead of handing the wait to another thread)."""
        ...

    def consume(self, max_messages: int, timeout: float, max_wait: float = 0.0) -> list[Delivery]:
        """Up to ``max_messages`` not yet delivered, waiting up to ``timeout`` for the first
        and then up to ``max_wait`` for the batch to fill."""
        ...

    def ack(self, deliveries: Sequence[Delivery]) -> None:
        """Remove processed messages; unacked ones are delivered again after a restart."""
        ...

    def depth(self) -> int:
        """How many messages wait (delivered but unacked included)."""
        ...

    def close(self) -> None:
        """Finish pending writes and release the bus."""
        ...


def _settle(items: list[tuple[Any, Any, BaseException | None]]) -> None:
    """Resolve asyncio futures on their own loop (called there by a syncer thread)."""
    for future, value, error in items:
        if future.done():
            continue  # the request was cancelled (client went away)
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(value)


def _insert_rows(
    con: sqlite3.Connection, table: str, columns: Sequence[str], rows: list[tuple[Any, ...]]
) -> None:
    """Insert ``rows`` with as few statements as SQLite's variable limit allows."""
    per = max(1, 30_000 // len(columns))
    marks = "(" + ",".join("?" * len(columns)) + ")"
    for start in range(0, len(rows), per):
        chunk = rows[start : start + per]
        con.execute(
            f"INSERT INTO {table} ({', '.join(columns)}) VALUES {','.join([marks] * len(chunk))}",
            [v for row in chunk for v in row],
        )


def _hold_lock(path: Path) -> int:
    """Hold ``<bus>.lock`` for this process: one consumer per bus file, or acks would race."""
    import fcntl

    lock_path = path.with_name(path.name + ".lock")
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as exc:
        holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "another process"
        os.close(fd)
        raise BusError(
            f"the bus file is held by process {holder} (another `revops serve`?)",
            input=str(path),
            hint="stop that server, or give this one its own [bus] url",
        ) from exc
    os.ftruncate(fd, 0)
    os.pwrite(fd, str(os.getpid()).encode(), 0)
    return fd


def sqlite_path(url: str) -> Path:
    """The file of a ``sqlite:///relative`` or ``sqlite:////absolute`` URL."""
    if not url.startswith("sqlite:///") or len(url) == len("sqlite:///"):
        raise ConfigError(
            "a bus URL reads sqlite:///relative/path or sqlite:////absolute/path",
            input=url,
            where="[bus] url / REVOPS_BUS__URL",
        )
    return Path(url[len("sqlite:///") :])


def open_bus(
    url: str,
    *,
    synchronous: str = "full",
    dedupe_window_hours: float = 168.0,
    max_group: int = 2000,
    role: str = "owner",
    external_publishers: bool = False,
) -> SqliteBus:
    """Open the bus named by ``url`` (only ``sqlite:///`` is built in).

    ``role="publisher"`` opens it for publishing only (a receiver process beside the owner);
    the owner passes ``external_publishers=True`` when such processes publish to its file.
    """
    if not url.startswith("sqlite:"):
        raise ConfigError(
            f"unsupported bus URL scheme {url.split(':', 1)[0]!r}",
            input=url,
            where="[bus] url / REVOPS_BUS__URL",
            hint="use sqlite:///path/to/bus.sqlite3 (the default)",
        )
    return SqliteBus(
        sqlite_path(url),
        synchronous=synchronous,
        dedupe_window_s=dedupe_window_hours * 3600,
        max_group=max_group,
        role=role,
        external_publishers=external_publishers,
    )


class _Op:
    __slots__ = ("future", "idle", "kind", "loop", "value")

    def __init__(
        self,
        kind: str,
        value: Any,
        loop: asyncio.AbstractEventLoop | None = None,
        idle: bool = False,
    ) -> None:
        self.kind = kind
        self.value = value
        self.loop = loop
        self.idle = idle
        # An asyncio caller gets an asyncio future resolved on its loop; others a thread one.
        self.future: Any = loop.create_future() if loop is not None else Future()


class SqliteBus:
    """The local bus: one SQLite file in WAL mode with group commit.

    Publishes from an event loop are gathered per loop iteration and committed together on
    the loop (a short write, no thread hop); publishes from threads commit in the calling
    thread. A syncer thread then flushes the WAL once for every commit waiting and releases
    their publishers, while new groups are already being written; an ``idle`` publish (the
    loop has nothing else to do) is flushed on the loop instead.

    One process, the *owner*, holds the file (``<bus>.lock``), consumes, acks and checkpoints.
    Other processes may open it as *publishers* (``role="publisher"``): SQLite's write lock
    serialises their groups and each flushes the WAL after its own commits, so their
    acknowledgements are as durable as the owner's. An owner told ``external_publishers``
    looks for their messages in the file (every :data:`POLL_S`) instead of counting its own.
    """

    def __init__(
        self,
        path: Path,
        *,
        synchronous: str = "full",
        dedupe_window_s: float = 7 * 86400,
        max_group: int = 2000,
        role: str = "owner",
        external_publishers: bool = False,
    ) -> None:
        if role not in ("owner", "publisher"):
            raise ValueError(f"unknown bus role {role!r}")
        self.path = Path(path)
        self.owner = role == "owner"
        # Messages may appear in the file that this process did not write: count from the file.
        self._external = external_publishers or not self.owner
        self._depth_cache = (0.0, 0)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.dedupe_window_s = dedupe_window_s
        self.max_group = max_group
        if synchronous not in SYNC_PRAGMAS:
            raise ConfigError(
                f"unknown [bus] synchronous {synchronous!r}",
                hint="use full (default), normal or extra",
            )
        # "full": commits do not fsync inside SQLite; a syncer thread fsyncs the WAL after
        # them, so the next group is written while the previous one is being flushed.
        self._pipelined = synchronous == "full"
        self._lock_fd = _hold_lock(self.path) if self.owner else None
        try:
            self._writer = self._connect(SYNC_PRAGMAS[synchronous])
            if self.owner:
                self._writer.executescript(SCHEMA)
            # Checkpoints copy the WAL into the file and flush it: done by the syncer thread
            # on its own connection, never inside a commit on the event loop.
            self._writer.execute("PRAGMA wal_autocheckpoint=0")
            self._checkpointer = self._connect(SYNC_PRAGMAS[synchronous])
            self._checkpointer.execute("PRAGMA wal_autocheckpoint=0")
            self._reader = self._connect(SYNC_PRAGMAS[synchronous])
            self._depth = int(self._reader.execute("SELECT count(*) FROM messages").fetchone()[0])
            # The WAL exists now (the read above opened it) and stays the same file while this
            # process has the bus open (SQLite removes it only when its last connection
            # closes): the syncers flush it through one descriptor, opened once.
            self._wal_fd = os.open(self.wal_path, os.O_RDONLY) if self._pipelined else None
            if self._pipelined and self.owner:
                self._flush_wal()
                self._fsync(self.path.parent)  # the WAL's directory entry
        except (sqlite3.Error, OSError) as exc:
            raise BusError(
                f"cannot open the bus: {exc}",
                input=str(self.path),
                hint="check the folder is writable ([bus] url)",
            ) from exc
        self._read_lock = threading.Lock()
        self._cursor = 0  # highest seq handed to the consumer in this process
        self._inflight = 0  # handed to the consumer, not yet acked
        self._want = 1  # undelivered messages the waiting consumer needs before waking
        self._write_lock = threading.Lock()
        self._pending: dict[asyncio.AbstractEventLoop, list[_Op]] = {}
        # Several processes writing: SQLite's own busy wait sleeps 1, 2, 5 … ms between tries,
        # far longer than a commit holds the lock. An flock on a side file queues writers in
        # the kernel instead (woken the moment the lock is free; the wait gives up the GIL).
        self._shared_fd = (
            os.open(self.path.with_name(self.path.name + ".writer"), os.O_RDWR | os.O_CREAT, 0o644)
            if self._external
            else None
        )
        self._arrived = threading.Condition()
        self._closed = False
        self._last_prune = 0.0
        self.commits = 0
        self.fsyncs = 0
        self._syncs: queue.SimpleQueue[list[Any] | None] = queue.SimpleQueue()
        self._last_checkpoint = 0.0
        self._checkpoint_lock = threading.Lock()
        # Two syncers: a commit made while one flush is under way starts its own flush at once
        # instead of waiting for that one to finish first (the disk takes both together).
        self._syncers = [
            threading.Thread(target=self._sync_loop, name=f"bus-syncer-{n}", daemon=True)
            for n in range(SYNCERS)
        ]
        for thread in self._syncers:
            thread.start()

    @property
    def wal_path(self) -> Path:
        """The SQLite write-ahead log beside the bus file."""
        return self.path.with_name(self.path.name + "-wal")

    @staticmethod
    def _fsync(path: Path) -> None:
        fd = os.open(path, os.O_RDONLY)
        try:
            getattr(os, "fdatasync", os.fsync)(fd)
        finally:
            os.close(fd)

    def _flush_wal(self) -> None:
        assert self._wal_fd is not None  # opened whenever the syncers flush (pipelined)
        # fdatasync: the WAL's data and size, without the timestamps fsync also flushes.
        getattr(os, "fdatasync", os.fsync)(self._wal_fd)

    def _sync_loop(self) -> None:
        """Flush the WAL once for every commit waiting, then release their publishers."""
        while True:
            item = self._syncs.get()
            if item is None:
                return
            waiting = list(item)
            stop = False
            while True:
                try:
                    more = self._syncs.get_nowait()
                except queue.Empty:
                    break
                if more is None:
                    stop = True
                    break
                waiting.extend(more)
            try:
                if waiting and self._pipelined:
                    self._flush_wal()
                    self.fsyncs += 1
            except OSError as exc:
                error = BusError(
                    f"the bus could not flush its log: {exc}", input=str(self.wal_path)
                )
                self._resolve([(op, None, error) for op, _, _ in waiting])
            else:
                self._resolve(waiting)
            self._checkpoint()
            if stop:
                return

    def _checkpoint(self, force: bool = False) -> None:
        """Copy committed WAL frames into the bus file now and then (PASSIVE: writers and
        readers are never blocked), so the log does not grow without bound (the owner's job)."""
        if not self.owner:
            return
        now = time.monotonic()
        if not force and now - self._last_checkpoint < CHECKPOINT_EVERY_S:
            return
        if not self._checkpoint_lock.acquire(blocking=False):
            return  # the other syncer is at it
        try:
            self._last_checkpoint = now
            self._checkpointer.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
        except sqlite3.Error as exc:
            log.warning("bus checkpoint failed (retried later): %s", exc)
        finally:
            self._checkpoint_lock.release()

    def _connect(self, synchronous: str) -> sqlite3.Connection:
        con = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=30)
        con.execute("PRAGMA journal_mode=WAL")
        con.execute(f"PRAGMA synchronous={synchronous.upper()}")
        return con

    # -- writing -------------------------------------------------------------------------

    def publish(self, messages: Sequence[BusMessage]) -> Future[list[bool]]:
        return self._submit(_Op("publish", list(messages)))

    def publish_async(
        self, messages: Sequence[BusMessage], idle: bool = False
    ) -> Awaitable[list[bool]]:
        """Like :meth:`publish`, awaitable on the calling event loop (one wake-up per loop
        and commit, however many requests the commit served). With ``idle`` the WAL is
        flushed on the loop itself, right after the commit: no hand-off to a syncer thread
        and back, which costs more CPU than the flush when nothing else waits for the loop."""
        return self._submit(_Op("publish", list(messages), asyncio.get_running_loop(), idle))

    def ack(self, deliveries: Sequence[Delivery]) -> None:
        if deliveries:
            self._submit(_Op("ack", [d.seq for d in deliveries])).result()

    def _submit(self, op: _Op) -> Any:
        if self._closed:
            op.future.set_exception(BusError("the bus is closed", input=str(self.path)))
            return op.future
        if op.loop is None:
            with self._write_lock:
                self._commit_group([op])
            return op.future
        # On the event loop: every publish made before the loop gets round to the flush joins
        # the same group (one transaction), written right there, without a thread hop.
        pending = self._pending.get(op.loop)
        if pending is None:
            self._pending[op.loop] = [op]
            op.loop.call_soon(self._flush, op.loop)
        else:
            pending.append(op)
        return op.future

    def _flush(self, loop: asyncio.AbstractEventLoop) -> None:
        """Commit the publishes this loop gathered (called on that loop)."""
        group = self._pending.pop(loop, [])
        for start in range(0, len(group), self.max_group):
            with self._write_lock:
                here = self._commit_group(group[start : start + self.max_group])
            if here:  # outside the locks: other writers commit meanwhile
                self._flush_here(here)

    def _commit_group(self, group: list[_Op]) -> list[tuple[_Op, Any, None]]:
        """Write every op of ``group`` in one transaction, then resolve their futures, or hand
        them to a syncer to resolve once the WAL is flushed; returns instead those the caller
        flushes itself (``idle`` publishes)."""
        if self._shared_fd is None:
            return self._commit_group_locked(group)
        import fcntl

        fcntl.flock(self._shared_fd, fcntl.LOCK_EX)
        try:
            return self._commit_group_locked(group)
        finally:
            fcntl.flock(self._shared_fd, fcntl.LOCK_UN)

    def _flush_here(self, published: list[tuple[_Op, Any, None]]) -> None:
        """Flush the WAL on this thread and resolve ``published``."""
        try:
            self._flush_wal()
            self.fsyncs += 1
        except OSError as exc:
            error = BusError(f"the bus could not flush its log: {exc}", input=str(self.wal_path))
            self._resolve([(op, None, error) for op, _, _ in published])
        else:
            self._resolve(published)
        if self.owner:
            self._syncs.put([])  # lets a syncer checkpoint now and then

    def _commit_group_locked(self, group: list[_Op]) -> list[tuple[_Op, Any, None]]:
        con = self._writer
        publishes = [op for op in group if op.kind == "publish"]
        acks = [seq for op in group if op.kind == "ack" for seq in op.value]
        try:
            con.execute("BEGIN IMMEDIATE")
            now = time.time()
            flags = self._insert(con, [m for op in publishes for m in op.value], now)
            if acks:
                for start in range(0, len(acks), 500):
                    chunk = acks[start : start + 500]
                    con.execute(
                        f"DELETE FROM messages WHERE seq IN ({','.join('?' * len(chunk))})", chunk
                    )
            self._prune(con, now)
            con.execute("COMMIT")
        except sqlite3.Error as exc:
            with contextlib.suppress(sqlite3.Error):
                con.execute("ROLLBACK")
            error = BusError(f"the bus could not commit: {exc}", input=str(self.path))
            self._resolve([(op, None, error) for op in group])
            return []
        self.commits += 1
        with self._arrived:
            new_messages = sum(flags)
            self._depth += new_messages - len(acks)
            self._inflight = max(0, self._inflight - len(acks))
            if new_messages and self._depth_undelivered() >= self._want:
                self._arrived.notify_all()
        published: list[tuple[_Op, Any, None]] = []
        acked: list[tuple[_Op, Any, BaseException | None]] = []
        at = 0
        for op in group:
            if op.kind == "publish":
                published.append((op, flags[at : at + len(op.value)], None))
                at += len(op.value)
            else:
                acked.append((op, None, None))
        self._resolve(acked)  # an ack lost to a power cut only means a redelivery
        if self._pipelined and published:
            if any(op.idle for op, _, _ in published):
                return published
            self._syncs.put(published)
        else:
            self._resolve(published)
            self._syncs.put([])  # lets the syncer checkpoint now and then
        return []

    @staticmethod
    def _resolve(results: Sequence[tuple[_Op, Any, BaseException | None]]) -> None:
        by_loop: dict[Any, list[tuple[Any, Any, BaseException | None]]] = {}
        for op, value, error in results:
            if op.loop is None:
                if error is not None:
                    op.future.set_exception(error)
                else:
                    op.future.set_result(value)
            else:
                by_loop.setdefault(op.loop, []).append((op.future, value, error))
        for loop, items in by_loop.items():
            # A closed loop raises RuntimeError: nobody waits any more.
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(_settle, items)

    @staticmethod
    def _insert(con: sqlite3.Connection, messages: list[BusMessage], now: float) -> list[bool]:
        """Insert new messages; an event id already seen (or earlier in the group) is a
        duplicate and is not stored again."""
        ids = [m.event_id for m in messages if m.event_id is not None]
        known: set[str] = set()
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            marks = ",".join("?" * len(chunk))
            known.update(
                r[0]
                for r in con.execute(
                    f"SELECT event_id FROM seen WHERE event_id IN ({marks})", chunk
                )
            )
        flags: list[bool] = []
        rows: list[tuple[Any, ...]] = []
        seen_rows: list[tuple[str, float]] = []
        for msg in messages:
            if msg.event_id is not None:
                if msg.event_id in known:
                    flags.append(False)
                    continue
                known.add(msg.event_id)
                seen_rows.append((msg.event_id, now))
            rows.append(msg.row())
            flags.append(True)
        # Multi-row statements: sqlite3 gives up the GIL around every step, and each time the
        # writer must wait to get it back from the busy event loop; one step per table per
        # group keeps the writer from queueing behind the requests it serves.
        _insert_rows(con, "seen", ("event_id", "at"), seen_rows)
        _insert_rows(con, "messages", COLUMNS, rows)
        return flags

    def _prune(self, con: sqlite3.Connection, now: float) -> None:
        if now - self._last_prune >= PRUNE_EVERY_S:
            self._last_prune = now
            con.execute("DELETE FROM seen WHERE at < ?", (now - self.dedupe_window_s,))

    # -- reading -------------------------------------------------------------------------

    def consume(self, max_messages: int, timeout: float, max_wait: float = 0.0) -> list[Delivery]:
        if not self.owner:
            raise BusError("a publisher cannot consume", input=str(self.path))
        if self._external:
            return self._consume_polling(max_messages, timeout, max_wait)
        deadline = time.monotonic() + timeout
        with self._arrived:
            # Writers wake the consumer only once what it waits for is there (the first
            # message, then a full batch): a wake-up per commit would cost a GIL hand-off each.
            self._want = 1
            while self._depth_undelivered() == 0 and not self._closed:
                left = deadline - time.monotonic()
                if left <= 0:
                    return []
                self._arrived.wait(left)
            if max_wait > 0:
                self._want = max_messages
                fill_by = time.monotonic() + max_wait
                while self._depth_undelivered() < max_messages and not self._closed:
                    left = fill_by - time.monotonic()
                    if left <= 0:
                        break
                    self._arrived.wait(left)
            self._want = 1
        return self._read(max_messages)

    def _consume_polling(
        self, max_messages: int, timeout: float, max_wait: float
    ) -> list[Delivery]:
        """consume() when other processes publish: their commits are seen in the file."""
        deadline = time.monotonic() + timeout
        while self._file_undelivered() == 0 and not self._closed:
            left = deadline - time.monotonic()
            if left <= 0:
                return []
            with self._arrived:
                self._arrived.wait(min(POLL_S, left))
        fill_by = time.monotonic() + max_wait
        while self._file_undelivered() < max_messages and not self._closed:
            left = fill_by - time.monotonic()
            if left <= 0:
                break
            with self._arrived:
                self._arrived.wait(min(POLL_S, left))
        return self._read(max_messages)

    def _file_undelivered(self) -> int:
        # Sequence numbers are dense (duplicates take none), so this counts what waits past
        # the cursor with one index lookup.
        with self._read_lock:
            (top,) = self._reader.execute("SELECT max(seq) FROM messages").fetchone()
        return 0 if top is None else max(0, int(top) - self._cursor)

    def _depth_undelivered(self) -> int:
        # Approximate is enough: _read decides what is actually handed out.
        return self._depth - self._inflight

    def _read(self, max_messages: int) -> list[Delivery]:
        # One row holding the whole batch as JSON: sqlite3 gives up the GIL around every step,
        # and a row-per-step read of a large batch would queue behind the event loop each time.
        # Bodies travel as text when they are UTF-8 (events always are), else as hex.
        with self._read_lock:
            (packed,) = self._reader.execute(READ_BATCH, (self._cursor, max_messages)).fetchone()
            rows = orjson.loads(packed) if packed else []
            if rows:
                self._cursor = rows[-1][0]
        out = [
            Delivery(
                r[0],
                BusMessage(
                    source=r[1],
                    event_id=r[2],
                    type=r[3],
                    event_ts=r[4],
                    correlation_id=r[5],
                    request_id=r[6],
                    received_at=r[7],
                    reason=r[8],
                    detail=r[9],
                    notify=r[10],
                    body=r[11].encode() if r[12] else bytes.fromhex(r[11]),
                ),
            )
            for r in rows
        ]
        with self._arrived:
            self._inflight += len(out)
        return out

    def backlog(self) -> int:
        """How many messages wait to be consumed (not yet handed to this process's consumer)."""
        if self._external:
            return self._file_undelivered()
        return max(0, self._depth_undelivered())

    def redeliver(self) -> None:
        """Hand out every unacked message again (after a consumer gave up on a batch)."""
        with self._read_lock, self._arrived:
            self._cursor = 0
            self._inflight = 0

    def depth(self) -> int:
        if self._external:
            return self._file_depth()
        return max(0, self._depth)

    def _file_depth(self) -> int:
        """Messages in the file, from the first and last sequence numbers (two index lookups;
        an upper bound when acks left gaps), cached for :data:`DEPTH_CACHE_S`."""
        at, value = self._depth_cache
        now = time.monotonic()
        if now - at < DEPTH_CACHE_S or self._closed:
            return value
        with self._read_lock:
            row = self._reader.execute(
                "SELECT (SELECT max(seq) FROM messages) - (SELECT min(seq) FROM messages) + 1"
            ).fetchone()
        value = int(row[0] or 0)
        self._depth_cache = (now, value)
        return value

    def oldest_received_at(self) -> float | None:
        """When the oldest waiting message arrived (epoch seconds), or None when empty (or
        closed: a metrics scrape may outlive the bus)."""
        if self._closed:
            return None
        with self._read_lock:
            row = self._reader.execute(
                "SELECT received_at FROM messages ORDER BY seq LIMIT 1"
            ).fetchone()
        return None if row is None else float(row[0])

    def pending_dead_letters(self) -> int:
        """Dead letters waiting on the bus."""
        with self._read_lock:
            return int(
                self._reader.execute(
                    "SELECT count(*) FROM messages WHERE reason IS NOT NULL"
                ).fetchone()[0]
            )

    def ping(self) -> None:
        """Raise :class:`BusError` unless the file can be read."""
        try:
            with self._read_lock:
                self._reader.execute("SELECT 1 FROM messages LIMIT 1").fetchall()
        except sqlite3.Error as exc:
            raise BusError(f"the bus is not readable: {exc}", input=str(self.path)) from exc
        if not all(t.is_alive() for t in self._syncers):
            raise BusError("the bus syncer has stopped", input=str(self.path))

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        for _ in self._syncers:
            self._syncs.put(None)
        for thread in self._syncers:
            thread.join(timeout=30)
        with self._arrived:
            self._arrived.notify_all()
        with self._write_lock:
            self._reader.close()
            with self._checkpoint_lock:
                self._checkpointer.close()
            self._writer.close()
        if self._lock_fd is not None:
            os.close(self._lock_fd)
        if self._shared_fd is not None:
            os.close(self._shared_fd)
        if self._wal_fd is not None:
            os.close(self._wal_fd)
