"""The llama.cpp engine on the real default model: batching, isolation, cancellation, sampling."""

from __future__ import annotations

import asyncio
import json

import pytest

from modelmint.core.errors import ContextLengthExceededError, InvalidRequestError
from modelmint.runtime.engine import (
    GenerationRequest,
    Meter,
    PromptLogprobs,
    SamplingParams,
    TextDelta,
)
from modelmint.runtime.llamacpp import LlamaCppEngine
from modelmint.runtime.registry import Registry

pytestmark = pytest.mark.real_model

CODE_WORDS = ["apple", "banana", "cherry", "falcon", "guitar", "hammer", "island", "jungle"]


def code_word_prompt(word: str) -> str:
    # this few-shot form is one SmolLM2-135M repeats reliably for all eight words
    return (
        "Repeat the code word exactly.\n"
        f"Code word: {word}\nRepeated: {word}\n\nCode word: {word}\nRepeated:"
    )


@pytest.fixture(scope="module")
async def engine():
    spec = Registry.from_file().resolve("default")
    engine = LlamaCppEngine(
        spec.weights_path(),
        context_length=512,
        parallel=8,
        max_queue=32,
        threads=2,
        default_system_prompt=spec.default_system_prompt,
    )
    await engine.start()
    yield engine
    await engine.close()


async def run(engine, *, prompt=None, messages=None, **params):
    request = GenerationRequest(SamplingParams(**params), messages=messages, prompt=prompt)
    text, deltas, finished = [], [], None
    async for event in engine.generate(engine.measure(request), Meter()):
        if isinstance(event, TextDelta):
            text.append(event.text)
            deltas.append(event)
        else:
            finished = event
    return "".join(text), deltas, finished


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
    solo = [
        await run(engine, prompt=code_word_prompt(w), temperature=0, max_tokens=12)
        for w in CODE_WORDS[:4]
    ]
    together = await asyncio.gather(
        *(
            run(engine, prompt=code_word_prompt(w), temperature=0, max_tokens=12)
            for w in CODE_WORDS[:4]
        )
    )
    for alone, batched in zip(solo, together, strict=True):
        assert alone[0].split("\n")[0] == batched[0].split("\n")[0]


async def test_cancelling_mid_batch_frees_the_slot(engine):
    messages = [{"role": "user", "content": "Write a long story about a dragon."}]
    params = dict(temperature=0.8, max_tokens=200, seed=1)
    keep = asyncio.create_task(run(engine, messages=messages, **params))
    stream = engine.generate(
        engine.measure(GenerationRequest(SamplingParams(**params), messages=messages)), Meter()
    )
    received = 0
    async for event in stream:
        received += isinstance(event, TextDelta)
        if received == 3:
            break
    await stream.aclose()
    for _ in range(100):
        if engine.scheduler.running <= 1:
            break
        await asyncio.sleep(0.02)
    assert engine.scheduler.running <= 1  # only `keep` is left
    text, _, finished = await keep
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
                max_tokens=24,
                logprobs=True,
            )
            for i in range(16)
        )
    )
    for _, deltas, finished in results:
        assert finished is not None
        tokens = sum(len(d.logprobs or []) for d in deltas)
        assert tokens == finished.usage.completion_tokens
        assert finished.usage.completion_tokens <= 24
    assert engine.gate.running == 0 and engine.scheduler.running == 0


async def test_json_schema_output_parses_and_validates(engine):
    schema = {
        "type": "object",
        "properties": {"city": {"type": "string"}, "population": {"type": "integer"}},
        "required": ["city", "population"],
    }
    text, _, _ = await run(
        engine,
        messages=[{"role": "user", "content": "Describe Paris as JSON."}],
        temperature=0,
        max_tokens=64,
        json_schema=schema,
    )
    data = json.loads(text)
    assert isinstance(data["city"], str) and isinstance(data["population"], int)


async def test_json_object_mode(engine):
    text, _, finished = await run(
        engine,
        messages=[{"role": "user", "content": "Give me a JSON object with a cat's name and age."}],
        temperature=0,
        max_tokens=200,
        json_object=True,
    )
    assert finished.reason == "stop"
    assert isinstance(json.loads(text), dict)


async def test_stop_strings_cut_the_output(engine):
    text, _, finished = await run(
        engine,
        messages=[{"role": "user", "content": "List the days of the week."}],
        temperature=0,
        max_tokens=100,
        stop=["Wednesday"],
    )
    assert "Wednesday" not in text and finished.reason == "stop"


async def test_seed_makes_sampling_reproducible(engine):
    kwargs = dict(
        messages=[{"role": "user", "content": "Tell me a fun fact."}],
        temperature=1.0,
        max_tokens=20,
    )
    first = await run(engine, seed=42, **kwargs)
    second = await run(engine, seed=42, **kwargs)
    assert first[0] == second[0]


