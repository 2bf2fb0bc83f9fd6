"""`/v1/classify` and `/v1/summarize` over real HTTP with httpx (fake engines): the
answer shapes, scores that sum to 1 for each method, a summary within its budget in
the text's order, an uploaded file summarized, another org's file a 404, bad input;
Chinese glossed into English for a model that reads no Chinese."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import httpx
import numpy as np
import pytest

from modelmint.api import create_app
from modelmint.knowledge.extractive import length
from modelmint.knowledge.glossary import Glossary
from modelmint.runtime.registry import ModelSpec
from modelmint.services.classify import Classify, debiased
from tests.business_helpers import business_settings, first_admin_key
from tests.helpers import fake_pool, running_server

REPORT = (
    "The council opened the new bridge on Monday. It cost 9.8 million pounds. "
    "Traffic on the old road fell by a third in the first week. "
    "Cyclists got a separate lane on the east side. "
    "The mayor said a second bridge is planned for 2030. "
    "Local shops reported more customers from across the river."
)


@pytest.fixture(scope="module")
def served(tmp_path_factory) -> Iterator[dict[str, httpx.Client]]:
    settings = business_settings(tmp_path_factory.mktemp("tasks"))
    admin_key = first_admin_key(settings)
    with running_server(create_app(settings, pool=fake_pool(context_length=1024))) as url:
        clients = {}
        with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {admin_key}"}) as h:
            for org in ("acme", "globex"):
                assert h.post("/admin/orgs", json={"name": org}).status_code == 201
                key = h.post("/admin/keys", json={"org": org}).json()["key"]
                clients[org] = httpx.Client(
                    base_url=url, headers={"Authorization": f"Bearer {key}"}, timeout=60
                )
        clients["admin"] = httpx.Client(
            base_url=url, headers={"Authorization": f"Bearer {admin_key}"}, timeout=60
        )
        yield clients
        for client in clients.values():
            client.close()


@pytest.mark.parametrize("method", ["auto", "both", "embeddings", "chat"])
def test_classify_answers_every_input_with_scores_summing_to_one(served, method):
    body = {"input": ["我爱编程，编程使我快乐。", "The kettle broke."],
            "labels": ["positive", "negative", "neutral"], "method": method}  # fmt: skip
    answer = served["acme"].post("/v1/classify", json=body)
    assert answer.status_code == 200, answer.text
    found = answer.json()
    assert found["object"] == "list" and [d["index"] for d in found["data"]] == [0, 1]
    for item in found["data"]:
        scores = item["scores"]
        assert {s["label"] for s in scores} == {"positive", "negative", "neutral"}
        assert abs(sum(s["score"] for s in scores) - 1) < 1e-4
        assert item["label"] == scores[0]["label"]  # best first
    assert found["usage"]["prompt_tokens"] > 0


def test_both_multiplies_the_chat_judges_scores_by_the_embeddings(served):
    body = {"input": ["The kettle broke.", "快递很快"], "labels": ["good", "bad", "so-so"]}
    found = {}
    for method in ("chat", "embeddings", "both", "auto"):
        answer = served["acme"].post("/v1/classify", json={**body, "method": method})
        assert answer.status_code == 200, answer.text
        found[method] = answer.json()
    for i in range(2):
        chat, embedded, both = (
            {s["label"]: s["score"] for s in found[m]["data"][i]["scores"]}
            for m in ("chat", "embeddings", "both")
        )
        product = {label: chat[label] * embedded[label] for label in chat}
        total = sum(product.values())
        assert both == pytest.approx({k: v / total for k, v in product.items()}, abs=1e-5)
    assert found["both"]["model"] == found["chat"]["model"] == "fake-chat"
    assert found["embeddings"]["model"] == "fake-embed"
    # chat's first request asked the content-free texts too; both's found them kept
    kept = served["acme"].post("/v1/classify", json={**body, "method": "chat"}).json()
    usage = found["both"]["usage"]["prompt_tokens"]
    assert usage == kept["usage"]["prompt_tokens"] + found["embeddings"]["usage"]["prompt_tokens"]
    assert found["auto"]["data"] == found["both"]["data"]


def test_the_judges_bias_is_asked_once_per_org_and_label_set(served):
    body = {"input": "The parcel came late.", "labels": ["tea", "coffee"], "method": "chat"}

    def tokens(org: str, **changed) -> tuple[int, list]:
        answer = served[org].post("/v1/classify", json={**body, **changed})
        assert answer.status_code == 200, answer.text
        return answer.json()["usage"]["prompt_tokens"], answer.json()["data"]

    first, scored = tokens("acme")
    again, scored_again = tokens("acme")
    assert again < first / 2  # 2 prompts, not 8
    assert scored_again == scored
    assert tokens("globex")[0] == first  # another org's bias is its own
    assert tokens("acme", labels=["coffee", "tea"])[0] == first  # another label order


def test_a_judge_that_favours_a_place_in_the_list_says_nothing():
    labels = 3
    first = np.array([[0.8, 0.1, 0.1]] * 5)  # whatever is listed first, texts and blanks
    scores = debiased(first, first, texts=2)
    assert np.allclose(scores, 1 / labels, atol=1e-6)


def test_the_reversed_order_maps_back_onto_the_labels():
    forward = np.array([[0.2, 0.7, 0.1], [0.3, 0.3, 0.4]])  # text, then a blank
    backward = np.array([[0.1, 0.7, 0.2], [0.4, 0.3, 0.3]])  # the same, labels reversed
    scores = np.array(debiased(forward, backward, texts=1))
    assert scores.argmax() == 1 and abs(scores.sum() - 1) < 1e-9
    lopsided = np.array([[0.1, 0.2, 0.7], [0.3, 0.3, 0.4]])  # b first when reversed: c
    assert np.array(debiased(forward, lopsided, texts=1)).argmax() == 1


def test_a_key_without_the_judge_gets_the_embeddings_alone(served):
    admin = served["admin"]
    limited = admin.post("/admin/keys", json={"org": "acme", "allowed_models": ["fake-embed"]})
    key = limited.json()["key"]
    with httpx.Client(base_url=str(admin.base_url), timeout=60,
                      headers={"Authorization": f"Bearer {key}"}) as client:  # fmt: skip
        body = {"input": "The kettle broke.", "labels": ["good", "bad"]}
        answer = client.post("/v1/classify", json=body)
        assert answer.status_code == 200, answer.text
        assert answer.json()["model"] == "fake-embed"
        answer = client.post("/v1/classify", json={**body, "method": "chat"})
        assert answer.status_code == 403 and answer.json()["error"]["param"] == "model"


def test_a_long_input_is_read_by_its_first_tokens_or_refused_naming_the_judge(served):
    body = {"input": "the kettle broke " * 400, "labels": ["good", "bad"]}
    answer = served["acme"].post("/v1/classify", json={**body, "method": "embeddings"})
    assert answer.status_code == 200, answer.text  # past the 512 tokens it reads
    answer = served["acme"].post("/v1/classify", json=body)  # auto: the judge reads it all
    error = answer.json()["error"]
    assert answer.status_code == 400 and error["code"] == "context_length_exceeded"
    assert error["param"] == "input" and "'fake-chat'" in error["message"]


def test_likelihood_on_an_engine_that_cannot_score_prompts_is_a_400(served):
    body = {"input": "x", "labels": ["a", "b"], "method": "likelihood"}
    answer = served["acme"].post("/v1/classify", json=body)
    assert answer.status_code == 400, answer.text
    assert answer.json()["error"]["param"] == "method"


def test_a_single_string_is_one_input(served):
    found = (
        served["acme"].post("/v1/classify", json={"input": "hello", "labels": ["a", "b"]}).json()
    )
    assert len(found["data"]) == 1


@pytest.mark.parametrize(
    "body",
    [
        {"input": "x", "labels": ["only one"]},
        {"input": "x", "labels": ["same", "same"]},
        {"input": "x", "labels": ["a", " "]},
        {"input": "x"},
        {"input": [], "labels": ["a", "b"]},
        {"input": ["x"] * 101, "labels": ["a", "b"]},
        {"input": "x", "labels": ["a", "b"], "method": "magic"},
        {"input": "x", "model": "fake-chat"},
    ],
)
def test_bad_classifications_are_400s(served, body):
    answer = served["acme"].post("/v1/classify", json=body)
    assert answer.status_code == 400, answer.text
    assert answer.json()["error"]["type"] == "invalid_request_error"


def test_a_summary_keeps_the_texts_order_within_its_budget(served):
    found = served["acme"].post("/v1/summarize", json={"input": REPORT, "max_words": 25})
    assert found.status_code == 200, found.text
    summary = found.json()
    assert summary["object"] == "summary" and summary["language"] == "en"
    text = summary["summary"]
    assert 0 < len(text.split()) <= 25
    kept = [s.strip() + "." for s in text.split(".") if s.strip()]
    assert all(sentence in REPORT for sentence in kept)
    assert [REPORT.index(s) for s in kept] == sorted(REPORT.index(s) for s in kept)


def test_a_chinese_summary_counts_characters(served):
    text = (
        "。".join(f"第{i}段说明了项目的第{i}个进展，预算增加了{i}万元" for i in range(1, 9)) + "。"
    )
    summary = served["acme"].post("/v1/summarize", json={"input": text, "max_words": 40}).json()
    assert summary["language"] == "zh"
    assert 0 < length(summary["summary"], "zh") <= 40 < length(text, "zh")


def test_an_uploaded_file_is_summarized_and_another_orgs_is_404(served):
    acme = served["acme"]
    file_id = acme.post(
        "/v1/files",
        files={"file": ("report.md", REPORT.encode())},
        data={"purpose": "assistants"},
    ).json()["id"]
    mine = acme.post("/v1/summarize", json={"input": file_id, "max_words": 30})
    assert mine.status_code == 200 and "bridge" in mine.json()["summary"]
    theirs = served["globex"].post("/v1/summarize", json={"input": file_id})
    assert theirs.status_code == 404


@pytest.mark.parametrize(
    "body",
    [
        {"input": ""},
        {"input": "x", "max_words": 5},
        {"input": "x", "language": "fr"},
        {"input": "x" * 200_001},
        {"input": "   \n  "},
    ],
)
def test_bad_summaries_are_400s(served, body):
    answer = served["acme"].post("/v1/summarize", json=body)
    assert answer.status_code == 400, answer.text


def test_a_file_past_the_summary_limit_is_a_400_naming_it(served, monkeypatch):
    from modelmint.services import summarize

    monkeypatch.setattr(summarize, "MAX_SUMMARY_FILE_BYTES", 100)
    acme = served["acme"]
    file_id = acme.post(
        "/v1/files", files={"file": ("big.md", REPORT.encode())}, data={"purpose": "assistants"}
    ).json()["id"]
    answer = acme.post("/v1/summarize", json={"input": file_id})
    assert answer.status_code == 400 and "100 bytes" in answer.json()["error"]["message"]


def test_chinese_reaches_a_model_that_reads_no_chinese_as_english_glosses():
    classify = Classify(None, None, "chat", "embeddings", Glossary())  # type: ignore[arg-type]
    texts = ["我爱编程，编程使我快乐。", "plain"]

    def spec(languages: list[str]) -> ModelSpec:
        return ModelSpec(name="m", engine="embeddings", path="m", languages=languages)

    english = asyncio.run(classify._readable(spec(["en"]), texts))
    assert "love" in english[0].split() and english[1] == "plain"
    for reads_chinese in ([], ["en", "zh"]):
        assert asyncio.run(classify._readable(spec(reads_chinese), texts)) == texts
