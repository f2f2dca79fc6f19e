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
