-- mart_nrr_monthly for the (currency, month) keys in scope, up to the last month with
-- MRR (?). Ratios are NULL when start_mrr is 0.
INSERT INTO revops.mart_nrr_monthly (
    month, currency, start_mrr, new, expansion, contraction, churn, reactivation, end_mrr,
    nrr, grr
)
SELECT
    month,
    currency,
    sum(prev_mrr),
    sum(new),
    sum(expansion),
    sum(contraction),
    sum(churn),
    sum(reactivation),
    sum(mrr),
    CASE WHEN sum(prev_mrr) = 0 THEN NULL
         ELSE CAST(sum(CASE WHEN prev_mrr > 0 THEN mrr ELSE 0 END) AS DOUBLE)
              / CAST(sum(prev_mrr) AS DOUBLE) END,
    CASE WHEN sum(prev_mrr) = 0 THEN NULL
         ELSE CAST(sum(retained) AS DOUBLE) / CAST(sum(prev_mrr) AS DOUBLE) END
FROM revops.nrr_customer_movement
WHERE {scope} AND month <= CAST(? AS DATE)
GROUP BY month, currency
