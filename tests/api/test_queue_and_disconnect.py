"""A bounded queue answers 429 with Retry-After; a client that leaves stops its generation."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest

from modelmint.api import create_app
from modelmint.core.settings import Settings
from tests.helpers import fake_pool, running_server

BODY = {
    "model": "default",
    "stream": True,
    "messages": [{"role": "user", "content": " ".join(["word"] * 100)}],
}


@pytest.fixture(scope="module")
def slow_server(tmp_path_factory):
    pool = fake_pool(token_delay=0.05, parallel=1, max_queue=1)
    app = create_app(Settings(data_dir=tmp_path_factory.mktemp("q"), auth=False), pool=pool)
    with running_server(app) as url:
        yield url, pool.engines["fake-chat"]


async def test_full_queue_gets_429_with_retry_after(slow_server):
    url, engine = slow_server
    async with httpx.AsyncClient(base_url=url, timeout=30) as client:

        async def hold():
            async with client.stream("POST", "/v1/chat/completions", json=BODY) as response:
                async for _ in response.aiter_lines():
                    pass
                return response.status_code

        running = asyncio.create_task(hold())
        while engine.gate.running < 1:
            await asyncio.sleep(0.01)
        waiting = asyncio.create_task(hold())
        while engine.gate.waiting < 1:
            await asyncio.sleep(0.01)
        refused = await client.post("/v1/chat/completions", json=BODY)
        assert refused.status_code == 429
        assert refused.headers["retry-after"] == "1"
        assert refused.json()["error"]["type"] == "rate_limit_exceeded"
        assert refused.json()["error"]["code"] == "server_busy"
        running.cancel()
        waiting.cancel()
        await asyncio.gather(running, waiting, return_exceptions=True)
    await _until(lambda: engine.gate.running == 0 and engine.gate.waiting == 0)


async def test_disconnect_mid_stream_stops_generation(slow_server):
    url, engine = slow_server
    await _until(lambda: engine.gate.running == 0)
    started = time.monotonic()
    async with (
        httpx.AsyncClient(base_url=url, timeout=30) as client,
        client.stream("POST", "/v1/chat/completions", json=BODY) as response,
    ):
        lines = 0
        async for line in response.aiter_lines():
            lines += bool(line)
            if lines >= 3:
                break
    # the whole answer would take 100 tokens x 50 ms = 5 s
    await _until(lambda: engine.gate.running == 0, timeout=1.0)
    assert time.monotonic() - started < 2.0


async def _until(condition, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not reached in time"
        await asyncio.sleep(0.01)
