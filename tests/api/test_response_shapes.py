"""Every answer has the shape `services.responses` says: real answers of the fake engines
(chat and text completions, whole and streamed, with logprobs, echo, n and usage;
embeddings as floats and base64; models; errors; health and readiness) and of the admin
routes validate against their models. The admin answers, now written through their
models, keep the bytes they had: what the json module writes for what the services return.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
from pydantic import BaseModel

from modelmint.services import admin
from modelmint.services import responses as shapes
from tests.business_helpers import Business, business_settings, chat, running


def dumps(value: Any) -> bytes:
    """What Starlette's JSONResponse writes."""
    return json.dumps(value, ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode()


def valid(shape: type[BaseModel], response: httpx.Response, status: int = 200) -> dict:
    assert response.status_code == status, response.text
    shape.model_validate_json(response.content, strict=True)
    return response.json()


def events(response: httpx.Response) -> list[dict]:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/event-stream")
    data = [line[6:] for line in response.text.splitlines() if line.startswith("data: ")]
    assert data[-1] == "[DONE]"
    return [json.loads(item) for item in data[:-1]]


async def test_chat_answers(tmp_path):
    async with running(business_settings(tmp_path)) as business:
        http = business.http
        whole = await http.post("/v1/chat/completions", json=chat(3, n=2, logprobs=True))
        valid(shapes.ChatCompletion, whole)
        with_top = chat(2, logprobs=True, top_logprobs=2, max_tokens=3)
        valid(shapes.ChatCompletion, await http.post("/v1/chat/completions", json=with_top))
        streamed = chat(3, stream=True, logprobs=True, stream_options={"include_usage": True})
        chunks = events(await http.post("/v1/chat/completions", json=streamed))
        for chunk in chunks:
            shapes.ChatCompletionChunk.model_validate(chunk, strict=True)
        assert chunks[-1]["usage"] and not chunks[-1]["choices"]
        plain = events(await http.post("/v1/chat/completions", json=chat(3, stream=True)))
        assert all("usage" not in chunk for chunk in plain)
        for chunk in plain:
            shapes.ChatCompletionChunk.model_validate(chunk, strict=True)


async def test_text_completion_answers(tmp_path):
    async with running(business_settings(tmp_path)) as business:
        http = business.http
        body = {"model": "default", "prompt": ["one two", "three"], "n": 2, "logprobs": 2}
        valid(shapes.TextCompletion, await http.post("/v1/completions", json=body))
        echoed = {"model": "default", "prompt": "one two", "echo": True, "max_tokens": 3}
        valid(shapes.TextCompletion, await http.post("/v1/completions", json=echoed))
        streamed = {**echoed, "stream": True, "stream_options": {"include_usage": True}}
        chunks = events(await http.post("/v1/completions", json=streamed))
        for chunk in chunks:
            shapes.TextCompletionChunk.model_validate(chunk, strict=True)
        assert chunks[-1]["usage"] and all(chunk["usage"] is None for chunk in chunks[:-1])


async def test_embeddings_models_and_operations_answers(tmp_path):
    async with running(business_settings(tmp_path)) as business:
        http = business.http
        for encoding in ("float", "base64"):
            body = {"model": "embed", "input": ["one", "two"], "encoding_format": encoding}
            valid(shapes.EmbeddingList, await http.post("/v1/embeddings", json=body))
        valid(shapes.ModelList, await http.get("/v1/models"))
        valid(shapes.Model, await http.get("/v1/models/default"))
        valid(shapes.Health, await http.get("/health"))
        valid(shapes.Readiness, await http.get("/ready"))


async def test_error_answers(tmp_path):
    async with running(business_settings(tmp_path)) as business:
        http = business.http
        answers = [
            (400, await http.post("/v1/chat/completions", json={"model": "default"})),
            (400, await http.post("/v1/chat/completions", content=b"{", headers=JSON)),
            (404, await http.post("/v1/chat/completions", json={**chat(1), "model": "nope"})),
            (404, await http.get("/admin/orgs/nope/privacy")),
            (404, await http.get("/no/such/path")),
            (405, await http.delete("/v1/models")),
        ]
        async with business.client() as anonymous:
            answers.append((401, await anonymous.get("/admin/orgs")))
        inference = await business.key("admin", name="inference", scopes=["inference"])
        async with business.client(inference["key"]) as limited:
            answers.append((403, await limited.get("/admin/orgs")))
        for status, response in answers:
            valid(shapes.ErrorResponse, response, status)


JSON = {"content-type": "application/json"}


async def test_admin_answers_keep_their_bytes(tmp_path):
    async with running(business_settings(tmp_path)) as business:
        await business.http.post("/v1/chat/completions", json=chat(5))  # a usage row
        written = await admin_changes(business)
        for shape, response in written:
            valid(shape, response, response.status_code)
            assert response.content == dumps(response.json())
        reads = [
            ("/admin/orgs", {"data": await business.platform.infra.db.read(admin.list_orgs)}),
            ("/admin/keys", {"data": await business.platform.infra.db.read(admin.list_keys)}),
            ("/admin/plans", {"data": await business.platform.infra.db.read(admin.list_plans)}),
            ("/admin/usage", await business.platform.infra.db.read(admin.usage, None, "model")),
            (
                "/admin/orgs/acme/privacy",
                await business.platform.infra.db.read(admin.get_privacy, "acme"),
            ),
        ]
        for path, expected in reads:
            response = await business.http.get(path)
            assert response.status_code == 200, response.text
            assert response.content == dumps(expected), path
        usage = (await business.http.get("/admin/usage")).json()
        assert usage["rows"] and isinstance(usage["rows"][0]["compute_seconds"], float)


async def admin_changes(business: Business) -> list[tuple[type[BaseModel], httpx.Response]]:
    """Every admin change once, with the model its answer must match."""
    http = business.http
    plan = await http.post(
        "/admin/plans", json={"name": "pro", "prices": {"*": {"input": "1", "output": "2"}}}
    )
    org = await http.post("/admin/orgs", json={"name": "acme", "plan": "pro"})
    key = await http.post("/admin/keys", json={"org": "acme", "rpm": 5})
    key_id = key.json()["id"]
    price = {"model": "default", "input": "3", "output": "4"}
    privacy = {"store_bodies": True, "pii_mode": "redact_storage"}
    return [
        (shapes.Plan, plan),
        (shapes.OrganizationOnPlan, org),
        (shapes.NewApiKey, key),
        (shapes.ApiKey, await http.post(f"/admin/keys/{key_id}/revoke")),
        (shapes.PriceChanged, await http.post("/admin/plans/pro/prices", json=price)),
        (shapes.Organization, await http.patch("/admin/orgs/acme/limits", json={"token_limit": 9})),
        (
            shapes.Subscription,
            await http.post("/admin/orgs/acme/subscriptions", json={"plan": "pro"}),
        ),
        (shapes.PrivacyPolicy, await http.put("/admin/orgs/acme/privacy", json=privacy)),
        (shapes.BodiesErased, await http.delete("/admin/orgs/acme/bodies")),
        (shapes.BodiesPurged, await http.post("/admin/privacy/purge")),
        (shapes.KeysRotated, await http.post("/admin/privacy/rotate-keys")),
        (shapes.Invoice, await http.get("/admin/invoices/acme")),
        (shapes.Invoice, await http.post("/admin/invoices/acme/2020-01/finalize")),
        (shapes.UsageReport, await http.get("/admin/usage", params={"by": "key"})),
    ]


async def test_admin_floats_are_written_as_before(tmp_path, monkeypatch):
    """json writes 5e-06 where pydantic's writer would write 5e-6: the admin routes keep
    json's form (a serving time of a few microseconds is a real usage row)."""
    row = {
        "group": "m",
        "requests": 1,
        "prompt_tokens": 1,
        "completion_tokens": 1,
        "revenue_nanos": 0,
        "cost_nanos": 0,
        "margin_nanos": 0,
        "margin_ratio": None,
        "compute_seconds": 5e-06,
    }
    report = {"month": "2026-11", "by": "model", "org_id": None, "rows": [row]}
    monkeypatch.setattr(admin, "usage", lambda connection, *args: report)
    async with running(business_settings(tmp_path)) as business:
        response = await business.http.get("/admin/usage")
        assert response.status_code == 200, response.text
        assert response.content == dumps(report)
        assert b'"compute_seconds":5e-06' in response.content
