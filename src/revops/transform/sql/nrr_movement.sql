-- Each customer-month's MRR movement for the customers in scope: one row per month
-- with MRR > 0, plus a churn row in the month after a month with MRR that is not followed by
-- one. "Reactivation" is MRR after a gap that followed paid months; "new" is the first month.
INSERT INTO {target} (
    customer_id, currency, month, prev_mrr, mrr, new, expansion, contraction, churn,
    reactivation, retained
)
WITH r AS (
    SELECT
        customer_id, currency, month, month_no, mrr,
        lag(month_no) OVER w AS prev_no,
        lag(mrr) OVER w AS prev_row_mrr,
        lead(month_no) OVER w AS next_no
    FROM revops.mrr_customer_monthly
    WHERE {scope}
    WINDOW w AS (PARTITION BY customer_id, currency ORDER BY month_no)
),
moves AS (
    SELECT
        customer_id, currency, month,
        CASE WHEN prev_no = month_no - 1 THEN prev_row_mrr ELSE 0 END AS prev_mrr,
        mrr,
        CASE WHEN prev_no IS NULL THEN mrr ELSE 0 END AS new,
        CASE WHEN prev_no = month_no - 1 AND mrr > prev_row_mrr
             THEN mrr - prev_row_mrr ELSE 0 END AS expansion,
        CASE WHEN prev_no = month_no - 1 AND mrr < prev_row_mrr
             THEN prev_row_mrr - mrr ELSE 0 END AS contraction,
        0 AS churn,
        CASE WHEN prev_no < month_no - 1 THEN mrr ELSE 0 END AS reactivation,
        CASE WHEN prev_no = month_no - 1 THEN least(mrr, prev_row_mrr) ELSE 0 END AS retained
    FROM r
    UNION ALL
    SELECT r.customer_id, r.currency, c.month, r.mrr, 0, 0, 0, 0, r.mrr, 0, 0
    FROM r
    JOIN revops.calendar_month AS c ON c.month_no = r.month_no + 1
    WHERE r.next_no IS NULL OR r.next_no > r.month_no + 1
)
SELECT customer_id, currency, month, prev_mrr, mrr, new, expansion, contraction, churn,
       reactivation, retained
FROM moves
