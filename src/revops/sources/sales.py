"""Sales CSV extractor: monthly ``sales_YYYY-MM.csv`` files → ``raw_sales_orders``.

Files live under ``[sales] path``, a local folder or any fsspec URL (``s3://bucket/prefix``).
Each month's file replaces that month's slice of ``raw_sales_orders`` and of ``sales_rejects``;
all months of one run commit in ONE transaction, so a failure leaves every previous slice as it
was. Rows are cleaned per KPI.md (:mod:`revops.sources.sales_clean`), duplicates of an
``order_id`` after the first in file order are rejected (:mod:`revops.sources.sales_dedupe`), and
every rejected row lands in ``sales_rejects`` with its file, line number, raw line and reason.

Which files a daily run for date D reads: the months overlapping the KPI period
P = [end − window_days + 1, end], end = D − 1 (``[kpi] window_days``, default 30). A month whose
file is missing is a warning (the report's ``warnings`` and the audit row) as long as at least
one file of the period exists; no file at all, or a missing file asked for with ``--month``, is
an error.
"""

from __future__ import annotations

import contextlib
import queue
import re
import threading
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np
import pyarrow as pa
from pydantic import BaseModel, Field

from revops.audit import audit
from revops.errors import ConfigError, RevopsError, TerminalSourceError, UsageError
from revops.sources.extract import ExtractReport, insert_arrow
from revops.sources.sales_clean import CleanRows, clean_rows
from revops.sources.sales_dedupe import OrderDeduper
from revops.sources.sales_read import (
    BLOCK_BYTES,
    BlockDecoder,
    RawRows,
    raw_lines_at,
    read_sales_rows,
    resolve_encoding,
)

if TYPE_CHECKING:
    from revops.config import Settings
    from revops.warehouse.base import Warehouse

T = TypeVar("T")
MONTH = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")
FILE_PATTERN = "sales_{month}.csv"
RAW_COLUMNS = (
    "order_id",
    "customer_id",
    "order_date",
    "revenue",
    "product_category",
    "month",
    "source_file",
    "line_no",
    "loaded_at",
)


class SalesSettings(BaseModel):
    """``[sales]``: where the monthly files are and how to read them."""

    path: str = "data/sales"
    encoding: str | None = None
    storage_options: dict[str, Any] = Field(default_factory=dict)
    block_bytes: int = Field(default=BLOCK_BYTES, ge=1024)
    scratch_memory_limit: str = "256MB"


