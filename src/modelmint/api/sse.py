"""Server-sent events for streamed answers: `data: {json}` chunks, then `data: [DONE]`.

sse-starlette watches for the client's disconnect and cancels the stream. The response
closes the service's chunk iterator however it ends (also when it never got to send a
byte), which stops generation at once and lets the service settle the request. An error
after the first byte is sent as one OpenAI-shaped error event.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Callable, Mapping
from typing import Any

from sse_starlette import EventSourceResponse

from modelmint.core.errors import ModelmintError

logger = logging.getLogger(__name__)


def _dump(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"))


def sse_response(
    first: dict[str, Any],
    chunks: AsyncIterator[dict[str, Any]],
    on_close: Callable[[], None],
    headers: Mapping[str, str],
) -> EventSourceResponse:
    """`first`, then the rest of `chunks` (already started: the service's errors that a
    caller can fix came before this response was made)."""

    async def events() -> AsyncIterator[dict[str, str]]:
        try:
            yield {"data": _dump(first)}
            async for chunk in chunks:
                yield {"data": _dump(chunk)}
            yield {"data": "[DONE]"}
        except ModelmintError as exc:
            logger.warning("stream failed: %s", exc.message)
            yield {"data": _dump(exc.to_dict())}
        except Exception:
            # the status line has gone out: the best left is an error event, never a bare cut
            logger.exception("stream failed unexpectedly")
            failure = ModelmintError("The server failed while streaming; it has been logged.")
            yield {"data": _dump(failure.to_dict())}
    return _Closing(events(), chunks, on_close, sep="\n", ping=15, headers=dict(headers))


class _Closing(EventSourceResponse):
    """Closes `chunks` and calls `on_close` when the response ends however it ends: a
    response cancelled before its first byte never starts `events()`, whose own cleanup
    would then never run."""

    def __init__(
        self,
        content: Any,
        chunks: AsyncIterator[dict[str, Any]],
        on_close: Callable[[], None],
        **kwargs: Any,
    ) -> None:
        super().__init__(content, **kwargs)
        self._chunks = chunks
        self._on_close = on_close

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            await self._chunks.aclose()  # type: ignore[attr-defined]
            self._on_close()
