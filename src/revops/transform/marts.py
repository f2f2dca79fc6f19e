"""Facts → the revenue marts, as set-based SQL in the warehouse (``sql/*.sql``).

Each refresh takes a key scope (``None`` = everything) so an incremental run recomputes only
the opportunities, customers, months and invoices its events touched.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from functools import cache
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from revops.transform.keys import KeySet, in_keys
from revops.transform.state import NRR_MAX_MONTH, get_state, set_state
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
    **fmt: str,
) -> None:
    """Make the rows of ``revops.<table>`` that match ``cond`` equal to what ``sql_name``
    computes (an ``INSERT INTO {target}`` over ``{scope}`` and the other placeholders in
    ``fmt``, with ``sql_params``, by default ``params``), writing only the rows that differ.

    An incremental run recomputes every row in its scope, but most of them come out
    unchanged; deleting and re-inserting them all made the commit the largest cost of the
    run (on DuckDB each deleted row's index entries are removed at commit). On a full
    rebuild (``cond`` TRUE) the table is simply rewritten.
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


def _month_keys(wh: Warehouse, customers: KeySet) -> set[str]:
    cond, params = in_keys("customer_id", customers)
    rows = wh.query(
        f"SELECT DISTINCT currency, month FROM revops.nrr_customer_movement WHERE {cond}", params
    )
    return {f"{r['currency']}|{r['month'].isoformat()}" for r in rows}


def refresh_nrr(wh: Warehouse, customers: KeySet) -> None:
    """Re-derive MRR and movements of ``customers`` and the months of the NRR mart they touch."""
    before = _month_keys(wh, customers) if customers is not None else set()
    cond, params = in_keys("customer_id", customers)
    write_changed(wh, "mrr_customer_monthly", "mrr_customer.sql", cond, params)
    write_changed(wh, "nrr_customer_movement", "nrr_movement.sql", cond, params)
    last = wh.query_value("SELECT max(month_no) FROM revops.mrr_customer_monthly")
    last_no = int(last) if last is not None else -1
    last_month = date(last_no // 12, last_no % 12 + 1, 1) if last_no >= 0 else date(1, 1, 1)
    previous = get_state(wh, NRR_MAX_MONTH, -1)
    set_state(wh, NRR_MAX_MONTH, last_no)
    if customers is None:
        scope: KeySet = None
    else:
        scope = before | _month_keys(wh, customers)
        if previous != last_no:
            low, high = sorted((previous or -1, last_no))
            rows = wh.query(
                "SELECT DISTINCT m.currency, m.month FROM revops.nrr_customer_movement AS m "
                "JOIN revops.calendar_month AS c ON c.month = m.month "
                "WHERE c.month_no > ? AND c.month_no <= ?",
                (low, high),
            )
            scope |= {f"{r['currency']}|{r['month'].isoformat()}" for r in rows}
    key = "currency || '|' || CAST(month AS VARCHAR)"
    cond, params = in_keys(key, scope)
    wh.execute(
        f"DELETE FROM revops.mart_nrr_monthly WHERE {cond} OR month > CAST(? AS DATE)",
        (*params, last_month),
    )
    wh.execute(_sql("nrr_monthly.sql").format(scope=cond), (*params, last_month))


def refresh_collections_rows(wh: Warehouse, as_of: date, invoices: KeySet) -> None:
    """Replace the ``mart_collections`` rows of ``as_of`` for ``invoices``."""
    cond, params = in_keys("invoice_id", invoices)
    wh.execute(f"DELETE FROM revops.mart_collections WHERE as_of = ? AND {cond}", (as_of, *params))
    wh.execute(_sql("collections.sql").format(scope=cond), (as_of, *params, as_of))