def months_for_day(day: date, window_days: int) -> list[str]:
    """The months (``YYYY-MM``) overlapping the KPI period of a run for ``day``."""
    end = day - timedelta(days=1)
    start = end - timedelta(days=window_days - 1)
    months, cursor = [], date(start.year, start.month, 1)
    while cursor <= end:
        months.append(f"{cursor.year:04d}-{cursor.month:02d}")
        cursor = date(cursor.year + cursor.month // 12, cursor.month % 12 + 1, 1)
    return months


def extract_sales(
    wh: Warehouse,
    settings: Settings,
    *,
    month: str | None = None,
    day: date | None = None,
    encoding: str | None = None,
) -> ExtractReport:
    """Load the sales CSVs of ``month`` (or of the KPI period of ``day``, default today).

    Transactional: all months of the run replace their slices together or not at all. Writes
    an audit row per run (``sales`` / ``extract``), also on failure.
    """
    cfg = settings.model("sales", SalesSettings)
    if month is not None and not MONTH.match(month):
        raise UsageError(f"bad month {month!r}", input=month, hint="write it as YYYY-MM")
    if month is not None:
        months, explicit = [month], True
    else:
        day = day or datetime.now(settings.timezone).date()
        window = int(settings.get("kpi", "window_days", 30) or 30)
        months, explicit = months_for_day(day, window), False
    report = ExtractReport(source="sales", slice=",".join(months))
    started = time.perf_counter()
    forced = resolve_encoding(encoding or cfg.encoding, cfg.path)
    try:
        files = _locate(cfg, months, explicit, report)
        with wh.transaction(lock="extract:sales"):
            for m, (fs, path) in files.items():
                _load_month(wh, cfg, m, fs, path, forced, report)
            report.seconds = round(time.perf_counter() - started, 3)
            audit(
                wh,
                "sales",
                "extract",
                "warning" if report.warnings else "ok",
                detail=report.as_dict(),
            )
    except RevopsError as exc:
        _audit_failure(wh, report, exc)
        raise
    return report


def _locate(
    cfg: SalesSettings, months: list[str], explicit: bool, report: ExtractReport
) -> dict[str, tuple[Any, str]]:
    fs, root = _filesystem(cfg)
    found: dict[str, tuple[Any, str]] = {}
    for m in months:
        path = root.rstrip("/") + "/" + FILE_PATTERN.format(month=m)
        if fs.isfile(path):
            found[m] = (fs, path)
        else:
            report.warnings.append(f"sales file for {m} not found: {path}")
    if not found or (explicit and len(found) < len(months)):
        present = sorted(p.rsplit("/", 1)[-1] for p in fs.glob(root.rstrip("/") + "/sales_*.csv"))
        listing = ", ".join(present[-6:]) if present else "no sales_*.csv files"
        raise TerminalSourceError(
            f"sales CSV for {', '.join(months)} not found",
            input=root.rstrip("/") + "/" + FILE_PATTERN.format(month=months[-1]),
            where=f"[sales] path = {cfg.path} (holds: {listing})",
            hint="put the file there as sales_YYYY-MM.csv, or point [sales] path / "
            "REVOPS_SALES__PATH at the right folder",
        )
    return found


def _filesystem(cfg: SalesSettings) -> tuple[Any, str]:
    try:
        from fsspec.core import url_to_fs
    except ImportError as exc:  # pragma: no cover - fsspec ships with the extra
        raise ConfigError(
            "reading sales files needs fsspec", hint="pip install 'revops[sources]'"
        ) from exc
    try:
        fs, root = url_to_fs(cfg.path, **cfg.storage_options)
    except (ImportError, ValueError) as exc:
        raise ConfigError(
            f"cannot open the sales location: {exc}",
            input=cfg.path,
            where="[sales] path",
            hint="use a folder or s3://bucket/prefix (s3 needs 'revops[sources]')",
        ) from exc
    if not fs.isdir(root):
        raise TerminalSourceError(
            "sales folder not found",
            input=cfg.path,
            where="[sales] path / REVOPS_SALES__PATH",
            hint="create the folder or point [sales] path at it",
        )
    return fs, root


def _load_month(
    wh: Warehouse,
    cfg: SalesSettings,
    month: str,
    fs: Any,
    path: str,
    forced: str | None,
    report: ExtractReport,
) -> None:
    wh.execute("DELETE FROM revops.raw_sales_orders WHERE month = ?", (month,))
    wh.execute("DELETE FROM revops.sales_rejects WHERE month = ?", (month,))
    name = path.rsplit("/", 1)[-1]
    now = datetime.now(UTC)
    loaded = 0
    with fs.open(path, "rb") as fh, OrderDeduper(cfg.scratch_memory_limit) as dedupe:
        parts = read_sales_rows(fh, name, forced, cfg.block_bytes)
        decoder = next(parts)
        assert isinstance(decoder, BlockDecoder)
        # Parsing the next block overlaps with writing this one (both release the GIL).
        for block, cleaned in prefetch(_cleaned(parts, dedupe), depth=1):
            report.skipped += block.blank
            _reject_malformed(wh, month, name, block, now, report)
            if cleaned is not None:
                _insert_rejects(wh, month, name, cleaned.rejected, now, report)
                good = cleaned.good
                loaded += insert_arrow(
                    wh, "revops.raw_sales_orders", _raw_table(good, month, name, now)
                )
        duplicates = [np.asarray(b, dtype=np.int64) for b in dedupe.duplicate_lines()]
    if duplicates:
        lines = np.concatenate(duplicates)
        _drop_lines(wh, month, lines)
        loaded -= len(lines)
        with fs.open(path, "rb") as fh:
            raw = raw_lines_at(fh, lines, decoder, cfg.block_bytes)
        _insert_rejects(
            wh,
            month,
            name,
            pa.table(
                {
                    "line_no": pa.array(lines, pa.int64()),
                    "raw_line": raw,
                    "reason": _repeat("duplicate_order_id", len(lines)),
                }
            ),
            now,
            report,
        )
    report.loaded += loaded
    report.tables[f"raw_sales_orders[{month}]"] = loaded
    report.inputs.append(f"{path} ({decoder.encoding or 'utf-8'}{', BOM' if decoder.bom else ''})")


def _cleaned(
    parts: Iterator[Any], dedupe: OrderDeduper
) -> Iterator[tuple[RawRows, CleanRows | None]]:
    """Clean each block and stage its keys for the dedupe (in the reader thread)."""
    for block in parts:
        assert isinstance(block, RawRows)
        cleaned = clean_rows(block.table, block.raw_lines) if block.table.num_rows else None
        if cleaned is not None:
            dedupe.add(cleaned.good["order_id"], cleaned.good["line_no"])
        yield block, cleaned


def prefetch(items: Iterator[T], depth: int = 2) -> Iterator[T]:
    """Run ``items`` in a background thread, at most ``depth`` items ahead (so memory stays
    bounded); its exceptions are raised here, in order."""
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


def _drop_lines(wh: Warehouse, month: str, lines: np.ndarray, batch: int = 50_000) -> None:
    for i in range(0, len(lines), batch):
        chunk = [int(x) for x in lines[i : i + batch]]
        wh.execute(
            "DELETE FROM revops.raw_sales_orders WHERE month = ? AND line_no IN (SELECT unnest(?))",
            (month, chunk),
        )


def _repeat(value: str, n: int) -> pa.Array:
    """``value`` n times, without building a Python list."""
    return pa.DictionaryArray.from_arrays(pa.array(np.zeros(n, np.int8)), pa.array([value])).cast(
        pa.string()
    )


def _raw_table(good: pa.Table, month: str, name: str, now: datetime) -> pa.Table:
    n = good.num_rows
    stamp = pa.array(np.full(n, int(now.timestamp() * 1_000_000), dtype=np.int64))
    return pa.table(
        {
            "order_id": good["order_id"],
            "customer_id": good["customer_id"],
            "order_date": good["order_date"],
            "revenue": good["revenue"],
            "product_category": good["product_category"],
            "month": _repeat(month, n),
            "source_file": _repeat(name, n),
            "line_no": good["line_no"],
            "loaded_at": stamp.cast(pa.timestamp("us", tz="UTC")),
        }
    )


def _reject_malformed(
    wh: Warehouse, month: str, name: str, block: RawRows, now: datetime, report: ExtractReport
) -> None:
    if not block.malformed:
        return
    table = pa.table(
        {
            "line_no": pa.array([m[0] for m in block.malformed], pa.int64()),
            "raw_line": pa.array([m[1] for m in block.malformed], pa.string()),
            "reason": pa.array([m[2] for m in block.malformed], pa.string()),
        }
    )
    _insert_rejects(wh, month, name, table, now, report)


def _insert_rejects(
    wh: Warehouse, month: str, name: str, rejected: pa.Table, now: datetime, report: ExtractReport
) -> None:
    n = rejected.num_rows
    if not n:
        return
    for reason, count in _reason_counts(rejected["reason"]).items():
        report.reject(reason.split(":", 1)[0], count)
    stamp = pa.array(np.full(n, int(now.timestamp() * 1_000_000), dtype=np.int64))
    insert_arrow(
        wh,
        "revops.sales_rejects",
        pa.table(
            {
                "month": _repeat(month, n),
                "file": _repeat(name, n),
                "line_no": rejected["line_no"],
                "raw_line": rejected["raw_line"],
                "reason": rejected["reason"],
                "rejected_at": stamp.cast(pa.timestamp("us", tz="UTC")),
            }
        ),
    )


def _reason_counts(reasons: Any) -> dict[str, int]:
    counts = reasons.value_counts()
    return {str(v["values"]): int(v["counts"]) for v in counts.to_pylist()}


def _audit_failure(wh: Warehouse, report: ExtractReport, exc: RevopsError) -> None:
    # A failing warehouse must not hide the original error.
    with contextlib.suppress(RevopsError):
        audit(
            wh,
            "sales",
            "extract",
            "failed",
            detail={"slice": report.slice, "error": exc.message, "input": exc.input},
        )


__all__ = ["SalesSettings", "extract_sales", "months_for_day"]
