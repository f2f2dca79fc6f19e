"""Prometheus metrics of ``revops serve`` (one registry, served at ``GET /metrics``).

Counters by source and reason for what the receiver saw; gauges read live from the bus; the
loader's batch sizes; transform durations; and the receipt → mart latency histogram.
"""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client import CONTENT_TYPE_LATEST as CONTENT_TYPE
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

REGISTRY = CollectorRegistry(auto_describe=True)

LATENCY_BUCKETS = (
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    0.75,
    1.0,
    1.5,
    2.5,
    5.0,
    10.0,
    30.0,
    60.0,
)

received = Counter(
    "revops_webhooks_received",
    "Requests received, by endpoint source",
    ["source"],
    registry=REGISTRY,
)
accepted = Counter(
    "revops_events_accepted",
    "Events acknowledged (durable on the bus)",
    ["source"],
    registry=REGISTRY,
)
duplicates = Counter(
    "revops_events_duplicate",
    "Events recognised as duplicates at the bus",
    ["source"],
    registry=REGISTRY,
)
ignored = Counter(
    "revops_events_ignored",
    "Events of types not accepted by [serve]",
    ["source"],
    registry=REGISTRY,
)
rejected = Counter(
    "revops_requests_rejected",
    "Requests rejected, by source and reason",
    ["source", "reason"],
    registry=REGISTRY,
)
dead_letters_dropped = Counter(
    "revops_dead_letters_dropped",
    "Rejected bodies not kept because too many were waiting",
    registry=REGISTRY,
)
ack_seconds = Histogram(
    "revops_ack_seconds",
    "Receipt to acknowledgement of a request",
    ["source"],
    buckets=LATENCY_BUCKETS,
    registry=REGISTRY,
)
landed = Counter(
    "revops_loader_events",
    "Events the loader landed, new or duplicate",
    ["result"],
    registry=REGISTRY,
)
loader_failures = Counter(
    "revops_loader_failures", "Loader batches that failed and were retried", registry=REGISTRY
)
batch_size = Histogram(
    "revops_loader_batch_size",
    "Messages per loader micro-batch",
    buckets=(1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000),
    registry=REGISTRY,
)
transform_seconds = Histogram(
    "revops_transform_duration_seconds",
    "Duration of one incremental transform run",
    buckets=LATENCY_BUCKETS,
    registry=REGISTRY,
)
transform_failures = Counter(
    "revops_transform_failures", "Transform runs that failed", registry=REGISTRY
)
receipt_to_mart = Histogram(
    "revops_receipt_to_mart_seconds",
    "Receipt of an event to the end of the transform run that made it visible in the marts",
    buckets=LATENCY_BUCKETS,
    registry=REGISTRY,
)
notifications = Counter(
    "revops_notifications", "Notification deliveries by outcome", ["status"], registry=REGISTRY
)
bus_depth = Gauge("revops_bus_depth", "Messages waiting on the bus", registry=REGISTRY)
loader_lag = Gauge(
    "revops_loader_lag_seconds", "Age of the oldest message waiting on the bus", registry=REGISTRY
)


def bind_gauges(depth: Callable[[], float], lag: Callable[[], float]) -> None:
    """Read the bus gauges from these functions at every scrape."""
    bus_depth.set_function(depth)
    loader_lag.set_function(lag)


def exposition() -> tuple[bytes, str]:
    """The text exposition of every metric and its content type."""
    return generate_latest(REGISTRY), CONTENT_TYPE
