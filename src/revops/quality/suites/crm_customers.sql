-- CRM customers with their lifetime value, as the seed's extraction computes it: every
-- customer, left-joined to its orders, lifetime_value = the sum of their revenue (0 without).
SELECT
    c.customer_id,
    c.customer_name,
    c.email,
    c.acquisition_date,
    c.acquisition_source,
    c.acquisition_channel,
    COALESCE(SUM(o.revenue), 0) AS lifetime_value,
    COUNT(o.order_id) AS order_count,
    MAX(o.order_date) AS last_order_date
FROM revops.raw_crm_customers AS c
LEFT JOIN revops.raw_crm_orders AS o ON c.customer_id = o.customer_id
GROUP BY c.customer_id, c.customer_name, c.email, c.acquisition_date, c.acquisition_source,
    c.acquisition_channel
