"""A Redis that accepts connections and never answers fails requests fast (503), and
does not stall the background give-backs behind it."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from redis.exceptions import TimeoutError as RedisTimeoutError

from modelmint.billing.concurrency import RedisLeases
from modelmint.billing.ratelimit import Bucket
from modelmint.billing.redis_limits import RedisLimiter
from tests.business_helpers import business_settings, chat, running


@contextmanager
def hung_redis() -> Iterator[str]:
    """A TCP server that accepts every connection and never writes a byte."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(64)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.1)
        while not stop.is_set():
            try:
                held.append(server.accept()[0])
            except TimeoutError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield f"redis://127.0.0.1:{server.getsockname()[1]}/0"
    finally:
        stop.set()
        thread.join()
        for connection in held:
            connection.close()
        server.close()


async def test_a_hung_redis_fails_a_take_within_the_timeout():
    with hung_redis() as url:
        limiter = RedisLimiter(url, timeout=0.3)
        started = time.monotonic()
        with pytest.raises(RedisTimeoutError):
            await limiter.take([Bucket("rpm", "org_x", 10, 1)])
        assert time.monotonic() - started < 1.5
        await asyncio.wait_for(limiter.close(), 2)


async def test_give_backs_to_a_hung_redis_do_not_stall_closing():
    with hung_redis() as url:
        leases = RedisLeases(url, timeout=0.3)
        with pytest.raises(RedisTimeoutError):  # the lease may have been taken: given back
            await leases.enter("org_x", "req_1", 1)  # and that give-back waits on the hung Redis
        started = time.monotonic()
        await asyncio.wait_for(leases.close(), 5)
        assert time.monotonic() - started < 1.5


async def test_a_request_against_a_hung_redis_is_a_503_within_seconds(tmp_path):
    with hung_redis() as url:
        settings = business_settings(tmp_path, redis_url=url, redis_timeout_seconds=0.3)
        async with running(settings) as business:
            prices = {"*": {"input": "1", "output": "1"}}
            await business.plan("pro", prices=prices, rpm=100, tpm=100_000)
            await business.org("acme", plan="pro")
            key = (await business.key("acme"))["key"]
            await business.caught_up()
            async with business.client(key) as client:
                started = time.monotonic()
                response = await client.post("/v1/chat/completions", json=chat(3, 5))
                elapsed = time.monotonic() - started
    assert response.status_code == 503, response.text
    assert response.json()["error"]["code"] == "service_unavailable"
    assert elapsed < 2.0
