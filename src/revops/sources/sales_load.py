"""Reading one sales file into a sink in bounded memory; the stage tables of a server warehouse.

:func:`read_month` reads and cleans the file block by block (in a reader thread, so parsing the
next block overlaps writing this one) into a :class:`MonthSink`, then rejects the later
duplicates of each ``order_id``. On PostgreSQL the sink is the stage tables
(``sales_stage_orders`` / ``sales_stage_rejects``, under the run's ``load_id``, in committed
batches, so the server never holds millions of uncommitted rows) and :func:`publish_month`
replaces the month's slices in the run's one transaction. On DuckDB the sink appends straight
into the run's open transaction (:mod:`revops.sources.sales_direct`).
"""

from __future__ import annotations

import contextlib
import queue
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

import numpy as np
import pyarrow as pa

from revops.errors import RevopsError
from revops.sources.extract import ExtractReport, insert_arrow
from revops.sources.sales_clean import CleanRows, clean_rows
from revops.sources.sales_dedupe import OrderDeduper
from revops.sources.sales_read import BlockDecoder, RawRows, raw_lines_at, read_sales_rows
from revops.warehouse.slices import COLUMNS as SALES_COLUMNS

if TYPE_CHECKING:
    from revops.warehouse.base import Warehouse

T = TypeVar("T")
STAGE_ORDERS = "revops.sales_stage_orders"
STAGE_REJECTS = "revops.sales_stage_rejects"
RAW_COLUMNS = ", ".join(SALES_COLUMNS)
REJECT_COLUMNS = "month, file, line_no, raw_line, reason, rejected_at"


def stage_month(
    wh: Warehouse,
    cfg: Any,
    load_id: str,
    month: str,
    fs: Any,
    path: str,
    forced: str | None,
    report: ExtractReport,
) -> None:
    """Read one month's file into the stage tables under ``load_id`` (committed batches)."""
    name = path.rsplit("/", 1)[-1]
    sink = _Stage(wh, load_id, month, name, datetime.now(UTC), cfg.insert_rows)
    with OrderDeduper(cfg.scratch_memory_limit, cfg.scratch_dir) as dedupe:
        read_month(cfg, sink, dedupe, fs, path, forced, report)
    report.tables[f"raw_sales_orders[{month}]"] = sink.loaded


class RejectSink(Protocol):
    """Where rejected rows go."""

    def rejects(self, rejected: pa.Table) -> None:
        """Take rejected rows (line_no, raw_line, reason)."""


class MonthSink(Protocol):
    """Where :func:`read_month` writes one month's rows."""

    loaded: int

    def orders(self, good: pa.Table) -> None:
        """Take the good rows of a block (order_id, customer_id, order_date, revenue,
        product_category, line_no)."""

    def rejects(self, rejected: pa.Table) -> None:
        """Take rejected rows (line_no, raw_line, reason)."""

    def flush(self) -> None:
        """Write what is still gathered."""

    def drop_lines(self, lines: np.ndarray) -> None:
        """Leave out the good rows at these line numbers (the later duplicates)."""


class Deduper(Protocol):
    """Finds the later rows of each repeated ``order_id`` of one file."""

    def add(self, order_id: pa.Array, line_no: pa.Array) -> None: ...

    def duplicate_lines(self, batch_rows: int = 100_000) -> Iterator[list[int]]: ...


def read_month(
    cfg: Any,
    sink: MonthSink,
    dedupe: Deduper,
    fs: Any,
    path: str,
    forced: str | None,
    report: ExtractReport,
) -> None:
    """Read, clean and dedupe one month's file into ``sink``; count what was skipped and
    rejected in ``report``."""
    pool = pa.default_memory_pool()
    name = path.rsplit("/", 1)[-1]
    with fs.open(path, "rb") as fh:
        parts = read_sales_rows(fh, name, forced, cfg.block_bytes)
        decoder = next(parts)
        assert isinstance(decoder, BlockDecoder)
        # Parsing the next block overlaps with writing this one (both release the GIL).
        for block, cleaned in prefetch(_cleaned(parts, dedupe), depth=1):
            report.skipped += block.blank
            _reject(sink, _malformed(block), report)
            if cleaned is not None:
                _reject(sink, cleaned.rejected, report)
                sink.orders(cleaned.good)
            del block, cleaned
            # Arrow's allocator keeps freed blocks per thread; give them back each block so
            # the resident size stays flat.
            pool.release_unused()
        sink.flush()
        duplicates = [np.asarray(b, dtype=np.int64) for b in dedupe.duplicate_lines()]
    if duplicates:
        lines = np.concatenate(duplicates)
        sink.drop_lines(lines)
        with fs.open(path, "rb") as fh:
            raw = raw_lines_at(fh, lines, decoder, cfg.block_bytes)
        rejected = pa.table(
            {
                "line_no": pa.array(lines, pa.int64()),
                "raw_line": raw,
                "reason": constant("duplicate_order_id", len(lines), pa.string()),
            }
        )
        _reject(sink, rejected, report)
        sink.flush()
    report.loaded += sink.loaded
    report.inputs.append(f"{path} ({decoder.encoding or 'utf-8'}{', BOM' if decoder.bom else ''})")


