"""Embeddings of a set of chunks held as one normalised float32 matrix: a query's cosine
similarity to every chunk is one matrix-vector product (100,000 chunks of 384 dimensions
are 150 MB and a few milliseconds)."""

from __future__ import annotations

import numpy as np


def normalised(vectors: np.ndarray) -> np.ndarray:
    vectors = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=-1, keepdims=True)
    return vectors / np.where(norms > 0, norms, 1.0)


class VectorIndex:
    def __init__(self, vectors: np.ndarray) -> None:
        self._matrix = normalised(vectors) if len(vectors) else np.zeros((0, 0), np.float32)
        self.size = len(self._matrix)

    def scores(self, query: np.ndarray) -> np.ndarray:
        """Cosine similarity of `query` to every chunk, in the order they were given."""
        if self.size == 0:
            return np.zeros(0, dtype=np.float32)
        return self._matrix @ normalised(query)
