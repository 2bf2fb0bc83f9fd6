"""Rate limits per minute (requests and tokens), per key and per org, as token buckets.

A bucket holds up to `limit` units and refills at `limit` per minute. A request takes
from every bucket that applies or from none (all-or-nothing), so a refused request costs
nothing. Tokens are taken for the worst case up front and the unused part is given back
when the request ends. `InProcessLimiter` serves one replica; `RedisLimiter` runs the same
arithmetic in one Lua script so that replicas share the buckets.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Literal, Protocol

WINDOW = 60.0


@dataclass(frozen=True, slots=True)
class Bucket:
    kind: Literal["rpm", "tpm"]  # requests or tokens per minute
    owner: str  # an org id or a key id
    limit: int
    amount: int

    @property
    def key(self) -> str:
        """Where the bucket's level is kept, e.g. `tpm:key_…`."""
        return f"{self.kind}:{self.owner}"

    @property
    def counts_tokens(self) -> bool:
        return self.kind == "tpm"

    @property
    def owner_kind(self) -> str:
        return "API key" if self.owner.startswith("key_") else "organization"


@dataclass(frozen=True, slots=True)
class BucketState:
    bucket: Bucket
    remaining: int
    reset_seconds: float  # until the bucket is full again


@dataclass(frozen=True, slots=True)
class Decision:
    allowed: bool
    states: list[BucketState]
    retry_after: float = 0.0
    blocked: Bucket | None = None


class RateLimiter(Protocol):
    async def take(self, buckets: list[Bucket]) -> Decision: ...

    async def give_back(self, bucket: Bucket, amount: int) -> None: ...

    async def close(self) -> None: ...


def _refilled(level: float, updated: float, limit: int, now: float) -> float:
    return min(float(limit), level + (now - updated) * limit / WINDOW)


class InProcessLimiter:
    def __init__(self, clock=time.monotonic) -> None:
        self._clock = clock
        self._levels: dict[str, tuple[float, float]] = {}  # key -> (level, updated)

    def _level(self, bucket: Bucket, now: float) -> float:
        level, updated = self._levels.get(bucket.key, (float(bucket.limit), now))
        return _refilled(level, updated, bucket.limit, now)

    async def take(self, buckets: list[Bucket]) -> Decision:
        now = self._clock()
        levels = [self._level(b, now) for b in buckets]
        for bucket, level in zip(buckets, levels, strict=True):
            if bucket.amount > level:
                short = min(bucket.amount, bucket.limit) - level
                states = [_state(b, lv, now) for b, lv in zip(buckets, levels, strict=True)]
                wait = max(0.0, short) * WINDOW / bucket.limit
                return Decision(False, states, retry_after=wait, blocked=bucket)
        states = []
        for bucket, level in zip(buckets, levels, strict=True):
            left = level - bucket.amount
            self._levels[bucket.key] = (left, now)
            states.append(_state(bucket, left, now))
        return Decision(True, states)

    async def give_back(self, bucket: Bucket, amount: int) -> None:
        if amount <= 0:
            return
        now = self._clock()
        level = self._level(bucket, now)
        self._levels[bucket.key] = (min(float(bucket.limit), level + amount), now)

    async def close(self) -> None:
        self._levels.clear()


def _state(bucket: Bucket, level: float, now: float) -> BucketState:
    reset = (bucket.limit - level) * WINDOW / bucket.limit
    return BucketState(bucket, max(0, math.floor(level)), max(0.0, reset))


def format_reset(seconds: float) -> str:
    """OpenAI's style: '1s', '6m0s', '120ms'."""
    if seconds < 1:
        return f"{max(0, round(seconds * 1000))}ms"
    whole = math.ceil(seconds)
    minutes, secs = divmod(whole, 60)
    return f"{minutes}m{secs}s" if minutes else f"{secs}s"
