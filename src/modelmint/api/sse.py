"""Server-sent events for streamed answers: `data: {json}` chunks, then `data: [DONE]`;
or, as the Responses API streams, each chunk named by its `type` (`event: response.created`)
and no `[DONE]`.

sse-starlette watches for the client's disconnect and cancels the stream. The response
closes the service's chunk iterator however it ends (also when it never got to send a
byte), which stops generation at once and lets the service settle the request. An error
after the first byte is sent as one OpenAI-shaped error event. `event_stream` documents
such a stream in OpenAPI.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Callable, Mapping
from typing import Any

from pydantic import BaseModel
from sse_starlette import EventSourceResponse

from modelmint.core.errors import ModelmintError
from modelmint.services.responses import ErrorResponse

logger = logging.getLogger(__name__)


def _dump(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"))


def sse_response(
    first: dict[str, Any],
    chunks: AsyncIterator[dict[str, Any]],
    on_close: Callable[[], None],
    headers: Mapping[str, str],
    named: bool = False,
) -> EventSourceResponse:
    """`first`, then the rest of `chunks` (already started: the service's errors that a
    caller can fix came before this response was made); `named` events carry their
    chunk's `type` (an error is `event: error`) and end without `[DONE]`."""

    def event(chunk: dict[str, Any], name: str) -> dict[str, str]:
        return {"event": name, "data": _dump(chunk)} if named else {"data": _dump(chunk)}

    async def events() -> AsyncIterator[dict[str, str]]:
        try:
            yield event(first, first.get("type", ""))
            async for chunk in chunks:
                yield event(chunk, chunk.get("type", ""))
            if not named:
                yield {"data": "[DONE]"}
        except ModelmintError as exc:
            logger.warning("stream failed: %s", exc.message)
            yield event(exc.to_dict(), "error")
        except Exception:
            # the status line has gone out: the best left is an error event, never a bare cut
            logger.exception("stream failed unexpectedly")
            failure = ModelmintError("The server failed while streaming; it has been logged.")
            yield event(failure.to_dict(), "error")

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


def event_stream(chunk: type[BaseModel], description: str) -> dict[str, Any]:
    """A `responses=` entry for stream=true: events whose data is a `chunk` as JSON, the
    error body if the stream fails, and `[DONE]` last (OpenAPI 3.2's itemSchema, the form
    FastAPI writes for its own event streams)."""
    data = {
        "anyOf": [
            {"const": "[DONE]"},
            *(
                {
                    "type": "string",
                    "contentMediaType": "application/json",
                    "contentSchema": _inlined(shape),
                }
                for shape in (chunk, ErrorResponse)
            ),
        ]
    }
    item = {"type": "object", "required": ["data"], "properties": {"data": data}}
    return {"description": description, "content": {"text/event-stream": {"itemSchema": item}}}


def _inlined(shape: type[BaseModel]) -> dict[str, Any]:
    """The model's JSON schema with its definitions written in place: a schema inside a
    media type cannot point into the document's components for models not listed there."""
    schema = shape.model_json_schema(mode="serialization")
    definitions = schema.pop("$defs", {})

    def resolve(node: Any) -> Any:
        if isinstance(node, dict):
            reference = node.get("$ref", "")
            if reference.startswith("#/$defs/"):
                return resolve(definitions[reference.removeprefix("#/$defs/")])
            return {key: resolve(value) for key, value in node.items()}
        if isinstance(node, list):
            return [resolve(item) for item in node]
        return node

    return resolve(schema)
