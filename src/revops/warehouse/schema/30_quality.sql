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

-- The expectation's arguments (JSON), how many rows were validated out of how many the batch
-- had (fewer when a large table was sampled), and GX's error when the expectation could not run.
ALTER TABLE revops.dq_results ADD COLUMN IF NOT EXISTS kwargs VARCHAR;
ALTER TABLE revops.dq_results ADD COLUMN IF NOT EXISTS rows_checked BIGINT;
ALTER TABLE revops.dq_results ADD COLUMN IF NOT EXISTS rows_total BIGINT;
ALTER TABLE revops.dq_results ADD COLUMN IF NOT EXISTS error VARCHAR;
