"""The async face of the llama.cpp engine: prompts in, streamed events out.

It renders chat templates, tokenizes, refuses prompts that do not fit, admits requests
through a bounded gate and bridges the scheduler thread's events onto the event loop.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from collections.abc import Sequence as Seq
from contextlib import aclosing
from pathlib import Path

from modelmint.core.errors import InvalidRequestError
from modelmint.runtime.admission import AdmissionGate
from modelmint.runtime.bridge import Channel
from modelmint.runtime.chat_template import ChatTemplate
from modelmint.runtime.engine import (
    CHAT_MODELS_DO_NOT_EMBED,
    Embeddings,
    EngineStats,
    GenerationEvent,
    GenerationRequest,
    SamplingParams,
)
from modelmint.runtime.limits import max_new_tokens
from modelmint.runtime.llamacpp.model import ContextConfig, LlamaModel
from modelmint.runtime.llamacpp.prompt_cache import PromptCache
from modelmint.runtime.llamacpp.sampling import SamplerChain, grammar_for
from modelmint.runtime.llamacpp.scheduler import Scheduler
from modelmint.runtime.llamacpp.sequence import Sequence
from modelmint.runtime.stops import StopMatcher


class LlamaCppEngine:
    kind = "llamacpp"

    def __init__(
        self,
        path: Path,
        *,
        context_length: int = 2048,
        parallel: int = 4,
        max_queue: int = 64,
        threads: int = 2,
        batch_size: int = 512,
        prefill_chunk: int = 128,
        prompt_cache_mb: int = 256,
        default_system_prompt: str | None = None,
    ) -> None:
        self.path = path
        self.context_length = context_length
        self.parallel = parallel
        self.threads = threads
        self.batch_size = batch_size
        self.prefill_chunk = prefill_chunk
        self.prompt_cache_mb = prompt_cache_mb
        self.default_system_prompt = default_system_prompt
        self.gate = AdmissionGate(parallel, max_queue)
        self.model: LlamaModel | None = None
        self.template: ChatTemplate | None = None
        self.scheduler: Scheduler | None = None

    async def start(self) -> None:
        config = ContextConfig(
            n_ctx=self.context_length * self.parallel,
            n_seq_max=self.parallel,
            n_batch=max(self.batch_size, self.parallel),
            n_threads=self.threads,
        )
        self.model = await asyncio.to_thread(LlamaModel, self.path, config)
        self.template = ChatTemplate(
            self.model.chat_template(),
            bos_token=self.model.token_text(self.model.bos),
            eos_token=self.model.token_text(self.model.eos),
            default_system_prompt=self.default_system_prompt,
        )
        cache = (
            PromptCache(self.model.ctx, self.prompt_cache_mb << 20)
            if self.prompt_cache_mb > 0
            else None
        )
        self.scheduler = Scheduler(self.model, self.parallel, self.prefill_chunk, cache)
        self.scheduler.start()

    async def close(self) -> None:
        if self.scheduler is not None:
            await asyncio.to_thread(self.scheduler.stop)
            self.scheduler = None
        if self.model is not None:
            self.model.close()
            self.model = None

    @property
    def ready(self) -> bool:
        return self.scheduler is not None

    def stats(self) -> EngineStats:
        return EngineStats(running=self.gate.running, waiting=self.gate.waiting)

    def tokenize_request(self, request: GenerationRequest) -> list[int]:
        assert self.model is not None and self.template is not None
        if request.messages is not None:
            text = self.template.render(request.messages)
            tokens = self.model.tokenize(text, add_special=False, parse_special=True)
        else:
            tokens = self.model.tokenize(request.prompt or "", add_special=True, parse_special=True)
        return tokens or [self.model.bos]

    def measure(self, request: GenerationRequest) -> tuple[int, int]:
        if request.prompt_ids is None:
            request.prompt_ids = self.tokenize_request(request)
        prompt_tokens = len(request.prompt_ids)
        return prompt_tokens, max_new_tokens(
            self.context_length, prompt_tokens, request.params.max_tokens
        )

    async def generate(self, request: GenerationRequest) -> AsyncIterator[GenerationEvent]:
        if self.scheduler is None:
            raise InvalidRequestError("The model is not loaded yet.")
        params = request.params
        _, max_new = self.measure(request)
        prompt = request.prompt_ids or []
        sampler = await self._sampler(params)
        async with self.gate.slot(request.reservation):
            sequence = Sequence(
                prompt=prompt,
                max_new_tokens=max_new,
                sampler=sampler,
                channel=Channel(),
                stops=StopMatcher(params.stop),
                logprobs=params.logprobs,
                top_logprobs=params.top_logprobs,
                meter=request.meter,
            )
            async with aclosing(self.scheduler.stream(sequence)) as events:
                async for event in events:
                    yield event

    async def _sampler(self, params: SamplingParams) -> SamplerChain:
        """A grammar is compiled (grammar.py bounds it first) and parsed by llama.cpp on a
        worker thread: both take milliseconds the event loop does not have."""
        assert self.model is not None
        vocab, n_vocab = self.model.vocab, self.model.n_vocab
        if params.json_schema is None and not params.json_object:
            return SamplerChain(vocab, n_vocab, params, None)
        return await asyncio.to_thread(
            lambda: SamplerChain(vocab, n_vocab, params, grammar_for(params))
        )

    async def count(self, texts: Seq[str]) -> list[int]:
        raise InvalidRequestError(CHAT_MODELS_DO_NOT_EMBED, param="model")

    async def embed(self, texts: Seq[str], lengths: Seq[int] | None = None) -> Embeddings:
        raise InvalidRequestError(CHAT_MODELS_DO_NOT_EMBED, param="model")
