"""Per-sequence sampler chains, in C.

The chain order follows llama.cpp's common sampler: grammar, penalties, top-k, top-p,
min-p, temperature, then a seeded draw; temperature 0 means greedy.
"""

from __future__ import annotations

import json
import random

import llama_cpp
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


class SamplerChain:
    """A llama.cpp sampler chain; `sample(ctx, i)` samples and accepts a token."""

    def __init__(self, vocab, n_vocab: int, params: SamplingParams, grammar: str | None):
        chain_params = llama_cpp.llama_sampler_chain_default_params()
        chain_params.no_perf = True
        self.chain = llama_cpp.llama_sampler_chain_init(chain_params)
        if grammar is not None:
            self._add(llama_cpp.llama_sampler_init_grammar(vocab, grammar.encode(), b"root"))
        if params.presence_penalty or params.frequency_penalty or params.repeat_penalty != 1.0:
            self._add(
                llama_cpp.llama_sampler_init_penalties(
                    n_vocab,
                    PENALTY_LAST_N,
                    params.repeat_penalty,
                    params.frequency_penalty,
                    params.presence_penalty,
                )
            )
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
        seed = params.seed if params.seed is not None else random.getrandbits(32)
        self._add(llama_cpp.llama_sampler_init_dist(seed & 0xFFFFFFFF))

    def _add(self, sampler) -> None:
        if not sampler:
            raise InvalidRequestError("The sampling parameters or grammar were rejected.")
        llama_cpp.llama_sampler_chain_add(self.chain, sampler)

    def sample(self, ctx, batch_index: int) -> int:
        return llama_cpp.llama_sampler_sample(self.chain, ctx, batch_index)

    def free(self) -> None:
        if self.chain:
            llama_cpp.llama_sampler_free(self.chain)
            self.chain = None
