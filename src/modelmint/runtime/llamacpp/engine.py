"""The llama.cpp engine: a GGUF model decoding many sequences in one context.

Loading the model, its chat template, the prompt cache and the scheduler thread is here;
what batching engines share (measure, admission, streaming) is runtime/batching.py.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from modelmint.runtime.batching import BatchingEngine
from modelmint.runtime.chat_template import ChatTemplate
from modelmint.runtime.engine import SamplingParams
from modelmint.runtime.llamacpp.model import ContextConfig, LlamaModel
from modelmint.runtime.llamacpp.prompt_cache import PromptCache
from modelmint.runtime.llamacpp.sampling import SamplerChain, grammar_for
from modelmint.runtime.llamacpp.scheduler import Scheduler
from modelmint.runtime.llamacpp.sequence import LlamaSequence


class LlamaCppEngine(BatchingEngine):
    kind = "llamacpp"
    scores_prompts = True

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
        super().__init__(
            path,
            context_length=context_length,
            parallel=parallel,
            max_queue=max_queue,
            threads=threads,
            default_system_prompt=default_system_prompt,
        )
        self.batch_size = batch_size
        self.prefill_chunk = prefill_chunk
        self.prompt_cache_mb = prompt_cache_mb
        self.model: LlamaModel | None = None

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

    def _unload(self) -> None:
        if self.model is not None:
            self.model.close()
            self.model = None

    def _tokenize(self, text: str, *, special: bool) -> list[int]:
        assert self.model is not None
        return self.model.tokenize(text, add_special=special, parse_special=True)

    def _first_token(self) -> int:
        assert self.model is not None
        return self.model.bos

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

    def _sequence(self, sampler: Any, **fields: Any) -> LlamaSequence:
        return LlamaSequence(sampler=sampler, **fields)
