"""Loading sales files into a DuckDB warehouse: rows written once, through local Parquet files.

On DuckDB the stage tables would cost a second write of every row (stage, then publish) and a
delete of the staged rows; and appending millions of rows from Arrow in one open transaction
makes DuckDB hold them in memory until the commit. So each month's cleaned rows and rejects go
to Parquet files in a private scratch folder (streamed, bounded memory), and the run's one
transaction replaces each month's slices with one ``INSERT … SELECT … FROM read_parquet(…)``
per table, which DuckDB runs in parallel and writes straight to its file. The later duplicates
of an ``order_id`` are found by one query over the orders file (in the warehouse's DuckDB, no
second database) and left out by that same statement. The scratch folder is removed at the
end of the run, also on failure.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from revops.sources.extract import ExtractReport
from revops.sources.sales_clean import REVENUE_TYPE
from revops.sources.sales_load import RAW_COLUMNS, REJECT_COLUMNS, read_month

if TYPE_CHECKING:
    from revops.warehouse.base import Warehouse

ORDERS = pa.schema(
    [
        ("order_id", pa.string()),
        ("customer_id", pa.string()),
        ("order_date", pa.date32()),
        ("revenue", REVENUE_TYPE),
        ("product_category", pa.string()),
        ("line_no", pa.int64()),
    ]
)
REJECTS = pa.schema([("line_no", pa.int64()), ("raw_line", pa.string()), ("reason", pa.string())])
# Scratch files are read once, whole: dictionaries and statistics would only cost CPU time.
_PARQUET: dict[str, Any] = {
    "compression": "lz4",
    "use_dictionary": False,
    "write_statistics": False,
}

_INSERT_ORDERS = (
    f"INSERT INTO revops.raw_sales_orders ({RAW_COLUMNS}) "
    "SELECT o.order_id, o.customer_id, o.order_date, o.revenue, o.product_category, "
    "?, ?, o.line_no, ? FROM read_parquet(?) AS o"
)
_LEAVE_OUT = " WHERE NOT EXISTS (SELECT 1 FROM read_parquet(?) AS d WHERE d.line_no = o.line_no)"
_LATER_DUPLICATES = """
WITH s AS (SELECT order_id, line_no FROM read_parquet(?)),
     f AS (SELECT order_id, min(line_no) AS first_line FROM s GROUP BY order_id
           HAVING count(*) > 1)
SELECT list(s.line_no ORDER BY s.line_no) FROM s JOIN f USING (order_id)
WHERE s.line_no <> f.first_line
"""
_INSERT_REJECTS = (
    f"INSERT INTO revops.sales_rejects ({REJECT_COLUMNS}) "
    "SELECT ?, ?, r.line_no, r.raw_line, r.reason, ? FROM read_parquet(?) AS r"
)


class _ParquetFile:
    """One Parquet file written in row groups of at least ``rows`` rows."""

    def __init__(self, path: Path, schema: pa.Schema, rows: int) -> None:
        self.path, self.schema, self.rows = path, schema, rows
        self._writer = pq.ParquetWriter(path, schema, **_PARQUET)
        self._pending: list[pa.Table] = []
        self._count = 0
        self.written = 0
        self._closed = False

    def add(self, table: pa.Table) -> None:
        self._pending.append(table.select(self.schema.names).cast(self.schema))
        self._count += table.num_rows
        if self._count >= self.rows:
            self.flush()

    def flush(self) -> None:
        if self._pending:
            self._writer.write_table(pa.concat_tables(self._pending))
            self.written += self._count
            self._pending, self._count = [], 0

    def close(self) -> None:
        if not self._closed:
            self.flush()
            self._writer.close()
            self._closed = True


@dataclass
class ScratchMonth:
    """One month's rows in Parquet files of the run's scratch folder (a
    :class:`~revops.sources.sales_load.MonthSink`)."""

    wh: Warehouse
    folder: Path
    month: str
    name: str
    rows: int
    loaded: int = 0
    dropped: int = 0
    at: datetime = field(default_factory=lambda: datetime.now(UTC))

    def __post_init__(self) -> None:
        self._orders = _ParquetFile(self.folder / f"{self.month}-orders.parquet", ORDERS, self.rows)
        self._rejects = _ParquetFile(
            self.folder / f"{self.month}-rejects.parquet", REJECTS, self.rows
        )

    def orders(self, good: pa.Table) -> None:
        self._orders.add(good)
        self.loaded += good.num_rows

    def rejects(self, rejected: pa.Table) -> None:
        self._rejects.add(rejected)

    def flush(self) -> None:
        self._orders.flush()
        self._rejects.flush()

    def add(self, order_id: pa.Array, line_no: pa.Array) -> None:
        """Nothing to gather: :meth:`duplicate_lines` reads the orders file (a
        :class:`~revops.sources.sales_load.Deduper` too)."""

    def duplicate_lines(self, batch_rows: int = 100_000) -> Iterator[list[int]]:
        """Line numbers of the later rows of each repeated ``order_id``, ascending: one query
        of the warehouse's DuckDB over the finished orders file (its aggregate spills to
        DuckDB's temporary folder beyond the memory limit)."""
        self._orders.close()
        if not self._orders.written:
            return
        lines = self.wh.query_value(_LATER_DUPLICATES, (str(self._orders.path),)) or []
        for start in range(0, len(lines), batch_rows):
            yield lines[start : start + batch_rows]

    def drop_lines(self, lines: np.ndarray) -> None:
        table = pa.table({"line_no": pa.array(lines, pa.int64())})
        pq.write_table(table, self._dropped_path, **_PARQUET)
        self.dropped = len(lines)
        self.loaded -= len(lines)

    @property
    def _dropped_path(self) -> Path:
        return self.folder / f"{self.month}-dropped.parquet"

    def close(self) -> None:
        """Finish the files (before :meth:`publish` reads them)."""
        self._orders.close()
        self._rejects.close()

    def publish(self, wh: Warehouse) -> None:
        """Replace the month's slices of raw_sales_orders and sales_rejects with these rows
        (call inside the run's one transaction)."""
        wh.execute("DELETE FROM revops.raw_sales_orders WHERE month = ?", (self.month,))
        wh.execute("DELETE FROM revops.sales_rejects WHERE month = ?", (self.month,))
        keys: tuple[Any, ...] = (self.month, self.name, self.at, str(self._orders.path))
        if self.dropped:
            wh.execute(_INSERT_ORDERS + _LEAVE_OUT, (*keys, str(self._dropped_path)))
        else:
            wh.execute(_INSERT_ORDERS, keys)
        if self._rejects.written:
            wh.execute(_INSERT_REJECTS, (self.month, self.name, self.at, str(self._rejects.path)))


def scratch_folder(where: str | None) -> tempfile.TemporaryDirectory[str]:
    """A private folder for one run's Parquet files (under ``where``, else the system's
    temporary folder), removed when the run ends."""
    return tempfile.TemporaryDirectory(prefix="revops-sales-", dir=where)


def read_month_to_scratch(
    wh: Warehouse,
    cfg: Any,
    folder: Path,
    month: str,
    fs: Any,
    path: str,
    forced: str | None,
    report: ExtractReport,
) -> ScratchMonth:
    """Read, clean and dedupe one month's file into Parquet files of ``folder``."""
    sink = ScratchMonth(wh, folder, month, path.rsplit("/", 1)[-1], cfg.insert_rows)
    try:
        read_month(cfg, sink, sink, fs, path, forced, report)
    finally:
        sink.close()
    report.tables[f"raw_sales_orders[{month}]"] = sink.loaded
    return sink
