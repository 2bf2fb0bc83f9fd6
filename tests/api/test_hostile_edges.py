"""Hostile edge cases that once broke the API: more choices than slots, lone surrogates,
union-typed fields and a missing body."""

from __future__ import annotations

import asyncio

import httpx
import pytest

CHAT, COMPL, EMB = "/v1/chat/completions", "/v1/completions", "/v1/embeddings"
JSON = {"content-type": "application/json"}


@pytest.fixture
async def lenient_client(fake_app):
    """Like `client`, but an unhandled exception in the app comes back as its 500 response."""
    transport = httpx.ASGITransport(app=fake_app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://localhost") as c:
        yield c


@pytest.mark.parametrize(
    ("path", "body", "choices"),
    [
        (CHAT, {"model": "default", "messages": [{"role": "user", "content": "hi"}], "n": 8}, 8),
        (COMPL, {"model": "default", "prompt": ["a", "b", "c", "d", "e"]}, 5),
    ],
)
async def test_more_choices_than_slots_does_not_hang(client, path, body, choices):
    # the fake pool's chat model has parallel=4; n=8 is within the schema's MAX_N
    response = await asyncio.wait_for(client.post(path, json=body), timeout=5)
    assert response.status_code == 200, response.text
    assert len(response.json()["choices"]) == choices


@pytest.mark.parametrize(
    ("path", "raw", "param"),
    [
        (
            CHAT,
            b'{"model": "default", "messages": [{"role": "user", "content": "\\ud800"}]}',
            "messages",
        ),
        (
            CHAT,
            b'{"model": "default", "stream": true, '
            b'"messages": [{"role": "user", "content": "x \\udfff"}]}',
            "messages",
        ),
        (COMPL, b'{"model": "default", "prompt": "\\ud800"}', "prompt"),
        (EMB, b'{"model": "embed", "input": ["ok", "\\ud800"]}', "input"),
    ],
    ids=["chat", "chat-stream", "completions", "embeddings"],
)
async def test_lone_surrogate_escape_is_a_400(lenient_client, path, raw, param):
    response = await lenient_client.post(path, content=raw, headers=JSON)
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["param"].split(".")[0] == param


async def test_lone_surrogate_in_a_plain_str_field_is_already_a_400(lenient_client):
    raw = b'{"model": "\\ud800", "messages": [{"role": "user", "content": "x"}]}'
    response = await lenient_client.post(CHAT, content=raw, headers=JSON)
    assert response.status_code == 400
    assert response.json()["error"]["param"] == "model"


@pytest.mark.parametrize(
    ("path", "body", "param"),
    [
        (
            CHAT,
            {
                "model": "default",
                "messages": [{"role": "user", "content": "x"}],
                "stop": ["a", "b", "c", "d", "e"],
            },
            "stop",
        ),
        (COMPL, {"model": "default", "prompt": [1, 2]}, "prompt"),
        (EMB, {"model": "embed", "input": []}, "input"),
        (
            CHAT,
            {
                "model": "default",
                "messages": [
                    {
                        "role": "user",
                        "content": [{"type": "image_url", "image_url": {"url": "http://x/y.png"}}],
                    }
                ],
            },
            "messages.0.content",
        ),
    ],
)
async def test_union_field_errors_name_the_field(client, path, body, param):
    response = await client.post(path, json=body)
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["param"] == param
    assert ".str" not in error["message"]


@pytest.mark.parametrize("path", [CHAT, COMPL, EMB])
async def test_empty_body_message_says_the_body_is_missing(client, path):
    response = await client.post(path, content=b"", headers=JSON)
    assert response.status_code == 400
    message = response.json()["error"]["message"]
    assert "''" not in message
    assert "body" in message.lower()
