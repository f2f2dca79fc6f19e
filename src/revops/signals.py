"""In-process signals between components of one ``revops serve`` process.

The loader emits ``events_landed`` after a micro-batch commits and the transform loop emits
``marts_refreshed``; the dashboard's live feed subscribes. A failing subscriber is logged and
never affects the emitter.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

log = logging.getLogger(__name__)

Subscriber = Callable[[str, dict[str, Any]], None]

EVENTS_LANDED = "events_landed"
MARTS_REFRESHED = "marts_refreshed"
PIPELINE_RUN = "pipeline_run"

_subscribers: dict[str, list[Subscriber]] = {}
_lock = threading.Lock()


def subscribe(topic: str, fn: Subscriber) -> Callable[[], None]:
    """Call ``fn(topic, data)`` on every emit of ``topic``; returns an unsubscribe function."""
    with _lock:
        _subscribers.setdefault(topic, []).append(fn)

    def unsubscribe() -> None:
        with _lock:
            if fn in _subscribers.get(topic, []):
                _subscribers[topic].remove(fn)

    return unsubscribe


def emit(topic: str, **data: Any) -> None:
    """Deliver ``data`` to the subscribers of ``topic`` (synchronously, errors contained)."""
    with _lock:
        targets = list(_subscribers.get(topic, []))
    for fn in targets:
        try:
            fn(topic, data)
        except Exception:
            log.exception("signal subscriber failed for %s", topic)
