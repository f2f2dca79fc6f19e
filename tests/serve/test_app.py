"""The ASGI app in-process (uvicorn in a thread): OpenAPI, routers, dashboard hook, health."""

from __future__ import annotations

import sys
import threading
import types
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import uvicorn
from fastapi import APIRouter
from serve_harness import STRIPE_SECRET, free_port, stripe_event, stripe_headers, wait_for

from revops.config import Settings
from revops.serve.app import create_app
from revops.serve.runtime import ServeRuntime


@pytest.fixture
def dashboard_stub() -> Iterator[list]:
    """A stand-in ``revops.outputs.dashboard`` recording what ``install`` received."""
    calls: list = []
    module = types.ModuleType("revops.outputs.dashboard")

    def install(app, runtime) -> None:  # type: ignore[no-untyped-def]
        router = APIRouter()

        @router.get("/api/ping")
        def ping() -> dict:
            return {
                "events": runtime.warehouse.query_value("SELECT count(*) FROM revops.events_raw")
            }

        app.include_router(router)
        calls.append((app, runtime))

    module.install = install  # type: ignore[attr-defined]
    sys.modules["revops.outputs.dashboard"] = module
    yield calls
    del sys.modules["revops.outputs.dashboard"]


def test_app_serves_openapi_health_metrics_and_the_dashboard_hook(
    tmp_path: Path,
    duck,
    dashboard_stub: list,  # type: ignore[no-untyped-def]
) -> None:
    settings = Settings(
        data={"bus": {"url": f"sqlite:///{tmp_path}/bus.sqlite3"}, "loader": {"max_wait_ms": 5}},
        env={"REVOPS_STRIPE__WEBHOOK_SECRET": STRIPE_SECRET},
    )
    runtime = ServeRuntime(settings, warehouse=duck, schedule=False)
    app = create_app(settings, runtime)
    assert dashboard_stub and dashboard_stub[0][1] is runtime
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="error"))
    thread = threading.Thread(target=server.run)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: server.started)
        with httpx.Client(base_url=url, timeout=10) as c:
            paths = c.get("/openapi.json").json()["paths"]
            assert {
                "/webhooks/stripe",
                "/webhooks/salesforce",
                "/events",
                "/healthz",
                "/readyz",
                "/metrics",
                "/api/ping",
            } <= paths.keys()
            assert c.get("/healthz").json() == {"status": "ok"}
            ready = c.get("/readyz").json()
            assert (ready["bus"], ready["warehouse"], ready["ready"]) == ("ok", "ok", True)
            body = stripe_event(1)
            assert (
                c.post("/webhooks/stripe", content=body, headers=stripe_headers(body)).json()[
                    "accepted"
                ]
                == 1
            )
            sf = c.post(
                "/webhooks/salesforce", content=b"{}", headers={"Content-Type": "application/json"}
            )
            assert (sf.status_code, sf.json()["reason"]) == (503, "not_configured")
            wait_for(lambda: c.get("/api/ping").json()["events"] == 1)
            metrics = c.get("/metrics")
            assert metrics.headers["content-type"].startswith("text/plain")
            assert "revops_bus_depth" in metrics.text
            assert "revops_loader_lag_seconds" in metrics.text
    finally:
        server.should_exit = True
        thread.join(30)
    assert runtime.stop_event.is_set()  # the lifespan stopped the workers
