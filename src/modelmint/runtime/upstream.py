"""The `upstream` engine: forwards generation to any OpenAI-compatible server.

vLLM on GPUs, llama.cpp's llama-server, TGI: the request is sent streamed with
`stream_options.include_usage`, its deltas pass straight through and the upstream's usage
is kept. Asked for logprobs, it asks the upstream for them and passes on what comes back
(chat's or the legacy completions' shape). Upstream 4xx answers come back as the
caller's 400; outages as 502.

The client is aiohttp: per proxied request it spends a fifth of the CPU httpx does, and
on a small server the proxy's CPU is what limits requests per second.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import AsyncIterator, Sequence
from typing import Any

import aiohttp

from modelmint.core.errors import InvalidRequestError, UpstreamError
from modelmint.core.types import Usage
from modelmint.runtime.admission import AdmissionGate, Reservation
from modelmint.runtime.engine import (
    Embeddings,
    EngineStats,
    Finished,
    GenerationEvent,
    GenerationRequest,
    Measured,
    Meter,
    SamplingParams,
    TextDelta,
    TokenLogprob,
    TopLogprob,
)

# special tokens and chat framing an upstream may add per message or input
FRAMING_TOKENS = 16

def _sampling_body(params: SamplingParams, chat: bool) -> dict[str, Any]:
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
    if params.logprobs and chat:
        body["logprobs"] = True
        if params.top_logprobs:
            body["top_logprobs"] = params.top_logprobs
    elif params.logprobs:
        body["logprobs"] = params.top_logprobs  # the legacy field: how many alternatives
    return body


def _token(entry: dict[str, Any]) -> tuple[str, list[int]]:
    token = str(entry.get("token", ""))
    return token, list(entry.get("bytes") or token.encode())


def _top(entry: dict[str, Any]) -> TopLogprob:
    token, raw = _token(entry)
    return TopLogprob(token, float(entry["logprob"]), raw)


def chunk_logprobs(choice: dict[str, Any], chat: bool) -> list[TokenLogprob] | None:
    """A streamed choice's logprobs in either of OpenAI's shapes: chat's `content` list, or
    the legacy completions' parallel `tokens` / `token_logprobs` / `top_logprobs`."""
    given = choice.get("logprobs")
    if not given:
        return None
    if chat:
        found = []
        for entry in given.get("content") or []:
            token, raw = _token(entry)
            top = [_top(t) for t in entry.get("top_logprobs") or []]
            found.append(TokenLogprob(token, float(entry["logprob"]), raw, top))
        return found
    tokens = given.get("tokens") or []
    values = given.get("token_logprobs") or [None] * len(tokens)
    tops = given.get("top_logprobs") or [None] * len(tokens)
    return [
        TokenLogprob(
            token, value, list(token.encode()),
            [TopLogprob(t, float(v), list(t.encode())) for t, v in (top or {}).items()],
        )
        for token, value, top in zip(tokens, values, tops, strict=False)
    ]  # fmt: skip


