"""Staging → latest-state facts, re-derived only for the keys a run touched.

Ordering is deterministic: opportunities by (event_ts, commitNumber, sequenceNumber,
event_id); Stripe objects by (event_ts, event_id), invoices first by status level (draft <
open < uncollectible < paid = void). Invoice statuses only ever move up that ladder in Stripe,
so a snapshot of a lower level is older whatever its timestamp says: an ``open`` of the same
second as ``paid`` (or a later-looking one delivered late) never overwrites a terminal status.
Each event applies only the columns it sets (CDC ``changedFields`` / ``nulledFields``, the
keys of a flat payload); a full snapshot sets every column.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import orjson

from revops.transform.keys import KeySet, in_keys
from revops.transform.stage_salesforce import FACT_FIELDS as OPP_FIELDS
from revops.transform.stage_stripe import INVOICE_FIELDS, STATUS_LEVEL, business_date
from revops.transform.staging import STG_LINE

if TYPE_CHECKING:
    from revops.warehouse.base import Warehouse

CLOSED_WON = "Closed Won"
FULL_SNAPSHOTS = ("CREATE", "UNDELETE", "SNAPSHOT")
FACT_OPPORTUNITY = ("opportunity_id", *OPP_FIELDS, "won_at", "updated_at", "last_event_id")
FACT_BILLING = (
    "invoice_id",
    "customer_id",
    "customer_email",
    "currency",
    "amount_due",
    "amount_paid",
    "amount_remaining",
    "status",
    "due_date",
    "created_at",
    "finalized_at",
    "paid_at",
    "voided_at",
    "opportunity_id",
    "updated_at",
    "subscription_id",
    "period_start",
    "period_end",
    "api_version",
    "livemode",
    "lines_event_id",
    "collection_due_date",
    "last_event_id",
)
FACT_CUSTOMER = (
    "customer_id",
    "email",
    "name",
    "account_id",
    "is_deleted",
    "updated_at",
    "last_event_id",
)
FACT_PRICE = (
    "price_id",
    "currency",
    "unit_amount",
    "price_type",
    "recurring_interval",
    "interval_count",
    "product_id",
    "is_deleted",
    "updated_at",
    "last_event_id",
)
# Rows of the run's own staging by key (see ``Stager.new_rows``); None = not kept.
NewRows = dict[str, list[dict[str, Any]]]
# Facts a run changed: key → (row before or None, row after or None).
Changes = dict[str, tuple[dict[str, Any] | None, dict[str, Any] | None]]


def _seq(value: int | None) -> int:
    return -1 if value is None else int(value)


def opportunity_order(row: dict[str, Any]) -> tuple[Any, ...]:
    """Sort key of an opportunity event: (event_ts, commit, sequence, event_id)."""
    return (row["event_ts"], _seq(row["source_seq"]), _seq(row["source_subseq"]), row["event_id"])


def invoice_order(row: dict[str, Any]) -> tuple[Any, ...]:
    """Sort key of an invoice snapshot: (status level, event_ts, event_id)."""
    return (STATUS_LEVEL.get(row["status"] or "", -1), row["event_ts"], row["event_id"])


def fold_opportunity(
    events: list[dict[str, Any]], start: dict[str, Any] | None = None
) -> dict[str, Any] | None:
    """The latest state of one opportunity from its staging rows (any order given), or, with
    ``start`` (its current fact), from that state on with events that all sort after it."""
    if start is None:
        state: dict[str, Any] = dict.fromkeys(OPP_FIELDS)
        won_at = updated_at = last = None
        applied = False
    else:
        state = {c: start[c] for c in OPP_FIELDS}
        won_at, updated_at, last = start["won_at"], start["updated_at"], start["last_event_id"]
        applied = True
    for ev in sorted(events, key=opportunity_order):
        sets = orjson.loads(ev["set_fields"]) if ev["set_fields"] else []
        if not sets:
            continue  # gap events carry no fields
        for column in sets:
            state[column] = ev[column]
        applied = True
        updated_at, last = ev["event_ts"], ev["event_id"]
        if won_at is None and state["stage_name"] == CLOSED_WON:
            won_at = ev["event_ts"]
    if not applied:
        return None
    state["is_deleted"] = bool(state["is_deleted"])
    return {
        "opportunity_id": events[0]["opportunity_id"],
        **state,
        "won_at": won_at,
        "updated_at": updated_at,
        "last_event_id": last,
    }


def fold_invoice(
    events: list[dict[str, Any]], tz: ZoneInfo, start: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The latest state of one invoice from its staging rows (any order given), or, with
    ``start`` (its current fact), from that state on with events that all sort after it."""
    if start is None:
        state: dict[str, Any] = dict.fromkeys(INVOICE_FIELDS)
        lines_event = last = updated_at = None
    else:
        state = {c: start[c] for c in INVOICE_FIELDS}
        lines_event, last = start["lines_event_id"], start["last_event_id"]
        updated_at = start["updated_at"]
    for ev in sorted(events, key=invoice_order):
        sets = orjson.loads(ev["set_fields"]) if ev["set_fields"] else INVOICE_FIELDS
        for column in sets:
            state[column] = ev[column]
        if ev["line_count"] is not None:
            lines_event = ev["event_id"]
        updated_at, last = ev["event_ts"], ev["event_id"]
    due = (
        state["due_date"]
        or business_date(state["finalized_at"], tz)
        or business_date(state["created_at"], tz)
    )
    return {
        "invoice_id": events[0]["invoice_id"],
        **state,
        "updated_at": updated_at,
        "lines_event_id": lines_event,
        "collection_due_date": due,
        "last_event_id": last,
    }