async def test_logprobs_follow_greedy_choice(engine):
    _, deltas, _ = await run(
        engine,
        prompt="The capital of France is",
        temperature=0,
        max_tokens=5,
        logprobs=True,
        top_logprobs=3,
    )
    entries = [e for d in deltas for e in d.logprobs]
    assert entries
    for entry in entries:
        assert entry.logprob <= 0
        assert len(entry.top_logprobs) == 3
        assert entry.top_logprobs[0].logprob == pytest.approx(entry.logprob, abs=1e-4)
        assert [t.logprob for t in entry.top_logprobs] == sorted(
            (t.logprob for t in entry.top_logprobs), reverse=True
        )


async def test_length_limit_and_context_check(engine):
    _, _, finished = await run(engine, prompt="Once upon a time", temperature=0, max_tokens=5)
    assert finished.reason == "length" and finished.usage.completion_tokens == 5
    with pytest.raises(ContextLengthExceededError, match="512"):
        await run(engine, prompt="hello " * 100, max_tokens=500)


async def test_invalid_schema_is_a_clear_error(engine):
    with pytest.raises(InvalidRequestError):
        await run(engine, prompt="x", max_tokens=5, json_schema={"type": "no-such-type"})


async def test_multibyte_text_is_streamed_intact(engine):
    text, deltas, _ = await run(
        engine,
        messages=[{"role": "user", "content": "Write the word 你好 three times."}],
        temperature=0,
        max_tokens=30,
    )
    assert "\ufffd" not in text


async def test_a_shared_prefix_is_not_computed_again(engine):
    system = " ".join(f"Rule {i}: answer politely and briefly." for i in range(30))
    questions = ["What is 2+2?", "Name a colour.", "What is the capital of France?"]
    usages = []
    for question in questions:
        messages = [{"role": "system", "content": system}, {"role": "user", "content": question}]
        request = GenerationRequest(SamplingParams(max_tokens=12, temperature=0), messages=messages)
        finished = [e async for e in engine.generate(engine.measure(request), Meter())][-1]
        usages.append(finished.usage)
    assert usages[0].prompt_tokens > 250
    # each later request reuses at least the system prompt from a freed slot's cells
    for usage in usages[1:]:
        assert usage.cached_tokens >= usages[0].prompt_tokens - 20
        assert usage.cached_tokens < usage.prompt_tokens


async def test_reused_cells_give_the_same_answer(engine):
    messages = [{"role": "user", "content": "What is the capital of France?"}]
    first = await run(engine, messages=messages, max_tokens=16, temperature=0)
    again = await run(engine, messages=messages, max_tokens=16, temperature=0)
    assert again[2].usage.cached_tokens == again[2].usage.prompt_tokens - 1
    assert first[0] == again[0]


async def test_the_next_turn_reuses_the_previous_answer(engine):
    first = [{"role": "user", "content": "Name three fruits."}]
    answer, _, finished = await run(engine, messages=first, max_tokens=24, temperature=0)
    turn = [*first, {"role": "assistant", "content": answer}, {"role": "user", "content": "And?"}]
    _, _, second = await run(engine, messages=turn, max_tokens=4, temperature=0)
    # the slot kept the prompt and the answer; only the template's seams and the new
    # question are computed again
    reused_answer = second.usage.cached_tokens - finished.usage.prompt_tokens
    assert reused_answer >= finished.usage.completion_tokens - 4


async def test_a_prompt_whose_slot_was_taken_comes_back_from_the_prompt_cache(engine):
    first = [{"role": "user", "content": "List the planets of the solar system."}]
    other = [{"role": "user", "content": "Spell the word cat backwards."}]
    answer, _, _ = await run(engine, messages=first, max_tokens=16, temperature=0)
    await run(engine, messages=other, max_tokens=16, temperature=0)  # takes that slot
    saved = len(engine.scheduler.prompt_cache)
    again, _, finished = await run(engine, messages=first, max_tokens=16, temperature=0)
    assert saved >= 1
    assert finished.usage.cached_tokens == finished.usage.prompt_tokens - 1  # copied back
    assert again == answer


def test_a_new_prompt_takes_the_longest_shared_prefix_then_the_emptiest_sequence():
    from modelmint.runtime.llamacpp.scheduler import best_free_seq_id

    cached = {0: [9, 9, 9, 9, 9], 1: [1, 2, 7], 2: [5]}  # sequence 3 is empty
    assert best_free_seq_id([0, 1, 2, 3], cached, [1, 2, 3]) == 1  # shares two tokens
    assert best_free_seq_id([0, 2, 3], cached, [4, 4]) == 3  # shares nothing: the empty one
    assert best_free_seq_id([0, 2], cached, [4, 4]) == 2  # then the fewest cells to save


@pytest.mark.parametrize("length", [10**9, 10**8])
async def test_a_schema_asking_for_a_huge_string_is_refused_at_once(engine, length):
    # once grew the process to 20 GB (10**9) or held the event loop for 20 s (10**8)
    schema = {"type": "string", "minLength": length, "maxLength": length}
    loop = asyncio.get_running_loop()
    started = loop.time()
    with pytest.raises(InvalidRequestError, match="minLength") as caught:
        await run(engine, prompt="x", max_tokens=30, json_schema=schema)
    assert loop.time() - started < 1.0
    assert caught.value.param == "response_format"


