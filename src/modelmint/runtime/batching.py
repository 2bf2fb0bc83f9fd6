"""What the batching engines (llama.cpp, transformers) share: one async face over a
scheduler thread that decodes many sequences in one batch.

It renders chat templates, tokenizes a request once (`measure`), refuses prompts that do
not fit, admits generations through a bounded gate and bridges the scheduler thread's
events onto the event loop. A subclass loads its model (`start`), tokenizes text, makes
its sampler and its in-flight sequence.
"""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Sequence
from contextlib import aclosing
from pathlib import Path
from typing import Any

from modelmint.core.errors import InvalidRequestError
from modelmint.runtime.admission import AdmissionGate, Reservation
from modelmint.runtime.bridge import Channel
from modelmint.runtime.chat_template import ChatTemplate
from modelmint.runtime.engine import (
    CHAT_MODELS_DO_NOT_EMBED,
    Embeddings,
    EngineStats,
    GenerationEvent,
    GenerationRequest,
    Measured,
    Meter,
    SamplingParams,
)
from modelmint.runtime.in_flight import InFlight
from modelmint.runtime.limits import max_new_tokens
from modelmint.runtime.step_thread import StepThread
from modelmint.runtime.stops import StopMatcher


class BatchingEngine(ABC):
    kind: str
    scores_prompts = False

    def __init__(
        self,
        path: Path,
        *,
        context_length: int,
        parallel: int,
        max_queue: int,
        threads: int,
        default_system_prompt: str | None,
    ) -> None:
        self.path = path
        self.context_length = context_length
        self.parallel = parallel
        self.threads = threads
        self.default_system_prompt = default_system_prompt
        self.gate = AdmissionGate(parallel, max_queue)
        self.template: ChatTemplate | None = None
        self.scheduler: StepThread | None = None

    @abstractmethod
    async def start(self) -> None:
        """Load the model, its template and its scheduler (started)."""

    async def close(self) -> None:
        if self.scheduler is not None:
            await asyncio.to_thread(self.scheduler.stop)
            self.scheduler = None
        self._unload()

    def _unload(self) -> None:  # noqa: B027 (most engines hold nothing to free)
        """Free what the model holds outside Python's reach, if anything."""

    @property
    def ready(self) -> bool:
        return self.scheduler is not None

    def stats(self) -> EngineStats:
        return EngineStats(running=self.gate.running, waiting=self.gate.waiting)

    @abstractmethod
    def _tokenize(self, text: str, *, special: bool) -> list[int]:
        """`text`'s token ids; `special` adds the model's own (BOS) as a raw prompt needs."""

    @abstractmethod
    def _first_token(self) -> int:
        """The token an empty prompt starts from."""

    def tokenize_request(self, request: GenerationRequest) -> list[int]:
        assert self.template is not None, "the engine is not started"
        if request.messages is not None:
            text, special = self.template.render(request.messages), False
        else:
            text, special = request.prompt or "", True
        return self._tokenize(text, special=special) or [self._first_token()]

    def measure(self, request: GenerationRequest) -> Measured:
        prompt = tuple(self.tokenize_request(request))
        limit = max_new_tokens(self.context_length, len(prompt), request.params.max_tokens)
        return Measured(request, len(prompt), limit, prompt)

    async def generate(
        self, work: Measured, meter: Meter, reservation: Reservation | None = None
    ) -> AsyncIterator[GenerationEvent]:
        scheduler = self.scheduler
        if scheduler is None:
            raise InvalidRequestError("The model is not loaded yet.")
        params = work.request.params
        sampler = await self._sampler(params)
        async with self.gate.slot(reservation):
            sequence = self._sequence(
                sampler,
                prompt=list(work.prompt_ids),
                max_new_tokens=work.max_new_tokens,
                channel=Channel(),
                stops=StopMatcher(params.stop),
                logprobs=params.logprobs,
                top_logprobs=params.top_logprobs,
                prompt_logprobs=params.prompt_logprobs and self.scores_prompts,
                meter=meter,
            )
            async with aclosing(scheduler.stream(sequence)) as events:
                async for event in events:
                    yield event

    @abstractmethod
    async def _sampler(self, params: SamplingParams) -> Any:
        """The sampler for `params`, made before a slot is taken; raises what the caller
        can fix (a grammar this engine cannot run)."""

    @abstractmethod
    def _sequence(self, sampler: Any, **fields: Any) -> InFlight:
        """This engine's in-flight sequence with the shared `fields`."""

    async def count(self, texts: Sequence[str], truncate: bool = False) -> list[int]:
        raise InvalidRequestError(CHAT_MODELS_DO_NOT_EMBED, param="model")

    async def embed(self, texts: Sequence[str], lengths: Sequence[int] | None = None) -> Embeddings:
        raise InvalidRequestError(CHAT_MODELS_DO_NOT_EMBED, param="model")
