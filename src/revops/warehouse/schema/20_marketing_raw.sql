-- Marketing sources as extracted: each load replaces its own slice (source, date / month).

CREATE TABLE IF NOT EXISTS revops.raw_ads (
    date DATE NOT NULL,
    campaign_id VARCHAR NOT NULL,
    campaign_name VARCHAR,
    channel VARCHAR NOT NULL,
    impressions BIGINT NOT NULL,
    clicks BIGINT NOT NULL,
    cost DECIMAL(38, 6) NOT NULL,
    conversions BIGINT NOT NULL,
    loaded_at TIMESTAMPTZ NOT NULL
);

CREATE TABLE IF NOT EXISTS revops.raw_crm_customers (
    customer_id VARCHAR NOT NULL,
    customer_name VARCHAR,
    email VARCHAR,
    acquisition_date DATE,
    acquisition_source VARCHAR,
    acquisition_channel VARCHAR,
    loaded_at TIMESTAMPTZ NOT NULL
);

CREATE TABLE IF NOT EXISTS revops.raw_crm_orders (
    order_id VARCHAR NOT NULL,
    customer_id VARCHAR,
    order_date DATE,
    revenue DECIMAL(38, 6),
    loaded_at TIMESTAMPTZ NOT NULL
);

CREATE TABLE IF NOT EXISTS revops.raw_sales_orders (
    order_id VARCHAR NOT NULL,
    customer_id VARCHAR NOT NULL,
    order_date DATE,
    revenue DECIMAL(38, 6) NOT NULL,
    product_category VARCHAR,
    month VARCHAR NOT NULL,
    source_file VARCHAR NOT NULL,
    line_no BIGINT NOT NULL,
    loaded_at TIMESTAMPTZ NOT NULL
);

-- On DuckDB raw_sales_orders is a view over raw_sales_orders_rows and the Parquet files of the
-- month slices listed here (revops.warehouse.slices); on PostgreSQL this table stays empty.
CREATE TABLE IF NOT EXISTS revops.sales_slices (
    month VARCHAR NOT NULL,
    file VARCHAR NOT NULL,
    row_count BIGINT NOT NULL,
    PRIMARY KEY (month, file)
);

CREATE TABLE IF NOT EXISTS revops.sales_rejects (
    month VARCHAR NOT NULL,
    file VARCHAR NOT NULL,
    line_no BIGINT NOT NULL,
    raw_line VARCHAR,
    reason VARCHAR NOT NULL,
    rejected_at TIMESTAMPTZ NOT NULL
);

-- A sales load in progress: rows are written here in small committed batches (memory stays
-- bounded on every engine) and moved into raw_sales_orders / sales_rejects in ONE transaction
-- at the end of the run, so a failed run never touches the previous slices. Rows of a run
-- that died are removed by the next run (staged_at older than a day).
CREATE TABLE IF NOT EXISTS revops.sales_stage_orders (
    load_id VARCHAR NOT NULL,
    order_id VARCHAR NOT NULL,
    customer_id VARCHAR NOT NULL,
    order_date DATE,
    revenue DECIMAL(38, 6) NOT NULL,
    product_category VARCHAR,
    month VARCHAR NOT NULL,
    source_file VARCHAR NOT NULL,
    line_no BIGINT NOT NULL,
    loaded_at TIMESTAMPTZ NOT NULL
);

CREATE TABLE IF NOT EXISTS revops.sales_stage_rejects (
    load_id VARCHAR NOT NULL,
    month VARCHAR NOT NULL,
    file VARCHAR NOT NULL,
    line_no BIGINT NOT NULL,
    raw_line VARCHAR,
    reason VARCHAR NOT NULL,
    rejected_at TIMESTAMPTZ NOT NULL
);
