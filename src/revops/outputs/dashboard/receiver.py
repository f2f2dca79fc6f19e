"""Figures only the running server knows: what its receiver and transform loop measured.

They come from the Prometheus registry of ``revops serve`` (``revops.metrics``), so they cover
this process since it started (one instance, not the fleet: scrape ``/metrics`` of every
instance for that). Without ``revops serve`` installed they are absent.
"""

from __future__ import annotations

from typing import Any


def receiver_figures() -> dict[str, Any] | None:
    """Accepted and duplicate deliveries, bus depth, and receipt → marts latency, or None."""
    try:
        from revops import metrics
    except ImportError:
        return None
    samples: dict[str, float] = {}
    for family in metrics.REGISTRY.collect():
        for sample in family.samples:
            samples[sample.name] = samples.get(sample.name, 0.0) + float(sample.value)
    count = samples.get("revops_receipt_to_mart_seconds_count", 0.0)
    total = samples.get("revops_receipt_to_mart_seconds_sum", 0.0)
    return {
        "accepted": int(samples.get("revops_events_accepted_total", 0.0)),
        "duplicates": int(samples.get("revops_events_duplicate_total", 0.0)),
        "bus_depth": int(samples.get("revops_bus_depth", 0.0)),
        "receipt_to_mart_events": int(count),
        "receipt_to_mart_avg_seconds": total / count if count else None,
    }
