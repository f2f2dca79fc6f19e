"""The live dashboard of ``revops serve``: pages at ``/``, a JSON API at ``/api/...`` and the
live feed at ``GET /api/events``.

:func:`install` adds everything to a FastAPI app; ``revops serve`` calls it once at start-up.
"""

from __future__ import annotations

import importlib.util
import logging
import threading
from typing import Any

from revops import signals
from revops.outputs.dashboard.access import Access, DashboardSettings
from revops.outputs.dashboard.context import Dashboard
from revops.outputs.live import LiveHub, hub_from_settings

log = logging.getLogger(__name__)

TOPICS = (signals.EVENTS_LANDED, signals.MARTS_REFRESHED, signals.PIPELINE_RUN)
REQUIRES = ("fastapi", "sse_starlette", "jinja2")  # the `dashboard` extra (redis: only if used)
MAX_IDS = 50  # event ids forwarded per message; the count says how many there were


def install(app: Any, runtime: Any) -> None:
    """Add the dashboard to ``app`` and start forwarding ``revops.signals`` to the live hub.

    ``runtime`` provides ``settings``, ``warehouse`` (shared, thread-safe) and ``stop_event``;
    a ``live_hub`` attribute, when present, is used instead of one built from ``[live]``.
    When ``stop_event`` is set the signal subscriptions end, open streams close and the Redis
    listener stops. The hub is exposed as ``app.state.live_hub``. Without the ``dashboard``
    extra installed it logs which one to install and adds nothing, so the receiver still runs.
    """
    missing = [name for name in REQUIRES if importlib.util.find_spec(name) is None]
    if missing:
        log.warning(
            "dashboard not installed: %s missing (pip install 'revops[dashboard]')",
            ", ".join(missing),
        )
        return
    from revops.outputs.dashboard.api import api_router
    from revops.outputs.dashboard.pages import pages_router
    from revops.outputs.dashboard.stream import stream_router

    settings = runtime.settings
    stop_event: threading.Event = getattr(runtime, "stop_event", None) or threading.Event()
    hub: LiveHub = getattr(runtime, "live_hub", None) or hub_from_settings(settings)
    dash = Dashboard(
        warehouse=runtime.warehouse,
        settings=settings.model("dashboard", DashboardSettings),
        access=Access.from_settings(settings),
        hub=hub,
        tz=settings.timezone,
        stop_event=stop_event,
    )
    app.include_router(pages_router(dash))
    app.include_router(stream_router(dash))
    app.include_router(api_router(dash))
    app.state.live_hub = hub
    app.state.dashboard = dash
    unsubscribers = [signals.subscribe(t, _forwarder(hub)) for t in TOPICS]

    def stop_when_asked() -> None:
        stop_event.wait()
        for unsubscribe in unsubscribers:
            unsubscribe()
        hub.close()

    threading.Thread(target=stop_when_asked, name="revops-dashboard-stop", daemon=True).start()


def _forwarder(hub: LiveHub) -> signals.Subscriber:
    def forward(topic: str, data: dict[str, Any]) -> None:
        hub.publish(topic, live_data(data))

    return forward


def live_data(data: dict[str, Any]) -> dict[str, Any]:
    """A signal's data trimmed for the stream: at most :data:`MAX_IDS` ids, lists deduplicated."""
    out: dict[str, Any] = {}
    for key, value in data.items():
        if isinstance(value, (list, tuple, set, frozenset)):
            items = list(dict.fromkeys(str(v) for v in value))
            out[key] = items[:MAX_IDS] if key == "event_ids" else items
        else:
            out[key] = value
    if "event_ids" in data and "count" not in out:
        out["count"] = len(data["event_ids"])
    return out


__all__ = ["install", "live_data"]
