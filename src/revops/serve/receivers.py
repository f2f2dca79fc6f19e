"""Receiver processes of ``revops serve``: stateless HTTP receivers beside the main process.

The main process owns the warehouse (DuckDB allows one process on its file), the bus, the
loader, transforms, notifier, scheduler and dashboard. The public port's listening socket is
shared by ``[serve] receiver_processes`` receiver processes: each verifies, parses and publishes
webhooks to the SQLite bus itself (its own group commit and WAL flush) and answers once durable,
so receiving uses every core instead of sharing one interpreter lock with the loader. Any other
path (the dashboard, ``/readyz``, ``/metrics``, SSE streams) is relayed to the main process over
a private Unix socket, so users see one port.

Each receiver dies with the main process (``PR_SET_PDEATHSIG``): after a ``kill -9`` of the
server nothing keeps holding the port, and whatever a receiver had not answered was not
acknowledged.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import signal
import socket
import sys
import time
from collections import deque
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from revops import metrics
from revops.audit import AuditEvent
from revops.config import Settings, load_settings

log = logging.getLogger(__name__)
AUDIT_SHIP_S = 0.2  # how often a receiver ships the audit rows of its rejections to the bus
DEAD_LETTER_RECOUNT_S = 1.0
HOP_HEADERS = frozenset(
    {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade", "host"}
)
WORKER_METRICS_PATH = "/_revops/receiver-metrics"


class ReceiverRuntime:
    """What the webhook handlers of a receiver process need: credentials, type filter and the
    bus opened as a publisher. Rejections are counted here and their audit rows ride
    the bus to the main process's loader."""

    def __init__(self, settings: Settings) -> None:
        from revops.ingest.bus import open_bus
        from revops.ingest.receiver import TypeFilter
        from revops.serve.config import bus_config, default_bus_url, serve_config
        from revops.serve.gather import Gatherer
        from revops.serve.runtime import endpoint_credentials

        self.settings = settings
        self.config = serve_config(settings)
        bus_cfg = bus_config(settings)
        self.bus: Any = open_bus(
            bus_cfg.url or default_bus_url(settings.warehouse_url),
            synchronous=bus_cfg.synchronous,
            dedupe_window_hours=bus_cfg.dedupe_window_hours,
            max_group=bus_cfg.max_group,
            role="publisher",
        )
        self.gather = Gatherer(self.bus)  # main() tells it the server's connections
        self.credentials = endpoint_credentials(settings)
        self.accept = TypeFilter(self.config.accepted_types)
        self.rejection_audits: deque[AuditEvent] = deque(maxlen=10_000)
        self._pending_dead_letters = self.bus.pending_dead_letters()
        self._recounted = time.monotonic()

    @property
    def pending_dead_letters(self) -> int:
        """Dead letters waiting on the bus; counted locally, re-read from the bus (at most once
        a second) when the local count reaches the bound, since the loader drains them."""
        limit = self.config.max_pending_dead_letters
        now = time.monotonic()
        if self._pending_dead_letters >= limit and now - self._recounted >= DEAD_LETTER_RECOUNT_S:
            self._recounted = now
            self._pending_dead_letters = self.bus.pending_dead_letters()
        return self._pending_dead_letters

    @pending_dead_letters.setter
    def pending_dead_letters(self, value: int) -> None:
        self._pending_dead_letters = value

    def reject(self, source: str, reason: str, request_id: str | None, status: int) -> None:
        """Count and audit one rejected request (the audit row is shipped to the loader)."""
        metrics.rejected.labels(source, reason).inc()
        self.rejection_audits.append(
            AuditEvent(
                "receiver",
                f"webhook:{source}",
                "receive",
                "rejected",
                request_id,
                None,
                {"reason": reason, "status": status},
            )
        )

    async def ship_audits(self) -> None:
        """Publish the waiting rejection audits as one bus message."""
        from revops.ingest.loader import audit_message

        if not self.rejection_audits:
            return
        batch = [self.rejection_audits.popleft() for _ in range(len(self.rejection_audits))]
        try:
            await self.bus.publish_async([audit_message(batch)])
        except Exception as exc:  # audits of rejections never fail a request
            log.warning("could not ship %d rejection audits: %s", len(batch), exc)


