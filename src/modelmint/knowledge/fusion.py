"""Hybrid ranking: reciprocal rank fusion of the keyword and the embedding rankings,
each weighted as OpenAI's file_search weighs them (`ranking_options.hybrid_search`:
`text_weight`, `embedding_weight`), at k = 60 as LlamaIndex and the RRF paper use.

A chunk's fused score is Σ weight / (k + rank) over the rankings it appears in, divided
by the most it could be (first in every ranking), so it lies in (0, 1] as OpenAI's
`score_threshold` expects; a ranking lists only the chunks with a score above 0 (no
shared word, or no similarity, is no evidence), best first.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

RRF_K = 60


@dataclass(frozen=True, slots=True)
class Ranked:
    index: int  # the chunk's position in the indexes
    score: float  # the fused score, 1 for a chunk first in every weighted ranking
    text_score: float  # BM25
    embedding_score: float  # cosine similarity


def top(scores: np.ndarray, count: int, allowed: np.ndarray | None = None) -> np.ndarray:
    """Positions of the `count` best scores above 0 (among `allowed`), best first."""
    if allowed is not None:
        scores = np.where(allowed, scores, 0.0)
    candidates = np.flatnonzero(scores > 0)
    if len(candidates) > count:
        candidates = candidates[np.argpartition(-scores[candidates], count - 1)[:count]]
    return candidates[np.argsort(-scores[candidates], kind="stable")]


def fuse(
    text_scores: np.ndarray,
    embedding_scores: np.ndarray,
    count: int,
    text_weight: float = 1.0,
    embedding_weight: float = 1.0,
    allowed: np.ndarray | None = None,
    depth: int = 100,
) -> list[Ranked]:
    """The `count` best chunks by weighted RRF over each ranking's first `depth`."""
    fused: dict[int, float] = {}
    most = 0.0
    for scores, weight in ((text_scores, text_weight), (embedding_scores, embedding_weight)):
        if weight <= 0 or len(scores) == 0:
            continue
        most += weight / (RRF_K + 1)
        for rank, index in enumerate(top(scores, max(depth, count), allowed), start=1):
            fused[int(index)] = fused.get(int(index), 0.0) + weight / (RRF_K + rank)
    best = sorted(fused.items(), key=lambda item: (-item[1], item[0]))[:count]
    return [
        Ranked(i, score / most, float(_at(text_scores, i)), float(_at(embedding_scores, i)))
        for i, score in best
    ]


def _at(scores: np.ndarray, index: int) -> float:
    return scores[index] if len(scores) > index else 0.0
