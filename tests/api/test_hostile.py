"""Hostile input never gets a 500: always a 4xx in OpenAI's error shape, and the app keeps serving.

Every case posts something broken to /v1/chat/completions, /v1/completions or /v1/embeddings,
checks the status, the `{"error": {"message", "type", "param", "code"}}` body and the
`x-request-id` header, then checks that a normal chat request still succeeds.
"""

from __future__ import annotations

import asyncio
import json
import re

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from modelmint.api import create_app
from modelmint.services.schemas import ChatCompletionRequest, CompletionRequest, EmbeddingRequest
from tests.helpers import fake_pool

CHAT, COMPL, EMB = "/v1/chat/completions", "/v1/completions", "/v1/embeddings"
ENDPOINTS = [CHAT, COMPL, EMB]
MSGS = [{"role": "user", "content": "hi"}]
VALID = {
    CHAT: {"model": "default", "messages": MSGS},
    COMPL: {"model": "default", "prompt": "a b"},
    EMB: {"model": "embed", "input": "a"},
}
JSON = {"content-type": "application/json"}
GENERATED_ID = re.compile(r"^req_[0-9a-f]{24}$")


def error_of(response: httpx.Response, status: int | None = None) -> dict:
    """The `error` object of a 4xx answer in OpenAI's shape (asserting all of that)."""
    assert 400 <= response.status_code < 500, (response.status_code, response.text)
    if status is not None:
        assert response.status_code == status, response.text
    assert response.headers.get("x-request-id")
    body = response.json()
    assert set(body) == {"error"}
    error = body["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert isinstance(error["message"], str) and error["message"]
    assert isinstance(error["type"], str) and error["type"]
    assert error["param"] is None or isinstance(error["param"], str)
    assert error["code"] is None or isinstance(error["code"], str)
    return error


async def expect_error(client, response, status=400, code=None, param=None) -> dict:
    error = error_of(response, status)
    if code is not None:
        assert error["code"] == code, error
    if param is not None:
        assert error["param"] is not None and error["param"].split(".")[0] == param, error
    ok = await client.post(CHAT, json=VALID[CHAT])
    assert ok.status_code == 200, ok.text
    assert ok.json()["choices"][0]["message"]["content"] == "You said: hi"
    return error


@pytest.mark.parametrize("path", ENDPOINTS)
@pytest.mark.parametrize(
    "raw",
    [b"{bad", b"{", b"", b"[1, 2]", b"null", b"42", b'"text"', b"true", b"[" * 50_000],
    ids=["malformed", "truncated", "empty", "list", "null", "number", "string", "bool", "deep"],
)
async def test_body_that_is_not_a_json_object(client, path, raw):
    await expect_error(client, await client.post(path, content=raw, headers=JSON))


WRONG_TYPES = [
    (CHAT, "messages", "hello"),
    (CHAT, "messages", {}),
    (CHAT, "model", None),
    (CHAT, "model", 123),
    (CHAT, "max_tokens", "ten"),
    (CHAT, "max_tokens", 1.5),
    (CHAT, "temperature", [1]),
    (CHAT, "top_p", "high"),
    (CHAT, "n", "two"),
    (CHAT, "stream", "maybe"),
    (CHAT, "stop", 5),
    (CHAT, "seed", "s"),
    (CHAT, "logprobs", "x"),
    (CHAT, "response_format", "json"),
    (CHAT, "stream_options", []),
    (CHAT, "metadata", [1]),
    (COMPL, "prompt", 5),
    (COMPL, "prompt", [1, 2]),
    (COMPL, "max_tokens", "ten"),
    (COMPL, "echo", []),
    (COMPL, "logprobs", "x"),
    (EMB, "input", 5),
    (EMB, "input", None),
    (EMB, "encoding_format", "hex"),
    (EMB, "dimensions", "x"),
    (EMB, "model", []),
]


@pytest.mark.parametrize(("path", "field", "value"), WRONG_TYPES)
async def test_wrong_type_names_the_field(client, path, field, value):
    response = await client.post(path, json={**VALID[path], field: value})
    await expect_error(client, response, code="invalid_request", param=field)


OUT_OF_RANGE = [
    ("max_tokens", -1),
    ("max_tokens", 0),
    ("max_tokens", 1_000_001),
    ("temperature", 5),
    ("temperature", -0.1),
    ("top_p", 0),
    ("top_p", 2),
    ("n", 0),
    ("n", 100),
    ("stop", ["a", "b", "c", "d", "e"]),
    ("stop", [""]),
    ("messages", []),
    ("messages", [{"role": "robot", "content": "x"}]),
    ("messages", [{"role": "user"}]),
    (
        "messages",
        [
            {
                "role": "user",
                "content": [{"type": "image_url", "image_url": {"url": "http://x/y.png"}}],
            }
        ],
    ),
    ("messages", [{"role": "user", "content": "x", "extra": 1}]),
]


@pytest.mark.parametrize(("field", "value"), OUT_OF_RANGE)
async def test_chat_out_of_range_values(client, field, value):
    response = await client.post(CHAT, json={**VALID[CHAT], field: value})
    await expect_error(client, response, code="invalid_request", param=field)


@pytest.mark.parametrize("path", [CHAT, COMPL])
async def test_huge_max_tokens_is_context_length_exceeded(client, path):
    response = await client.post(path, json={**VALID[path], "max_tokens": 1_000_000})
    error = await expect_error(client, response, code="context_length_exceeded", param="max_tokens")
    assert "256" in error["message"] and "1000000" in error["message"]


@pytest.mark.parametrize("path", ENDPOINTS)
async def test_unknown_field_is_named(client, path):
    response = await client.post(path, json={**VALID[path], "frobnicate": 1})
    error = await expect_error(client, response, param="frobnicate")
    assert "frobnicate" in error["message"]


@pytest.mark.parametrize(
    ("path", "field", "value"),
    [
        (CHAT, "tools", [{"type": "function", "function": {"name": "f"}}]),
        (CHAT, "functions", [{"name": "f"}]),
        (CHAT, "logit_bias", {"50256": -100}),
        (CHAT, "audio", {"voice": "alloy"}),
        (COMPL, "suffix", "the end"),
        (COMPL, "logit_bias", {"1": 1}),
    ],
)
async def test_unsupported_openai_field(client, path, field, value):
    response = await client.post(path, json={**VALID[path], field: value})
    error = await expect_error(client, response, code="unsupported_parameter", param=field)
    assert field in error["message"]


def oversized_body() -> bytes:
    return json.dumps(
        {"model": "default", "messages": [{"role": "user", "content": "a" * 1_500_000}]}
    ).encode()


@pytest.mark.parametrize("path", ENDPOINTS)
async def test_body_over_the_limit_with_content_length(client, path):
    response = await client.post(path, content=oversized_body(), headers=JSON)
    await expect_error(client, response, status=413, code="request_too_large")


@pytest.mark.parametrize("path", ENDPOINTS)
async def test_body_over_the_limit_streamed_without_content_length(client, path):
    body = oversized_body()

    async def chunks():
        for start in range(0, len(body), 64 * 1024):
            yield body[start : start + 64 * 1024]

    response = await client.post(path, content=chunks(), headers=JSON)
    await expect_error(client, response, status=413, code="request_too_large")


@pytest.mark.parametrize("path", ENDPOINTS)
async def test_invalid_utf8_inside_a_string(client, path):
    raw = (
        b'{"model": "default", "messages": [{"role": "user", "content": "\xff\xfe"}], '
        b'"prompt": "\xc3\x28", "input": "\xed\xa0\x80"}'
    )
    await expect_error(client, await client.post(path, content=raw, headers=JSON))


@pytest.mark.parametrize("path", ENDPOINTS)
async def test_wrong_content_type(client, path):
    await expect_error(client, await client.post(path, data={"model": "default"}))
    text = {"content-type": "text/plain"}
    await expect_error(client, await client.post(path, content=b"hello", headers=text))


@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", "/v1/nope"), ("POST", "/v1/chat/complete"), ("GET", "/v2/models"), ("GET", "/")],
)
async def test_unknown_path_is_404(client, method, path):
    response = await client.request(method, path)
    error = await expect_error(client, response, status=404, code="not_found")
    assert path in error["message"]


