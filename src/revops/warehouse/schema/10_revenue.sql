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

-- ---------------------------------------------------------------------------------------------
-- Columns and tables the incremental transform needs beyond the contract (revops.transform).

-- Which fact columns the event sets (JSON list; NULL = all: a full snapshot), and the second
-- part of the source sequence (CDC sequenceNumber within one commit).
ALTER TABLE revops.stg_opportunity ADD COLUMN IF NOT EXISTS source_subseq BIGINT;
ALTER TABLE revops.stg_opportunity ADD COLUMN IF NOT EXISTS set_fields VARCHAR;
ALTER TABLE revops.stg_invoice ADD COLUMN IF NOT EXISTS set_fields VARCHAR;
ALTER TABLE revops.stg_invoice ADD COLUMN IF NOT EXISTS line_count INTEGER;

-- Invoice lines of each invoice event (service periods and recurrence feed NRR).
CREATE TABLE IF NOT EXISTS revops.stg_invoice_line (
    event_id VARCHAR NOT NULL,
    line_no INTEGER NOT NULL,
    invoice_id VARCHAR NOT NULL,
    line_id VARCHAR,
    amount DECIMAL(38, 6),
    currency VARCHAR,
    price_id VARCHAR,
    is_recurring BOOLEAN,
    recurring_interval VARCHAR,
    interval_count INTEGER,
    period_start TIMESTAMPTZ,
    period_end TIMESTAMPTZ,
    subscription_id VARCHAR,
    proration BOOLEAN,
    PRIMARY KEY (event_id, line_no)
);

