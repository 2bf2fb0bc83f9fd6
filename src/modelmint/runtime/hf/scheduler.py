"""Batched decoding with a transformers model, driven by one thread.

Each step feeds the last token of every running sequence in one forward pass over the
batched KV cache (kv.py), samples a token for each, then starts at most one waiting
prompt (prefilled on its own, then joined to the batch). Sequences leave between steps.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import torch
from transformers import DynamicCache

from modelmint.core.errors import EngineError
from modelmint.core.types import Usage
from modelmint.runtime.engine import Finished, PromptLogprobs, TextDelta, TokenLogprob
from modelmint.runtime.hf.kv import BatchedKV
from modelmint.runtime.hf.sequence import TorchSequence
from modelmint.runtime.hf.token_bytes import token_bytes
from modelmint.runtime.logprobs import token_logprobs
from modelmint.runtime.step_thread import StepThread

logger = logging.getLogger(__name__)


class BatchScheduler(StepThread):
    def __init__(self, model: Any, tokenizer: Any, eos_ids: set[int]) -> None:
        super().__init__("hf-scheduler")
        self.model = model
        self.tokenizer = tokenizer
        self.eos_ids = eos_ids
        self.kv = BatchedKV()
        self._piece = token_bytes(tokenizer)
        self.rows: list[TorchSequence] = []  # row i of the KV batch is rows[i]
        self._newcomer: TorchSequence | None = None  # the prompt this step starts

    @property
    def running(self) -> int:
        return len(self.rows)

    # the scheduler thread ---------------------------------------------------------
    def _busy(self) -> bool:
        return bool(self.rows)

    def _take_incoming(self) -> None:
        self._newcomer = self._next_incoming()

    def _everyone(self) -> list[TorchSequence]:
        return [*self.rows, *self._incoming]

    def _step_once(self) -> None:
        newcomer, self._newcomer = self._newcomer, None
        try:
            with torch.inference_mode():
                self._leave([s for s in self.rows if s.cancelled])
                if self.rows:
                    self._decode()
                if newcomer is not None:
                    self._prefill(newcomer)
        except Exception as exc:  # a failure must not kill the thread
            logger.exception("transformers step failed")
            for sequence in dict.fromkeys([*self.rows, *([newcomer] if newcomer else [])]):
                self._emit(sequence, EngineError(f"The engine failed: {exc}"))
            self.kv.keep([])
            self.rows = []

    def _next_incoming(self) -> TorchSequence | None:
        while self._incoming:
            sequence = self._incoming.popleft()
            if not sequence.cancelled:
                return sequence
        return None

    def _decode(self) -> None:
        """One token for every row, in one forward pass."""
        tokens = torch.tensor([[s.generated[-1]] for s in self.rows])
        positions = torch.tensor([[s.length - 1] for s in self.rows])
        started = time.perf_counter()
        out = self.model(
            input_ids=tokens,
            attention_mask=self.kv.step_mask(),
            position_ids=positions,
            past_key_values=self.kv.cache,
            use_cache=True,
        )
        share = (time.perf_counter() - started) / len(self.rows)
        logits = out.logits[:, -1, :].float()
        done = []
        for sequence, row in zip(self.rows, logits, strict=True):
            sequence.meter.compute_seconds += share
            if self._sample(sequence, row):
                done.append(sequence)
        self._leave(done)

    def _prefill(self, sequence: TorchSequence) -> None:
        """Its whole prompt in one forward pass (scored, if asked), then its first token;
        it joins the batch."""
        cache = DynamicCache(config=self.model.config)
        started = time.perf_counter()
        out = self.model(
            input_ids=torch.tensor([sequence.prompt]), past_key_values=cache, use_cache=True
        )
        sequence.meter.compute_seconds += time.perf_counter() - started
        if sequence.prompt_logprobs:
            self._emit_prompt_logprobs(sequence, out.logits[0].float().numpy())
            if sequence.max_new_tokens == 0:
                self._finish(sequence, "length")
                return
        self.kv.join(cache, len(sequence.prompt))
        self.rows.append(sequence)
        if self._sample(sequence, out.logits[0, -1, :].float()):
            self._leave([sequence])

    def _leave(self, finished: list[TorchSequence]) -> None:
        if not finished:
            return
        keep = [i for i, s in enumerate(self.rows) if s not in finished]
        self.kv.keep(keep)
        self.rows = [self.rows[i] for i in keep]

    def _sample(self, sequence: TorchSequence, logits: torch.Tensor) -> bool:
        """Sample, emit its text; True when the sequence is done."""
        token = sequence.sampler.sample(logits, sequence.generated)
        if token in self.eos_ids:
            self._finish(sequence, "stop")
            return True
        sequence.generated.append(token)
        sequence.meter.completion_tokens = len(sequence.generated)
        if sequence.logprobs:
            sequence.held_logprobs.append(
                token_logprobs(logits.numpy(), token, sequence.top_logprobs, self._piece)
            )
        text, hit = sequence.stops.feed(sequence.detokenizer.feed(token))
        if text:
            self._emit_text(sequence, text)
        if hit:
            self._finish(sequence, "stop", flush=False)
            return True
        if len(sequence.generated) >= sequence.max_new_tokens:
            self._finish(sequence, "length")
            return True
        return False

    def _emit_prompt_logprobs(self, sequence: TorchSequence, logits: Any) -> None:
        """Each prompt token's log-probability given those before it (row i of `logits`
        predicts token i + 1; the first token has none)."""
        prompt, top = sequence.prompt, sequence.top_logprobs
        raw = self._piece(prompt[0])
        scored = [TokenLogprob(raw.decode("utf-8", "replace"), None, list(raw))]
        scored += [
            token_logprobs(logits[i - 1], prompt[i], top, self._piece)
            for i in range(1, len(prompt))
        ]
        self._emit(sequence, PromptLogprobs(scored))

    def _emit_text(self, sequence: TorchSequence, text: str) -> None:
        logprobs = sequence.held_logprobs if sequence.logprobs else None
        sequence.held_logprobs = []
        self._emit(sequence, TextDelta(text, logprobs))

    def _finish(self, sequence: TorchSequence, reason: str, flush: bool = True) -> None:
        if flush:
            tail = sequence.stops.feed(sequence.detokenizer.flush())[0] + sequence.stops.flush()
            if tail or sequence.held_logprobs:
                self._emit_text(sequence, tail)
        usage = Usage(len(sequence.prompt), len(sequence.generated))
        self._emit(sequence, Finished(reason, usage))  # type: ignore[arg-type]
