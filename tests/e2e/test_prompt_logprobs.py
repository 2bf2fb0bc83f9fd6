"""Scoring a prompt on the real llama.cpp engine with the official openai client:
`echo` with `logprobs` gives every prompt token's log-probability (the first has none),
the same number the engine gives that token when it generates it; `max_tokens: 0` only
scores; a fluent sentence is likelier than its words shuffled; a stream sends the
scored prompt first; the transformers-free fake engines refuse with a 400."""

from __future__ import annotations

import openai
import pytest

pytestmark = pytest.mark.real_model

PROMPT = "The capital of France is"


@pytest.fixture(scope="module")
def oai(real_server_url) -> openai.OpenAI:
    return openai.OpenAI(base_url=real_server_url + "/v1", api_key="none", max_retries=0)


def scored(oai: openai.OpenAI, prompt: str, **extra):
    return oai.completions.create(
        model="default", prompt=prompt, echo=True, logprobs=1, max_tokens=0, **extra
    ).choices[0]


def test_every_prompt_token_is_scored_and_the_first_has_none(oai):
    choice = scored(oai, PROMPT)
    logprobs = choice.logprobs
    assert choice.text == PROMPT and choice.finish_reason == "length"
    assert "".join(logprobs.tokens) == PROMPT
    assert logprobs.token_logprobs[0] is None and logprobs.top_logprobs[0] is None
    assert all(lp <= 0 for lp in logprobs.token_logprobs[1:])
    assert all(len(top) == 1 for top in logprobs.top_logprobs[1:])
    assert logprobs.text_offset == sorted(logprobs.text_offset)
    assert logprobs.text_offset[-1] == PROMPT.rindex(logprobs.tokens[-1])


def test_a_scored_token_has_the_logprob_it_was_generated_with(oai):
    generated = oai.completions.create(
        model="default", prompt=PROMPT, max_tokens=1, temperature=0, logprobs=1
    ).choices[0]
    choice = scored(oai, PROMPT + generated.text)
    assert choice.logprobs.tokens[-1] == generated.logprobs.tokens[0]
    assert choice.logprobs.token_logprobs[-1] == pytest.approx(
        generated.logprobs.token_logprobs[0], abs=1e-3
    )


def test_a_fluent_sentence_is_likelier_than_its_words_shuffled(oai):
    def total(text: str) -> float:
        return sum(scored(oai, text).logprobs.token_logprobs[1:])

    assert total("The cat sat on the mat.") > total("Mat the on sat cat the.") + 5


def test_echo_with_logprobs_and_new_tokens_scores_both(oai):
    choice = oai.completions.create(
        model="default", prompt=PROMPT, echo=True, logprobs=0, max_tokens=3, temperature=0
    ).choices[0]
    prompt_tokens = len(scored(oai, PROMPT).logprobs.tokens)
    assert choice.text.startswith(PROMPT) and len(choice.text) > len(PROMPT)
    assert len(choice.logprobs.tokens) == prompt_tokens + 3
    assert "".join(choice.logprobs.tokens) == choice.text


def test_a_stream_sends_the_scored_prompt_first(oai):
    chunks = list(
        oai.completions.create(
            model="default", prompt=PROMPT, echo=True, logprobs=1, max_tokens=2, stream=True
        )
    )
    first = chunks[0].choices[0]
    assert first.text == PROMPT and first.logprobs.token_logprobs[0] is None
    assert "".join(c.choices[0].text for c in chunks if c.choices).startswith(PROMPT)


def test_nothing_to_do_is_a_400(oai):
    with pytest.raises(openai.BadRequestError, match="max_tokens 0"):
        oai.completions.create(model="default", prompt=PROMPT, max_tokens=0)
