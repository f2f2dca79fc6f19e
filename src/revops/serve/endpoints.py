"""HTTP handlers of the receiver and of the operations endpoints.

Handlers are thin: read the body within the size limit, let :mod:`revops.ingest.receiver`
authenticate and parse it, publish to the bus and answer only once the bus says the events are
durable. Verification and parsing run inline on the event loop: for a webhook of a few KB they
cost tens of microseconds, less than a hop to a thread pool.
"""

from __future__ import annotations

import itertools
import secrets
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import orjson
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from revops import metrics
from revops.ingest.receiver import (
    JSON_TYPES,
    NDJSON_TYPES,
    Parsed,
    Rejection,
    check_content_type,
    dead_letter_message,
    parse_events,
    parse_salesforce,
    parse_stripe,
    verify_hmac,
    verify_stripe,
)

if TYPE_CHECKING:
    from revops.serve.runtime import ServeRuntime

Handler = Callable[[Request], Awaitable[Response]]

# Request ids: a random prefix per process and a counter; os.urandom per request would give
# up the GIL on every request and wait to get it back behind the loader.
_RID_PREFIX = secrets.token_hex(4)
_rid_counter = itertools.count(1)


def new_request_id() -> str:
    """A request id unique within this process and very likely across processes."""
    return f"{_RID_PREFIX}-{next(_rid_counter):x}"


def json_response(status: int, data: Any, headers: dict[str, str] | None = None) -> Response:
    """A JSON answer serialised with orjson."""
    return Response(
        orjson.dumps(data), status_code=status, media_type="application/json", headers=headers
    )


async def read_body(request: Request, limit: int) -> bytes:
    """The request body, or a 413 :class:`Rejection` as soon as it exceeds ``limit`` bytes."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise Rejection(413, "too_large", f"the body is {declared} bytes; the limit is {limit}")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise Rejection(413, "too_large", f"the body exceeds the limit of {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def _stripe(runtime: ServeRuntime, request: Request, body: bytes, rid: str) -> Parsed:
    check_content_type(request.headers.get("content-type"), JSON_TYPES)
    verify_stripe(
        body,
        request.headers.get("stripe-signature"),
        runtime.credentials["stripe"],
        runtime.config.stripe_tolerance_s,
    )
    return parse_stripe(body, runtime.accept, rid)


def _salesforce(runtime: ServeRuntime, request: Request, body: bytes, rid: str) -> Parsed:
    check_content_type(request.headers.get("content-type"), JSON_TYPES)
    verify_hmac(body, request.headers, runtime.credentials["salesforce"])
    return parse_salesforce(body, runtime.accept, rid)


def _events(runtime: ServeRuntime, request: Request, body: bytes, rid: str) -> Parsed:
    kind = check_content_type(request.headers.get("content-type"), JSON_TYPES + NDJSON_TYPES)
    verify_hmac(body, request.headers, runtime.credentials["events"])
    return parse_events(body, kind, runtime.accept, rid)


PARSERS = {"stripe": _stripe, "salesforce": _salesforce, "events": _events}


def receiver(runtime: ServeRuntime, source: str) -> Handler:
    """The POST handler of one endpoint (``stripe``, ``salesforce`` or ``events``)."""
    parse = PARSERS[source]
    received = metrics.received.labels(source)
    accepted = metrics.accepted.labels(source)
    duplicates = metrics.duplicates.labels(source)
    ignored = metrics.ignored.labels(source)
    ack = metrics.ack_seconds.labels(source)
    limit = runtime.config.max_body_bytes

    async def handle(request: Request) -> Response:
        started = time.perf_counter()
        received.inc()
        rid = request.headers.get("x-request-id") or new_request_id()
        body = b""
        try:
            if not runtime.credentials[source].configured:
                raise Rejection(
                    503, "not_configured", f"{source} webhooks are not configured on this server"
                )
            body = await read_body(request, limit)
            parsed = parse(runtime, request, body, rid)
        except Rejection as rej:
            return await _rejected(runtime, source, rej, body, rid, request)
        if runtime.bus.depth() >= runtime.config.max_bus_depth:
            runtime.reject(source, "backpressure", rid, 503)
            return json_response(
                503,
                {"error": "the bus is full; retry later", "reason": "backpressure"},
                {"Retry-After": "5"},
            )
        flags: list[bool] = []
        if parsed.messages:
            # Notification rules run in the loader once the events are stored, off this path.
            try:
                flags = await runtime.gather.publish(parsed.messages)
            except Exception:  # nothing was acknowledged; the sender retries
                runtime.reject(source, "bus_unavailable", rid, 503)
                return json_response(
                    503,
                    {"error": "the events could not be stored; retry", "reason": "bus_unavailable"},
                )
        new = sum(flags)
        if new:
            accepted.inc(new)
        if new < len(flags):
            duplicates.inc(len(flags) - new)
        if parsed.ignored:
            ignored.inc(parsed.ignored)
        ack.observe(time.perf_counter() - started)
        return json_response(
            200,
            {
                "accepted": new,
                "duplicates": len(flags) - new,
                "event_ids": [m.event_id for m in parsed.messages],
                "ignored": parsed.ignored,
            },
        )

    return handle


async def _rejected(
    runtime: ServeRuntime, source: str, rej: Rejection, body: bytes, rid: str, request: Request
) -> Response:
    """Answer a rejection; an authenticated but unreadable body is kept as a dead letter."""
    runtime.reject(source, rej.reason, rid, rej.status)
    if rej.dead_letter:
        if runtime.pending_dead_letters < runtime.config.max_pending_dead_letters:
            runtime.pending_dead_letters += 1
            letter = dead_letter_message(
                source,
                rej.reason,
                body,
                {
                    "endpoint": request.url.path,
                    "error": rej.message[:500],
                    "content_type": request.headers.get("content-type"),
                },
                rid,
            )
            try:
                await runtime.bus.publish_async([letter])
            except Exception:  # the sender still gets its 400
                metrics.dead_letters_dropped.inc()
        else:
            metrics.dead_letters_dropped.inc()
    return json_response(rej.status, {**rej.body(), "request_id": rid})


def healthz(runtime: ServeRuntime) -> Handler:
    """``GET /healthz``: the process is alive."""

    async def handle(request: Request) -> Response:
        return json_response(200, {"status": "ok"})

    return handle


def readyz(runtime: ServeRuntime) -> Handler:
    """``GET /readyz``: 200 when the bus and the warehouse answer, else 503 with the reasons."""

    async def handle(request: Request) -> Response:
        checks = await run_in_threadpool(runtime.readiness)
        return json_response(200 if checks["ready"] else 503, checks)

    return handle


def metrics_endpoint(runtime: ServeRuntime) -> Handler:
    """``GET /metrics``: the Prometheus text exposition."""

    async def handle(request: Request) -> Response:
        body, content_type = await run_in_threadpool(metrics.exposition)
        pool = getattr(runtime, "receivers", None)
        if pool is not None:  # the receiver processes count what they received
            body = metrics.merge_expositions([body, *await pool.metrics()])
        return Response(body, media_type=content_type)

    return handle
