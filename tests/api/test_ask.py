"""`POST /v1/ask` over real HTTP with httpx (fake engines): answers quoted from the org's
stores with citations in the order the answer relies on them, "not found" in the
question's language, the chat model when the org has no store, the event stream, per-org
isolation and bad input."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import httpx
import pytest

from modelmint.api import create_app
from modelmint.knowledge.evidence import NOT_FOUND
from tests.business_helpers import business_settings, first_admin_key
from tests.helpers import fake_pool, running_server

RETURNS = (
    "# 退货政策\n\n自签收之日起15天内，商品未使用、包装完好的，可申请无理由退货。"
    "退货运费由买家承担。\n\n"
    "# Refunds\n\nRefunds are paid to the original card within 5 working days."
)
KETTLE = "The CQ-K5 kettle holds 1.5 litres. Its heating plate is guaranteed for 3 years."


@pytest.fixture(scope="module")
def served(tmp_path_factory) -> Iterator[tuple[str, dict[str, httpx.Client], dict[str, str]]]:
    settings = business_settings(tmp_path_factory.mktemp("ask"))
    admin_key = first_admin_key(settings)
    with running_server(create_app(settings, pool=fake_pool())) as url:
        clients, files = {}, {}
        with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {admin_key}"}) as h:
            for org in ("acme", "globex", "empty"):
                assert h.post("/admin/orgs", json={"name": org}).status_code == 201
                key = h.post("/admin/keys", json={"org": org}).json()["key"]
                clients[org] = httpx.Client(
                    base_url=url, headers={"Authorization": f"Bearer {key}"}, timeout=60
                )
        acme = clients["acme"]
        for name, text in (("returns.md", RETURNS), ("kettle.txt", KETTLE)):
            made = acme.post(
                "/v1/files", files={"file": (name, text.encode())}, data={"purpose": "assistants"}
            )
            files[name] = made.json()["id"]
        store = acme.post("/v1/vector_stores", json={"file_ids": list(files.values())}).json()
        files["store"] = store["id"]
        deadline = time.monotonic() + 30
        while acme.get(f"/v1/vector_stores/{store['id']}").json()["status"] != "completed":
            assert time.monotonic() < deadline
            time.sleep(0.1)
        yield url, clients, files
        for client in clients.values():
            client.close()


def test_the_answer_quotes_the_document_and_cites_it_first(served):
    _, clients, files = served
    answer = clients["acme"].post("/v1/ask", json={"question": "签收后多少天内可以无理由退货？"})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["object"] == "ask" and body["id"].startswith("ask-")
    assert "15天" in body["answer"]
    first = body["citations"][0]
    assert first["file_id"] == files["returns.md"] and "15天" in first["text"]
    assert (
        set(first) == {"file_id", "filename", "text", "score"} and first["filename"] == "returns.md"
    )
    assert body["usage"]["prompt_tokens"] > 0


def test_an_english_question_gets_the_english_sentence(served):
    _, clients, files = served
    body = (
        clients["acme"]
        .post("/v1/ask", json={"question": "How much water does the CQ-K5 kettle hold?"})
        .json()
    )
    assert "1.5 litres" in body["answer"]
    assert body["citations"][0]["file_id"] == files["kettle.txt"]


@pytest.mark.parametrize(
    ("question", "language"),
    [("客服热线电话号码是多少？", "zh"), ("What is the phone number of the head office?", "en")],
)
def test_what_the_documents_do_not_say_is_not_invented(served, question, language):
    _, clients, _ = served
    body = clients["acme"].post("/v1/ask", json={"question": question}).json()
    assert body["answer"] == NOT_FOUND[language]
    assert body["citations"] == []


def test_an_org_without_stores_gets_the_chat_models_answer(served):
    _, clients, _ = served
    answer = clients["empty"].post("/v1/ask", json={"question": "什么是人工智能？"})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["answer"] and body["citations"] == []
    assert body["usage"]["completion_tokens"] > 0


def test_another_orgs_documents_never_appear(served):
    _, clients, files = served
    globex = clients["globex"]
    refused = globex.post(
        "/v1/ask", json={"question": "退货", "vector_store_ids": [files["store"]]}
    )
    assert refused.status_code == 404
    own = globex.post(
        "/v1/files",
        files={"file": ("own.txt", b"Globex ships rockets.")},
        data={"purpose": "assistants"},
    ).json()["id"]
    globex.post("/v1/vector_stores", json={"file_ids": [own]})
    time.sleep(0.5)
    body = globex.post("/v1/ask", json={"question": "签收后多少天内可以无理由退货？"}).json()
    assert all(c["file_id"] == own for c in body["citations"])
    assert "15天" not in body["answer"]


def test_the_answer_streams_citations_first_and_usage_last(served):
    url, clients, files = served
    with clients["acme"].stream(
        "POST", "/v1/ask", json={"question": "退货运费由谁承担？", "stream": True}
    ) as response:
        assert response.status_code == 200
        events = [line[6:] for line in response.iter_lines() if line.startswith("data: ")]
    assert events[-1] == "[DONE]"
    chunks = [json.loads(e) for e in events[:-1]]
    assert all(c["object"] == "ask.chunk" for c in chunks)
    assert chunks[0]["citations"][0]["file_id"] == files["returns.md"]
    assert "".join(c["delta"] for c in chunks).strip()
    assert chunks[-1]["finish_reason"] == "stop" and chunks[-1]["usage"]["total_tokens"] > 0


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"question": ""},
        {"question": "   "},
        {"question": "x", "max_num_results": 0},
        {"question": "x", "vector_store_ids": "vs_1"},
        {"question": "x" * 10_001},
        {"question": "x", "unknown": 1},
    ],
)
def test_bad_questions_are_400s(served, body):
    _, clients, _ = served
    answer = clients["acme"].post("/v1/ask", json=body)
    assert answer.status_code == 400, answer.text
    assert answer.json()["error"]["type"] == "invalid_request_error"


def test_a_conversation_keeps_the_turns_and_follow_ups_continue_them(served):
    _, clients, _ = served
    acme = clients["acme"]
    conversation = acme.post("/v1/conversations", json={}).json()["id"]
    first = acme.post("/v1/ask", json={"question": "签收后多少天内可以无理由退货？",
                                       "conversation": conversation}).json()  # fmt: skip
    assert "15天" in first["answer"]
    follow = acme.post("/v1/ask", json={"question": "运费呢？", "conversation": conversation})
    assert follow.status_code == 200, follow.text
    assert "运费" in follow.json()["answer"]
    items = acme.get(f"/v1/conversations/{conversation}/items", params={"order": "asc"}).json()
    assert [i["role"] for i in items["data"]] == ["user", "assistant", "user", "assistant"]
    assert items["data"][2]["content"][0]["text"] == "运费呢？"
    other = clients["globex"].post("/v1/ask", json={"question": "x", "conversation": conversation})
    assert other.status_code == 404
