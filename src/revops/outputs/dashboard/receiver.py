"""Figures only the running server knows: what its receiver and transform loop measured.

They come from the Prometheus registry of ``revops serve`` (``revops.metrics``), so they cover
this server since it started, its receiver processes included (one instance, not the fleet:
scrape ``/metrics`` of every instance for that). Without ``revops serve`` installed they are absent.
"""

from __future__ import annotations

from typing import Any


def receiver_figures() -> dict[str, Any] | None:
    """Accepted and duplicate deliveries, bus depth, and receipt → marts latency, or None."""
    try:
        from revops import metrics
    except ImportError:
        return None
    # Summed over the server's receiver processes too, which count what they received.
    samples = metrics.sample_totals()
    count = samples.get("revops_receipt_to_mart_seconds_count", 0.0)
    total = samples.get("revops_receipt_to_mart_seconds_sum", 0.0)
    return {
        "accepted": int(samples.get("revops_events_accepted_total", 0.0)),
        "duplicates": int(samples.get("revops_events_duplicate_total", 0.0)),
        "bus_depth": int(samples.get("revops_bus_depth", 0.0)),
        "receipt_to_mart_events": int(count),
        "receipt_to_mart_avg_seconds": total / count if count else None,
    }
