"""A trained text classifier's head: a softmax layer over an embeddings model's unit
vectors, with its labels, kept in one small `.npz` file (no pickles: a model file is
never code).

Training writes it (`training/recipes/text_classifier.py`); `/v1/classify` reads it and
turns the base model's embeddings of the inputs into label probabilities.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np


class HeadFileError(ValueError):
    """The file is not a classifier head this version can read."""


@dataclass(frozen=True)
class LinearHead:
    labels: list[str]
    weights: np.ndarray  # dimensions x labels
    bias: np.ndarray  # labels

    @property
    def dimensions(self) -> int:
        return int(self.weights.shape[0])

    def probabilities(self, vectors: np.ndarray) -> np.ndarray:
        """One row per vector: each label's probability, summing to 1."""
        return softmax(np.asarray(vectors, dtype=np.float64) @ self.weights + self.bias)

    def save(self, path: Path) -> int:
        """Written to `path` (a `.npz`); its size in bytes."""
        with path.open("wb") as out:
            np.savez(
                out,
                weights=self.weights.astype(np.float32),
                bias=self.bias.astype(np.float32),
                labels=np.array(json.dumps(self.labels, ensure_ascii=False)),
            )
        return path.stat().st_size

    @classmethod
    def load(cls, path: Path) -> LinearHead:
        try:
            with np.load(path, allow_pickle=False) as saved:
                labels = json.loads(str(saved["labels"]))
                weights = saved["weights"].astype(np.float64)
                bias = saved["bias"].astype(np.float64)
        except (OSError, KeyError, ValueError) as exc:
            raise HeadFileError(f"{path} is not a classifier head: {exc}") from exc
        if weights.ndim != 2 or weights.shape[1] != len(labels) or bias.shape != (len(labels),):
            raise HeadFileError(f"{path}: weights, bias and labels do not agree in shape")
        return cls(labels, weights, bias)


def softmax(logits: np.ndarray) -> np.ndarray:
    shifted = np.exp(logits - logits.max(axis=1, keepdims=True))
    return shifted / shifted.sum(axis=1, keepdims=True)
