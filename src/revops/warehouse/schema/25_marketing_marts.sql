-- Marketing KPI marts (see KPI definitions); a date's rows are replaced in one transaction.

CREATE TABLE IF NOT EXISTS revops.mart_channel_kpi (
    date DATE NOT NULL,
    period_start DATE NOT NULL,
    period_end DATE NOT NULL,
    channel VARCHAR NOT NULL,
    impressions BIGINT,
    clicks BIGINT,
    ad_cost DECIMAL(38, 6),
    conversions BIGINT,
    new_customers BIGINT,
    total_ltv DECIMAL(38, 6),
    period_revenue DECIMAL(38, 6),
    cac DOUBLE,
    avg_ltv DOUBLE,
    roas DOUBLE,
    cvr DOUBLE,
    ctr DOUBLE,
    ltv_cac_ratio DOUBLE
);

CREATE TABLE IF NOT EXISTS revops.mart_daily_summary (
    date DATE NOT NULL,
    period_start DATE NOT NULL,
    period_end DATE NOT NULL,
    total_ad_cost DECIMAL(38, 6),
    total_revenue DECIMAL(38, 6),
    total_customers BIGINT,
    overall_cac DOUBLE,
    overall_roas DOUBLE,
    avg_cvr DOUBLE,
    best_channel VARCHAR,
    best_channel_roas DOUBLE
);
