"""ASGI middleware: a request id on every response and log line, and a body size limit.

The size limit is checked against Content-Length up front and again while a chunked
body streams in, so a 5 MB body is refused with 413 before it is held in memory.
"""

from __future__ import annotations

import json
import re
import time

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from modelmint.api.errors import error_body
from modelmint.api.metrics import Metrics
from modelmint.core.logging import request_id_var
from modelmint.services.ids import new_request_id

_SAFE_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")


class BodyTooLarge(HTTPException):
    """An HTTPException so that FastAPI's body parsing lets it through as a 413."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, too_large_message(limit))


def too_large_message(limit: int) -> str:
    return (
        f"The request body is larger than {limit} bytes; send less input per request "
        "(for embeddings, split the list into several requests)."
    )


class RequestContextMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        max_body_bytes: int,
        metrics: Metrics,
        larger_bodies: dict[tuple[str, str], int] | None = None,
    ) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.metrics = metrics
        self.larger_bodies = larger_bodies or {}  # (method, path) -> its own limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        # the id is always ours: it keys the usage ledger, so a client must not choose it
        request_id = new_request_id()
        scope.setdefault("state", {})["request_id"] = request_id
        token = request_id_var.set(request_id)
        started, status = time.perf_counter(), [500]
        headers = [(b"x-request-id", request_id.encode())]
        client_id = self._client_request_id(scope)
        if client_id is not None:
            headers.append((b"x-client-request-id", client_id.encode()))

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]
                message["headers"] = [*message.get("headers", []), *headers]
            await send(message)

        limit = self.larger_bodies.get((scope["method"], scope["path"]), self.max_body_bytes)
        try:
            if self._declared_size(scope) > limit:
                await self._too_large(send_with_id, limit)
                return
            await self.app(scope, self._limited(receive, limit), send_with_id)
        except BodyTooLarge:
            await self._too_large(send_with_id, limit)
        finally:
            route = scope.get("route")
            path = getattr(route, "path", None) or "unmatched"
            self.metrics.observe_http(
                scope["method"], path, status[0], time.perf_counter() - started
            )
            request_id_var.reset(token)

    @staticmethod
    def _client_request_id(scope: Scope) -> str | None:
        """The caller's own id (`X-Client-Request-Id`, as OpenAI's API), echoed if sane."""
        for name, value in scope.get("headers", []):
            if name == b"x-client-request-id":
                candidate = value.decode("latin-1")
                if _SAFE_ID.match(candidate):
                    return candidate
        return None

    @staticmethod
    def _declared_size(scope: Scope) -> int:
        for name, value in scope.get("headers", []):
            if name == b"content-length":
                try:
                    return int(value)
                except ValueError:
                    return 0
        return 0

    @staticmethod
    def _limited(receive: Receive, limit: int) -> Receive:
        seen = 0

        async def wrapped() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise BodyTooLarge(limit)
            return message

        return wrapped

    @staticmethod
    async def _too_large(send: Send, limit: int) -> None:
        body = json.dumps(
            error_body(
                too_large_message(limit),
                "invalid_request_error",
                None,
                "request_too_large",
            )
        ).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})
