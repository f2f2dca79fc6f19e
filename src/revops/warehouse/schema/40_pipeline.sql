-- Orchestration history and the notification outbox.

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

-- At most one row per key (e.g. rule:event_id, run:kind): enqueueing twice is a no-op.
CREATE TABLE IF NOT EXISTS revops.notifications_outbox (
    key VARCHAR PRIMARY KEY,
    channel VARCHAR NOT NULL,
    kind VARCHAR NOT NULL,
    payload VARCHAR NOT NULL,
    status VARCHAR NOT NULL,
    attempts INTEGER NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    next_attempt_at TIMESTAMPTZ NOT NULL,
    sent_at TIMESTAMPTZ,
    last_error VARCHAR
);
