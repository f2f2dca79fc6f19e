"""``GET /api/events``: the live feed as server-sent events.

Each message is one SSE event whose name is the topic (``events_landed``,
``marts_refreshed``, ``pipeline_run``) and whose data is the JSON of
:class:`revops.outputs.live.LiveMessage`. The first event, ``ready``, confirms the
subscription; a comment ping every 15 s keeps proxies from closing an idle stream.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, Depends, Request
from sse_starlette.sse import EventSourceResponse

from revops.outputs.dashboard.context import Dashboard

POLL_SECONDS = 0.5
PING_SECONDS = 15


def stream_router(dash: Dashboard) -> APIRouter:
    """The ``/api/events`` route behind the access check."""
    router = APIRouter(tags=["live"], dependencies=[Depends(dash.access.check)])

    @router.get(
        "/api/events",
        summary="Live updates (server-sent events)",
        response_class=EventSourceResponse,
        responses={
            200: {
                "content": {"text/event-stream": {}},
                "description": "events named by topic; data is JSON",
            }
        },
    )
    async def events(request: Request) -> EventSourceResponse:
        queue, unsubscribe = dash.hub.subscribe()
        return EventSourceResponse(_messages(dash, request, queue, unsubscribe), ping=PING_SECONDS)

    return router


async def _messages(
    dash: Dashboard, request: Request, queue: asyncio.Queue[Any], unsubscribe: Any
) -> AsyncIterator[dict[str, str]]:
    try:
        yield {
            "event": "ready",
            "data": '{"live": "%s"}' % ("redis" if dash.hub.redis_enabled else "in-process"),
        }
        # Poll so a disconnected client or a stopping server ends the stream promptly.
        while not dash.stop_event.is_set():
            try:
                message = await asyncio.wait_for(queue.get(), POLL_SECONDS)
            except TimeoutError:
                if await request.is_disconnected():
                    break
                continue
            yield {"id": message.id, "event": message.topic, "data": message.to_json()}
    finally:
        unsubscribe()
