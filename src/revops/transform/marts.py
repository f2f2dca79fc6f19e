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
    """Replace the ``mart_won_to_paid`` rows of the opportunities in ``scope``."""
    cond, params = in_keys("opportunity_id", scope)
    wh.execute(f"DELETE FROM revops.mart_won_to_paid WHERE {cond}", params)
    cond_l, params_l = in_keys("l.opportunity_id", scope)
    cond_o, params_o = in_keys("o.opportunity_id", scope)
    wh.execute(
        _sql("won_to_paid.sql").format(scope_l=cond_l, scope_o=cond_o), (*params_l, *params_o)
    )


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
    wh.execute(f"DELETE FROM revops.mrr_customer_monthly WHERE {cond}", params)
    wh.execute(_sql("mrr_customer.sql").format(scope=cond), params)
    wh.execute(f"DELETE FROM revops.nrr_customer_movement WHERE {cond}", params)
    wh.execute(_sql("nrr_movement.sql").format(scope=cond), params)
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
