"""Disguised values and values split between a prompt and its answer, through the HTTP
API (hardening finding 5): under `redact_storage`, the stored bodies hold none of the
digits of `tel13812345678`, of full-width or zero-width-spaced numbers, or of a number the
prompt starts and the completion (or the chat's answer) ends."""

from __future__ import annotations

import json
import re
import unicodedata

import pytest

from modelmint.runtime.fake import FakeEngine
from tests.api.test_privacy import (
    CN_ID,
    PHONE,
    app_on,
    member,
    stored_bodies,
    streamed_texts,
    wait_for_bodies,
)
from tests.business_helpers import chat

DISGUISED = (
    f"tel{PHONE}",  # letters glued in front
    "１３８１２３４５６７８",  # full-width digits
    "１１０１０５１９４９１２３１００２Ｘ",  # a full-width resident ID
    "138\u200b1234\u200b5678",  # zero-width spaces inside
    "cardno4111111111111111",
    "ＩＤ" + CN_ID + "，邮箱zhang.wei＠example．cn",
)
DIGITS = (PHONE, CN_ID, "4111111111111111", "zhang.wei@example.cn")
# halves that join: each prompt (or last message) gets the chosen completion
SPLIT = {"Customer phone: 138123": "45678", "Card on file: 41111111": "11111111"}
HALVES = ("138123", "45678", "41111111", "11111111")


def readable(stored: str) -> str:
    """A stored body as a person reads it: format characters gone, full-width folded."""
    text = "".join(c for c in stored if unicodedata.category(c) != "Cf")
    return unicodedata.normalize("NFKC", text)


@pytest.fixture
def chosen_replies(monkeypatch):
    """The fake engine answers a prompt (or a chat's last message) in SPLIT with its half."""
    original = FakeEngine.prompt_and_reply

    def reply(self, request):
        prompt, words = original(self, request)
        last = request.prompt if request.messages is None else request.messages[-1]["content"]
        return (prompt, [SPLIT[last]]) if last in SPLIT else (prompt, words)

    monkeypatch.setattr(FakeEngine, "prompt_and_reply", reply)


async def test_disguised_values_are_redacted_in_stored_bodies(tmp_path):
    async with app_on("sqlite", tmp_path) as business:
        org_id, key = await member(
            business, "disguises", store_bodies=True, pii_mode="redact_storage"
        )
        async with business.client(key) as client:
            for value in DISGUISED:
                response = await client.post("/v1/chat/completions", json=chat(f"Me: {value}"))
                assert response.status_code == 200, response.text
                answer = response.json()["choices"][0]["message"]["content"]
                assert answer == f"You said: Me: {value}"
        await wait_for_bodies(business.platform, org_id, len(DISGUISED))
        for request_text, response_text in await stored_bodies(business.platform, org_id):
            for stored in (request_text, response_text):
                assert not [d for d in DIGITS if d in readable(stored)], stored
                assert re.search(r"<(PHONE|CN_ID|CARD)_1>", stored), stored
        ((request_text, _), *_) = await stored_bodies(business.platform, org_id)
        assert json.loads(request_text)["messages"][0]["content"] == "Me: tel<PHONE_1>"


async def test_a_number_split_between_prompt_and_completion_is_redacted_in_both(
    tmp_path, chosen_replies
):
    async with app_on("sqlite", tmp_path) as business:
        org_id, key = await member(business, "split", store_bodies=True, pii_mode="redact_storage")
        phone_prompt, card_prompt = SPLIT
        async with business.client(key) as client:
            body = {"model": "default", "prompt": phone_prompt, "max_tokens": 5}
            whole = await client.post("/v1/completions", json=body)
            assert whole.json()["choices"][0]["text"] == "45678"  # the caller gets it all
            body = {**body, "prompt": [phone_prompt, card_prompt], "stream": True}
            streamed = await client.post("/v1/completions", json=body)
            assert streamed_texts(streamed.text, "text") == {0: "45678", 1: "11111111"}
            answer = await client.post("/v1/chat/completions", json=chat(phone_prompt, 5))
            assert answer.json()["choices"][0]["message"]["content"] == "45678"
        await wait_for_bodies(business.platform, org_id, 3)
        stored = await stored_bodies(business.platform, org_id)
        for request_text, response_text in stored:
            for text in (request_text, response_text):
                assert not [half for half in HALVES if half in text], text
        (one, _), (two, _), (chatted, _) = stored
        assert json.loads(one)["prompt"] == "Customer phone: <PHONE_1>"
        assert json.loads(two)["prompt"] == ["Customer phone: <PHONE_1>", "Card on file: <CARD_1>"]
        assert json.loads(chatted)["messages"][0]["content"] == "Customer phone: <PHONE_1>"
        assert [json.loads(response) for _, response in stored] == [
            {"0": "<PHONE_1>"},
            {"0": "<PHONE_1>", "1": "<CARD_1>"},
            {"0": "<PHONE_1>"},
        ]
