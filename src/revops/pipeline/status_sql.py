"""SQL of ``revops status`` (DuckDB dialect, compiled per engine; values are parameters)."""

# The seed's delay query, per source and type: average inserted_at - event_ts over the last day.
FRESHNESS = """
SELECT source, type, count(*) AS events,
       avg(epoch(inserted_at) - epoch(event_ts)) AS avg_delay_s,
       max(epoch(inserted_at) - epoch(event_ts)) AS max_delay_s,
       max(inserted_at) AS last_inserted_at
FROM revops.events_raw
WHERE inserted_at >= ?
GROUP BY source, type
ORDER BY source, type
"""

# The seed's failure detection: audit rows whose status says something went wrong.
FAILURES = """
SELECT resource, action, status, count(*) AS n, max("at") AS last_at
FROM revops.audit_events
WHERE "at" >= ? AND status IN ('failed', 'error', 'blocked', 'timed_out', 'retrying',
                               'gave_up', 'rejected')
GROUP BY resource, action, status
ORDER BY last_at DESC
"""

DEAD_LETTERS = """
SELECT source, reason, count(*) AS n, max(received_at) AS last_received_at
FROM revops.dead_letters
WHERE replayed_at IS NULL
GROUP BY source, reason
ORDER BY n DESC, source, reason
"""

# Won -> Paid visibility: for each event that feeds the Won -> Paid mart (opportunity changes,
# paid invoices) landed over the last day, the time from event_ts until the first successful
# revenue transform after it landed; when no such transform is audited, the watermark's last
# move if it covers the event (an upper bound); else now (still not visible).
WON_TO_PAID_VISIBILITY = """
WITH wm AS (
    SELECT max(watermark) AS seq, max(updated_at) AS moved_at
    FROM revops.transform_state WHERE name = ?
), ev AS (
    SELECT event_ts, inserted_at, raw_seq
    FROM revops.events_raw
    WHERE inserted_at >= ?
      AND (type LIKE 'salesforce.opportunity.%'
           OR type IN ('stripe.invoice.paid', 'stripe.invoice.payment_succeeded'))
)
SELECT count(*) AS n,
       avg(epoch(coalesce(
           (SELECT min(a."at") FROM revops.audit_events a
            WHERE a.action = 'transform' AND a.status = 'ok'
              AND (a.resource LIKE 'revenue%' OR a.resource LIKE 'transform%')
              AND a."at" >= ev.inserted_at),
           CASE WHEN ev.raw_seq <= wm.seq THEN wm.moved_at END,
           CAST(? AS TIMESTAMPTZ))) - epoch(ev.inserted_at)) AS avg_s
FROM ev CROSS JOIN wm
"""

# Duplicates that slipped past dedupe: rows landed over the last day with the same source,
# type and payload as another row but a different event_id.
DUPLICATES = """
SELECT count(*) AS n, count(DISTINCT (source, type, payload)) AS distinct_n
FROM revops.events_raw
WHERE inserted_at >= ?
"""

# Missing: what was received over the last day but is not in raw (dead letters not replayed).
MISSING = """
SELECT (SELECT count(*) FROM revops.events_raw WHERE inserted_at >= ?) AS landed,
       (SELECT count(*) FROM revops.dead_letters
        WHERE received_at >= ? AND replayed_at IS NULL) AS dead
"""

REDELIVERIES = """
SELECT detail FROM revops.audit_events
WHERE "at" >= ? AND resource = 'events_raw' AND action = 'land'
"""
