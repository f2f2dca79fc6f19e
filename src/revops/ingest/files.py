"""``revops ingest``: NDJSON of envelopes or native Stripe / Salesforce events.

Each line is recognised on its own (or read as ``source`` when forced). A bad line goes to
``dead_letters`` with its line number and reason while good lines still land; nothing is
dropped silently.

Reading and landing overlap: a reader thread turns the lines into column chunks while the
calling thread lands the previous chunks (DuckDB and psycopg release the GIL while the engine
works). The warehouse is only ever used from the calling thread, in input order, so the
transactions, their contents and the dead letters are those of a sequential run.
"""

from __future__ import annotations

import gc
import queue
import sys
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from itertools import islice
from typing import TYPE_CHECKING, Any

import orjson

from revops.errors import ConstraintViolation, EventError
from revops.ingest.dead_letters import dead_letter_many
from revops.ingest.land import LOCK_NAME, BatchLander, LandItem, LandResult, RawRows
from revops.ingest.native_lines import binary_array, invalid_utf8, micros, read_native
from revops.sources.detect import KNOWN_SOURCES, SourceHint, is_envelope, normalize_record

if TYPE_CHECKING:
    from revops.warehouse.base import Warehouse

DEFAULT_MAX_EVENT_BYTES = 1024 * 1024
DEFAULT_BATCH = 5_000
# Events per insert inside a batch's transaction: small enough that reading the next chunk
# overlaps the engine's work on this one, large enough that per-statement costs vanish.
CHUNK_EVENTS = 5_000
# Lines read and checked together (one vectorised UTF-8 check per window).
WINDOW_LINES = 500
# Chunks read ahead of the landing: about one batch (at most 12 chunks) in memory, so the
# reader can go on while a batch commits.
READ_AHEAD = 12
# Dead letters that end a batch early (as many bad lines are not held in memory).
MAX_PENDING_LETTERS = 1000
Letter = tuple[str, str, bytes | str | None, dict[str, Any] | None]


@dataclass
class IngestReport:
    """Counts of one ingest run: lines read, events new and duplicate, lines dead-lettered."""

    read: int = 0
    new: int = 0
    duplicates: int = 0
    dead_lettered: int = 0
    dead_letter_ids: list[int] = field(default_factory=list)
    reasons: dict[str, int] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """True when no line failed."""
        return self.dead_lettered == 0

    def as_dict(self) -> dict[str, Any]:
        """The counts as plain data."""
        return {
            "read": self.read,
            "new": self.new,
            "duplicates": self.duplicates,
            "dead_lettered": self.dead_lettered,
            "reasons": dict(self.reasons),
        }


def parse_line(
    line: bytes,
    source: SourceHint | None,
    max_bytes: int = DEFAULT_MAX_EVENT_BYTES,
    known_sources: frozenset[str] | None = KNOWN_SOURCES,
) -> list[LandItem]:
    """The land items of one NDJSON line; raises :class:`EventError` with a reason."""
    if len(line) > max_bytes:
        raise EventError(
            f"event is {len(line)} bytes, above the limit of {max_bytes}",
            reason="oversized",
            hint="raise [ingest] max_event_bytes if such events are expected",
        )
    try:
        obj = orjson.loads(line)
    except orjson.JSONDecodeError as exc:
        raise EventError(f"malformed JSON: {exc}", reason="malformed_json") from exc
    envelopes = normalize_record(obj, source, known_sources)
    if is_envelope(obj):
        return [LandItem(e) for e in envelopes]
    # Native events: the payload is the line exactly as received, kept as bytes (orjson has
    # checked they are UTF-8) so landing needs no Python decode.
    text = line.strip()
    return [LandItem(e, text) for e in envelopes]


@contextmanager
def _cyclic_gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while a batch of parsed payloads is alive.

    Parsed JSON holds no reference cycles (reference counting frees it), but thousands of
    live payload dicts make every collector pass walk them all: pausing it made landing 1.7×
    faster (measured). The previous state is restored on exit."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


@contextmanager
def _short_switch_interval(seconds: float = 0.0005) -> Iterator[None]:
    """Let the landing thread take the GIL back quickly from the reader thread after each
    engine call (the default 5 ms wait per call would idle the engine); restored on exit."""
    before = sys.getswitchinterval()
    sys.setswitchinterval(min(before, seconds))
    try:
        yield
    finally:
        sys.setswitchinterval(before)


@dataclass
class _Chunk:
    """Consecutive lines turned into rows and dead letters; ``flush`` ends a batch."""

    rows: RawRows
    letters: list[Letter]
    read: int
    nbytes: int
    flush: bool = False


