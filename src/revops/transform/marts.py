"""Facts → the revenue marts, as set-based SQL in the warehouse (``sql/*.sql``).

Each refresh takes a key scope (``None`` = everything) so an incremental run recomputes only
the opportunities, customers, months and invoices its events touched.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from functools import cache
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from revops.transform.keys import KeySet, in_keys
from revops.transform.state import NRR_TOTALS, get_state, set_state
from revops.warehouse.sql import load_sql

if TYPE_CHECKING:
    from revops.warehouse.base import Warehouse

CALENDAR_YEARS = range(1970, 2101)


@cache
def _sql(name: str) -> str:
    return load_sql("revops.transform.sql", name)


def month_no(month: date) -> int:
    """Months since year 0: year * 12 + month - 1."""
    return month.year * 12 + month.month - 1


def refresh_calendar(wh: Warehouse, tz: ZoneInfo) -> bool:
    """Make ``calendar_month`` hold the months of ``tz``; True when it had to be rebuilt."""
    rows = wh.query("SELECT DISTINCT timezone FROM revops.calendar_month")
    if [r["timezone"] for r in rows] == [tz.key]:
        return False
    wh.execute("DELETE FROM revops.calendar_month")
    months = []
    for year in CALENDAR_YEARS:
        for m in range(1, 13):
            start = datetime(year, m, 1, tzinfo=tz)
            end = datetime(year + (m == 12), m % 12 + 1, 1, tzinfo=tz)
            months.append(
                (
                    date(year, m, 1),
                    year * 12 + m - 1,
                    start.astimezone(UTC),
                    end.astimezone(UTC),
                    tz.key,
                )
            )
    wh.insert_rows(
        "revops.calendar_month", ("month", "month_no", "start_utc", "end_utc", "timezone"), months
    )
    return True


def refresh_won_to_paid(wh: Warehouse, scope: KeySet) -> None:
    """Make the ``mart_won_to_paid`` rows of the opportunities in ``scope`` current."""
    cond_l, params_l = in_keys("l.opportunity_id", scope)
    cond_o, params_o = in_keys("o.opportunity_id", scope)
    cond, params = in_keys("opportunity_id", scope)
    write_changed(
        wh,
        "mart_won_to_paid",
        "won_to_paid.sql",
        cond,
        params,
        sql_params=(*params_l, *params_o),
        scope_l=cond_l,
        scope_o=cond_o,
    )


# Columns of the tables written by ``write_changed`` and the columns of their key.
WON_TO_PAID_COLUMNS = (
    "opportunity_id",
    "account_id",
    "amount",
    "won_at",
    "first_paid_at",
    "won_to_paid_days",
    "invoiced_amount",
    "paid_amount",
    "status",
)
CUSTOMER_MONTH_COLUMNS = {
    "mrr_customer_monthly": ("customer_id", "currency", "month", "month_no", "mrr"),
    "nrr_customer_movement": (
        "customer_id",
        "currency",
        "month",
        "prev_mrr",
        "mrr",
        "new",
        "expansion",
        "contraction",
        "churn",
        "reactivation",
        "retained",
    ),
}
CUSTOMER_MONTH_KEY = ("customer_id", "currency", "month")
TABLE_SHAPES = {
    "mart_won_to_paid": (WON_TO_PAID_COLUMNS, ("opportunity_id",)),
    **{t: (cols, CUSTOMER_MONTH_KEY) for t, cols in CUSTOMER_MONTH_COLUMNS.items()},
}


def write_changed(
    wh: Warehouse,
    table: str,
    sql_name: str,
    cond: str,
    params: tuple,
    *,
    sql_params: tuple | None = None,
    on_new: Callable[[str], None] | None = None,
    **fmt: str,
) -> None:
    """Make the rows of ``revops.<table>`` that match ``cond`` equal to what ``sql_name``
    computes (an ``INSERT INTO {target}`` over ``{scope}`` and the other placeholders in
    ``fmt``, with ``sql_params``, by default ``params``), writing only the rows that differ.

    An incremental run recomputes every row in its scope, but most of them come out
    unchanged; deleting and re-inserting them all made the commit the largest cost of the
    run (on DuckDB each deleted row's index entries are removed at commit). On a full
    rebuild (``cond`` TRUE) the table is simply rewritten. ``on_new`` (incremental runs
    only) is called with the temporary table of the new rows while the table still holds the
    old ones.
    """
    sql = _sql(sql_name)
    values = params if sql_params is None else sql_params
    target = "{target}"
    if cond == "TRUE":
        wh.execute(f"DELETE FROM revops.{table}")
        wh.execute(sql.replace(target, f"revops.{table}").format(scope=cond, **fmt), values)
        return
    columns, key_columns = TABLE_SHAPES[table]
    temp = f"revops_new_{table}"
    wh.execute(f"DROP TABLE IF EXISTS {temp}")
    wh.execute(f"CREATE TEMPORARY TABLE {temp} AS SELECT * FROM revops.{table} WHERE FALSE")
    try:
        wh.execute(
            sql.replace(f"INTO revops.{table} ", f"INTO {target} ")
            .replace(target, temp)
            .format(scope=cond, **fmt),
            values,
        )
        if on_new is not None:
            on_new(temp)
        # Keys (never NULL) by equality, so both engines hash-join on them; other columns
        # NULL-safely. A row whose key stays is updated in place (cheaper than a delete and an
        # insert: no index entry changes), a row whose key went is deleted, a new key inserted.
        key = " AND ".join(f"n.{c} = t.{c}" for c in key_columns)
        rest = [c for c in columns if c not in key_columns]
        differs = " OR ".join(f"n.{c} IS DISTINCT FROM t.{c}" for c in rest)
        wh.execute(
            f"UPDATE revops.{table} AS t SET {', '.join(f'{c} = n.{c}' for c in rest)} "
            f"FROM {temp} AS n WHERE {key} AND ({differs})"
        )
        wh.execute(
            f"DELETE FROM revops.{table} AS t WHERE {cond} "
            f"AND NOT EXISTS (SELECT 1 FROM {temp} AS n WHERE {key})",
            params,
        )
        cols = ", ".join(columns)
        wh.execute(
            f"INSERT INTO revops.{table} ({cols}) SELECT {', '.join('n.' + c for c in columns)} "
            f"FROM {temp} AS n WHERE NOT EXISTS "
            f"(SELECT 1 FROM revops.{table} AS t WHERE {key})"
        )
    finally:
        wh.execute(f"DROP TABLE IF EXISTS {temp}")


# Sums of ``nrr_customer_movement`` per (currency, month), kept by adding each run's
# differences: ``movements`` rows, the mart's sums, and the two numerators of its ratios.
NRR_TOTAL_SUMS = (*CUSTOMER_MONTH_COLUMNS["nrr_customer_movement"][3:], "cohort_mrr")
_MOVEMENT_SUMS = (
    "1",
    "prev_mrr",
    "mrr",
    "new",
    "expansion",
    "contraction",
    "churn",
    "reactivation",
    "retained",
    "CASE WHEN prev_mrr > 0 THEN mrr ELSE 0 END",
)
_TOTAL_COLUMNS = ("currency", "month", "movements", *NRR_TOTAL_SUMS)


def _movement_sums(source: str, sign: str = "") -> str:
    """Per-(currency, month) sums of movement rows in ``source`` (negated with ``sign`` '-')."""
    sums = ", ".join(
        f"sum({sign}{expr}) AS {name}"
        for expr, name in zip(_MOVEMENT_SUMS, _TOTAL_COLUMNS[2:], strict=True)
    )
    return f"SELECT currency, month, {sums} FROM {source} GROUP BY currency, month"


def _rebuild_nrr_totals(wh: Warehouse) -> None:
    wh.execute("DELETE FROM revops.nrr_monthly_total")
    wh.execute(
        f"INSERT INTO revops.nrr_monthly_total ({', '.join(_TOTAL_COLUMNS)}) "
        + _movement_sums("revops.nrr_customer_movement")
    )
    set_state(wh, NRR_TOTALS, 1)


def _add_to_nrr_totals(wh: Warehouse, new: str, cond: str, params: tuple) -> None:
    """Add the sums of the scope's new movement rows (``new``) to ``nrr_monthly_total`` and
    subtract those of its current rows (``cond``), before the current rows are rewritten."""
    delta, merged = "revops_nrr_delta", "revops_nrr_merged"
    for temp in (delta, merged):
        wh.execute(f"DROP TABLE IF EXISTS {temp}")
    names = ", ".join(_TOTAL_COLUMNS)
    try:
        current = f"(SELECT * FROM revops.nrr_customer_movement WHERE {cond}) AS c"
        wh.execute(
            f"CREATE TEMPORARY TABLE {delta} AS "
            f"SELECT currency, month, {', '.join(f'sum({c}) AS {c}' for c in _TOTAL_COLUMNS[2:])} "
            f"FROM ({_movement_sums(new)} UNION ALL {_movement_sums(current, '-')}) AS d "
            "GROUP BY currency, month",
            params,
        )
        sums = ", ".join(f"coalesce(t.{c}, 0) + d.{c} AS {c}" for c in _TOTAL_COLUMNS[2:])
        wh.execute(
            f"CREATE TEMPORARY TABLE {merged} AS SELECT d.currency, d.month, {sums} "
            f"FROM {delta} AS d LEFT JOIN revops.nrr_monthly_total AS t "
            "ON t.currency = d.currency AND t.month = d.month"
        )
        wh.execute(
            f"DELETE FROM revops.nrr_monthly_total AS t USING {merged} AS d "
            "WHERE t.currency = d.currency AND t.month = d.month"
        )
        wh.execute(
            f"INSERT INTO revops.nrr_monthly_total ({names}) "
            f"SELECT {names} FROM {merged} WHERE movements <> 0"
        )
    finally:
        for temp in (delta, merged):
            wh.execute(f"DROP TABLE IF EXISTS {temp}")


def refresh_nrr(wh: Warehouse, customers: KeySet) -> None:
    """Re-derive MRR and movements of ``customers``, and the NRR mart.

    The mart's sums per (currency, month) are kept in ``nrr_monthly_total``: an incremental
    run adds the differences of the movement rows it rewrote, so its cost follows the
    customers it touched, not every customer of the months they reach."""
    cond, params = in_keys("customer_id", customers)
    write_changed(wh, "mrr_customer_monthly", "mrr_customer.sql", cond, params)
    if customers is None:
        write_changed(wh, "nrr_customer_movement", "nrr_movement.sql", cond, params)
        _rebuild_nrr_totals(wh)
    else:
        if get_state(wh, NRR_TOTALS, None) is None:
            _rebuild_nrr_totals(wh)  # from the movements as they were before this run
        write_changed(
            wh,
            "nrr_customer_movement",
            "nrr_movement.sql",
            cond,
            params,
            on_new=lambda new: _add_to_nrr_totals(wh, new, cond, params),
        )
    _write_nrr_mart(wh, full=customers is None)


def _write_nrr_mart(wh: Warehouse, *, full: bool) -> None:
    """Make ``mart_nrr_monthly`` equal its derivation from ``nrr_monthly_total`` (months up
    to the last one with MRR), writing only the rows that differ (the mart has one row per
    currency and month, whatever the number of customers)."""
    mart = "revops.mart_nrr_monthly"
    columns = ", ".join(NRR_MART_COLUMNS)
    derived = _sql("nrr_monthly.sql")
    if full:
        wh.execute(f"DELETE FROM {mart}")
        wh.execute(f"INSERT INTO {mart} ({columns}) {derived}")
        return
    new, stale = "revops_new_mart_nrr_monthly", "revops_stale_mart_nrr_monthly"
    for temp in (new, stale):
        wh.execute(f"DROP TABLE IF EXISTS {temp}")
    try:
        wh.execute(f"CREATE TEMPORARY TABLE {new} AS {derived}")
        wh.execute(
            f"CREATE TEMPORARY TABLE {stale} AS "
            f"SELECT {columns} FROM {mart} EXCEPT SELECT {columns} FROM {new}"
        )
        wh.execute(
            f"DELETE FROM {mart} AS t USING {stale} AS s "
            "WHERE t.month = s.month AND t.currency = s.currency"
        )
        wh.execute(
            f"INSERT INTO {mart} ({columns}) "
            f"SELECT {columns} FROM {new} EXCEPT SELECT {columns} FROM {mart}"
        )
    finally:
        for temp in (new, stale):
            wh.execute(f"DROP TABLE IF EXISTS {temp}")


NRR_MART_COLUMNS = (
    "month",
    "currency",
    "start_mrr",
    "new",
    "expansion",
    "contraction",
    "churn",
    "reactivation",
    "end_mrr",
    "nrr",
    "grr",
)


def refresh_collections_rows(wh: Warehouse, as_of: date, invoices: KeySet) -> None:
    """Replace the ``mart_collections`` rows of ``as_of`` for ``invoices``."""
    cond, params = in_keys("invoice_id", invoices)
    wh.execute(f"DELETE FROM revops.mart_collections WHERE as_of = ? AND {cond}", (as_of, *params))
    wh.execute(_sql("collections.sql").format(scope=cond), (as_of, *params, as_of))
