"""Run ``revops serve`` in the foreground: the main process (warehouse, bus owner, loader,
transforms, notifier, scheduler and dashboard on uvicorn) and, with ``[serve]
receiver_processes`` > 0, the receiver processes that take the public port (see
:mod:`revops.serve.receivers` and :mod:`revops.serve.supervisor`).

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
    from revops.serve.config import serve_config
    from revops.serve.runtime import ServeRuntime
    from revops.serve.supervisor import ReceiverPool

    logging.basicConfig(
        level=log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    # The event loop shares the GIL with the bus writer and the loader: every time it gives the
    # GIL up (hashing a body, a syscall) it waits for the switch interval to get it back.
    # A short interval keeps acknowledgements fast while the loader works.
    sys.setswitchinterval(SWITCH_INTERVAL_S)
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per metrics scrape
    cfg = serve_config(settings)
    host = host or cfg.host
    port = cfg.port if port is None else port
    pool = None
    if cfg.receiver_processes:
        pool = ReceiverPool(settings, host, port, cfg.receiver_processes, log_level)
    try:
        runtime = ServeRuntime(settings, schedule=schedule, receivers=pool)
    except BaseException:
        if pool is not None:
            pool.close()
        raise
    app = create_app(settings, runtime)
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level=log_level,
        access_log=False,
        lifespan="on",
        timeout_graceful_shutdown=10,
        server_header=False,
        date_header=False,
        backlog=2048,
    )
    server = make_server(config, runtime.stop_event, pool)
    if pool is None:  # this process receives the webhooks itself
        from revops.serve.gather import tcp_connections

        runtime.gather.open_connections = tcp_connections(server)
    # uvicorn re-raises a captured signal once it has shut down; with these no-op handlers in
    # place that becomes a no-op and the process exits 0 after its orderly shutdown.
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: None)
    try:
        if pool is None:
            server.run()
        else:
            # The receivers take the public port; this process answers what they relay.
            main_socket = pool.bind_main()
            pool.start()
            log.info("listening on %s:%d with %d receiver processes", host, pool.port, pool.count)
            server.run(sockets=[main_socket])
    finally:
        if pool is not None:
            pool.stop()
        runtime.stop()
        if pool is not None:
            pool.close()


def make_server(config: Any, stop_event: threading.Event, pool: Any = None) -> Any:
    """uvicorn's server, setting ``stop_event`` as soon as a signal asks it to stop: live
    streams (the dashboard's SSE) then close at once instead of holding the graceful shutdown;
    requests still in flight are acknowledged and drained as usual.

    With receiver processes (``pool``) they are stopped first, and this server, which answers
    what they relay, stops once they are gone."""
    import uvicorn

    class Server(uvicorn.Server):
        def handle_exit(self, sig: int, frame: FrameType | None) -> None:
            stop_event.set()
            if pool is None or self.should_exit:
                super().handle_exit(sig, frame)
                return
            parent = super().handle_exit

            def stop_receivers_then_exit() -> None:
                try:
                    pool.stop()
                finally:
                    parent(sig, frame)

            threading.Thread(target=stop_receivers_then_exit, name="revops-stop").start()

    return Server(config)
