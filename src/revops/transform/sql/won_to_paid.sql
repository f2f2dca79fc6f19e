-- mart_won_to_paid for the opportunities in scope (see KPI.md "Won → Paid").
INSERT INTO revops.mart_won_to_paid (
    opportunity_id, account_id, amount, won_at, first_paid_at, won_to_paid_days,
    invoiced_amount, paid_amount, status
)
WITH linked AS (
    SELECT
        l.opportunity_id,
        count(*) AS invoices,
        count(*) FILTER (WHERE b.status = 'paid') AS paid_invoices,
        sum(coalesce(b.amount_due, 0)) AS invoiced_amount,
        sum(coalesce(b.amount_paid, 0)) AS paid_amount,
        min(b.paid_at) AS first_paid_at
    FROM revops.won_invoice_link AS l
    JOIN revops.fact_billing AS b ON b.invoice_id = l.invoice_id
    WHERE {scope_l}
    GROUP BY l.opportunity_id
)
SELECT
    o.opportunity_id,
    o.account_id,
    o.amount,
    o.won_at,
    k.first_paid_at,
    (epoch(k.first_paid_at) - epoch(o.won_at)) / 86400.0,
    coalesce(k.invoiced_amount, 0),
    coalesce(k.paid_amount, 0),
    CASE
        WHEN k.opportunity_id IS NULL THEN 'not_invoiced'
        WHEN k.paid_invoices = k.invoices THEN 'paid'
        WHEN k.paid_amount > 0 THEN 'partially_paid'
        ELSE 'invoiced'
    END
FROM revops.fact_opportunity AS o
LEFT JOIN linked AS k ON k.opportunity_id = o.opportunity_id
WHERE {scope_o}
  AND o.stage_name = 'Closed Won'
  AND NOT o.is_deleted
  AND o.won_at IS NOT NULL
