"""Token buckets in Redis, shared by every replica: one Lua script takes from all the
buckets of a request atomically (or from none), using Redis's clock."""

from __future__ import annotations

from modelmint.billing.ratelimit import WINDOW, Bucket, BucketState, Decision
from modelmint.billing.redis_client import REDIS_TIMEOUT_SECONDS, connect

# KEYS: bucket keys. ARGV: window, then limit and amount per key. Returns, per key,
# the level after the take (or before, if refused) as a string, then 1 or 0 for allowed.
TAKE = """
local window = tonumber(ARGV[1])
local now_parts = redis.call('TIME')
local now = tonumber(now_parts[1]) + tonumber(now_parts[2]) / 1e6
local levels = {}
local allowed = 1
for i, key in ipairs(KEYS) do
  local limit = tonumber(ARGV[2 * i])
  local amount = tonumber(ARGV[2 * i + 1])
  local state = redis.call('HMGET', key, 'level', 'updated')
  local level = tonumber(state[1]) or limit
  local updated = tonumber(state[2]) or now
  level = math.min(limit, level + (now - updated) * limit / window)
  levels[i] = level
  if amount > level then allowed = 0 end
end
local out = {}
for i, key in ipairs(KEYS) do
  local amount = tonumber(ARGV[2 * i + 1])
  local level = levels[i]
  if allowed == 1 then
    level = level - amount
    redis.call('HSET', key, 'level', level, 'updated', now)
    redis.call('EXPIRE', key, math.ceil(window * 2))
  end
  out[i] = tostring(level)
end
out[#KEYS + 1] = allowed
return out
"""

GIVE_BACK = """
local limit = tonumber(ARGV[1])
local amount = tonumber(ARGV[2])
local window = tonumber(ARGV[3])
local now_parts = redis.call('TIME')
local now = tonumber(now_parts[1]) + tonumber(now_parts[2]) / 1e6
local state = redis.call('HMGET', KEYS[1], 'level', 'updated')
local level = tonumber(state[1]) or limit
local updated = tonumber(state[2]) or now
level = math.min(limit, level + (now - updated) * limit / window + amount)
redis.call('HSET', KEYS[1], 'level', level, 'updated', now)
redis.call('EXPIRE', KEYS[1], math.ceil(window * 2))
return tostring(level)
"""


class RedisLimiter:
    # one hash tag for every bucket: a script's keys must share a slot on Redis Cluster
    def __init__(
        self, url: str, prefix: str = "modelmint:{rl}:", timeout: float = REDIS_TIMEOUT_SECONDS
    ) -> None:
        self._redis = connect(url, timeout)
        self._prefix = prefix
        self._take = self._redis.register_script(TAKE)
        self._give_back = self._redis.register_script(GIVE_BACK)

    async def take(self, buckets: list[Bucket]) -> Decision:
        args: list[float] = [WINDOW]
        for bucket in buckets:
            args += [bucket.limit, bucket.amount]
        reply = await self._take(keys=[self._prefix + b.key for b in buckets], args=args)
        levels = [float(level) for level in reply[:-1]]
        allowed = int(reply[-1]) == 1
        states = [
            BucketState(b, max(0, int(level)), max(0.0, (b.limit - level) * WINDOW / b.limit))
            for b, level in zip(buckets, levels, strict=True)
        ]
        if allowed:
            return Decision(True, states)
        for bucket, level in zip(buckets, levels, strict=True):
            if bucket.amount > level:
                short = min(bucket.amount, bucket.limit) - level
                wait = max(0.0, short) * WINDOW / bucket.limit
                return Decision(False, states, retry_after=wait, blocked=bucket)
        return Decision(False, states, retry_after=1.0)

    async def give_back(self, bucket: Bucket, amount: int) -> None:
        if amount > 0:
            await self._give_back(
                keys=[self._prefix + bucket.key], args=[bucket.limit, amount, WINDOW]
            )

    async def close(self) -> None:
        await self._redis.aclose()
