-- MRR per customer, currency and business-time-zone month for the customers in scope
-- (see KPI.md "NRR"). Lines of an invoice's current snapshot count when their service period
-- contains the last instant of the month: period_start < month end <= period_end.
INSERT INTO {target} (customer_id, currency, month, month_no, mrr)
WITH invoices AS (
    SELECT invoice_id, customer_id, currency, amount_due, lines_event_id,
           coalesce(period_start, paid_at, created_at) AS flat_at
    FROM revops.fact_billing
    WHERE status IN ('paid', 'open') AND customer_id IS NOT NULL AND {scope}
),
lines AS (
    SELECT
        i.customer_id,
        coalesce(l.currency, i.currency) AS currency,
        l.amount,
        l.period_start,
        l.period_end,
        coalesce(l.is_recurring, p.price_type = 'recurring') AS is_recurring,
        coalesce(l.recurring_interval, p.recurring_interval) AS known_interval,
        coalesce(l.interval_count, p.interval_count) AS known_count,
        (epoch(l.period_end) - epoch(l.period_start)) / 86400.0 AS days
    FROM invoices AS i
    JOIN revops.fact_invoice_line AS l ON l.invoice_id = i.invoice_id
    LEFT JOIN revops.fact_price AS p ON p.price_id = l.price_id
    WHERE l.period_start IS NOT NULL AND l.period_end IS NOT NULL AND l.amount IS NOT NULL
),
intervals AS (
    SELECT
        customer_id, currency, amount, period_start, period_end, is_recurring,
        -- No interval known (basil lines of an unseen price): from the service period.
        coalesce(known_interval, CASE WHEN days BETWEEN 6 AND 8 THEN 'week' ELSE 'month' END)
            AS recurring_interval,
        coalesce(known_count, CASE
            WHEN days BETWEEN 6 AND 8 THEN 1
            WHEN days BETWEEN 27 AND 32 THEN 1
            WHEN days BETWEEN 88 AND 93 THEN 3
            WHEN days BETWEEN 180 AND 185 THEN 6
            WHEN days BETWEEN 363 AND 367 THEN 12
            ELSE greatest(1, CAST(round(days / 30.4375) AS INTEGER))
        END) AS interval_count,
        days
    FROM lines
),
contributions AS (
    SELECT
        x.customer_id, x.currency, c.month, c.month_no,
        CASE x.recurring_interval
            WHEN 'year' THEN x.amount / (12 * x.interval_count)
            WHEN 'week' THEN x.amount * 52 / (12 * x.interval_count)
            WHEN 'day' THEN x.amount * 365 / (12 * x.interval_count)
            ELSE x.amount / x.interval_count
        END AS mrr
    FROM intervals AS x
    JOIN revops.calendar_month AS c
      ON x.period_start < c.end_utc AND x.period_end >= c.end_utc
    WHERE coalesce(x.is_recurring, x.days >= 6)
    UNION ALL
    -- Invoices without line detail (the seed's flat form): amount_due in one month.
    SELECT i.customer_id, i.currency, c.month, c.month_no, i.amount_due
    FROM invoices AS i
    JOIN revops.calendar_month AS c ON i.flat_at >= c.start_utc AND i.flat_at < c.end_utc
    WHERE i.lines_event_id IS NULL AND i.amount_due IS NOT NULL
)
SELECT customer_id, coalesce(currency, ''), month, month_no,
       CAST(sum(mrr) AS DECIMAL(38, 6))
FROM contributions
GROUP BY customer_id, coalesce(currency, ''), month, month_no
HAVING sum(mrr) > 0
