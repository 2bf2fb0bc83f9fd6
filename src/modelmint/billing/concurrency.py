"""How many requests an organization has running at once, against its plan's cap.

`InProcessLeases` counts on one replica. `RedisLeases` counts across every replica sharing
a Redis: each running request is a lease (a member of the org's sorted set, scored by when
it expires). A replica renews its leases while their requests run, so a replica that dies
frees its organizations' leases once its leases lapse, instead of holding them forever.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import Counter
from typing import Protocol

from modelmint.billing.redis_client import REDIS_TIMEOUT_SECONDS, connect
from modelmint.core.background import Background

logger = logging.getLogger(__name__)

LEASE_SECONDS = 30.0


class Leases(Protocol):
    async def enter(self, org_id: str, request_id: str, cap: int | None) -> bool:
        """Take a lease unless `cap` are taken (None: no cap, always taken)."""
        ...

    def leave(self, org_id: str, request_id: str) -> None:
        """Give the lease back (without waiting: callers may be being cancelled)."""
        ...

    async def close(self) -> None: ...


class InProcessLeases:
    def __init__(self) -> None:
        self._running: Counter[str] = Counter()

    async def enter(self, org_id: str, request_id: str, cap: int | None) -> bool:
        if cap is not None and self._running[org_id] >= cap:
            return False
        self._running[org_id] += 1
        return True

    def leave(self, org_id: str, request_id: str) -> None:
        self._running[org_id] -= 1
        if self._running[org_id] <= 0:
            del self._running[org_id]

    async def close(self) -> None:
        self._running.clear()


# KEYS[1]: the org's set. ARGV: request id, cap, lease seconds. 1 if taken.
ENTER = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1e6
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[2]) then return 0 end
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[3]), ARGV[1])
redis.call('EXPIRE', KEYS[1], math.ceil(tonumber(ARGV[3]) * 2))
return 1
"""

# KEYS: org sets; ARGV: lease seconds, then one request id per key. A lease that was lost
# (Redis restarted, or away longer than a lease) is put back: its request still runs.
RENEW = """
local t = redis.call('TIME')
local until_ = tonumber(t[1]) + tonumber(t[2]) / 1e6 + tonumber(ARGV[1])
for i, key in ipairs(KEYS) do
  redis.call('ZADD', key, until_, ARGV[i + 1])
  redis.call('EXPIRE', key, math.ceil(tonumber(ARGV[1]) * 2))
end
return #KEYS
"""


class RedisLeases:
    def __init__(
        self,
        url: str,
        prefix: str = "modelmint:{cc}:",
        lease_seconds: float = LEASE_SECONDS,
        timeout: float = REDIS_TIMEOUT_SECONDS,
    ) -> None:
        self._redis = connect(url, timeout)
        self._prefix = prefix
        self.lease_seconds = lease_seconds
        self._enter = self._redis.register_script(ENTER)
        self._renew = self._redis.register_script(RENEW)
        self._mine: dict[str, str] = {}  # request id -> org id, the leases this replica holds
        self._background = Background()
        self._renewer: asyncio.Task | None = None
        # a round of renewals puts leases back: a give-back waits for the round under way,
        # or the lease it removes could be put back just after
        self._renewing = asyncio.Lock()

    async def enter(self, org_id: str, request_id: str, cap: int | None) -> bool:
        if cap is None:  # nothing to share: no round trip
            return True
        args = [request_id, cap, self.lease_seconds]
        try:
            entered = await self._enter(keys=[self._prefix + org_id], args=args)
        except BaseException:  # cancelled or cut off: the script may have run, take it back
            self._mine[request_id] = org_id
            self.leave(org_id, request_id)
            raise
        if not entered:
            return False
        self._mine[request_id] = org_id
        if self._renewer is None:
            self._renewer = asyncio.create_task(self._renew_forever(), name="renew-leases")
        return True

    def leave(self, org_id: str, request_id: str) -> None:
        if self._mine.pop(request_id, None) is None:
            return
        self._background.spawn(
            self._give_back(org_id, request_id), f"giving back {org_id}'s concurrency lease"
        )

    async def _give_back(self, org_id: str, request_id: str) -> None:
        async with self._renewing:
            await self._redis.zrem(self._prefix + org_id, request_id)

    async def _renew_forever(self) -> None:
        while True:
            await asyncio.sleep(self.lease_seconds / 3)
            if not self._mine:
                continue
            try:
                async with self._renewing:
                    mine = list(self._mine.items())
                    await self._renew(
                        keys=[self._prefix + org for _, org in mine],
                        args=[self.lease_seconds, *(request for request, _ in mine)],
                    )
            except Exception:  # Redis away: the next round tries again
                logger.warning("renewing concurrency leases failed", exc_info=True)

    async def close(self) -> None:
        if self._renewer is not None:
            self._renewer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._renewer
        await self._background.drain()
        await self._redis.aclose()