def receiver_app(settings: Settings, main_socket: str) -> Starlette:
    """The ASGI app of one receiver process: webhooks here, everything else relayed to the
    main process at ``main_socket``."""
    import httpx

    from revops.serve import endpoints
    from revops.serve.app import WEBHOOKS

    rt = ReceiverRuntime(settings)
    state: dict[str, Any] = {}

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        state["client"] = httpx.AsyncClient(
            transport=httpx.AsyncHTTPTransport(uds=main_socket),
            base_url="http://revops-main",
            timeout=httpx.Timeout(60.0, read=None),
        )

        async def shipper() -> None:
            while True:
                await asyncio.sleep(AUDIT_SHIP_S)
                await rt.ship_audits()

        task = asyncio.create_task(shipper())
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            await rt.ship_audits()
            await state["client"].aclose()
            rt.bus.close()

    async def relay(request: Request) -> Response:
        client: httpx.AsyncClient = state["client"]
        headers = [(k, v) for k, v in request.headers.items() if k not in HOP_HEADERS]
        body = await request.body()
        upstream = client.build_request(
            request.method,
            request.url.path,
            params=request.url.query or None,
            headers=headers,
            content=body,
        )
        try:
            answer = await client.send(upstream, stream=True)
        except httpx.TransportError:
            return endpoints.json_response(
                503, {"error": "the server is starting or stopping", "reason": "unavailable"}
            )
        out_headers = {k: v for k, v in answer.headers.items() if k.lower() not in HOP_HEADERS}
        return StreamingResponse(
            _relay_body(answer), status_code=answer.status_code, headers=out_headers
        )

    async def own_metrics(request: Request) -> Response:
        body, content_type = metrics.exposition()
        return Response(body, media_type=content_type)

    served: Any = rt  # duck-types the ServeRuntime attributes the handlers use
    routes = [
        Route(path, endpoints.receiver(served, source), methods=["POST"])
        for path, source, _ in WEBHOOKS
    ]
    routes.append(Route("/healthz", endpoints.healthz(served), methods=["GET"]))
    routes.append(Route(WORKER_METRICS_PATH, own_metrics, methods=["GET"]))
    methods = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
    routes.append(Route("/{path:path}", relay, methods=methods))
    app = Starlette(routes=routes, lifespan=lifespan)
    app.state.runtime = rt
    return app


async def _relay_body(answer: Any) -> AsyncIterator[bytes]:
    try:
        async for chunk in answer.aiter_raw():
            yield chunk
    finally:
        await answer.aclose()


# -- the process -------------------------------------------------------------------------


def _die_with_parent(parent: int) -> None:
    """Ask Linux to SIGKILL this process when its parent dies (no-op elsewhere)."""
    if not sys.platform.startswith("linux"):
        return
    import ctypes

    pr_set_pdeathsig = 1
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGKILL)
    if os.getppid() != parent:  # the parent is already gone
        os._exit(1)


def main(argv: list[str] | None = None) -> None:
    """Entry point of a receiver process (started by the main ``revops serve`` process)."""
    import uvicorn

    parser = argparse.ArgumentParser(prog="revops serve receiver")
    parser.add_argument("--fd", type=int, required=True, help="inherited listening socket")
    parser.add_argument("--main-socket", required=True)
    parser.add_argument("--own-socket", required=True)
    parser.add_argument("--parent", type=int, required=True)
    parser.add_argument("--config")
    parser.add_argument("--log-level", default="info")
    args = parser.parse_args(argv)
    _die_with_parent(args.parent)
    # The bus writer and syncer threads wait for the interpreter lock behind the event loop;
    # a short switch interval hands it to them quickly (as in the main process).
    sys.setswitchinterval(0.0005)
    logging.basicConfig(
        level=args.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s[receiver]: %(message)s",
    )
    settings = load_settings(Path(args.config) if args.config else None)
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per relayed request
    public = socket.socket(fileno=args.fd)
    own = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    with contextlib.suppress(FileNotFoundError):
        os.unlink(args.own_socket)
    own.bind(args.own_socket)
    own.listen(64)
    from revops.serve.gather import tcp_connections

    app = receiver_app(settings, args.main_socket)
    config = uvicorn.Config(
        app,
        log_level=args.log_level,
        access_log=False,
        lifespan="on",
        timeout_graceful_shutdown=10,
        server_header=False,
        date_header=False,
    )
    server = uvicorn.Server(config)
    app.state.runtime.gather.open_connections = tcp_connections(server)
    server.run(sockets=[public, own])


if __name__ == "__main__":
    main()
