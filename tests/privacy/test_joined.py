"""Texts that continue one another are checked as one text (hardening finding 5): a number
split between a prompt and its completion (`Phone: 138123` + `45678`) is redacted in both
halves, with one placeholder; values inside one part are found as before, also when the
parts glue digits together; and the stored bodies of a request are read that way (for a
completion, each choice with its own prompt; for a chat, the conversation then the answer).
"""

from __future__ import annotations

import json

from modelmint.privacy.joined import Piece, Thread, crossing
from modelmint.privacy.placeholders import Placeholders
from modelmint.privacy.policy import PrivacyPolicy
from modelmint.services.privacy import NUMBERS, RequestPrivacy, threads

PHONE = "13812345678"
CARD = "4111111111111111"


def test_a_phone_number_split_between_prompt_and_completion():
    parts = ["Customer: Zhang. Phone: 138123", "45678, call after six"]
    assert crossing(parts) == [
        Piece(0, 24, 30, "PHONE", PHONE),
        Piece(1, 0, 5, "PHONE", PHONE),
    ]
    redacted = Placeholders().redact_parts(parts, [Thread([0, 1])])
    assert redacted == ["Customer: Zhang. Phone: <PHONE_1>", "<PHONE_1>, call after six"]


def test_a_card_number_split_in_two_halves():
    placeholders = Placeholders()
    assert placeholders.redact_parts(["41111111", "11111111"], [Thread([0, 1])]) == [
        "<CARD_1>",
        "<CARD_1>",
    ]
    assert placeholders.restore("<CARD_1>") == CARD


def test_a_value_across_three_parts_and_disguised_ones():
    parts = ["tel 138", "1234", "5678 ok"]
    assert Placeholders().redact_parts(parts, [Thread([0, 1, 2])]) == [
        "tel <PHONE_1>",
        "<PHONE_1>",
        "<PHONE_1> ok",
    ]
    wide = ["电话１３８\u200b１２３４", "５６７８。"]
    assert Placeholders().redact_parts(wide, [Thread([0, 1])]) == ["电话<PHONE_1>", "<PHONE_1>。"]


def test_values_inside_one_part_are_found_as_before():
    # read as one text, "4111" + "4111..." would be 20 digits: the part alone is checked too
    parts = ["my card 4111", f"{CARD} ok", f"mail me: a@b.cn, {PHONE}"]
    assert crossing(parts) == []
    assert Placeholders().redact_parts(parts, [Thread([0, 1, 2])]) == [
        "my card 4111",
        "<CARD_1> ok",
        "mail me: <EMAIL_1>, <PHONE_1>",
    ]
    # a value ending right at the join crosses nothing
    assert crossing([f"call {PHONE}", " now"]) == []


def test_parts_not_in_a_thread_are_not_joined():
    parts = ["Phone: 138123", "45678"]
    assert Placeholders().redact_parts(parts) == parts
    assert Placeholders().redact_parts(parts, [Thread([1]), Thread([0])]) == parts


def test_long_parts_are_read_around_the_join_only():
    parts = ["x " * 2000 + "Phone: 138123", "45678" + " y" * 2000]
    redacted = Placeholders().redact_parts(parts, [Thread([0, 1])])
    assert redacted[0].endswith("Phone: <PHONE_1>") and redacted[1].startswith("<PHONE_1> y")
    # a window's edge cutting a digit run does not make a value of its end: read from the
    # window's first character, "4111111111111111" would pass, but the number is 17 digits
    assert crossing(["x9" + "411111111", "1111111 y"], reach=9) == []
    whole = crossing(["x " + "411111111", "1111111 y"], reach=12)
    assert [piece.type for piece in whole] == ["CARD", "CARD"]


# --- stored bodies -------------------------------------------------------------------------


def storing(mode: str = "redact_storage") -> RequestPrivacy:
    return RequestPrivacy(PrivacyPolicy(store_bodies=True, pii_mode=mode))