def fold_latest(events: list[dict[str, Any]], key: str, columns: tuple[str, ...]) -> dict[str, Any]:
    """The latest full snapshot by (event_ts, event_id) of a customer or price."""
    ev = max(events, key=_latest_order)
    row = {c: ev[c] for c in columns if c in ev}
    row[key] = ev[key]
    row["updated_at"] = ev["event_ts"]
    row["last_event_id"] = ev["event_id"]
    return row


def _latest_order(row: dict[str, Any]) -> tuple[Any, ...]:
    return (row["event_ts"], row["event_id"])


def invoice_fact_order(fact: dict[str, Any]) -> tuple[Any, ...] | None:
    """The sort key of the last snapshot folded into an invoice fact (None when unknown).

    The fact's status is the last snapshot's: a snapshot sets every field, and a flat event
    of a known status sets it (one without a status has level -1, and so do all before it)."""
    if fact["last_event_id"] is None or fact["updated_at"] is None:
        return None
    return (
        STATUS_LEVEL.get(fact["status"] or "", -1),
        fact["updated_at"],
        fact["last_event_id"],
    )


def _group(rows: Iterable[dict[str, Any]], key: str) -> dict[str, list[dict[str, Any]]]:
    groups: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        groups.setdefault(row[key], []).append(row)
    return groups


def _normal(value: Any) -> Any:
    """A value comparable across engines (aware datetimes compare by instant already)."""
    if isinstance(value, datetime):
        return value.timestamp()
    if hasattr(value, "normalize"):
        return value.normalize()
    return value


def current(
    wh: Warehouse, table: str, key: str, columns: tuple[str, ...], keys: Iterable[str]
) -> dict[str, dict[str, Any]]:
    """The current rows of ``table`` for ``keys``, by key.

    Which keys have a row is read first (one column): many keys of a run are new, and on
    DuckDB a lookup reading every column costs about three times one reading the key alone,
    so whole rows are read only for keys that exist."""
    keys = sorted(keys)
    if not keys:
        return {}
    cond, params = in_keys(key, keys)
    present = sorted(r[key] for r in wh.query(f"SELECT {key} FROM {table} WHERE {cond}", params))
    if not present:
        return {}
    if len(present) < len(keys):
        cond, params = in_keys(key, present)
    rows = wh.query(f"SELECT {', '.join(columns)} FROM {table} WHERE {cond}", params)
    return {r[key]: r for r in rows}