def ingest_lines(
    wh: Warehouse,
    lines: Iterable[bytes],
    *,
    source: SourceHint | None = None,
    name: str = "-",
    batch_size: int = DEFAULT_BATCH,
    max_event_bytes: int = DEFAULT_MAX_EVENT_BYTES,
    actor: str | None = None,
    progress: Callable[[int], None] | None = None,
    known_sources: frozenset[str] | None = KNOWN_SOURCES,
) -> IngestReport:
    """Land every good line of ``lines``; dead-letter the bad ones with line number and reason.

    Each batch of ``batch_size`` events is one transaction with its audit row; its dead
    letters follow in their own. Idempotent: ingesting the same input twice lands nothing new
    the second time.
    """
    chunks = _read_chunks(lines, source, name, batch_size, max_event_bytes, known_sources)
    with _cyclic_gc_paused(), _short_switch_interval():
        depth = min(READ_AHEAD, max(2, batch_size // CHUNK_EVENTS + 1))
        reader = _ReadAhead(chunks, depth)
        try:
            return _land_chunks(wh, reader, actor or "ingest", progress)
        finally:
            reader.close()


def _land_chunks(
    wh: Warehouse,
    reader: _ReadAhead,
    actor: str,
    progress: Callable[[int], None] | None,
) -> IngestReport:
    report = IngestReport()
    letters: list[Letter] = []

    def take(chunk: _Chunk) -> _Chunk:
        report.read += chunk.read
        for letter in chunk.letters:
            report.dead_lettered += 1
            report.reasons[letter[1]] = report.reasons.get(letter[1], 0) + 1
        letters.extend(chunk.letters)
        if progress is not None and chunk.nbytes:
            progress(chunk.nbytes)
        return chunk

    def gather(chunk: _Chunk) -> _Chunk:
        # The chunks of the same batch that the reader already has join this one: fewer,
        # larger statements whenever the reader is ahead of the engine.
        while not chunk.flush:
            more = reader.next_ready()
            if more is None:
                break
            take(more)
            chunk.rows.extend(more.rows)
            chunk.flush = more.flush
        return chunk

    # Fresh batches skip the lookup of stored ids; a batch that meets one is landed again
    # with it, and so is every later batch. Inside a caller's transaction a batch cannot be
    # landed again: the lookup is made from the start.
    check_existing = wh.in_transaction

    def next_chunk() -> _Chunk:
        more = reader.next()
        if more is None:  # pragma: no cover - the last chunk always ends a batch
            raise RuntimeError("the reader ended inside a batch")
        return gather(take(more))

    def land_batch(chunk: _Chunk, kept: list[_Chunk], check: bool) -> tuple[_Chunk, LandResult]:
        # ``kept``: the batch's chunks landed before ``chunk`` (by a failed try).
        with wh.transaction(lock=LOCK_NAME):
            lander = BatchLander(wh, check_existing=check)
            for done in kept:
                lander.add(done.rows)
            while True:
                kept.append(chunk)
                lander.add(chunk.rows)
                if chunk.flush:
                    break
                chunk = next_chunk()
            lander.close(actor=actor, request_id=None)
        return chunk, lander.result

    while (chunk := reader.next()) is not None:
        gather(take(chunk))
        if chunk.rows:
            kept: list[_Chunk] = []
            try:
                chunk, result = land_batch(chunk, kept, check_existing)
            except ConstraintViolation:
                if check_existing:
                    raise
                check_existing = True
                # Again from the start, with the lookup; the chunk that failed goes on.
                chunk, result = land_batch(kept.pop(), kept, True)
            report.new += len(result.new)
            report.duplicates += len(result.duplicates)
        if chunk.flush and letters:
            report.dead_letter_ids += dead_letter_many(wh, letters, actor=actor)
            letters = []
    return report


def _read_chunks(
    lines: Iterable[bytes],
    source: SourceHint | None,
    name: str,
    batch_size: int,
    max_bytes: int,
    known_sources: frozenset[str] | None,
) -> Iterator[_Chunk]:
    """The lines as chunks of rows and dead letters; a chunk ends where a batch ends (at
    ``batch_size`` events or :data:`MAX_PENDING_LETTERS` dead letters) or at
    :data:`CHUNK_EVENTS` events. The last chunk always ends a batch."""
    native_ok = source in (None, "stripe", "salesforce")
    it = iter(lines)
    number = 0
    rows, letters, read, nbytes = RawRows(payload_parts=[]), [], 0, 0
    batch_events = batch_letters = 0
    failure: Exception | None = None
    while failure is None:
        window: list[bytes] = []
        try:
            window.extend(islice(it, WINDOW_LINES))
        except Exception as exc:
            # The lines read before the failure land as they would have line by line; the
            # open batch does not (the error is raised before it ends).
            failure = exc
        if not window:
            break
        stripped = [raw.strip() for raw in window]
        natives = [
            read_native(line, source) if native_ok and line and len(line) <= max_bytes else None
            for line in stripped
        ]
        # One UTF-8 check of every natively read line (their skipped strings were not), on
        # an Arrow array that becomes the payload column when each line is one event.
        fast = [n for n, native in enumerate(natives) if native is not None]
        regular = len(fast) == len(window) and all(len(native[4]) == 1 for native in natives)
        arr = None
        if fast:
            fast_lines = stripped if regular else [stripped[n] for n in fast]
            arr = binary_array(fast_lines)
            bad = invalid_utf8(fast_lines, arr)
            for n in bad:
                natives[fast[n]] = None
            regular = regular and not bad
        segment_line, segment_row = 0, len(rows)  # where this window's rows start

        pos, size = 0, len(window)
        while pos < size:
            if regular:
                # Every line of the window is one native event: take them up to the next
                # chunk or batch end at once (the same ends the line-by-line rule gives).
                k = max(1, min(size - pos, batch_size - batch_events, CHUNK_EVENTS - len(rows)))
                part = natives[pos : pos + k]
                rows.event_id.extend([native[4][0] for native in part])  # type: ignore[index]
                rows.source.extend([native[0] for native in part])  # type: ignore[index]
                rows.type.extend([native[1] for native in part])  # type: ignore[index]
                rows.event_ts.extend([native[2] for native in part])  # type: ignore[index]
                rows.correlation_id.extend([native[3] for native in part])  # type: ignore[index]
                rows.payload.extend(stripped[pos : pos + k])
                number += k
                read += k
                nbytes += sum(map(len, window[pos : pos + k]))
                batch_events += k
                pos += k
            else:
                raw, line, native = window[pos], stripped[pos], natives[pos]
                pos += 1
                number += 1
                if not line:
                    continue
                read += 1
                nbytes += len(raw)
                if native is not None:
                    src, type_, ts, corr, ids = native
                    for event_id in ids:
                        rows.append(event_id, src, type_, ts, line, corr)
                    batch_events += len(ids)
                else:
                    try:
                        items = parse_line(line, source, max_bytes, known_sources)
                    except EventError as exc:
                        batch_letters += 1
                        letters.append(
                            (
                                source or _guess_source(line),
                                exc.reason,
                                line,
                                {"file": name, "line": number, "error": exc.message},
                            )
                        )
                    else:
                        for item in items:
                            env = item.envelope
                            rows.append(
                                env.event_id,
                                env.source,
                                env.type,
                                micros(env.event_ts),
                                item.payload_utf8(),  # checked: orjson read it, or wrote it
                                env.correlation_id,
                            )
                        batch_events += len(items)
            flush = batch_events >= batch_size or batch_letters >= MAX_PENDING_LETTERS
            if flush or len(rows) >= CHUNK_EVENTS:
                _close_segment(rows, arr if regular else None, segment_line, segment_row, pos)
                yield _Chunk(rows, letters, read, nbytes, flush)
                rows, letters, read, nbytes = RawRows(payload_parts=[]), [], 0, 0
                segment_line, segment_row = pos, 0
                if flush:
                    batch_events = batch_letters = 0
        _close_segment(rows, arr if regular else None, segment_line, segment_row, len(window))
    if failure is not None:
        raise failure
    yield _Chunk(rows, letters, read, nbytes, flush=True)


def _close_segment(rows: RawRows, arr: Any, first_line: int, first_row: int, end_line: int) -> None:
    """Add the payload part of the rows a window added to ``rows`` since ``first_row``: a
    slice of the window's array ``arr`` when each of its lines is one row, else built anew."""
    if len(rows) > first_row:
        part = (
            arr.slice(first_line, end_line - first_line)
            if arr is not None
            else binary_array(rows.payload[first_row:])
        )
        rows.payload_parts.append(part)  # type: ignore[union-attr]


_END = object()


@dataclass
class _Failed:
    error: BaseException


class _ReadAhead:
    """``chunks`` produced by a reader thread, at most ``depth`` ahead of the consumer; an
    error in the reader is raised to the consumer, in order."""

    def __init__(self, chunks: Iterator[_Chunk], depth: int) -> None:
        self._box: queue.Queue[Any] = queue.Queue(maxsize=depth)
        self._stop = threading.Event()
        self._done = False
        self._thread = threading.Thread(
            target=self._run, args=(chunks,), name="revops-ingest-reader", daemon=True
        )
        self._thread.start()

    def _put(self, item: Any) -> bool:
        while not self._stop.is_set():
            try:
                self._box.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def _run(self, chunks: Iterator[_Chunk]) -> None:
        try:
            for chunk in chunks:
                if not self._put(chunk):
                    return
        except BaseException as exc:  # handed to the consumer, which raises it
            self._put(_Failed(exc))
            return
        self._put(_END)

    def _unbox(self, item: Any) -> _Chunk | None:
        if item is _END:
            self._done = True
            return None
        if isinstance(item, _Failed):
            self._done = True
            raise item.error
        return item  # type: ignore[no-any-return]

    def next(self) -> _Chunk | None:
        """The next chunk (waiting for it), or None at the end."""
        if self._done:
            return None
        return self._unbox(self._box.get())

    def next_ready(self) -> _Chunk | None:
        """The next chunk if the reader has it ready, else None."""
        if self._done:
            return None
        try:
            item = self._box.get_nowait()
        except queue.Empty:
            return None
        return self._unbox(item)

    def close(self) -> None:
        """Stop the reader (it ends at its next chunk)."""
        self._stop.set()


def _guess_source(line: bytes) -> str:
    """Best-effort source name of an unparseable line, for the dead letter."""
    if b'"object":"event"' in line.replace(b" ", b"") or b"evt_" in line[:200]:
        return "stripe"
    if b"ChangeEventHeader" in line:
        return "salesforce"
    return "unknown"
