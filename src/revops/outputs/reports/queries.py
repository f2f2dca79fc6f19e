"""Every SQL statement the reports read with (DuckDB dialect, ``?`` placeholders).

The adapter compiles them for PostgreSQL. Dates are computed in Python and bound, so no
statement depends on an engine's date arithmetic.
"""

from __future__ import annotations

CHANNEL_KPI = """
SELECT date, period_start, period_end, channel, impressions, clicks, ad_cost, conversions,
       new_customers, total_ltv, period_revenue, cac, avg_ltv, roas, cvr, ctr, ltv_cac_ratio
FROM revops.mart_channel_kpi
WHERE date = ?
ORDER BY roas DESC NULLS LAST, period_revenue DESC NULLS LAST, channel
"""

DAILY_SUMMARY = """
SELECT date, period_start, period_end, total_ad_cost, total_revenue, total_customers,
       overall_cac, overall_roas, avg_cvr, best_channel, best_channel_roas
FROM revops.mart_daily_summary
WHERE date = ?
"""

SPEND_TREND = """
SELECT date, total_ad_cost, total_revenue, overall_roas
FROM revops.mart_daily_summary
WHERE date BETWEEN ? AND ?
ORDER BY date
"""

WON_TO_PAID_LATENCY = """
SELECT opportunity_id, won_to_paid_days
FROM revops.mart_won_to_paid
WHERE won_to_paid_days IS NOT NULL AND won_at < ?
ORDER BY won_to_paid_days
"""

WON_NOT_PAID = """
SELECT w.opportunity_id, w.account_id, o.opportunity_name, o.currency, w.amount, w.won_at,
       w.invoiced_amount, w.paid_amount, w.status
FROM revops.mart_won_to_paid AS w
LEFT JOIN revops.fact_opportunity AS o ON o.opportunity_id = w.opportunity_id
WHERE w.status <> 'paid' AND w.won_at < ?
ORDER BY w.won_at, w.opportunity_id
"""

COLLECTIONS_AS_OF = """
SELECT max(as_of) AS as_of FROM revops.mart_collections WHERE as_of <= ?
"""

COLLECTIONS_BY_BUCKET = """
SELECT bucket, currency, count(*) AS invoices, sum(amount_remaining) AS amount_remaining
FROM revops.mart_collections
WHERE as_of = ?
GROUP BY bucket, currency
ORDER BY currency, bucket
"""

NRR_TREND = """
SELECT month, currency, start_mrr, end_mrr, nrr, grr
FROM revops.mart_nrr_monthly
WHERE month BETWEEN ? AND ?
ORDER BY currency, month
"""

DQ_LATEST_RUN = """
SELECT run_id FROM revops.dq_results
WHERE checked_at < ?
ORDER BY checked_at DESC, run_id DESC
LIMIT 1
"""

DQ_BY_SUITE = """
SELECT suite,
       count(*) AS expectations,
       sum(CASE WHEN success THEN 0 ELSE 1 END) AS failed,
       sum(CASE WHEN NOT success AND severity = 'block' THEN 1 ELSE 0 END) AS failed_block,
       max(checked_at) AS checked_at
FROM revops.dq_results
WHERE run_id = ?
GROUP BY suite
ORDER BY suite
"""

DQ_FAILURES = """
SELECT suite, expectation, "column", severity, observed_value, unexpected_count
FROM revops.dq_results
WHERE run_id = ? AND NOT success
ORDER BY suite, expectation, "column"
"""
