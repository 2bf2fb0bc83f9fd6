"""The embeddings engine batches concurrent requests without mixing up their answers."""

from __future__ import annotations

import asyncio

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
