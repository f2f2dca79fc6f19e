-- Raw landing, audit and dead letters: the append-only record of everything received.

CREATE SEQUENCE IF NOT EXISTS revops.events_raw_seq;

-- Append-only; event_id is unique forever. raw_seq orders rows by landing and is the
-- watermark incremental transforms read from. payload is the source JSON as text.
CREATE TABLE IF NOT EXISTS revops.events_raw (
    event_id VARCHAR PRIMARY KEY,
    source VARCHAR NOT NULL,
    type VARCHAR NOT NULL,
    event_ts TIMESTAMPTZ NOT NULL,
    payload VARCHAR NOT NULL,
    correlation_id VARCHAR,
    inserted_at TIMESTAMPTZ NOT NULL,
    raw_seq BIGINT NOT NULL
);

CREATE TABLE IF NOT EXISTS revops.audit_events (
    at TIMESTAMPTZ NOT NULL,
    actor VARCHAR NOT NULL,
    resource VARCHAR NOT NULL,
    action VARCHAR NOT NULL,
    status VARCHAR NOT NULL,
    request_id VARCHAR,
    event_id VARCHAR,
    detail VARCHAR
);

CREATE SEQUENCE IF NOT EXISTS revops.dead_letters_id_seq;

CREATE TABLE IF NOT EXISTS revops.dead_letters (
    id BIGINT PRIMARY KEY,
    received_at TIMESTAMPTZ NOT NULL,
    source VARCHAR NOT NULL,
    reason VARCHAR NOT NULL,
    body BLOB,
    detail VARCHAR,
    replayed_at TIMESTAMPTZ
);

-- Watermarks and other small state of incremental work.
CREATE TABLE IF NOT EXISTS revops.transform_state (
    name VARCHAR PRIMARY KEY,
    watermark BIGINT NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL
);