-- Each invoice's current lines: the lines of its fact's lines_event_id (what NRR reads, so an
-- incremental run reads the lines of the invoices in its scope, not every event's lines).
CREATE TABLE IF NOT EXISTS revops.fact_invoice_line (
    event_id VARCHAR NOT NULL,
    line_no INTEGER NOT NULL,
    invoice_id VARCHAR NOT NULL,
    line_id VARCHAR,
    amount DECIMAL(38, 6),
    currency VARCHAR,
    price_id VARCHAR,
    is_recurring BOOLEAN,
    recurring_interval VARCHAR,
    interval_count INTEGER,
    period_start TIMESTAMPTZ,
    period_end TIMESTAMPTZ,
    subscription_id VARCHAR,
    proration BOOLEAN,
    PRIMARY KEY (invoice_id, line_no)
);

CREATE TABLE IF NOT EXISTS revops.stg_customer (
    event_id VARCHAR PRIMARY KEY,
    raw_seq BIGINT NOT NULL,
    event_ts TIMESTAMPTZ NOT NULL,
    type VARCHAR NOT NULL,
    customer_id VARCHAR NOT NULL,
    email VARCHAR,
    name VARCHAR,
    account_id VARCHAR,
    is_deleted BOOLEAN
);

CREATE TABLE IF NOT EXISTS revops.stg_price (
    event_id VARCHAR PRIMARY KEY,
    raw_seq BIGINT NOT NULL,
    event_ts TIMESTAMPTZ NOT NULL,
    type VARCHAR NOT NULL,
    price_id VARCHAR NOT NULL,
    currency VARCHAR,
    unit_amount DECIMAL(38, 6),
    price_type VARCHAR,
    recurring_interval VARCHAR,
    interval_count INTEGER,
    product_id VARCHAR,
    is_deleted BOOLEAN
);

ALTER TABLE revops.fact_opportunity ADD COLUMN IF NOT EXISTS last_event_id VARCHAR;
ALTER TABLE revops.fact_billing ADD COLUMN IF NOT EXISTS subscription_id VARCHAR;
ALTER TABLE revops.fact_billing ADD COLUMN IF NOT EXISTS period_start TIMESTAMPTZ;
ALTER TABLE revops.fact_billing ADD COLUMN IF NOT EXISTS period_end TIMESTAMPTZ;
ALTER TABLE revops.fact_billing ADD COLUMN IF NOT EXISTS api_version VARCHAR;
ALTER TABLE revops.fact_billing ADD COLUMN IF NOT EXISTS livemode BOOLEAN;
-- The event whose lines are the invoice's current lines, and the due date collections use
-- (due_date, else the finalization day, else the creation day, in the business time zone).
ALTER TABLE revops.fact_billing ADD COLUMN IF NOT EXISTS lines_event_id VARCHAR;
ALTER TABLE revops.fact_billing ADD COLUMN IF NOT EXISTS collection_due_date DATE;
ALTER TABLE revops.fact_billing ADD COLUMN IF NOT EXISTS last_event_id VARCHAR;

CREATE TABLE IF NOT EXISTS revops.fact_customer (
    customer_id VARCHAR PRIMARY KEY,
    email VARCHAR,
    name VARCHAR,
    account_id VARCHAR,
    is_deleted BOOLEAN,
    updated_at TIMESTAMPTZ
);

CREATE TABLE IF NOT EXISTS revops.fact_price (
    price_id VARCHAR PRIMARY KEY,
    currency VARCHAR,
    unit_amount DECIMAL(38, 6),
    price_type VARCHAR,
    recurring_interval VARCHAR,
    interval_count INTEGER,
    product_id VARCHAR,
    is_deleted BOOLEAN,
    updated_at TIMESTAMPTZ
);

-- The event of the latest snapshot (with updated_at, the sort key an incremental run
-- continues from).
ALTER TABLE revops.fact_customer ADD COLUMN IF NOT EXISTS last_event_id VARCHAR;
ALTER TABLE revops.fact_price ADD COLUMN IF NOT EXISTS last_event_id VARCHAR;

-- Salesforce records to re-fetch: CDC gap events (GAP_*, GAP_OVERFLOW with record id '*')
-- not yet followed by a full snapshot (CREATE / UNDELETE / flat) of the record.
CREATE TABLE IF NOT EXISTS revops.cdc_refetch (
    entity VARCHAR NOT NULL,
    record_id VARCHAR NOT NULL,
    change_type VARCHAR NOT NULL,
    event_id VARCHAR PRIMARY KEY,
    event_ts TIMESTAMPTZ NOT NULL,
    commit_number BIGINT
);

-- Which invoices bill which won opportunity (metadata, else the account fallback).
CREATE TABLE IF NOT EXISTS revops.won_invoice_link (
    opportunity_id VARCHAR NOT NULL,
    invoice_id VARCHAR NOT NULL,
    link_type VARCHAR NOT NULL,
    PRIMARY KEY (opportunity_id, invoice_id)
);

-- Calendar months of the business time zone as UTC instants: [start_utc, end_utc);
-- month_no = year * 12 + month - 1 makes month arithmetic plain integers.
CREATE TABLE IF NOT EXISTS revops.calendar_month (
    month DATE PRIMARY KEY,
    month_no INTEGER NOT NULL,
    start_utc TIMESTAMPTZ NOT NULL,
    end_utc TIMESTAMPTZ NOT NULL,
    timezone VARCHAR NOT NULL
);

-- MRR per customer, currency and month, and each customer-month's NRR movement.
CREATE TABLE IF NOT EXISTS revops.mrr_customer_monthly (
    customer_id VARCHAR NOT NULL,
    currency VARCHAR NOT NULL,
    month DATE NOT NULL,
    month_no INTEGER NOT NULL,
    mrr DECIMAL(38, 6) NOT NULL,
    PRIMARY KEY (customer_id, currency, month)
);

CREATE TABLE IF NOT EXISTS revops.nrr_customer_movement (
    customer_id VARCHAR NOT NULL,
    currency VARCHAR NOT NULL,
    month DATE NOT NULL,
    prev_mrr DECIMAL(38, 6) NOT NULL,
    mrr DECIMAL(38, 6) NOT NULL,
    new DECIMAL(38, 6) NOT NULL,
    expansion DECIMAL(38, 6) NOT NULL,
    contraction DECIMAL(38, 6) NOT NULL,
    churn DECIMAL(38, 6) NOT NULL,
    reactivation DECIMAL(38, 6) NOT NULL,
    retained DECIMAL(38, 6) NOT NULL,
    PRIMARY KEY (customer_id, currency, month)
);

-- Sums of nrr_customer_movement per currency and month (what mart_nrr_monthly derives from):
-- movement rows, the mart's sums, and cohort_mrr = the MRR of customers with prev_mrr > 0 (NRR's
-- numerator). An incremental run adds the differences of the movements it rewrote.
CREATE TABLE IF NOT EXISTS revops.nrr_monthly_total (
    currency VARCHAR NOT NULL,
    month DATE NOT NULL,
    movements BIGINT NOT NULL,
    prev_mrr DECIMAL(38, 6) NOT NULL,
    mrr DECIMAL(38, 6) NOT NULL,
    new DECIMAL(38, 6) NOT NULL,
    expansion DECIMAL(38, 6) NOT NULL,
    contraction DECIMAL(38, 6) NOT NULL,
    churn DECIMAL(38, 6) NOT NULL,
    reactivation DECIMAL(38, 6) NOT NULL,
    retained DECIMAL(38, 6) NOT NULL,
    cohort_mrr DECIMAL(38, 6) NOT NULL,
    PRIMARY KEY (currency, month)
);

-- Lookups by key of the incremental transform (a full scan per run would grow with history).
-- The transform reads events_raw by raw_seq windows past its watermark.
CREATE INDEX IF NOT EXISTS events_raw_raw_seq ON revops.events_raw (raw_seq);
CREATE INDEX IF NOT EXISTS stg_opportunity_key ON revops.stg_opportunity (opportunity_id);
CREATE INDEX IF NOT EXISTS stg_invoice_key ON revops.stg_invoice (invoice_id);
CREATE INDEX IF NOT EXISTS stg_customer_key ON revops.stg_customer (customer_id);
CREATE INDEX IF NOT EXISTS stg_price_key ON revops.stg_price (price_id);
CREATE INDEX IF NOT EXISTS fact_billing_customer ON revops.fact_billing (customer_id);
CREATE INDEX IF NOT EXISTS fact_billing_opportunity ON revops.fact_billing (opportunity_id);
CREATE INDEX IF NOT EXISTS mart_collections_as_of ON revops.mart_collections (as_of);
-- Range joins of service periods to months use these (PostgreSQL would loop over all months).
CREATE INDEX IF NOT EXISTS calendar_month_end ON revops.calendar_month (end_utc);
CREATE INDEX IF NOT EXISTS calendar_month_start ON revops.calendar_month (start_utc);
