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

import functools
import random
import time
from collections import Counter, deque

import llama_cpp
import numpy as np
from llama_cpp.llama_grammar import JSON_GBNF, json_schema_to_gbnf

from modelmint.core.errors import InvalidRequestError
from modelmint.runtime.engine import SamplingParams
from modelmint.runtime.llamacpp.grammar import check_grammar, check_schema

PENALTY_LAST_N = 64
# a backstop behind grammar.py's limits: a grammar that takes longer than this for one
# token holds every other sequence of the batch up; its sequence is ended
GRAMMAR_SECONDS_PER_TOKEN = 2.0


def grammar_for(params: SamplingParams) -> str | None:
    """The GBNF grammar that constrains output to JSON (matching the schema, if any).
    A schema past grammar.py's limits is refused before it is compiled; compiling takes
    milliseconds, so call this off the event loop."""
    if params.json_schema is not None:
        return schema_grammar(check_schema(params.json_schema))
    if params.json_object:
        return JSON_GBNF
    return None


@functools.lru_cache(maxsize=32)  # clients send the same schema again and again
def schema_grammar(schema: str) -> str:
    try:
        grammar = json_schema_to_gbnf(schema)
    except Exception as exc:  # the converter asserts and raises many kinds of errors
        raise InvalidRequestError(
            f"response_format.json_schema.schema cannot be turned into a grammar: {str(exc)[:300]}",
            param="response_format",
        ) from exc
    return check_grammar(grammar)


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
    """Samples and accepts a token from a sequence's logits (`sample(ctx, i, logits)`).
    With a grammar, building one parses it in C: do that off the event loop."""

    def __init__(self, vocab, n_vocab: int, params: SamplingParams, grammar: str | None):
        self.chain = None
        self.grammar = grammar is not None
        self.slow_seconds = 0.0  # set once a token's grammar took GRAMMAR_SECONDS_PER_TOKEN
        self.penalties = (
            Penalties(params.repeat_penalty, params.frequency_penalty, params.presence_penalty)
            if params.presence_penalty or params.frequency_penalty or params.repeat_penalty != 1.0
            else None
        )
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
            constraint = llama_cpp.llama_sampler_init_grammar(vocab, grammar.encode(), b"root")
            if not constraint:
                raise InvalidRequestError(
                    "response_format.json_schema.schema compiles to a grammar llama.cpp "
                    "refuses; simplify the schema.",
                    param="response_format",
                )
            self._add(constraint)
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
            raise InvalidRequestError("The sampling parameters were rejected.")
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
        elif self.grammar:
            started = time.perf_counter()
            token = llama_cpp.llama_sampler_sample(self.chain, ctx, batch_index)
            elapsed = time.perf_counter() - started
            if elapsed > GRAMMAR_SECONDS_PER_TOKEN:
                self.slow_seconds = elapsed
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

    def __del__(self) -> None:
        # one built for a request that never reached the scheduler (queue full, cancelled)
        self.free()
