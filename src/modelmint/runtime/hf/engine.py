"""The transformers engine: a Hugging Face checkpoint folder on CPU.

It loads the model and tokenizer from local files only and renders the checkpoint's chat
template; what batching engines share (measure, admission, streaming) is
runtime/batching.py. A prompt asked to be scored (`echo` with `logprobs`) gets every
position's log-probabilities from its prefill. JSON-schema grammars are a llama.cpp
feature; here they are refused with a 400 that says so.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from modelmint.core.errors import EngineError, InvalidRequestError
from modelmint.runtime.batching import BatchingEngine
from modelmint.runtime.chat_template import ChatTemplate
from modelmint.runtime.engine import SamplingParams
from modelmint.runtime.offline import stay_offline


class TransformersEngine(BatchingEngine):
    kind = "transformers"
    scores_prompts = True  # the prefill's logits of every prompt position

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
        super().__init__(
            path,
            context_length=context_length,
            parallel=parallel,
            max_queue=max_queue,
            threads=threads,
            default_system_prompt=default_system_prompt,
        )
        self.tokenizer: Any = None

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

    def _tokenize(self, text: str, *, special: bool) -> list[int]:
        return self.tokenizer(text, add_special_tokens=special)["input_ids"]

    def _first_token(self) -> int:
        return self.tokenizer.bos_token_id or self.tokenizer.eos_token_id or 0

    async def _sampler(self, params: SamplingParams) -> Any:
        from modelmint.runtime.hf.sampling import TorchSampler

        if params.json_schema is not None or params.json_object:
            raise InvalidRequestError(
                "response_format json_schema/json_object needs a grammar, which only "
                "llamacpp models have; pick a GGUF model or drop response_format.",
                param="response_format",
            )
        return TorchSampler(params)

    def _sequence(self, sampler: Any, **fields: Any) -> Any:
        from modelmint.runtime.hf.detokenize import Detokenizer
        from modelmint.runtime.hf.sequence import TorchSequence

        return TorchSequence(sampler=sampler, detokenizer=Detokenizer(self.tokenizer), **fields)
