"""The upstream engine forwards to an OpenAI-compatible server and passes usage through."""

from __future__ import annotations

import openai
import pytest

from modelmint.api import create_app
from modelmint.core.errors import InvalidRequestError, UpstreamError
from modelmint.core.settings import Settings
from modelmint.runtime.engine import Finished, GenerationRequest, Meter, SamplingParams, TextDelta
from modelmint.runtime.pool import ModelPool
from modelmint.runtime.registry import ModelSpec, Registry
from modelmint.runtime.upstream import UpstreamEngine
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
