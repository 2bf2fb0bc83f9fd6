"""Stopping the work of a plain (non-streamed) request whose client has left.

A streamed answer notices a disconnect as it writes (sse-starlette also listens for it).
A JSON answer writes nothing until the end, and the ASGI server does not cancel a handler
whose client went away: unwatched, a request whose client timed out would generate up to
`max_tokens` and be billed in full. `unless_disconnected` runs the work beside a listener
for `http.disconnect` and cancels the work when it arrives; the work then settles what it
produced as `cancelled`.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable
from typing import Any, TypeVar

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

T = TypeVar("T")

# nginx's "client closed request": nobody reads it, but metrics and logs show it
CLIENT_CLOSED_REQUEST = 499


class ClientDisconnected(Exception):
    """The client left before its answer was ready; its work was cancelled."""


async def unless_disconnected(request: Request, work: Awaitable[T]) -> T:
    """`work`'s result, or `ClientDisconnected` once the client has gone (the work is
    cancelled and has finished cancelling by then)."""
    job = asyncio.ensure_future(work)
    watch = asyncio.ensure_future(_disconnected(request))
    try:
        await asyncio.wait({job, watch}, return_when=asyncio.FIRST_COMPLETED)
    finally:  # also when this handler itself is cancelled (shutdown)
        watch.cancel()
        if not job.done():
            job.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await job
    if job.cancelled():
        raise ClientDisconnected
    return job.result()


async def _disconnected(request: Request) -> None:
    """Returns when the client disconnects (the body has been read already)."""
    while (await request.receive())["type"] != "http.disconnect":
        pass


def client_closed() -> Response:
    return Response(status_code=CLIENT_CLOSED_REQUEST)


async def answered(request: Request, work: Awaitable[Any]) -> Response:
    """`work`'s JSON answer, or the nobody-listens status when the client left first."""
    try:
        return JSONResponse(await unless_disconnected(request, work))
    except ClientDisconnected:
        return client_closed()


async def first_of(request: Request, events: AsyncIterator[Any]) -> Any:
    """A stream's first event, read before the response starts (so an error a caller can
    fix gets its status); `ClientDisconnected`, with the stream closed, when the client
    left first."""
    try:
        return await unless_disconnected(request, anext(events))
    except ClientDisconnected:
        await events.aclose()
        raise
