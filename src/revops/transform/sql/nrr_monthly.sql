-- mart_nrr_monthly from the sums of the customers' movements per currency and month
-- (nrr_monthly_total), up to the last month with MRR. Ratios are NULL when start_mrr is 0.
SELECT
    month,
    currency,
    prev_mrr AS start_mrr,
    new,
    expansion,
    contraction,
    churn,
    reactivation,
    mrr AS end_mrr,
    CASE WHEN prev_mrr = 0 THEN NULL
         ELSE CAST(cohort_mrr AS DOUBLE) / CAST(prev_mrr AS DOUBLE) END AS nrr,
    CASE WHEN prev_mrr = 0 THEN NULL
         ELSE CAST(retained AS DOUBLE) / CAST(prev_mrr AS DOUBLE) END AS grr
FROM revops.nrr_monthly_total
WHERE month <= (SELECT max(month) FROM revops.nrr_monthly_total WHERE mrr > 0)
