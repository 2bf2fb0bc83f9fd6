"""The one way modelmint opens Redis: with connect and reply timeouts, and no retry storm.

redis-py 8 waits 5 s for a connect or a reply and retries a failed command ten times with
a backoff of up to 10 s: a Redis that accepts connections but never answers (a hung
server, a half-open link) would stall an admission for a minute, and the token give-backs
and lease renewals queued behind it. Here a command that times out fails at once
(admission answers 503; background give-backs and renewals log and try again later), and
a dropped connection (Redis restarted) is retried once on a fresh one.
"""

from __future__ import annotations

from typing import Any

REDIS_TIMEOUT_SECONDS = 2.0


def connect(url: str, timeout: float = REDIS_TIMEOUT_SECONDS) -> Any:
    """An asyncio Redis client whose connects and replies each give up after `timeout`."""
    import redis.asyncio as redis
    from redis.asyncio.retry import Retry
    from redis.backoff import NoBackoff
    from redis.exceptions import ConnectionError as RedisConnectionError

    return redis.Redis.from_url(
        url,
        socket_connect_timeout=timeout,
        socket_timeout=timeout,
        retry=Retry(NoBackoff(), 1, supported_errors=(RedisConnectionError,)),
    )
