"""The ASGI application of ``revops serve`` (FastAPI).

``create_app(settings, runtime)`` mounts the receiver (``POST /webhooks/stripe``,
``/webhooks/salesforce``, ``/events``) and operations (``GET /healthz``, ``/readyz``,
``/metrics``), then lets the dashboard install its routes (``GET /``, ``/api/*``) when it is
available. The app's lifespan starts the runtime's workers and stops them (draining the bus)
at shutdown.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

from fastapi import FastAPI
from starlette.concurrency import run_in_threadpool

from revops.serve import endpoints

if TYPE_CHECKING:
    from revops.config import Settings
    from revops.serve.runtime import ServeRuntime

log = logging.getLogger(__name__)

WEBHOOKS = (
    ("/webhooks/stripe", "stripe", "Stripe webhook events (Stripe-Signature)."),
    ("/webhooks/salesforce", "salesforce", "Salesforce Change Data Capture events."),
    ("/events", "events", "Neutral envelopes: one JSON object or NDJSON."),
)


def create_app(settings: Settings, runtime: ServeRuntime | None = None) -> FastAPI:
    """The server's ASGI app; builds a :class:`ServeRuntime` when none is given."""
    if runtime is None:
        from revops.serve.runtime import ServeRuntime

        runtime = ServeRuntime(settings)
    rt = runtime

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        rt.start()
        try:
            yield
        finally:
            await run_in_threadpool(rt.stop)

    app = FastAPI(
        title="revops", summary="revops serve: receiver, operations, dashboard", lifespan=lifespan
    )
    app.state.runtime = runtime
    for path, source, doc in WEBHOOKS:
        app.add_api_route(
            path,
            endpoints.receiver(runtime, source),
            methods=["POST"],
            summary=doc,
            name=f"receive_{source}",
        )
    app.add_api_route(
        "/healthz", endpoints.healthz(runtime), methods=["GET"], summary="The process is alive."
    )
    app.add_api_route(
        "/readyz",
        endpoints.readyz(runtime),
        methods=["GET"],
        summary="The bus and the warehouse answer.",
    )
    app.add_api_route(
        "/metrics",
        endpoints.metrics_endpoint(runtime),
        methods=["GET"],
        summary="Prometheus metrics.",
    )
    _install_dashboard(app, runtime)
    return app


def _install_dashboard(app: FastAPI, runtime: ServeRuntime) -> None:
    try:
        dashboard = importlib.import_module("revops.outputs.dashboard")
    except ModuleNotFoundError as exc:
        if exc.name == "revops.outputs.dashboard":
            log.info("no dashboard installed (revops.outputs.dashboard)")
            return
        raise
    dashboard.install(app, runtime)
