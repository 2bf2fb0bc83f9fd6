"""The embeddings engine batches concurrent requests without mixing up their answers, and
cuts large requests into rounds so that small ones do not wait for them."""

from __future__ import annotations

import asyncio
import time

import numpy as np
import pytest

from modelmint.core.errors import ContextLengthExceededError
from modelmint.runtime.pool import PoolOptions, build_engine
from modelmint.runtime.registry import Registry

pytestmark = pytest.mark.real_model


@pytest.fixture(scope="module")
async def engine():
    engine = build_engine(Registry.from_file().resolve("minilm"), PoolOptions(threads=2))
    await engine.start()
    yield engine
    await engine.close()


async def test_concurrent_requests_get_their_own_vectors(engine):
    requests = [[f"request {i} text {j} about topic {i * 7 + j}" for j in range(i % 3 + 1)]
                for i in range(12)]  # fmt: skip
    alone = [await engine.embed(texts) for texts in requests]
    together = await asyncio.gather(*(engine.embed(texts) for texts in requests))
    for solo, batched in zip(alone, together, strict=True):
        assert batched.prompt_tokens == solo.prompt_tokens
        assert np.allclose(batched.vectors, solo.vectors, atol=1e-5)


async def test_one_bad_request_fails_alone(engine):
    long_text = "word " * 2000
    good, bad = await asyncio.gather(
        engine.embed(["a short sentence"]), engine.embed([long_text]), return_exceptions=True
    )
    assert len(good.vectors) == 1 and len(good.vectors[0]) == 384
    assert isinstance(bad, ContextLengthExceededError)


async def test_a_small_request_does_not_wait_for_a_large_one(engine):
    large_texts = [" ".join(["market signal budget"] * 80)] * 200  # ~242 tokens each
    started = time.perf_counter()
    large = asyncio.create_task(engine.embed(large_texts))
    await asyncio.sleep(0.3)  # the large request's first round is being encoded
    small = await engine.embed(["How do I reset my password?"])
    small_done = time.perf_counter() - started
    result = await large
    large_done = time.perf_counter() - started
    assert len(small.vectors) == 1 and len(result.vectors) == 200
    assert result.prompt_tokens == sum(await engine.count(large_texts))
    # about one round (2048 tokens) of waiting, not the whole large request
    assert small_done < large_done / 3, (small_done, large_done)
