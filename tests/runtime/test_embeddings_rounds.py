"""How the embeddings engine cuts requests into rounds (a stand-in encoder: this is about
the order of work, not the vectors; tests/runtime/test_embeddings_batching.py runs MiniLM)."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import numpy as np
import pytest

from modelmint.runtime import embeddings
from modelmint.runtime.embeddings import ROUND_TOKENS, SentenceTransformersEngine
from modelmint.runtime.sentence_encoder import forward_batches


class CountingEncoder:
    """Tokens are words; each encode call is recorded; rows hold each text's word count."""

    max_tokens, dimensions = 512, 2

    def __init__(self) -> None:
        self.calls: list[list[str]] = []  # each round's texts
        self.passes = 0

    def count_tokens(self, texts):
        return [len(text.split()) for text in texts]

    def encode_batches(self, texts, lengths):
        self.calls.append(list(texts))
        order = sorted(range(len(texts)), key=lengths.__getitem__)
        for picked in forward_batches(order, lengths):
            self.passes += 1
            yield picked, np.array([[lengths[i], 0.0] for i in picked], dtype=np.float32)


def engine_with(encoder: CountingEncoder) -> SentenceTransformersEngine:
    return SentenceTransformersEngine(Path("unused"), context_length=4096, encoder=encoder)  # type: ignore[arg-type]


async def test_a_large_request_is_cut_into_rounds_within_the_token_budget():
    encoder = CountingEncoder()
    engine = engine_with(encoder)
    texts = [" ".join(["w"] * 200)] * 200  # 40,000 tokens
    result = await engine.embed(texts)
    assert result.prompt_tokens == 40_000
    assert [row[0] for row in result.vectors] == [200.0] * 200
    assert all(sum(len(t.split()) for t in call) <= ROUND_TOKENS for call in encoder.calls)
    assert len(encoder.calls) == -(-200 // (ROUND_TOKENS // 200))


async def test_a_text_longer_than_a_round_is_still_encoded():
    encoder = CountingEncoder()
    engine = engine_with(encoder)
    result = await engine.embed([" ".join(["w"] * 3000)])
    assert result.vectors[0][0] == 3000.0


async def test_a_newcomer_ends_a_round_after_the_current_pass(monkeypatch):
    monkeypatch.setattr(embeddings, "LINGER_SECONDS", 0.0)
    encoder = SlowEncoder()
    engine = engine_with(encoder)
    large = [f"{' '.join(['w'] * 100)} large{i}" for i in range(100)]  # 101 tokens each
    big_job = asyncio.create_task(engine.embed(large))
    while not encoder.passes:  # the large request's first round is being encoded
        await asyncio.sleep(0.001)
    little = await engine.embed(["just four small words"])
    assert little.vectors[0][0] == 4.0
    # the round under way stopped after its pass; the small text went in the next one
    assert encoder.passes <= 3, encoder.passes
    assert not big_job.done()
    result = await big_job
    assert [row[0] for row in result.vectors] == [101.0] * 100


async def test_small_requests_arriving_all_the_time_do_not_starve_a_large_one(monkeypatch):
    monkeypatch.setattr(embeddings, "LINGER_SECONDS", 0.0)
    encoder = SlowEncoder()
    engine = engine_with(encoder)
    large = [" ".join(["w"] * 150)] * 40
    big_job = asyncio.create_task(engine.embed(large))

    async def pester() -> None:  # a pass's worth of tiny requests every 2 ms, unasked
        tiny: list[asyncio.Task] = []
        while not big_job.done():
            tiny += [asyncio.create_task(engine.embed(["tiny text"])) for _ in range(40)]
            await asyncio.sleep(0.002)
        await asyncio.gather(*tiny, return_exceptions=True)  # some may find the queue full

    pestering = asyncio.create_task(pester())
    result = await asyncio.wait_for(big_job, 10)
    await pestering
    assert [row[0] for row in result.vectors] == [150.0] * 40


class SlowEncoder(CountingEncoder):
    """Each forward pass takes 5 ms, long enough for others to arrive meanwhile."""

    def encode_batches(self, texts, lengths):
        for picked, rows in super().encode_batches(texts, lengths):
            time.sleep(0.005)
            yield picked, rows


async def test_a_caller_that_leaves_frees_its_remaining_rounds():
    encoder = CountingEncoder()
    engine = engine_with(encoder)
    texts = [" ".join(["w"] * 200)] * 100
    job = asyncio.create_task(engine.embed(texts))
    await asyncio.sleep(0.01)
    job.cancel()
    await asyncio.sleep(0.05)
    assert len(encoder.calls) < 10  # 100 texts would have taken 10 rounds
    assert engine.queued == 0


def test_forward_passes_stay_short_and_do_not_mix_short_with_long_texts():
    lengths = [12, 240, 240, 240] + [20] * 40 + [30] * 30
    order = sorted(range(len(lengths)), key=lengths.__getitem__)
    passes = list(forward_batches(order, lengths))
    assert sorted(i for batch in passes for i in batch) == list(range(len(lengths)))
    for batch in passes:
        assert len(batch) <= 32 and len(batch) * max(lengths[i] for i in batch) <= 2048
    # the 12-token text rides with the 20-token ones, never with the 240-token ones
    assert all(240 not in {lengths[i] for i in batch} for batch in passes if 0 in batch)


def test_a_short_text_gets_its_own_pass_beside_long_ones():
    lengths = [12, 240, 240, 240]
    assert list(forward_batches([0, 1, 2, 3], lengths)) == [[0], [1, 2, 3]]


def test_an_embedding_model_refuses_to_generate_before_anything_is_held():
    from modelmint.core.errors import InvalidRequestError
    from modelmint.runtime.engine import GenerationRequest, SamplingParams

    engine = SentenceTransformersEngine(Path("unused"))
    request = GenerationRequest(SamplingParams(), messages=[{"role": "user", "content": "hi"}])
    with pytest.raises(InvalidRequestError, match="embedding model"):
        engine.measure(request)  # called before admission: no hold, no ledger row
