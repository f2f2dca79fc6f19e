"""Which invoices bill which won opportunity (``won_invoice_link``).

An invoice whose metadata names the opportunity is linked to it. A won opportunity with no
such invoice takes, from the billing customers mapped to its account (``id_mappings``, which
includes Stripe customer metadata), its earliest invoice created at or after won_at − 1 day
that no other opportunity has claimed — by metadata, or by an earlier-won opportunity of the
same account (ties by opportunity id). Void, draft and deleted invoices are never linked.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any

from revops.transform.keys import KeySet, in_keys

if TYPE_CHECKING:
    from revops.warehouse.base import Warehouse

LINKABLE = "coalesce(status, '') NOT IN ('void', 'draft', 'deleted')"
FALLBACK_WINDOW = timedelta(days=1)


def _won(wh: Warehouse, scope: KeySet) -> list[dict[str, Any]]:
    cond, params = in_keys("opportunity_id", scope)
    return wh.query(
        "SELECT opportunity_id, account_id, won_at FROM revops.fact_opportunity "
        f"WHERE {cond} AND stage_name = 'Closed Won' AND NOT is_deleted AND won_at IS NOT NULL",
        params,
    )


def _metadata_links(wh: Warehouse, won_ids: list[str]) -> list[tuple[str, str, str]]:
    if not won_ids:
        return []
    rows = wh.query(
        "SELECT opportunity_id, invoice_id FROM revops.fact_billing "
        f"WHERE opportunity_id IN (SELECT unnest(CAST(? AS VARCHAR[]))) AND {LINKABLE}",
        (won_ids,),
    )
    return [(r["opportunity_id"], r["invoice_id"], "metadata") for r in rows]


def _candidates(
    wh: Warehouse, accounts: list[str], scope: KeySet
) -> tuple[dict[str, set[str]], list[dict[str, Any]], set[str]]:
    """(customers per account, unclaimed invoices of those customers, invoices claimed by
    opportunities outside ``scope``)."""
    maps = wh.query(
        "SELECT DISTINCT crm_account_id, billing_customer_id FROM revops.id_mappings "
        "WHERE crm_account_id IN (SELECT unnest(CAST(? AS VARCHAR[]))) "
        "AND billing_customer_id IS NOT NULL",
        (accounts,),
    )
    customers: dict[str, set[str]] = {}
    for m in maps:
        customers.setdefault(m["crm_account_id"], set()).add(m["billing_customer_id"])
    all_customers = sorted({c for cs in customers.values() for c in cs})
    invoices = (
        wh.query(
            "SELECT invoice_id, customer_id, created_at FROM revops.fact_billing "
            "WHERE customer_id IN (SELECT unnest(CAST(? AS VARCHAR[]))) "
            f"AND opportunity_id IS NULL AND created_at IS NOT NULL AND {LINKABLE}",
            (all_customers,),
        )
        if all_customers
        else []
    )
    claimed: set[str] = set()
    if invoices and scope is not None:
        rows = wh.query(
            "SELECT invoice_id FROM revops.won_invoice_link WHERE link_type = 'account' "
            "AND invoice_id IN (SELECT unnest(CAST(? AS VARCHAR[]))) "
            "AND opportunity_id NOT IN (SELECT unnest(CAST(? AS VARCHAR[])))",
            ([i["invoice_id"] for i in invoices], sorted(scope)),
        )
        claimed = {r["invoice_id"] for r in rows}
    return customers, invoices, claimed


def compute_links(wh: Warehouse, scope: KeySet) -> list[tuple[str, str, str]]:
    """Links (opportunity_id, invoice_id, link_type) of the won opportunities in ``scope``."""
    won = _won(wh, scope)
    links = _metadata_links(wh, sorted(w["opportunity_id"] for w in won))
    has_meta = {opp for opp, _, _ in links}
    fallback = sorted(
        (w for w in won if w["opportunity_id"] not in has_meta and w["account_id"]),
        key=lambda w: (w["won_at"], w["opportunity_id"]),
    )
    if not fallback:
        return links
    customers, invoices, claimed = _candidates(
        wh, sorted({w["account_id"] for w in fallback}), scope
    )
    by_customer: dict[str, list[dict[str, Any]]] = {}
    for inv in sorted(invoices, key=lambda i: (i["created_at"], i["invoice_id"])):
        by_customer.setdefault(inv["customer_id"], []).append(inv)
    for opp in fallback:
        floor = opp["won_at"] - FALLBACK_WINDOW
        best = None
        for customer in customers.get(opp["account_id"], ()):
            for inv in by_customer.get(customer, ()):
                if inv["invoice_id"] in claimed or inv["created_at"] < floor:
                    continue
                if best is None or (inv["created_at"], inv["invoice_id"]) < (
                    best["created_at"],
                    best["invoice_id"],
                ):
                    best = inv
                break  # invoices are sorted: the first unclaimed eligible one is the earliest
        if best is not None:
            claimed.add(best["invoice_id"])
            links.append((opp["opportunity_id"], best["invoice_id"], "account"))
    return links


def refresh_links(wh: Warehouse, scope: KeySet) -> None:
    """Make the ``won_invoice_link`` rows of the opportunities in ``scope`` current.

    For a scope, only the opportunities whose links differ are rewritten: on DuckDB a deleted
    row costs at commit (its index entries are removed), and most stay as they were."""
    links = set(compute_links(wh, scope))
    columns = ("opportunity_id", "invoice_id", "link_type")
    if scope is None:
        wh.execute("DELETE FROM revops.won_invoice_link")
        if links:
            wh.insert_rows("revops.won_invoice_link", columns, sorted(links))
        return
    cond, params = in_keys("opportunity_id", scope)
    old = {
        (r["opportunity_id"], r["invoice_id"], r["link_type"])
        for r in wh.query(
            f"SELECT opportunity_id, invoice_id, link_type FROM revops.won_invoice_link "
            f"WHERE {cond}",
            params,
        )
    }
    changed = {link[0] for link in old ^ links}
    if not changed:
        return
    if any(link[0] in changed for link in old):
        cond, params = in_keys("opportunity_id", {o for o, _, _ in old} & changed)
        wh.execute(f"DELETE FROM revops.won_invoice_link WHERE {cond}", params)
    new = sorted(link for link in links if link[0] in changed)
    if new:
        wh.insert_rows("revops.won_invoice_link", columns, new)