async def test_a_grammar_is_compiled_off_the_event_loop(engine):
    # big but allowed: 4 objects of 95 optional properties, ~75 ms to compile
    beats, done = [], asyncio.Event()

    async def heartbeat():
        while not done.is_set():
            beats.append(asyncio.get_running_loop().time())
            await asyncio.sleep(0.002)

    ticker = asyncio.create_task(heartbeat())
    await asyncio.sleep(0.01)
    for round in range(3):  # new names each time: nothing comes from the cache
        fields = {f"f{round}_{i:03}": {"type": "integer"} for i in range(95)}
        objects = {f"o{j}": {"type": "object", "properties": fields} for j in range(4)}
        schema = {"type": "object", "properties": objects}
        await run(engine, prompt="{", max_tokens=1, temperature=0, json_schema=schema)
    done.set()
    await ticker
    assert max(b - a for a, b in zip(beats, beats[1:], strict=False)) < 0.04


async def test_a_sequence_that_outgrows_its_cells_ends_alone():
    """Requests are measured against the context, so no sequence can outgrow its KV stream
    through the API; past that check (here, built by hand) only that sequence ends."""
    from modelmint.runtime.bridge import Channel
    from modelmint.runtime.llamacpp.sampling import SamplerChain
    from modelmint.runtime.llamacpp.sequence import LlamaSequence
    from modelmint.runtime.stops import StopMatcher

    spec = Registry.from_file().resolve("default")
    small = LlamaCppEngine(spec.weights_path(), context_length=256, parallel=2, threads=2)
    await small.start()
    try:
        model = small.model

        def sequence(text: str, max_new: int) -> LlamaSequence:
            prompt = model.tokenize(text, add_special=True, parse_special=False)
            return LlamaSequence(
                prompt=prompt,
                max_new_tokens=max_new,
                sampler=SamplerChain(
                    model.vocab, model.n_vocab, SamplingParams(temperature=0), None
                ),
                channel=Channel(),
                stops=StopMatcher([]),
            )

        counting = "Count from 1 to 200: 1, 2, 3, 4, 5,"
        too_long = sequence("one two three " * 66, max_new=100)  # ~200 + 100 > 256 cells
        fits = sequence(counting, max_new=100)
        assert len(too_long.prompt) + 30 < 256 < len(too_long.prompt) + 100

        async def events(seq: LlamaSequence) -> list:
            try:
                return [event async for event in small.scheduler.stream(seq)]
            except Exception as exc:  # the error a sequence's stream ends with
                return [exc]

        ended, finished = await asyncio.gather(events(too_long), events(fits))
        assert isinstance(ended[-1], ContextLengthExceededError), ended[-1]
        assert "256" in ended[-1].message
        assert finished[-1].reason in ("length", "stop"), finished[-1]
        assert finished[-1].usage.completion_tokens > 256 - len(too_long.prompt)
    finally:
        await small.close()


async def test_a_grammar_too_slow_to_sample_ends_only_its_own_request(engine, monkeypatch):
    from modelmint.runtime.llamacpp import sampling

    monkeypatch.setattr(sampling, "GRAMMAR_SECONDS_PER_TOKEN", 0.0)  # every grammar is slow
    slow = run(engine, prompt="{", max_tokens=20, temperature=0, json_object=True)
    plain = run(engine, prompt=code_word_prompt("apple"), temperature=0, max_tokens=4, stop=["\n"])
    ended, (text, _, _) = await asyncio.gather(slow, plain, return_exceptions=True)
    assert isinstance(ended, InvalidRequestError) and "to sample" in ended.message
    assert ended.param == "response_format"
    assert "apple" in text


async def scores(engine, prompt: str) -> list:
    request = GenerationRequest(
        SamplingParams(max_tokens=0, logprobs=True, prompt_logprobs=True), prompt=prompt
    )
    events = [e async for e in engine.generate(engine.measure(request), Meter())]
    assert isinstance(events[0], PromptLogprobs) and events[-1].reason == "length"
    return events[0].logprobs


async def test_a_scored_prompt_is_the_same_alone_cached_or_beside_decoding_sequences(engine):
    # longer than one prefill chunk (128 tokens), so it is read in pieces while others decode
    prompt = " ".join(CODE_WORDS * 25)
    alone = await scores(engine, prompt)
    assert len(alone) == len(
        engine.measure(GenerationRequest(SamplingParams(), prompt=prompt)).prompt_ids
    )
    assert alone[0].logprob is None and all(e.logprob <= 0 for e in alone[1:])
    again = await scores(engine, prompt)  # its cells are cached now: none may be reused
    decoding = [
        run(engine, prompt=code_word_prompt(w), max_tokens=24, temperature=0)
        for w in CODE_WORDS[:4]
    ]
    beside, *_ = await asyncio.gather(scores(engine, prompt), *decoding)
    for other in (again, beside):
        assert [e.token for e in other] == [e.token for e in alone]
        assert [e.logprob for e in other[1:]] == pytest.approx(
            [e.logprob for e in alone[1:]], abs=0.02
        )