def _malformed(block: RawRows) -> pa.Table | None:
    if not block.malformed:
        return None
    return pa.table(
        {
            "line_no": pa.array([m[0] for m in block.malformed], pa.int64()),
            "raw_line": pa.array([m[1] for m in block.malformed], pa.string()),
            "reason": pa.array([m[2] for m in block.malformed], pa.string()),
        }
    )


def _reject(sink: RejectSink, rejected: pa.Table | None, report: ExtractReport) -> None:
    if rejected is None or not rejected.num_rows:
        return
    for reason, count in _reason_counts(rejected["reason"]).items():
        report.reject(reason.split(":", 1)[0], count)
    sink.rejects(rejected)


def _cleaned(parts: Iterator[Any], dedupe: Deduper) -> Iterator[tuple[RawRows, CleanRows | None]]:
    """Clean each block and stage its keys for the dedupe (in the reader thread)."""
    for block in parts:
        assert isinstance(block, RawRows)
        cleaned = clean_rows(block.table, block.raw_lines) if block.table.num_rows else None
        if cleaned is not None:
            dedupe.add(cleaned.good["order_id"], cleaned.good["line_no"])
        yield block, cleaned


def prefetch(items: Iterator[T], depth: int = 2) -> Iterator[T]:
    """Run ``items`` in a background thread, at most ``depth`` items ahead (so memory stays
    bounded); its exceptions are raised here, in order. When the caller stops early, a
    generator ``items`` is closed in that thread (its cleanup runs)."""
    box: queue.Queue[tuple[str, Any]] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def produce() -> None:
        try:
            for item in items:
                while not stop.is_set():
                    try:
                        box.put(("item", item), timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            box.put(("end", None))
        except BaseException as exc:
            box.put(("error", exc))
        finally:
            close = getattr(items, "close", None)
            if close is not None:
                close()

    worker = threading.Thread(target=produce, name="revops-sales-reader", daemon=True)
    worker.start()
    try:
        while True:
            kind, value = box.get()
            if kind == "end":
                return
            if kind == "error":
                raise value
            yield value
    finally:
        stop.set()
        while worker.is_alive():
            try:
                box.get_nowait()
            except queue.Empty:
                worker.join(timeout=0.05)


class InsertBatch:
    """Gathers Arrow tables into inserts of at least ``rows`` rows (fewer, larger statements:
    each costs a commit and a scan setup)."""

    def __init__(self, wh: Warehouse, table: str, rows: int) -> None:
        self.wh, self.table, self.rows = wh, table, rows
        self._pending: list[pa.Table] = []
        self._count = 0

    def add(self, arrow: pa.Table) -> int:
        """Queue ``arrow``; returns the rows inserted now (0 while gathering)."""
        self._pending.append(arrow)
        self._count += arrow.num_rows
        return self.flush() if self._count >= self.rows else 0

    def flush(self) -> int:
        """Insert what is queued; returns its row count."""
        if not self._pending:
            return 0
        table = pa.concat_tables(self._pending)
        self._pending, self._count = [], 0
        return insert_arrow(self.wh, self.table, table)


def constant(value: Any, n: int, type_: pa.DataType) -> pa.Array:
    """``value`` n times as an array of ``type_``, without building a Python list."""
    return pa.DictionaryArray.from_arrays(
        pa.array(np.zeros(n, np.int8)), pa.array([value], type_)
    ).cast(type_)


class _Stage:
    """Writes one month's rows of a load into the stage tables (committed batches)."""

    def __init__(
        self, wh: Warehouse, load_id: str, month: str, name: str, now: datetime, rows: int
    ) -> None:
        self.wh, self.load_id, self.month, self.name = wh, load_id, month, name
        self.now = now
        self.batch = InsertBatch(wh, STAGE_ORDERS, rows)
        self.loaded = 0

    def _time(self, n: int) -> pa.Array:
        return constant(self.now, n, pa.timestamp("us", tz="UTC"))

    def orders(self, good: pa.Table) -> None:
        n = good.num_rows
        self.loaded += self.batch.add(
            pa.table(
                {
                    "load_id": constant(self.load_id, n, pa.string()),
                    "order_id": good["order_id"],
                    "customer_id": good["customer_id"],
                    "order_date": good["order_date"],
                    "revenue": good["revenue"],
                    "product_category": good["product_category"],
                    "month": constant(self.month, n, pa.string()),
                    "source_file": constant(self.name, n, pa.string()),
                    "line_no": good["line_no"],
                    "loaded_at": self._time(n),
                }
            )
        )

    def flush(self) -> None:
        self.loaded += self.batch.flush()

    def rejects(self, rejected: pa.Table) -> None:
        n = rejected.num_rows
        insert_arrow(
            self.wh,
            STAGE_REJECTS,
            pa.table(
                {
                    "load_id": constant(self.load_id, n, pa.string()),
                    "month": constant(self.month, n, pa.string()),
                    "file": constant(self.name, n, pa.string()),
                    "line_no": rejected["line_no"],
                    "raw_line": rejected["raw_line"],
                    "reason": rejected["reason"],
                    "rejected_at": self._time(n),
                }
            ),
        )

    def drop_lines(self, lines: np.ndarray, batch: int = 50_000) -> None:
        for i in range(0, len(lines), batch):
            chunk = [int(x) for x in lines[i : i + batch]]
            self.wh.execute(
                f"DELETE FROM {STAGE_ORDERS} WHERE load_id = ? AND month = ? "
                "AND line_no IN (SELECT unnest(?))",
                (self.load_id, self.month, chunk),
            )
        self.loaded -= len(lines)


def publish_month(wh: Warehouse, load_id: str, month: str) -> None:
    """Replace ``month``'s slices of raw_sales_orders and sales_rejects with the staged rows
    (call inside the run's one transaction)."""
    wh.execute("DELETE FROM revops.raw_sales_orders WHERE month = ?", (month,))
    wh.execute("DELETE FROM revops.sales_rejects WHERE month = ?", (month,))
    wh.execute(
        f"INSERT INTO revops.raw_sales_orders ({RAW_COLUMNS}) SELECT {RAW_COLUMNS} "
        f"FROM {STAGE_ORDERS} WHERE load_id = ? AND month = ?",
        (load_id, month),
    )
    wh.execute(
        f"INSERT INTO revops.sales_rejects ({REJECT_COLUMNS}) SELECT {REJECT_COLUMNS} "
        f"FROM {STAGE_REJECTS} WHERE load_id = ? AND month = ?",
        (load_id, month),
    )


def forget_load(wh: Warehouse, load_id: str) -> None:
    """Drop the staged rows of ``load_id`` (best effort: never hides another error)."""
    with contextlib.suppress(RevopsError):
        wh.execute(f"DELETE FROM {STAGE_ORDERS} WHERE load_id = ?", (load_id,))
        wh.execute(f"DELETE FROM {STAGE_REJECTS} WHERE load_id = ?", (load_id,))


def forget_stale_loads(wh: Warehouse, older_than: timedelta = timedelta(days=1)) -> None:
    """Drop staged rows left by runs that died more than ``older_than`` ago."""
    cutoff = datetime.now(UTC) - older_than
    wh.execute(f"DELETE FROM {STAGE_ORDERS} WHERE loaded_at < ?", (cutoff,))
    wh.execute(f"DELETE FROM {STAGE_REJECTS} WHERE rejected_at < ?", (cutoff,))


def _reason_counts(reasons: Any) -> dict[str, int]:
    counts = reasons.value_counts()
    return {str(v["values"]): int(v["counts"]) for v in counts.to_pylist()}
