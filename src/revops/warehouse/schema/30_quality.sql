-- Data-quality results, one row per expectation per run.

CREATE TABLE IF NOT EXISTS revops.dq_results (
    run_id VARCHAR NOT NULL,
    suite VARCHAR NOT NULL,
    expectation VARCHAR NOT NULL,
    "column" VARCHAR,
    severity VARCHAR NOT NULL,
    success BOOLEAN NOT NULL,
    observed_value VARCHAR,
    unexpected_count BIGINT,
    unexpected_percent DOUBLE,
    unexpected_sample VARCHAR,
    checked_at TIMESTAMPTZ NOT NULL
);