def test_stored_completion_is_redacted_across_prompt_and_answer():
    request = {"model": "default", "prompt": "Customer phone: 138123", "max_tokens": 5, "n": 1}
    request_text, response_text = storing().stored_bodies(request, {"0": "45678 thanks"})
    assert json.loads(request_text)["prompt"] == "Customer phone: <PHONE_1>"
    assert json.loads(response_text) == {"0": "<PHONE_1> thanks"}
    assert "138123" not in request_text and "45678" not in response_text


def test_each_choice_is_read_with_its_own_prompt():
    request = {"model": "default", "prompt": ["Phone: 138123", "Card: 41111111"], "n": 2}
    answers = {"0": "45678", "1": "x", "2": "11111111", "3": "45678"}
    request_text, response_text = storing().stored_bodies(request, answers)
    assert json.loads(request_text)["prompt"] == ["Phone: <PHONE_1>", "Card: <CARD_1>"]
    # choices 0 and 1 answer prompt 0, choices 2 and 3 prompt 1
    assert json.loads(response_text) == {"0": "<PHONE_1>", "1": "x", "2": "<CARD_1>", "3": "45678"}


def test_a_chat_is_read_as_its_conversation_then_the_answer():
    request = {
        "model": "default",
        "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": [{"type": "text", "text": "My number: 138"}]},
            {"role": "user", "content": "1234"},
        ],
        "user": "5678",
    }
    request_text, response_text = storing("redact_model").stored_bodies(request, {"0": "5678."})
    messages = json.loads(request_text)["messages"]
    assert messages[1]["content"][0] == {"type": "text", "text": "My number: <PHONE_1>"}
    assert messages[2]["content"] == "<PHONE_1>"
    assert json.loads(request_text)["user"] == "5678"  # no part of the conversation
    assert json.loads(response_text) == {"0": "<PHONE_1>."}


def test_threads_of_a_chat_and_of_completions():
    paths = [
        ("request", "model"),
        ("request", "messages", 0, "role"),
        ("request", "messages", 0, "content"),
        ("request", "messages", 1, "content", 0, "type"),
        ("request", "messages", 1, "content", 0, "text"),
        ("request", "messages", 1, "name"),
        ("response", "0"),
        ("response", "1"),
    ]
    assert threads(paths, {"n": 2}) == [Thread([2, 4, 6], NUMBERS), Thread([2, 4, 7], NUMBERS)]
    paths = [("request", "prompt", 0), ("request", "prompt", 1), ("response", "0")]
    paths += [("response", "1"), ("response", "2"), ("response", "3")]
    assert threads(paths, {"n": 2}) == [
        Thread([0, 2]), Thread([0, 3]), Thread([1, 4]), Thread([1, 5])
    ]
    assert threads([("request", "prompt"), ("response", "0")], {}) == [Thread([0, 1])]
    assert threads([("request", "prompt")], {"n": 1}) == []


def test_bodies_are_kept_whole_when_the_mode_does_not_redact():
    request = {"model": "default", "prompt": f"Phone: {PHONE}"}
    for mode in ("off", "block"):
        request_text, response_text = storing(mode).stored_bodies(request, {"0": PHONE})
        assert json.loads(request_text) == request and json.loads(response_text) == {"0": PHONE}
    assert storing().stored({"note": f"call {PHONE}\n"}) == '{"note": "call <PHONE_1>\\n"}'


def test_a_chat_answer_is_not_glued_onto_the_last_message():
    """`…mail zhang.wei@example.cn` then an answer `Call me…` is not an address
    `zhang.wei@example.cnCall`: the template separates the messages."""
    request = {"messages": [{"role": "user", "content": "mail zhang.wei@example.cn"}]}
    request_text, response_text = storing("redact_storage").stored_bodies(
        request, {"0": "Call me at 13812345678"}
    )
    assert json.loads(request_text)["messages"][0]["content"] == "mail <EMAIL_1>"
    assert json.loads(response_text) == {"0": "Call me at <PHONE_1>"}
