"""Continuous batching on one llama.cpp context, driven by one thread.

Each step puts one token for every decoding sequence and chunks of waiting prompts into a
single `llama_decode` call, then samples for every sequence that produced logits.
Sequences join and leave between steps; a cancelled or finished sequence gives back its
sequence id and KV cells at once. A failure that is one sequence's (no KV cells left for it, a
grammar too slow to sample) ends that sequence alone; the others keep going.
"""

from __future__ import annotations

import logging
import time

import llama_cpp

from modelmint.core.errors import ContextLengthExceededError, EngineError, InvalidRequestError
from modelmint.core.types import Usage
from modelmint.runtime.engine import Finished, PromptLogprobs, TextDelta, TokenLogprob
from modelmint.runtime.llamacpp.model import LlamaModel
from modelmint.runtime.llamacpp.prompt_cache import MIN_GAIN_TOKENS, PromptCache, shared_prefix
from modelmint.runtime.llamacpp.sampling import GRAMMAR_SECONDS_PER_TOKEN
from modelmint.runtime.llamacpp.sequence import LlamaSequence
from modelmint.runtime.logprobs import token_logprobs
from modelmint.runtime.step_thread import StepThread

logger = logging.getLogger(__name__)


def best_free_seq_id(free: list[int], cached: dict[int, list[int]], prompt: list[int]) -> int:
    """The free sequence id whose cells (`cached`) share the longest prefix with `prompt`;
    among equals, the one holding the fewest cells (an empty one best): fewer to save,
    longer conversations kept."""

    def value(seq_id: int) -> tuple[int, int]:
        cells = cached.get(seq_id, [])
        return shared_prefix(cells, prompt), -len(cells)

    return max(free, key=value)


