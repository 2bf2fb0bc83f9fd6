"""The transformers engine on a real checkpoint (the default GGUF, exported with
`modelmint export-hf`): batching, isolation, cancellation, sampling, refusals."""

from __future__ import annotations

import asyncio

import pytest
from typer.testing import CliRunner

from modelmint.cli.main import app
from modelmint.core.errors import ContextLengthExceededError, InvalidRequestError
from modelmint.runtime.engine import GenerationRequest, Meter, SamplingParams
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
