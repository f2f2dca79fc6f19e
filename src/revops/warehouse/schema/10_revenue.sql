-- Revenue: staging (one typed row per event), latest-state facts and the revenue marts.

CREATE TABLE IF NOT EXISTS revops.stg_opportunity (
    event_id VARCHAR PRIMARY KEY,
    raw_seq BIGINT NOT NULL,
    event_ts TIMESTAMPTZ NOT NULL,
    source_seq BIGINT,
    type VARCHAR NOT NULL,
    change_type VARCHAR NOT NULL,
    changed_fields VARCHAR,
    opportunity_id VARCHAR NOT NULL,
    account_id VARCHAR,
    opportunity_name VARCHAR,
    amount DECIMAL(38, 6),
    currency VARCHAR,
    stage_name VARCHAR,
    close_date DATE,
    is_deleted BOOLEAN
);

CREATE TABLE IF NOT EXISTS revops.stg_invoice (
    event_id VARCHAR PRIMARY KEY,
    raw_seq BIGINT NOT NULL,
    event_ts TIMESTAMPTZ NOT NULL,
    type VARCHAR NOT NULL,
    invoice_id VARCHAR NOT NULL,
    customer_id VARCHAR,
    customer_email VARCHAR,
    currency VARCHAR,
    amount_due DECIMAL(38, 6),
    amount_paid DECIMAL(38, 6),
    amount_remaining DECIMAL(38, 6),
    status VARCHAR,
    due_date DATE,
    created_at TIMESTAMPTZ,
    finalized_at TIMESTAMPTZ,
    paid_at TIMESTAMPTZ,
    voided_at TIMESTAMPTZ,
    period_start TIMESTAMPTZ,
    period_end TIMESTAMPTZ,
    opportunity_id VARCHAR,
    subscription_id VARCHAR,
    api_version VARCHAR,
    livemode BOOLEAN
);

CREATE TABLE IF NOT EXISTS revops.fact_opportunity (
    opportunity_id VARCHAR PRIMARY KEY,
    account_id VARCHAR,
    opportunity_name VARCHAR,
    amount DECIMAL(38, 6),
    currency VARCHAR,
    stage_name VARCHAR,
    close_date DATE,
    is_deleted BOOLEAN,
    won_at TIMESTAMPTZ,
    updated_at TIMESTAMPTZ
);

CREATE TABLE IF NOT EXISTS revops.fact_billing (
    invoice_id VARCHAR PRIMARY KEY,
    customer_id VARCHAR,
    customer_email VARCHAR,
    currency VARCHAR,
    amount_due DECIMAL(38, 6),
    amount_paid DECIMAL(38, 6),
    amount_remaining DECIMAL(38, 6),
    status VARCHAR,
    due_date DATE,
    created_at TIMESTAMPTZ,
    finalized_at TIMESTAMPTZ,
    paid_at TIMESTAMPTZ,
    voided_at TIMESTAMPTZ,
    opportunity_id VARCHAR,
    updated_at TIMESTAMPTZ
);

CREATE TABLE IF NOT EXISTS revops.id_mappings (
    crm_account_id VARCHAR,
    billing_customer_id VARCHAR,
    portal_user_id VARCHAR,
    source VARCHAR NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL
);

CREATE TABLE IF NOT EXISTS revops.mart_won_to_paid (
    opportunity_id VARCHAR PRIMARY KEY,
    account_id VARCHAR,
    amount DECIMAL(38, 6),
    won_at TIMESTAMPTZ,
    first_paid_at TIMESTAMPTZ,
    won_to_paid_days DOUBLE,
    invoiced_amount DECIMAL(38, 6),
    paid_amount DECIMAL(38, 6),
    status VARCHAR
);

CREATE TABLE IF NOT EXISTS revops.mart_collections (
    as_of DATE NOT NULL,
    invoice_id VARCHAR NOT NULL,
    customer_id VARCHAR,
    currency VARCHAR,
    amount_remaining DECIMAL(38, 6),
    due_date DATE,
    days_past_due INTEGER,
    bucket VARCHAR,
    collection_status VARCHAR
);

CREATE TABLE IF NOT EXISTS revops.mart_nrr_monthly (
    month DATE NOT NULL,
    currency VARCHAR NOT NULL,
    start_mrr DECIMAL(38, 6),
    new DECIMAL(38, 6),
    expansion DECIMAL(38, 6),
    contraction DECIMAL(38, 6),
    churn DECIMAL(38, 6),
    reactivation DECIMAL(38, 6),
    end_mrr DECIMAL(38, 6),
    nrr DOUBLE,
    grr DOUBLE
);