def write_changed(
    wh: Warehouse,
    table: str,
    key: str,
    columns: tuple[str, ...],
    old: dict[str, dict[str, Any]],
    rows: list[dict[str, Any]],
    gone: Iterable[str] = (),
    changes: Changes | None = None,
) -> list[str]:
    """Make the facts of the keys in ``rows`` (and ``gone``, which have none any more) equal
    ``rows``, given their current rows ``old``; returns the keys that changed (recorded with
    their rows before and after in ``changes``).

    Only differing rows are deleted and inserted: on DuckDB a deleted row costs at commit
    (its index entries are removed), so unchanged facts are left alone."""
    dirty = [
        r
        for r in rows
        if (o := old.get(r[key])) is None
        or tuple(_normal(o[c]) for c in columns) != tuple(_normal(r.get(c)) for c in columns)
    ]
    removed = [k for k in gone if k in old]
    stale = [r[key] for r in dirty if r[key] in old] + removed
    if stale:
        cond, params = in_keys(key, stale)
        wh.execute(f"DELETE FROM {table} WHERE {cond}", params)
    if dirty:
        wh.insert_rows(table, columns, [tuple(r.get(c) for c in columns) for r in dirty])
    if changes is not None:
        changes.update((r[key], (old.get(r[key]), r)) for r in dirty)
        changes.update((k, (old[k], None)) for k in removed)
    return [r[key] for r in dirty] + removed


def _replace(
    wh: Warehouse,
    table: str,
    key: str,
    columns: tuple[str, ...],
    keys: KeySet,
    rows: list[dict[str, Any]],
    compare: bool,
    changes: Changes | None = None,
) -> int:
    """Make the facts of ``keys`` equal ``rows``; returns how many rows changed.

    With ``compare`` only the rows that differ are rewritten: unchanged facts are left alone,
    which keeps the write-ahead log (and DuckDB's commit) proportional to real changes."""
    if compare and keys is not None:
        old = current(wh, table, key, columns, keys)
        present = {r[key] for r in rows}
        gone = [k for k in keys if k not in present]
        return len(write_changed(wh, table, key, columns, old, rows, gone, changes))
    cond, params = in_keys(key, keys)
    wh.execute(f"DELETE FROM {table} WHERE {cond}", params)
    if rows:
        wh.insert_rows(table, columns, [tuple(r.get(c) for c in columns) for r in rows])
    return len(rows)


def _staging(wh: Warehouse, table: str, key: str, keys: KeySet) -> list[dict[str, Any]]:
    cond, params = in_keys(key, keys)
    return wh.query(f"SELECT * FROM {table} WHERE {cond}", params)


def refresh_opportunities(
    wh: Warehouse,
    keys: KeySet,
    *,
    compare: bool = True,
    new_rows: NewRows | None = None,
    changes: Changes | None = None,
) -> int:
    """Re-derive ``fact_opportunity`` and ``cdc_refetch`` for ``keys``; returns changes.

    With ``new_rows`` (the run's staging rows by key) a key whose new events all come after
    its current fact, with no gap pending or arriving, continues from the fact; the others
    re-read their history from staging."""
    if new_rows is None or keys is None:
        return _refold_opportunities(wh, keys, compare=compare, changes=changes)
    old = current(wh, "revops.fact_opportunity", "opportunity_id", FACT_OPPORTUNITY, new_rows)
    gaps = _with_pending_gaps(wh, new_rows)
    facts, stale = [], []
    for key, events in new_rows.items():
        start = old.get(key)
        if (
            key in gaps
            or any(e["change_type"].startswith("GAP_") for e in events)
            or (
                start is not None
                and (
                    start["updated_at"] is None
                    or min(e["event_ts"] for e in events) <= start["updated_at"]
                )
            )
        ):
            stale.append(key)
            continue
        fact = fold_opportunity(events, start)
        if fact is not None:
            facts.append(fact)
    changed = write_changed(
        wh, "revops.fact_opportunity", "opportunity_id", FACT_OPPORTUNITY, old, facts, (), changes
    )
    refolded = _refold_opportunities(wh, stale, compare=True, changes=changes) if stale else 0
    return len(changed) + refolded


