"""What a zero-shot classify judge answers to content-free texts for a label set: its
bias, which each request's scores are divided by.

The bias depends only on the judge and the labels, not on the texts, so it is kept (per
org, so that no org learns from timing which labels another uses; bounded, the least
recently used dropped first) and a later request with the same labels asks the judge its
own texts only: a one-input request sends 2 prompts instead of 8.
"""

from __future__ import annotations

from collections import OrderedDict

import numpy as np

BiasKey = tuple[str, str, tuple[str, ...]]  # org, judge model, labels in their order


class JudgeBias:
    def __init__(self, capacity: int = 1024) -> None:
        self.capacity = capacity
        self._kept: OrderedDict[BiasKey, tuple[np.ndarray, np.ndarray]] = OrderedDict()

    def get(self, key: BiasKey) -> tuple[np.ndarray, np.ndarray] | None:
        """The content-free rows (labels in order, and reversed) kept for `key`."""
        found = self._kept.get(key)
        if found is not None:
            self._kept.move_to_end(key)
        return found

    def keep(self, key: BiasKey, forward: np.ndarray, backward: np.ndarray) -> None:
        self._kept[key] = (forward, backward)
        self._kept.move_to_end(key)
        while len(self._kept) > self.capacity:
            self._kept.popitem(last=False)
