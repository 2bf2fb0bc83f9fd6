"""The async face of the transformers engine: a Hugging Face checkpoint folder on CPU.

It loads the model and tokenizer from local files only, renders the checkpoint's chat
template, refuses prompts that do not fit, admits requests through a bounded gate and
bridges the scheduler thread's events onto the event loop. JSON-schema grammars are a
llama.cpp feature; here they are refused with a 400 that says so.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from collections.abc import Sequence as Seq
from contextlib import aclosing
from pathlib import Path

from modelmint.core.errors import EngineError, InvalidRequestError
from modelmint.runtime.admission import AdmissionGate
from modelmint.runtime.bridge import Channel
from modelmint.runtime.chat_template import ChatTemplate
from modelmint.runtime.engine import (
    CHAT_MODELS_DO_NOT_EMBED,
    Embeddings,
    EngineStats,
    GenerationEvent,
    GenerationRequest,
)
from modelmint.runtime.limits import max_new_tokens
from modelmint.runtime.offline import stay_offline
from modelmint.runtime.stops import StopMatcher


class TransformersEngine:
    kind = "transformers"

    def __init__(
        self,
        path: Path,
        *,
        context_length: int = 2048,
        parallel: int = 8,
        max_queue: int = 64,
        threads: int = 2,
        default_system_prompt: str | None = None,
    ) -> None:
        self.path = path
        self.context_length = context_length
        self.threads = threads
        self.default_system_prompt = default_system_prompt
        self.gate = AdmissionGate(parallel, max_queue)
        self.tokenizer = None
        self.template: ChatTemplate | None = None
        self.scheduler = None

    async def start(self) -> None:
        await asyncio.to_thread(self._load)

    def _load(self) -> None:
        stay_offline()
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        from modelmint.runtime.hf.scheduler import BatchScheduler

        if not (self.path / "config.json").exists():
            raise EngineError(
                f"{self.path} is not a Hugging Face checkpoint folder (no config.json); "
                "make one from a GGUF with `modelmint models export-hf`."
            )
        torch.set_num_threads(self.threads)
        tokenizer = AutoTokenizer.from_pretrained(self.path, local_files_only=True)
        model = AutoModelForCausalLM.from_pretrained(
            self.path, local_files_only=True, dtype=torch.float32
        ).eval()
        self.context_length = min(
            self.context_length, getattr(model.config, "max_position_embeddings", 1 << 30)
        )
        eos = model.generation_config.eos_token_id
        eos_ids = set(eos if isinstance(eos, list) else [eos] if eos is not None else [])
        if tokenizer.eos_token_id is not None:
            eos_ids.add(tokenizer.eos_token_id)
        self.template = ChatTemplate(
            tokenizer.chat_template,
            bos_token=tokenizer.bos_token or "",
            eos_token=tokenizer.eos_token or "",
            default_system_prompt=self.default_system_prompt,
        )
        self.tokenizer = tokenizer
        self.scheduler = BatchScheduler(model, tokenizer, eos_ids)
        self.scheduler.start()

    async def close(self) -> None:
        if self.scheduler is not None:
            await asyncio.to_thread(self.scheduler.stop)
            self.scheduler = None

    @property
    def ready(self) -> bool:
        return self.scheduler is not None

    def stats(self) -> EngineStats:
        return EngineStats(running=self.gate.running, waiting=self.gate.waiting)

    def tokenize_request(self, request: GenerationRequest) -> list[int]:
        assert self.tokenizer is not None and self.template is not None
        if request.messages is not None:
            text, special = self.template.render(request.messages), False
        else:
            text, special = request.prompt or "", True
        ids = self.tokenizer(text, add_special_tokens=special)["input_ids"]
        return ids or [self.tokenizer.bos_token_id or self.tokenizer.eos_token_id or 0]

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
        from modelmint.runtime.hf.detokenize import Detokenizer
        from modelmint.runtime.hf.sampling import TorchSampler
        from modelmint.runtime.hf.sequence import Sequence

        params = request.params
        if params.json_schema is not None or params.json_object:
            raise InvalidRequestError(
                "response_format json_schema/json_object needs a grammar, which only "
                "llamacpp models have; pick a GGUF model or drop response_format.",
                param="response_format",
            )
        _, max_new = self.measure(request)
        async with self.gate.slot(request.reservation):
            sequence = Sequence(
                prompt=request.prompt_ids or [],
                max_new_tokens=max_new,
                sampler=TorchSampler(params),
                detokenizer=Detokenizer(self.tokenizer),
                channel=Channel(),
                stops=StopMatcher(params.stop),
                logprobs=params.logprobs,
                top_logprobs=params.top_logprobs,
                meter=request.meter,
            )
            async with aclosing(self.scheduler.stream(sequence)) as events:
                async for event in events:
                    yield event

    async def count(self, texts: Seq[str]) -> list[int]:
        raise InvalidRequestError(CHAT_MODELS_DO_NOT_EMBED, param="model")

    async def embed(self, texts: Seq[str], lengths: Seq[int] | None = None) -> Embeddings:
        raise InvalidRequestError(CHAT_MODELS_DO_NOT_EMBED, param="model")
