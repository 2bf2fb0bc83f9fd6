"""Knowledge bases on the real default models with the official openai client: the
bilingual set's documents ingested with MiniLM, searched and asked in both languages;
a multi-turn response whose second turn reuses the first's prompt cache; Chinese
sentiment classified through English glosses, English sentiment by likelihood."""

from __future__ import annotations

import json
import time
from pathlib import Path

import httpx
import openai
import pytest

pytestmark = pytest.mark.real_model

SET = Path(__file__).parents[2] / "benchmarks" / "knowledge_set"
ASKED = {  # question id -> what the answer must hold
    "zh-01": "15天",
    "zh-05": "16:00",
    "en-01": "45 days",
    "en-21": "500",
}


@pytest.fixture(scope="module")
def oai(real_server_url) -> openai.OpenAI:
    return openai.OpenAI(base_url=real_server_url + "/v1", api_key="none", max_retries=0)


@pytest.fixture(scope="module")
def store_id(oai) -> str:
    ids = [
        oai.files.create(file=(p.name, p.read_bytes()), purpose="assistants").id
        for p in sorted((SET / "documents").iterdir())
    ]
    store = oai.vector_stores.create(name="knowledge set", file_ids=ids)
    deadline = time.monotonic() + 600
    while (found := oai.vector_stores.retrieve(store.id)).status != "completed":
        assert time.monotonic() < deadline, found.file_counts
        time.sleep(0.5)
    assert found.file_counts.completed == len(ids)
    return store.id


def questions() -> dict[str, dict]:
    lines = (SET / "questions.jsonl").read_text(encoding="utf-8").splitlines()
    return {q["id"]: q for q in map(json.loads, lines)}


def test_search_finds_the_document_in_both_languages(oai, store_id):
    for question in (questions()["zh-02"], questions()["en-05"]):
        hits = list(oai.vector_stores.search(store_id, query=question["question"]))
        assert hits[0].filename == question["document"], question["id"]


def test_ask_answers_and_cites(real_server_url, store_id):
    asked = questions()
    for question_id, wanted in ASKED.items():
        body = {"question": asked[question_id]["question"], "vector_store_ids": [store_id]}
        answer = httpx.post(real_server_url + "/v1/ask", json=body, timeout=120).json()
        assert wanted in answer["answer"], (question_id, answer["answer"])
        assert answer["citations"][0]["filename"] == asked[question_id]["document"]


def test_file_search_response_streams_with_citations(oai, store_id):
    events = list(oai.responses.create(
        model="default", input=questions()["en-01"]["question"], stream=True,
        tools=[{"type": "file_search", "vector_store_ids": [store_id]}],
    ))  # fmt: skip
    done = events[-1].response
    assert events[-1].type == "response.completed" and "45 days" in done.output_text
    assert done.output[1].content[0].annotations[0].filename == "returns_uk.md"


def test_the_second_turn_reuses_the_first_from_the_prompt_cache(oai):
    conversation = oai.conversations.create()
    story = "Remember this list of things I own: a red bicycle, a green kettle, a blue lamp."
    oai.responses.create(model="default", input=story, conversation=conversation.id,
                         max_output_tokens=32)  # fmt: skip
    second = oai.responses.create(model="default", input="What colour is my kettle?",
                                  conversation=conversation.id, max_output_tokens=32)  # fmt: skip
    assert second.usage.input_tokens_details.cached_tokens > 0
    assert second.output_text


def test_likelihood_reads_english_sentiment_with_the_small_chat_model(real_server_url):
    texts = ["I love this kettle, it works perfectly.", "The kettle broke after a week."]
    body = {"input": texts, "labels": ["positive", "negative"], "method": "likelihood",
            "model": "smollm2"}  # fmt: skip
    answer = httpx.post(real_server_url + "/v1/classify", json=body, timeout=300)
    assert answer.status_code == 200, answer.text
    found = answer.json()
    assert [item["label"] for item in found["data"]] == ["positive", "negative"]
    assert all(abs(sum(s["score"] for s in d["scores"]) - 1) < 1e-4 for d in found["data"])
    assert found["usage"]["prompt_tokens"] > 4 * 10 and found["usage"]["completion_tokens"] == 0


def test_chinese_sentiment_is_read_through_english_glosses(real_server_url):
    texts = ["我爱编程，编程使我快乐。", "这家餐厅太难吃了，服务也很差，再也不来了。"]
    body = {"input": texts, "labels": ["positive", "negative"], "method": "embeddings"}
    answer = httpx.post(real_server_url + "/v1/classify", json=body, timeout=300)
    assert answer.status_code == 200, answer.text
    assert [item["label"] for item in answer.json()["data"]] == ["positive", "negative"]


def test_the_seed_sentence_is_positive_judged_by_qwen_and_minilm(real_server_url):
    body = {"input": "我爱编程，编程使我快乐。", "labels": ["positive", "negative"]}  # auto: both
    answer = httpx.post(real_server_url + "/v1/classify", json=body, timeout=300)
    assert answer.status_code == 200, answer.text
    found = answer.json()
    assert found["model"] == "qwen2.5-coder-1.5b-instruct"
    scores = {s["label"]: s["score"] for s in found["data"][0]["scores"]}
    assert scores["positive"] >= 0.8


def test_tickets_are_told_apart_in_both_languages(real_server_url):
    labels = ["billing", "shipping", "technical", "account", "returns", "product_question"]
    texts = ["I was charged twice for my order, please refund one payment.",
             "我的快递三天了还没有更新物流信息。",
             "I forgot my password and cannot log in.",
             "这个净化器适合多大面积的房间？"]  # fmt: skip
    answer = httpx.post(real_server_url + "/v1/classify",
                        json={"input": texts, "labels": labels}, timeout=300)  # fmt: skip
    assert answer.status_code == 200, answer.text
    got = [item["label"] for item in answer.json()["data"]]
    assert got == ["billing", "shipping", "account", "product_question"]


def test_a_chat_method_with_an_embeddings_model_named_is_a_400(real_server_url):
    body = {"input": "x", "labels": ["a", "b"], "method": "chat", "model": "minilm"}
    answer = httpx.post(real_server_url + "/v1/classify", json=body, timeout=300)
    assert answer.status_code == 400 and answer.json()["error"]["param"] == "model"
    body["method"] = "auto"  # an embeddings model named: it judges alone
    answer = httpx.post(real_server_url + "/v1/classify", json=body, timeout=300)
    assert answer.status_code == 200 and answer.json()["model"] == "all-minilm-l6-v2"
