"""Per-sequence samplers: repetition penalties in numpy, the rest a llama.cpp chain in C.

The order follows llama.cpp's common sampler: grammar, penalties, top-k, top-p, min-p,
temperature, then a seeded draw; temperature 0 means greedy. The penalties touch only the
few recent tokens, so they are applied in place on the logits here: llama.cpp's penalties
sampler looks up every one of the vocabulary's candidates (49k for SmolLM2), which cost
~0.1 ms per token, and a step samples every running sequence in turn while the cores
wait. Greedy without a grammar needs no chain at all: an argmax; nor does plain
temperature sampling (OpenAI's default shape: no top-k, top-p, min-p or grammar), a draw
from softmax(logits / T) in numpy, ~4x cheaper than the chain's scalar softmax.
"""

from __future__ import annotations

import json
import random
from collections import Counter, deque

import llama_cpp
import numpy as np
from llama_cpp.llama_grammar import JSON_GBNF, json_schema_to_gbnf

from modelmint.core.errors import InvalidRequestError
from modelmint.runtime.engine import SamplingParams

PENALTY_LAST_N = 64


def grammar_for(params: SamplingParams) -> str | None:
    """The GBNF grammar that constrains output to JSON (matching the schema, if any)."""
    if params.json_schema is not None:
        try:
            return json_schema_to_gbnf(json.dumps(params.json_schema))
        except Exception as exc:  # the converter asserts and raises many kinds of errors
            raise InvalidRequestError(
                f"response_format.json_schema.schema cannot be turned into a grammar: {exc}",
                param="response_format",
            ) from exc
    if params.json_object:
        return JSON_GBNF
    return None


class Penalties:
    """llama.cpp's penalties over the last PENALTY_LAST_N sampled tokens: a positive
    logit is divided by `repeat`, a negative one multiplied; then `frequency` times the
    count and `presence` once are subtracted."""

    def __init__(self, repeat: float, frequency: float, presence: float) -> None:
        self.repeat, self.frequency, self.presence = repeat, frequency, presence
        self._last: deque[int] = deque(maxlen=PENALTY_LAST_N)
        self._counts: Counter[int] = Counter()

    def accept(self, token: int) -> None:
        if len(self._last) == PENALTY_LAST_N:
            dropped = self._last[0]
            self._counts[dropped] -= 1
            if not self._counts[dropped]:
                del self._counts[dropped]
        self._last.append(token)
        self._counts[token] += 1

    def apply(self, logits: np.ndarray) -> None:
        if not self._counts:
            return
        ids = np.fromiter(self._counts.keys(), dtype=np.int64, count=len(self._counts))
        counts = np.fromiter(self._counts.values(), dtype=np.float32, count=len(ids))
        values = logits[ids]
        values = np.where(values <= 0, values * self.repeat, values / self.repeat)
        logits[ids] = values - (counts * self.frequency + self.presence)  # llama.cpp's rounding


class SamplerChain:
    """Samples and accepts a token from a sequence's logits (`sample(ctx, i, logits)`)."""

    def __init__(self, vocab, n_vocab: int, params: SamplingParams, grammar: str | None):
        self.penalties = (
            Penalties(params.repeat_penalty, params.frequency_penalty, params.presence_penalty)
            if params.presence_penalty or params.frequency_penalty or params.repeat_penalty != 1.0
            else None
        )
        self.chain = None
        self.temperature = params.temperature
        self._rng: np.random.Generator | None = None
        seed = params.seed if params.seed is not None else random.getrandbits(32)
        if grammar is None and params.temperature <= 0:
            return  # an argmax
        if grammar is None and params.top_k <= 0 and params.top_p >= 1.0 and params.min_p <= 0:
            self._rng = np.random.default_rng(seed & 0xFFFFFFFF)
            return  # a draw from the softmax
        chain_params = llama_cpp.llama_sampler_chain_default_params()
        chain_params.no_perf = True
        self.chain = llama_cpp.llama_sampler_chain_init(chain_params)
        if grammar is not None:
            self._add(llama_cpp.llama_sampler_init_grammar(vocab, grammar.encode(), b"root"))
        if params.temperature <= 0:
            self._add(llama_cpp.llama_sampler_init_greedy())
            return
        if params.top_k > 0:
            self._add(llama_cpp.llama_sampler_init_top_k(params.top_k))
        if params.top_p < 1.0:
            self._add(llama_cpp.llama_sampler_init_top_p(params.top_p, 1))
        if params.min_p > 0:
            self._add(llama_cpp.llama_sampler_init_min_p(params.min_p, 1))
        self._add(llama_cpp.llama_sampler_init_temp(params.temperature))
        self._add(llama_cpp.llama_sampler_init_dist(seed & 0xFFFFFFFF))

    def _add(self, sampler) -> None:
        if not sampler:
            raise InvalidRequestError("The sampling parameters or grammar were rejected.")
        llama_cpp.llama_sampler_chain_add(self.chain, sampler)

    def sample(self, ctx, batch_index: int, logits: np.ndarray) -> int:
        """`logits` is the context's own row for `batch_index` (model.logits): penalties
        change it in place, then the chain reads it from the context."""
        if self.penalties is not None:
            self.penalties.apply(logits)
        if self._rng is not None:
            token = self._draw(logits)
        elif self.chain is None:
            token = int(np.argmax(logits))
        else:
            token = llama_cpp.llama_sampler_sample(self.chain, ctx, batch_index)
        if self.penalties is not None:
            self.penalties.accept(token)
        return token

    def _draw(self, logits: np.ndarray) -> int:
        assert self._rng is not None
        scaled = logits / np.float32(self.temperature)
        weights = np.exp(scaled - scaled.max())
        cumulative = np.cumsum(weights)
        token = int(np.searchsorted(cumulative, self._rng.random() * cumulative[-1], "right"))
        return min(token, len(cumulative) - 1)

    def free(self) -> None:
        if self.chain:
            llama_cpp.llama_sampler_free(self.chain)
            self.chain = None
