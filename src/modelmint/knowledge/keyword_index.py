"""BM25 over a set of chunks (bm25s, Lucene's variant, k1 1.5 and b 0.75), counting the
words `terms.Terms` finds. Built once over the chunks it is given; a knowledge base that
changes builds a new one."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from modelmint.knowledge.terms import Terms


class KeywordIndex:
    """`documents`: each chunk's words, as `terms` finds them (queries are cut the same way)."""

    def __init__(self, terms: Terms, documents: Sequence[Sequence[str]]) -> None:
        import bm25s

        self.terms = terms
        self.size = len(documents)
        self._bm25: Any = bm25s.BM25()
        if documents:
            self._bm25.index([list(words) for words in documents], show_progress=False)

    def scores(self, query: str) -> np.ndarray:
        """The query's BM25 score against every chunk, in the order they were given (0 for
        a chunk that shares no word with it)."""
        if self.size == 0:
            return np.zeros(0, dtype=np.float32)
        return np.asarray(self._bm25.get_scores(self.terms(query)), dtype=np.float32)