@pytest.mark.parametrize(
    ("method", "path"), [("GET", CHAT), ("PUT", COMPL), ("DELETE", EMB), ("POST", "/v1/models")]
)
async def test_wrong_method_is_405(client, method, path):
    response = await client.request(method, path)
    await expect_error(client, response, status=405, code="method_not_allowed")


@pytest.mark.parametrize("value", [[], "", [""], [1, 2], ["a", 3], [[1]]])
async def test_bad_embeddings_input(client, value):
    response = await client.post(EMB, json={"model": "embed", "input": value})
    await expect_error(client, response, param="input")


async def test_request_id_is_ours_and_a_client_id_is_echoed_if_sane(client):
    sane = await client.post(
        CHAT, json=VALID[CHAT], headers={"x-request-id": "mine", "x-client-request-id": "c.42:x"}
    )
    assert sane.status_code == 200 and GENERATED_ID.match(sane.headers["x-request-id"])
    assert sane.headers["x-client-request-id"] == "c.42:x"
    for unsafe in ["a b\n", "x" * 65, "", "ünï".encode(), "<script>"]:
        response = await client.get("/v1/nope", headers={"x-client-request-id": unsafe})
        assert GENERATED_ID.match(response.headers["x-request-id"]), unsafe
        assert "x-client-request-id" not in response.headers
    first, second = (await client.get("/health"), await client.get("/health"))
    assert first.headers["x-request-id"] != second.headers["x-request-id"]


