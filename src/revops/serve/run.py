"""Run ``revops serve`` in the foreground: uvicorn on one event loop, workers in threads.

SIGTERM and SIGINT stop accepting connections, let in-flight requests finish, drain the bus
into the warehouse (bounded by ``[serve] shutdown_drain_s``) and return normally, so the
process exits 0. What could not be drained stays durable on the bus for the next start.
"""

from __future__ import annotations

import logging
import signal
import sys
import threading
from types import FrameType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from revops.config import Settings

log = logging.getLogger(__name__)
SWITCH_INTERVAL_S = 0.0005


def serve(
    settings: Settings,
    *,
    host: str | None = None,
    port: int | None = None,
    schedule: bool = True,
    log_level: str = "info",
) -> None:
    """Serve until SIGTERM / SIGINT; raises :class:`revops.errors.RevopsError` when the
    warehouse or the bus cannot be opened (for instance a DuckDB file held elsewhere)."""
    import uvicorn

    from revops.serve.app import create_app
    from revops.serve.runtime import ServeRuntime

    logging.basicConfig(
        level=log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    # The event loop shares the GIL with the bus writer and the loader: every time it gives the
    # GIL up (hashing a body, a syscall) it waits for the switch interval to get it back.
    # A short interval keeps acknowledgements fast while the loader works.
    sys.setswitchinterval(SWITCH_INTERVAL_S)
    runtime = ServeRuntime(settings, schedule=schedule)
    app = create_app(settings, runtime)
    config = uvicorn.Config(
        app,
        host=host or runtime.config.host,
        port=runtime.config.port if port is None else port,
        log_level=log_level,
        access_log=False,
        lifespan="on",
        timeout_graceful_shutdown=10,
        server_header=False,
        date_header=False,
        backlog=2048,
    )
    server = make_server(config, runtime.stop_event)
    # uvicorn re-raises a captured signal once it has shut down; with these no-op handlers in
    # place that becomes a no-op and the process exits 0 after its orderly shutdown.
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: None)
    try:
        server.run()
    finally:
        runtime.stop()


def make_server(config: Any, stop_event: threading.Event) -> Any:
    """uvicorn's server, setting ``stop_event`` as soon as a signal asks it to stop: live
    streams (the dashboard's SSE) then close at once instead of holding the graceful shutdown;
    requests still in flight are acknowledged and drained as usual."""
    import uvicorn

    class Server(uvicorn.Server):
        def handle_exit(self, sig: int, frame: FrameType | None) -> None:
            stop_event.set()
            super().handle_exit(sig, frame)

    return Server(config)
