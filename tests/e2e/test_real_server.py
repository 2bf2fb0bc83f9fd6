"""End to end on the real default models, over real HTTP, with the official openai client."""

from __future__ import annotations

import json
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import jsonschema
import numpy as np
import openai
import pytest

pytestmark = pytest.mark.real_model

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
from quality import load_questions, run_quality  # noqa: E402

CAPITALS = {
    "France": "Paris",
    "Japan": "Tokyo",
    "Germany": "Berlin",
    "Russia": "Moscow",
    "China": "Beijing",
    "Egypt": "Cairo",
    "England": "London",
    "Canada": "Ottawa",
}
# 21/26 measured (README); a broken template or sampling default drops it to 17 or below
QUALITY_MIN_PASSED = 20


@pytest.fixture(scope="module")
def oai(real_server_url) -> openai.OpenAI:
    return openai.OpenAI(base_url=real_server_url + "/v1", api_key="unused", max_retries=0)


def test_chat(oai):
    response = oai.chat.completions.create(
        model="default", messages=[{"role": "user", "content": "What is the capital of France?"}]
    )
    assert "Paris" in response.choices[0].message.content
    assert response.usage.prompt_tokens > 0 and response.usage.completion_tokens > 0


def test_streamed_chat_with_usage(oai):
    stream = oai.chat.completions.create(
        model="smollm2",
        messages=[{"role": "user", "content": "What is the capital of Japan?"}],
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert "Tokyo" in text
    content_chunks = sum(1 for c in chunks if c.choices and c.choices[0].delta.content)
    # every content chunk carries at least one token; held-back bytes may join tokens
    assert chunks[-1].usage.completion_tokens >= content_chunks > 0


def test_eight_concurrent_streamed_chats(oai):
    def ask(country: str) -> str:
        stream = oai.chat.completions.create(
            model="default",
            stream=True,
            max_tokens=30,
            messages=[{"role": "user", "content": f"What is the capital of {country}?"}],
        )
        return "".join(c.choices[0].delta.content or "" for c in stream if c.choices)

    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = dict(zip(CAPITALS, pool.map(ask, CAPITALS), strict=True))
    for country, capital in CAPITALS.items():
        assert capital in answers[country], (country, answers[country])
        others = [c for c in CAPITALS.values() if c != capital and c in answers[country]]
        assert not others, (country, answers[country])


def test_json_schema_response_validates(oai):
    schema = {
        "type": "object",
        "properties": {
            "name": {"type": "string"},
            "age": {"type": "integer", "minimum": 0},
            "hobbies": {"type": "array", "items": {"type": "string"}, "maxItems": 3},
        },
        "required": ["name", "age", "hobbies"],
        "additionalProperties": False,
    }
    response = oai.chat.completions.create(
        model="default",
        max_tokens=200,
        messages=[{"role": "user", "content": "Invent a person and describe them."}],
        response_format={
            "type": "json_schema",
            "json_schema": {"name": "person", "schema": schema, "strict": True},
        },
    )
    data = json.loads(response.choices[0].message.content)
    jsonschema.validate(data, schema)


def test_completions(oai):
    response = oai.completions.create(
        model="default", prompt="The capital of France is", max_tokens=8
    )
    assert response.choices[0].text
    assert response.usage.completion_tokens <= 8


def test_embeddings_rank_paraphrases_closer(oai):
    texts = [
        "The cat is sleeping on the sofa.",
        "A cat naps on the couch.",
        "Interest rates rose sharply last quarter.",
    ]
    data = oai.embeddings.create(model="all-minilm-l6-v2", input=texts).data
    a, b, c = (np.array(d.embedding) for d in data)
    assert len(a) == 384
    cosine = lambda x, y: float(x @ y / np.linalg.norm(x) / np.linalg.norm(y))  # noqa: E731
    assert cosine(a, b) > cosine(a, c) + 0.3
    assert cosine(a, b) > cosine(b, c) + 0.3


def test_quality_set_does_not_regress(oai):
    results = run_quality(oai, "default")
    passed = sum(r.passed for r in results)
    assert len(results) == len(load_questions()) >= 20
    failed = {r.id: r.answer[:80] for r in results if not r.passed}
    assert passed >= QUALITY_MIN_PASSED, failed


def test_client_disconnect_stops_generation(real_server_url):
    body = {
        "model": "default",
        "stream": True,
        "max_tokens": 1500,
        "temperature": 0.9,
        "messages": [{"role": "user", "content": "Write a very long essay about rivers."}],
    }
    with httpx.Client(base_url=real_server_url, timeout=30) as client:
        with client.stream("POST", "/v1/chat/completions", json=body) as response:
            for i, _ in enumerate(response.iter_lines()):
                if i > 6:
                    break
        # the generation would take >10 s; once the client is gone its slot frees at once
        for _ in range(50):
            metrics = client.get("/metrics").text
            running = [
                line
                for line in metrics.splitlines()
                if line.startswith('modelmint_running_requests{model="smollm2')
            ]
            if running and running[0].endswith(" 0.0"):
                break
            time.sleep(0.1)
        assert running and running[0].endswith(" 0.0"), running


@pytest.mark.parametrize(
    "body",
    [
        b"{not json",
        b'{"model": "default", "messages": []}',
        b'{"model": "default", "messages": [{"role": "user", "content": "x"}], '
        b'"max_tokens": 999999}',
        b'{"model": "default", "messages": [{"role": "user", "content": "\xff\xfe"}]}',
    ],
)
def test_hostile_input_on_the_real_server(real_server_url, body):
    with httpx.Client(base_url=real_server_url, timeout=30) as client:
        response = client.post(
            "/v1/chat/completions", content=body, headers={"content-type": "application/json"}
        )
        assert 400 <= response.status_code < 500
        assert set(response.json()["error"]) == {"message", "type", "param", "code"}
        ok = client.post(
            "/v1/chat/completions",
            json={
                "model": "default",
                "max_tokens": 3,
                "messages": [{"role": "user", "content": "hi"}],
            },
        )
        assert ok.status_code == 200
