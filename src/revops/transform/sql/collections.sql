-- mart_collections as of business date ? for the invoices in scope (KPI.md
-- "Collections"). Receivable = latest status open with amount_remaining > 0.
INSERT INTO revops.mart_collections (
    as_of, invoice_id, customer_id, currency, amount_remaining, due_date, days_past_due,
    bucket, collection_status
)
WITH base AS (
    SELECT
        invoice_id, customer_id, currency, amount_remaining, collection_due_date,
        CASE
            WHEN status = 'open' AND amount_remaining > 0 THEN 'receivable'
            WHEN status IN ('paid', 'open') THEN 'collected'
            ELSE status
        END AS collection_status,
        CAST(? AS DATE) - collection_due_date AS days
    FROM revops.fact_billing
    WHERE status IN ('open', 'paid', 'void', 'uncollectible') AND {scope}
)
SELECT
    CAST(? AS DATE),
    invoice_id,
    customer_id,
    currency,
    CASE WHEN collection_status IN ('receivable', 'uncollectible') THEN amount_remaining
         ELSE 0 END,
    collection_due_date,
    CASE WHEN collection_status = 'receivable' THEN days END,
    CASE
        WHEN collection_status <> 'receivable' THEN collection_status
        WHEN days <= 0 THEN 'not_yet_due'
        WHEN days <= 30 THEN '1-30'
        WHEN days <= 60 THEN '31-60'
        WHEN days <= 90 THEN '61-90'
        WHEN days <= 120 THEN '91-120'
        ELSE '120+'
    END,
    collection_status
FROM base
