"""Operations endpoints: /health, /ready and the Prometheus /metrics the app exposes."""

from __future__ import annotations

import asyncio

import httpx
from prometheus_client.parser import text_string_to_metric_families

from modelmint.api.app import create_app
from modelmint.core.activity import ServingActivity
from modelmint.core.settings import Settings
from tests.helpers import fake_pool

METRIC_NAMES = [
    "modelmint_http_requests_total",
    "modelmint_prompt_tokens_total",
    "modelmint_completion_tokens_total",
    "modelmint_time_to_first_token_seconds",
    "modelmint_time_per_output_token_seconds",
    "modelmint_queue_depth",
]


def sample(text: str, name: str, **labels: str) -> float:
    """The value of one sample in Prometheus text, 0 when the labelled series is absent."""
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.name == name and all(s.labels.get(k) == v for k, v in labels.items()):
                return s.value
    return 0.0


async def test_health(client):
    response = await client.get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert response.headers["x-request-id"]


async def test_ready_lists_every_model(client):
    response = await client.get("/ready")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ready"
    assert body["models"] == {"fake-chat": True, "fake-embed": True}


async def test_metrics_is_prometheus_text(client):
    response = await client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    text = response.text
    for name in METRIC_NAMES:
        assert name in text, name
    families = {f.name: f.type for f in text_string_to_metric_families(text)}
    assert families["modelmint_time_to_first_token_seconds"] == "histogram"
    assert families["modelmint_time_per_output_token_seconds"] == "histogram"
    assert families["modelmint_queue_depth"] == "gauge"
    assert sample(text, "modelmint_queue_depth", model="fake-chat") == 0


async def test_chat_request_is_counted(client):
    before = (await client.get("/metrics")).text
    response = await client.post(
        "/v1/chat/completions",
        json={"model": "default", "messages": [{"role": "user", "content": "one two three"}]},
    )
    assert response.status_code == 200
    usage = response.json()["usage"]
    after = (await client.get("/metrics")).text

    def grew(name: str, **labels: str) -> float:
        return sample(after, name, **labels) - sample(before, name, **labels)

    completion = grew("modelmint_completion_tokens_total", model="fake-chat")
    assert completion == usage["completion_tokens"] > 0
    assert grew("modelmint_prompt_tokens_total", model="fake-chat") == usage["prompt_tokens"]
    assert (
        grew(
            "modelmint_http_requests_total",
            method="POST",
            path="/v1/chat/completions",
            status="200",
        )
        == 1
    )
    assert grew("modelmint_time_to_first_token_seconds_count", model="fake-chat") == 1
    assert grew("modelmint_time_per_output_token_seconds_count", model="fake-chat") == 1


async def test_failed_and_unmatched_requests_are_counted(client):
    await client.post("/v1/chat/completions", json={"model": "default", "messages": []})
    await client.get("/no/such/path")
    text = (await client.get("/metrics")).text
    assert (
        sample(text, "modelmint_http_requests_total", path="/v1/chat/completions", status="400")
        == 1
    )
    assert sample(text, "modelmint_http_requests_total", path="unmatched", status="404") == 1


async def test_embeddings_count_prompt_tokens(client):
    response = await client.post("/v1/embeddings", json={"model": "embed", "input": ["a b", "c"]})
    assert response.status_code == 200
    text = (await client.get("/metrics")).text
    assert sample(text, "modelmint_prompt_tokens_total", model="fake-embed") == 3


async def test_the_server_marks_its_activity_while_it_generates(tmp_path):
    activity = ServingActivity(tmp_path)
    app = create_app(Settings(data_dir=tmp_path, auth=False), pool=fake_pool(token_delay=0.05))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://localhost") as client:
            await asyncio.sleep(0.6)
            assert not activity.active()  # idle: no mark
            body = {"model": "default", "max_tokens": 20,
                    "messages": [{"role": "user", "content": "count to twenty"}]}  # fmt: skip
            response = await client.post("/v1/chat/completions", json=body)
            assert response.status_code == 200
            assert activity.active()  # marked while the 20 tokens took a second
