"""Extractive summaries: the sentences that best stand for a text, in their order, within
a length budget.

A sentence scores by how central it is, twice over (the mean weight of its words, a word
weighing by how often the text uses it; and its embedding's closeness to the text's mean
embedding), plus a bonus for coming early, as reports put the gist first. Sentences are
picked by maximal marginal relevance, so a second sentence saying the same thing as the
first loses to one that adds something. A long text is summarized piece by piece, and
the pieces' picks are summarized again as a whole.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence

import numpy as np

from modelmint.knowledge.terms import Terms

# measured with benchmarks/summarize.py on benchmarks/summarize_set
TERM_WEIGHT, EMBEDDING_WEIGHT, POSITION_WEIGHT = 0.4, 0.4, 0.2
REDUNDANCY = 0.3  # how much similarity to a picked sentence costs

_WORD = re.compile(r"[^\W_]+")
_CHARACTER = re.compile(r"[^\W_]")


def length(text: str, language: str) -> int:
    """Words for English; for Chinese, characters other than punctuation and spaces (as
    `max_words` counts them)."""
    if language == "zh":
        return len(_CHARACTER.findall(text))
    return len(_WORD.findall(text))


def centrality(terms: Terms, sentences: Sequence[str]) -> np.ndarray:
    """Each sentence's mean word weight, a word weighing by its share of the text's words."""
    words = [terms(s) for s in sentences]
    counts = Counter(w for ws in words for w in ws)
    top = max(counts.values(), default=1)
    return np.array([sum(counts[w] for w in ws) / (len(ws) * top) if ws else 0.0 for ws in words])


def pick(
    terms: Terms,
    sentences: Sequence[str],
    vectors: np.ndarray,
    budget: int,
    language: str,
) -> list[int]:
    """The indexes of the sentences to keep, in the text's order; `vectors` are their
    unit-length embeddings, `budget` the summary's length at most (`length`)."""
    if not sentences:
        return []
    count = len(sentences)
    centroid = vectors.mean(axis=0)
    centroid /= max(float(np.linalg.norm(centroid)), 1e-12)
    position = 1.0 - np.arange(count) / count
    score = (
        TERM_WEIGHT * centrality(terms, sentences)
        + EMBEDDING_WEIGHT * (vectors @ centroid)
        + POSITION_WEIGHT * position
    )
    similarity = vectors @ vectors.T
    chosen: list[int] = []
    used = 0
    candidates = set(range(count))
    while candidates:

        def gain(i: int) -> float:
            overlap = max((similarity[i, j] for j in chosen), default=0.0)
            return float(score[i] - REDUNDANCY * overlap)

        best = max(candidates, key=gain)
        candidates.discard(best)
        size = length(sentences[best], language)
        if used + size > budget:
            if chosen:
                continue  # a shorter sentence may still fit
            return [best]  # the one sentence, even over budget: never an empty summary
        chosen.append(best)
        used += size
    return sorted(chosen)


def pick_in_pieces(
    terms: Terms,
    sentences: Sequence[str],
    vectors: np.ndarray,
    pieces: Sequence[range],
    budget: int,
    language: str,
) -> list[int]:
    """`pick` for a text given as pieces (ranges of its sentences): each piece first,
    when there are several, keeping twice the budget, then the pieces' picks as one."""
    if len(pieces) > 1:
        kept = []
        for piece in pieces:
            chosen = pick(
                terms, sentences[piece.start : piece.stop], vectors[piece], 2 * budget, language
            )
            kept += [piece.start + i for i in chosen]
    else:
        kept = list(range(len(sentences)))
    final = pick(terms, [sentences[i] for i in kept], vectors[kept], budget, language)
    return [kept[i] for i in final]
