"""A bounded queue answers 429 with Retry-After; a client that leaves stops its generation,
streamed or not, and is billed only for what was produced, as `cancelled`."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest
from sqlalchemy import select

from modelmint.api import create_app
from modelmint.core.settings import Settings
from modelmint.store.tables import usage_ledger
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
        yield url, pool.engines["fake-chat"], app.state.modelmint.platform


async def test_full_queue_gets_429_with_retry_after(slow_server):
    url, engine, _ = slow_server
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
    url, engine, _ = slow_server
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


# 100 words: the fake engine answers a completion with them reversed, 50 ms a token (5 s)
LONG_PROMPT = " ".join(f"w{i}" for i in range(100))
PLAIN = {
    "/v1/completions": {"model": "default", "prompt": LONG_PROMPT, "max_tokens": 100},
    "/v1/chat/completions": {
        "model": "default",
        "max_tokens": 100,
        "messages": [{"role": "user", "content": LONG_PROMPT}],
    },
}


@pytest.mark.parametrize("path", sorted(PLAIN))
async def test_a_plain_request_whose_client_leaves_stops_and_is_billed_as_cancelled(
    slow_server, path
):
    url, engine, platform = slow_server
    await _until(lambda: engine.gate.running == 0)
    before = len(platform.infra.db.run(_cancelled_rows))
    started = time.monotonic()
    async with httpx.AsyncClient(base_url=url, timeout=0.6) as client:
        with pytest.raises(httpx.ReadTimeout):
            await client.post(path, json=PLAIN[path])
    await _until(lambda: engine.gate.running == 0, timeout=1.0)
    assert time.monotonic() - started < 2.0
    await _until(lambda: len(platform.infra.db.run(_cancelled_rows)) > before)
    row = platform.infra.db.run(_cancelled_rows)[-1]
    assert 0 < row.completion_tokens < 40  # what was produced in ~0.6 s, not the 100 asked
    assert row.prompt_tokens == 100


def _cancelled_rows(connection) -> list:
    query = select(usage_ledger).where(usage_ledger.c.status == "cancelled")
    return list(connection.execute(query.order_by(usage_ledger.c.created_at)))


async def test_a_request_of_many_prompts_does_not_hold_the_engine_from_others(tmp_path):
    """A request of many prompts (a prompt list, or classify's judge) has no more of them
    in the engine at a time than it runs at once: another request's prompt queues behind
    those few, not behind all of them."""
    pool = fake_pool(token_delay=0.01, parallel=2, max_queue=4)
    app = create_app(Settings(data_dir=tmp_path, auth=False), pool=pool)
    words = " ".join(f"w{j}" for j in range(10))  # answered in 10 tokens, 0.1 s
    many = {"model": "default", "prompt": [f"{i} {words}" for i in range(40)], "max_tokens": 10}
    one = {"model": "default", "prompt": words, "max_tokens": 10}
    with running_server(app) as url:
        async with httpx.AsyncClient(base_url=url, timeout=60) as client:
            started = time.perf_counter()
            large = asyncio.create_task(client.post("/v1/completions", json=many))
            engine = pool.engines["fake-chat"]
            await _until(lambda: engine.gate.running == 2)
            small = await client.post("/v1/completions", json=one)
            small_done = time.perf_counter() - started
            answered = await large
            large_done = time.perf_counter() - started
    assert small.status_code == 200 and answered.status_code == 200, answered.text
    assert len(answered.json()["choices"]) == 40
    # about one prompt's time of waiting (0.1 s), not the 40 prompts' two seconds
    assert small_done < large_done / 3, (small_done, large_done)
