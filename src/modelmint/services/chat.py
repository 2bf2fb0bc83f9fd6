"""The chat use case: `open_chat(pool, metering, context, request)`, streamed or whole.

Turns an OpenAI chat request into engine requests (one per choice), checks the caller may
use the model, and shapes the events into `chat.completion` / `chat.completion.chunk`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from modelmint.core.types import Usage
from modelmint.runtime.engine import Finished, GenerationRequest, TextDelta, TokenLogprob
from modelmint.runtime.registry import ModelSpec
from modelmint.services.choices import Choice, n_choices, sampling_params
from modelmint.services.context import RequestContext
from modelmint.services.generation import Collected, GenerationRun
from modelmint.services.ids import object_id
from modelmint.services.metering import Metering
from modelmint.services.models import Models
from modelmint.services.privacy import RequestPrivacy
from modelmint.services.schemas import ChatCompletionRequest


def chat_logprobs(entries: list[TokenLogprob] | None) -> dict[str, Any] | None:
    if entries is None:
        return None
    return {
        "content": [
            {
                "token": e.token,
                "logprob": e.logprob,
                "bytes": e.bytes,
                "top_logprobs": [
                    {"token": t.token, "logprob": t.logprob, "bytes": t.bytes}
                    for t in e.top_logprobs
                ],
            }
            for e in entries
        ],
        "refusal": None,
    }


def _engine_requests(
    spec: ModelSpec, request: ChatCompletionRequest, request_id: str, privacy: RequestPrivacy
) -> list[GenerationRequest]:
    fmt = request.response_format
    schema = (
        fmt.json_schema.schema_ if fmt and fmt.type == "json_schema" and fmt.json_schema else None
    )
    messages = [message.to_template() for message in request.messages]
    contents = [str(message.get("content") or "") for message in messages]
    seen = privacy.redacted(contents, param="messages", logprobs=bool(request.logprobs))
    if seen is not contents:
        messages = [{**m, "content": c} for m, c in zip(messages, seen, strict=True)]
    params = sampling_params(
        spec,
        request,
        max_tokens=request.token_limit(),
        logprobs=request.logprobs,
        top_logprobs=request.top_logprobs or 0,
        json_schema=schema,
        json_object=bool(fmt and fmt.type == "json_object"),
    )
    base = GenerationRequest(params=params, messages=messages, request_id=request_id)
    return n_choices(base, request.n)


class ChatRun(GenerationRun):
    request: ChatCompletionRequest

    @property
    def id(self) -> str:
        return object_id("chatcmpl", self.request_id)

    def _chunk(self, choices: list[dict], usage: Usage | None = None) -> dict[str, Any]:
        chunk = {
            "id": self.id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.spec.name,
            "system_fingerprint": None,
            "choices": choices,
        }
        if self.include_usage:
            chunk["usage"] = usage.to_dict() if usage else None
        return chunk

    async def chunks(self) -> AsyncIterator[dict[str, Any]]:
        """The `chat.completion.chunk` objects of a streamed answer, usage last."""
        for choice in self.choices:
            yield self._chunk([_delta(choice.index, {"role": "assistant", "content": ""})])
        async for choice, event in self.events():
            if isinstance(event, TextDelta):
                logprobs = chat_logprobs(event.logprobs) if self.request.logprobs else None
                yield self._chunk([_delta(choice.index, {"content": event.text}, logprobs)])
            elif isinstance(event, Finished):
                yield self._chunk([_delta(choice.index, {}, None, event.reason)])
        if self.include_usage:
            yield self._chunk([], self.usage)

    async def response(self) -> dict[str, Any]:
        """The whole `chat.completion` object."""
        collected = await self.collect()
        return {
            "id": self.id,
            "object": "chat.completion",
            "created": self.created,
            "model": self.spec.name,
            "system_fingerprint": None,
            "choices": [self._choice(c, collected) for c in self.choices],
            "usage": self.usage.to_dict(),
        }

    def _choice(self, choice: Choice, collected: Collected) -> dict[str, Any]:
        logprobs = collected.logprobs[choice.index]
        return {
            "index": choice.index,
            "message": {
                "role": "assistant",
                "content": collected.texts[choice.index],
                "refusal": None,
            },
            "logprobs": chat_logprobs(logprobs) if self.request.logprobs else None,
            "finish_reason": choice.finished.reason if choice.finished else "stop",
        }


def _delta(
    index: int, delta: dict, logprobs: dict | None = None, finish: str | None = None
) -> dict:
    return {"index": index, "delta": delta, "logprobs": logprobs, "finish_reason": finish}


async def open_chat(
    models: Models, metering: Metering, context: RequestContext, request: ChatCompletionRequest
) -> ChatRun:
    """Admitted for the worst case; `stream()` or `respond()` runs it."""
    spec, engine = await models.usable(context.account, request.model)
    privacy = RequestPrivacy(context.account.policy)
    requests = _engine_requests(spec, request, context.request_id, privacy)
    return await ChatRun.open(
        metering, engine, spec, context.using(spec.name), request, requests, privacy, request.n
    )
