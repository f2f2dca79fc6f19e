"""Loading sales files into a DuckDB warehouse: cleaned rows streamed into Parquet slice files.

On DuckDB a month's good rows are written to Parquet files (:mod:`revops.warehouse.slices`) while
a reader thread parses and worker threads clean the next blocks: every row is written once and
the writes overlap the reading. Rejects go to ``sales_rejects`` in the run's one transaction,
which also swaps the months' slice files in; nothing is committed before every month is in, so
a failure anywhere keeps every previous slice.

Rows are never taken out of a file once written, so the later duplicates of an ``order_id`` are
held back before they are written: the reader thread sets one bit per good row's ``order_id``
hash (:class:`~revops.sources.sales_dedupe.KeyFilter`, sized by the file: 32 MiB at most) and
sets aside, with its raw text, each row whose bit was set already: every repeat, and about 2 %
of the others at 10M rows. They wait in a temporary table of the run's connection (DuckDB spills
it beyond its memory limit). At the end of the file the first held row of each ``order_id`` that
no written row has goes to a second file of the month, and every other held row is rejected as
``duplicate_order_id``: the first valid row of each ``order_id`` is kept, exactly.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from revops.sources.extract import ExtractReport
from revops.sources.sales_clean import CleanRows, clean_rows
from revops.sources.sales_dedupe import KeyFilter, filter_bits_for, key_hashes
from revops.sources.sales_load import (
    REJECT_COLUMNS,
    _malformed,
    _reject,
    constant,
    prefetch,
)
from revops.sources.sales_read import BlockDecoder, RawRows, read_sales_rows
from revops.warehouse.slices import SliceFiles, arrow_schema

if TYPE_CHECKING:
    from revops.warehouse.duckdb import DuckDBWarehouse

_BATCH = "_revops_sales_batch"
_INSERT_REJECTS = (
    f"INSERT INTO revops.sales_rejects ({REJECT_COLUMNS}) "
    f"SELECT ?, ?, r.line_no, r.raw_line, r.reason, ? FROM {_BATCH} AS r"
)
# Rows that may repeat an earlier order_id wait in a temporary table of the run's connection
# (DuckDB keeps it in memory up to its limit, then spills), decided at the end of the file.
_HELD = "temp.revops_sales_held"
_HOLD = (
    f"INSERT INTO {_HELD} SELECT h.order_id, h.customer_id, h.order_date, h.revenue, "
    f"h.product_category, h.line_no, h.raw_line FROM {_BATCH} AS h"
)
_CREATE_HELD = (
    f"CREATE OR REPLACE TEMP TABLE {_HELD[5:]} (order_id VARCHAR, customer_id VARCHAR, "
    "order_date DATE, revenue DECIMAL(38, 6), product_category VARCHAR, line_no BIGINT, "
    "raw_line VARCHAR)"
)
# The first held row of each order_id that no appended row of the month has: not a repeat.
_FIRSTS = "temp.revops_sales_held_first"
_FIND_FIRSTS = f"""
CREATE OR REPLACE TEMP TABLE {_FIRSTS[5:]} AS
SELECT f.line_no FROM (SELECT order_id, min(line_no) AS line_no FROM {_HELD} GROUP BY order_id) f
WHERE NOT EXISTS (SELECT 1 FROM read_parquet(?) AS o WHERE o.order_id = f.order_id)
"""
_FIND_ALL_FIRSTS = f"""
CREATE OR REPLACE TEMP TABLE {_FIRSTS[5:]} AS
SELECT min(line_no) AS line_no FROM {_HELD} GROUP BY order_id
"""
_SELECT_FIRSTS = (
    "SELECT h.order_id, h.customer_id, h.order_date, h.revenue, h.product_category, h.line_no "
    f"FROM {_HELD} AS h WHERE h.line_no IN (SELECT line_no FROM {_FIRSTS})"
)
_REJECT_REPEATS = (
    f"INSERT INTO revops.sales_rejects ({REJECT_COLUMNS}) "
    "SELECT ?, ?, h.line_no, h.raw_line, 'duplicate_order_id', ? "
    f"FROM {_HELD} AS h WHERE h.line_no NOT IN (SELECT line_no FROM {_FIRSTS})"
)
CLEAN_WORKERS = 2
ORDER_NAMES = ("order_id", "customer_id", "order_date", "revenue", "product_category", "line_no")
REJECT_NAMES = ("line_no", "raw_line", "reason")
HELD_NAMES = (*ORDER_NAMES, "raw_line")


class _Appender:
    """Gathers Arrow tables and appends them with one statement per ``rows`` rows (no copy:
    the gathered tables' batches are handed over as they are)."""

    def __init__(
        self, wh: DuckDBWarehouse, sql: str, params: tuple[Any, ...], names: tuple[str, ...]
    ) -> None:
        self.wh, self.sql, self.params, self.names = wh, sql, params, names
        self._pending: list[pa.Table] = []
        self._count = 0
        self.written = 0

    def add(self, table: pa.Table, rows: int) -> None:
        if table.num_rows:
            self._pending.append(table.select(list(self.names)))
            self._count += table.num_rows
            if self._count >= rows:
                self.flush()

    def flush(self) -> None:
        if not self._pending:
            return
        schema = self._pending[0].schema
        batches = [b for t in self._pending for b in t.cast(schema).to_batches()]
        reader = pa.RecordBatchReader.from_batches(schema, batches)
        self.wh.execute_with_arrow(self.sql, self.params, _BATCH, reader)
        self.written += self._count
        self._pending, self._count = [], 0


class _SliceWriter:
    """Writes a month's good rows into Parquet slice files, one row group per ``rows`` rows
    (the gathered tables' batches are handed over as they are)."""

    def __init__(self, files: SliceFiles, month: str, name: str, at: datetime, rows: int) -> None:
        self.files, self.month, self.rows = files, month, rows
        self.schema = arrow_schema()
        self._types = pa.schema([self.schema.field(name) for name in ORDER_NAMES])
        self._constants = {"month": month, "source_file": name, "loaded_at": at}
        self._pending: list[pa.Table] = []
        self._count = 0
        self._writer: pq.ParquetWriter | None = None
        self._path: Path | None = None
        self._in_file = 0
        self.done: list[tuple[Path, int]] = []

    def add(self, table: pa.Table) -> None:
        if table.num_rows:
            self._pending.append(table.select(list(ORDER_NAMES)).cast(self._types))
            self._count += table.num_rows
            if self._count >= self.rows:
                self.flush()

    def flush(self) -> None:
        if not self._pending:
            return
        n = self._count
        columns = {}
        for f in self.schema:
            if f.name in self._constants:
                columns[f.name] = constant(self._constants[f.name], n, f.type)
            else:
                chunks = [c for t in self._pending for c in t[f.name].chunks]
                columns[f.name] = pa.chunked_array(chunks, f.type)
        table = pa.table(columns, schema=self.schema)
        if self._writer is None:
            self._path = self.files.new_path(self.month)
            self._writer = pq.ParquetWriter(
                self._path,
                self.schema,
                compression="snappy",
                # order_id is nearly unique: a dictionary would only be dropped again; min/max
                # statistics only where a query filters (they cost a fifth of the writing)
                use_dictionary=["customer_id", "product_category", "month", "source_file"],
                write_statistics=["order_date", "month", "line_no"],
            )
        self._writer.write_table(table, row_group_size=max(n, 1))
        self._in_file += n
        self._pending, self._count = [], 0

    def close(self) -> Path | None:
        """Finish the current file; its path (``None`` when no row was written to it)."""
        self.flush()
        path = self._path
        if self._writer is not None and path is not None:
            self._writer.close()
            self.done.append((path, self._in_file))
        self._writer, self._path, self._in_file = None, None, 0
        return path


@dataclass
class DirectMonth:
    """One month's rows: good rows into slice files, rejects appended into the open
    transaction (a :class:`~revops.sources.sales_load.MonthSink`)."""

    wh: DuckDBWarehouse
    files: SliceFiles
    month: str
    name: str
    rows: int
    loaded: int = 0
    at: datetime = field(default_factory=lambda: datetime.now(UTC))

    def __post_init__(self) -> None:
        keys = (self.month, self.name, self.at)
        self._orders = _SliceWriter(self.files, self.month, self.name, self.at, self.rows)
        self._rejects = _Appender(self.wh, _INSERT_REJECTS, keys, REJECT_NAMES)
        self._held = _Appender(self.wh, _HOLD, (), HELD_NAMES)

    def replace(self) -> None:
        """Delete the month's previous rejects (inside the run's transaction)."""
        self.wh.execute("DELETE FROM revops.sales_rejects WHERE month = ?", (self.month,))
        self.wh.execute(_CREATE_HELD, native=True)

    def orders(self, good: pa.Table) -> None:
        self._orders.add(good)
        self.loaded += good.num_rows

    def rejects(self, rejected: pa.Table) -> None:
        self._rejects.add(rejected, self.rows)

    def hold(self, held: pa.Table) -> None:
        """Set aside good rows whose order_id may have come before (with their raw text)."""
        self._held.add(held, self.rows)

    def flush(self) -> None:
        self._orders.flush()
        self._rejects.flush()

    def settle(self) -> int:
        """Write the held rows that are the first of their order_id; reject the others as
        ``duplicate_order_id`` (their count is returned); make the files the month's slice."""
        self.flush()
        self._held.flush()
        written = self._orders.close()
        repeats = 0
        if self._held.written:
            if written is None:
                self.wh.execute(_FIND_ALL_FIRSTS, native=True)
            else:
                self.wh.execute(_FIND_FIRSTS, (str(written),), native=True)
            firsts = self.wh.query_arrow(_SELECT_FIRSTS, native=True)
            self._orders.add(firsts)
            self._orders.close()
            self.loaded += firsts.num_rows
            keys = (self.month, self.name, self.at)
            repeats = self.wh.execute(_REJECT_REPEATS, keys, native=True)
            self.wh.execute(f"DROP TABLE {_FIRSTS}", native=True)
        self.wh.execute(f"DROP TABLE {_HELD}", native=True)
        self.files.replace(self.month, self._orders.done)
        return repeats


@dataclass
class _Block:
    """One cleaned block (its good rows in line order) and the hashes of their order_ids;
    ``held`` are the good rows whose order_id may have come before (with their raw text),
    taken out of ``cleaned.good``."""

    raw: RawRows
    cleaned: CleanRows | None
    hashes: np.ndarray | None = None
    held: pa.Table | None = None


def _clean(raw: RawRows) -> _Block:
    """Clean one block (in a worker thread: Arrow's kernels release the GIL)."""
    if not raw.table.num_rows:
        return _Block(raw, None)
    cleaned = clean_rows(raw.table, raw.raw_lines)
    if not _ascending(cleaned.good["line_no"]):  # the line-by-line path: first = lowest line
        cleaned.good = cleaned.good.sort_by("line_no")
    hashes = key_hashes(cleaned.good["order_id"]) if cleaned.good.num_rows else None
    # Arrow's allocator keeps the pages a thread freed for that thread: give them back.
    pa.default_memory_pool().release_unused()
    return _Block(raw, cleaned, hashes)


def _cleaned_in_order(parts: Iterator[Any], seen: KeyFilter, workers: int) -> Iterator[_Block]:
    """Clean the blocks of ``parts`` on ``workers`` threads (at most ``workers`` blocks in the
    works); yield them in file order, their possible repeats held (:func:`_hold_repeats`)."""
    with ThreadPoolExecutor(workers, thread_name_prefix="revops-sales-clean") as pool:
        pending: deque[Future[_Block]] = deque()
        try:
            for raw in parts:
                assert isinstance(raw, RawRows)
                pending.append(pool.submit(_clean, raw))
                if len(pending) >= workers:
                    yield _hold_repeats(pending.popleft().result(), seen)
            while pending:
                yield _hold_repeats(pending.popleft().result(), seen)
        finally:
            for future in pending:
                future.cancel()


def _hold_repeats(block: _Block, seen: KeyFilter) -> _Block:
    """Take the rows whose order_id may have come before out of the block's good rows (call
    in file order, block after block)."""
    if block.cleaned is None or block.hashes is None:
        return block
    repeat = seen.maybe_seen(block.hashes)
    if repeat.any():
        good = block.cleaned.good
        held = good.filter(pa.array(repeat))
        raw_lines = block.raw.raw_lines(block.raw.positions(held["line_no"].to_numpy()))
        block.held = held.append_column("raw_line", raw_lines)
        block.cleaned.good = good.filter(pa.array(~repeat))
    return block


def _ascending(values: pa.ChunkedArray) -> bool:
    array = values.to_numpy()
    return bool((array[1:] > array[:-1]).all())


def read_month_directly(
    wh: DuckDBWarehouse,
    files: SliceFiles,
    cfg: Any,
    month: str,
    fs: Any,
    path: str,
    forced: str | None,
    report: ExtractReport,
) -> None:
    """Replace one month's slices with its file's rows (inside the run's transaction)."""
    name = path.rsplit("/", 1)[-1]
    sink = DirectMonth(wh, files, month, name, cfg.insert_rows)
    sink.replace()
    pool = pa.default_memory_pool()
    with fs.open(path, "rb") as fh:
        parts = read_sales_rows(fh, name, forced, cfg.block_bytes)
        decoder = next(parts)
        assert isinstance(decoder, BlockDecoder)
        # Parsing (a reader thread) and cleaning (worker threads) of the next blocks overlap
        # appending this one (Arrow and DuckDB release the GIL); a few blocks at most are in
        # the works, so memory stays flat.
        seen = KeyFilter(filter_bits_for(int(fs.size(path) or 0)))
        cleaned = _cleaned_in_order(parts, seen, CLEAN_WORKERS)
        for block in prefetch(cleaned, depth=1):
            report.skipped += block.raw.blank
            _reject(sink, _malformed(block.raw), report)
            if block.cleaned is not None:
                _reject(sink, block.cleaned.rejected, report)
                sink.orders(block.cleaned.good)
            if block.held is not None:
                sink.hold(block.held)
            del block
            # Arrow's allocator keeps freed blocks per thread; give them back each block so
            # the resident size stays flat.
            pool.release_unused()
    report.reject("duplicate_order_id", sink.settle())
    report.loaded += sink.loaded
    report.tables[f"raw_sales_orders[{month}]"] = sink.loaded
    report.inputs.append(f"{path} ({decoder.encoding or 'utf-8'}{', BOM' if decoder.bom else ''})")
