-- The notification outbox (revops.outputs.outbox).

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
