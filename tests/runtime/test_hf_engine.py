"""The transformers engine on a real checkpoint (the default GGUF, exported with
`modelmint export-hf`): batching, isolation, cancellation, sampling, refusals."""

from __future__ import annotations

import asyncio

import pytest
from typer.testing import CliRunner

from modelmint.cli.main import app
from modelmint.core.errors import ContextLengthExceededError, InvalidRequestError
from modelmint.runtime.engine import (
    GenerationRequest,
    Meter,
    PromptLogprobs,
    SamplingParams,
    TextDelta,
)
from modelmint.runtime.hf import TransformersEngine
from modelmint.runtime.hf.detokenize import Detokenizer
from modelmint.runtime.hf.export import export_gguf
from modelmint.runtime.registry import Registry
from tests.runtime.test_llamacpp import CODE_WORDS, code_word_prompt, run

pytestmark = pytest.mark.real_model


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    spec = Registry.from_file().resolve("default")
    return export_gguf(spec.weights_path(), tmp_path_factory.mktemp("hf") / "smollm2")


@pytest.fixture(scope="module")
async def engine(checkpoint):
    spec = Registry.from_file().resolve("default")
    engine = TransformersEngine(
        checkpoint,
        context_length=512,
        parallel=8,
        max_queue=32,
        threads=2,
        default_system_prompt=spec.default_system_prompt,
    )
    await engine.start()
    yield engine
    await engine.close()


async def test_chat_answers(engine):
    text, _, finished = await run(
        engine,
        messages=[{"role": "user", "content": "What is the capital of France?"}],
        temperature=0,
        max_tokens=30,
    )
    assert "Paris" in text
    assert finished.reason == "stop" and finished.usage.prompt_tokens > 10


async def test_concurrent_sequences_never_leak(engine):
    results = await asyncio.gather(
        *(
            run(engine, prompt=code_word_prompt(w), temperature=0, max_tokens=4, stop=["\n"])
            for w in CODE_WORDS
        )
    )
    for word, (text, _, _) in zip(CODE_WORDS, results, strict=True):
        assert word in text
        assert not [other for other in CODE_WORDS if other != word and other in text]


async def test_batched_greedy_output_matches_solo(engine):
    prompts = [
        "The three primary colors are",
        "Write a short poem about the sea, in four lines:\n",
        "def fibonacci(n):",
    ]
    solo = [await run(engine, prompt=p, temperature=0, max_tokens=16) for p in prompts]

    async def late(prompt: str, delay: float):
        await asyncio.sleep(delay)  # joins a batch that is already decoding
        return await run(engine, prompt=prompt, temperature=0, max_tokens=16)

    together = await asyncio.gather(*(late(p, 0.15 * i) for i, p in enumerate(prompts)))
    for alone, batched in zip(solo, together, strict=True):
        assert alone[0] == batched[0]


async def test_cancelling_mid_batch_frees_the_row(engine):
    messages = [{"role": "user", "content": "Write a long story about a dragon."}]
    params = dict(temperature=0.8, max_tokens=60, seed=1)
    keep = asyncio.create_task(run(engine, messages=messages, **params))
    stream = engine.generate(
        engine.measure(GenerationRequest(SamplingParams(**params), messages=messages)), Meter()
    )
    received = 0
    async for _ in stream:
        received += 1
        if received == 3:
            break
    await stream.aclose()
    for _ in range(200):
        if engine.scheduler.running <= 1:
            break
        await asyncio.sleep(0.02)
    assert engine.scheduler.running <= 1  # only `keep` is left
    _, _, finished = await keep
    assert finished.usage.completion_tokens > 0
    assert engine.gate.running == 0 and engine.scheduler.running == 0


async def test_sixteen_streams_finish_with_exact_usage(engine):
    results = await asyncio.gather(
        *(
            run(
                engine,
                messages=[{"role": "user", "content": f"Count from {i} to {i + 30}."}],
                temperature=0.7,
                seed=i,
                max_tokens=12,
                logprobs=True,
            )
            for i in range(16)
        )
    )
    for _, deltas, finished in results:
        tokens = sum(len(d.logprobs or []) for d in deltas)
        assert tokens == finished.usage.completion_tokens <= 12
    assert engine.gate.running == 0 and engine.scheduler.running == 0