class Scheduler(StepThread):
    def __init__(
        self,
        model: LlamaModel,
        sequences: int,
        prefill_chunk: int = 128,
        prompt_cache: PromptCache | None = None,
    ) -> None:
        super().__init__("llamacpp-scheduler")
        self.model = model
        self.n_batch = model.config.n_batch  # at least `sequences`: every decoding sequence fits
        self.prefill_chunk = prefill_chunk
        self._batch = llama_cpp.llama_batch_init(self.n_batch, 0, 1)
        self._free = list(range(sequences))[::-1]
        # prefix reuse: a free sequence id keeps the KV cells of its last conversation, and a
        # new prompt takes the free sequence id that shares the longest prefix with it
        self._cached: dict[int, list[int]] = {}
        self.prompt_cache = prompt_cache  # where a sequence id's cells go before they are cut
        self._running: list[LlamaSequence] = []

    def stop(self) -> None:
        super().stop()
        llama_cpp.llama_batch_free(self._batch)

    @property
    def running(self) -> int:
        return len(self._running)

    # the scheduler thread ---------------------------------------------------------
    def _busy(self) -> bool:
        return bool(self._running)

    def _take_incoming(self) -> None:
        self._admit()

    def _everyone(self) -> list[LlamaSequence]:
        return [*self._running, *self._incoming]

    def _step_once(self) -> None:
        self._drop_cancelled()
        if not self._running:
            return
        try:
            self._step()
        except Exception as exc:  # a native failure must not kill the thread
            logger.exception("decode step failed")
            for sequence in list(self._running):
                self._emit(sequence, EngineError(f"The engine failed: {exc}"))
                self._release(sequence, keep_cells=False)

    def _admit(self) -> None:
        while self._incoming and self._free:
            sequence = self._incoming.popleft()
            if sequence.cancelled:
                sequence.sampler.free()
                continue
            sequence.seq_id = best_free_seq_id(self._free, self._cached, sequence.prompt)
            self._free.remove(sequence.seq_id)
            cells = self._warm_cells(sequence.seq_id, sequence.prompt)
            # a prompt to score needs the logits of every position: none of it is reused
            reused = sequence.resume_from([] if sequence.prompt_logprobs else cells)
            self.model.forget(sequence.seq_id, reused)
            sequence.meter.cached_tokens = reused
            self._running.append(sequence)

    def _warm_cells(self, seq_id: int, prompt: list[int]) -> list[int]:
        """The tokens whose cells `seq_id` holds for `prompt`: its own, or a saved
        sequence's copied in from the prompt cache when that shares more of the prompt.
        Cells about to be cut are saved first."""
        cells = self._cached.pop(seq_id, [])
        if self.prompt_cache is None:
            return cells
        have = shared_prefix(cells, prompt)
        if len(cells) > have + MIN_GAIN_TOKENS:
            self.prompt_cache.save(seq_id, cells)
        restored = self.prompt_cache.restore(seq_id, prompt, have)
        return cells if restored is None else restored

    def _drop_cancelled(self) -> None:
        for sequence in [s for s in self._running if s.cancelled]:
            self._release(sequence)

    def _release(self, sequence: LlamaSequence, keep_cells: bool = True) -> None:
        if keep_cells:
            # the sequence id keeps the whole conversation so far, prompt and answer: the next
            # turn of it starts with both; the cells cost nothing to the other sequences,
            # whose attention never reads this sequence id's stream
            self._cached[sequence.seq_id] = sequence.decoded[: sequence.n_past]
        else:
            self.model.forget(sequence.seq_id)
        sequence.sampler.free()
        self._running.remove(sequence)
        self._free.append(sequence.seq_id)

    def _plan(self) -> list[tuple[LlamaSequence, int]]:
        """What this step feeds: one token for every decoding sequence, and the oldest
        waiting prompt, up to `prefill_chunk` tokens of it while others decode (all of the
        batch when nothing else does). One prompt per step: prompts that arrive together
        answer in turn, the first ones sooner, and their answers do not end in lockstep."""
        # in sequence id order: llama.cpp splits a batch that spans several KV streams into
        # sub-batches, and an unordered one took several passes (8 clients in process:
        # 102 tok/s unordered, 160 in sequence id order)
        by_seq_id = sorted(self._running, key=lambda s: s.seq_id)
        plan = [(s, 1) for s in by_seq_id if not s.prefilling]
        prompt = next((s for s in self._running if s.prefilling), None)
        room = self.n_batch - len(plan)
        if prompt is not None and room > 0:
            if plan:
                room = min(room, self.prefill_chunk)
            plan.append((prompt, min(room, len(prompt.pending))))
        return plan

    def _step(self) -> None:
        batch, count, outputs = self._batch, 0, []
        scored: list[tuple[LlamaSequence, int, int]] = []  # batch index -> prompt position
        fed = self._plan()
        for sequence, size in fed:
            wants_logits = size == len(sequence.pending)
            scores = sequence.prompt_logprobs and sequence.prefilling
            for offset, token in enumerate(sequence.pending[:size]):
                batch.token[count] = token
                batch.pos[count] = sequence.n_past + offset
                batch.n_seq_id[count] = 1
                batch.seq_id[count][0] = sequence.seq_id
                batch.logits[count] = scores or (wants_logits and offset == size - 1)
                if scores and sequence.n_past + offset + 1 < len(sequence.prompt):
                    scored.append((sequence, count, sequence.n_past + offset + 1))
                count += 1
            if wants_logits:
                outputs.append((sequence, count - 1))
        batch.n_tokens = count
        started = time.perf_counter()
        status = llama_cpp.llama_decode(self.model.ctx, batch)
        if status == 1:  # no KV cells for the batch, and nothing of it was decoded
            self._end_the_one_that_does_not_fit(fed)
            return  # the others are fed again in the next step
        if status != 0:
            raise RuntimeError(f"llama_decode returned {status}")
        share = (time.perf_counter() - started) / max(count, 1)
        for sequence, size in fed:
            sequence.n_past += size
            sequence.decoded += sequence.pending[:size]
            del sequence.pending[:size]
            sequence.meter.compute_seconds += share * size
        for sequence, index, position in scored:
            sequence.prompt_scores.append(
                token_logprobs(
                    self.model.logits(index),
                    sequence.prompt[position],
                    sequence.top_logprobs,
                    self.model.piece,
                )
            )
        for sequence, index in outputs:
            if sequence.prompt_logprobs and sequence.n_past == len(sequence.prompt):
                self._emit_prompt_logprobs(sequence)
                if sequence.max_new_tokens == 0:
                    self._finish(sequence, "length")
                    continue
            self._sample(sequence, index)

    def _emit_prompt_logprobs(self, sequence: LlamaSequence) -> None:
        raw = self.model.piece(sequence.prompt[0])
        first = TokenLogprob(raw.decode("utf-8", "replace"), None, list(raw))
        self._emit(sequence, PromptLogprobs([first, *sequence.prompt_scores]))
        sequence.prompt_scores = []

    def _end_the_one_that_does_not_fit(self, fed: list[tuple[LlamaSequence, int]]) -> None:
        """A guard the API never trips: each sequence has its own stream of `n_ctx_seq`
        cells, and prompt + max_tokens are measured against the context length first.
        The one that outgrows its stream ends, else the newest prompt, else the one holding
        the most cells; every other sequence keeps going."""
        cells = llama_cpp.llama_n_ctx_seq(self.model.ctx)
        sequences = [sequence for sequence, _ in fed]
        over = [sequence for sequence, size in fed if sequence.n_past + size > cells]
        prompts = [sequence for sequence in sequences if sequence.prefilling]
        victim = (over or prompts or [max(sequences, key=lambda s: s.n_past)])[0]
        logger.warning("no KV cells for a batch: ending sequence %d", victim.seq_id)
        error = (
            ContextLengthExceededError(
                f"The context is full: this answer needs more than the {cells} cells a "
                "sequence holds. Shorten the prompt or lower max_tokens.",
                param="max_tokens",
            )
            if over
            else EngineError("The KV cache has no room for this request now; retry it.")
        )
        self._emit(victim, error)
        self._release(victim, keep_cells=False)

    def _sample(self, sequence: LlamaSequence, index: int) -> None:
        row = self.model.logits(index)
        logits = row.copy() if sequence.logprobs else None  # before penalties change it
        token = sequence.sampler.sample(self.model.ctx, index, row)
        if sequence.sampler.slow_seconds:
            self._end_too_slow_grammar(sequence)
            return
        if self.model.is_eog(token):
            self._finish(sequence, "stop")
            return
        sequence.generated += 1
        sequence.meter.completion_tokens = sequence.generated
        if logits is not None:
            sequence.held_logprobs.append(
                token_logprobs(logits, token, sequence.top_logprobs, self.model.piece)
            )
        text, hit = sequence.stops.feed(sequence.decoder.decode(self.model.piece(token)))
        if text:
            self._emit_text(sequence, text)
        if hit:
            self._finish(sequence, "stop", flush=False)
        elif sequence.generated >= sequence.max_new_tokens:
            self._finish(sequence, "length")
        else:
            sequence.pending = [token]

    def _end_too_slow_grammar(self, sequence: LlamaSequence) -> None:
        seconds = sequence.sampler.slow_seconds
        logger.warning(
            "grammar took %.1f s for one token: ending sequence %d", seconds, sequence.seq_id
        )
        self._emit(
            sequence,
            InvalidRequestError(
                f"response_format.json_schema.schema made one token take {seconds:.1f} s to "
                f"sample (the limit is {GRAMMAR_SECONDS_PER_TOKEN:g} s); use fewer "
                "alternatives that start alike, fewer enum values or simpler patterns.",
                param="response_format",
            ),
        )
        self._release(sequence)

    def _emit_text(self, sequence: LlamaSequence, text: str) -> None:
        logprobs = sequence.held_logprobs if sequence.logprobs else None
        sequence.held_logprobs = []
        self._emit(sequence, TextDelta(text, logprobs))

    def _finish(self, sequence: LlamaSequence, reason: str, flush: bool = True) -> None:
        if flush:
            # bytes of a character cut off by the length limit are dropped, not shown as U+FFFD
            tail = sequence.stops.flush()
            if tail or sequence.held_logprobs:
                self._emit_text(sequence, tail)
        usage = Usage(len(sequence.prompt), sequence.generated, sequence.meter.cached_tokens)
        # released before the caller hears of it, so its sequence id is free by then
        self._release(sequence)
        self._emit(sequence, Finished(reason, usage))  # type: ignore[arg-type]
