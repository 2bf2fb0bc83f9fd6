"""The official openai client, pointed at a real HTTP server with `base_url`, works unchanged."""

from __future__ import annotations

import base64

import numpy as np
import openai
import pytest


@pytest.fixture(scope="module")
def oai(fake_server_url) -> openai.OpenAI:
    return openai.OpenAI(base_url=fake_server_url + "/v1", api_key="unused", max_retries=0)


def test_chat(oai):
    response = oai.chat.completions.create(
        model="default", messages=[{"role": "user", "content": "hello there"}]
    )
    assert response.object == "chat.completion"
    assert response.model == "fake-chat"
    assert response.choices[0].message.content == "You said: hello there"
    assert response.choices[0].finish_reason == "stop"
    assert response.usage.completion_tokens == 4
    assert response.usage.total_tokens == response.usage.prompt_tokens + 4


def test_chat_stream_with_usage(oai):
    stream = oai.chat.completions.create(
        model="default",
        messages=[{"role": "user", "content": "one two three"}],
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "You said: one two three"
    assert chunks[0].choices[0].delta.role == "assistant"
    finishes = [
        c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason
    ]
    assert finishes == ["stop"]
    assert chunks[-1].choices == []
    assert chunks[-1].usage.completion_tokens == 5
    assert all(c.usage is None for c in chunks[:-1])


def test_chat_n_and_max_tokens(oai):
    response = oai.chat.completions.create(
        model="default", messages=[{"role": "user", "content": "a b c d e f"}], n=3, max_tokens=3
    )
    assert [c.index for c in response.choices] == [0, 1, 2]
    assert all(c.finish_reason == "length" for c in response.choices)
    assert response.usage.completion_tokens == 9


def test_completions(oai):
    response = oai.completions.create(model="default", prompt="alpha beta gamma", max_tokens=5)
    assert response.object == "text_completion"
    assert response.choices[0].text == "gamma beta alpha"
    echoed = oai.completions.create(model="default", prompt=["x y", "p q"], echo=True)
    assert [c.text for c in echoed.choices] == ["x yy x", "p qq p"]


def test_max_tokens_zero_without_echo_is_a_400_naming_it(oai):
    with pytest.raises(openai.BadRequestError) as refused:
        oai.completions.create(model="default", prompt="x y", max_tokens=0)
    assert refused.value.body["param"] == "max_tokens"


def test_scoring_a_prompt_on_an_engine_that_cannot_is_a_400_naming_echo(oai):
    with pytest.raises(openai.BadRequestError) as refused:
        oai.completions.create(model="default", prompt="x y", echo=True, logprobs=1)
    assert refused.value.body["param"] == "echo" and "llama.cpp" in refused.value.body["message"]


def test_more_prompts_than_the_engine_runs_and_queues_answer_in_turns(oai):
    # the fake engine runs 4 and queues 16: 128 choices at once would be a 429 halfway
    prompts = [f"word {i}" for i in range(64)]
    response = oai.completions.create(model="default", prompt=prompts, n=2, max_tokens=2)
    assert sorted(c.index for c in response.choices) == list(range(128))
    streamed = oai.completions.create(model="default", prompt=prompts, max_tokens=2, stream=True)
    finished = [c.choices[0].index for c in streamed if c.choices and c.choices[0].finish_reason]
    assert sorted(finished) == list(range(64))


def test_completions_stream(oai):
    stream = oai.completions.create(
        model="default", prompt="one two", stream=True, stream_options={"include_usage": True}
    )
    chunks = list(stream)
    assert "".join(c.choices[0].text for c in chunks if c.choices) == "two one"
    assert chunks[-1].usage.total_tokens == 4


def test_embeddings_float_and_base64(oai):
    floats = oai.embeddings.create(model="embed", input=["a", "b"])
    assert len(floats.data) == 2 and len(floats.data[0].embedding) == 8
    raw = oai.embeddings.with_raw_response.create(
        model="embed", input="a", encoding_format="base64"
    ).http_response.json()
    decoded = np.frombuffer(base64.b64decode(raw["data"][0]["embedding"]), dtype="<f4")
    assert np.allclose(decoded, floats.data[0].embedding, atol=1e-6)


def test_models(oai):
    names = [m.id for m in oai.models.list().data]
    assert names == ["fake-chat", "fake-embed"]
    assert oai.models.retrieve("default").id == "fake-chat"


def test_unknown_model_is_404_naming_the_models(oai):
    with pytest.raises(openai.NotFoundError) as caught:
        oai.chat.completions.create(model="gpt-9", messages=[{"role": "user", "content": "x"}])
    error = caught.value.body
    assert caught.value.status_code == 404
    assert error["code"] == "model_not_found"
    assert "fake-chat" in error["message"]


def test_bad_request_names_the_parameter(oai):
    with pytest.raises(openai.BadRequestError) as caught:
        oai.chat.completions.create(
            model="default", messages=[{"role": "user", "content": "x"}], temperature=5
        )
    assert caught.value.body["param"] == "temperature"
