"""The `upstream` engine: forwards generation to any OpenAI-compatible server.

vLLM on GPUs, llama.cpp's llama-server, TGI: the request is sent streamed with
`stream_options.include_usage`, its deltas pass straight through and the upstream's usage
is kept. Upstream 4xx answers come back as the caller's 400; outages as 502.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import AsyncIterator, Sequence
from typing import Any

import httpx

from modelmint.core.errors import InvalidRequestError, UpstreamError
from modelmint.core.types import Usage
from modelmint.runtime.admission import AdmissionGate
from modelmint.runtime.engine import (
    Embeddings,
    EngineStats,
    Finished,
    GenerationEvent,
    GenerationRequest,
    Meter,
    SamplingParams,
    TextDelta,
)


def _sampling_body(params: SamplingParams) -> dict[str, Any]:
    body: dict[str, Any] = {
        "temperature": params.temperature,
        "top_p": params.top_p,
        "presence_penalty": params.presence_penalty,
        "frequency_penalty": params.frequency_penalty,
    }
    if params.max_tokens is not None:
        body["max_tokens"] = params.max_tokens
    if params.seed is not None:
        body["seed"] = params.seed
    if params.stop:
        body["stop"] = params.stop
    if params.json_schema is not None:
        body["response_format"] = {
            "type": "json_schema",
            "json_schema": {"name": "response", "schema": params.json_schema, "strict": True},
        }
    elif params.json_object:
        body["response_format"] = {"type": "json_object"}
    return body


class UpstreamEngine:
    kind = "upstream"

    def __init__(
        self,
        base_url: str,
        model: str,
        *,
        api_key: str | None = None,
        context_length: int = 8192,
        parallel: int = 64,
        max_queue: int = 256,
        timeout: float = 600.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.model = model
        self.context_length = context_length
        self.gate = AdmissionGate(parallel, max_queue)
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._client = httpx.AsyncClient(
            base_url=self.base_url, headers=headers, timeout=timeout, transport=transport
        )
        self._ready = False

    @classmethod
    def from_env_key(cls, base_url: str, model: str, api_key_env: str | None, **kw: Any):
        return cls(base_url, model, api_key=os.environ.get(api_key_env or "") or None, **kw)

    async def start(self) -> None:
        self._ready = True

    async def close(self) -> None:
        self._ready = False
        await self._client.aclose()

    @property
    def ready(self) -> bool:
        return self._ready

    def stats(self) -> EngineStats:
        return EngineStats(running=self.gate.running, waiting=self.gate.waiting)

    def measure(self, request: GenerationRequest) -> tuple[int, int]:
        """An estimate (the upstream tokenizes): about 3 characters a token, plus framing."""
        if request.messages is not None:
            chars = sum(len(str(m.get("content") or "")) + 16 for m in request.messages)
        else:
            chars = len(request.prompt or "")
        prompt_tokens = chars // 3 + 1
        asked = request.params.max_tokens
        return prompt_tokens, asked or max(1, self.context_length - prompt_tokens)

    async def generate(self, request: GenerationRequest) -> AsyncIterator[GenerationEvent]:
        chat = request.messages is not None
        body = {"model": self.model, "stream": True, "stream_options": {"include_usage": True}}
        body |= _sampling_body(request.params)
        if chat:
            body["messages"] = request.messages
        else:
            body["prompt"] = request.prompt
        path = "/chat/completions" if chat else "/completions"
        async with self.gate.slot(request.reservation):
            started = time.perf_counter()
            try:
                async for event in self._stream(path, body, chat, request.meter):
                    yield event
            finally:
                # the upstream's hardware is shared by `parallel` requests at once
                elapsed = time.perf_counter() - started
                request.meter.compute_seconds = elapsed / self.gate.slots

    async def _stream(
        self, path: str, body: dict, chat: bool, meter: Meter
    ) -> AsyncIterator[GenerationEvent]:
        usage, reason, pieces = None, "stop", 0
        try:
            async with self._client.stream("POST", path, json=body) as response:
                await _raise_for_status(response)
                async for line in response.aiter_lines():
                    if not line.startswith("data:"):
                        continue
                    data = line[5:].strip()
                    if data == "[DONE]":
                        # read on to the end: a response left unread closes its connection
                        continue
                    chunk = json.loads(data)
                    if chunk.get("usage"):
                        usage = chunk["usage"]
                    for choice in chunk.get("choices") or []:
                        text = (
                            (choice.get("delta") or {}).get("content")
                            if chat
                            else choice.get("text")
                        )
                        if text:
                            pieces += 1
                            meter.completion_tokens = pieces
                            yield TextDelta(text)
                        if choice.get("finish_reason"):
                            reason = "length" if choice["finish_reason"] == "length" else "stop"
        except httpx.HTTPError as exc:
            raise UpstreamError(f"The upstream server at {self.base_url} failed: {exc}") from exc
        prompt_tokens = (usage or {}).get("prompt_tokens", 0)
        completion_tokens = (usage or {}).get("completion_tokens", pieces)
        meter.prompt_tokens, meter.completion_tokens = prompt_tokens, completion_tokens
        yield Finished(reason, Usage(prompt_tokens, completion_tokens))

    async def embed(self, texts: Sequence[str]) -> Embeddings:
        try:
            response = await self._client.post(
                "/embeddings", json={"model": self.model, "input": list(texts)}
            )
        except httpx.HTTPError as exc:
            raise UpstreamError(f"The upstream server at {self.base_url} failed: {exc}") from exc
        await _raise_for_status(response)
        payload = response.json()
        vectors = [item["embedding"] for item in sorted(payload["data"], key=lambda d: d["index"])]
        return Embeddings(vectors, payload.get("usage", {}).get("prompt_tokens", 0))


async def _raise_for_status(response: httpx.Response) -> None:
    if response.status_code < 400:
        return
    await response.aread()
    try:
        message = response.json()["error"]["message"]
    except (ValueError, KeyError, TypeError):
        message = response.text[:500]
    if 400 <= response.status_code < 500:
        raise InvalidRequestError(f"The upstream server refused the request: {message}")
    raise UpstreamError(f"The upstream server answered {response.status_code}: {message}")