def _with_pending_gaps(wh: Warehouse, keys: Iterable[str]) -> set[str]:
    cond, params = in_keys("record_id", sorted(keys))
    rows = wh.query(f"SELECT DISTINCT record_id FROM revops.cdc_refetch WHERE {cond}", params)
    return {r["record_id"] for r in rows}


def _refold_opportunities(
    wh: Warehouse, keys: KeySet, *, compare: bool, changes: Changes | None = None
) -> int:
    groups = _group(
        _staging(wh, "revops.stg_opportunity", "opportunity_id", keys), "opportunity_id"
    )
    facts = [f for f in (fold_opportunity(g) for g in groups.values()) if f is not None]
    changed = _replace(
        wh,
        "revops.fact_opportunity",
        "opportunity_id",
        FACT_OPPORTUNITY,
        keys,
        facts,
        compare,
        changes,
    )
    refetch = [r for g in groups.values() for r in pending_gaps(g)]
    _replace(
        wh,
        "revops.cdc_refetch",
        "record_id",
        ("entity", "record_id", "change_type", "event_id", "event_ts", "commit_number"),
        keys,
        refetch,
        compare=False,
    )
    return changed


def pending_gaps(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Gap events of one record not followed by a full snapshot (they need a re-fetch)."""
    pending: list[dict[str, Any]] = []
    for ev in sorted(events, key=opportunity_order):
        if ev["change_type"].startswith("GAP_"):
            pending.append(
                {
                    "entity": "Opportunity",
                    "record_id": ev["opportunity_id"],
                    "change_type": ev["change_type"],
                    "event_id": ev["event_id"],
                    "event_ts": ev["event_ts"],
                    "commit_number": ev["source_seq"],
                }
            )
        elif ev["change_type"] in FULL_SNAPSHOTS and ev["opportunity_id"] != "*":
            pending.clear()
    return pending


def refresh_invoices(
    wh: Warehouse,
    keys: KeySet,
    tz: ZoneInfo,
    *,
    compare: bool = True,
    new_rows: NewRows | None = None,
    changes: Changes | None = None,
) -> int:
    """Re-derive ``fact_billing`` for ``keys``; returns how many invoices changed.

    With ``new_rows`` a key whose new snapshots all sort after the last one folded into its
    fact continues from the fact; the others re-read their history from staging."""
    if new_rows is None or keys is None:
        return _refold_invoices(wh, keys, tz, compare=compare, changes=changes)
    old = current(wh, "revops.fact_billing", "invoice_id", FACT_BILLING, new_rows)
    facts, stale = [], []
    for key, events in new_rows.items():
        start = old.get(key)
        if start is not None:
            last = invoice_fact_order(start)
            if last is None or min(invoice_order(e) for e in events) <= last:
                stale.append(key)
                continue
        facts.append(fold_invoice(events, tz, start))
    changed = write_changed(
        wh, "revops.fact_billing", "invoice_id", FACT_BILLING, old, facts, (), changes
    )
    refolded = _refold_invoices(wh, stale, tz, compare=True, changes=changes) if stale else 0
    return len(changed) + refolded


def _refold_invoices(
    wh: Warehouse, keys: KeySet, tz: ZoneInfo, *, compare: bool, changes: Changes | None = None
) -> int:
    if keys is None:
        return _rebuild_invoices(wh, tz)
    groups = _group(_staging(wh, "revops.stg_invoice", "invoice_id", keys), "invoice_id")
    facts = [fold_invoice(g, tz) for g in groups.values()]
    return _replace(
        wh, "revops.fact_billing", "invoice_id", FACT_BILLING, keys, facts, compare, changes
    )


def refresh_invoice_lines(
    wh: Warehouse,
    keys: KeySet,
    *,
    changes: Changes | None = None,
    new_lines: dict[str, list[tuple[Any, ...]]] | None = None,
) -> None:
    """Make ``fact_invoice_line`` (each invoice's current lines: the staging lines of its
    fact's ``lines_event_id``) current for the invoices in ``keys`` (None: all).

    With ``changes`` (the invoice facts the run changed) and ``new_lines`` (the run's own
    lines by event: every staging row of the run is new, so no other event's lines changed)
    only invoices whose ``lines_event_id`` changed are rewritten, from memory where the event
    is the run's. Otherwise (a backfill re-staged events) every key re-reads its lines."""
    columns = ", ".join(STG_LINE)
    select = (
        f"INSERT INTO revops.fact_invoice_line ({columns}) "
        f"SELECT {', '.join('l.' + c for c in STG_LINE)} FROM revops.stg_invoice_line AS l "
    )
    if keys is None:
        wh.execute("DELETE FROM revops.fact_invoice_line")
        wh.execute(select + "JOIN revops.fact_billing AS b ON b.lines_event_id = l.event_id")
        return
    if changes is None or new_lines is None:
        todo = sorted(keys)
        if todo:
            cond, params = in_keys("invoice_id", todo)
            wh.execute(f"DELETE FROM revops.fact_invoice_line WHERE {cond}", params)
            cond, params = in_keys("b.invoice_id", todo)
            wh.execute(
                select + "JOIN revops.fact_billing AS b ON b.lines_event_id = l.event_id "
                f"WHERE {cond}",
                params,
            )
        return
    stale, rows, elsewhere = [], [], []
    for key, (before, after) in changes.items():
        old_event = before["lines_event_id"] if before is not None else None
        event = after["lines_event_id"] if after is not None else None
        if old_event == event:
            continue
        if old_event is not None:
            stale.append(key)
        if event is None:
            continue
        if event in new_lines:
            rows += new_lines[event]
        else:
            elsewhere.append(event)  # an older event's lines (a re-folded invoice)
    if stale:
        cond, params = in_keys("invoice_id", stale)
        wh.execute(f"DELETE FROM revops.fact_invoice_line WHERE {cond}", params)
    if rows:
        wh.insert_rows("revops.fact_invoice_line", STG_LINE, rows)
    if elsewhere:
        cond, params = in_keys("l.event_id", elsewhere)
        wh.execute(select + f"WHERE {cond}", params)


# A full rebuild folds invoices this many keys at a time, so its memory stays bounded
# whatever the history (millions of invoice snapshots do not fit in Python objects at once).
REBUILD_KEYS = 200_000


def _rebuild_invoices(wh: Warehouse, tz: ZoneInfo) -> int:
    """Rebuild ``fact_billing`` from all of staging, one range of invoice ids at a time."""
    wh.execute("DELETE FROM revops.fact_billing")
    ids = [
        r["invoice_id"]
        for r in wh.query("SELECT DISTINCT invoice_id FROM revops.stg_invoice ORDER BY 1")
    ]
    written = 0
    for first in range(0, len(ids), REBUILD_KEYS):
        low, high = ids[first], ids[min(first + REBUILD_KEYS, len(ids)) - 1]
        rows = wh.query(
            "SELECT * FROM revops.stg_invoice WHERE invoice_id >= ? AND invoice_id <= ?",
            (low, high),
        )
        facts = [fold_invoice(g, tz) for g in _group(rows, "invoice_id").values()]
        del rows
        wh.insert_rows(
            "revops.fact_billing",
            FACT_BILLING,
            [tuple(f.get(c) for c in FACT_BILLING) for f in facts],
        )
        written += len(facts)
    return written


def _latest_facts(
    wh: Warehouse,
    table: str,
    stg_table: str,
    key: str,
    columns: tuple[str, ...],
    keys: KeySet,
    new_rows: NewRows | None,
) -> tuple[dict[str, dict[str, Any]], list[dict[str, Any]], list[str]]:
    """(current rows, new facts, keys without a fact) of a latest-snapshot fact.

    With ``new_rows`` a key whose current fact names its last event continues from it: the
    later of the fact and the newest new event wins. The other keys re-read staging."""
    if new_rows is None or keys is None:
        old: dict[str, dict[str, Any]] = {}
        todo: KeySet = keys
        facts: list[dict[str, Any]] = []
    else:
        old = current(wh, table, key, columns, new_rows)
        facts, stale = [], []
        for k, events in new_rows.items():
            start = old.get(k)
            newest = max(events, key=_latest_order)
            if start is None:
                facts.append(fold_latest(events, key, columns))
            elif start["last_event_id"] is None or start["updated_at"] is None:
                stale.append(k)
            elif _latest_order(newest) > (start["updated_at"], start["last_event_id"]):
                facts.append(fold_latest([newest], key, columns))
            # else: the current fact is still the latest snapshot
        todo = stale  # their current rows are in ``old`` already
        if not stale:
            return old, facts, []
    groups = _group(_staging(wh, stg_table, key, todo), key)
    facts += [fold_latest(g, key, columns) for g in groups.values()]
    gone = [] if todo is None else [k for k in todo if k not in groups]
    return old, facts, gone


def refresh_customers(
    wh: Warehouse,
    keys: KeySet,
    *,
    compare: bool = True,
    new_rows: NewRows | None = None,
    changes: Changes | None = None,
) -> int:
    """Re-derive ``fact_customer`` and the Stripe rows of ``id_mappings`` for ``keys``
    (with ``new_rows``: for the customers among them that have new staging rows)."""
    if new_rows is None or keys is None:
        groups = _group(_staging(wh, "revops.stg_customer", "customer_id", keys), "customer_id")
        facts = [fold_latest(g, "customer_id", FACT_CUSTOMER) for g in groups.values()]
        changed = _replace(
            wh, "revops.fact_customer", "customer_id", FACT_CUSTOMER, keys, facts, compare, changes
        )
        cond, params = in_keys("billing_customer_id", keys)
        wh.execute(f"DELETE FROM revops.id_mappings WHERE source = 'stripe' AND {cond}", params)
        _insert_mappings(wh, facts)
        return changed
    old, facts, gone = _latest_facts(
        wh,
        "revops.fact_customer",
        "revops.stg_customer",
        "customer_id",
        FACT_CUSTOMER,
        keys,
        new_rows,
    )
    dirty = write_changed(
        wh, "revops.fact_customer", "customer_id", FACT_CUSTOMER, old, facts, gone, changes
    )
    if dirty:
        # A mapping is a function of the fact: rewrite it only for customers that changed.
        cond, params = in_keys("billing_customer_id", dirty)
        wh.execute(f"DELETE FROM revops.id_mappings WHERE source = 'stripe' AND {cond}", params)
        rewrite = set(dirty)
        _insert_mappings(wh, [f for f in facts if f["customer_id"] in rewrite])
    return len(dirty)


def _insert_mappings(wh: Warehouse, facts: list[dict[str, Any]]) -> None:
    mappings = [
        (f["account_id"], f["customer_id"], None, "stripe", f["updated_at"])
        for f in facts
        if f["account_id"] and not f["is_deleted"]
    ]
    if mappings:
        wh.insert_rows(
            "revops.id_mappings",
            ("crm_account_id", "billing_customer_id", "portal_user_id", "source", "updated_at"),
            mappings,
        )


def refresh_prices(
    wh: Warehouse, keys: KeySet, *, compare: bool = True, new_rows: NewRows | None = None
) -> int:
    """Re-derive ``fact_price`` for ``keys``."""
    if new_rows is None or keys is None:
        groups = _group(_staging(wh, "revops.stg_price", "price_id", keys), "price_id")
        facts = [fold_latest(g, "price_id", FACT_PRICE) for g in groups.values()]
        return _replace(wh, "revops.fact_price", "price_id", FACT_PRICE, keys, facts, compare)
    old, facts, gone = _latest_facts(
        wh, "revops.fact_price", "revops.stg_price", "price_id", FACT_PRICE, keys, new_rows
    )
    return len(write_changed(wh, "revops.fact_price", "price_id", FACT_PRICE, old, facts, gone))
