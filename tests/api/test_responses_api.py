"""`/v1/responses` and `/v1/conversations` with the official openai client over real HTTP
(fake engines): whole and streamed responses, multi-turn by previous_response_id and by
conversation, the file_search tool with citations and results, stored responses, the
conversation items API, per-org isolation and bad input."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import httpx
import openai
import pytest

from modelmint.api import create_app
from tests.business_helpers import business_settings, first_admin_key
from tests.helpers import fake_pool, running_server

POLICY = (
    "退货政策：自签收之日起15天内可以无理由退货。Refunds reach your card within 5 working days."
)


@pytest.fixture(scope="module")
def served(tmp_path_factory) -> Iterator[tuple[str, dict[str, str]]]:
    settings = business_settings(tmp_path_factory.mktemp("responses"))
    admin_key = first_admin_key(settings)
    with running_server(create_app(settings, pool=fake_pool(context_length=1024))) as url:
        keys = {}
        with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {admin_key}"}) as h:
            for org in ("acme", "globex"):
                assert h.post("/admin/orgs", json={"name": org}).status_code == 201
                keys[org] = h.post("/admin/keys", json={"org": org}).json()["key"]
        yield url, keys


def client(served, org: str) -> openai.OpenAI:
    url, keys = served
    return openai.OpenAI(base_url=url + "/v1", api_key=keys[org], max_retries=0)


@pytest.fixture(scope="module")
def store_id(served) -> str:
    oai = client(served, "acme")
    file_id = oai.files.create(file=("policy.txt", POLICY.encode()), purpose="assistants").id
    store = oai.vector_stores.create(file_ids=[file_id])
    deadline = time.monotonic() + 30
    while oai.vector_stores.retrieve(store.id).status != "completed":
        assert time.monotonic() < deadline
        time.sleep(0.1)
    return store.id


def test_a_whole_response(served):
    oai = client(served, "acme")
    made = oai.responses.create(model="default", input="Say hello.", max_output_tokens=16)
    assert made.id.startswith("resp_") and made.object == "response"
    assert made.status in ("completed", "incomplete") and made.output_text
    message = made.output[0]
    assert message.type == "message" and message.role == "assistant"
    assert made.usage.input_tokens > 0 and made.usage.output_tokens > 0
    assert oai.responses.retrieve(made.id).output_text == made.output_text
    inputs = oai.responses.input_items.list(made.id)
    assert [item.content[0].text for item in inputs.data] == ["Say hello."]


def test_a_streamed_response_has_the_event_sequence(served):
    oai = client(served, "acme")
    events = list(oai.responses.create(model="default", input="Count to three.", stream=True,
                                       max_output_tokens=16))  # fmt: skip
    kinds = [e.type for e in events]
    assert kinds[:2] == ["response.created", "response.in_progress"]
    assert kinds[-1] in ("response.completed", "response.incomplete")
    assert "response.output_text.delta" in kinds and "response.output_text.done" in kinds
    assert [e.sequence_number for e in events] == list(range(len(events)))
    text = "".join(e.delta for e in events if e.type == "response.output_text.delta")
    assert events[-1].response.output_text == text


def test_each_streamed_event_is_named_by_its_type_as_openai_sends_them(served):
    url, keys = served
    body = {"model": "default", "input": "Hi.", "stream": True, "max_output_tokens": 16}
    headers = {"Authorization": f"Bearer {keys['acme']}"}
    raw = httpx.post(url + "/v1/responses", json=body, headers=headers, timeout=30).text
    frames = [f for f in raw.replace("\r\n", "\n").split("\n\n") if f.strip()]
    assert frames and "[DONE]" not in raw
    for frame in frames:
        name, data = frame.split("\n", 1)
        assert name == "event: " + json.loads(data.removeprefix("data: "))["type"]


def test_multi_turn_by_previous_response_and_by_conversation(served):
    oai = client(served, "acme")
    first = oai.responses.create(model="default", input="My name is Ada.", max_output_tokens=16)
    second = oai.responses.create(
        model="default",
        input="What is my name?",
        previous_response_id=first.id,
        max_output_tokens=16,
    )
    assert second.previous_response_id == first.id
    # the second turn's prompt holds the first: more input tokens than the question alone
    assert second.usage.input_tokens > first.usage.input_tokens
    conversation = oai.conversations.create(metadata={"topic": "demo"})
    assert conversation.id.startswith("conv_") and conversation.metadata == {"topic": "demo"}
    oai.responses.create(model="default", input="Hi.", conversation=conversation.id,
                         max_output_tokens=16)  # fmt: skip
    oai.responses.create(model="default", input="Again.", conversation=conversation.id,
                         max_output_tokens=16)  # fmt: skip
    items = oai.conversations.items.list(conversation.id, order="asc")
    roles = [item.role for item in items.data]
    assert roles == ["user", "assistant", "user", "assistant"]
    assert items.data[0].content[0].text == "Hi."


def test_file_search_cites_the_document(served, store_id):
    oai = client(served, "acme")
    made = oai.responses.create(
        model="default",
        input="签收后多少天内可以无理由退货？",
        tools=[{"type": "file_search", "vector_store_ids": [store_id]}],
        include=["file_search_call.results"],
    )
    call, message = made.output
    assert call.type == "file_search_call" and call.status == "completed"
    assert call.results and call.results[0].filename == "policy.txt"
    assert "15天" in made.output_text
    citation = message.content[0].annotations[0]
    assert citation.type == "file_citation" and citation.filename == "policy.txt"
    without = oai.responses.create(
        model="default",
        input="退货多少天？",
        tools=[{"type": "file_search", "vector_store_ids": [store_id]}],
    )
    assert without.output[0].results is None


def test_file_search_streams_its_call_first(served, store_id):
    oai = client(served, "acme")
    events = list(oai.responses.create(
        model="default", input="How fast are refunds?", stream=True,
        tools=[{"type": "file_search", "vector_store_ids": [store_id]}],
    ))  # fmt: skip
    kinds = [e.type for e in events]
    assert kinds.index("response.file_search_call.completed") < kinds.index(
        "response.output_text.delta"
    )
    assert "response.output_text.annotation.added" in kinds


def test_conversation_items_api(served):
    oai = client(served, "acme")
    conversation = oai.conversations.create(items=[{"role": "user", "content": "first"}])
    added = oai.conversations.items.create(
        conversation.id,
        items=[{"type": "message", "role": "user",
                "content": [{"type": "input_text", "text": "second"}]}],
    )  # fmt: skip
    new_id = added.data[0].id
    assert oai.conversations.items.retrieve(new_id, conversation_id=conversation.id).id == new_id
    page = oai.conversations.items.list(conversation.id, limit=1)
    assert len(page.data) == 1 and page.has_more and page.data[0].id == new_id
    oai.conversations.items.delete(new_id, conversation_id=conversation.id)
    assert [i.id for i in oai.conversations.items.list(conversation.id).data] != [new_id]
    updated = oai.conversations.update(conversation.id, metadata={"k": "v"})
    assert updated.metadata == {"k": "v"}
    gone = oai.conversations.delete(conversation.id)
    assert gone.deleted and gone.id == conversation.id
    with pytest.raises(openai.NotFoundError):
        oai.conversations.retrieve(conversation.id)


def test_another_org_gets_404s(served, store_id):
    acme, globex = client(served, "acme"), client(served, "globex")
    made = acme.responses.create(model="default", input="secret", max_output_tokens=16)
    conversation = acme.conversations.create()
    with pytest.raises(openai.NotFoundError):
        globex.responses.retrieve(made.id)
    with pytest.raises(openai.NotFoundError):
        globex.responses.delete(made.id)
    with pytest.raises(openai.NotFoundError):
        globex.responses.create(model="default", input="x", previous_response_id=made.id)
    with pytest.raises(openai.NotFoundError):
        globex.conversations.retrieve(conversation.id)
    with pytest.raises(openai.NotFoundError):
        globex.conversations.items.list(conversation.id)
    with pytest.raises(openai.NotFoundError):
        globex.responses.create(
            model="default",
            input="x",
            tools=[{"type": "file_search", "vector_store_ids": [store_id]}],
        )


def test_deleted_and_unstored_responses(served):
    oai = client(served, "acme")
    made = oai.responses.create(model="default", input="hi", max_output_tokens=16)
    oai.responses.delete(made.id)
    with pytest.raises(openai.NotFoundError):
        oai.responses.retrieve(made.id)
    unstored = oai.responses.create(model="default", input="hi", store=False,
                                    max_output_tokens=16)  # fmt: skip
    with pytest.raises(openai.NotFoundError):
        oai.responses.retrieve(unstored.id)


@pytest.mark.parametrize(
    "body",
    [
        {"model": "default"},
        {"model": "default", "input": ""},
        {"model": "default", "input": [{"type": "function_call", "name": "x"}]},
        {"model": "default", "input": "x", "tools": [{"type": "web_search"}]},
        {"model": "default", "input": "x", "include": ["reasoning.encrypted_content"]},
        {"model": "default", "input": "x", "previous_response_id": "resp_1", "conversation": "c"},
        {"model": "default", "input": [{"role": "robot", "content": "x"}]},
    ],
)
def test_bad_requests_are_400s(served, body):
    url, keys = served
    answer = httpx.post(f"{url}/v1/responses", json=body,
                        headers={"Authorization": f"Bearer {keys['acme']}"})  # fmt: skip
    assert answer.status_code == 400, answer.text
    assert answer.json()["error"]["type"] == "invalid_request_error"
