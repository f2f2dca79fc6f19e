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


_peers: Callable[[], list[bytes]] | None = None


def bind_peers(fetch: Callable[[], list[bytes]] | None) -> None:
    """Other processes of the same server (the receiver processes): ``fetch`` returns their
    text expositions, counted in :func:`sample_totals`."""
    global _peers
    _peers = fetch


def sample_totals() -> dict[str, float]:
    """Every sample of this process and its peers summed by name over all labels."""
    totals: dict[str, float] = {}
    for family in REGISTRY.collect():
        for sample in family.samples:
            totals[sample.name] = totals.get(sample.name, 0.0) + float(sample.value)
    for text in _peers() if _peers is not None else []:
        for line in text.decode().splitlines():
            if not line or line.startswith("#"):
                continue
            key, _, value = line.rpartition(" ")
            name = key.split("{", 1)[0]
            if not name.endswith("_created"):
                totals[name] = totals.get(name, 0.0) + float(value)
    return totals


def exposition() -> tuple[bytes, str]:
    """The text exposition of every metric and its content type."""
    return generate_latest(REGISTRY), CONTENT_TYPE


def merge_expositions(texts: list[bytes]) -> bytes:
    """Several processes' text expositions of this registry as one: samples with the same
    name and labels are summed (counters, histograms, and gauges that only one process sets);
    ``*_created`` timestamps are dropped, a sum of them means nothing."""
    headers: dict[str, list[str]] = {}
    samples: dict[str, dict[str, float]] = {}
    for text in texts:
        family = ""
        for line in text.decode().splitlines():
            if line.startswith("# HELP "):
                family = line.split(" ", 3)[2]
                headers.setdefault(family, [])
                samples.setdefault(family, {})
            if line.startswith("#"):
                if line not in headers.setdefault(family, []):
                    headers[family].append(line)
                continue
            key, _, value = line.rpartition(" ")
            if not key or key.split("{", 1)[0].endswith("_created"):
                continue
            into = samples.setdefault(family, {})
            into[key] = into.get(key, 0.0) + float(value)
    from prometheus_client.utils import floatToGoString

    out: list[str] = []
    for family, lines in headers.items():
        out.extend(lines)
        out.extend(
            f"{key} {floatToGoString(value)}" for key, value in samples.get(family, {}).items()
        )
    return ("\n".join(out) + "\n").encode()
