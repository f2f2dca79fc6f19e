"""Running the revenue transform: incremental, full, as of a past moment, or a backfill.

Every run is one transaction under the ``revops.transform`` writer lock (joining the caller's
transaction when there is one), writes one audit row, and leaves the watermark
(``transform_state`` ``revenue.raw_seq``) at the last raw row it covered. An incremental run
reads only raw rows past the watermark and re-derives only the keys they touch, so it gives
the same facts and marts as a full rebuild.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from revops import signals
from revops.audit import audit
from revops.transform import facts, links, marts
from revops.transform.settings import RevenueSettings, revenue_settings
from revops.transform.staging import STAGING_TABLES, Affected, Stager, raw_batches, write_batch
from revops.transform.state import (
    COLLECTIONS_AS_OF,
    INVOICE_LINES,
    NRR_MAX_MONTH,
    NRR_TOTALS,
    WATERMARK,
    get_state,
    set_state,
)
from revops.warehouse.schema import ensure_schema

if TYPE_CHECKING:
    from revops.warehouse.base import Warehouse

LOCK = "revops.transform"
MARTS = ("mart_won_to_paid", "mart_nrr_monthly", "mart_collections")
DERIVED_TABLES = (
    *STAGING_TABLES,
    "fact_opportunity",
    "fact_billing",
    "fact_invoice_line",
    "fact_customer",
    "fact_price",
    "cdc_refetch",
    "won_invoice_link",
    "mrr_customer_monthly",
    "nrr_customer_movement",
    "nrr_monthly_total",
    *MARTS,
)


@dataclass
class TransformReport:
    """What one run did: raw rows read, staging rows written, facts changed, marts refreshed."""

    mode: str
    events: int = 0
    staged: int = 0
    rejected: dict[str, int] = field(default_factory=dict)
    rejected_event_ids: list[str] = field(default_factory=list)
    facts_changed: int = 0
    marts_refreshed: list[str] = field(default_factory=list)
    seconds: float = 0.0
    watermark: int = 0
    collections_as_of: date | None = None

    def as_dict(self) -> dict[str, Any]:
        """The report as plain JSON-compatible data."""
        return {
            "mode": self.mode,
            "events": self.events,
            "staged": self.staged,
            "rejected": dict(self.rejected),
            "rejected_event_ids": list(self.rejected_event_ids),
            "facts_changed": self.facts_changed,
            "marts_refreshed": list(self.marts_refreshed),
            "seconds": round(self.seconds, 4),
            "watermark": self.watermark,
            "collections_as_of": self.collections_as_of.isoformat()
            if self.collections_as_of
            else None,
        }


@dataclass
class _Context:
    wh: Warehouse
    cfg: RevenueSettings
    tz: ZoneInfo
    report: TransformReport


@contextmanager
def _cyclic_gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector during a run: parsed payloads and fetched rows hold
    no reference cycles, and walking thousands of them on every collector pass costs more
    than the parsing itself. The previous state is restored on exit."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _context(wh: Warehouse, settings: Any, mode: str) -> _Context:
    ensure_schema(wh)  # idempotent and remembered per warehouse object
    tz = settings.timezone if settings is not None else ZoneInfo("Asia/Tokyo")
    return _Context(wh, revenue_settings(settings), tz, TransformReport(mode=mode))


def _business_date(value: date | datetime | None, tz: ZoneInfo) -> date:
    if value is None:
        return datetime.now(tz).date()
    if isinstance(value, datetime):
        aware = value if value.tzinfo else value.replace(tzinfo=UTC)
        return aware.astimezone(tz).date()
    return value


def _clear_derived(wh: Warehouse) -> None:
    for table in DERIVED_TABLES:
        wh.execute(f"DELETE FROM revops.{table}")
    wh.execute("DELETE FROM revops.id_mappings WHERE source = 'stripe'")
    wh.execute(
        "DELETE FROM revops.transform_state WHERE name IN (?, ?, ?)",
        (NRR_MAX_MONTH, NRR_TOTALS, COLLECTIONS_AS_OF),
    )


def _stage(
    ctx: _Context,
    stager: Stager,
    where: str,
    params: tuple[Any, ...],
    low: int,
    high: int,
    *,
    replace: bool,
) -> None:
    for rows in raw_batches(ctx.wh, where, params, ctx.cfg.batch_size, low, high):
        ctx.report.events += len(rows)
        batch = stager.stage_rows(rows)
        write_batch(ctx.wh, batch, replace=replace)
        ctx.report.staged += batch.staged
        for reason, n in batch.rejected.items():
            ctx.report.rejected[reason] = ctx.report.rejected.get(reason, 0) + n
        room = 20 - len(ctx.report.rejected_event_ids)
        ctx.report.rejected_event_ids += batch.rejected_ids[: max(room, 0)]


def _values(wh: Warehouse, sql: str, keys: set[str]) -> set[str]:
    if not keys:
        return set()
    rows = wh.query(sql, (sorted(keys),))
    return {v for r in rows for v in r.values() if v is not None}


def _scope(
    wh: Warehouse,
    affected: Affected,
    invoices: facts.Changes,
    opportunities: facts.Changes,
    customers_changed: facts.Changes,
) -> tuple[set[str], set[str], set[str]]:
    """(billing customers, opportunity ids, account ids) whose marts the run may change.

    Marts are functions of the facts, so what a run reaches is what its changed facts name,
    before and after: the customers and opportunities of changed invoices (so an invoice moving
    between customers fixes both), the touched keys themselves, and the accounts of those
    opportunities and customers. Only facts this run changed can have had other values before
    it, so the rest is read as it is now."""
    customers = set(affected.customers)
    opps = set(affected.opportunities)
    for row in _rows(invoices):
        if row["customer_id"]:
            customers.add(row["customer_id"])
        if row["opportunity_id"]:
            opps.add(row["opportunity_id"])
    accounts = {r["account_id"] for r in _rows(opportunities) if r["account_id"]}
    accounts |= _values(
        wh,
        "SELECT account_id FROM revops.fact_opportunity WHERE opportunity_id "
        "IN (SELECT unnest(CAST(? AS VARCHAR[])))",
        opps - opportunities.keys(),
    )
    # Mappings of other sources are not written by the run; a changed customer's Stripe
    # mapping is its fact's account (now in id_mappings; before, in its old fact).
    accounts |= _values(
        wh,
        "SELECT crm_account_id FROM revops.id_mappings WHERE "
        "billing_customer_id IN (SELECT unnest(CAST(? AS VARCHAR[])))",
        customers,
    )
    accounts |= {
        before["account_id"]
        for before, _ in customers_changed.values()
        if before is not None and before["account_id"] and not before["is_deleted"]
    }
    return customers, opps, accounts


def _rows(changes: facts.Changes) -> Iterator[dict[str, Any]]:
    for before, after in changes.values():
        if before is not None:
            yield before
        if after is not None:
            yield after


def _derive(
    ctx: _Context,
    affected: Affected | None,
    new_rows: dict[str, dict[str, list[dict[str, Any]]]] | None = None,
    new_lines: dict[str, list[tuple[Any, ...]]] | None = None,
) -> None:
    """Re-derive facts and marts: for ``affected`` keys, or everything when None.

    ``new_rows`` (the run's staging rows by kind and key, when kept) lets each key's fold
    continue from its current fact instead of re-reading its history; ``new_lines`` (the
    run's invoice lines by event, kept with them) gives the new current lines of invoices."""
    wh, tz, report = ctx.wh, ctx.tz, ctx.report
    if affected is None:
        report.facts_changed += facts.refresh_opportunities(wh, None, compare=False)
        report.facts_changed += facts.refresh_invoices(wh, None, tz, compare=False)
        _all_invoice_lines(wh)
        report.facts_changed += facts.refresh_customers(wh, None, compare=False)
        report.facts_changed += facts.refresh_prices(wh, None, compare=False)
        links.refresh_links(wh, None)
        marts.refresh_won_to_paid(wh, None)
        marts.refresh_nrr(wh, None)
        _collections(ctx, None)
        report.marts_refreshed = list(MARTS)
        return
    if not affected:
        return
    if get_state(wh, INVOICE_LINES, None) is None:
        _all_invoice_lines(wh)  # from the facts as they were before this run
    kept = new_rows or {}
    changed: dict[str, facts.Changes] = {"invoice": {}, "opportunity": {}, "customer": {}}
    report.facts_changed += facts.refresh_opportunities(
        wh, affected.opportunities, new_rows=kept.get("opportunity"), changes=changed["opportunity"]
    )
    report.facts_changed += facts.refresh_invoices(
        wh, affected.invoices, tz, new_rows=kept.get("invoice"), changes=changed["invoice"]
    )
    facts.refresh_invoice_lines(
        wh, affected.invoices, changes=changed["invoice"], new_lines=new_lines
    )
    report.facts_changed += facts.refresh_customers(
        wh, affected.customers, new_rows=kept.get("customer"), changes=changed["customer"]
    )
    report.facts_changed += facts.refresh_prices(wh, affected.prices, new_rows=kept.get("price"))
    customers, scope_opps, accounts = _scope(
        wh, affected, changed["invoice"], changed["opportunity"], changed["customer"]
    )
    if affected.prices:
        customers |= _values(
            wh,
            "SELECT DISTINCT b.customer_id FROM revops.fact_billing AS b "
            "JOIN revops.fact_invoice_line AS l ON l.invoice_id = b.invoice_id "
            "WHERE l.price_id IN (SELECT unnest(CAST(? AS VARCHAR[])))",
            affected.prices,
        )
    opps = scope_opps | _fallback_candidates(wh, accounts, scope_opps)
    links.refresh_links(wh, opps)
    marts.refresh_won_to_paid(wh, opps)
    marts.refresh_nrr(wh, customers)
    _collections(ctx, affected.invoices)
    report.marts_refreshed = list(MARTS)


_WON_OF_ACCOUNTS = (
    "SELECT o.opportunity_id FROM revops.fact_opportunity AS o "
    "WHERE o.account_id IN (SELECT unnest(CAST(? AS VARCHAR[]))) "
    "AND o.stage_name = 'Closed Won' AND NOT o.is_deleted"
)


def _fallback_candidates(wh: Warehouse, accounts: set[str], scope_opps: set[str]) -> set[str]:
    """Won opportunities of ``accounts`` outside ``scope_opps`` without a metadata link.

    Won opportunities of touched accounts may take or lose a fallback invoice link. One
    linked by invoice metadata never takes a fallback link and claims none; its links can
    change only through its own invoices or itself, which put it in scope already. Most won
    opportunities are linked by metadata, so on DuckDB one query returns only the others
    (an anti-join against the links); PostgreSQL plans that as a nested loop on tables it
    has no statistics for yet, so there the won ones are read first and their links next."""
    if not accounts:
        return set()
    if wh.dialect == "duckdb":
        return (
            _values(
                wh,
                _WON_OF_ACCOUNTS + " AND NOT EXISTS (SELECT 1 FROM revops.won_invoice_link AS l "
                "WHERE l.opportunity_id = o.opportunity_id AND l.link_type = 'metadata')",
                accounts,
            )
            - scope_opps
        )
    won = _values(wh, _WON_OF_ACCOUNTS, accounts) - scope_opps
    by_metadata = _values(
        wh,
        "SELECT DISTINCT opportunity_id FROM revops.won_invoice_link WHERE link_type = "
        "'metadata' AND opportunity_id IN (SELECT unnest(CAST(? AS VARCHAR[])))",
        won,
    )
    return won - by_metadata


def _all_invoice_lines(wh: Warehouse) -> None:
    facts.refresh_invoice_lines(wh, None)
    set_state(wh, INVOICE_LINES, 1)


def _collections(ctx: _Context, invoices: set[str] | None) -> None:
    """Keep ``mart_collections`` current for today (business time zone)."""
    today = datetime.now(ctx.tz).date()
    current = get_state(ctx.wh, COLLECTIONS_AS_OF, None)
    if invoices is not None and current == today.toordinal():
        marts.refresh_collections_rows(ctx.wh, today, invoices)
    else:
        if current is not None and current != today.toordinal():
            ctx.wh.execute(
                "DELETE FROM revops.mart_collections WHERE as_of = ?", (date.fromordinal(current),)
            )
        marts.refresh_collections_rows(ctx.wh, today, None)
        set_state(ctx.wh, COLLECTIONS_AS_OF, today.toordinal())
    ctx.report.collections_as_of = today


def _finish(ctx: _Context, started: float) -> TransformReport:
    report = ctx.report
    report.seconds = time.perf_counter() - started
    audit(ctx.wh, "revenue", "transform", "ok", actor="transform", detail=report.as_dict())
    return report


def _failed(wh: Warehouse, mode: str, exc: Exception) -> None:
    if not wh.in_transaction:
        audit(
            wh,
            "revenue",
            "transform",
            "failed",
            actor="transform",
            detail={"mode": mode, "error": str(exc)[:500]},
        )


def _emit(report: TransformReport) -> None:
    if report.staged or report.facts_changed or report.mode != "incremental":
        signals.emit(
            signals.MARTS_REFRESHED, tables=list(report.marts_refreshed), events=report.events
        )


def run_transform(
    wh: Warehouse, settings: Any = None, *, full: bool = False, as_of: datetime | None = None
) -> TransformReport:
    """Bring staging, facts and marts up to date with ``events_raw``.

    Incremental from the watermark by default; ``full`` rebuilds everything from raw; ``as_of``
    rebuilds from only the raw rows inserted at or before that moment (rollback) and leaves
    the watermark there. Idempotent; transactional (joins an outer transaction).
    """
    mode = "as_of" if as_of is not None else "full" if full else "incremental"
    ctx = _context(wh, settings, mode)
    started = time.perf_counter()
    try:
        with _cyclic_gc_paused(), wh.transaction(lock=LOCK):
            rebuild = marts.refresh_calendar(wh, ctx.tz) or full or as_of is not None
            where, params = ("inserted_at <= ?", (as_of,)) if as_of is not None else ("TRUE", ())
            high = int(
                wh.query_value(
                    f"SELECT coalesce(max(raw_seq), 0) FROM revops.events_raw WHERE {where}", params
                )
            )
            low = 0 if rebuild else int(get_state(wh, WATERMARK, 0) or 0)
            if rebuild:
                ctx.report.mode = mode if mode != "incremental" else "full"
                _clear_derived(wh)
            stager = Stager(ctx.cfg, ctx.tz, keep=not rebuild)
            _stage(ctx, stager, where, params, low, high, replace=False)
            _derive(ctx, None if rebuild else stager.affected, stager.new_rows, stager.new_lines)
            if not rebuild and not stager.affected and low == high:
                _collections_if_new_day(ctx)
            set_state(wh, WATERMARK, high)
            ctx.report.watermark = high
            report = _finish(ctx, started)
            if not rebuild:
                wh.checkpoint_by_log_size()  # a few MB of changes spread over many tables
    except Exception as exc:
        _failed(wh, mode, exc)
        raise
    report.seconds = time.perf_counter() - started  # including the commit
    _emit(report)
    return report


def _collections_if_new_day(ctx: _Context) -> None:
    today = datetime.now(ctx.tz).date()
    if get_state(ctx.wh, COLLECTIONS_AS_OF, None) != today.toordinal():
        _collections(ctx, None)
        ctx.report.marts_refreshed = ["mart_collections"]


def backfill(
    wh: Warehouse, settings: Any = None, *, start: datetime, end: datetime
) -> TransformReport:
    """Re-derive staging, facts and marts for the raw events with event_ts in [start, end).

    Rows past the watermark are transformed too, so the warehouse ends up to date. Idempotent;
    transactional (joins an outer transaction).
    """
    ctx = _context(wh, settings, "backfill")
    started = time.perf_counter()
    try:
        with _cyclic_gc_paused(), wh.transaction(lock=LOCK):
            # A new business time zone changes every month and due date: rebuild it all.
            rebuild = marts.refresh_calendar(wh, ctx.tz)
            if rebuild:
                _clear_derived(wh)
            low = 0 if rebuild else int(get_state(wh, WATERMARK, 0) or 0)
            high = int(wh.query_value("SELECT coalesce(max(raw_seq), 0) FROM revops.events_raw"))
            stager = Stager(ctx.cfg, ctx.tz)
            window = ("event_ts >= ? AND event_ts < ?", (start, end))
            _stage(ctx, stager, *window, 0, low, replace=True)
            _stage(ctx, stager, "TRUE", (), low, high, replace=False)
            _derive(ctx, None if rebuild else stager.affected)
            set_state(wh, WATERMARK, high)
            ctx.report.watermark = high
            report = _finish(ctx, started)
    except Exception as exc:
        _failed(wh, "backfill", exc)
        raise
    report.seconds = time.perf_counter() - started  # including the commit
    _emit(report)
    return report


def refresh_collections(
    wh: Warehouse, settings: Any = None, *, as_of: date | datetime | None = None
) -> TransformReport:
    """Rebuild ``mart_collections`` as of ``as_of`` (a business-time-zone date; default
    today) from the current facts. Idempotent; transactional (joins an outer transaction)."""
    ctx = _context(wh, settings, "collections")
    day = _business_date(as_of, ctx.tz)
    started = time.perf_counter()
    try:
        with wh.transaction(lock=LOCK):
            marts.refresh_collections_rows(wh, day, None)
            ctx.report.marts_refreshed = ["mart_collections"]
            ctx.report.collections_as_of = day
            ctx.report.watermark = int(get_state(wh, WATERMARK, 0) or 0)
            report = _finish(ctx, started)
    except Exception as exc:
        _failed(wh, "collections", exc)
        raise
    report.seconds = time.perf_counter() - started  # including the commit
    _emit(report)
    return report
