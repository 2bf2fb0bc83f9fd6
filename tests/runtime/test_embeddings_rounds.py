"""How the embeddings engine cuts requests into rounds (a stand-in encoder: this is about
the order of work, not the vectors; tests/runtime/test_embeddings_batching.py runs MiniLM)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import numpy as np

from modelmint.runtime import embeddings
from modelmint.runtime.embeddings import ROUND_TOKENS, SentenceTransformersEngine


class CountingEncoder:
    """Tokens are words; each encode call is recorded; rows hold each text's word count."""

    max_tokens, dimensions = 512, 2

    def __init__(self) -> None:
        self.calls: list[list[str]] = []

    def count_tokens(self, texts):
        return [len(text.split()) for text in texts]

    def encode(self, texts, lengths):
        self.calls.append(list(texts))
        return np.array([[n, 0.0] for n in lengths], dtype=np.float32)


def engine_with(encoder: CountingEncoder) -> SentenceTransformersEngine:
    engine = SentenceTransformersEngine(Path("unused"), context_length=4096)
    engine._encoder = encoder  # type: ignore[assignment]
    return engine


async def test_a_large_request_is_cut_into_rounds_within_the_token_budget():
    encoder = CountingEncoder()
    engine = engine_with(encoder)
    texts = [" ".join(["w"] * 200)] * 50  # 10,000 tokens
    result = await engine.embed(texts)
    assert result.prompt_tokens == 10_000
    assert [row[0] for row in result.vectors] == [200.0] * 50
    assert all(sum(len(t.split()) for t in call) <= ROUND_TOKENS for call in encoder.calls)
    assert len(encoder.calls) == -(-50 // (ROUND_TOKENS // 200))


async def test_a_text_longer_than_a_round_is_still_encoded():
    encoder = CountingEncoder()
    engine = engine_with(encoder)
    result = await engine.embed([" ".join(["w"] * 3000)])
    assert result.vectors[0][0] == 3000.0


async def test_requests_take_turns_and_get_their_own_rows(monkeypatch):
    monkeypatch.setattr(embeddings, "LINGER_SECONDS", 0.0)
    encoder = CountingEncoder()
    engine = engine_with(encoder)
    large = [f"{' '.join(['w'] * 100)} large{i}" for i in range(100)]  # 101 tokens each
    small = ["just four small words"]
    big_job = asyncio.create_task(engine.embed(large))
    await asyncio.sleep(0)  # the large request is queued and its first round taken
    little = await engine.embed(small)
    assert little.vectors[0][0] == 4.0
    assert not big_job.done(), "the small request waited for the whole large one"
    # the small text rode in the second round at the latest
    assert any(small[0] in call for call in encoder.calls[:2])
    result = await big_job
    assert [row[0] for row in result.vectors] == [101.0] * 100


async def test_a_caller_that_leaves_frees_its_remaining_rounds():
    encoder = CountingEncoder()
    engine = engine_with(encoder)
    texts = [" ".join(["w"] * 200)] * 100
    job = asyncio.create_task(engine.embed(texts))
    await asyncio.sleep(0.01)
    job.cancel()
    await asyncio.sleep(0.05)
    assert len(encoder.calls) < 10  # 100 texts would have taken 10 rounds
    assert not engine._jobs
