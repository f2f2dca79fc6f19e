-- Orchestration history: one row per pipeline run and per task attempt.

CREATE TABLE IF NOT EXISTS revops.pipeline_runs (
    run_id VARCHAR PRIMARY KEY,
    pipeline VARCHAR NOT NULL,
    run_date DATE,
    status VARCHAR NOT NULL,
    started_at TIMESTAMPTZ NOT NULL,
    ended_at TIMESTAMPTZ,
    error VARCHAR,
    detail VARCHAR
);

CREATE TABLE IF NOT EXISTS revops.task_runs (
    run_id VARCHAR NOT NULL,
    task_id VARCHAR NOT NULL,
    attempt INTEGER NOT NULL,
    status VARCHAR NOT NULL,
    started_at TIMESTAMPTZ NOT NULL,
    ended_at TIMESTAMPTZ,
    error VARCHAR
);

-- Added by the orchestration runner (revops.pipeline): who started a run and how, one
-- attempt's timeout and a short JSON summary of what a task returned.
ALTER TABLE revops.pipeline_runs ADD COLUMN IF NOT EXISTS trigger VARCHAR;
ALTER TABLE revops.pipeline_runs ADD COLUMN IF NOT EXISTS actor VARCHAR;
ALTER TABLE revops.task_runs ADD COLUMN IF NOT EXISTS timeout_s DOUBLE;
ALTER TABLE revops.task_runs ADD COLUMN IF NOT EXISTS detail VARCHAR;
