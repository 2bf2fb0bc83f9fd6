"""A deterministic engine for fast tests of the layers above the runtime.

It "tokenizes" by whitespace and answers a chat with `You said: <last user message>`
(a completion with the prompt's words reversed), one word per token, honouring
`max_tokens`, `stop`, the context length and the admission gate like a real engine.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator, Sequence

from modelmint.core.errors import ContextLengthExceededError
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
    TextDelta,
    TokenLogprob,
    TopLogprob,
)
from modelmint.runtime.limits import check_inputs_fit
from modelmint.runtime.stops import StopMatcher


class FakeEngine:
    kind = "fake"
    scores_prompts = False

    def __init__(
        self,
        context_length: int = 2048,
        parallel: int = 4,
        max_queue: int = 16,
        token_delay: float = 0.0,
        dimensions: int = 8,
    ) -> None:
        self.context_length = context_length
        self.token_delay = token_delay
        self.dimensions = dimensions
        self.gate = AdmissionGate(parallel, max_queue)
        self._ready = False

    async def start(self) -> None:
        self._ready = True

    async def close(self) -> None:
        self._ready = False

    @property
    def ready(self) -> bool:
        return self._ready

    def stats(self) -> EngineStats:
        return EngineStats(running=self.gate.running, waiting=self.gate.waiting)

    @staticmethod
    def count_tokens(text: str) -> int:
        return len(text.split())

    def prompt_and_reply(self, request: GenerationRequest) -> tuple[str, list[str]]:
        """The prompt as one text and the words it answers (tests may replace it)."""
        if request.messages is not None:
            prompt = "\n".join(str(m.get("content") or "") for m in request.messages)
            last = next((m for m in reversed(request.messages) if m.get("role") == "user"), {})
            reply = ["You", "said:", *str(last.get("content") or "").split()]
        else:
            prompt = request.prompt or ""
            reply = list(reversed(prompt.split())) or ["nothing"]
        return prompt, reply

    def measure(self, request: GenerationRequest) -> Measured:
        prompt_tokens = self.count_tokens(self.prompt_and_reply(request)[0])
        max_tokens = request.params.max_tokens or (self.context_length - prompt_tokens)
        if prompt_tokens + max_tokens > self.context_length:
            raise ContextLengthExceededError(
                f"This model's context length is {self.context_length} tokens; the prompt "
                f"has {prompt_tokens} and max_tokens asks for {max_tokens} more. Shorten "
                "the prompt or lower max_tokens.",
                param="max_tokens",
            )
        return Measured(request, prompt_tokens, max_tokens)

    async def generate(
        self, work: Measured, meter: Meter, reservation: Reservation | None = None
    ) -> AsyncIterator[GenerationEvent]:
        request, max_tokens = work.request, work.max_new_tokens
        _, reply = self.prompt_and_reply(request)
        meter.prompt_tokens = work.prompt_tokens
        async with self.gate.slot(reservation):
            stops = StopMatcher(request.params.stop)
            produced, reason = 0, "length"
            for word in reply[:max_tokens]:
                if self.token_delay:
                    await asyncio.sleep(self.token_delay)
                    meter.compute_seconds += self.token_delay
                produced += 1
                meter.completion_tokens = produced
                piece = word if produced == 1 else " " + word
                text, hit = stops.feed(piece)
                if text:
                    yield TextDelta(text, self._logprobs(piece, request))
                if hit:
                    reason = "stop"
                    break
            else:
                reason = "stop" if len(reply) <= max_tokens else "length"
                tail = stops.flush()
                if tail:
                    yield TextDelta(tail)
            yield Finished(reason, Usage(work.prompt_tokens, produced))

    @staticmethod
    def _logprobs(piece: str, request: GenerationRequest) -> list[TokenLogprob] | None:
        if not request.params.logprobs:
            return None
        alternatives = [(piece, -0.5), ("<other>", -1.5), ("<third>", -2.5)]
        top = [TopLogprob(t, v, list(t.encode())) for t, v in alternatives]
        return [TokenLogprob(piece, -0.5, list(piece.encode()), top[: request.params.top_logprobs])]

    async def count(self, texts: Sequence[str], truncate: bool = False) -> list[int]:
        lengths = [self.count_tokens(text) for text in texts]
        if truncate:
            return [min(n, self.context_length) for n in lengths]
        check_inputs_fit(lengths, self.context_length)
        return lengths

    async def embed(self, texts: Sequence[str], lengths: Sequence[int] | None = None) -> Embeddings:
        vectors = []
        for text in texts:
            digest = hashlib.sha256(text.encode()).digest()
            vectors.append([(b - 128) / 128 for b in digest[: self.dimensions]])
        return Embeddings(vectors, sum(self.count_tokens(t) for t in texts))
