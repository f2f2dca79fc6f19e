"""Hand-computed marts on the golden fixture (both engines).

The fixture (tests/fixtures/*): JPY customers C1 monthly 100,000 (Jan-Mar, 150,000 in Apr:
expansion; basil lines, one price seen, one inferred from the period), C5 annual 1,200,000
from 2025-01-15 (100,000 a month through Dec), C6 50,000 in Jan and Mar (churn in Feb,
reactivation in Mar); USD C2 5,000 prepaid for Feb (opportunity O2, paid two days before won),
C3 1,000 open with 400 paid (O3, partial), C4 a void then a paid one-off invoice (O4 through
the account mapping), C7 an old open JPY invoice, C8 uncollectible, C9 a draft.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from revops.transform import refresh_collections, run_transform

from .conftest import golden_lines, land


def test_won_to_paid_hand_computed(wh, tokyo):
    land(wh, golden_lines())
    run_transform(wh, tokyo)
    rows = {r["opportunity_id"]: r for r in wh.query("SELECT * FROM revops.mart_won_to_paid")}
    assert set(rows) == {"006O1", "006O2", "006O3", "006O4", "006O5", "006xx00000ABCDEF"}
    got = {
        k: (r["status"], r["won_to_paid_days"], r["invoiced_amount"], r["paid_amount"])
        for k, r in rows.items()
    }
    assert got == {
        # won 01-20 03:00Z, fallback via account 001A1 → C1's Feb invoice paid 02-03 00:00Z
        "006O1": ("paid", 13.875, Decimal(100000), Decimal(100000)),
        # prepaid: paid 01-30, won 02-01
        "006O2": ("paid", -2.0, Decimal(5000), Decimal(5000)),
        "006O3": ("partially_paid", None, Decimal(1000), Decimal(400)),
        # the void invoice is not linked; the next one (paid 03-10) is
        "006O4": ("paid", 9.0, Decimal(300), Decimal(300)),
        "006O5": ("not_invoiced", None, Decimal(0), Decimal(0)),
        "006xx00000ABCDEF": ("not_invoiced", None, Decimal(0), Decimal(0)),
    }
    # reopened and won again: keeps the first won_at; the amount of the latest event
    assert rows["006O5"]["won_at"].isoformat().startswith("2025-02-01T00:00:00")
    assert rows["006O5"]["amount"] == Decimal(900000)


def test_nrr_hand_computed(wh, tokyo):
    land(wh, golden_lines())
    run_transform(wh, tokyo)
    rows = wh.query("SELECT * FROM revops.mart_nrr_monthly ORDER BY currency, month")
    got = {
        (r["currency"], r["month"].isoformat()[:7]): (
            r["start_mrr"],
            r["new"],
            r["expansion"],
            r["contraction"],
            r["churn"],
            r["reactivation"],
            r["end_mrr"],
            r["nrr"],
            r["grr"],
        )
        for r in rows
    }
    k = Decimal(1000)
    assert got[("jpy", "2025-01")] == (0, 250 * k, 0, 0, 0, 0, 250 * k, None, None)
    assert got[("jpy", "2025-02")] == (250 * k, 0, 0, 0, 50 * k, 0, 200 * k, 0.8, 0.8)
    assert got[("jpy", "2025-03")] == (200 * k, 0, 0, 0, 0, 50 * k, 250 * k, 1.0, 1.0)
    assert got[("jpy", "2025-04")] == (250 * k, 0, 50 * k, 0, 50 * k, 0, 250 * k, 1.0, 0.8)
    assert got[("jpy", "2025-05")] == (250 * k, 0, 0, 0, 150 * k, 0, 100 * k, 0.4, 0.4)
    assert got[("jpy", "2025-12")] == (100 * k, 0, 0, 0, 0, 0, 100 * k, 1.0, 1.0)
    assert ("jpy", "2026-01") not in got  # the annual period ends 2026-01-15
    assert got[("usd", "2025-02")] == (0, 6 * k, 0, 0, 0, 0, 6 * k, None, None)
    assert got[("usd", "2025-03")] == (6 * k, 0, 0, 0, 6 * k, 0, 0, 0.0, 0.0)
    # the seed's flat invoice (no currency, no lines): amount_due in the month it was paid
    assert got[("", "2025-10")][1] == Decimal(1200000)
    assert len([key for key in got if key[0] == "jpy"]) == 12


def test_collections_as_of_a_date_hand_computed(wh, tokyo):
    land(wh, golden_lines())
    run_transform(wh, tokyo)
    report = refresh_collections(wh, tokyo, as_of=date(2025, 3, 15))
    assert report.marts_refreshed == ["mart_collections"]
    rows = {
        r["invoice_id"]: r
        for r in wh.query(
            "SELECT * FROM revops.mart_collections WHERE as_of = ?", (date(2025, 3, 15),)
        )
    }
    assert "in_C9" not in rows  # drafts are not invoices yet
    assert (
        rows["in_C3"]["days_past_due"],
        rows["in_C3"]["bucket"],
        rows["in_C3"]["amount_remaining"],
    ) == (23, "1-30", Decimal(600))
    assert (rows["in_C7old"]["days_past_due"], rows["in_C7old"]["bucket"]) == (134, "120+")
    assert rows["in_C8"]["collection_status"] == "uncollectible"
    assert rows["in_C4a"]["bucket"] == "void"
    assert rows["in_C2"]["bucket"] == "collected"
    totals = wh.query(
        "SELECT bucket, currency, sum(amount_remaining) AS total FROM revops.mart_collections "
        "WHERE as_of = ? AND collection_status = 'receivable' GROUP BY bucket, currency "
        "ORDER BY bucket",
        (date(2025, 3, 15),),
    )
    assert [(t["bucket"], t["currency"], t["total"]) for t in totals] == [
        ("1-30", "usd", Decimal(600)),
        ("120+", "jpy", Decimal(80000)),
    ]
