"""Server-sent events for streamed answers: `data: {json}` chunks, then `data: [DONE]`.

sse-starlette watches for the client's disconnect and cancels the stream, which closes the
service's generators and so stops generation at once. An error after the first byte is
sent as one OpenAI-shaped error event.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Callable
from typing import Any

from sse_starlette import EventSourceResponse

from modelmint.core.errors import ModelmintError

logger = logging.getLogger(__name__)


def _dump(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"))


def sse_response(
    chunks: AsyncIterator[dict[str, Any]], on_close: Callable[[], None], headers: dict[str, str]
) -> EventSourceResponse:
    async def events() -> AsyncIterator[dict[str, str]]:
        try:
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
        finally:
            await chunks.aclose()  # type: ignore[attr-defined]

    return _Finishing(events(), on_close, sep="\n", ping=15, headers=headers)


class _Finishing(EventSourceResponse):
    """Calls `on_close` when the response ends however it ends: a stream cancelled before
    its first byte never starts `events()`, so its `finally` would never run."""

    def __init__(self, content: Any, on_close: Callable[[], None], **kwargs: Any) -> None:
        super().__init__(content, **kwargs)
        self._on_close = on_close

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            self._on_close()
