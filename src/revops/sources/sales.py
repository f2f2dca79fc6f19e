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
import re
import time
import uuid
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, Field

from revops.audit import audit
from revops.errors import ConfigError, RevopsError, TerminalSourceError, UsageError
from revops.sources.extract import ExtractReport
from revops.sources.sales_direct import read_month_directly
from revops.sources.sales_load import forget_load, forget_stale_loads, publish_month, stage_month
from revops.sources.sales_read import BLOCK_BYTES, resolve_encoding
from revops.warehouse.slices import SliceFiles

if TYPE_CHECKING:
    from revops.config import Settings
    from revops.warehouse.base import Warehouse

MONTH = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")
FILE_PATTERN = "sales_{month}.csv"


class SalesSettings(BaseModel):
    """``[sales]``: where the monthly files are and how to read them."""

    path: str = "data/sales"
    encoding: str | None = None
    storage_options: dict[str, Any] = Field(default_factory=dict)
    block_bytes: int = Field(default=BLOCK_BYTES, ge=1024)
    scratch_memory_limit: str = "128MB"
    scratch_dir: str | None = None
    insert_rows: int = Field(default=122_880, ge=1)


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

    Transactional, in bounded memory: on DuckDB the cleaned rows are appended straight into the
    run's one open transaction (:mod:`revops.sources.sales_direct`); elsewhere every file is
    read into ``sales_stage_*`` in small committed batches first. Either way all months of the
    run replace their slices in ONE transaction, together or not at all. Writes an audit row
    per run (``sales`` / ``extract``), also on failure.
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
    load_id = uuid.uuid4().hex
    try:
        files = _locate(cfg, months, explicit, report)
        if wh.dialect == "duckdb":
            _replace_directly(wh, cfg, files, forced, report, started)
        else:
            _stage_then_publish(wh, cfg, load_id, files, forced, report, started)
    except RevopsError as exc:
        _audit_failure(wh, report, exc)
        raise
    return report


def _replace_directly(
    wh: Warehouse,
    cfg: SalesSettings,
    files: dict[str, tuple[Any, str]],
    forced: str | None,
    report: ExtractReport,
    started: float,
) -> None:
    # DuckDB: the good rows go to Parquet slice files while the files are read, every row
    # written once; the run's one transaction swaps them in (revops.sources.sales_direct).
    with SliceFiles(wh) as slices, wh.transaction(lock="extract:sales"):
        for m, (fs, path) in files.items():
            read_month_directly(wh, slices, cfg, m, fs, path, forced, report)  # type: ignore[arg-type]
        slices.publish()
        _audit_ok(wh, report, started)


def _stage_then_publish(
    wh: Warehouse,
    cfg: SalesSettings,
    load_id: str,
    files: dict[str, tuple[Any, str]],
    forced: str | None,
    report: ExtractReport,
    started: float,
) -> None:
    # A server engine (PostgreSQL) would hold millions of uncommitted rows per transaction:
    # stage them in committed batches, then move them in the run's one transaction.
    try:
        forget_stale_loads(wh)
        for m, (fs, path) in files.items():
            stage_month(wh, cfg, load_id, m, fs, path, forced, report)
        with wh.transaction(lock="extract:sales"):
            for m in files:
                publish_month(wh, load_id, m)
            _audit_ok(wh, report, started)
    finally:
        forget_load(wh, load_id)


def _audit_ok(wh: Warehouse, report: ExtractReport, started: float) -> None:
    report.seconds = round(time.perf_counter() - started, 3)
    audit(wh, "sales", "extract", "warning" if report.warnings else "ok", detail=report.as_dict())


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
