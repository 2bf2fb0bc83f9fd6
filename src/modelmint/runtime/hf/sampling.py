"""Sampling one token from one row of logits, with llama.cpp's semantics: penalties over
the last PENALTY_LAST_N tokens, then top-k, top-p, min-p and temperature; temperature 0
is greedy. A seeded request draws from its own generator, so it repeats exactly."""

from __future__ import annotations

import random

import torch

from modelmint.runtime.engine import SamplingParams

PENALTY_LAST_N = 64


class TorchSampler:
    def __init__(self, params: SamplingParams) -> None:
        self.params = params
        self.generator = torch.Generator()
        seed = params.seed if params.seed is not None else random.getrandbits(63)
        self.generator.manual_seed(seed & 0x7FFFFFFFFFFFFFFF)

    def sample(self, logits: torch.Tensor, history: list[int]) -> int:
        p = self.params
        logits = self._penalize(logits.clone(), history[-PENALTY_LAST_N:])
        if p.temperature <= 0:
            return int(logits.argmax())
        if p.top_k > 0:
            cutoff = torch.topk(logits, min(p.top_k, logits.numel())).values[-1]
            logits[logits < cutoff] = float("-inf")
        probs = torch.softmax(logits, dim=-1)
        if p.top_p < 1.0:
            ordered, order = torch.sort(probs, descending=True)
            before = torch.cumsum(ordered, dim=-1) - ordered  # mass of the better tokens
            ordered[before >= p.top_p] = 0.0
            probs = torch.zeros_like(probs).scatter(0, order, ordered)
        if p.min_p > 0:
            probs[probs < p.min_p * probs.max()] = 0.0
        logits = torch.where(probs > 0, logits, torch.tensor(float("-inf")))
        probs = torch.softmax(logits / p.temperature, dim=-1)
        return int(torch.multinomial(probs, 1, generator=self.generator))

    def _penalize(self, logits: torch.Tensor, recent: list[int]) -> torch.Tensor:
        p = self.params
        if not recent or (
            p.repeat_penalty == 1.0 and not p.presence_penalty and not p.frequency_penalty
        ):
            return logits
        tokens, counts = torch.tensor(recent).unique(return_counts=True)
        seen = logits[tokens]
        if p.repeat_penalty != 1.0:
            seen = torch.where(seen > 0, seen / p.repeat_penalty, seen * p.repeat_penalty)
        seen = seen - counts * p.frequency_penalty - p.presence_penalty
        logits[tokens] = seen
        return logits
