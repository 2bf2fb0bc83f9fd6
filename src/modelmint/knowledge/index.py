"""One knowledge base's search index, built in memory from its chunks (the database holds
them; each replica builds its own copy): BM25 over their words and cosine similarity
over their embeddings, fused by weighted reciprocal rank, filtered by the attributes of
the file each chunk came from, cut at a score threshold.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from modelmint.knowledge.filters import Predicate
from modelmint.knowledge.fusion import fuse
from modelmint.knowledge.keyword_index import KeywordIndex
from modelmint.knowledge.terms import Terms
from modelmint.knowledge.vector_index import VectorIndex


@dataclass(frozen=True, slots=True)
class IndexedChunk:
    file_id: str
    filename: str
    text: str
    attributes: Mapping[str, str | float | bool] = field(default_factory=dict)
    terms: Sequence[str] | None = None  # its words as `Terms` finds them; found when None


@dataclass(frozen=True, slots=True)
class Hit:
    chunk: IndexedChunk
    score: float  # fused, in (0, 1]
    text_score: float
    embedding_score: float


@dataclass(frozen=True, slots=True)
class SearchOptions:
    max_results: int = 10
    score_threshold: float = 0.0
    text_weight: float = 1.0
    embedding_weight: float = 1.0
    filters: Predicate | None = None


class KnowledgeIndex:
    def __init__(self, terms: Terms, chunks: Sequence[IndexedChunk], vectors: np.ndarray) -> None:
        if len(vectors) != len(chunks):
            raise ValueError(f"{len(chunks)} chunks but {len(vectors)} embeddings")
        self.chunks = list(chunks)
        words = [terms(c.text) if c.terms is None else c.terms for c in self.chunks]
        self.keywords = KeywordIndex(terms, words)
        self.vectors = VectorIndex(vectors)

    def __len__(self) -> int:
        return len(self.chunks)

    def search(self, query: str, query_vector: np.ndarray, options: SearchOptions) -> list[Hit]:
        """The best chunks for `query` (and its embedding), best first."""
        allowed = self._allowed(options.filters)
        ranked = fuse(
            self.keywords.scores(query),
            self.vectors.scores(query_vector),
            options.max_results,
            options.text_weight,
            options.embedding_weight,
            allowed,
        )
        return [
            Hit(self.chunks[r.index], r.score, r.text_score, r.embedding_score)
            for r in ranked
            if r.score >= options.score_threshold
        ]

    def _allowed(self, filters: Predicate | None) -> np.ndarray | None:
        """Which chunks the filter lets through, testing each file's attributes once."""
        if filters is None:
            return None
        verdicts: dict[str, bool] = {}
        allowed = np.zeros(len(self.chunks), dtype=bool)
        for i, chunk in enumerate(self.chunks):
            if chunk.file_id not in verdicts:
                verdicts[chunk.file_id] = filters(chunk.attributes)
            allowed[i] = verdicts[chunk.file_id]
        return allowed
