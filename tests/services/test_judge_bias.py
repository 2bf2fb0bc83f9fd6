"""The classify judge's kept bias: per key, for a while, and bounded."""

from __future__ import annotations

import numpy as np

from modelmint.services import judge_bias
from modelmint.services.judge_bias import JudgeBias

ROWS = np.ones((3, 2)), np.zeros((3, 2))


def key(n: int) -> judge_bias.BiasKey:
    return ("org_a", "judge", (f"label{n}", "other"))


def test_kept_rows_come_back_until_they_are_an_hour_old(monkeypatch):
    now = [1000.0]
    monkeypatch.setattr(judge_bias.time, "monotonic", lambda: now[0])
    kept = JudgeBias()
    assert kept.get(key(1)) is None
    kept.keep(key(1), *ROWS)
    assert kept.get(key(1)) == ROWS
    assert kept.get(("org_b", "judge", key(1)[2])) is None  # another org's are its own
    now[0] += 3601
    assert kept.get(key(1)) is None  # asked again: an upstream judge may have changed


def test_the_least_recently_used_go_first():
    kept = JudgeBias(capacity=2)
    kept.keep(key(1), *ROWS)
    kept.keep(key(2), *ROWS)
    assert kept.get(key(1)) is not None  # used: key 2 is now the oldest
    kept.keep(key(3), *ROWS)
    assert kept.get(key(2)) is None and kept.get(key(1)) is not None