class UpstreamEngine:
    kind = "upstream"
    scores_prompts = False

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
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.model = model
        self.context_length = context_length
        self.gate = AdmissionGate(parallel, max_queue)
        self._headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._session: aiohttp.ClientSession | None = None

    @classmethod
    def from_env_key(cls, base_url: str, model: str, api_key_env: str | None, **kw: Any):
        return cls(base_url, model, api_key=os.environ.get(api_key_env or "") or None, **kw)

    async def start(self) -> None:
        # made here, on the running loop, as aiohttp wants
        self._session = aiohttp.ClientSession(headers=self._headers, timeout=self._timeout)

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    @property
    def ready(self) -> bool:
        return self._session is not None

    def _post(self, path: str, body: dict[str, Any]):
        if self._session is None:
            raise UpstreamError("The upstream engine is not started.")
        return self._session.post(self.base_url + path, json=body)

    def stats(self) -> EngineStats:
        return EngineStats(running=self.gate.running, waiting=self.gate.waiting)

    def measure(self, request: GenerationRequest) -> Measured:
        """Bounds the upstream's count cannot pass (it tokenizes, not us): no tokenizer
        makes more than one token of a UTF-8 byte, plus framing per message, and no
        prompt or answer is longer than the context."""
        if request.messages is not None:
            size = sum(
                len(str(m.get("content") or "").encode()) + FRAMING_TOKENS
                for m in request.messages
            )
        else:
            size = len((request.prompt or "").encode())
        prompt_tokens = min(size + FRAMING_TOKENS, self.context_length)
        return Measured(request, prompt_tokens, request.params.max_tokens or self.context_length)

    async def count(self, texts: Sequence[str], truncate: bool = False) -> list[int]:
        """Bounds, as in `measure`: a token per UTF-8 byte and a few special ones (capped
        at the context: an upstream refuses what does not fit, whatever `truncate` says)."""
        return [min(len(text.encode()) + FRAMING_TOKENS, self.context_length) for text in texts]

    async def generate(
        self, work: Measured, meter: Meter, reservation: Reservation | None = None
    ) -> AsyncIterator[GenerationEvent]:
        request = work.request
        chat = request.messages is not None
        body = {"model": self.model, "stream": True, "stream_options": {"include_usage": True}}
        body |= _sampling_body(request.params, chat)
        # an estimate until the upstream's usage says (a cut-off stream pays for its
        # prompt): about a token per 3 bytes, a third of the bound held
        meter.prompt_tokens = max(1, work.prompt_tokens // 3)
        if chat:
            body["messages"] = [dict(message) for message in request.messages or ()]
        else:
            body["prompt"] = request.prompt
        path = "/chat/completions" if chat else "/completions"
        async with self.gate.slot(reservation):
            started = time.perf_counter()
            try:
                async for event in self._stream(path, body, chat, meter):
                    yield event
            finally:
                # the upstream's hardware is shared by `parallel` requests at once
                elapsed = time.perf_counter() - started
                meter.compute_seconds = elapsed / self.gate.slots

    async def _stream(
        self, path: str, body: dict, chat: bool, meter: Meter
    ) -> AsyncIterator[GenerationEvent]:
        usage, reason, pieces = None, "stop", 0
        try:
            async with self._post(path, body) as response:
                await _raise_for_status(response)
                async for raw in response.content:
                    if not raw.startswith(b"data:"):
                        continue
                    data = raw[5:].strip().decode()
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
                        logprobs = chunk_logprobs(choice, chat)
                        # a token inside a UTF-8 character may come as "" with its logprob
                        if text or logprobs:
                            pieces += 1
                            meter.completion_tokens = pieces
                            yield TextDelta(text or "", logprobs)
                        if choice.get("finish_reason"):
                            reason = "length" if choice["finish_reason"] == "length" else "stop"
        except (TimeoutError, aiohttp.ClientError) as exc:
            raise UpstreamError(f"The upstream server at {self.base_url} failed: {exc!r}") from exc
        prompt_tokens = (usage or {}).get("prompt_tokens", 0)
        completion_tokens = (usage or {}).get("completion_tokens", pieces)
        meter.prompt_tokens, meter.completion_tokens = prompt_tokens, completion_tokens
        yield Finished(reason, Usage(prompt_tokens, completion_tokens))

    async def embed(self, texts: Sequence[str], lengths: Sequence[int] | None = None) -> Embeddings:
        body = {"model": self.model, "input": list(texts)}
        try:
            async with self._post("/embeddings", body) as response:
                await _raise_for_status(response)
                payload = await response.json(content_type=None)
        except (TimeoutError, aiohttp.ClientError) as exc:
            raise UpstreamError(f"The upstream server at {self.base_url} failed: {exc!r}") from exc
        vectors = [item["embedding"] for item in sorted(payload["data"], key=lambda d: d["index"])]
        return Embeddings(vectors, payload.get("usage", {}).get("prompt_tokens", 0))


async def _raise_for_status(response: aiohttp.ClientResponse) -> None:
    if response.status < 400:
        return
    text = await response.text(errors="replace")
    try:
        message = json.loads(text)["error"]["message"]
    except (ValueError, KeyError, TypeError):
        message = text[:500]
    if 400 <= response.status < 500:
        raise InvalidRequestError(f"The upstream server refused the request: {message}")
    raise UpstreamError(f"The upstream server answered {response.status}: {message}")
