"""The upstream engine forwards to an OpenAI-compatible server and passes usage through."""

from __future__ import annotations

import httpx
import openai
import pytest

from modelmint.api import create_app
from modelmint.core.errors import InvalidRequestError, UpstreamError
from modelmint.core.settings import Settings
from modelmint.runtime.engine import Finished, GenerationRequest, Meter, SamplingParams, TextDelta
from modelmint.runtime.pool import ModelPool
from modelmint.runtime.registry import ModelSpec, Registry
from modelmint.runtime.upstream import UpstreamEngine, chunk_logprobs
from tests.helpers import running_server


async def collect(engine, **kwargs):
    text, finished = [], None
    async for event in engine.generate(
        engine.measure(GenerationRequest(SamplingParams(), **kwargs)), Meter()
    ):
        if isinstance(event, TextDelta):
            text.append(event.text)
        elif isinstance(event, Finished):
            finished = event
    return "".join(text), finished


@pytest.fixture
async def upstream(fake_server_url):
    engine = UpstreamEngine(fake_server_url + "/v1", "fake-chat")
    await engine.start()
    yield engine
    await engine.close()


async def test_chat_streams_through_with_usage(upstream):
    text, finished = await collect(upstream, messages=[{"role": "user", "content": "a b c"}])
    assert text == "You said: a b c"
    assert finished.reason == "stop"
    assert finished.usage.completion_tokens == 5 and finished.usage.prompt_tokens == 3


async def test_completion_and_length(upstream):
    request = GenerationRequest(SamplingParams(max_tokens=2), prompt="x y z")
    events = [e async for e in upstream.generate(upstream.measure(request), Meter())]
    assert "".join(e.text for e in events if isinstance(e, TextDelta)) == "z y"
    assert events[-1].reason == "length"


async def test_embeddings(fake_server_url):
    engine = UpstreamEngine(fake_server_url + "/v1", "fake-embed")
    await engine.start()
    result = await engine.embed(["one", "two"])
    assert len(result.vectors) == 2 and result.prompt_tokens == 2
    await engine.close()


async def test_upstream_refusal_is_a_400(fake_server_url):
    engine = UpstreamEngine(fake_server_url + "/v1", "no-such-model")
    await engine.start()
    with pytest.raises(InvalidRequestError, match="no-such-model"):
        await collect(engine, messages=[{"role": "user", "content": "x"}])
    await engine.close()


async def test_unreachable_upstream_is_a_502():
    engine = UpstreamEngine("http://127.0.0.1:9/v1", "m", timeout=2)
    await engine.start()
    with pytest.raises(UpstreamError) as caught:
        await collect(engine, messages=[{"role": "user", "content": "x"}])
    assert caught.value.status == 502
    await engine.close()


def test_openai_client_through_a_modelmint_proxy(fake_server_url, tmp_path):
    spec = ModelSpec(
        name="proxied",
        engine="upstream",
        base_url=fake_server_url + "/v1",
        upstream_model="fake-chat",
    )
    pool = ModelPool(Registry([spec]), {"proxied": UpstreamEngine(spec.base_url, "fake-chat")})
    with running_server(create_app(Settings(data_dir=tmp_path, auth=False), pool=pool)) as url:
        client = openai.OpenAI(base_url=url + "/v1", api_key="x", max_retries=0)
        stream = client.chat.completions.create(
            model="proxied",
            messages=[{"role": "user", "content": "hi you"}],
            stream=True,
            stream_options={"include_usage": True},
        )
        chunks = list(stream)
        assert (
            "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
            == "You said: hi you"
        )
        assert chunks[-1].usage.completion_tokens == 4


async def test_logprobs_pass_through_in_both_shapes(upstream):
    params = SamplingParams(logprobs=True, top_logprobs=2)
    for kwargs in ({"messages": [{"role": "user", "content": "a b"}]}, {"prompt": "x y z"}):
        request = GenerationRequest(params, **kwargs)
        events = [e async for e in upstream.generate(upstream.measure(request), Meter())]
        deltas = [e for e in events if isinstance(e, TextDelta)]
        assert deltas and all(d.logprobs for d in deltas), kwargs
        entry = deltas[0].logprobs[0]
        assert entry.token == deltas[0].text and entry.logprob == -0.5
        assert entry.bytes == list(entry.token.encode())
        assert [(t.token, t.logprob) for t in entry.top_logprobs] == [
            (entry.token, -0.5), ("<other>", -1.5),
        ]  # fmt: skip
    plain = GenerationRequest(SamplingParams(), messages=[{"role": "user", "content": "a"}])
    events = [e async for e in upstream.generate(upstream.measure(plain), Meter())]
    assert all(e.logprobs is None for e in events if isinstance(e, TextDelta))


def test_chunk_logprobs_reads_what_other_servers_send():
    chat = {"logprobs": {"content": [
        {"token": "好", "logprob": -0.1, "bytes": [229, 165, 189],
         "top_logprobs": [{"token": "好", "logprob": -0.1}]},
    ]}}  # fmt: skip
    (entry,) = chunk_logprobs(chat, chat=True)
    assert (entry.token, entry.logprob, entry.bytes) == ("好", -0.1, [229, 165, 189])
    assert entry.top_logprobs[0].bytes == list("好".encode())
    legacy = {"logprobs": {"tokens": [" a", " b"], "token_logprobs": [-1.0, -2.0],
                           "top_logprobs": [{" a": -1.0, " c": -3.0}, None]}}  # fmt: skip
    first, second = chunk_logprobs(legacy, chat=False)
    assert (first.token, first.logprob, [t.token for t in first.top_logprobs]) == (
        " a", -1.0, [" a", " c"],
    )  # fmt: skip
    assert second.top_logprobs == []
    assert chunk_logprobs({"logprobs": None}, chat=True) is None


def test_classify_by_chat_through_an_upstream_model(fake_server_url, tmp_path):
    """The upstream is asked for no more alternatives than OpenAI-compatible servers
    allow (20): with 200, as llama.cpp is asked, this is the upstream's 400."""
    spec = ModelSpec(
        name="proxied", engine="upstream", base_url=fake_server_url + "/v1",
        upstream_model="fake-chat",
    )  # fmt: skip
    pool = ModelPool(Registry([spec]), {"proxied": UpstreamEngine(spec.base_url, "fake-chat")})
    with running_server(create_app(Settings(data_dir=tmp_path, auth=False), pool=pool)) as url:
        body = {"input": ["a b"], "labels": ["<other>", "<third>"], "model": "proxied",
                "method": "chat"}  # fmt: skip
        answer = httpx.post(url + "/v1/classify", json=body, timeout=30)
    assert answer.status_code == 200, answer.text
    (item,) = answer.json()["data"]
    assert sum(s["score"] for s in item["scores"]) == pytest.approx(1.0, abs=1e-4)
