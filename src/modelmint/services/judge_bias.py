"""What a zero-shot classify judge answers to content-free texts for a label set: its
bias, which each request's scores are divided by.

The bias depends only on the judge and the labels, not on the texts, so it is kept (per
org, so that no org learns from timing which labels another uses; for an hour, so that an
upstream judge whose model changes is asked again; at most `capacity` label sets in all,
the least recently used dropped first) and a later request with the same labels asks the
judge its own texts only: a one-input request sends 2 prompts instead of 8. The labels,
as the key, stay in this process's memory only.
"""

from __future__ import annotations

import time
from collections import OrderedDict

import numpy as np

BiasKey = tuple[str, str, tuple[str, ...]]  # org, judge model, labels in their order


Rows = tuple[np.ndarray, np.ndarray]  # the content-free answers: labels in order, reversed


class JudgeBias:
    """The judge's content-free answers per org, judge and label set, kept a while."""

    def __init__(self, capacity: int = 1024, seconds: float = 3600.0) -> None:
        self.capacity = capacity
        self.seconds = seconds
        self._kept: OrderedDict[BiasKey, tuple[float, Rows]] = OrderedDict()

    def get(self, key: BiasKey) -> Rows | None:
        """The rows kept for `key`, unless they are older than `seconds`."""
        found = self._kept.get(key)
        if found is None or time.monotonic() - found[0] > self.seconds:
            return None
        self._kept.move_to_end(key)
        return found[1]

    def keep(self, key: BiasKey, forward: np.ndarray, backward: np.ndarray) -> None:
        """Keep the rows just asked for `key`, dropping the least recently used."""
        self._kept[key] = (time.monotonic(), (forward, backward))
        self._kept.move_to_end(key)
        while len(self._kept) > self.capacity:
            self._kept.popitem(last=False)