async def test_seed_makes_sampling_reproducible(engine):
    params = dict(prompt="Once upon a time", temperature=1.0, top_p=0.9, max_tokens=12)
    first = await run(engine, seed=7, **params)
    second = await run(engine, seed=7, **params)
    assert first[0] == second[0]


async def test_logprobs_follow_greedy_choice(engine):
    _, deltas, _ = await run(
        engine, prompt="The sky is", temperature=0, max_tokens=4, logprobs=True, top_logprobs=3
    )
    entries = [e for d in deltas for e in d.logprobs or []]
    assert entries
    for entry in entries:
        assert len(entry.top_logprobs) == 3
        assert entry.logprob == pytest.approx(max(t.logprob for t in entry.top_logprobs))


async def test_stop_strings_and_limits(engine):
    text, _, finished = await run(
        engine, prompt="1, 2, 3, 4, 5,", temperature=0, max_tokens=20, stop=[" 8"]
    )
    assert finished.reason == "stop" and " 8" not in text
    with pytest.raises(ContextLengthExceededError):
        await run(engine, prompt="hello", max_tokens=10_000)


async def test_json_schema_is_refused_with_the_reason(engine):
    with pytest.raises(InvalidRequestError, match="grammar"):
        await run(engine, prompt="{}", max_tokens=4, json_object=True)


def test_detokenizer_streams_multibyte_text_intact(engine):
    text = "naïve café, 你好世界 🙂 done"
    ids = engine.tokenizer(text, add_special_tokens=False)["input_ids"]
    detokenizer = Detokenizer(engine.tokenizer)
    pieces = [detokenizer.feed(token) for token in ids]
    assert "".join(pieces) + detokenizer.flush() == text
    assert not any("\ufffd" in piece for piece in pieces)


def test_export_refuses_a_folder_that_is_not_empty(tmp_path):
    (tmp_path / "something").write_text("x")
    result = CliRunner().invoke(app, ["export-hf", str(tmp_path)])
    assert result.exit_code == 1
    assert "not empty" in result.output


async def scored(engine, prompt: str, max_tokens: int = 0) -> list:
    params = SamplingParams(
        max_tokens=max_tokens, temperature=0, logprobs=True, prompt_logprobs=True
    )
    request = GenerationRequest(params, prompt=prompt)
    return [e async for e in engine.generate(engine.measure(request), Meter())]


async def test_a_prompt_is_scored_token_by_token(engine):
    prompt = "我爱编程。 The sky is"
    events = await scored(engine, prompt)
    assert isinstance(events[0], PromptLogprobs) and events[-1].reason == "length"
    assert not [e for e in events if isinstance(e, TextDelta)]
    entries = events[0].logprobs
    ids = engine.measure(GenerationRequest(SamplingParams(), prompt=prompt)).prompt_ids
    assert len(entries) == len(ids)
    assert entries[0].logprob is None and all(e.logprob <= 0 for e in entries[1:])
    # token bytes, not each token decoded alone: they spell the prompt exactly
    assert b"".join(bytes(e.bytes) for e in entries).decode() == prompt


async def test_a_scored_token_has_the_logprob_it_is_generated_with(engine):
    params = SamplingParams(max_tokens=1, temperature=0, logprobs=True)
    request = GenerationRequest(params, prompt="The capital of France is")
    events = [e async for e in engine.generate(engine.measure(request), Meter())]
    (generated,) = [entry for e in events if isinstance(e, TextDelta) for entry in e.logprobs]
    events = await scored(engine, "The capital of France is" + generated.token, max_tokens=2)
    assert isinstance(events[0], PromptLogprobs)
    assert [e for e in events if isinstance(e, TextDelta)]  # then it goes on generating
    last = events[0].logprobs[-1]
    assert last.token == generated.token
    assert last.logprob == pytest.approx(generated.logprob, abs=1e-3)
