"""Chat, completions and embeddings as use cases, without HTTP: the usage a caller sees is
the ledger's row, a stream closed midway is settled once as cancelled, and privacy's
redacted copy reaches the engine while the caller gets the values back."""

from __future__ import annotations

from modelmint.runtime.engine import GenerationRequest
from modelmint.services.chat import open_chat
from modelmint.services.completions import open_completion
from modelmint.services.context import Endpoint
from modelmint.services.embeddings import create_embeddings
from modelmint.services.schemas import ChatCompletionRequest, CompletionRequest, EmbeddingRequest
from tests.services.conftest import context


def chat(content: str, **fields) -> ChatCompletionRequest:
    return ChatCompletionRequest(
        model="default", messages=[{"role": "user", "content": content}], **fields
    )


def billed(row) -> dict:
    return {
        "prompt_tokens": row.prompt_tokens,
        "completion_tokens": row.completion_tokens,
        "total_tokens": row.prompt_tokens + row.completion_tokens,
    }


def shown(usage: dict) -> dict:
    return {k: usage[k] for k in ("prompt_tokens", "completion_tokens", "total_tokens")}


async def test_a_chat_answer_shows_the_usage_its_ledger_row_bills(world):
    account = await world.account()
    run = await open_chat(
        world.models, world.platform.metering, context(account, "req_chat"), chat("a b c", n=3)
    )
    body = await run.respond()
    (row,) = world.rows("req_chat")
    assert shown(body["usage"]) == billed(row)
    # three choices of one prompt: the prompt is counted once, every answer's tokens
    assert body["usage"]["prompt_tokens"] == 3 and body["usage"]["completion_tokens"] == 15
    assert row.status == "ok" and row.endpoint == "chat.completions"


async def test_a_streamed_completion_ends_with_the_billed_usage(world):
    account = await world.account()
    request = CompletionRequest(
        model="default", prompt=["x y", "p q r"], n=2, stream=True,
        stream_options={"include_usage": True},
    )  # fmt: skip
    ctx = context(account, "req_stream", Endpoint.COMPLETIONS)
    run = await open_completion(world.models, world.platform.metering, ctx, request)
    chunks = [chunk async for chunk in run.stream()]
    (row,) = world.rows("req_stream")
    assert shown(chunks[-1]["usage"]) == billed(row)
    assert row.prompt_tokens == 5  # each prompt once, however many choices it has


async def test_a_stream_closed_midway_is_settled_once_as_cancelled(world):
    account = await world.account(token_limit=10_000)
    ctx = context(account, "req_cut")
    run = await open_chat(world.models, world.platform.metering, ctx, chat("a " * 40, stream=True))
    chunks = run.stream()
    await anext(chunks)  # the role chunk; then the client goes away
    await anext(chunks)
    await chunks.aclose()
    await world.drained()
    (row,) = world.rows("req_cut")
    assert row.status == "cancelled" and 0 < row.completion_tokens < 42
    counter = world.counter(account.org.id)
    assert counter.tokens == row.prompt_tokens + row.completion_tokens
    assert counter.reserved_tokens == 0


async def test_embeddings_show_the_usage_they_bill(world):
    account = await world.account()
    ctx = context(account, "req_embed", Endpoint.EMBEDDINGS)
    request = EmbeddingRequest(model="embed", input=["one two", "three"])
    result = await create_embeddings(world.models, world.platform.metering, ctx, request)
    (row,) = world.rows("req_embed")
    assert result.body["usage"] == {"prompt_tokens": 3, "total_tokens": 3}
    assert (row.prompt_tokens, row.completion_tokens, row.endpoint) == (3, 0, "embeddings")
    assert result.used.usage.prompt_tokens == row.prompt_tokens


async def test_privacy_redacts_a_copy_for_the_engine_and_restores_the_answer(
    world, monkeypatch
):
    account = await world.account(privacy={"pii_mode": "redact_model"})
    _, engine = world.pool.get("default")
    seen: list[GenerationRequest] = []
    measure = engine.measure
    monkeypatch.setattr(engine, "measure", lambda r: seen.append(r) or measure(r))
    request = chat("call me on 13812345678 please")
    ctx = context(account, "req_pii")
    body = await (await open_chat(world.models, world.platform.metering, ctx, request)).respond()
    assert "13812345678" not in str(seen[0].messages)  # the engine saw a placeholder
    assert body["choices"][0]["message"]["content"] == "You said: call me on 13812345678 please"
    assert request.messages[0].content == "call me on 13812345678 please"  # not rewritten