# --- property test -------------------------------------------------------------------------


@pytest.fixture(scope="module")
async def wide_client(tmp_path_factory):
    """A fake app with 64 slots: arbitrary bodies never ask for more choices than that
    (lists are at most 5 long, n at most 8), which keeps clear of the n > parallel hang."""
    from modelmint.core.settings import Settings

    app = create_app(
        Settings(
            data_dir=tmp_path_factory.mktemp("wide"), threads=2, max_body_bytes=1024**2, auth=False
        ),
        pool=fake_pool(parallel=64),
    )
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://localhost") as c:
            yield c


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=10), inner, max_size=5)
    ),
    max_leaves=20,
)
FIELDS = {
    path: sorted(model.model_fields)
    for path, model in [
        (CHAT, ChatCompletionRequest),
        (COMPL, CompletionRequest),
        (EMB, EmbeddingRequest),
    ]
}
field_values = (
    json_values
    | st.integers(-2, 10)
    | st.floats(0, 2)
    | st.sampled_from(
        ["default", "embed", MSGS, "a b", ["a", "b"], "float", "base64", {"include_usage": True}]
    )
)


@st.composite
def bodies(draw):
    """Any JSON value; a dict of real field names; or a valid body with 1-2 fields changed."""
    path = draw(st.sampled_from(ENDPOINTS))
    names = st.sampled_from(FIELDS[path])
    kind = draw(st.sampled_from(["any", "fields", "tweak"]))
    if kind == "any":
        return path, draw(json_values)
    if kind == "fields":
        return path, draw(st.dictionaries(names, field_values, max_size=6))
    return path, {
        **VALID[path],
        **draw(st.dictionaries(names, field_values, min_size=1, max_size=2)),
    }


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(case=bodies())
async def test_arbitrary_json_never_gets_a_5xx(wide_client, case):
    path, body = case
    response = await asyncio.wait_for(wide_client.post(path, json=body), timeout=20)
    assert response.status_code < 500, (path, body, response.text)
    assert response.headers.get("x-request-id")
    if response.status_code >= 400:
        error_of(response)
