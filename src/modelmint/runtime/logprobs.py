"""OpenAI-style log-probabilities from one position's raw logits, for every engine."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from modelmint.runtime.engine import TokenLogprob, TopLogprob


def token_logprobs(
    logits: np.ndarray, token: int, top_n: int, piece: Callable[[int], bytes]
) -> TokenLogprob:
    """Log-softmax of the raw logits: the chosen token and the `top_n` most likely."""
    shifted = logits - logits.max()
    logsumexp = np.log(np.exp(shifted, dtype=np.float64).sum())
    logprob = lambda i: float(shifted[i] - logsumexp)  # noqa: E731
    chosen = piece(token)
    top: list[TopLogprob] = []
    if top_n > 0:
        candidates = np.argpartition(-shifted, top_n)[:top_n]
        for i in sorted(candidates, key=lambda i: -shifted[i]):
            raw = piece(int(i))
            top.append(TopLogprob(raw.decode("utf-8", "replace"), logprob(int(i)), list(raw)))
    return TokenLogprob(chosen.decode("utf-8", "replace"), logprob(token), list(chosen), top)
